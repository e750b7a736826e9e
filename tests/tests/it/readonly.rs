//! Read-only in depth: SQLite itself refuses writes on read-only sources and inside reads, and a
//! missing read-only file is an error, never a new empty file.

use diesel::connection::SimpleConnection;
use multisource::{Config, Database, Error, RefusedBy, SourceConfig};

use crate::common::{ARCHIVE_CHAT, PRIMARY_CHAT, Scratch, ThreeSources, file_state};

#[test]
fn a_write_inside_a_read_on_the_read_only_source_is_refused_by_sqlite() {
    let t = ThreeSources::new();
    let before = file_state(&t.archive_path());
    let attempts = [
        "INSERT INTO chat_settings (chat_id, key, value) VALUES (1, 'k', 'v')",
        "DELETE FROM chat_settings",
        "CREATE TABLE intruder (x)",
    ];
    for sql in attempts {
        let err = t.db.read(Some(ARCHIVE_CHAT), None, |c| c.batch_execute(sql)).unwrap_err();
        match &err {
            Error::ReadOnlySource { source_name, refused_by } => {
                assert_eq!(
                    (source_name.as_str(), *refused_by),
                    ("archive", RefusedBy::Sqlite),
                    "{sql}"
                );
            }
            other => panic!("{sql}: expected ReadOnlySource, got {other:?}"),
        }
    }
    // Changing a pragma is refused before SQLite runs anything.
    let pragmas = [
        "PRAGMA query_only = OFF; INSERT INTO chat_settings (chat_id, key, value) VALUES (2, 'k', 'v')",
        "PRAGMA user_version = 7",
    ];
    for sql in pragmas {
        let err = t.db.read(Some(ARCHIVE_CHAT), None, |c| c.batch_execute(sql)).unwrap_err();
        assert!(
            matches!(&err, Error::NotAllowed { source_name, .. } if source_name == "archive"),
            "{sql}: expected NotAllowed, got {err:?}"
        );
    }
    assert_eq!(file_state(&t.archive_path()), before);
}

#[test]
fn a_read_on_a_writable_source_cannot_write_either() {
    let t = ThreeSources::new();
    let err = t
        .db
        .read(Some(PRIMARY_CHAT), None, |c| {
            c.batch_execute("PRAGMA query_only = OFF; INSERT INTO chat_settings (chat_id, key, value) VALUES (2, 'k', 'v')")
        })
        .unwrap_err();
    assert!(matches!(err, Error::NotAllowed { .. }), "{err:?}");
    let attempts = [
        "INSERT INTO chat_settings (chat_id, key, value) VALUES (1, 'k', 'v')",
        "DROP TABLE chat_settings",
    ];
    for sql in attempts {
        let err = t.db.read(Some(PRIMARY_CHAT), None, |c| c.batch_execute(sql)).unwrap_err();
        match &err {
            Error::WriteInRead { source_name } => assert_eq!(source_name, "primary", "{sql}"),
            other => panic!("{sql}: expected WriteInRead, got {other:?}"),
        }
        assert!(err.to_string().contains("declare the query a write"), "{err}");
    }
    // The reader connections are still read-only for the next call.
    let err =
        t.db.read(None, Some("primary"), |c| c.batch_execute("DELETE FROM chat_settings"))
            .unwrap_err();
    assert!(matches!(err, Error::WriteInRead { .. }), "{err:?}");
    let rows = t.db.read(None, Some("primary"), |c| {
        use diesel::prelude::*;
        multisource::schema::chat_settings::table.count().get_result::<i64>(c)
    });
    assert_eq!(rows.unwrap(), 0);
}

#[test]
fn a_missing_read_only_file_is_an_error_naming_it_and_no_file_appears() {
    let scratch = Scratch::new();
    let missing = scratch.path("gone.db");
    let config = Config::builder()
        .source(SourceConfig::new("main", scratch.path("main.db")))
        .source(SourceConfig::new("archive", &missing).readonly(true))
        .default_source("main")
        .build()
        .unwrap();
    let err = Database::open(config).unwrap_err();
    match &err {
        Error::MissingFile { source_name, path } => {
            assert_eq!(source_name, "archive");
            assert_eq!(path, &missing);
        }
        other => panic!("expected MissingFile, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.starts_with("read-only source `archive`: "), "{text}");
    assert!(text.contains("gone.db does not exist; read-only sources are never created"), "{text}");
    assert!(!missing.exists());
    for suffix in ["-wal", "-shm", "-journal"] {
        assert!(!scratch.path(&format!("gone.db{suffix}")).exists());
    }
}

#[test]
fn a_read_only_source_is_never_migrated_and_a_mismatch_names_the_table_or_column() {
    let scratch = Scratch::new();
    let archive = scratch.archive("old.db", |_| {});
    crate::common::raw(&archive)
        .batch_execute("DROP TABLE chat_topics; ALTER TABLE chat_users DROP COLUMN metadata;")
        .unwrap();
    let before = file_state(&archive);
    let config = Config::builder()
        .source(SourceConfig::new("old", &archive).readonly(true))
        .default_source("old")
        .build()
        .unwrap();
    let err = Database::open(config).unwrap_err();
    match &err {
        Error::SchemaMismatch { source_name, mismatches, .. } => {
            assert_eq!(source_name, "old");
            let text: Vec<String> = mismatches.iter().map(ToString::to_string).collect();
            assert!(
                text.contains(&"column `chat_users.metadata` is missing".to_owned()),
                "{text:?}"
            );
            assert!(text.contains(&"table `chat_topics` is missing".to_owned()), "{text:?}");
        }
        other => panic!("expected SchemaMismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("does not have the expected schema"), "{err}");
    assert_eq!(file_state(&archive), before);
}

#[test]
fn a_writable_source_whose_file_is_not_a_database_is_refused_untouched() {
    let scratch = Scratch::new();
    let path = scratch.path("junk.db");
    let junk: Vec<u8> = (0..8192u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    std::fs::write(&path, &junk).unwrap();
    let err = Database::open_path(&path).unwrap_err();
    match &err {
        Error::Corrupt { source_name, .. } => assert_eq!(source_name, "default"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(err.to_string().contains("is not a valid SQLite database"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), junk);
}

#[test]
fn a_writable_source_in_a_missing_folder_names_the_folder() {
    let scratch = Scratch::new();
    let err = Database::open_path(scratch.path("no/such/folder/bot.db")).unwrap_err();
    match &err {
        Error::Open { source_name, detail, .. } => {
            assert_eq!(source_name, "default");
            assert!(detail.contains("does not exist; create it first"), "{detail}");
        }
        other => panic!("expected Open, got {other:?}"),
    }
}

#[test]
fn two_writable_sources_on_one_file_are_refused() {
    let scratch = Scratch::new();
    let config = Config::builder()
        .source(SourceConfig::new("a", scratch.path("same.db")))
        .source(SourceConfig::new("b", scratch.dir().join(".").join("same.db")))
        .default_source("a")
        .build()
        .unwrap();
    let err = Database::open(config).unwrap_err();
    assert!(err.to_string().contains("the writable source `a` is the same file"), "{err}");
    // The same file as a writable and a read-only source is fine.
    let config = Config::builder()
        .source(SourceConfig::new("a", scratch.path("same.db")))
        .source(SourceConfig::new("b", scratch.path("same.db")).readonly(true))
        .default_source("a")
        .build()
        .unwrap();
    Database::open(config).unwrap();
}

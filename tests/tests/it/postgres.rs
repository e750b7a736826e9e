//! What is particular to PostgreSQL sources: read-only sessions that the server enforces, the
//! schema checked on read-only sources, connection failures named without the password, and a
//! lock held past the timeout.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use multisource::{Config, Database, Error, RefusedBy, SourceConfig};

use crate::backends::{Backend, Place};
use crate::common::{ARCHIVE_CHAT, PRIMARY_CHAT, ThreeSources};

fn settings_in(db: &Database, source: &str) -> i64 {
    db.read_any(None, Some(source), |conn| {
        crate::backends::on_conn!(conn, c => multisource::schema::chat_settings::table.count().get_result(c))
    })
    .unwrap()
}

#[test]
fn a_write_inside_a_read_on_a_read_only_postgres_source_is_refused_by_the_server() {
    let t = ThreeSources::on(Backend::Postgres);
    let before = settings_in(&t.db, "archive");
    for sql in [
        "INSERT INTO chat_settings (chat_id, key, value) VALUES (1, 'k', 'v')",
        "DELETE FROM chat_settings",
        "CREATE TABLE intruder (x INT)",
        "UPDATE settings SET value = 'changed'",
    ] {
        let err =
            t.db.read_any(Some(ARCHIVE_CHAT), None, |mut c| c.batch_execute(sql)).unwrap_err();
        match &err {
            Error::ReadOnlySource { source_name, refused_by: RefusedBy::Postgres } => {
                assert_eq!(source_name, "archive", "{sql}");
            }
            other => panic!("{sql}: expected a refusal by the server, got {other:?}"),
        }
        assert!(err.to_string().contains("the PostgreSQL server refused the write"), "{err}");
    }
    assert_eq!(settings_in(&t.db, "archive"), before);
    // On a writable PostgreSQL source, a read cannot write either.
    let err = t
        .db
        .read_any(Some(PRIMARY_CHAT), None, |mut c| c.batch_execute("DELETE FROM chat_settings"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::WriteInRead { source_name } if source_name == "primary"),
        "{err:?}"
    );
    // The router refuses writes to the read-only source before the server sees them.
    let err = t.db.set_chat_setting(ARCHIVE_CHAT, "k", "v").unwrap_err();
    assert!(matches!(err, Error::ReadOnlySource { refused_by: RefusedBy::Router, .. }), "{err:?}");
}

#[test]
fn a_read_only_postgres_source_is_never_migrated_and_a_mismatch_names_the_table() {
    let place = Place::new(Backend::Postgres);
    let empty = place.source("empty").readonly(true);
    let url = empty.url().unwrap().to_owned();
    let config = Config::builder().source(empty).default_source("empty").build().unwrap();
    let err = Database::open(config).unwrap_err();
    match &err {
        Error::SchemaMismatch { source_name, mismatches, .. } => {
            assert_eq!(source_name, "empty");
            assert!(!mismatches.is_empty());
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
    // Nothing was created on the server.
    let mut conn = PgConnection::establish(&url).unwrap();
    assert!(multisource_migrations_tables(&mut conn).is_empty());
}

fn multisource_migrations_tables(conn: &mut PgConnection) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    diesel::sql_query(
        "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
         WHERE table_schema = current_schema()",
    )
    .load::<Name>(conn)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
}

#[test]
fn a_writable_postgres_source_is_migrated_once() {
    let place = Place::new(Backend::Postgres);
    let source = place.source("main");
    let config = Config::builder().source(source).default_source("main").build().unwrap();
    let db = Database::open(config.clone()).unwrap();
    assert_eq!(db.sources().next().unwrap().applied.len(), 1);
    assert_eq!(db.sources().next().unwrap().config.kind(), multisource::Kind::Postgres);
    db.set_setting("k", "v").unwrap();
    drop(db);
    let db = Database::open(config).unwrap();
    assert!(db.sources().next().unwrap().applied.is_empty(), "nothing the second time");
    assert_eq!(db.get_setting("k", None).unwrap().as_deref(), Some("v"));
}

#[test]
fn a_server_that_cannot_be_reached_is_named_without_its_password() {
    let source = SourceConfig::postgres("remote", "postgres://bot:s3cret@127.0.0.1:1/bot")
        .timeout(Duration::from_millis(500));
    let config = Config::builder().source(source).default_source("remote").build().unwrap();
    let err = Database::open(config).unwrap_err();
    let text = err.to_string();
    assert!(matches!(&err, Error::Open { source_name, .. } if source_name == "remote"), "{err:?}");
    assert!(text.contains("postgres://bot:***@127.0.0.1:1/bot"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("cannot connect"), "{text}");
}

#[test]
fn a_lock_held_past_the_timeout_fails_naming_the_source_and_the_source_recovers() {
    let place = Place::new(Backend::Postgres);
    let source = place.source("main").timeout(Duration::from_millis(300));
    let url = source.url().unwrap().to_owned();
    let config = Config::builder().source(source).default_source("main").build().unwrap();
    let db = Database::open(config).unwrap();
    db.set_setting("k", "1").unwrap();
    let mut holder = PgConnection::establish(&url).unwrap();
    holder.batch_execute("BEGIN; LOCK TABLE settings IN ACCESS EXCLUSIVE MODE;").unwrap();
    let err = db.set_setting("k", "2").unwrap_err();
    match &err {
        Error::Busy { source_name, timeout, .. } => {
            assert_eq!((source_name.as_str(), *timeout), ("main", Duration::from_millis(300)));
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    holder.batch_execute("ROLLBACK;").unwrap();
    db.set_setting("k", "3").unwrap();
    assert_eq!(db.get_setting("k", None).unwrap().as_deref(), Some("3"));
}

#[test]
fn sqlite_code_on_a_postgres_source_says_what_to_use_instead() {
    let t = ThreeSources::on(Backend::Postgres);
    let err = t.db.read(None, None, |c| c.batch_execute("SELECT 1")).unwrap_err();
    assert_eq!(err.source_name(), Some("primary"));
    let text = format!(
        "{err}: {}",
        std::error::Error::source(&err).map(|e| e.to_string()).unwrap_or_default()
    );
    assert!(text.contains("use `Database::read_any`"), "{text}");
}

//! What SQL run inside a query or closure (`Database::read`, `write`, `fan_out`) may not do: reach
//! another file with `ATTACH` or `VACUUM INTO`, change the pooled connection for later calls, or
//! end the call's transaction. Each attempt is refused before SQLite runs it, the files stay as
//! they were, and the next call on the same pooled connection is served as if nothing happened.

use std::fs;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use multisource::{Access, Config, Database, Error, SourceConfig};

use crate::common::{ARCHIVE_CHAT, PRIMARY_CHAT, Scratch, ThreeSources, file_state, raw};

/// The error is the guard's refusal, on `source`, naming what it refused.
#[track_caller]
fn refused(err: &Error, source: &str, what: &str) {
    match err {
        Error::NotAllowed { source_name, statement, .. } => {
            assert_eq!(source_name, source, "{err}");
            assert!(statement.contains(what), "{statement:?} does not name {what:?}");
            let text = err.to_string();
            assert!(text.contains("is not allowed inside a") && text.contains("nothing of it ran"));
        }
        other => panic!("expected NotAllowed naming {what:?}, got {other:?}"),
    }
}

fn settings_rows(path: &std::path::Path) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM settings")
        .get_result::<Count>(&mut raw(path))
        .expect("count the settings")
        .n
}

/// The files of a folder, sorted.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("read the folder")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn attach_cannot_write_a_read_only_source_or_a_writable_one_from_any_closure() {
    let t = ThreeSources::new();
    let archive = t.archive_path();
    let primary = t.place.scratch.path("primary.db");
    let before = file_state(&archive);
    let rows_before = settings_rows(&primary);
    let quoted = |p: &std::path::Path| p.to_string_lossy().replace('\'', "''");
    let attacks = [
        format!(
            "ATTACH DATABASE '{}' AS w; PRAGMA query_only = OFF; \
             INSERT INTO w.settings (key, value) VALUES ('intruder', 'x')",
            quoted(&archive)
        ),
        format!(
            "ATTACH DATABASE 'file:{}?mode=rw' AS w; \
             INSERT INTO w.settings (key, value) VALUES ('intruder', 'x')",
            quoted(&archive)
        ),
    ];
    for sql in &attacks {
        let err = t.db.read(None, Some("archive"), |c| c.batch_execute(sql)).unwrap_err();
        refused(&err, "archive", "ATTACH");
        // From a read of the writable source, and from a write of it: the archive's file is
        // never reached.
        let err = t.db.read(None, Some("primary"), |c| c.batch_execute(sql)).unwrap_err();
        refused(&err, "primary", "ATTACH");
        let err = t.db.write(Some(PRIMARY_CHAT), |c| c.batch_execute(sql)).unwrap_err();
        refused(&err, "primary", "ATTACH");
    }
    // A read of the writable source attaching its own file, to write it without `WriteInRead`.
    let own = format!(
        "ATTACH DATABASE '{}' AS w; INSERT INTO w.settings (key, value) VALUES ('intruder', 'x')",
        quoted(&primary)
    );
    let err = t.db.read(None, Some("primary"), |c| c.batch_execute(&own)).unwrap_err();
    refused(&err, "primary", "ATTACH");
    assert_eq!(file_state(&archive), before, "the archive is unchanged, byte for byte");
    assert_eq!(settings_rows(&primary), rows_before, "nothing reached the writable source either");
    // A closure that hands its connection to another thread is held to the same rules.
    let err =
        t.db.read(None, Some("archive"), |c| {
            std::thread::scope(|s| s.spawn(|| c.batch_execute(&attacks[0])).join()).unwrap()
        })
        .unwrap_err();
    refused(&err, "archive", "ATTACH");
    // And the same connections go on serving.
    assert_eq!(
        t.db.get_chat_setting(ARCHIVE_CHAT, "where", None).unwrap().as_deref(),
        Some("archive")
    );
    t.db.set_setting("after", "ok").unwrap();
}

#[test]
fn vacuum_into_and_attaching_a_new_file_create_no_file_anywhere() {
    let t = ThreeSources::new();
    let elsewhere = Scratch::new();
    let target = elsewhere.path("copy.db");
    let fresh = elsewhere.path("new.db");
    let attempts = [
        (format!("VACUUM INTO '{}'", target.display()), "ATTACH"),
        (format!("ATTACH '{}' AS n; CREATE TABLE n.t (x)", fresh.display()), "ATTACH"),
        ("VACUUM".to_owned(), "VACUUM"),
    ];
    for (sql, what) in &attempts {
        for source in ["archive", "primary"] {
            let err = t.db.read(None, Some(source), |c| c.batch_execute(sql)).unwrap_err();
            refused(&err, source, what);
        }
        // In a write, SQLite refuses `VACUUM` inside the call's transaction before the guard
        // sees it; `ATTACH` is the guard's.
        let err = t.db.write(None, |c| c.batch_execute(sql)).unwrap_err();
        match sql.starts_with("ATTACH") {
            true => refused(&err, "primary", what),
            false => assert!(err.to_string().contains("VACUUM"), "{err}"),
        }
    }
    assert!(listing(elsewhere.dir()).is_empty(), "{:?}", listing(elsewhere.dir()));
}

#[test]
fn pragmas_and_temporary_objects_that_would_outlive_the_call_are_refused_and_nothing_sticks() {
    // One reader and one writer, so that every call below lands on the same two connections.
    let scratch = Scratch::new();
    let config = Config::builder()
        .source(SourceConfig::new("main", scratch.path("main.db")).pool_size(2))
        .default_source("main")
        .build()
        .unwrap();
    let db = Database::open(config).unwrap();
    let reads = [
        ("PRAGMA query_only = OFF", "query_only"),
        ("PRAGMA writable_schema = ON", "writable_schema"),
        ("PRAGMA journal_mode = DELETE", "journal_mode"),
        ("PRAGMA busy_timeout = 0", "busy_timeout"),
        ("PRAGMA wal_checkpoint(TRUNCATE)", "wal_checkpoint"),
        ("CREATE TEMP TABLE scratch (x)", "CREATE TEMP"),
        ("SELECT load_extension('/tmp/evil')", "load_extension"),
    ];
    for (sql, what) in reads {
        let err = db.read(None, None, |c| c.batch_execute(sql)).unwrap_err();
        refused(&err, "main", what);
        assert!(matches!(err, Error::NotAllowed { access: Access::Read, .. }));
    }
    let writes = [
        ("PRAGMA synchronous = OFF", "synchronous"),
        ("PRAGMA foreign_keys = OFF", "foreign_keys"),
        ("PRAGMA journal_mode = MEMORY", "journal_mode"),
        (
            "CREATE TEMP TRIGGER spy AFTER INSERT ON main.settings BEGIN \
             DELETE FROM main.settings; END",
            "CREATE TEMP",
        ),
    ];
    for (sql, what) in writes {
        let err = db.write(None, |c| c.batch_execute(sql)).unwrap_err();
        refused(&err, "main", what);
    }
    // Introspection is not a change.
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let columns: Vec<Line> = db
        .read(None, None, |c| {
            diesel::sql_query("SELECT name FROM pragma_table_info('settings')").load(c)
        })
        .unwrap();
    assert!(columns.iter().any(|l| l.name == "value"));
    db.read(None, None, |c| c.batch_execute("PRAGMA table_info(settings); PRAGMA query_only"))
        .unwrap();
    // The pooled connections are as they were: the reader still read-only, the writer still in
    // write-ahead logging with its durability, and writes land.
    #[derive(QueryableByName)]
    struct Value {
        #[diesel(sql_type = BigInt)]
        v: i64,
    }
    let query_only: Value = db
        .read(None, None, |c| {
            diesel::sql_query("SELECT query_only AS v FROM pragma_query_only").get_result(c)
        })
        .unwrap();
    assert_eq!(query_only.v, 1);
    let synchronous: Value = db
        .write(None, |c| {
            diesel::sql_query("SELECT synchronous AS v FROM pragma_synchronous").get_result(c)
        })
        .unwrap();
    assert_eq!(synchronous.v, 1, "NORMAL, as configured");
    db.set_setting("k", "v").unwrap();
    assert_eq!(db.get_setting("k", None).unwrap().as_deref(), Some("v"));
    let err = db.read(None, None, |c| c.batch_execute("INSERT INTO settings (key) VALUES ('x')"));
    assert!(matches!(err, Err(Error::WriteInRead { .. })), "{err:?}");
}

#[test]
fn a_read_that_leaves_a_transaction_open_does_not_leave_its_reader_stale() {
    let scratch = Scratch::new();
    let path = scratch.path("main.db");
    // A single reader: the next reads are served by the connection the closure left.
    let config = Config::builder()
        .source(SourceConfig::new("main", &path).pool_size(2))
        .default_source("main")
        .build()
        .unwrap();
    let db = Database::open(config).unwrap();
    // A read may take a snapshot for several statements; this one leaves it open.
    db.read(None, None, |c| c.batch_execute("BEGIN; SELECT count(*) FROM settings;")).unwrap();
    for i in 0..200 {
        db.set_setting(&format!("k{i}"), "v").unwrap();
    }
    assert_eq!(db.get_setting("k199", None).unwrap().as_deref(), Some("v"));
    let keys = db.get_settings(None).unwrap().into_keys().filter(|k| k.starts_with('k')).count();
    assert_eq!(keys, 200);
    // No snapshot is left holding the log: a full checkpoint from another connection completes.
    #[derive(QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = BigInt)]
        busy: i64,
    }
    let done: Checkpoint =
        diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").get_result(&mut raw(&path)).unwrap();
    assert_eq!(done.busy, 0, "a reader still holds an old snapshot");
}

#[test]
fn a_write_reported_as_failed_commits_nothing_and_a_closure_cannot_end_its_transaction() {
    let t = ThreeSources::new();
    let primary = t.place.scratch.path("primary.db");
    let rows_before = settings_rows(&primary);
    let insert = |key: &str| format!("INSERT INTO settings (key, value) VALUES ('{key}', 'v')");
    // Committing and beginning again, then failing: the write must leave nothing.
    let err =
        t.db.write(None, |c| {
            c.batch_execute(&format!("{}; COMMIT; BEGIN;", insert("a")))?;
            Err::<(), _>(diesel::result::Error::RollbackTransaction)
        })
        .unwrap_err();
    refused(&err, "primary", "COMMIT");
    // Committing and returning `Ok`: refused too, not half done.
    let err =
        t.db.write(None, |c| c.batch_execute(&format!("{}; COMMIT;", insert("b")))).unwrap_err();
    refused(&err, "primary", "COMMIT");
    for sql in ["ROLLBACK", "END", "BEGIN", "SAVEPOINT multisource_0", "RELEASE multisource_0"] {
        let err =
            t.db.write(None, |c| c.batch_execute(&format!("{}; {sql};", insert("c")))).unwrap_err();
        assert!(matches!(err, Error::NotAllowed { .. }), "{sql}: {err:?}");
    }
    assert_eq!(settings_rows(&primary), rows_before, "no refused write left a row");
    assert_eq!(t.db.get_setting("a", None).unwrap(), None);
    // Savepoints of the closure's own, and diesel's nested transactions, stay allowed.
    t.db.write(None, |c| {
        c.batch_execute(&format!("SAVEPOINT mine; {}; RELEASE mine;", insert("d")))?;
        c.batch_execute(&format!(
            "SAVEPOINT undo; {}; ROLLBACK TO undo; RELEASE undo;",
            insert("e")
        ))?;
        c.transaction(|c| c.batch_execute(&insert("f")))
    })
    .unwrap();
    let kept: Vec<String> =
        t.db.get_settings(None).unwrap().into_keys().filter(|k| k.len() == 1).collect();
    assert_eq!(kept, ["d", "f"]);
}

#[test]
fn a_refused_statement_in_a_read_of_the_archive_says_what_happened() {
    let t = ThreeSources::new();
    let err =
        t.db.read(None, Some("archive"), |c| c.batch_execute("PRAGMA journal_mode = WAL"))
            .unwrap_err();
    refused(&err, "archive", "PRAGMA journal_mode = WAL");
    let text = err.to_string();
    assert!(!text.contains("locked"), "{text}");
    assert!(
        text.starts_with(
            "source `archive`: `PRAGMA journal_mode = WAL` is not allowed inside a read call"
        ),
        "{text}"
    );
}

//! Faults, named and contained: each gives an `Err` that names the source and says what is wrong,
//! calls routed to the other sources keep working, and reads of every source follow the
//! configured policy. Nothing panics.

use std::io::Write;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use multisource::{Config, Database, Error, OnSourceError, SourceConfig};

use crate::common::{
    ARCHIVE_CHAT, PRIMARY_CHAT, SECONDARY_CHAT, Scratch, ThreeSources, USER, lock_holder,
};

/// Calls `call` until it fails, and returns the error. The maintenance thread notices a changed
/// file within a fraction of a second; the bound only turns a watch that never notices into a
/// failure rather than a hang, and measures nothing.
fn first_error<T: std::fmt::Debug>(mut call: impl FnMut() -> multisource::Result<T>) -> Error {
    let bound = Instant::now() + Duration::from_secs(60);
    loop {
        match call() {
            Err(error) => return error,
            Ok(_) if Instant::now() < bound => std::thread::sleep(Duration::from_millis(10)),
            Ok(value) => panic!("still answering {value:?}"),
        }
    }
}

/// The sources other than `broken` keep answering.
#[track_caller]
fn others_work(t: &ThreeSources, broken: &str) {
    if broken != "primary" {
        t.db.set_chat_setting(PRIMARY_CHAT, "still", "here").unwrap();
        assert!(t.db.get_chat_setting(PRIMARY_CHAT, "still", None).unwrap().is_some());
    }
    if broken != "secondary" {
        t.db.set_chat_setting(SECONDARY_CHAT, "still", "here").unwrap();
        assert!(t.db.get_chat_setting(SECONDARY_CHAT, "still", None).unwrap().is_some());
    }
    if broken != "archive" {
        assert!(t.db.get_chat_setting(ARCHIVE_CHAT, "where", None).unwrap().is_some());
    }
}

#[test]
fn a_read_only_file_that_is_not_a_database_is_refused_at_open_naming_it() {
    let scratch = Scratch::new();
    let path = scratch.path("noise.db");
    std::fs::write(
        &path,
        (0..65536u32).map(|i| (i.wrapping_mul(2654435761) >> 7) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let config = Config::builder()
        .source(SourceConfig::new("main", scratch.path("main.db")))
        .source(SourceConfig::new("noise", &path).readonly(true))
        .default_source("main")
        .build()
        .unwrap();
    let err = Database::open(config).unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { source_name, .. } if source_name == "noise"),
        "{err:?}"
    );
    assert!(err.to_string().contains("is not a valid SQLite database"), "{err}");
}

/// An archive of 2000 chats, cut to `keep(length)` bytes.
fn truncated_archive(scratch: &Scratch, keep: impl FnOnce(u64) -> u64) -> Config {
    let archive = scratch.archive("cut.db", |db| {
        for chat in 0..2000 {
            let title = Some("a title long enough to fill pages");
            db.update_chat_info(-chat, "group", title, None, false).unwrap();
        }
    });
    let file = std::fs::OpenOptions::new().write(true).open(&archive).unwrap();
    file.set_len(keep(file.metadata().unwrap().len())).unwrap();
    drop(file);
    Config::builder()
        .source(SourceConfig::new("main", scratch.path("main.db")))
        .source(SourceConfig::new("cut", &archive).readonly(true))
        .default_source("main")
        .build()
        .unwrap()
}

#[test]
fn a_database_truncated_into_its_schema_is_refused_at_open_naming_it() {
    let scratch = Scratch::new();
    let err = Database::open(truncated_archive(&scratch, |_| 8192)).unwrap_err();
    assert!(matches!(&err, Error::Corrupt { source_name, .. } if source_name == "cut"), "{err:?}");
    assert!(err.to_string().contains("database disk image is malformed"), "{err}");
}

#[test]
fn a_database_truncated_while_running_fails_naming_it_and_the_others_keep_working() {
    let t = ThreeSources::new();
    assert_eq!(t.db.get_all_group_chats(None).unwrap().len(), 2);
    let file = std::fs::OpenOptions::new().write(true).open(t.archive_path()).unwrap();
    file.set_len(4096).unwrap();
    drop(file);
    // SQLite compares the page count in the header with the file's length at each transaction.
    let err = t.db.get_chat_setting(ARCHIVE_CHAT, "where", None).unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt { source_name, .. } if source_name == "archive"),
        "{err:?}"
    );
    assert!(err.to_string().contains("restore it from a backup"), "{err}");
    // From then on it fails at once, without asking SQLite again.
    let err = t.db.get_setting("where", Some("archive")).unwrap_err();
    assert!(err.to_string().contains("SQLite found it damaged"), "{err}");
    others_work(&t, "archive");
    // Skipped by the fan-out (the default policy), the other sources still answer.
    t.db.update_chat_info(PRIMARY_CHAT, "group", Some("p"), None, false).unwrap();
    let chats = t.db.get_all_group_chats(None).unwrap();
    assert_eq!(chats.iter().map(|c| c.chat_id).collect::<Vec<_>>(), [PRIMARY_CHAT]);
    assert_eq!(t.db.stats().source("archive").unwrap().fan_out_failures, 1);
}

/// A writable file removed before the source's writer ever opened: there is nothing the writer
/// holds to save, and the first write says the file is gone, at once (it once waited on itself,
/// forever, trying to save what a writer it would have had to open saw).
#[test]
fn a_writable_file_removed_before_its_first_write_fails_naming_it_at_once() {
    let t = ThreeSources::new();
    std::fs::remove_file(t.place.scratch.path("secondary.db")).unwrap();
    match t.db.set_chat_setting(SECONDARY_CHAT, "after", "removal") {
        Err(Error::FileGone { source_name, saved_to: None, .. }) => {
            assert_eq!(source_name, "secondary");
        }
        other => panic!("expected FileGone with nothing to save, got {other:?}"),
    }
    assert!(!t.place.scratch.path("secondary.db").exists(), "no new file was created");
    others_work(&t, "secondary");
}

#[test]
fn a_writable_file_removed_while_running_fails_naming_it_and_is_saved_first() {
    let t = ThreeSources::new();
    t.db.set_chat_setting(SECONDARY_CHAT, "before", "removal").unwrap();
    std::fs::remove_file(t.place.scratch.path("secondary.db")).unwrap();
    // Write until a write fails: the writes acknowledged before the removal was noticed went into
    // a file that is gone, and must all be in the rescue. Who notices first, a write (checking at
    // most every millisecond) or the maintenance thread (every 200), is a race; either way no
    // acknowledged write may be lost.
    let mut acknowledged = Vec::new();
    let err = loop {
        let key = format!("after-{}", acknowledged.len());
        match t.db.set_chat_setting(SECONDARY_CHAT, &key, "removal") {
            Ok(()) if acknowledged.len() < 100_000 => acknowledged.push(key),
            Ok(()) => panic!("100,000 writes into a removed file and none noticed it"),
            Err(err) => break err,
        }
    };
    let saved_to = match &err {
        Error::FileGone { source_name, saved_to: Some(saved_to), .. } => {
            assert_eq!(source_name, "secondary");
            saved_to.clone()
        }
        other => panic!("expected FileGone with a rescue, got {other:?}"),
    };
    assert!(
        err.to_string().contains("was removed or replaced while the database was open"),
        "{err}"
    );
    // Every later call fails the same way, reads included.
    assert!(matches!(
        t.db.get_chat_setting(SECONDARY_CHAT, "before", None),
        Err(Error::FileGone { .. })
    ));
    others_work(&t, "secondary");
    // Nothing acknowledged was lost: the rescue holds the data.
    let rescued = Database::open_path(&saved_to).unwrap();
    for key in std::iter::once("before").chain(acknowledged.iter().map(String::as_str)) {
        assert_eq!(
            rescued.get_chat_setting(SECONDARY_CHAT, key, None).unwrap().as_deref(),
            Some("removal"),
            "{key} was acknowledged and is not in the rescue"
        );
    }
}

#[test]
fn a_read_only_file_removed_while_running_fails_naming_it_and_fan_out_skips_it() {
    let t = ThreeSources::new();
    std::fs::remove_file(t.archive_path()).unwrap();
    let err = first_error(|| t.db.get_chat_setting(ARCHIVE_CHAT, "where", None));
    assert!(
        matches!(&err, Error::FileGone { source_name, saved_to: None, .. } if source_name == "archive"),
        "{err:?}"
    );
    others_work(&t, "archive");
    t.db.update_chat_info(PRIMARY_CHAT, "group", Some("p"), None, false).unwrap();
    t.db.update_chat_user(PRIMARY_CHAT, USER, "@u", "U").unwrap();
    let chats = t.db.get_user_chats(USER, None).unwrap();
    assert_eq!(chats.iter().map(|c| c.chat_id).collect::<Vec<_>>(), [PRIMARY_CHAT]);
    assert_eq!(t.db.stats().source("archive").unwrap().fan_out_failures, 1);
}

#[test]
fn a_file_overwritten_with_garbage_while_running_fails_naming_it() {
    let t = ThreeSources::with(|b| b.on_source_error(OnSourceError::Fail));
    for i in 0..200 {
        t.db.set_chat_setting(SECONDARY_CHAT, &format!("k{i}"), "v").unwrap();
    }
    let path = t.place.scratch.path("secondary.db");
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    std::fs::write(&path, vec![0x5A; len.max(4096)]).unwrap();
    let err = first_error(|| t.db.get_chat_settings(SECONDARY_CHAT, None));
    assert!(
        matches!(&err, Error::Corrupt { source_name, .. } if source_name == "secondary"),
        "{err:?}"
    );
    assert!(err.to_string().contains("is not a valid SQLite database"), "{err}");
    let err = t.db.set_chat_setting(SECONDARY_CHAT, "k", "v").unwrap_err();
    assert_eq!(err.source_name(), Some("secondary"));
    others_work(&t, "secondary");
    // With the `fail` policy, a read of every source fails, naming it.
    let err = t.db.get_all_group_chats(None).unwrap_err();
    assert_eq!(err.source_name(), Some("secondary"));
}

#[test]
fn a_source_locked_by_another_process_past_its_timeout_fails_naming_it_and_recovers() {
    let scratch = Scratch::new();
    let path = scratch.path("locked.db");
    let config = Config::builder()
        .source(SourceConfig::new("locked", &path).timeout(Duration::from_millis(300)))
        .source(SourceConfig::new("free", scratch.path("free.db")))
        .default_source("locked")
        .map_chat(7, "free")
        .build()
        .unwrap();
    let db = Database::open(config).unwrap();
    db.set_setting("k", "v").unwrap();
    let mut holder = lock_holder(&path);

    let started = Instant::now();
    let err = db.set_setting("k", "blocked").unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300), "gave up before its timeout");
    match &err {
        Error::Busy { source_name, timeout, .. } => {
            assert_eq!((source_name.as_str(), *timeout), ("locked", Duration::from_millis(300)));
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    assert!(err.to_string().contains("stayed locked by another connection or process"), "{err}");
    // Reads of the locked file still work (WAL), and so does the other source.
    assert_eq!(db.get_setting("k", None).unwrap().as_deref(), Some("v"));
    db.set_chat_setting(7, "k", "v").unwrap();

    // Released, the source takes writes again.
    holder.stdin.take().unwrap().write_all(b"").unwrap();
    assert!(holder.wait().unwrap().success());
    db.set_setting("k", "after").unwrap();
    assert_eq!(db.get_setting("k", None).unwrap().as_deref(), Some("after"));
}

#[test]
fn holding_the_writer_past_the_timeout_fails_the_next_write_naming_the_source_and_recovers() {
    let scratch = Scratch::new();
    let config = Config::builder()
        .source(
            SourceConfig::new("main", scratch.path("main.db")).timeout(Duration::from_millis(200)),
        )
        .default_source("main")
        .build()
        .unwrap();
    let db = Database::open(config).unwrap();
    let (held, done) = (std::sync::Barrier::new(2), std::sync::Barrier::new(2));
    std::thread::scope(|s| {
        s.spawn(|| {
            db.write(None, |c| {
                held.wait();
                done.wait();
                c.batch_execute("INSERT INTO settings (key) VALUES ('first')")
            })
            .unwrap();
        });
        held.wait();
        let err = db.set_setting("second", "v").unwrap_err();
        done.wait();
        match &err {
            Error::PoolTimeout { source_name, detail, .. } => {
                assert_eq!(source_name, "main");
                assert_eq!(detail, "its single writer stayed busy", "the writer, not every pool");
            }
            other => panic!("expected PoolTimeout, got {other:?}"),
        }
    });
    db.set_setting("second", "v").unwrap();
    assert_eq!(db.get_setting("first", None).unwrap(), None, "the key only, no value");
    assert_eq!(db.get_setting("second", None).unwrap().as_deref(), Some("v"));
}

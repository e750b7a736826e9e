//! The read cache of SQLite sources (`get_chat_setting`, `get_chat_settings`, `get_chat_info`):
//! answered from memory while nothing commits to the file, and never staler than the file,
//! whoever commits (this process's writer, a closure's raw SQL, a plain connection of this
//! process, another process), however often.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use multisource::{Config, Database, SourceConfig, SourceStats, SqliteFile};

use crate::common::{Scratch, raw};

const CHAT: i64 = -1001000000777;

fn source_stats(db: &Database) -> SourceStats {
    db.stats().source("default").expect("the default source").clone()
}

fn setting(db: &Database) -> Option<String> {
    db.get_chat_setting(CHAT, "lang", None).expect("get_chat_setting")
}

#[test]
fn a_repeated_read_is_answered_from_memory_and_every_write_of_this_process_is_seen_at_once() {
    let scratch = Scratch::new();
    let db = Database::open_path(scratch.path("bot.db")).unwrap();
    db.set_chat_setting(CHAT, "lang", "en").unwrap();
    assert_eq!(setting(&db).as_deref(), Some("en"));
    let before = source_stats(&db);
    assert_eq!(setting(&db).as_deref(), Some("en"));
    let after = source_stats(&db);
    assert_eq!(after.cache_hits, before.cache_hits + 1, "the second read came from memory");
    assert_eq!(after.reads.total(), before.reads.total() + 1, "a hit is still a counted read");
    assert_eq!(after.checkouts, before.checkouts, "a hit takes no connection");
    for i in 0..200 {
        let value = format!("v{i}");
        db.set_chat_setting(CHAT, "lang", &value).unwrap();
        assert_eq!(setting(&db), Some(value.clone()), "round {i}: the read after the write");
        assert_eq!(setting(&db), Some(value.clone()), "round {i}: the read after that");
        let all = db.get_chat_settings(CHAT, None).unwrap();
        assert_eq!(all.get("lang"), Some(&value), "round {i}: get_chat_settings");
    }
    // The cache answered the repeated reads, and read the file after each write.
    let end = source_stats(&db);
    assert!(end.cache_hits >= after.cache_hits + 200, "{end:?}");
    assert!(end.cache_misses >= after.cache_misses + 400, "{end:?}");

    // A closure's raw SQL commits through the writer: seen too.
    db.write(Some(CHAT), |conn| {
        diesel::sql_query("UPDATE chat_settings SET value = 'raw' WHERE key = 'lang'").execute(conn)
    })
    .unwrap();
    assert_eq!(setting(&db).as_deref(), Some("raw"));

    // get_chat_info, kept and then changed.
    db.update_chat_info(CHAT, "supergroup", Some("First"), None, false).unwrap();
    let title = |db: &Database| db.get_chat_info(CHAT, None).unwrap().and_then(|c| c.title);
    assert_eq!(title(&db).as_deref(), Some("First"));
    assert_eq!(title(&db).as_deref(), Some("First"));
    db.update_chat_info(CHAT, "supergroup", Some("Second"), None, false).unwrap();
    assert_eq!(title(&db).as_deref(), Some("Second"));
}

#[test]
fn another_process_changes_a_setting_and_the_very_next_read_sees_it() {
    let scratch = Scratch::new();
    let path = scratch.path("bot.db");
    let db = Database::open_path(&path).unwrap();
    db.set_chat_setting(CHAT, "lang", "start").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_multisource-child"))
        .args(["set-settings", path.to_str().unwrap(), &CHAT.to_string(), "lang"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the child");
    let mut input = child.stdin.take().unwrap();
    let mut output = BufReader::new(child.stdout.take().unwrap());
    for round in 0..300 {
        // Kept in memory first: the read before the other process's commit is a hit.
        let seen = setting(&db);
        let hits = source_stats(&db).cache_hits;
        assert_eq!(setting(&db), seen);
        assert_eq!(source_stats(&db).cache_hits, hits + 1, "round {round}: not kept");
        let value = format!("other-{round}");
        writeln!(input, "{value}").unwrap();
        let mut line = String::new();
        output.read_line(&mut line).unwrap();
        assert_eq!(line.trim_end(), format!("set {value}"), "the child's answer");
        assert_eq!(setting(&db), Some(value), "round {round}: the read right after the commit");
    }
    drop(input);
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_plain_connection_of_this_process_commits_and_the_next_read_sees_it() {
    let scratch = Scratch::new();
    let path = scratch.path("bot.db");
    let db = Database::open_path(&path).unwrap();
    db.set_chat_setting(CHAT, "lang", "en").unwrap();
    let mut plain = raw(&path);
    for i in 0..100 {
        assert!(setting(&db).is_some());
        plain
            .batch_execute(&format!(
                "UPDATE chat_settings SET value = 'plain-{i}' WHERE chat_id = {CHAT} AND key = \
                 'lang'"
            ))
            .unwrap();
        assert_eq!(setting(&db), Some(format!("plain-{i}")));
        // A row deleted by the other connection is gone from the answer too.
        plain.batch_execute(&format!("DELETE FROM chat_settings WHERE chat_id = {CHAT}")).unwrap();
        assert_eq!(setting(&db), None);
        assert!(db.get_chat_settings(CHAT, None).unwrap().is_empty());
        db.set_chat_setting(CHAT, "lang", "en").unwrap();
    }
}

#[test]
fn readers_on_many_threads_never_see_a_value_older_than_the_last_acknowledged_write() {
    let scratch = Scratch::new();
    let db = Arc::new(Database::open_path(scratch.path("bot.db")).unwrap());
    db.set_chat_setting(CHAT, "n", "0").unwrap();
    // The last value whose write returned.
    let acknowledged = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (db, acknowledged, done) = (db.clone(), acknowledged.clone(), done.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !done.load(Ordering::SeqCst) {
                    let floor = acknowledged.load(Ordering::SeqCst);
                    let value = db.get_chat_setting(CHAT, "n", None).unwrap().unwrap();
                    let value: i64 = value.parse().unwrap();
                    assert!(value >= floor, "read {value} after {floor} was acknowledged");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for n in 1..=400 {
        db.set_chat_setting(CHAT, "n", &n.to_string()).unwrap();
        acknowledged.store(n, Ordering::SeqCst);
    }
    done.store(true, Ordering::SeqCst);
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0);
    assert_eq!(setting_n(&db), Some("400".to_owned()));
    let stats = source_stats(&db);
    assert!(stats.cache_hits > 0, "the readers never hit the cache: {stats:?}");
}

fn setting_n(db: &Database) -> Option<String> {
    db.get_chat_setting(CHAT, "n", None).unwrap()
}

#[test]
fn with_cache_off_every_read_reads_the_file() {
    let scratch = Scratch::new();
    let file = SqliteFile::new(scratch.path("bot.db")).cache(false);
    let config = Config::builder().source(SourceConfig::at("default", file)).build().unwrap();
    let db = Database::open(config).unwrap();
    db.set_chat_setting(CHAT, "lang", "en").unwrap();
    for _ in 0..10 {
        assert_eq!(setting(&db).as_deref(), Some("en"));
    }
    let stats = source_stats(&db);
    assert_eq!((stats.cache_hits, stats.cache_misses), (0, 0));
    assert_eq!(stats.reads.total(), 10);
}

#[test]
fn a_read_only_source_in_a_rollback_journal_has_no_cache_and_reads_every_change() {
    let scratch = Scratch::new();
    let path = scratch.archive("archive.db", |db| db.set_chat_setting(CHAT, "lang", "en").unwrap());
    let config =
        Config::builder().source(SourceConfig::new("default", &path).readonly(true)).build();
    let db = Database::open(config.unwrap()).unwrap();
    assert_eq!(setting(&db).as_deref(), Some("en"));
    let mut plain = raw(&path);
    plain.batch_execute("UPDATE chat_settings SET value = 'changed'").unwrap();
    assert_eq!(setting(&db).as_deref(), Some("changed"));
    let stats = source_stats(&db);
    assert_eq!((stats.cache_hits, stats.cache_misses), (0, 0), "no log index to watch");
}

#[test]
fn a_frozen_archive_is_answered_from_memory() {
    let scratch = Scratch::new();
    let path = scratch.archive("archive.db", |db| db.set_chat_setting(CHAT, "lang", "en").unwrap());
    let file = SqliteFile::new(&path).immutable(true);
    let config = Config::builder().source(SourceConfig::at("default", file).readonly(true));
    let db = Database::open(config.build().unwrap()).unwrap();
    for _ in 0..5 {
        assert_eq!(setting(&db).as_deref(), Some("en"));
    }
    assert_eq!(source_stats(&db).cache_hits, 4);
}

#[test]
fn different_arguments_are_different_answers() {
    let scratch = Scratch::new();
    let db = Database::open_path(scratch.path("bot.db")).unwrap();
    for chat in 0..50 {
        for key in ["a", "b"] {
            db.set_chat_setting(chat, key, &format!("{chat}-{key}")).unwrap();
        }
    }
    for _ in 0..2 {
        for chat in 0..50 {
            for key in ["a", "b", "c"] {
                let expected = (key != "c").then(|| format!("{chat}-{key}"));
                assert_eq!(db.get_chat_setting(chat, key, None).unwrap(), expected);
            }
            assert_eq!(db.get_chat_settings(chat, None).unwrap().len(), 2);
            assert_eq!(db.get_chat_info(chat, None).unwrap(), None);
        }
    }
    assert!(source_stats(&db).cache_hits >= 250);
}

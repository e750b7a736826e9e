//! Databases shared with other processes: another process reading a file multisource writes sees
//! only committed, consistent states; multisource reading a file another process writes sees each
//! of its commits; a frozen archive opens immutable.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use chrono::NaiveDate;
use multisource::{Config, Database, Error, NewMessage, SourceConfig};

use crate::common::{Scratch, file_state};

const CHAT: i64 = -1001000000042;

#[test]
fn another_process_reading_while_multisource_writes_sees_only_committed_consistent_data() {
    let scratch = Scratch::new();
    let path = scratch.path("shared.db");
    let db = Database::open_path(&path).unwrap();
    db.update_chat_user(CHAT, 1, "@a", "A").unwrap();
    db.update_chat_user(CHAT, 2, "@b", "B").unwrap();
    let mut watcher = Command::new(env!("CARGO_BIN_EXE_multisource-child"))
        .args(["watch", &path.to_string_lossy(), "20000"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the watcher");
    // Write only once the watcher reads, so that the two overlap.
    let mut out = BufReader::new(watcher.stdout.take().unwrap());
    let mut ready = String::new();
    out.read_line(&mut ready).unwrap();
    assert_eq!(ready.trim(), "ready");
    let date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    for i in 0..600 {
        let message = NewMessage { message_text: "shared", ..NewMessage::default() };
        db.save_chat_message(date, CHAT, 1 + i % 2, &i.to_string(), &message).unwrap();
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(watcher.wait().expect("the watcher").success(), "the watcher failed");
    let out = rest;
    let problems: Vec<&str> = out.lines().filter(|l| l.starts_with("inconsistent")).collect();
    assert!(problems.is_empty(), "{problems:?}");
    // It saw the file change while it read (the counts only grow; the last one it saw was whole).
    let seen: Vec<i64> =
        out.lines().filter_map(|l| l.strip_prefix("seen ")).map(|n| n.parse().unwrap()).collect();
    assert!(!seen.is_empty());
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
}

#[test]
fn multisource_reading_a_file_another_process_writes_sees_each_commit() {
    let scratch = Scratch::new();
    let path = scratch.path("theirs.db");
    drop(Database::open_path(&path).unwrap());
    let config = Config::builder()
        .source(SourceConfig::new("theirs", &path).readonly(true))
        .default_source("theirs")
        .build()
        .unwrap();
    let db = Database::open(config).unwrap();
    let mut writer = Command::new(env!("CARGO_BIN_EXE_multisource-child"))
        .args(["write-plain", &path.to_string_lossy(), "200"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the writer");
    let lines = BufReader::new(writer.stdout.take().unwrap());
    for line in lines.lines() {
        let i: u64 = line.unwrap().strip_prefix("committed ").unwrap().parse().unwrap();
        // The commit the other process reported is visible to the very next read.
        let value = db.get_setting(&format!("plain-{i}"), None).unwrap();
        assert_eq!(value.as_deref(), Some("from another process"), "commit {i}");
    }
    assert!(writer.wait().unwrap().success());
    assert_eq!(db.get_settings(None).unwrap().len(), 201);
}

#[test]
fn a_frozen_archive_opens_immutable_and_stays_unchanged() {
    let scratch = Scratch::new();
    let path = scratch.archive("frozen.db", |db| db.set_setting("frozen", "yes").unwrap());
    let before = file_state(&path);
    let config = Config::from_toml_str(&format!(
        "default = \"frozen\"\n[sources.frozen]\npath = {:?}\nreadonly = true\nimmutable = true\n",
        path.to_string_lossy()
    ))
    .unwrap();
    assert!(config.source("frozen").unwrap().is_immutable());
    let db = Database::open(config).unwrap();
    assert_eq!(db.get_setting("frozen", None).unwrap().as_deref(), Some("yes"));
    assert!(matches!(db.set_setting("x", "y"), Err(Error::ReadOnlySource { .. })));
    drop(db);
    assert_eq!(file_state(&path), before);
    for suffix in ["-wal", "-shm"] {
        assert!(!scratch.path(&format!("frozen.db{suffix}")).exists(), "no {suffix} file");
    }
}

#[test]
fn only_a_read_only_source_can_be_immutable() {
    let err =
        Config::from_toml_str("default = \"a\"\n[sources.a]\npath = \"a.db\"\nimmutable = true\n")
            .unwrap_err();
    match err {
        Error::Config { key, line, message, .. } => {
            assert_eq!((key.as_str(), line), ("sources.a.immutable", Some(4)));
            assert!(message.contains("only a read-only source can be immutable"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

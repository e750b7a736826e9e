//! A second process for the reliability tests (`tests/it/crash.rs`, `tests/it/shared.rs`,
//! `tests/it/faults.rs`). Each mode prints one line per event on standard output and flushes it,
//! so that the test reads exactly what the process had acknowledged when it died.
//!
//! - `write-messages DB FIRST [normal|full] [THREADS]`: saves messages through multisource, ids
//!   from FIRST up, forever, printing each id once `save_chat_message` returned `Ok`; with
//!   THREADS, from that many threads at once (thread `t` takes the ids `FIRST + t + k * THREADS`),
//!   whose writes the writer commits in batches.
//! - `watch DB ROUNDS`: reads the database with a plain read-only connection, ROUNDS times, each
//!   in one transaction, checking that what it sees is consistent (every message counted in its
//!   author's `messages_count`) and never goes back; prints `seen N` for each count seen, and
//!   `inconsistent ...` when a check fails (after `ready`, once its connection is open).
//! - `write-plain DB COUNT`: commits COUNT settings through a plain connection, one per
//!   transaction, printing `committed I` after each.
//! - `hold-lock DB`: opens a plain connection, takes the write lock (`BEGIN IMMEDIATE`), prints
//!   `locked`, and holds it until standard input closes.
//! - `open DB`: prints `ready`, waits for a line on standard input, then opens DB as one writable
//!   source (a 5 s timeout) and prints `opened`, or `failed <error>`; many at once race for a
//!   file that does not exist yet.
//! - `touch DB`: opens a plain read-write connection, as another program would, reads, closes it,
//!   and prints `closed` (SQLite checkpoints and removes the log when it closes the last
//!   connection to the file).
//! - `set-settings DB CHAT KEY`: opens DB as one writable source, as a second bot would, then for
//!   each line of standard input sets the chat's setting KEY to it (`set_chat_setting`) and
//!   prints `set <value>` once the call returned.
//! - `bot CONFIG FIRST THREADS CHAT...`: a bot: opens the configuration file and, from THREADS
//!   threads, saves messages to the CHATs in turn (ids from FIRST up, each thread its own),
//!   reading each one back by its id and the chat's setting `anchor` after it, until standard
//!   input closes; prints `ready` once open, `<chat> <id>` for each message saved and read
//!   back, then `stopped`. A call that fails, or a read that does not find what the bot wrote,
//!   prints `failed <what>` and ends the process with a failure.
//! - `operator ARGS...`: the operator's command line (`multisource ARGS...`), in a process of its
//!   own, which a test may kill (`MULTISOURCE_FAILPOINT` aborts it at a step of a move).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{BufRead, Write};
use std::process::ExitCode;

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use multisource::{Config, Database, Durability, NewMessage, SourceConfig, SqliteFile};

/// The chat and the user the messages are written for.
const CHAT: i64 = -1001000000042;
const USER: i64 = 777001;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["write-messages", db, first, rest @ ..] => {
            write_messages(db, first, rest.first().copied(), rest.get(1).copied())
        }
        ["watch", db, rounds] => watch(db, rounds),
        ["write-plain", db, count] => write_plain(db, count),
        ["hold-lock", db] => hold_lock(db),
        ["open", db] => open(db),
        ["touch", db] => touch(db),
        ["set-settings", db, chat, key] => set_settings(db, chat, key),
        ["bot", config, first, threads, chats @ ..] => bot(config, first, threads, chats),
        ["operator", rest @ ..] => {
            let status =
                multisource_cli::run(std::iter::once("multisource").chain(rest.iter().copied()));
            return ExitCode::from(status);
        }
        _ => Err("usage: multisource-child \
                  write-messages|watch|write-plain|hold-lock|open|touch|set-settings|bot|\
                  operator ..."
            .into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn say(line: std::fmt::Arguments<'_>) -> Result {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush()).map_err(|e| e.to_string())
}

fn write_messages(
    db: &str,
    first: &str,
    durability: Option<&str>,
    threads: Option<&str>,
) -> Result {
    let first: u64 = first.parse().map_err(|_| format!("not an id: {first}"))?;
    let threads: u64 = threads.map_or(Ok(1), str::parse).map_err(|_| "not a thread count")?;
    let durability = match durability {
        None | Some("normal") => Durability::Normal,
        Some("full") => Durability::Full,
        Some(other) => return Err(format!("not a durability: {other}")),
    };
    let config = Config::builder()
        .source(SourceConfig::at("main", SqliteFile::new(db).durability(durability)))
        .default_source("main")
        .build()
        .map_err(|e| e.to_string())?;
    let db = Database::open(config).map_err(|e| e.to_string())?;
    db.update_chat_user(CHAT, USER, "@writer", "Writer").map_err(|e| e.to_string())?;
    let date = NaiveDate::from_ymd_opt(2025, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    let write = |t: u64| -> Result {
        for id in (first + t..).step_by(threads.max(1) as usize) {
            let text = format!("message {id}");
            let message = NewMessage { message_text: &text, ..NewMessage::default() };
            db.save_chat_message(date, CHAT, USER, &id.to_string(), &message)
                .map_err(|e| e.to_string())?;
            say(format_args!("{id}"))?;
        }
        Ok(())
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|t| s.spawn(move || write(t))).collect();
        handles.into_iter().try_for_each(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
    })
}

fn plain(db: &str, mode: &str) -> Result<SqliteConnection> {
    let mut conn = SqliteConnection::establish(&format!("file:{db}?mode={mode}"))
        .map_err(|e| e.to_string())?;
    conn.batch_execute("PRAGMA busy_timeout = 10000;").map_err(|e| e.to_string())?;
    Ok(conn)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn watch(db: &str, rounds: &str) -> Result {
    let rounds: u64 = rounds.parse().map_err(|_| format!("not a number: {rounds}"))?;
    let mut conn = plain(db, "ro")?;
    say(format_args!("ready"))?;
    let mut last = 0;
    for _ in 0..rounds {
        // One read transaction: both counts from one snapshot.
        let (messages, counted) = conn
            .transaction(|c| {
                let messages = diesel::sql_query("SELECT count(*) AS n FROM chat_messages")
                    .get_result::<Count>(c)?
                    .n;
                let counted =
                    diesel::sql_query("SELECT ifnull(sum(messages_count), 0) AS n FROM chat_users")
                        .get_result::<Count>(c)?
                        .n;
                Ok::<_, diesel::result::Error>((messages, counted))
            })
            .map_err(|e| e.to_string())?;
        if messages != counted {
            say(format_args!("inconsistent {messages} messages, {counted} counted"))?;
        }
        if messages < last {
            say(format_args!("inconsistent {messages} messages after {last}"))?;
        }
        if messages != last {
            say(format_args!("seen {messages}"))?;
            last = messages;
        }
    }
    Ok(())
}

fn write_plain(db: &str, count: &str) -> Result {
    let count: u64 = count.parse().map_err(|_| format!("not a number: {count}"))?;
    let mut conn = plain(db, "rw")?;
    for i in 0..count {
        conn.immediate_transaction(|c| {
            diesel::sql_query(
                "INSERT INTO settings (key, value) VALUES (?, 'from another process')",
            )
            .bind::<Text, _>(format!("plain-{i}"))
            .execute(c)
        })
        .map_err(|e| e.to_string())?;
        say(format_args!("committed {i}"))?;
    }
    Ok(())
}

fn hold_lock(db: &str) -> Result {
    let mut conn = plain(db, "rw")?;
    conn.batch_execute(
        "BEGIN IMMEDIATE; INSERT INTO settings (key, value) VALUES ('held', 'lock');",
    )
    .map_err(|e| e.to_string())?;
    say(format_args!("locked"))?;
    // Hold the lock until the test closes our standard input.
    let mut line = String::new();
    while std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())? > 0 {
        line.clear();
    }
    conn.batch_execute("ROLLBACK;").map_err(|e| e.to_string())
}

fn open(db: &str) -> Result {
    say(format_args!("ready"))?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
    let config = Config::builder()
        .source(SourceConfig::new("main", db).timeout(std::time::Duration::from_secs(5)))
        .default_source("main")
        .build()
        .map_err(|e| e.to_string())?;
    match Database::open(config) {
        Ok(_) => say(format_args!("opened")),
        Err(error) => say(format_args!("failed {error}")),
    }
}

fn touch(db: &str) -> Result {
    let mut conn = plain(db, "rw")?;
    let rows = diesel::sql_query("SELECT count(*) AS n FROM settings")
        .get_result::<Count>(&mut conn)
        .map_err(|e| e.to_string())?;
    drop(conn);
    say(format_args!("closed after reading {} settings", rows.n))
}

fn set_settings(db: &str, chat: &str, key: &str) -> Result {
    let chat: i64 = chat.parse().map_err(|_| format!("not a chat id: {chat}"))?;
    let db = Database::open_path(db).map_err(|e| e.to_string())?;
    for line in std::io::stdin().lock().lines() {
        let value = line.map_err(|e| e.to_string())?;
        db.set_chat_setting(chat, key, &value).map_err(|e| e.to_string())?;
        say(format_args!("set {value}"))?;
    }
    Ok(())
}

fn bot(config: &str, first: &str, threads: &str, chats: &[&str]) -> Result {
    let first: u64 = first.parse().map_err(|_| format!("not an id: {first}"))?;
    let threads: u64 = threads.parse().map_err(|_| format!("not a thread count: {threads}"))?;
    let chats: Vec<i64> = chats
        .iter()
        .map(|c| c.parse().map_err(|_| format!("not a chat id: {c}")))
        .collect::<Result<_>>()?;
    let db = Database::from_config_file(config).map_err(|e| e.to_string())?;
    // What each chat holds before: a member, and a setting every read must find wherever the
    // chat is.
    for chat in &chats {
        db.update_chat_user(*chat, USER, "@bot", "Bot").map_err(|e| e.to_string())?;
        db.set_chat_setting(*chat, "anchor", &chat.to_string()).map_err(|e| e.to_string())?;
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    say(format_args!("ready"))?;
    let date = NaiveDate::from_ymd_opt(2025, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    let write = |t: u64| -> Result {
        let ids = (first + t..).step_by(threads.max(1) as usize);
        for (k, id) in ids.enumerate() {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return Ok(());
            }
            let chat = chats[(t as usize + k) % chats.len()];
            let (text, id) = (format!("message {id}"), id.to_string());
            let message = NewMessage { message_text: &text, ..NewMessage::default() };
            let failed = |what: &str, e: &dyn std::fmt::Display| {
                let _ = say(format_args!("failed {what} {id} in chat {chat}: {e}"));
                format!("{what}: {e}")
            };
            db.save_chat_message(date, chat, USER, &id, &message)
                .map_err(|e| failed("save", &e))?;
            match db.get_chat_message_by_message_id(chat, &id, None) {
                Ok(Some(_)) => {}
                Ok(None) => return Err(failed("read back", &"not found")),
                Err(e) => return Err(failed("read back", &e)),
            }
            match db.get_chat_setting(chat, "anchor", None) {
                Ok(Some(value)) if value == chat.to_string() => {}
                Ok(other) => return Err(failed("read the anchor", &format!("{other:?}"))),
                Err(e) => return Err(failed("read the anchor", &e)),
            }
            say(format_args!("{chat} {id}"))?;
        }
        Ok(())
    };
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|t| s.spawn(move || write(t))).collect();
        // Until standard input closes.
        let mut line = String::new();
        while std::io::stdin().lock().read_line(&mut line).unwrap_or(0) > 0 {
            line.clear();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        handles.into_iter().try_for_each(|h| h.join().unwrap_or_else(|_| Err("panicked".into())))
    })?;
    say(format_args!("stopped"))
}

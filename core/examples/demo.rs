//! A short scripted bot conversation on three SQLite sources, printing where each call went and
//! why: `cargo run -p multisource --example demo [DIR]` (the files are left in `DIR`, by default
//! `target/multisource-demo`).
//!
//! - `primary.db`: writable, the default source;
//! - `secondary.db`: writable, one chat mapped to it;
//! - `archive.db`: read-only, prepared beforehand with an old chat, which is mapped to it.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{NaiveDate, NaiveDateTime};
use diesel::Connection as _;
use diesel::connection::SimpleConnection;
use multisource::{Database, MessageCategory, NewMessage};

const MAIN_CHAT: i64 = -1001000000001;
const SIDE_CHAT: i64 = -1002000000001;
const OLD_CHAT: i64 = -1003000000001;
const ALICE: i64 = 777001;
const BOB: i64 = 777002;

fn main() -> ExitCode {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| "target/multisource-demo".into());
    match run(&dir) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            let mut source = std::error::Error::source(&*error);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

fn at(day: u32, hour: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 12, day)
        .and_then(|d| d.and_hms_opt(hour, 0, 0))
        .unwrap_or_default()
}

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn run(dir: &Path) -> Result {
    std::fs::create_dir_all(dir)?;
    for name in ["primary.db", "secondary.db", "archive.db", "bot.toml"] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("{name}{suffix}")));
        }
    }
    prepare_archive(&dir.join("archive.db"))?;
    let config = dir.join("bot.toml");
    std::fs::write(
        &config,
        format!(
            r#"# Written by the multisource demo.
[database]
default = "primary"

[database.sources.primary]
path = "primary.db"

[database.sources.secondary]
path = "secondary.db"

[database.sources.archive]
path = "archive.db"
readonly = true

[database.chatMapping]
{SIDE_CHAT} = "secondary"
{OLD_CHAT} = "archive"
"#
        ),
    )?;
    let db = Database::from_config_file(&config)?;
    println!("Opened {} with {} sources:", config.display(), db.sources().len());
    for source in db.sources() {
        let mode = if source.config.is_readonly() { "read-only" } else { "writable" };
        println!("  {:<10} {:<9} {}", source.config.name(), mode, source.path.display());
    }
    println!();
    println!("{:<52} {:<10} {:<13} result", "call", "source", "tier");
    println!("{}", "-".repeat(100));

    let show = |call: &str, chat: Option<i64>, source: Option<&str>, result: &dyn Display| {
        let (source, tier) = match db.route(chat, source) {
            Ok(route) => (route.source().to_owned(), route.tier().to_string()),
            Err(_) => ("-".to_owned(), "-".to_owned()),
        };
        println!("{call:<52} {source:<10} {tier:<13} {result}");
    };
    let ok = |r: multisource::Result<()>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("refused: {e}"),
    };

    // The main chat is not mapped: it lives in the default source.
    let result = ok(db.update_chat_info(MAIN_CHAT, "supergroup", Some("Main chat"), None, false));
    show("update_chat_info(main chat)", Some(MAIN_CHAT), None, &result);
    for (chat, user, name) in
        [(MAIN_CHAT, ALICE, "Alice"), (MAIN_CHAT, BOB, "Bob"), (SIDE_CHAT, ALICE, "Alice")]
    {
        let result =
            ok(db.update_chat_user(chat, user, &format!("@{}", name.to_lowercase()), name));
        show(&format!("update_chat_user({}, {name})", chat_name(chat)), Some(chat), None, &result);
    }
    let result = ok(db.update_chat_info(SIDE_CHAT, "group", Some("Side chat"), None, false));
    show("update_chat_info(side chat)", Some(SIDE_CHAT), None, &result);
    let script = [
        (MAIN_CHAT, ALICE, "1", "Hello, everyone"),
        (MAIN_CHAT, BOB, "2", "Hi Alice"),
        (SIDE_CHAT, ALICE, "1", "A quieter place"),
        (MAIN_CHAT, ALICE, "3", "What did we say last year?"),
    ];
    for (hour, (chat, user, id, text)) in (9..).zip(script) {
        let message = NewMessage {
            message_text: text,
            message_category: MessageCategory::User,
            ..NewMessage::default()
        };
        let result = ok(db.save_chat_message(at(1, hour), chat, user, id, &message));
        show(&format!("save_chat_message({}, {id:?})", chat_name(chat)), Some(chat), None, &result);
    }
    let result = ok(db.set_chat_setting(SIDE_CHAT, "language", "en"));
    show("set_chat_setting(side chat, language)", Some(SIDE_CHAT), None, &result);
    let result = ok(db.set_setting("bot-owner", "alice"));
    show("set_setting(bot-owner)", None, None, &result);

    // Reads, by each tier.
    let messages = db.get_chat_messages_by_user(MAIN_CHAT, ALICE, 10, None)?;
    show(
        "get_chat_messages_by_user(main chat, Alice)",
        Some(MAIN_CHAT),
        None,
        &format!("{} messages", messages.len()),
    );
    let language = db.get_chat_setting(SIDE_CHAT, "language", None)?;
    show("get_chat_setting(side chat, language)", Some(SIDE_CHAT), None, &format!("{language:?}"));
    let old = db.get_chat_messages_since(OLD_CHAT, None, None, None, None, None, None)?;
    show(
        "get_chat_messages_since(old chat)",
        Some(OLD_CHAT),
        None,
        &format!("{} messages from 2024", old.len()),
    );
    let elsewhere = db.get_chat_setting(SIDE_CHAT, "language", Some("primary"))?;
    show(
        "get_chat_setting(side chat, source=primary)",
        Some(SIDE_CHAT),
        Some("primary"),
        &format!("{elsewhere:?}"),
    );
    let owner = db.get_setting("bot-owner", None)?;
    show("get_setting(bot-owner)", None, None, &format!("{owner:?}"));

    // A read of every source, merged.
    let chats = db.get_user_chats(ALICE, None)?;
    let titles: Vec<String> = chats.iter().map(|c| c.title.clone().unwrap_or_default()).collect();
    println!(
        "{:<52} {:<10} {:<13} {}",
        "get_user_chats(Alice)",
        "all",
        "fan-out",
        titles.join(", ")
    );

    // A write to the archived chat is refused before anything is touched.
    let result = ok(db.set_chat_setting(OLD_CHAT, "language", "ru"));
    show("set_chat_setting(old chat, language)", Some(OLD_CHAT), None, &result);
    let result = ok(db.update_chat_user(OLD_CHAT, ALICE, "@alice", "Alice"));
    show("update_chat_user(old chat, Alice)", Some(OLD_CHAT), None, &result);

    println!();
    println!("{:<10} {:>6} {:>7} {:>8} {:>9}", "source", "reads", "writes", "refused", "fan-out");
    for s in db.stats().sources {
        println!(
            "{:<10} {:>6} {:>7} {:>8} {:>9}",
            s.name,
            s.reads.total(),
            s.writes.total() - s.refused_writes,
            s.refused_writes,
            s.fan_out_reads
        );
    }
    println!("\nThe files are in {}; inspect them with sqlite3.", dir.display());
    Ok(())
}

fn chat_name(chat: i64) -> &'static str {
    match chat {
        MAIN_CHAT => "main chat",
        SIDE_CHAT => "side chat",
        _ => "old chat",
    }
}

/// The archive: a database written last year, then frozen read-only in a rollback journal so
/// that reading it creates no `-wal` or `-shm` file.
fn prepare_archive(path: &Path) -> Result {
    let db = Database::open_path(path)?;
    db.update_chat_info(OLD_CHAT, "group", Some("Old chat"), None, false)?;
    db.update_chat_user(OLD_CHAT, ALICE, "@alice", "Alice")?;
    for (id, text) in [("1", "Happy new year 2024!"), ("2", "See you next year")] {
        let message = NewMessage { message_text: text, ..NewMessage::default() };
        db.save_chat_message(
            at(31, 23) - chrono::TimeDelta::days(365),
            OLD_CHAT,
            ALICE,
            id,
            &message,
        )?;
    }
    drop(db);
    let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())?;
    conn.batch_execute("PRAGMA journal_mode = DELETE;")?;
    Ok(())
}

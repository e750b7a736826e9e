//! `multisource demo`: three SQLite sources, a configuration mapping chats to each, and a short
//! scripted bot conversation played through the library, with a table of where every call went
//! and why. The files stay in the folder for the other commands to inspect.
//!
//! - `primary.db`: writable, the default source (the main chat is not mapped, so it lands here);
//! - `secondary.db`: writable, the side chat is mapped to it;
//! - `archive.db`: read-only, prepared beforehand with an old chat, which is mapped to it.

use std::fmt::Write as _;
use std::path::Path;

/// `println!` into the command's output.
macro_rules! line {
    ($out:expr, $($arg:tt)*) => {
        let _ = writeln!($out, $($arg)*);
    };
}

use chrono::{NaiveDateTime, TimeDelta, Utc};
use multisource::{Database, MessageCategory, NewMessage};
use multisource_router::{Opened, Purpose};

use crate::output::{Failure, Outcome, Table, describe};

const MAIN_CHAT: i64 = -1001000000001;
const SIDE_CHAT: i64 = -1002000000001;
const OLD_CHAT: i64 = -1003000000001;
const ALICE: i64 = 777001;
const BOB: i64 = 777002;

fn failed(error: &dyn std::error::Error) -> Failure {
    Failure::Failed(describe(error))
}

/// Runs the demo in `dir`, replacing the demo's files there.
pub(crate) fn run(dir: &Path, out: &mut String) -> Result<Outcome, Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::Failed(format!("cannot create {}: {e}", dir.display())))?;
    for name in ["primary.db", "secondary.db", "archive.db", "bot.toml"] {
        for suffix in ["", "-wal", "-shm", ".move-journal"] {
            let _ = std::fs::remove_file(dir.join(format!("{name}{suffix}")));
        }
    }
    let now = Utc::now().naive_utc();
    prepare_archive(&dir.join("archive.db"), now - TimeDelta::days(400))?;
    let config = dir.join("bot.toml");
    std::fs::write(&config, configuration())
        .map_err(|e| Failure::Failed(format!("cannot write {}: {e}", config.display())))?;
    let db = Database::from_config_file(&config).map_err(|e| failed(&e))?;
    line!(out, "Opened {} with {} sources:", config.display(), db.sources().len());
    let mut sources = Table::new(&["source", "access", "file"]);
    for source in db.sources() {
        let access = if source.config.is_readonly() { "read-only" } else { "writable" };
        sources.row(vec![
            source.config.name().to_owned(),
            access.to_owned(),
            source.path.display().to_string(),
        ]);
    }
    line!(out, "{}", sources.render());
    let mut calls = Table::new(&["call", "source", "tier", "result"]);
    let refusal = play(&db, now, &mut calls)?;
    line!(out, "{}", calls.render());
    if let Some(refusal) = refusal {
        line!(out, "A refused write returns `Error::ReadOnlySource`, which says:\n  {refusal}\n");
    }

    let mut totals = Table::new(&["source", ">reads", ">writes", ">refused", ">fan-out"]);
    for s in db.stats().sources {
        totals.row(vec![
            s.name.clone(),
            s.reads.total().to_string(),
            (s.writes.total() - s.refused_writes).to_string(),
            s.refused_writes.to_string(),
            s.fan_out_reads.to_string(),
        ]);
    }
    line!(out, "{}", totals.render());
    drop(db);
    let config = config.display();
    line!(out, "The files are in {}. Look at them with:", dir.display());
    line!(out, "  multisource check --config {config}");
    line!(out, "  multisource status --config {config}");
    line!(out, "  multisource move-chat --config {config} --chat {SIDE_CHAT} --to primary");
    line!(
        out,
        "  multisource archive --config {config} --inactive-days 30 --to archive --offline --dry-run"
    );
    Ok(Outcome::Clean)
}

fn configuration() -> String {
    format!(
        r#"# Written by `multisource demo`.
[database]
default = "primary"

[database.sources.primary]
path = "primary.db"

[database.sources.secondary]
path = "secondary.db"

# Last year's chats, frozen.
[database.sources.archive]
path = "archive.db"
readonly = true

[database.chatMapping]
{SIDE_CHAT} = "secondary"
{OLD_CHAT} = "archive"   # archived
"#
    )
}

fn chat_name(chat: i64) -> &'static str {
    match chat {
        MAIN_CHAT => "main chat",
        SIDE_CHAT => "side chat",
        _ => "old chat",
    }
}

/// The conversation: writes routed by mapping and default, reads by each tier, a read of every
/// source, and writes to the archived chat, refused.
/// Returns the first refusal's whole message.
fn play(db: &Database, now: NaiveDateTime, calls: &mut Table) -> Result<Option<String>, Failure> {
    // `chat` and `source` as the call passes them; `None` for both and `every` for a read of
    // every source, which has no single route.
    let mut show =
        |call: String, (chat, source, every): (Option<i64>, Option<&str>, bool), result| {
            let (source, tier) = match (every, db.route(chat, source)) {
                (true, _) => ("every source".to_owned(), "fan-out".to_owned()),
                (false, Ok(route)) => (route.source().to_owned(), route.tier().to_string()),
                (false, Err(_)) => ("-".to_owned(), "-".to_owned()),
            };
            calls.row(vec![call, source, tier, result]);
        };
    // A refusal shows its first clause; the whole message is printed once, under the table.
    let refusal = std::cell::RefCell::new(None);
    let ok = |r: multisource::Result<()>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            let message = e.to_string();
            let first = message.split(';').next().unwrap_or_default().to_owned();
            refusal.borrow_mut().get_or_insert(message);
            format!("refused: {first}")
        }
    };

    let result = ok(db.update_chat_info(MAIN_CHAT, "supergroup", Some("Main chat"), None, false));
    show("update_chat_info(main chat)".into(), (Some(MAIN_CHAT), None, false), result);
    let result = ok(db.update_chat_info(SIDE_CHAT, "group", Some("Side chat"), None, false));
    show("update_chat_info(side chat)".into(), (Some(SIDE_CHAT), None, false), result);
    for (chat, user, name) in
        [(MAIN_CHAT, ALICE, "Alice"), (MAIN_CHAT, BOB, "Bob"), (SIDE_CHAT, ALICE, "Alice")]
    {
        let result =
            ok(db.update_chat_user(chat, user, &format!("@{}", name.to_lowercase()), name));
        show(
            format!("update_chat_user({}, {name})", chat_name(chat)),
            (Some(chat), None, false),
            result,
        );
    }
    let script = [
        (MAIN_CHAT, ALICE, "1", "Hello, everyone"),
        (MAIN_CHAT, BOB, "2", "Hi Alice"),
        (SIDE_CHAT, ALICE, "1", "A quieter place"),
        (MAIN_CHAT, ALICE, "3", "What did we say last year?"),
    ];
    for (minutes, (chat, user, id, text)) in (0..).zip(script).map(|(i, s)| (4 - i, s)) {
        let message = NewMessage {
            message_text: text,
            message_category: MessageCategory::User,
            ..NewMessage::default()
        };
        let at = now - TimeDelta::minutes(minutes);
        let result = ok(db.save_chat_message(at, chat, user, id, &message));
        show(
            format!("save_chat_message({}, {id:?})", chat_name(chat)),
            (Some(chat), None, false),
            result,
        );
    }
    let result = ok(db.set_chat_setting(SIDE_CHAT, "language", "en"));
    show("set_chat_setting(side chat, language)".into(), (Some(SIDE_CHAT), None, false), result);
    let result = ok(db.set_setting("bot-owner", "alice"));
    show("set_setting(bot-owner)".into(), (None, None, false), result);

    let messages =
        db.get_chat_messages_by_user(MAIN_CHAT, ALICE, 10, None).map_err(|e| failed(&e))?;
    show(
        "get_chat_messages_by_user(main chat, Alice)".into(),
        (Some(MAIN_CHAT), None, false),
        format!("{} messages", messages.len()),
    );
    let language = db.get_chat_setting(SIDE_CHAT, "language", None).map_err(|e| failed(&e))?;
    show(
        "get_chat_setting(side chat, language)".into(),
        (Some(SIDE_CHAT), None, false),
        format!("{language:?}"),
    );
    let old = db
        .get_chat_messages_since(OLD_CHAT, None, None, None, None, None, None)
        .map_err(|e| failed(&e))?;
    show(
        "get_chat_messages_since(old chat)".into(),
        (Some(OLD_CHAT), None, false),
        format!("{} messages from last year", old.len()),
    );
    let elsewhere =
        db.get_chat_setting(SIDE_CHAT, "language", Some("primary")).map_err(|e| failed(&e))?;
    show(
        "get_chat_setting(side chat, source=primary)".into(),
        (Some(SIDE_CHAT), Some("primary"), false),
        format!("{elsewhere:?}"),
    );
    let owner = db.get_setting("bot-owner", None).map_err(|e| failed(&e))?;
    show("get_setting(bot-owner)".into(), (None, None, false), format!("{owner:?}"));

    let chats = db.get_user_chats(ALICE, None).map_err(|e| failed(&e))?;
    let titles: Vec<String> = chats.iter().map(|c| c.title.clone().unwrap_or_default()).collect();
    show("get_user_chats(Alice)".into(), (None, None, true), titles.join(", "));

    let result = ok(db.set_chat_setting(OLD_CHAT, "language", "ru"));
    show("set_chat_setting(old chat, language)".into(), (Some(OLD_CHAT), None, false), result);
    let result = ok(db.update_chat_user(OLD_CHAT, ALICE, "@alice", "Alice"));
    show("update_chat_user(old chat, Alice)".into(), (Some(OLD_CHAT), None, false), result);
    Ok(refusal.into_inner())
}

/// The archive: a database written last year, then frozen read-only in a rollback journal so
/// that reading it creates no `-wal` or `-shm` file.
fn prepare_archive(path: &Path, last_year: NaiveDateTime) -> Result<(), Failure> {
    let db = Database::open_path(path).map_err(|e| failed(&e))?;
    let fill = || -> multisource::Result<()> {
        db.update_chat_info(OLD_CHAT, "group", Some("Old chat"), None, false)?;
        db.update_chat_user(OLD_CHAT, ALICE, "@alice", "Alice")?;
        for (id, text) in [("1", "Happy new year!"), ("2", "See you next year")] {
            let message = NewMessage { message_text: text, ..NewMessage::default() };
            db.save_chat_message(last_year, OLD_CHAT, ALICE, id, &message)?;
        }
        Ok(())
    };
    fill().map_err(|e| failed(&e))?;
    drop(db);
    let archive = multisource::SourceConfig::new("archive", path);
    let mut frozen =
        Opened::open(&archive, Purpose::Move { create: false }).map_err(|e| failed(&e))?;
    frozen.freeze().map_err(|e| failed(&e))?;
    Ok(())
}

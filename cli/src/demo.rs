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

use crate::error::Error;
use crate::output::{Outcome, Table};

const MAIN_CHAT: i64 = -1001000000001;
const SIDE_CHAT: i64 = -1002000000001;
const OLD_CHAT: i64 = -1003000000001;
const ALICE: i64 = 777001;
const BOB: i64 = 777002;

/// A failure of the demo's database.
fn failed(error: multisource::Error) -> Error {
    Error::database("the demo failed")(error)
}

/// Runs the demo in `dir`, replacing the demo's files there.
pub(crate) fn run(dir: &Path, out: &mut String) -> Result<Outcome, Error> {
    std::fs::create_dir_all(dir).map_err(Error::file("create", dir))?;
    for name in ["primary.db", "secondary.db", "archive.db", "bot.toml"] {
        for suffix in ["", "-wal", "-shm", ".move-journal"] {
            let _ = std::fs::remove_file(dir.join(format!("{name}{suffix}")));
        }
    }
    let now = Utc::now().naive_utc();
    prepare_archive(&dir.join("archive.db"), now - TimeDelta::days(400))?;
    let config = dir.join("bot.toml");
    std::fs::write(&config, configuration()).map_err(Error::file("write", &config))?;
    let db = Database::from_config_file(&config).map_err(failed)?;
    line!(out, "Opened {} with {} sources:", config.display(), db.sources().len());
    let mut sources = Table::new(&["source", "access", "file"]);
    for source in db.sources() {
        let access = if source.config.is_readonly() { "read-only" } else { "writable" };
        sources.row(vec![
            source.config.name().to_owned(),
            access.to_owned(),
            source.config.location().to_string(),
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
fn play(db: &Database, now: NaiveDateTime, calls: &mut Table) -> Result<Option<String>, Error> {
    let mut script = Script { db, calls, refusal: None };
    script.writes(now);
    script.reads()?;
    script.refused_writes();
    Ok(script.refusal)
}

/// The demo's calls, each shown as a row of `calls`: where it went, by which tier, and what it
/// returned.
struct Script<'a> {
    db: &'a Database,
    calls: &'a mut Table,
    /// The first refusal's whole message, printed once under the table.
    refusal: Option<String>,
}

impl Script<'_> {
    /// Shows a call: `chat` and `source` as the call passes them.
    fn show(&mut self, call: String, chat: Option<i64>, source: Option<&str>, result: String) {
        let (source, tier) = match self.db.route(chat, source) {
            Ok(route) => (route.source().to_owned(), route.tier().to_string()),
            Err(_) => ("-".to_owned(), "-".to_owned()),
        };
        self.calls.row(vec![call, source, tier, result]);
    }

    /// Shows a write: `ok`, or its refusal's first clause.
    fn write(&mut self, call: String, chat: Option<i64>, result: multisource::Result<()>) {
        let result = match result {
            Ok(()) => "ok".to_owned(),
            Err(e) => {
                let message = e.to_string();
                let first = message.split(';').next().unwrap_or_default().to_owned();
                self.refusal.get_or_insert(message);
                format!("refused: {first}")
            }
        };
        self.show(call, chat, None, result);
    }

    /// Writes routed by the chat mapping, by the default, and a setting of no chat.
    fn writes(&mut self, now: NaiveDateTime) {
        let db = self.db;
        let result = db.update_chat_info(MAIN_CHAT, "supergroup", Some("Main chat"), None, false);
        self.write("update_chat_info(main chat)".into(), Some(MAIN_CHAT), result);
        let result = db.update_chat_info(SIDE_CHAT, "group", Some("Side chat"), None, false);
        self.write("update_chat_info(side chat)".into(), Some(SIDE_CHAT), result);
        for (chat, user, name) in
            [(MAIN_CHAT, ALICE, "Alice"), (MAIN_CHAT, BOB, "Bob"), (SIDE_CHAT, ALICE, "Alice")]
        {
            let result =
                db.update_chat_user(chat, user, &format!("@{}", name.to_lowercase()), name);
            self.write(
                format!("update_chat_user({}, {name})", chat_name(chat)),
                Some(chat),
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
            let result = db.save_chat_message(at, chat, user, id, &message);
            self.write(
                format!("save_chat_message({}, {id:?})", chat_name(chat)),
                Some(chat),
                result,
            );
        }
        let result = db.set_chat_setting(SIDE_CHAT, "language", "en");
        self.write("set_chat_setting(side chat, language)".into(), Some(SIDE_CHAT), result);
        let result = db.set_setting("bot-owner", "alice");
        self.write("set_setting(bot-owner)".into(), None, result);
    }

    /// Reads by each tier, and a read of every source.
    fn reads(&mut self) -> Result<(), Error> {
        let db = self.db;
        let messages = db.get_chat_messages_by_user(MAIN_CHAT, ALICE, 10, None).map_err(failed)?;
        let call = "get_chat_messages_by_user(main chat, Alice)";
        self.show(call.into(), Some(MAIN_CHAT), None, format!("{} messages", messages.len()));
        let language = db.get_chat_setting(SIDE_CHAT, "language", None).map_err(failed)?;
        let call = "get_chat_setting(side chat, language)";
        self.show(call.into(), Some(SIDE_CHAT), None, format!("{language:?}"));
        let old = db
            .get_chat_messages_since(OLD_CHAT, None, None, None, None, None, None)
            .map_err(failed)?;
        let call = "get_chat_messages_since(old chat)";
        let result = format!("{} messages from last year", old.len());
        self.show(call.into(), Some(OLD_CHAT), None, result);
        let elsewhere =
            db.get_chat_setting(SIDE_CHAT, "language", Some("primary")).map_err(failed)?;
        let call = "get_chat_setting(side chat, source=primary)";
        self.show(call.into(), Some(SIDE_CHAT), Some("primary"), format!("{elsewhere:?}"));
        let owner = db.get_setting("bot-owner", None).map_err(failed)?;
        self.show("get_setting(bot-owner)".into(), None, None, format!("{owner:?}"));

        // A read of every source has no single route.
        let chats = db.get_user_chats(ALICE, None).map_err(failed)?;
        let titles: Vec<String> =
            chats.iter().map(|c| c.title.clone().unwrap_or_default()).collect();
        let row = ["get_user_chats(Alice)", "every source", "fan-out"].map(String::from);
        self.calls.row([row.to_vec(), vec![titles.join(", ")]].concat());
        Ok(())
    }

    /// Writes to the archived chat, which the read-only archive refuses.
    fn refused_writes(&mut self) {
        let db = self.db;
        let result = db.set_chat_setting(OLD_CHAT, "language", "ru");
        self.write("set_chat_setting(old chat, language)".into(), Some(OLD_CHAT), result);
        let result = db.update_chat_user(OLD_CHAT, ALICE, "@alice", "Alice");
        self.write("update_chat_user(old chat, Alice)".into(), Some(OLD_CHAT), result);
    }
}

/// The archive: a database written last year, then frozen read-only in a rollback journal so
/// that reading it creates no `-wal` or `-shm` file.
fn prepare_archive(path: &Path, last_year: NaiveDateTime) -> Result<(), Error> {
    let db = Database::open_path(path).map_err(failed)?;
    let fill = || -> multisource::Result<()> {
        db.update_chat_info(OLD_CHAT, "group", Some("Old chat"), None, false)?;
        db.update_chat_user(OLD_CHAT, ALICE, "@alice", "Alice")?;
        for (id, text) in [("1", "Happy new year!"), ("2", "See you next year")] {
            let message = NewMessage { message_text: text, ..NewMessage::default() };
            db.save_chat_message(last_year, OLD_CHAT, ALICE, id, &message)?;
        }
        Ok(())
    };
    fill().map_err(failed)?;
    drop(db);
    let archive = multisource::SourceConfig::new("archive", path);
    let mut frozen = Opened::open(&archive, Purpose::Move { create: false }).map_err(failed)?;
    frozen.freeze().map_err(failed)?;
    Ok(())
}

//! The example bot end to end, without Telegram: the real binary runs against a fake Bot API on
//! 127.0.0.1 (`fake.rs`), over three real SQLite files in a temporary folder, and the test
//! checks what it answered and what it stored. Between two runs of the bot, the operator's
//! command line (`example-bot-admin`) moves a chat, with its reminders, to another source.

mod fake;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamp};
use multisource::{Config, Database, NewMessage, SourceConfig};

use crate::fake::{FakeTelegram, Sent};

const MAIN: (i64, &str) = (-1001000000001, "Main chat");
const SIDE: (i64, &str) = (-1002000000002, "Side chat");
const OLD: (i64, &str) = (-1003000000003, "Old chat");

const ALICE: (i64, &str, Option<&str>) = (777001, "Alice Liddell", Some("alice"));
const BOB: (i64, &str, Option<&str>) = (777002, "Bob", None);
const CAROL: (i64, &str, Option<&str>) = (777003, "Carol", Some("carol"));

/// A temporary folder with the bot's configuration: `primary` (the default), `secondary` (with
/// the side chat) and a read-only `archive` (with the old chat), as in `bot.toml`.
struct Sources {
    dir: tempfile::TempDir,
}

impl Sources {
    fn new() -> Sources {
        let sources = Sources { dir: tempfile::tempdir().unwrap() };
        let config = format!(
            "[database]\ndefault = \"primary\"\n\n\
             [database.sources.primary]\npath = \"primary.db\"\n\n\
             [database.sources.secondary]\npath = \"secondary.db\"\n\n\
             [database.sources.archive]\npath = \"archive.db\"\nreadonly = true\n\n\
             [database.chatMapping]\n{} = \"secondary\"\n{} = \"archive\"\n",
            SIDE.0, OLD.0
        );
        std::fs::write(sources.config(), config).unwrap();
        sources.fill_archive();
        sources
    }

    fn config(&self) -> PathBuf {
        self.path("bot.toml")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The archive as an operator leaves it: last year's messages of the old chat, written while
    /// it was writable, with the bot's tables.
    fn fill_archive(&self) {
        let config = Config::builder()
            .source(SourceConfig::new("archive", self.path("archive.db")))
            .default_source("archive")
            .migrations(&example_bot::MIGRATIONS)
            .build()
            .unwrap();
        let db = Database::open(config).unwrap();
        let last_year = chrono::Utc::now().naive_utc() - chrono::Duration::days(365);
        for (id, user) in [("1", BOB), ("2", ALICE), ("3", BOB)] {
            db.update_chat_user(OLD.0, user.0, "", user.1).unwrap();
            let message = NewMessage { message_text: "last year", ..NewMessage::default() };
            db.save_chat_message(last_year, OLD.0, user.0, id, &message).unwrap();
        }
    }
}

/// The bot's binary, running.
struct Bot {
    child: Child,
    log: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Bot {
    fn start(sources: &Sources, api: &FakeTelegram) -> Bot {
        let mut child = Command::new(env!("CARGO_BIN_EXE_example-bot"))
            .arg("--config")
            .arg(sources.config())
            .env(example_bot::TOKEN_VARIABLE, "4242:TEST-TOKEN")
            .env(example_bot::API_URL_VARIABLE, api.url())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the bot");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let reader = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    log.lock().unwrap().push_str(&format!("{line}\n"));
                }
            })
        };
        Bot { child, log, reader: Some(reader) }
    }

    fn log(&self) -> impl Fn() -> String + '_ {
        || self.log.lock().unwrap().clone()
    }

    /// Sends the bot SIGHUP, as `systemctl reload` does, and waits until it logged `what`.
    fn hangup(&self, what: &str) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while !self.log.lock().unwrap().contains(what) {
            assert!(std::time::Instant::now() < deadline, "waited two minutes for `{what}`");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Stops the bot as an operator does, with SIGINT (Ctrl-C), and checks it stopped cleanly.
    fn stop(mut self) -> String {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let exit = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let log = self.log.lock().unwrap().clone();
        assert!(exit.success(), "the bot exited with {exit}; its log:\n{log}");
        log
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the bot's operator command line.
fn admin(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_example-bot-admin")).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Reminder {
    #[diesel(sql_type = Text)]
    text: String,
    #[diesel(sql_type = Bool)]
    delivered: bool,
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = Nullable<Text>)]
    value: Option<String>,
}

fn connect(path: &Path) -> SqliteConnection {
    SqliteConnection::establish(path.to_str().unwrap()).unwrap()
}

/// How many rows of `chat` `table` holds in the file.
fn rows(path: &Path, table: &str, chat: i64) -> i64 {
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table} WHERE chat_id = ?"))
        .bind::<BigInt, _>(chat)
        .get_result::<Count>(&mut connect(path))
        .unwrap()
        .n
}

fn reminders(path: &Path, chat: i64) -> Vec<Reminder> {
    diesel::sql_query("SELECT text, delivered FROM reminders WHERE chat_id = ? ORDER BY text")
        .bind::<BigInt, _>(chat)
        .load(&mut connect(path))
        .unwrap()
}

fn setting(path: &Path, chat: i64, key: &str) -> Option<String> {
    diesel::sql_query("SELECT value FROM chat_settings WHERE chat_id = ? AND key = ?")
        .bind::<BigInt, _>(chat)
        .bind::<Text, _>(key)
        .get_result::<Value>(&mut connect(path))
        .optional()
        .unwrap()
        .and_then(|row| row.value)
}

fn sent(chat: (i64, &str), text: &str) -> Sent {
    Sent { chat_id: chat.0, text: text.to_owned() }
}

/// The whole life of the bot: two runs with a move between them. The first run stores every
/// message in its chat's source, answers `/stats`, `/lang` and `/remind`, delivers a reminder
/// that is due, and refuses politely to change the archived chat; the operator then moves the
/// side chat to the primary source with the bot stopped; the second run routes the chat to its
/// new source, delivers the reminder that fell due while it was stopped (it moved with the
/// chat), and stores nothing twice.
#[test]
fn the_bot_stores_answers_reminds_and_follows_a_move_across_a_restart() {
    let sources = Sources::new();
    let (primary, secondary, archive) =
        (sources.path("primary.db"), sources.path("secondary.db"), sources.path("archive.db"));
    let archived = std::fs::read(&archive).unwrap();
    let api = FakeTelegram::start();

    api.message(MAIN, ALICE, "hello");
    api.message(MAIN, BOB, "hi there");
    api.message(MAIN, ALICE, "how are you?");
    api.message(MAIN, ALICE, "/stats");
    api.message(MAIN, BOB, "/lang de");
    api.message(SIDE, CAROL, "hello side");
    api.message(SIDE, CAROL, "/remind 0 stand up");
    api.message(SIDE, CAROL, "/remind 60 tea");
    api.message(OLD, ALICE, "anyone here?");
    api.message(OLD, ALICE, "/lang fr");
    api.message(OLD, BOB, &format!("/stats@{}", fake::BOT_USERNAME));

    let bot = Bot::start(&sources, &api);
    api.wait_until("the first run's seven answers", bot.log(), |s| s.sent.len() >= 7);
    let log = bot.stop();

    let state = api.state();
    assert_eq!(state.confirmed, 12, "the bot confirmed every update it handled when it stopped");
    assert_eq!(state.unknown, Vec::<String>::new(), "the bot called only known methods");
    let in_chat = |chat: (i64, &str)| -> Vec<&str> {
        state.sent.iter().filter(|s| s.chat_id == chat.0).map(|s| s.text.as_str()).collect()
    };
    assert_eq!(
        in_chat(MAIN),
        ["Messages in this chat:\nAlice Liddell: 3\nBob: 1", "This chat's language is now de."]
    );
    let side = in_chat(SIDE);
    assert_eq!(side.len(), 3, "{side:?}");
    assert!(side.contains(&"I'll remind this chat in 0 minute(s): stand up"), "{side:?}");
    assert!(side.contains(&"I'll remind this chat in 60 minute(s): tea"), "{side:?}");
    assert!(side.contains(&"Reminder: stand up"), "{side:?}");
    assert_eq!(
        in_chat(OLD),
        [
            "Sorry, this chat is archived: I can read its history, but I can't change anything \
             in it.",
            "Messages in this chat:\nBob: 2\nAlice Liddell: 1",
        ]
    );
    drop(state);

    assert_eq!(rows(&primary, "chat_messages", MAIN.0), 5, "{log}");
    assert_eq!(rows(&primary, "chat_users", MAIN.0), 2);
    assert_eq!(setting(&primary, MAIN.0, "lang").as_deref(), Some("de"));
    assert_eq!(rows(&secondary, "chat_messages", SIDE.0), 3);
    assert_eq!(rows(&primary, "chat_messages", SIDE.0), 0);
    assert_eq!(
        reminders(&secondary, SIDE.0),
        [
            Reminder { text: "stand up".into(), delivered: true },
            Reminder { text: "tea".into(), delivered: false }
        ]
    );
    assert_eq!(
        std::fs::read(&archive).unwrap(),
        archived,
        "the archive is unchanged, byte for byte"
    );

    // The operator moves the side chat to the primary source, its reminders with it.
    let config = sources.config();
    let config = config.to_str().unwrap();
    let side_chat = SIDE.0.to_string();
    let (moved, output) =
        admin(&["move-chat", "--config", config, "--chat", &side_chat, "--to", "primary"]);
    assert!(moved, "{output}");
    assert!(output.contains("reminders"), "the bot's table moved with the chat:\n{output}");
    assert_eq!(rows(&secondary, "chat_messages", SIDE.0), 0);
    assert_eq!(reminders(&secondary, SIDE.0), []);
    assert_eq!(rows(&primary, "chat_messages", SIDE.0), 3);
    let (checked, output) = admin(&["check", "--config", config]);
    assert!(checked, "{output}");

    // An hour passes while the bot is stopped: the tea reminder falls due.
    let an_hour_later = chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1);
    diesel::sql_query("UPDATE reminders SET due_at = ? WHERE chat_id = ? AND text = 'tea'")
        .bind::<Timestamp, _>(an_hour_later)
        .bind::<BigInt, _>(SIDE.0)
        .execute(&mut connect(&primary))
        .unwrap();

    api.message(SIDE, CAROL, "back again");
    api.message(SIDE, CAROL, "/stats");
    api.message(MAIN, ALICE, "/lang");
    let bot = Bot::start(&sources, &api);
    api.wait_until("the second run's three answers", bot.log(), |s| s.sent.len() >= 10);
    bot.stop();

    let state = api.state();
    assert_eq!(state.confirmed, 15);
    let second: Vec<&Sent> = state.sent[7..].iter().collect();
    assert!(second.contains(&&sent(SIDE, "Reminder: tea")), "{second:?}");
    assert!(second.contains(&&sent(SIDE, "Messages in this chat:\nCarol: 5")), "{second:?}");
    assert!(second.contains(&&sent(MAIN, "This chat's language is de.")), "{second:?}");
    drop(state);
    assert_eq!(rows(&primary, "chat_messages", SIDE.0), 5, "the moved chat's new messages");
    assert_eq!(rows(&secondary, "chat_messages", SIDE.0), 0, "nothing went to the old source");
    assert_eq!(rows(&primary, "chat_messages", MAIN.0), 6, "no update was stored twice");
    assert_eq!(
        reminders(&primary, SIDE.0),
        [
            Reminder { text: "stand up".into(), delivered: true },
            Reminder { text: "tea".into(), delivered: true }
        ]
    );
    assert_eq!(std::fs::read(&archive).unwrap(), archived);
}

/// A chat moved while the bot runs: after `move-chat`, the chat's next messages go to its new
/// source, with no restart and no signal (the source it left records where it went); SIGHUP then
/// puts the rewritten mapping in force too.
#[test]
fn a_chat_moved_while_the_bot_runs_goes_to_its_new_source_without_a_restart() {
    let sources = Sources::new();
    let (primary, secondary) = (sources.path("primary.db"), sources.path("secondary.db"));
    let api = FakeTelegram::start();
    api.message(SIDE, CAROL, "hello side");
    api.message(SIDE, CAROL, "/stats");
    let bot = Bot::start(&sources, &api);
    api.wait_until("the answer before the move", bot.log(), |s| !s.sent.is_empty());

    let config = sources.config();
    let side_chat = SIDE.0.to_string();
    let args = ["move-chat", "--config", config.to_str().unwrap(), "--chat", &side_chat];
    let (moved, output) = admin(&[&args[..], &["--to", "primary"]].concat());
    assert!(moved, "{output}");

    api.message(SIDE, CAROL, "after the move");
    api.message(SIDE, CAROL, "/stats");
    api.wait_until("the answer after the move", bot.log(), |s| s.sent.len() >= 2);
    bot.hangup("reloaded the chat mapping: 1 chat(s) routed anew");
    let log = bot.stop();
    let state = api.state();
    assert_eq!(state.sent[1], sent(SIDE, "Messages in this chat:\nCarol: 4"), "{log}");
    drop(state);
    assert_eq!(rows(&primary, "chat_messages", SIDE.0), 4, "every message in the new source");
    assert_eq!(rows(&secondary, "chat_messages", SIDE.0), 0, "none left in the old one");
}

/// Without a token, the bot says what to set and exits with status 2, creating no file.
#[test]
fn without_a_token_the_bot_says_what_to_set_and_exits_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot.toml");
    std::fs::write(&config, "[database.sources.primary]\npath = \"primary.db\"\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_example-bot"))
        .arg("--config")
        .arg(&config)
        .env_remove(example_bot::TOKEN_VARIABLE)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("set TELOXIDE_TOKEN"), "{stderr}");
    assert!(!dir.path().join("primary.db").exists());
}

/// Bad usage and a configuration that does not load exit with status 2, saying why.
#[test]
fn bad_usage_and_a_bad_configuration_exit_with_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_example-bot"))
            .args(args)
            .env(example_bot::TOKEN_VARIABLE, "4242:TEST-TOKEN")
            .env(example_bot::API_URL_VARIABLE, "http://127.0.0.1:9/")
            .output()
            .unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (status, stderr) = run(&[]);
    assert_eq!(status, Some(2));
    assert!(stderr.contains("--config <file>"), "{stderr}");

    let config = dir.path().join("bot.toml");
    std::fs::write(&config, "[database.sources.primary]\npath = \"primary.db\"\npool-sise = 3\n")
        .unwrap();
    let (status, stderr) = run(&["--config", config.to_str().unwrap()]);
    assert_eq!(status, Some(2));
    assert!(stderr.contains("did you mean `pool-size`?"), "{stderr}");
}

//! Live routing: a chat moved by the operator's command line while the bot runs is followed by the
//! bot's next calls, in this process and in another, on each kind of source, with no row left
//! behind or written twice, and with every re-routed call counted and traced.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use multisource::{Database, Error, Location, NewMessage, SourceConfig, Tier};

use crate::backends::{Backend, Place, on_conn, on_each_backend};

const CHAT: i64 = -1001000000500;
const USER: i64 = 777001;

/// A configuration file of `sources` (the first the default), with a timeout long enough for a
/// move to hold a source's lock while calls wait.
fn config_file(dir: &Path, sources: &[SourceConfig]) -> PathBuf {
    let quoted = |s: &str| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""));
    let mut text = format!("[database]\ndefault = {}\n", quoted(sources[0].name()));
    for source in sources {
        text.push_str(&format!("\n[database.sources.{}]\n", source.name()));
        match source.location() {
            Location::File(file) => {
                text.push_str(&format!("path = {}\n", quoted(&file.path().to_string_lossy())));
            }
            Location::Server(server) => {
                text.push_str(&format!("url = {}\n", quoted(server.url())));
            }
        }
        text.push_str("timeout = 30.0\n");
    }
    let path = dir.join("bot.toml");
    std::fs::write(&path, text).expect("write the configuration");
    path
}

/// Runs the operator's command line in this process.
fn operator(args: &[&str]) -> multisource_cli::Ran {
    multisource_cli::run_captured(std::iter::once("multisource").chain(args.iter().copied()))
}

fn date() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap()
}

fn save(db: &Database, chat: i64, id: &str) {
    db.save_chat_message(date(), chat, USER, id, &NewMessage::default()).unwrap();
}

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The rows of `chat` in every table of the source named `source` that has a `chat_id` column.
fn rows_of(db: &Database, source: &str, chat: i64) -> i64 {
    let tables = ["chat_messages", "chat_users", "chat_settings", "chat_stats", "chat_user_stats"];
    tables
        .iter()
        .map(|table| {
            let sql = format!("SELECT count(*) AS n FROM {table} WHERE chat_id = {chat}");
            db.read_any(
                None,
                Some(source),
                |conn| on_conn!(conn, c => diesel::sql_query(&sql).get_result::<N>(c)),
            )
            .unwrap()
            .n
        })
        .sum()
}

/// The ids of `chat`'s messages in the source named `source`, each as often as it is stored.
fn message_ids(db: &Database, source: &str, chat: i64) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        message_id: String,
    }
    let sql = format!("SELECT message_id FROM chat_messages WHERE chat_id = {chat}");
    db.read_any(
        None,
        Some(source),
        |conn| on_conn!(conn, c => diesel::sql_query(&sql).load::<Id>(c)),
    )
    .unwrap()
    .into_iter()
    .map(|row| row.message_id)
    .collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// The events of the `multisource` target that a closure emitted, each as its fields.
#[derive(Default)]
struct Capture(Mutex<Vec<BTreeMap<String, String>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target() == "multisource"
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(fields);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}

/// Two writable sources of `backend`'s kind, `primary` (the default) and `secondary`, in a
/// configuration file.
fn two_sources(place: &Place) -> (PathBuf, Vec<SourceConfig>) {
    let sources = vec![place.source("primary"), place.source("secondary")];
    (config_file(place.scratch.dir(), &sources), sources)
}

on_each_backend! {
    fn a_moved_chat_is_followed_by_the_next_calls_of_a_running_bot_counted_and_traced(
        backend: Backend
    ) {
        let place = Place::new(backend);
        let (config, _) = two_sources(&place);
        let cfg = config.to_string_lossy().into_owned();
        // Two bots of one process, opened before the move: one reads, one only writes.
        let reader = Database::from_config_file(&config).unwrap();
        let writer = Database::from_config_file(&config).unwrap();
        reader.update_chat_user(CHAT, USER, "@u", "U").unwrap();
        save(&reader, CHAT, "1");
        reader.set_chat_setting(CHAT, "lang", "en").unwrap();
        // Read twice: the second answer comes from the cache, where there is one.
        for _ in 0..2 {
            assert_eq!(reader.get_chat_setting(CHAT, "lang", None).unwrap().as_deref(), Some("en"));
        }
        assert_eq!(reader.route(Some(CHAT), None).unwrap().source(), "primary");

        let chat = CHAT.to_string();
        let moved = operator(&["move-chat", "--config", &cfg, "--chat", &chat, "--to", "secondary"]);
        assert_eq!(moved.status, 0, "{moved:?}");
        assert!(moved.stdout.contains("without a restart"), "{}", moved.stdout);

        // The reading bot: its next read finds the chat where it went, and so do the ones after.
        let capture = Arc::new(Capture::default());
        let lang = tracing::subscriber::with_default(capture.clone(), || {
            reader.get_chat_setting(CHAT, "lang", None)
        });
        assert_eq!(lang.unwrap().as_deref(), Some("en"));
        let route = reader.route(Some(CHAT), None).unwrap();
        assert_eq!((route.source(), route.tier()), ("secondary", Tier::Moved));
        assert_eq!(reader.get_chat_message_by_message_id(CHAT, "1", None).unwrap().unwrap().message_id, "1");
        let events = capture.0.lock().unwrap();
        let rerouted = events
            .iter()
            .find(|e| e.get("chat").map(String::as_str) == Some(chat.as_str()))
            .unwrap_or_else(|| panic!("no event of the re-routed call in {events:?}"));
        assert_eq!(rerouted.get("from").map(String::as_str), Some("primary"), "{rerouted:?}");
        assert_eq!(rerouted.get("to").map(String::as_str), Some("secondary"), "{rerouted:?}");
        assert!(rerouted["message"].contains("the chat moved"), "{rerouted:?}");
        drop(events);

        // The writing bot: its first write after the move finds, in its own transaction, that the
        // chat left, and goes where it went.
        save(&writer, CHAT, "2");
        writer.set_chat_setting(CHAT, "lang", "de").unwrap();
        assert_eq!(rows_of(&writer, "primary", CHAT), 0, "nothing written to the chat's old source");
        assert_eq!(sorted(message_ids(&writer, "secondary", CHAT)), ["1", "2"]);
        assert_eq!(reader.get_chat_setting(CHAT, "lang", None).unwrap().as_deref(), Some("de"));
        for (db, moved_calls) in [(&reader, "reader"), (&writer, "writer")] {
            let stats = db.stats();
            let (primary, secondary) =
                (stats.source("primary").unwrap(), stats.source("secondary").unwrap());
            assert_eq!(primary.moved_away, 1, "{moved_calls}: one call found the chat gone");
            let followed = secondary.reads.moved + secondary.writes.moved;
            assert!(followed >= 2, "{moved_calls}: {secondary:?}");
            assert_eq!(primary.errors + secondary.errors, 0, "{stats:?}");
        }
        assert_eq!(writer.stats().source("secondary").unwrap().writes.moved, 2);

        // And back: both follow again.
        let back = operator(&["move-chat", "--config", &cfg, "--chat", &chat, "--to", "primary"]);
        assert_eq!(back.status, 0, "{back:?}");
        save(&writer, CHAT, "3");
        assert_eq!(reader.get_chat_setting(CHAT, "lang", None).unwrap().as_deref(), Some("de"));
        assert_eq!(rows_of(&reader, "secondary", CHAT), 0);
        assert_eq!(sorted(message_ids(&reader, "primary", CHAT)), ["1", "2", "3"]);
        assert_eq!(reader.route(Some(CHAT), None).unwrap().source(), "primary");
    }

    fn a_chat_that_left_for_a_source_this_bot_does_not_have_fails_its_calls_saying_so(
        backend: Backend
    ) {
        let place = Place::new(backend);
        let (config, sources) = two_sources(&place);
        let db = Database::from_config_file(&config).unwrap();
        db.update_chat_user(CHAT, USER, "@u", "U").unwrap();
        // The operator of another configuration moved the chat to a source named `elsewhere`.
        record(&sources[0], CHAT, "elsewhere", Some("chat_users"));
        for result in [
            db.get_chat_user(CHAT, USER, None).map(drop),
            db.update_chat_user(CHAT, USER, "@u", "U"),
        ] {
            match result {
                Err(Error::MoveNotFollowed { source_name, chat, to, circle: false }) => {
                    assert_eq!((source_name.as_str(), chat, to.as_str()), ("primary", CHAT, "elsewhere"));
                }
                other => panic!("expected a move that cannot be followed, got {other:?}"),
            }
        }
        let message = db.set_chat_setting(CHAT, "k", "v").unwrap_err().to_string();
        assert!(message.contains("add it to the configuration"), "{message}");
        assert_eq!(rows_of(&db, "primary", CHAT), 0, "nothing written where the chat left");
        // A chat whose moves lead back where the call was: refused, not a loop.
        record(&sources[1], CHAT + 1, "primary", None);
        record(&sources[0], CHAT + 1, "secondary", None);
        match db.set_chat_setting(CHAT + 1, "k", "v") {
            Err(Error::MoveNotFollowed { circle: true, chat, .. }) => assert_eq!(chat, CHAT + 1),
            other => panic!("expected moves in a circle, got {other:?}"),
        }
        match db.get_chat_setting(CHAT + 1, "k", None) {
            Err(Error::MoveNotFollowed { circle: true, .. }) => {}
            other => panic!("expected moves in a circle, got {other:?}"),
        }
    }
}

/// Records in `source`, as a move does, that `chat` left for `to`, deleting its rows of `table`.
fn record(source: &SourceConfig, chat: i64, to: &str, table: Option<&str>) {
    use multisource_router::{Opened, Purpose};
    let mut origin = Opened::open(source, Purpose::Move { create: false }).unwrap();
    origin.begin().unwrap();
    if let Some(table) = table {
        origin.delete(table, chat).unwrap();
    }
    origin.record_move(chat, Some(to), "2026-12-05 00:00:00").unwrap();
    origin.commit().unwrap();
}

#[test]
fn a_query_or_closure_cannot_write_the_record_of_moves() {
    let place = Place::new(Backend::Sqlite);
    let db = place.open_one();
    for sql in [
        "INSERT INTO multisource_chat_moves (seq, chat, destination, moved_at) \
         VALUES (1, 1, 'x', '2026-01-01 00:00:00')",
        "DELETE FROM multisource_chat_moves",
        "UPDATE multisource_chat_moves SET destination = 'x'",
        "DROP TABLE multisource_chat_moves",
    ] {
        match db.write(None, |c| diesel::sql_query(sql).execute(c)) {
            Err(Error::NotAllowed { statement, .. }) => {
                assert!(statement.contains("multisource_chat_moves"), "{sql}: {statement}");
            }
            other => panic!("{sql}: expected a refusal, got {other:?}"),
        }
    }
    // Reading it is fine.
    let rows = db
        .read(None, None, |c| {
            diesel::sql_query("SELECT count(*) AS n FROM multisource_chat_moves").get_result::<N>(c)
        })
        .unwrap();
    assert_eq!(rows.n, 0);
}

/// A bot in a process of its own (the child's `bot`), writing messages to `chats` from eight
/// threads and reading each back, until it is stopped.
struct Bot {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// The messages it acknowledged, by chat.
    acknowledged: BTreeMap<i64, Vec<String>>,
    count: usize,
}

impl Bot {
    fn start(config: &Path, first: u64, chats: &[i64]) -> Bot {
        let mut args = vec![
            "bot".to_owned(),
            config.to_string_lossy().into_owned(),
            first.to_string(),
            "8".to_owned(),
        ];
        args.extend(chats.iter().map(ToString::to_string));
        let mut child = Command::new(env!("CARGO_BIN_EXE_multisource-child"))
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the bot");
        let stdout = child.stdout.take().expect("the bot's output");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut bot = Bot { child, stdin, lines, acknowledged: BTreeMap::new(), count: 0 };
        assert_eq!(bot.next_line().as_deref(), Some("ready"));
        bot
    }

    /// The bot's next line (a liveness bound, not a time limit on speed).
    fn next_line(&mut self) -> Option<String> {
        match self.lines.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => Some(line),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!("the bot said nothing for two minutes"),
        }
    }

    fn take(&mut self, line: &str) {
        assert!(!line.starts_with("failed"), "a call of the bot failed: {line}");
        let (chat, id) =
            line.split_once(' ').unwrap_or_else(|| panic!("a line of the bot: {line}"));
        self.acknowledged.entry(chat.parse().unwrap()).or_default().push(id.to_owned());
        self.count += 1;
    }

    /// Waits until the bot acknowledged `n` more messages.
    fn acknowledges(&mut self, n: usize) {
        let until = self.count + n;
        while self.count < until {
            let line = self.next_line().expect("the bot ended while it should write");
            self.take(&line);
        }
    }

    /// Stops the bot: it finishes its calls, which must all have succeeded.
    fn stop(mut self) -> BTreeMap<i64, Vec<String>> {
        drop(self.stdin.take());
        loop {
            match self.next_line() {
                Some(line) if line == "stopped" => break,
                Some(line) => self.take(&line),
                None => panic!("the bot ended without stopping"),
            }
        }
        let status = self.child.wait().expect("the bot's end");
        assert!(status.success(), "the bot failed: {status}");
        self.acknowledged
    }
}

/// The operator's command line in a process of its own, aborted at `failpoint` if given.
fn operator_process(args: &[&str], failpoint: Option<&str>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_multisource-child"));
    command.arg("operator").args(args);
    if let Some(step) = failpoint {
        command.env("MULTISOURCE_FAILPOINT", step);
    }
    command.output().expect("run the operator")
}

/// After the bot stopped: the chats' rows are all in `to`, none in `from`, every message the bot
/// acknowledged exactly once and no other, and each chat's counter equal to its messages.
fn assert_all_moved(
    config: &Path,
    from: &str,
    to: &str,
    acknowledged: &BTreeMap<i64, Vec<String>>,
) {
    let db = Database::from_config_file(config).unwrap();
    for (chat, ids) in acknowledged {
        assert_eq!(rows_of(&db, from, *chat), 0, "chat {chat} left rows in `{from}`");
        let mut stored = message_ids(&db, to, *chat);
        let mut expected = ids.clone();
        stored.sort();
        expected.sort();
        let unique: BTreeSet<&String> = stored.iter().collect();
        assert_eq!(unique.len(), stored.len(), "chat {chat}: a message stored twice");
        assert_eq!(stored, expected, "chat {chat}: the messages in `{to}` are those acknowledged");
        let user = db.get_chat_user(*chat, USER, None).unwrap().expect("the bot's member");
        assert_eq!(user.messages_count as usize, ids.len(), "chat {chat}");
        assert_eq!(db.route(Some(*chat), None).unwrap().source(), to);
    }
}

/// A bot process writes to `chats` from eight threads while `args` moves them, in another
/// process; it is never restarted, none of its calls fails, and nothing is lost or duplicated.
fn moved_under_a_running_bot(sources: &[SourceConfig], dir: &Path, chats: &[i64], args: &[&str]) {
    let config = config_file(dir, sources);
    let cfg = config.to_string_lossy().into_owned();
    let mut bot = Bot::start(&config, 1, chats);
    bot.acknowledges(200);
    let mut full: Vec<&str> = args.to_vec();
    full.extend(["--config", &cfg]);
    let moved = operator_process(&full, None);
    assert!(moved.status.success(), "{moved:?}");
    bot.acknowledges(200);
    let acknowledged = bot.stop();
    assert_all_moved(&config, sources[0].name(), sources[1].name(), &acknowledged);
}

/// `move-chat` of the chat from `from` to `to` under a running bot process.
fn chat_moved_under_a_running_bot(place: &Place, from: SourceConfig, to: SourceConfig) {
    let chat = CHAT.to_string();
    let args = ["move-chat", "--chat", &chat, "--to", to.name()];
    moved_under_a_running_bot(&[from, to.clone()], place.scratch.dir(), &[CHAT], &args);
}

#[test]
fn a_bot_process_writing_from_eight_threads_follows_move_chat_and_loses_nothing() {
    let place = Place::new(Backend::Sqlite);
    chat_moved_under_a_running_bot(&place, place.source("primary"), place.source("secondary"));
}

#[test]
fn a_bot_process_follows_archive_of_several_chats_and_loses_nothing() {
    let place = Place::new(Backend::Sqlite);
    let sources = [place.source("primary"), place.source("cold")];
    // The bot dates its messages 2025-01-01: every chat is inactive for the archive.
    moved_under_a_running_bot(
        &sources,
        place.scratch.dir(),
        &[CHAT, CHAT - 1, CHAT - 2],
        &["archive", "--to", "cold", "--inactive-days", "30"],
    );
}

#[cfg(feature = "postgres")]
#[test]
fn a_bot_process_follows_a_move_from_sqlite_to_postgresql_and_loses_nothing() {
    let place = Place::new(Backend::Postgres);
    chat_moved_under_a_running_bot(
        &place,
        place.source_on(Backend::Sqlite, "primary"),
        place.source("busy"),
    );
}

#[cfg(feature = "postgres")]
#[test]
fn a_bot_process_follows_a_move_from_postgresql_to_sqlite_and_loses_nothing() {
    let place = Place::new(Backend::Postgres);
    chat_moved_under_a_running_bot(
        &place,
        place.source("busy"),
        place.source_on(Backend::Sqlite, "local"),
    );
}

/// The mover is killed (it aborts, as on SIGKILL) at each step of a move while a bot process
/// writes to the chat; run again, it finishes the move, and the bot, never restarted, follows:
/// nothing lost, nothing written twice, nothing left behind.
#[test]
fn a_mover_killed_at_each_step_with_the_bot_running_is_finished_by_running_it_again() {
    for (round, step) in ["journal", "copy", "copied", "deleted", "mapped"].iter().enumerate() {
        let place = Place::new(Backend::Sqlite);
        let sources = [place.source("primary"), place.source("secondary")];
        let config = config_file(place.scratch.dir(), &sources);
        let cfg = config.to_string_lossy().into_owned();
        let chat = CHAT.to_string();
        let args = ["move-chat", "--config", &cfg, "--chat", &chat, "--to", "secondary"];
        let mut bot = Bot::start(&config, 1 + round as u64 * 1_000_000, &[CHAT]);
        bot.acknowledges(100);
        let killed = operator_process(&args, Some(step));
        assert!(!killed.status.success(), "{step}: the mover was to die: {killed:?}");
        bot.acknowledges(100);
        let again = operator_process(&args, None);
        assert!(again.status.success(), "{step}: {again:?}");
        let again = String::from_utf8_lossy(&again.stdout);
        assert!(again.contains("finished moving") || again.contains("moved"), "{step}: {again}");
        bot.acknowledges(100);
        let acknowledged = bot.stop();
        assert_all_moved(&config, "primary", "secondary", &acknowledged);
        assert!(!place.scratch.path("bot.toml.move-journal").exists(), "{step}");
    }
}

/// Another bot process, which only reads, opened before a move: the settings and messages it
/// finds never go missing while the chat moves under it.
#[test]
fn reads_of_a_chat_never_miss_its_rows_while_it_moves() {
    let place = Place::new(Backend::Sqlite);
    let (config, _) = two_sources(&place);
    let cfg = config.to_string_lossy().into_owned();
    let db = Database::from_config_file(&config).unwrap();
    db.update_chat_user(CHAT, USER, "@u", "U").unwrap();
    db.set_chat_setting(CHAT, "lang", "en").unwrap();
    save(&db, CHAT, "1");
    let done = std::sync::atomic::AtomicBool::new(false);
    let reads = std::thread::scope(|s| {
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (db, done) = (&db, &done);
                s.spawn(move || {
                    let mut reads = 0;
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        let lang = db.get_chat_setting(CHAT, "lang", None).unwrap();
                        assert_eq!(lang.as_deref(), Some("en"), "after {reads} reads");
                        let message = db.get_chat_message_by_message_id(CHAT, "1", None).unwrap();
                        assert!(message.is_some(), "after {reads} reads");
                        reads += 1;
                    }
                    reads
                })
            })
            .collect();
        let chat = CHAT.to_string();
        for to in ["secondary", "primary", "secondary"] {
            let moved = operator(&["move-chat", "--config", &cfg, "--chat", &chat, "--to", to]);
            assert_eq!(moved.status, 0, "{moved:?}");
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        readers.into_iter().map(|r| r.join().unwrap()).sum::<usize>()
    });
    assert!(reads > 0);
    assert_eq!(db.route(Some(CHAT), None).unwrap().source(), "secondary");
    assert_eq!(rows_of(&db, "primary", CHAT), 0);
    let stats = db.stats();
    assert_eq!(stats.sources.iter().map(|s| s.errors).sum::<u64>(), 0, "{stats:?}");
}

//! Concurrency, nothing lost: 16 threads of mixed calls over two writable sources and a
//! read-only one; afterwards every acknowledged write is there exactly once, the counters match,
//! and no call failed, `database is locked` or otherwise. A watchdog turns a deadlock into a
//! failure that names the stuck threads.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use multisource::{Config, Database, NewMessage, SourceConfig};

use crate::common::{Scratch, raw};

const THREADS: usize = 16;
const OPS: usize = 250;
/// Chats of the primary source: two mapped, one left to the default.
const PRIMARY: [i64; 3] = [-1001, -1002, -1003];
const SECONDARY: [i64; 2] = [-2001, -2002];
const ARCHIVE: i64 = -3001;

fn user(thread: usize) -> i64 {
    1000 + thread as i64
}

/// What one thread had acknowledged.
#[derive(Default)]
struct Acknowledged {
    /// (chat, message id) of every saved message.
    messages: Vec<(i64, String)>,
    /// The last value set per (chat, key).
    settings: BTreeMap<(i64, String), String>,
    /// The last full name set per chat.
    names: BTreeMap<i64, String>,
    /// Calls that failed, with their error.
    failures: Vec<String>,
}

fn run_thread(db: &Database, t: usize, progress: &AtomicUsize) -> Acknowledged {
    let mut seen = Acknowledged::default();
    let writable: Vec<i64> = PRIMARY.iter().chain(&SECONDARY).copied().collect();
    let date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let fail = |what: String, seen: &mut Acknowledged| seen.failures.push(what);
    for k in 0..OPS {
        let chat = writable[(t + k) % writable.len()];
        match k % 10 {
            0..=3 => {
                let id = format!("{t}-{k}");
                let message = NewMessage { message_text: "concurrent", ..NewMessage::default() };
                match db.save_chat_message(date, chat, user(t), &id, &message) {
                    Ok(()) => seen.messages.push((chat, id)),
                    Err(e) => fail(format!("save {id}: {e}"), &mut seen),
                }
            }
            4 => {
                let key = format!("t{t}");
                match db.set_chat_setting(chat, &key, &k.to_string()) {
                    Ok(()) => drop(seen.settings.insert((chat, key), k.to_string())),
                    Err(e) => fail(format!("set: {e}"), &mut seen),
                }
            }
            5 => {
                let name = format!("name {k}");
                match db.update_chat_user(chat, user(t), &format!("@u{t}"), &name) {
                    Ok(()) => drop(seen.names.insert(chat, name)),
                    Err(e) => fail(format!("user: {e}"), &mut seen),
                }
            }
            6 => {
                if let Some((chat, id)) = seen.messages.last().cloned() {
                    match db.get_chat_message_by_message_id(chat, &id, None) {
                        Ok(Some(_)) => {}
                        other => fail(format!("read back {id}: {other:?}"), &mut seen),
                    }
                }
            }
            7 => {
                let key = format!("t{t}");
                let want = seen.settings.get(&(chat, key.clone())).cloned();
                match db.get_chat_setting(chat, &key, None) {
                    Ok(found) if found == want => {}
                    other => fail(
                        format!("setting {key} in {chat}: {other:?}, want {want:?}"),
                        &mut seen,
                    ),
                }
            }
            8 => match db.get_user_chats(user(t), None) {
                Ok(chats) if chats.iter().any(|c| c.chat_id == ARCHIVE) => {}
                other => fail(format!("user chats: {other:?}"), &mut seen),
            },
            _ => match db.get_chat_setting(ARCHIVE, "where", None) {
                Ok(Some(_)) => {}
                other => fail(format!("archive: {other:?}"), &mut seen),
            },
        }
        progress.store(k + 1, Ordering::Relaxed);
    }
    seen
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = BigInt)]
    chat: i64,
    #[diesel(sql_type = Text)]
    text: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[test]
fn sixteen_threads_lose_nothing_and_never_meet_a_locked_database() {
    let scratch = Scratch::new();
    let archive = scratch.archive("archive.db", |db| {
        db.set_chat_setting(ARCHIVE, "where", "archive").unwrap();
        db.update_chat_info(ARCHIVE, "group", Some("archived"), None, false).unwrap();
        for t in 0..THREADS {
            db.update_chat_user(ARCHIVE, user(t), "@u", "U").unwrap();
        }
    });
    let config = Config::builder()
        .source(SourceConfig::new("primary", scratch.path("primary.db")))
        .source(SourceConfig::new("secondary", scratch.path("secondary.db")))
        .source(SourceConfig::new("archive", &archive).readonly(true))
        .default_source("primary")
        .map_chat(PRIMARY[0], "primary")
        .map_chat(PRIMARY[1], "primary")
        .map_chat(SECONDARY[0], "secondary")
        .map_chat(SECONDARY[1], "secondary")
        .map_chat(ARCHIVE, "archive")
        .build()
        .unwrap();
    let db = Arc::new(Database::open(config).unwrap());
    for chat in PRIMARY.iter().chain(&SECONDARY) {
        db.update_chat_info(*chat, "group", Some("live"), None, false).unwrap();
        for t in 0..THREADS {
            db.update_chat_user(*chat, user(t), &format!("@u{t}"), "start").unwrap();
        }
    }

    let progress: Arc<Vec<AtomicUsize>> =
        Arc::new((0..THREADS).map(|_| AtomicUsize::new(0)).collect());
    let results = Arc::new(Mutex::new(BTreeMap::new()));
    let (done, finished) = mpsc::channel();
    for t in 0..THREADS {
        let (db, progress, results, done) =
            (db.clone(), progress.clone(), results.clone(), done.clone());
        std::thread::Builder::new()
            .name(format!("worker-{t}"))
            .spawn(move || {
                let seen = run_thread(&db, t, &progress[t]);
                results.lock().unwrap().insert(t, seen);
                let _ = done.send(t);
            })
            .unwrap();
    }
    // The watchdog: the run must keep moving. A minute without any thread advancing is a
    // deadlock; the failure names the threads that are stuck and where.
    let mut finished_threads = BTreeSet::new();
    let mut last_total = 0;
    let mut last_move = Instant::now();
    while finished_threads.len() < THREADS {
        if let Ok(t) = finished.recv_timeout(Duration::from_millis(100)) {
            finished_threads.insert(t);
        }
        let total: usize = progress.iter().map(|p| p.load(Ordering::Relaxed)).sum();
        if total != last_total {
            (last_total, last_move) = (total, Instant::now());
        } else if last_move.elapsed() > Duration::from_secs(60) {
            let stuck: Vec<String> = (0..THREADS)
                .filter(|t| !finished_threads.contains(t))
                .map(|t| format!("worker-{t} at operation {}", progress[t].load(Ordering::Relaxed)))
                .collect();
            panic!("deadlock: no thread moved for a minute; stuck: {}", stuck.join(", "));
        }
    }

    let results = results.lock().unwrap();
    let failures: Vec<&String> = results.values().flat_map(|r| &r.failures).collect();
    assert!(failures.is_empty(), "{} failed calls: {failures:?}", failures.len());

    for (name, chats) in [("primary", &PRIMARY[..]), ("secondary", &SECONDARY[..])] {
        let mut conn = raw(&scratch.path(&format!("{name}.db")));
        let acked: BTreeSet<(i64, String)> = results
            .values()
            .flat_map(|r| &r.messages)
            .filter(|(chat, _)| chats.contains(chat))
            .cloned()
            .collect();
        // Every acknowledged message exactly once, and nothing else.
        let stored: Vec<Row> = diesel::sql_query(
            "SELECT chat_id AS chat, message_id AS text, count(*) AS n FROM chat_messages \
             GROUP BY chat_id, message_id",
        )
        .load(&mut conn)
        .unwrap();
        assert!(stored.iter().all(|r| r.n == 1), "{name}: a message stored twice");
        let stored: BTreeSet<(i64, String)> =
            stored.into_iter().map(|r| (r.chat, r.text)).collect();
        assert_eq!(stored, acked, "{name}: stored and acknowledged messages differ");
        // The counters equal the messages saved.
        let per_user: Vec<Row> = diesel::sql_query(
            "SELECT chat_id AS chat, CAST(user_id AS TEXT) AS text, messages_count AS n FROM chat_users",
        )
        .load(&mut conn)
        .unwrap();
        for row in per_user {
            let t = (row.text.parse::<i64>().unwrap() - 1000) as usize;
            let saved = results[&t].messages.iter().filter(|(chat, _)| *chat == row.chat).count();
            assert_eq!(
                row.n as usize, saved,
                "{name}: messages_count of user {} in {}",
                row.text, row.chat
            );
        }
        let per_day: Vec<Row> = diesel::sql_query(
            "SELECT chat_id AS chat, '' AS text, sum(messages_count) AS n FROM chat_stats GROUP BY chat_id",
        )
        .load(&mut conn)
        .unwrap();
        for row in per_day {
            let saved = acked.iter().filter(|(chat, _)| *chat == row.chat).count();
            assert_eq!(row.n as usize, saved, "{name}: chat_stats of {}", row.chat);
        }
    }
    // The last acknowledged value of every setting and name is the stored one.
    for (t, seen) in results.iter() {
        for ((chat, key), value) in &seen.settings {
            assert_eq!(
                db.get_chat_setting(*chat, key, None).unwrap().as_deref(),
                Some(value.as_str())
            );
        }
        for (chat, name) in &seen.names {
            assert_eq!(&db.get_chat_user(*chat, user(*t), None).unwrap().unwrap().full_name, name);
        }
    }
    let stats = db.stats();
    assert!(stats.sources.iter().all(|s| s.errors == 0 && s.checkout_timeouts == 0), "{stats:?}");
}

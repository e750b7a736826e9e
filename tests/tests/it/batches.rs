//! Group commit, on each kind of source: writes that queue while the writer is busy share one
//! transaction, each call in a savepoint of its own; a failing call leaves nothing of itself and
//! the others commit.

use std::sync::mpsc;
use std::time::Duration;

use chrono::NaiveDate;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use multisource::{Config, Database, Location, NewMessage, SourceConfig};

use crate::backends::{Backend, Place, on_conn, on_each_backend};

const CHAT: i64 = -1001000000077;

/// The place's source `main`, with group commit on or off.
fn source(place: &Place, group_commit: bool) -> SourceConfig {
    let location = match place.source("main").location().clone() {
        Location::File(file) => Location::File(file.group_commit(group_commit)),
        Location::Server(server) => Location::Server(server.group_commit(group_commit)),
    };
    SourceConfig::at("main", location)
}

fn open(place: &Place, group_commit: bool) -> Database {
    let config = Config::builder()
        .source(source(place, group_commit))
        .default_source("main")
        .build()
        .unwrap();
    Database::open(config).unwrap()
}

#[derive(QueryableByName, Debug, PartialEq)]
struct N {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A count of `main`, by SQL both kinds speak, through a read of the database.
fn count(db: &Database, sql: &str) -> i64 {
    db.read_any(None, None, |conn| on_conn!(conn, c => diesel::sql_query(sql).get_result::<N>(c)))
        .unwrap()
        .n
}

fn date() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap()
}

fn stats(db: &Database) -> multisource::SourceStats {
    db.stats().source("main").unwrap().clone()
}

/// Waits until `n` writes wait for the writer (a liveness guard, not a time limit on speed).
fn until_waiting(db: &Database, n: u32) {
    for _ in 0..30_000 {
        if stats(db).writes_waiting == n {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("{n} writes never queued: {:?}", stats(db));
}

/// The writer is held by one call while ten queue one after another, the fifth of which fails
/// on a constraint; returns the database, the answers of the ten and the transactions begun.
fn queue_ten_behind_a_busy_writer(backend: Backend, group_commit: bool) -> (Vec<bool>, u64) {
    let place = Place::new(backend);
    let db = open(&place, group_commit);
    db.update_chat_user(CHAT, 1, "@u", "U").unwrap();
    db.save_chat_message(date(), CHAT, 1, "dup", &NewMessage::default()).unwrap();
    let before = stats(&db).write_transactions;
    let (started_tx, started) = mpsc::channel();
    let answers = std::thread::scope(|s| {
        let db = &db;
        // Dropped if this thread panics, which ends the holder's wait.
        let (release_tx, release) = mpsc::channel::<()>();
        let holder = s.spawn(move || {
            db.write_any(None, |conn| {
                started_tx.send(()).unwrap();
                release.recv().unwrap();
                let held =
                    diesel::sql_query("INSERT INTO settings (key, value) VALUES ('held', 'yes')");
                on_conn!(conn, c => held.execute(c))
            })
        });
        started.recv().unwrap();
        let mut calls = Vec::new();
        for i in 0..10_u32 {
            calls.push(s.spawn(move || match i {
                4 => {
                    let failing = NewMessage { message_text: "must vanish", ..Default::default() };
                    db.save_chat_message(date(), CHAT, 1, "dup", &failing).is_ok()
                }
                _ => db.set_chat_setting(CHAT, &format!("k{i}"), &format!("v{i}")).is_ok(),
            }));
            if group_commit {
                until_waiting(db, i + 1);
            } else {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        release_tx.send(()).unwrap();
        holder.join().unwrap().unwrap();
        calls.into_iter().map(|c| c.join().unwrap()).collect::<Vec<bool>>()
    });
    // What committed, and only that.
    for i in (0..10).filter(|i| *i != 4) {
        let value = db.get_chat_setting(CHAT, &format!("k{i}"), None).unwrap();
        assert_eq!(value.as_deref(), Some(format!("v{i}").as_str()), "call {i}");
    }
    let messages = db.get_chat_messages_by_user(CHAT, 1, 10, None).unwrap();
    assert_eq!(messages.len(), 1);
    assert_ne!(messages[0].message_text, "must vanish");
    let user = db.get_chat_user(CHAT, 1, None).unwrap().unwrap();
    assert_eq!(user.messages_count, 1, "the failed save left its counter");
    assert_eq!(db.get_setting("held", None).unwrap().as_deref(), Some("yes"));
    let transactions = stats(&db).write_transactions - before;
    assert_eq!(stats(&db).writes_waiting, 0);
    (answers, transactions)
}

fn assert_only_the_fifth_failed(answers: &[bool]) {
    let expected: Vec<bool> = (0..10).map(|i| i != 4).collect();
    assert_eq!(answers, expected);
}

on_each_backend! {
    fn writes_queued_behind_the_writer_commit_in_one_transaction_and_a_failing_one_alone_fails(
        backend: Backend
    ) {
        let (answers, transactions) = queue_ten_behind_a_busy_writer(backend, true);
        assert_only_the_fifth_failed(&answers);
        // The holder leads: its transaction takes the ten queued behind it, each in a savepoint
        // (a batch stops taking calls some time after it took the first, and the calls left
        // then lead a batch of their own: on a server, whose round trips are slower, that may
        // happen more than once; fewer transactions than calls, still).
        let most = if backend == Backend::Sqlite { 2 } else { 10 };
        assert!((1..=most).contains(&transactions), "{transactions} transactions");
    }

    fn with_group_commit_off_every_write_is_a_transaction_of_its_own(backend: Backend) {
        let (answers, transactions) = queue_ten_behind_a_busy_writer(backend, false);
        assert_only_the_fifth_failed(&answers);
        assert_eq!(transactions, 11);
    }
}

/// Calls of each caller in the mixed-writes tests.
const CALLS: i64 = 100;

/// The mixed writes' database: `callers` users of `CHAT`, each with one message, `seed{t}`.
fn seeded(place: &Place, callers: i64) -> Database {
    let db = open(place, true);
    for t in 0..callers {
        db.update_chat_user(CHAT, t, "@u", "U").unwrap();
        db.save_chat_message(date(), CHAT, t, &format!("seed{t}"), &NewMessage::default()).unwrap();
    }
    db
}

/// What call `k` of caller `t` does in the mixed writes: one in ten saves a duplicate message
/// id (a constraint violation), half the others save a message, the rest set a setting.
enum Mixed {
    Fails(String),
    Saves(String),
    Sets(String),
}

fn mixed(t: i64, k: i64) -> Mixed {
    if k % 10 == 9 {
        Mixed::Fails(format!("seed{t}"))
    } else if k % 2 == 0 {
        Mixed::Saves(format!("{t}-{k}"))
    } else {
        Mixed::Sets(format!("t{t}k{k}"))
    }
}

fn failed() -> NewMessage<'static> {
    NewMessage { message_text: "failed", ..Default::default() }
}

/// Every successful call's rows are in the file once, no failed call's row is, and the
/// counters equal the rows: `saved` holds each caller's saved message ids.
fn assert_every_call_whole(db: &Database, saved: &[Vec<String>]) {
    let callers = saved.len() as i64;
    let expected: i64 = saved.iter().map(|s| s.len() as i64).sum::<i64>() + callers;
    assert_eq!(count(db, "SELECT count(*) AS n FROM chat_messages"), expected);
    assert_eq!(count(db, "SELECT count(DISTINCT message_id) AS n FROM chat_messages"), expected);
    assert_eq!(
        count(db, "SELECT count(*) AS n FROM chat_messages WHERE message_text = 'failed'"),
        0
    );
    let sum = |table: &str| {
        count(db, &format!("SELECT CAST(sum(messages_count) AS BIGINT) AS n FROM {table}"))
    };
    assert_eq!(sum("chat_users"), expected);
    assert_eq!(sum("chat_stats"), expected);
    for (t, ids) in saved.iter().enumerate() {
        for id in ids {
            assert!(
                db.get_chat_message_by_message_id(CHAT, id, None).unwrap().is_some(),
                "{t} {id}"
            );
        }
    }
    let settings = count(db, "SELECT count(*) AS n FROM chat_settings WHERE value = 'ok'");
    let odd = (0..CALLS).filter(|k| k % 2 == 1 && k % 10 != 9).count() as i64;
    assert_eq!(settings, callers * odd);
    assert_eq!(stats(db).errors, (callers * CALLS / 10) as u64);
}

on_each_backend! {
    fn sixteen_threads_of_mixed_writes_one_in_ten_failing_keep_every_call_whole(backend: Backend) {
        sixteen_threads(backend)
    }

    fn two_hundred_fifty_six_tasks_of_mixed_writes_one_in_ten_failing_keep_every_call_whole(
        backend: Backend
    ) {
        two_hundred_fifty_six_tasks(backend)
    }

    fn a_write_that_leaves_a_transaction_of_its_own_open_fails_and_writes_nothing(
        backend: Backend
    ) {
        left_open(backend)
    }
}

fn sixteen_threads(backend: Backend) {
    let place = Place::new(backend);
    const THREADS: i64 = 16;
    let db = seeded(&place, THREADS);
    let saved: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let db = &db;
                s.spawn(move || {
                    let mut saved = Vec::new();
                    for k in 0..CALLS {
                        match mixed(t, k) {
                            Mixed::Fails(id) => {
                                let r = db.save_chat_message(date(), CHAT, t, &id, &failed());
                                assert!(r.is_err(), "thread {t} call {k}");
                            }
                            Mixed::Saves(id) => {
                                db.save_chat_message(date(), CHAT, t, &id, &NewMessage::default())
                                    .unwrap();
                                saved.push(id);
                            }
                            Mixed::Sets(key) => db.set_chat_setting(CHAT, &key, "ok").unwrap(),
                        }
                    }
                    saved
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_every_call_whole(&db, &saved);
}

fn two_hundred_fifty_six_tasks(backend: Backend) {
    let place = Place::new(backend);
    const TASKS: i64 = 256;
    let db = multisource::AsyncDatabase::new(seeded(&place, TASKS));
    let before = stats(db.database()).write_transactions;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let saved: Vec<Vec<String>> = runtime.block_on(async {
        let handles: Vec<_> = (0..TASKS)
            .map(|t| {
                let db = db.clone();
                tokio::spawn(async move {
                    let mut saved = Vec::new();
                    for k in 0..CALLS {
                        match mixed(t, k) {
                            Mixed::Fails(id) => {
                                let r = db.save_chat_message(date(), CHAT, t, &id, &failed()).await;
                                assert!(r.is_err(), "task {t} call {k}");
                            }
                            Mixed::Saves(id) => {
                                let message = NewMessage::default();
                                db.save_chat_message(date(), CHAT, t, &id, &message).await.unwrap();
                                saved.push(id);
                            }
                            Mixed::Sets(key) => {
                                db.set_chat_setting(CHAT, &key, "ok").await.unwrap()
                            }
                        }
                    }
                    saved
                })
            })
            .collect();
        let mut saved = Vec::new();
        for handle in handles {
            saved.push(handle.await.unwrap());
        }
        saved
    });
    assert_every_call_whole(db.database(), &saved);
    // The async writes were committed in groups: 25,600 calls in fewer transactions.
    let transactions = stats(db.database()).write_transactions - before;
    assert!(transactions < (TASKS * CALLS) as u64, "{transactions} transactions");
}

fn left_open(backend: Backend) {
    let place = Place::new(backend);
    let db = open(&place, true);
    let left_open = db.write_any(None, |conn| {
        let insert = diesel::sql_query("INSERT INTO settings (key, value) VALUES ('open', 'x')");
        on_conn!(conn, c => {
            AnsiTransactionManager::begin_transaction(c)?;
            insert.execute(c)
        })
    });
    let error = left_open.unwrap_err().to_string();
    assert!(error.contains("left a transaction of its own open"), "{error}");
    assert_eq!(db.get_setting("open", None).unwrap(), None);
    db.set_setting("after", "fine").unwrap();
    assert_eq!(db.get_setting("after", None).unwrap().as_deref(), Some("fine"));
}

on_each_backend! {
    fn a_reader_never_sees_part_of_a_batched_call(backend: Backend) {
        reader_sees_whole_calls(backend)
    }
}

/// A connection of its own to `main`, as another process has.
enum Outside {
    Sqlite(SqliteConnection),
    #[cfg(feature = "postgres")]
    Pg(diesel::PgConnection),
}

fn outside(db: &Database) -> Outside {
    let config = db.config();
    let source = config.source("main").unwrap();
    match source.location() {
        Location::File(file) => Outside::Sqlite(crate::common::raw(file.path())),
        #[cfg(feature = "postgres")]
        Location::Server(server) => Outside::Pg(
            multisource_router::postgres_session(server.url(), Duration::from_secs(30), true)
                .unwrap(),
        ),
        #[allow(unreachable_patterns)]
        _ => unreachable!("a PostgreSQL source without the postgres feature"),
    }
}

fn reader_sees_whole_calls(backend: Backend) {
    let place = Place::new(backend);
    const WRITERS: i64 = 8;
    const SAVES: i64 = 150;
    let db = seeded(&place, WRITERS);
    let before = stats(&db).write_transactions;
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Seen {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        messages: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        users: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        days: i64,
    }
    // One statement, so one snapshot: the messages, and the two counters each save adds to.
    const SEEN: &str = "SELECT (SELECT count(*) FROM chat_messages) AS messages, \
        (SELECT CAST(sum(messages_count) AS BIGINT) FROM chat_users) AS users, \
        (SELECT CAST(sum(messages_count) AS BIGINT) FROM chat_stats) AS days";
    let done = std::sync::atomic::AtomicBool::new(false);
    let check = |seen: Seen, counts: &mut std::collections::BTreeSet<i64>| {
        assert!(seen.messages == seen.users && seen.users == seen.days, "part of a call: {seen:?}");
        counts.insert(seen.messages);
    };
    let (outside, inside) = std::thread::scope(|s| {
        let (db, done) = (&db, &done);
        // A connection of its own, as another process has, and the library's own readers.
        let outside = s.spawn(move || {
            let mut conn = outside(db);
            let mut counts = std::collections::BTreeSet::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let seen = match &mut conn {
                    Outside::Sqlite(c) => diesel::sql_query(SEEN).get_result::<Seen>(c),
                    #[cfg(feature = "postgres")]
                    Outside::Pg(c) => diesel::sql_query(SEEN).get_result::<Seen>(c),
                };
                check(seen.unwrap(), &mut counts);
            }
            counts
        });
        let inside = s.spawn(move || {
            let mut counts = std::collections::BTreeSet::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                check(
                    db.read_any(
                        None,
                        None,
                        |conn| on_conn!(conn, c => diesel::sql_query(SEEN).get_result(c)),
                    )
                    .unwrap(),
                    &mut counts,
                );
            }
            counts
        });
        let writers: Vec<_> = (0..WRITERS)
            .map(|t| {
                s.spawn(move || {
                    for k in 0..SAVES {
                        let message = NewMessage::default();
                        db.save_chat_message(date(), CHAT, t, &format!("{t}-{k}"), &message)
                            .unwrap();
                    }
                })
            })
            .collect();
        writers.into_iter().for_each(|w| w.join().unwrap());
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (outside.join().unwrap(), inside.join().unwrap())
    });
    // The readers read while the writers wrote, and the writes were batched.
    assert!(
        outside.len() > 1 && inside.len() > 1,
        "{} and {} states seen",
        outside.len(),
        inside.len()
    );
    let transactions = stats(&db).write_transactions - before;
    assert!(transactions < (WRITERS * SAVES) as u64, "{transactions} transactions");
}

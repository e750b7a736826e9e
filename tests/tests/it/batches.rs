//! Group commit: writes that queue while the writer is busy share one transaction, each call in a
//! savepoint of its own; a failing call leaves nothing of itself and the others commit.

use std::sync::mpsc;
use std::time::Duration;

use chrono::NaiveDate;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use multisource::{Config, Database, NewMessage, SourceConfig, SqliteFile};

use crate::common::Scratch;

const CHAT: i64 = -1001000000077;

fn open(scratch: &Scratch, group_commit: bool) -> Database {
    let file = SqliteFile::new(scratch.path("main.db")).group_commit(group_commit);
    let config = Config::builder()
        .source(SourceConfig::at("main", file))
        .default_source("main")
        .build()
        .unwrap();
    Database::open(config).unwrap()
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
fn queue_ten_behind_a_busy_writer(group_commit: bool) -> (Vec<bool>, u64, Scratch) {
    let scratch = Scratch::new();
    let db = open(&scratch, group_commit);
    db.update_chat_user(CHAT, 1, "@u", "U").unwrap();
    db.save_chat_message(date(), CHAT, 1, "dup", &NewMessage::default()).unwrap();
    let before = stats(&db).write_transactions;
    let (started_tx, started) = mpsc::channel();
    let (release_tx, release) = mpsc::channel::<()>();
    let answers = std::thread::scope(|s| {
        let db = &db;
        let holder = s.spawn(move || {
            db.write(None, |c| {
                started_tx.send(()).unwrap();
                release.recv().unwrap();
                diesel::sql_query("INSERT INTO settings (key, value) VALUES ('held', 'yes')")
                    .execute(c)
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
    (answers, transactions, scratch)
}

fn assert_only_the_fifth_failed(answers: &[bool]) {
    let expected: Vec<bool> = (0..10).map(|i| i != 4).collect();
    assert_eq!(answers, expected);
}

#[test]
fn writes_queued_behind_the_writer_commit_in_one_transaction_and_a_failing_one_alone_fails() {
    let (answers, transactions, _scratch) = queue_ten_behind_a_busy_writer(true);
    assert_only_the_fifth_failed(&answers);
    // The holder's transaction, then the ten queued in one batch led by the first of them.
    assert_eq!(transactions, 2);
}

#[test]
fn with_group_commit_off_every_write_is_a_transaction_of_its_own() {
    let (answers, transactions, _scratch) = queue_ten_behind_a_busy_writer(false);
    assert_only_the_fifth_failed(&answers);
    assert_eq!(transactions, 11);
}

#[test]
fn sixteen_threads_of_mixed_writes_one_in_ten_failing_keep_every_call_whole() {
    let scratch = Scratch::new();
    let db = open(&scratch, true);
    const THREADS: i64 = 16;
    const CALLS: i64 = 100;
    for t in 0..THREADS {
        db.update_chat_user(CHAT, t, "@u", "U").unwrap();
        db.save_chat_message(date(), CHAT, t, &format!("seed{t}"), &NewMessage::default()).unwrap();
    }
    let saved: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let db = &db;
                s.spawn(move || {
                    let mut saved = Vec::new();
                    for k in 0..CALLS {
                        if k % 10 == 9 {
                            // A duplicate message id: a constraint violation.
                            let bad = NewMessage { message_text: "failed", ..Default::default() };
                            let r =
                                db.save_chat_message(date(), CHAT, t, &format!("seed{t}"), &bad);
                            assert!(r.is_err(), "thread {t} call {k}");
                        } else if k % 2 == 0 {
                            let id = format!("{t}-{k}");
                            db.save_chat_message(date(), CHAT, t, &id, &NewMessage::default())
                                .unwrap();
                            saved.push(id);
                        } else {
                            db.set_chat_setting(CHAT, &format!("t{t}k{k}"), "ok").unwrap();
                        }
                    }
                    saved
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut conn = crate::common::raw(&scratch.path("main.db"));
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let count = |conn: &mut SqliteConnection, sql: &str| -> i64 {
        diesel::sql_query(sql).get_result::<N>(conn).unwrap().n
    };
    let expected: i64 = saved.iter().map(|s| s.len() as i64).sum::<i64>() + THREADS;
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM chat_messages"), expected);
    assert_eq!(
        count(&mut conn, "SELECT count(DISTINCT message_id) AS n FROM chat_messages"),
        expected
    );
    assert_eq!(
        count(&mut conn, "SELECT count(*) AS n FROM chat_messages WHERE message_text = 'failed'"),
        0
    );
    assert_eq!(count(&mut conn, "SELECT sum(messages_count) AS n FROM chat_users"), expected);
    for (t, ids) in saved.iter().enumerate() {
        for id in ids {
            assert!(
                db.get_chat_message_by_message_id(CHAT, id, None).unwrap().is_some(),
                "{t} {id}"
            );
        }
    }
    let settings = count(&mut conn, "SELECT count(*) AS n FROM chat_settings WHERE value = 'ok'");
    let odd = (0..CALLS).filter(|k| k % 2 == 1 && k % 10 != 9).count() as i64;
    assert_eq!(settings, THREADS * odd);
    let s = stats(&db);
    assert_eq!(s.errors, (THREADS * CALLS / 10) as u64);
}

#[test]
fn a_write_that_leaves_a_transaction_of_its_own_open_fails_and_writes_nothing() {
    let scratch = Scratch::new();
    let db = open(&scratch, true);
    let left_open = db.write(None, |c| {
        AnsiTransactionManager::begin_transaction(c)?;
        diesel::sql_query("INSERT INTO settings (key, value) VALUES ('open', 'x')").execute(c)
    });
    let error = left_open.unwrap_err().to_string();
    assert!(error.contains("left a transaction of its own open"), "{error}");
    assert_eq!(db.get_setting("open", None).unwrap(), None);
    db.set_setting("after", "fine").unwrap();
    assert_eq!(db.get_setting("after", None).unwrap().as_deref(), Some("fine"));
}

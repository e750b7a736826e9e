//! Real pools: `pool-size` bounds the connections a source opens, and a checkout that waits past
//! `timeout` is an error naming the source, after which the pool recovers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use multisource::{Config, Database, Error, SourceConfig};

use crate::common::Scratch;

fn one_source(scratch: &Scratch, pool_size: u32, timeout: Duration) -> Database {
    let config = Config::builder()
        .source(
            SourceConfig::new("main", scratch.path("main.db"))
                .pool_size(pool_size)
                .timeout(timeout),
        )
        .default_source("main")
        .build()
        .unwrap();
    Database::open(config).unwrap()
}

#[test]
fn sixteen_threads_never_open_more_than_pool_size_connections() {
    let scratch = Scratch::new();
    let db = one_source(&scratch, 4, Duration::from_secs(10));
    let (readers_now, readers_max) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let (writers_now, writers_max) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let enter = |now: &AtomicUsize, max: &AtomicUsize| {
        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
        max.fetch_max(n, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(1));
        now.fetch_sub(1, Ordering::SeqCst);
    };
    let open_max = AtomicUsize::new(0);
    let start = Barrier::new(16);
    std::thread::scope(|s| {
        for t in 0..16 {
            let (db, start, open_max) = (&db, &start, &open_max);
            let (readers_now, readers_max, writers_now, writers_max) =
                (&readers_now, &readers_max, &writers_now, &writers_max);
            s.spawn(move || {
                start.wait();
                for i in 0..20 {
                    if (t + i) % 4 == 0 {
                        db.write(Some(t), |c| {
                            enter(writers_now, writers_max);
                            c.batch_execute(&format!(
                                "INSERT INTO settings (key, value) VALUES ('k{t}-{i}', 'v')"
                            ))
                        })
                        .unwrap();
                    } else {
                        db.read(Some(t), None, |_| {
                            enter(readers_now, readers_max);
                            Ok(())
                        })
                        .unwrap();
                    }
                    let open = db.stats().sources[0].open_connections as usize;
                    open_max.fetch_max(open, Ordering::SeqCst);
                }
            });
        }
    });
    // One writer, one connection for background checkpoints and pool-size - 2 readers, never
    // more, and the load did use them all.
    assert_eq!(writers_max.load(Ordering::SeqCst), 1);
    assert_eq!(readers_max.load(Ordering::SeqCst), 2);
    assert!(open_max.load(Ordering::SeqCst) <= 4, "{}", open_max.load(Ordering::SeqCst));
    let stats = db.stats();
    assert!(stats.sources[0].open_connections <= 4);
    assert_eq!(stats.sources[0].checkouts, 16 * 20);
    assert_eq!(stats.sources[0].checkout_timeouts, 0);
}

#[test]
fn a_checkout_that_waits_past_the_timeout_names_the_source_and_the_pool_recovers() {
    let scratch = Scratch::new();
    let timeout = Duration::from_millis(300);
    let db = one_source(&scratch, 2, timeout);
    let held = Barrier::new(2);
    let done = Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            // Hold the only reader connection until the other thread has failed.
            db.read(None, None, |_| {
                held.wait();
                done.wait();
                Ok(())
            })
            .unwrap();
        });
        held.wait();
        let started = Instant::now();
        let err = db.read(None, None, |_| Ok(())).unwrap_err();
        let waited = started.elapsed();
        done.wait();
        match &err {
            Error::PoolTimeout { source_name, timeout: t, detail } => {
                assert_eq!(source_name, "main");
                assert_eq!(*t, timeout);
                assert_eq!(detail, "its only reader stayed busy", "the pool and its size");
            }
            other => panic!("expected PoolTimeout, got {other:?}"),
        }
        assert!(waited >= timeout, "gave up after {waited:?}, before the timeout");
        let text = err.to_string();
        assert!(text.starts_with("source `main` gave no connection within 0.3s"), "{text}");
        assert!(text.contains("raise its `pool-size` or `timeout`"), "{text}");
    });
    // Returned connections serve again.
    db.read(None, None, |_| Ok(())).unwrap();
    db.write(None, |c| c.batch_execute("INSERT INTO settings (key) VALUES ('after')")).unwrap();
    let stats = db.stats();
    assert_eq!(stats.sources[0].checkout_timeouts, 1);
    assert_eq!(stats.sources[0].errors, 1);
}

#[test]
fn writers_queue_on_the_one_writer_instead_of_failing_busy() {
    let scratch = Scratch::new();
    let db = Arc::new(one_source(&scratch, 3, Duration::from_secs(10)));
    std::thread::scope(|s| {
        for t in 0..8 {
            let db = &db;
            s.spawn(move || {
                for i in 0..25 {
                    db.write(None, |c| {
                        c.batch_execute(&format!(
                            "INSERT INTO settings (key, value) VALUES ('w{t}-{i}', '{i}')"
                        ))
                    })
                    .unwrap();
                }
            });
        }
    });
    let count = db
        .read(None, None, |c| {
            use diesel::prelude::*;
            multisource::schema::settings::table.count().get_result::<i64>(c)
        })
        .unwrap();
    // 200 rows plus the schema version the migrations record.
    assert_eq!(count, 201);
}

#[test]
fn a_source_of_two_connections_has_one_reader_and_checkpoints_as_it_writes() {
    let scratch = Scratch::new();
    let db = one_source(&scratch, 2, Duration::from_secs(10));
    let (now, max) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    db.read(None, None, |_| {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(n, Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(1));
                        now.fetch_sub(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .unwrap();
                }
            });
        }
    });
    assert_eq!(max.load(Ordering::SeqCst), 1);
    for i in 0..200 {
        db.write(None, |c| c.batch_execute(&format!("INSERT INTO settings (key) VALUES ('k{i}')")))
            .unwrap();
    }
    let stats = db.stats();
    assert_eq!(stats.sources[0].background_checkpoints, 0);
    assert!(stats.sources[0].open_connections <= 2);
}

#[test]
fn writes_are_checkpointed_in_the_background() {
    let scratch = Scratch::new();
    let db = one_source(&scratch, 3, Duration::from_secs(10));
    for i in 0..(3 * 64) {
        db.write(None, |c| c.batch_execute(&format!("INSERT INTO settings (key) VALUES ('k{i}')")))
            .unwrap();
    }
    // The checkpointer runs on its own thread: wait for it. The bound only turns a checkpointer
    // that never runs into a failure instead of a hang; it measures nothing.
    let bound = Instant::now() + Duration::from_secs(60);
    while db.stats().sources[0].background_checkpoints == 0 {
        assert!(Instant::now() < bound, "no background checkpoint ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    // The writer, one reader and the checkpointer's connection, within pool-size.
    assert!(db.stats().sources[0].open_connections <= 3);
}

#[test]
fn a_panic_during_a_call_leaves_the_pool_usable() {
    let scratch = Scratch::new();
    let db = one_source(&scratch, 2, Duration::from_millis(500));
    for _ in 0..3 {
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            db.read(None, None, |_| -> diesel::QueryResult<()> { panic!("a bug in a query") })
        }));
        assert!(panicked.is_err());
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            db.write(None, |c| -> diesel::QueryResult<()> {
                c.batch_execute("INSERT INTO settings (key) VALUES ('half-done')")?;
                panic!("a bug in a write")
            })
        }));
        assert!(panicked.is_err());
    }
    // The connections the panics left are closed and replaced; nothing of the write was kept.
    let count = db
        .read(None, None, |c| {
            use diesel::prelude::*;
            multisource::schema::settings::table.count().get_result::<i64>(c)
        })
        .unwrap();
    assert_eq!(count, 1, "only the schema version");
    db.write(None, |c| c.batch_execute("INSERT INTO settings (key) VALUES ('after')")).unwrap();
}

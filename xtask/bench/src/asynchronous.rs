//! The async API against the blocking one, in the same run: the same query called through
//! `AsyncDatabase` from a task and through `Database` from a thread, one call at a time (the
//! difference is the hand-off to the library's threads and back); then throughput with 1, 8, 64
//! and 1,024 tasks on a two-worker tokio runtime, against one blocking thread.

use std::path::Path;
use std::time::Instant;

use multisource::{AsyncDatabase, Config, Database, SourceConfig};

use crate::util::{duration, median};

/// How much work each measurement does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    /// Calls per batch, and per throughput run.
    pub(crate) calls: usize,
    /// Alternating batches (blocking, async) per measurement.
    pub(crate) rounds: usize,
}

const CHATS: i64 = 64;

fn chat(i: usize) -> i64 {
    -1_001_000_000_000 - (i as i64 % CHATS)
}

/// Which query a measurement calls, through either API.
#[derive(Clone, Copy)]
enum Query {
    /// `get_chat_setting`: a read of one row.
    Read,
    /// `set_chat_setting`: a write of one row, one transaction.
    Write,
}

impl Query {
    fn name(self) -> &'static str {
        match self {
            Query::Read => "get_chat_setting",
            Query::Write => "set_chat_setting",
        }
    }

    fn blocking(self, db: &Database, i: usize) {
        match self {
            Query::Read => drop(db.get_chat_setting(chat(i), "lang", None).expect("read")),
            Query::Write => db.set_chat_setting(chat(i), "lang", "en").expect("write"),
        }
    }

    async fn call(self, db: &AsyncDatabase, i: usize) {
        match self {
            Query::Read => drop(db.get_chat_setting(chat(i), "lang", None).await.expect("read")),
            Query::Write => db.set_chat_setting(chat(i), "lang", "en").await.expect("write"),
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().expect("a tokio runtime")
}

/// Nanoseconds per call of `calls` blocking calls in a row.
fn blocking_batch(db: &Database, query: Query, calls: usize) -> f64 {
    let start = Instant::now();
    for i in 0..calls {
        query.blocking(db, i);
    }
    start.elapsed().as_nanos() as f64 / calls as f64
}

/// Nanoseconds per call of `calls` async calls awaited one after another, by `tasks` tasks
/// sharing them.
fn async_batch(
    rt: &tokio::runtime::Runtime,
    db: &AsyncDatabase,
    query: Query,
    calls: usize,
    tasks: usize,
) -> f64 {
    let start = Instant::now();
    rt.block_on(async {
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let db = db.clone();
                let share = crate::util::share(calls, tasks, t);
                tokio::spawn(async move {
                    for i in 0..share {
                        query.call(&db, i * tasks + t).await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("a task");
        }
    });
    start.elapsed().as_nanos() as f64 / calls as f64
}

/// Nanoseconds of a round trip between two threads that sleep on a condition variable between
/// turns: what a hand-off costs when neither side watches for the other.
fn wake_round_trip(rounds: usize) -> f64 {
    use std::sync::{Arc, Condvar, Mutex};
    let turn = Arc::new((Mutex::new(0_usize), Condvar::new()));
    let other = Arc::clone(&turn);
    let last = 2 * rounds;
    let echo = std::thread::spawn(move || {
        let (lock, ready) = &*other;
        let mut n = lock.lock().expect("the turn");
        while *n < last {
            if *n % 2 == 1 {
                *n += 1;
                ready.notify_one();
            } else {
                n = ready.wait(n).expect("the turn");
            }
        }
    });
    let (lock, ready) = &*turn;
    let start = Instant::now();
    let mut n = lock.lock().expect("the turn");
    for _ in 0..rounds {
        *n += 1;
        ready.notify_one();
        while *n % 2 == 1 {
            n = ready.wait(n).expect("the turn");
        }
    }
    let elapsed = start.elapsed();
    drop(n);
    echo.join().expect("the echoing thread");
    elapsed.as_nanos() as f64 / rounds as f64
}

pub(crate) fn run(dir: &Path, size: Size) {
    let path = dir.join("async.db");
    let config = Config::builder()
        .source(SourceConfig::new("main", &path))
        .default_source("main")
        .build()
        .expect("configuration");
    let db = Database::open(config.clone()).expect("open");
    for i in 0..CHATS as usize {
        db.set_chat_setting(chat(i), "lang", "en").expect("fill");
    }
    let adb = AsyncDatabase::new(Database::open(config).expect("open"));
    let rt = runtime();

    println!("Async API: the same query through AsyncDatabase (awaited in a task on a 2-worker");
    println!("tokio runtime) and through Database (called on a thread), one call at a time");
    println!("({} calls per batch, median of {} alternating batches)\n", size.calls, size.rounds);
    println!(
        "{:<20} {:>10} {:>10} {:>12} {:>11}",
        "call", "blocking", "async", "async/block", "hand-off"
    );
    for query in [Query::Read, Query::Write] {
        blocking_batch(&db, query, size.calls / 4 + 1);
        async_batch(&rt, &adb, query, size.calls / 4 + 1, 1);
        let (mut sync, mut asyn, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..size.rounds {
            let (s, a) = match round % 2 {
                0 => {
                    let s = blocking_batch(&db, query, size.calls);
                    (s, async_batch(&rt, &adb, query, size.calls, 1))
                }
                _ => {
                    let a = async_batch(&rt, &adb, query, size.calls, 1);
                    (blocking_batch(&db, query, size.calls), a)
                }
            };
            sync.push(s);
            asyn.push(a);
            ratios.push(a / s);
        }
        let (s, a, r) = (median(&mut sync), median(&mut asyn), median(&mut ratios));
        println!(
            "{:<20} {:>10} {:>10} {:>12.2} {:>11}",
            query.name(),
            duration(s),
            duration(a),
            r,
            duration(a - s)
        );
    }

    println!(
        "\n(For scale, measured now: one thread waking another through a condition variable and \
         being woken back takes {} here.)",
        duration(wake_round_trip(size.calls))
    );

    println!("\nThroughput: {} calls shared by N tasks on the 2-worker runtime,", size.calls);
    println!("against the same calls on one blocking thread (median of {} runs)\n", size.rounds);
    println!("{:<20} {:>8} {:>14} {:>16}", "call", "tasks", "calls/s", "vs one thread");
    for query in [Query::Read, Query::Write] {
        let mut base: Vec<f64> =
            (0..size.rounds).map(|_| 1e9 / blocking_batch(&db, query, size.calls)).collect();
        let base = median(&mut base);
        println!("{:<20} {:>8} {:>14.0} {:>16}", query.name(), "thread", base, "1.00");
        for tasks in [1, 8, 64, 1024] {
            let mut rates: Vec<f64> = (0..size.rounds)
                .map(|_| 1e9 / async_batch(&rt, &adb, query, size.calls, tasks))
                .collect();
            let rate = median(&mut rates);
            println!("{:<20} {:>8} {:>14.0} {:>16.2}", "", tasks, rate, rate / base);
        }
    }
}

//! Write throughput by number of callers: `save_chat_message` and `set_chat_setting` from 1 to
//! 128 concurrent callers (threads on `Database`, then tasks on `AsyncDatabase` on a 2-worker
//! tokio runtime), with each durability, group commit against one transaction per call
//! (`group-commit = false`), on two files of the same configuration, in the same run.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Instant;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use multisource::{
    AsyncDatabase, Config, Database, Durability, MessageCategory, MessageType, NewMessage,
    SourceConfig, SqliteFile,
};

use crate::peer::{PYTHON_SAVE, PYTHON_SET};
use crate::util::median;

/// How much work each measurement does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    /// Calls per measurement with the default durability; a fifth of them with `full`.
    pub(crate) calls: usize,
    /// Repetitions of each measurement, alternating the two modes; the median is printed.
    pub(crate) reps: usize,
    /// The numbers of callers measured.
    pub(crate) callers: &'static [usize],
}

/// The numbers of callers of the full run.
pub(crate) const CALLERS: &[usize] = &[1, 2, 8, 32, 128];

const CHATS: i64 = 64;

fn chat(i: usize) -> i64 {
    -1_001_000_000_000 - (i as i64 % CHATS)
}

fn date(i: usize) -> NaiveDateTime {
    let epoch = NaiveDate::from_ymd_opt(2025, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0));
    epoch.expect("a date") + TimeDelta::seconds(i as i64)
}

/// The call measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    /// `save_chat_message`: four statements, one new message.
    Save,
    /// `set_chat_setting`: one upsert, of a value that changes at every call (SQLite writes
    /// nothing, and syncs nothing, for an upsert that leaves the row as it was).
    Set,
}

impl Call {
    fn name(self) -> &'static str {
        match self {
            Call::Save => "save_chat_message",
            Call::Set => "set_chat_setting",
        }
    }

    fn python(self) -> (f64, f64) {
        match self {
            Call::Save => PYTHON_SAVE,
            Call::Set => PYTHON_SET,
        }
    }
}

/// One database under test: a file with group commit on or off, and the number of the next
/// call, so that every message id and every value is new.
struct Subject {
    db: Database,
    adb: AsyncDatabase,
    next: AtomicUsize,
}

impl Subject {
    fn open(dir: &Path, name: &str, durability: Durability, group_commit: bool) -> Subject {
        let file =
            SqliteFile::new(dir.join(name)).durability(durability).group_commit(group_commit);
        let config = Config::builder()
            .source(SourceConfig::at("main", file))
            .default_source("main")
            .build()
            .expect("configuration");
        let db = Database::open(config.clone()).expect("open");
        for i in 0..CHATS as usize {
            db.update_chat_user(chat(i), 100, "@user", "User").expect("fill");
        }
        let adb = AsyncDatabase::new(Database::open(config).expect("open"));
        Subject { db, adb, next: AtomicUsize::new(0) }
    }

    fn take(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    fn blocking(&self, call: Call) {
        let i = self.take();
        match call {
            Call::Save => {
                let id = i.to_string();
                let message = message();
                self.db.save_chat_message(date(i), chat(i), 100, &id, &message).expect("save");
            }
            Call::Set => {
                self.db.set_chat_setting(chat(i), "n", &i.to_string()).expect("set");
            }
        }
    }

    async fn awaited(&self, call: Call) {
        let i = self.take();
        match call {
            Call::Save => {
                let id = i.to_string();
                let message = message();
                let saved = self.adb.save_chat_message(date(i), chat(i), 100, &id, &message).await;
                saved.expect("save");
            }
            Call::Set => {
                self.adb.set_chat_setting(chat(i), "n", &i.to_string()).await.expect("set");
            }
        }
    }

    /// Calls per second of `calls` calls shared by `callers` threads, started together.
    fn threads(&self, call: Call, calls: usize, callers: usize) -> f64 {
        let barrier = Barrier::new(callers + 1);
        let elapsed = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..callers)
                .map(|t| {
                    let share = crate::util::share(calls, callers, t);
                    let barrier = &barrier;
                    scope.spawn(move || {
                        barrier.wait();
                        for _ in 0..share {
                            self.blocking(call);
                        }
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            for handle in handles {
                handle.join().expect("a caller");
            }
            start.elapsed()
        });
        calls as f64 / elapsed.as_secs_f64()
    }

    /// Calls per second of `calls` calls shared by `callers` tasks.
    fn tasks(
        self: &Arc<Self>,
        rt: &tokio::runtime::Runtime,
        call: Call,
        calls: usize,
        callers: usize,
    ) -> f64 {
        let start = Instant::now();
        rt.block_on(async {
            let handles: Vec<_> = (0..callers)
                .map(|t| {
                    let share = crate::util::share(calls, callers, t);
                    let subject = Arc::clone(self);
                    tokio::spawn(async move {
                        for _ in 0..share {
                            subject.awaited(call).await;
                        }
                    })
                })
                .collect();
            for handle in handles {
                handle.await.expect("a task");
            }
        });
        calls as f64 / start.elapsed().as_secs_f64()
    }

    fn transactions(&self) -> u64 {
        self.db.stats().source("main").map_or(0, |s| s.write_transactions)
            + self.adb.stats().source("main").map_or(0, |s| s.write_transactions)
    }
}

fn message() -> NewMessage<'static> {
    NewMessage {
        message_text: "a message of a busy chat, of about the length of most of them",
        message_type: MessageType::Text,
        message_category: MessageCategory::User,
        ..NewMessage::default()
    }
}

/// One row of the table: a call, a number of callers, calls per second in each mode, and calls
/// per transaction when batched.
struct Row {
    callers: usize,
    threads: [f64; 2],
    tasks: [f64; 2],
    per_transaction: f64,
}

/// Measures `call` with every number of callers, on `subjects` (one transaction per call, then
/// group commit).
fn measure(
    subjects: &[Arc<Subject>; 2],
    rt: &tokio::runtime::Runtime,
    call: Call,
    size: Size,
    calls: usize,
) -> Vec<Row> {
    size.callers
        .iter()
        .map(|&callers| {
            let mut threads = [Vec::new(), Vec::new()];
            let mut tasks = [Vec::new(), Vec::new()];
            let mut per_transaction = Vec::new();
            for rep in 0..size.reps {
                // Alternate which mode goes first, so that neither always finds the other's log.
                let order = if rep % 2 == 0 { [0, 1] } else { [1, 0] };
                for mode in order {
                    let subject = &subjects[mode];
                    let before = subject.transactions();
                    threads[mode].push(subject.threads(call, calls, callers));
                    tasks[mode].push(subject.tasks(rt, call, calls, callers));
                    if mode == 1 {
                        let transactions = subject.transactions() - before;
                        per_transaction.push((2 * calls) as f64 / transactions.max(1) as f64);
                    }
                }
            }
            Row {
                callers,
                threads: threads.map(|mut v| median(&mut v)),
                tasks: tasks.map(|mut v| median(&mut v)),
                per_transaction: median(&mut per_transaction),
            }
        })
        .collect()
}

pub(crate) fn run(dir: &Path, size: Size) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a tokio runtime");
    println!("Write throughput by callers: threads on Database, tasks on AsyncDatabase (2-worker");
    println!(
        "tokio runtime); one transaction per call (group-commit = false) against group commit,"
    );
    println!("on two files of the same configuration; median of {} repetitions\n", size.reps);
    for durability in [Durability::Normal, Durability::Full] {
        let (name, calls) = match durability {
            Durability::Normal => ("normal", size.calls),
            Durability::Full => ("full", size.calls / 5),
        };
        let subjects = [false, true].map(|group_commit| {
            let file = format!("writes-{name}-{group_commit}.db");
            Arc::new(Subject::open(dir, &file, durability, group_commit))
        });
        println!("durability = \"{name}\", {calls} calls per measurement (calls per second)");
        println!(
            "{:<18} {:>7} | {:>9} {:>9} {:>6} | {:>9} {:>9} {:>6} | {:>9} | {:>10}",
            "call",
            "callers",
            "threads",
            "batched",
            "ratio",
            "tasks",
            "batched",
            "ratio",
            "calls/tx",
            "vs Python"
        );
        for call in [Call::Save, Call::Set] {
            for row in measure(&subjects, &rt, call, size, calls) {
                // Python's figure is the specification's, one caller, not measured here.
                let python = 1e9 / call.python().0;
                println!(
                    "{:<18} {:>7} | {:>9.0} {:>9.0} {:>6.2} | {:>9.0} {:>9.0} {:>6.2} | {:>9.1} | {:>9.1}x",
                    call.name(),
                    row.callers,
                    row.threads[0],
                    row.threads[1],
                    row.threads[1] / row.threads[0],
                    row.tasks[0],
                    row.tasks[1],
                    row.tasks[1] / row.tasks[0],
                    row.per_transaction,
                    row.threads[1].max(row.tasks[1]) / python
                );
            }
        }
        println!();
    }
    println!(
        "(\"vs Python\": the better of the batched columns against the Python layer's one-caller"
    );
    println!("figure from the specification, measured there with synchronous = FULL, not here.)");
}

//! The router's maintenance thread: background checkpoints of writable sources, the watch over
//! every source's file ([`crate::health`]), and over the configuration file of `watch-mapping`
//! ([`crate::live`]).
//!
//! ## Checkpoints
//!
//! In WAL mode every commit appends pages to the `-wal` file, and a checkpoint copies them back
//! into the database file. By default SQLite runs the checkpoint inside the commit that crosses
//! 1,000 pages: that commit holds the source's only writer through about a thousand page writes
//! and two disk syncs while every other write waits, which costs a third of an average
//! `save_chat_message`. Never checkpointing is worse: readers search a growing log for every page.
//!
//! Here the thread checkpoints the writable sources on connections of its own, which
//! SQLite lets run alongside the writer: the writer counts its commits and kicks the thread every
//! [`KICK_EVERY`] writes, and the thread runs a `PASSIVE` checkpoint, which never blocks readers or
//! the writer. The writer's own automatic checkpoint stays on as a backstop, at [`BACKSTOP_PAGES`].

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use diesel::connection::SimpleConnection;

use crate::health::{self, Health};
use crate::live::FileWatch;
use crate::sqlite::{self, Guarded, OpenMode};

/// A source's writes between two kicks of the checkpointer.
pub(crate) const KICK_EVERY: u32 = 64;

/// The log size at which the writer checkpoints by itself, if the background checkpoints fall
/// behind (16 MiB of 4 KiB pages).
pub(crate) const BACKSTOP_PAGES: u32 = 4_000;

/// One writable source, as the checkpointer sees it.
pub(crate) struct Target {
    /// The source's name, for warnings.
    pub(crate) name: Box<str>,
    /// The source's file.
    pub(crate) path: std::path::PathBuf,
    /// The source's busy timeout.
    pub(crate) timeout: std::time::Duration,
}

/// The maintenance thread of a router, and the counters the writers kick it with.
pub(crate) struct Maintenance {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    state: Mutex<State>,
    kick: Condvar,
    /// Writes since the last kick, per target.
    writes: Vec<AtomicU32>,
    /// Checkpoints run, per target.
    done: Vec<AtomicU64>,
    /// Whether the thread holds a connection, per target.
    open: Vec<AtomicBool>,
}

struct State {
    due: Vec<bool>,
    closing: bool,
}

impl Maintenance {
    /// Starts the thread, which checkpoints `targets`, watches the files of `watched`, and the
    /// configuration file of `mapping` when there is one.
    pub(crate) fn new(
        targets: Vec<Target>,
        watched: Vec<Arc<Health>>,
        mut mapping: Option<FileWatch>,
    ) -> Maintenance {
        let shared = Arc::new(Shared {
            state: Mutex::new(State { due: vec![false; targets.len()], closing: false }),
            kick: Condvar::new(),
            writes: targets.iter().map(|_| AtomicU32::new(0)).collect(),
            done: targets.iter().map(|_| AtomicU64::new(0)).collect(),
            open: targets.iter().map(|_| AtomicBool::new(false)).collect(),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("multisource-maintenance".into())
                .spawn(move || run(&shared, &targets, &watched, mapping.as_mut()))
                .ok()
        };
        Maintenance { shared, thread }
    }

    /// Counts a write on target `index`, kicking the thread every [`KICK_EVERY`] writes.
    pub(crate) fn wrote(&self, index: usize) {
        let Some(writes) = self.shared.writes.get(index) else { return };
        if writes.fetch_add(1, Ordering::Relaxed) + 1 < KICK_EVERY {
            return;
        }
        writes.store(0, Ordering::Relaxed);
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(due) = state.due.get_mut(index) {
            *due = true;
        }
        self.shared.kick.notify_one();
    }

    /// How many background checkpoints ran on target `index`.
    pub(crate) fn done(&self, index: usize) -> u64 {
        self.shared.done.get(index).map_or(0, |d| d.load(Ordering::Relaxed))
    }

    /// Whether the thread holds a connection to target `index`.
    pub(crate) fn is_open(&self, index: usize) -> bool {
        self.shared.open.get(index).is_some_and(|o| o.load(Ordering::Relaxed))
    }
}

/// The thread: check the files (and the configuration file of `watch-mapping`) every
/// [`health::CHECK_EVERY`], checkpoint the sources that are due when kicked, repeat until closing.
fn run(
    shared: &Shared,
    targets: &[Target],
    watched: &[Arc<Health>],
    mut mapping: Option<&mut FileWatch>,
) {
    let mut connections: Vec<Option<Guarded>> = targets.iter().map(|_| None).collect();
    let mut next_check = Instant::now();
    loop {
        if Instant::now() >= next_check {
            for health in watched {
                health.check();
            }
            if let Some(mapping) = mapping.as_deref_mut() {
                mapping.tick();
            }
            next_check = Instant::now() + health::CHECK_EVERY;
        }
        let due: Vec<usize> = {
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            while !state.closing && !state.due.contains(&true) {
                let wait = next_check.saturating_duration_since(Instant::now());
                if wait.is_zero() {
                    break;
                }
                state = shared.kick.wait_timeout(state, wait).unwrap_or_else(|e| e.into_inner()).0;
            }
            if state.closing {
                return;
            }
            let due = state.due.iter().enumerate().filter(|(_, d)| **d).map(|(i, _)| i).collect();
            state.due.iter_mut().for_each(|d| *d = false);
            due
        };
        for index in due {
            let target = &targets[index];
            if connections[index].is_none() {
                connections[index] = open(target);
                shared.open[index].store(connections[index].is_some(), Ordering::Relaxed);
            }
            let Some(conn) = connections[index].as_mut() else { continue };
            match conn.conn().batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                Ok(()) => {
                    shared.done[index].fetch_add(1, Ordering::Relaxed);
                }
                Err(error) => {
                    tracing::warn!(
                        target: "multisource",
                        source = &*target.name,
                        %error,
                        "background checkpoint failed; the writer checkpoints by itself meanwhile",
                    );
                    // Open afresh next time, in case the connection itself is at fault.
                    connections[index] = None;
                    shared.open[index].store(false, Ordering::Relaxed);
                }
            }
        }
    }
}

fn open(target: &Target) -> Option<Guarded> {
    let opened = sqlite::connect(&target.path, OpenMode::ReadWrite, target.timeout, "");
    match opened {
        Ok(conn) => Some(conn),
        Err(error) => {
            tracing::warn!(
                target: "multisource",
                source = &*target.name,
                %error,
                "cannot open a connection for background checkpoints; the writer checkpoints by itself",
            );
            None
        }
    }
}

impl Drop for Maintenance {
    fn drop(&mut self) {
        {
            let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
            state.closing = true;
        }
        self.shared.kick.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

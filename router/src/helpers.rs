//! Helper threads for reads that visit every source.
//!
//! A fan-out offers some of its parts to the helpers (the router offers those of sources whose
//! reads take longer than a hand-off) and runs the others on the calling thread. Whatever no helper
//! has started by the time the caller is free, the caller runs itself, so a fan-out is never much
//! slower than visiting the sources one after the other, and runs them in parallel when helpers
//! are free. Starting a thread per part would cost more than reading a local file (about 40 µs a
//! thread here, against 5 µs a read).
//!
//! The parts borrow the caller's data (the query and its arguments), so they cannot be `'static`:
//! a part is handed to a helper as a pointer, and the caller does not return before every part it
//! did not run itself has finished. This module is the only place that relies on that, and the
//! rule is enforced by [`Helpers::run`] itself.

#![allow(unsafe_code)]

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PENDING: u8 = 0;
const TAKEN: u8 = 1;

/// How long a caller spins for a part a helper is running before it sleeps: a part on a local
/// file takes a few microseconds, and sleeping and waking take longer than that here.
const SPIN: Duration = Duration::from_micros(50);

/// One part of a fan-out, as the caller hands it over: a borrowed closure.
pub(crate) type PartFn<'a> = &'a (dyn Fn() + Sync);

/// The helper threads of one router.
pub(crate) struct Helpers {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

struct Shared {
    queue: Mutex<Queue>,
    work: Condvar,
}

struct Queue {
    parts: VecDeque<Arc<Part>>,
    closing: bool,
}

/// One part of a fan-out: who runs it, and how it ended.
struct Part {
    state: AtomicU8,
    // The part's work, valid while the fan-out that offered it waits; only the thread that moves
    // `state` from PENDING to TAKEN calls it.
    work: Erased,
    outcome: Mutex<Option<std::thread::Result<()>>>,
    done: AtomicBool,
    finished: Condvar,
}

/// A borrowed `&(dyn Fn() + Sync)` with its lifetime erased, to cross to a helper thread.
#[derive(Clone, Copy)]
struct Erased(*const (dyn Fn() + Sync + 'static));

// SAFETY: the pointee is `Sync`, so calling it from another thread is sound while it lives; the
// fan-out keeps it alive until every part it offered has finished or was taken back (see `run`).
unsafe impl Send for Erased {}
// SAFETY: as above; `Erased` is only copied and called, never written through.
unsafe impl Sync for Erased {}

impl Helpers {
    /// Starts `count` helper threads (none for 0).
    pub(crate) fn new(count: usize) -> Helpers {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { parts: VecDeque::new(), closing: false }),
            work: Condvar::new(),
        });
        let threads = (0..count)
            .filter_map(|i| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("multisource-fan-out-{i}"))
                    .spawn(move || help(&shared))
                    .ok()
            })
            .collect();
        Helpers { shared, threads }
    }

    /// Runs every closure of `inline` on this thread and every closure of `offered` on a helper
    /// when one is free (else on this thread), and returns once all have run. A panic in a part
    /// is resumed here, after every part has finished.
    pub(crate) fn run(&self, inline: &[&(dyn Fn() + Sync)], offered: &[&(dyn Fn() + Sync)]) {
        if offered.is_empty() || self.threads.is_empty() {
            inline.iter().chain(offered).for_each(|part| part());
            return;
        }
        let offered: Vec<Arc<Part>> = offered
            .iter()
            .map(|work| {
                let work: *const (dyn Fn() + Sync + '_) = *work;
                // SAFETY: only the lifetime is erased; `run` outlives every call of the pointer,
                // because it waits below for every part a helper took.
                let work = unsafe {
                    std::mem::transmute::<
                        *const (dyn Fn() + Sync + '_),
                        *const (dyn Fn() + Sync + 'static),
                    >(work)
                };
                Arc::new(Part {
                    state: AtomicU8::new(PENDING),
                    work: Erased(work),
                    outcome: Mutex::new(None),
                    done: AtomicBool::new(false),
                    finished: Condvar::new(),
                })
            })
            .collect();
        {
            let mut queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.parts.extend(offered.iter().cloned());
        }
        // One helper is woken; a helper that takes a part wakes the next while parts remain.
        self.shared.work.notify_one();
        // This thread's own parts; a panic is held until the helpers are done with the others.
        let mut panic = None;
        for part in inline {
            if let Err(p) = catch_unwind(AssertUnwindSafe(part)) {
                panic = panic.or(Some(p));
            }
        }
        // Then every part no helper has started, and only then wait for those helpers run.
        let mut running = Vec::new();
        for part in &offered {
            match part.state.compare_exchange(PENDING, TAKEN, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    if let Err(p) = catch_unwind(AssertUnwindSafe(|| rest_of(part)())) {
                        panic = panic.or(Some(p));
                    }
                }
                Err(_) => running.push(part),
            }
        }
        for part in running {
            let spin_until = Instant::now() + SPIN;
            while !part.done.load(Ordering::Acquire) && Instant::now() < spin_until {
                for _ in 0..32 {
                    std::hint::spin_loop();
                }
            }
            let mut outcome = part.outcome.lock().unwrap_or_else(|e| e.into_inner());
            while outcome.is_none() {
                outcome = part.finished.wait(outcome).unwrap_or_else(|e| e.into_inner());
            }
            if let Some(Err(p)) = outcome.take() {
                panic = panic.or(Some(p));
            }
        }
        if let Some(p) = panic {
            resume_unwind(p);
        }
    }
}

/// The work of a part, for the thread that took it.
fn rest_of(part: &Part) -> &(dyn Fn() + Sync) {
    // SAFETY: called only by the thread that moved the part from PENDING to TAKEN, while the
    // fan-out that offered it waits for it (or is that thread).
    unsafe { &*part.work.0 }
}

/// A helper's loop: take offered parts until the router closes.
fn help(shared: &Shared) {
    loop {
        let part = {
            let mut queue = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(part) = queue.parts.pop_front() {
                    if !queue.parts.is_empty() {
                        shared.work.notify_one();
                    }
                    break part;
                }
                if queue.closing {
                    return;
                }
                queue = shared.work.wait(queue).unwrap_or_else(|e| e.into_inner());
            }
        };
        // The offering thread may have taken it back already; then there is nothing to do.
        if part.state.compare_exchange(PENDING, TAKEN, Ordering::AcqRel, Ordering::Acquire).is_err()
        {
            continue;
        }
        let outcome = catch_unwind(AssertUnwindSafe(|| rest_of(&part)()));
        let mut slot = part.outcome.lock().unwrap_or_else(|e| e.into_inner());
        *slot = Some(outcome);
        part.done.store(true, Ordering::Release);
        drop(slot);
        part.finished.notify_all();
    }
}

impl Drop for Helpers {
    fn drop(&mut self) {
        {
            let mut queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            queue.closing = true;
        }
        self.shared.work.notify_all();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[test]
    fn every_part_runs_exactly_once_whoever_runs_it() {
        let helpers = Helpers::new(2);
        for round in 0..500 {
            let counts: Vec<AtomicUsize> = (0..5).map(|_| AtomicUsize::new(0)).collect();
            let closures: Vec<Box<dyn Fn() + Sync + '_>> = (0..5)
                .map(|i| {
                    let counts = &counts;
                    Box::new(move || {
                        counts[i].fetch_add(1, Ordering::Relaxed);
                        if (round + i) % 7 == 0 {
                            std::thread::yield_now();
                        }
                    }) as Box<dyn Fn() + Sync>
                })
                .collect();
            let parts: Vec<&(dyn Fn() + Sync)> = closures.iter().map(|b| &**b).collect();
            let (inline, offered) = parts.split_at(round % 3);
            helpers.run(inline, offered);
            assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1));
        }
    }

    #[test]
    fn a_panic_in_a_part_reaches_the_caller_after_the_others_finish() {
        let helpers = Helpers::new(2);
        let finished = AtomicUsize::new(0);
        let ok = || {
            std::thread::sleep(std::time::Duration::from_millis(5));
            finished.fetch_add(1, Ordering::SeqCst);
        };
        let bad = || panic!("part failed");
        let result = catch_unwind(AssertUnwindSafe(|| helpers.run(&[&ok], &[&bad, &ok, &ok])));
        assert!(result.is_err());
        assert_eq!(finished.load(Ordering::SeqCst), 3);
        // The helpers still work afterwards.
        helpers.run(&[], &[&ok, &ok, &ok]);
        assert_eq!(finished.load(Ordering::SeqCst), 6);
    }

    #[test]
    fn without_helpers_the_caller_runs_everything() {
        let helpers = Helpers::new(0);
        let count = AtomicUsize::new(0);
        let part = || {
            count.fetch_add(1, Ordering::SeqCst);
        };
        helpers.run(&[&part], &[&part, &part]);
        assert_eq!(count.load(Ordering::SeqCst), 3);
    }
}

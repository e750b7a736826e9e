//! [`AsyncDatabase`]: the same database for async code, whose calls run on threads of the
//! library's own so that no executor thread ever waits for a database.
//!
//! A call is a [`Call`], a future that holds only owned values (its arguments are carried, see
//! [`crate::Carry`]): it does nothing until first polled, then hands its query to the library's
//! threads and waits for the answer without blocking. It works under any executor (tokio's
//! runtimes, `futures`' executors, smol), and it is `Send` and `'static`, so a handler can spawn
//! it.
//!
//! Dropping a call is safe at any point: dropped before a library thread has taken it, it never
//! runs; taken, it runs to its end (a write commits whole or not at all, as a blocking write does)
//! and its answer is discarded, and it is counted in [`Database::stats`] like any other call.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::hash::Hash;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use multisource_router::{Config, Conn, Result, Route, SourceInfo, Stats};
use rustc_hash::FxHashMap;

use crate::{Connection, Database};

/// A [`Database`] for async code: every data method of `Database` (the library's and those a
/// bot's crate generates, through their `…AsyncExt` traits) has a twin here with the same name,
/// parameters and result, returning a [`Call`] to `.await`.
///
/// Cheap to clone (an `Arc`): give each handler its clone. The calls run on threads of the
/// library's own, started as they are needed. Each source has a lane for its reads, of as many
/// threads as it has connections, and one for its writes (up to 64 at once on a source with group
/// commit, whose writer commits the ones that queue together; one at a time elsewhere);
/// the reads of every source have a lane of their own. A source that is slow or locked by another
/// process holds up only its own calls: the others' go on. Dropping the last
/// clone waits for the calls already running, and closes every file before it returns, as
/// dropping a `Database` does.
///
/// ```no_run
/// # async fn handler() -> multisource::Result<()> {
/// let db = multisource::AsyncDatabase::from_config_file("bot.toml").await?;
/// db.set_chat_setting(-1001234567890, "lang", "en").await?;
/// let lang = db.get_chat_setting(-1001234567890, "lang", None).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AsyncDatabase {
    handle: Arc<Handle>,
}

impl fmt::Debug for AsyncDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncDatabase").field("database", &self.handle.core.db).finish()
    }
}

/// The last clone's duty: stop the threads when it goes.
struct Handle {
    core: Arc<Core>,
}

/// What the threads share: the database and the queue of calls.
struct Core {
    db: Database,
    /// The lane of each source, by name.
    lanes: FxHashMap<Box<str>, usize>,
    queue: Mutex<Queue>,
    ready: Condvar,
    max_threads: usize,
    /// `Queue::arrivals`, readable without the lock by the threads that watch for calls.
    arrivals: AtomicU64,
}

/// How long a thread that ended a call watches for the next before it sleeps, and how many
/// threads watch at once: one is enough to take the next call, more would take the cores the
/// callers need.
const SPIN: Duration = Duration::from_micros(50);
const SPINNERS: usize = 1;
/// How long a caller whose call was taken at once watches for its answer before it sleeps.
const WATCH: Duration = Duration::from_micros(10);

/// How many writes of a source with group commit run at once on the library's threads: all but
/// one of them wait in the source's queue and are committed in the batch the first one leads. A
/// thread each, parked while it waits, started when first needed. Half of what one batch may
/// hold: enough for the tasks of a busy bot to fill its batches (section 7 of BENCHMARKS.md).
const BATCHED_WRITES: usize = 64;

/// A call, as a thread runs it.
type Job = Box<dyn FnOnce(&Database) + Send>;

struct Queue {
    /// One lane per source, in the configuration's order, then the lane of calls of every
    /// source (and of closures that name none).
    lanes: Vec<Lane>,
    /// The arrival number of the next call: calls start in arrival order, lanes allowing.
    arrivals: u64,
    /// Threads waiting for a job.
    idle: usize,
    /// Wake-ups sent to idle threads and not yet taken.
    signals: usize,
    /// Threads that ended a call and watch for the next before they sleep.
    spinning: usize,
    /// Calls queued for spinning threads to take, without a wake-up.
    promised: usize,
    threads: Vec<JoinHandle<()>>,
    closed: bool,
}

/// The calls of one source waiting for a thread, and how many of its calls may run at once.
struct Lane {
    jobs: VecDeque<(u64, Job)>,
    running: usize,
    limit: usize,
}

impl Queue {
    /// The next call to run: the earliest arrived of the lanes that have room; counted as
    /// running in its lane.
    fn take(&mut self) -> Option<(usize, Job)> {
        let (index, _) = self
            .lanes
            .iter()
            .enumerate()
            .filter(|(_, lane)| lane.running < lane.limit)
            .filter_map(|(index, lane)| lane.jobs.front().map(|(arrival, _)| (index, *arrival)))
            .min_by_key(|(_, arrival)| *arrival)?;
        let lane = &mut self.lanes[index];
        lane.running += 1;
        lane.jobs.pop_front().map(|(_, job)| (index, job))
    }
}

impl AsyncDatabase {
    /// Runs `db`'s calls for async code.
    pub fn new(db: Database) -> AsyncDatabase {
        let config = db.config();
        let sources = config.sources();
        let size = |s: &multisource_router::SourceConfig| {
            usize::try_from(s.get_pool_size()).unwrap_or(usize::MAX).max(1)
        };
        // Each source's reads, as many at once as it has connections, then its writes: on a
        // source with group commit, up to [`BATCHED_WRITES`] at once, so that the writes that
        // queue behind its one writer are committed together; elsewhere one at a time, since
        // they take turns on the writer and a thread more would only wait for it.
        let writes = |s: &multisource_router::SourceConfig| match s.is_group_commit() {
            true => BATCHED_WRITES,
            false => 1,
        };
        let lane = |limit| Lane { jobs: VecDeque::new(), running: 0, limit };
        let mut lanes: Vec<Lane> =
            sources.iter().flat_map(|s| [lane(size(s)), lane(writes(s))]).collect();
        // Reads of every source: as many at once as the largest source has connections.
        let widest = sources.iter().map(size).max().unwrap_or(1);
        lanes.push(lane(widest.max(2)));
        let max_threads = lanes.iter().map(|l| l.limit).fold(0, usize::saturating_add);
        let names = sources.iter().enumerate().map(|(i, s)| (s.name().into(), 2 * i)).collect();
        let queue = Queue {
            lanes,
            arrivals: 0,
            idle: 0,
            signals: 0,
            spinning: 0,
            promised: 0,
            threads: Vec::new(),
            closed: false,
        };
        AsyncDatabase {
            handle: Arc::new(Handle {
                core: Arc::new(Core {
                    db,
                    lanes: names,
                    queue: Mutex::new(queue),
                    ready: Condvar::new(),
                    max_threads,
                    arrivals: AtomicU64::new(0),
                }),
            }),
        }
    }

    /// [`Database::open`] on a thread of its own: opening checks and migrates every source.
    pub fn open(config: Config) -> Call<AsyncDatabase> {
        Call::on_own_thread(move || Database::open(config).map(AsyncDatabase::new))
    }

    /// [`Database::from_config_file`] on a thread of its own.
    pub fn from_config_file(path: impl Into<PathBuf>) -> Call<AsyncDatabase> {
        let path = path.into();
        Call::on_own_thread(move || Database::from_config_file(path).map(AsyncDatabase::new))
    }

    /// [`Database::open_path`] on a thread of its own.
    pub fn open_path(path: impl Into<PathBuf>) -> Call<AsyncDatabase> {
        let path = path.into();
        Call::on_own_thread(move || Database::open_path(path).map(AsyncDatabase::new))
    }

    /// The blocking database underneath, for what touches no database ([`Database::route`],
    /// [`Database::stats`]) or for a thread of the bot's own.
    pub fn database(&self) -> &Database {
        &self.handle.core.db
    }

    /// [`Database::route`]: where a call would go, without touching a database.
    pub fn route(&self, chat_id: Option<i64>, source: Option<&str>) -> Result<Route<'_>> {
        self.database().route(chat_id, source)
    }

    /// [`Database::stats`].
    pub fn stats(&self) -> Stats {
        self.database().stats()
    }

    /// [`Database::config`].
    pub fn config(&self) -> std::sync::Arc<Config> {
        self.database().config()
    }

    /// [`Database::sources`].
    pub fn sources(&self) -> impl ExactSizeIterator<Item = &SourceInfo> {
        self.database().sources()
    }

    /// [`Database::reload_mapping`], on one of the library's threads (it reads the configuration
    /// file): for a handler of SIGHUP, say.
    pub fn reload_mapping(&self) -> Call<usize> {
        self.call(Database::reload_mapping)
    }

    /// Runs `call` with the database on one of the library's threads, in the lane of calls of
    /// every source: for a closure that uses several sources, or none in particular.
    pub fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Database) -> Result<T> + Send + 'static,
    ) -> Call<T> {
        Call::on_workers(self.clone(), self.every_source(), call)
    }

    /// Runs `call`, a read, with the database on one of the library's threads, in the lane of
    /// the reads of the source that `chat_id` and `source` route to, as [`Database::route`]
    /// resolves them (a source that is not known goes to the lane of every source; the call
    /// itself then says so). What the generated async reads and the read closures below do.
    pub fn call_reading<T: Send + 'static>(
        &self,
        chat_id: Option<i64>,
        source: Option<&str>,
        call: impl FnOnce(&Database) -> Result<T> + Send + 'static,
    ) -> Call<T> {
        let lane = self.lane(chat_id, source).unwrap_or_else(|| self.every_source());
        Call::on_workers(self.clone(), lane, call)
    }

    /// Runs `call`, a write, with the database on one of the library's threads, in the lane of
    /// the writes of the source that `chat_id` routes to, started in the order they come (one at
    /// a time on a source without group commit). What the generated async writes and the write
    /// closures below do.
    pub fn call_writing<T: Send + 'static>(
        &self,
        chat_id: Option<i64>,
        call: impl FnOnce(&Database) -> Result<T> + Send + 'static,
    ) -> Call<T> {
        let lane = self.lane(chat_id, None).map_or_else(|| self.every_source(), |lane| lane + 1);
        Call::on_workers(self.clone(), lane, call)
    }

    /// The lane of the reads of the source a call routes to.
    fn lane(&self, chat_id: Option<i64>, source: Option<&str>) -> Option<usize> {
        let core = &self.handle.core;
        let route = core.db.route(chat_id, source).ok()?;
        core.lanes.get(route.source()).copied()
    }

    /// The lane of calls of every source, the last.
    fn every_source(&self) -> usize {
        2 * self.handle.core.lanes.len()
    }

    /// [`Database::read`], for code that owns what it uses.
    pub fn read<T: Send + 'static>(
        &self,
        chat_id: Option<i64>,
        source: Option<&str>,
        query: impl FnMut(&mut Connection) -> diesel::QueryResult<T> + Send + 'static,
    ) -> Call<T> {
        let owned = source.map(str::to_owned);
        self.call_reading(chat_id, source, move |db| db.read(chat_id, owned.as_deref(), query))
    }

    /// [`Database::write`], for code that owns what it uses.
    pub fn write<T: Send + 'static>(
        &self,
        chat_id: Option<i64>,
        query: impl FnOnce(&mut Connection) -> diesel::QueryResult<T> + Send + 'static,
    ) -> Call<T> {
        self.call_writing(chat_id, move |db| db.write(chat_id, query))
    }

    /// [`Database::fan_out`], for code that owns what it uses.
    pub fn fan_out<T: Send + 'static, K: Hash + Eq>(
        &self,
        source: Option<&str>,
        key: impl Fn(&T) -> K + Send + 'static,
        query: impl Fn(&mut Connection) -> diesel::QueryResult<Vec<T>> + Send + Sync + 'static,
    ) -> Call<Vec<T>> {
        let owned = source.map(str::to_owned);
        let call = move |db: &Database| db.fan_out(owned.as_deref(), key, query);
        match source {
            Some(_) => self.call_reading(None, source, call),
            None => self.call(call),
        }
    }

    /// [`Database::read_any`], for code that owns what it uses.
    pub fn read_any<T: Send + 'static>(
        &self,
        chat_id: Option<i64>,
        source: Option<&str>,
        query: impl FnMut(Conn<'_>) -> diesel::QueryResult<T> + Send + 'static,
    ) -> Call<T> {
        let owned = source.map(str::to_owned);
        self.call_reading(chat_id, source, move |db| db.read_any(chat_id, owned.as_deref(), query))
    }

    /// [`Database::write_any`], for code that owns what it uses.
    pub fn write_any<T: Send + 'static>(
        &self,
        chat_id: Option<i64>,
        query: impl FnOnce(Conn<'_>) -> diesel::QueryResult<T> + Send + 'static,
    ) -> Call<T> {
        self.call_writing(chat_id, move |db| db.write_any(chat_id, query))
    }
}

impl AsyncDatabase {
    /// The blocking database back, once every call handed over has ended (those dropped by their
    /// callers included, so that [`Database::stats`] counts them all): for a bot's shutdown, or a
    /// test. Gives `self` back when another clone, or a call not yet answered, still holds it.
    pub fn into_database(self) -> std::result::Result<Database, AsyncDatabase> {
        let handle = Arc::try_unwrap(self.handle).map_err(|handle| AsyncDatabase { handle })?;
        handle.stop();
        let core = Arc::clone(&handle.core);
        drop(handle);
        Arc::try_unwrap(core).map(|core| core.db).map_err(|core| {
            // Called from a call of its own, whose thread still holds the threads' share: the
            // queue opens again.
            core.lock().closed = false;
            AsyncDatabase { handle: Arc::new(Handle { core }) }
        })
    }
}

impl From<Database> for AsyncDatabase {
    fn from(db: Database) -> AsyncDatabase {
        AsyncDatabase::new(db)
    }
}

impl Core {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A job runs outside the lock, so a panic cannot leave the queue half changed.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job` in `lane`; when the lane has room, wakes an idle thread or starts one.
    /// True when a thread watching for calls takes it at once.
    fn submit(self: &Arc<Core>, lane: usize, job: Job) -> bool {
        let mut queue = self.lock();
        let arrival = queue.arrivals;
        queue.arrivals += 1;
        let lane = &mut queue.lanes[lane];
        lane.jobs.push_back((arrival, job));
        if lane.running >= lane.limit {
            // A thread running one of the lane's calls takes it when that call ends.
            return false;
        }
        self.arrivals.store(queue.arrivals, Relaxed);
        if queue.spinning > queue.promised {
            // A thread watching for calls takes it, with no wake-up to pay.
            queue.promised += 1;
            return true;
        }
        if queue.idle > queue.signals {
            queue.signals += 1;
            drop(queue);
            self.ready.notify_one();
        } else if queue.threads.len() < self.max_threads {
            // Every thread is running a call, and the lanes' calls running add up to fewer than
            // the threads allowed: a new one takes this call.
            let core = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name("multisource-async".into())
                .spawn(move || core.work());
            match spawned {
                Ok(thread) => queue.threads.push(thread),
                // No thread could be started: the threads already running take the call when
                // theirs end; with none at all, it runs here rather than never.
                Err(_) if queue.threads.is_empty() => {
                    if let Some((lane, job)) = queue.take() {
                        drop(queue);
                        job(&self.db);
                        self.lock().lanes[lane].running -= 1;
                    }
                }
                Err(_) => {}
            }
        }
        false
    }

    /// A thread's life: run calls until the last handle is dropped and none is left that it may
    /// take (a call left in a full lane is taken by a thread of that lane). Between calls, a
    /// thread watches for the next one a little while before it sleeps: a wake-up costs tens of
    /// microseconds on a busy machine, the watch a few.
    fn work(&self) {
        let mut queue = self.lock();
        loop {
            if let Some((lane, job)) = queue.take() {
                drop(queue);
                job(&self.db);
                queue = self.lock();
                queue.lanes[lane].running -= 1;
                continue;
            }
            if queue.closed {
                return;
            }
            if queue.spinning >= SPINNERS {
                queue = self.sleep(queue);
                continue;
            }
            queue.spinning += 1;
            let seen = queue.arrivals;
            drop(queue);
            let start = Instant::now();
            while self.arrivals.load(Relaxed) == seen && start.elapsed() < SPIN {
                std::hint::spin_loop();
            }
            queue = self.lock();
            queue.spinning -= 1;
            // A call promised to the watchers is taken by this one or another, under this lock.
            queue.promised = queue.promised.min(queue.spinning);
            if self.arrivals.load(Relaxed) != seen || queue.closed {
                continue;
            }
            queue = self.sleep(queue);
        }
    }

    /// Waits, idle, for a wake-up.
    fn sleep<'q>(&'q self, mut queue: MutexGuard<'q, Queue>) -> MutexGuard<'q, Queue> {
        queue.idle += 1;
        while queue.signals == 0 && !queue.closed {
            queue = self.ready.wait(queue).unwrap_or_else(|e| e.into_inner());
        }
        queue.signals = queue.signals.saturating_sub(1);
        queue.idle -= 1;
        queue
    }
}

impl Handle {
    /// Closes the queue and waits for the threads, once each has run the calls it may take.
    fn stop(&self) {
        let threads = {
            let mut queue = self.core.lock();
            queue.closed = true;
            std::mem::take(&mut queue.threads)
        };
        self.core.ready.notify_all();
        let me = std::thread::current().id();
        for thread in threads {
            // The last handle can be dropped by a call running on one of the threads (a closure
            // that held a clone): that thread ends by itself after the call.
            if thread.thread().id() != me {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A call of an [`AsyncDatabase`]: a future of the call's `Result`.
///
/// It does nothing until first polled; see the module's documentation for what dropping it
/// does at each point.
#[must_use = "a call does nothing unless it is awaited"]
pub struct Call<T> {
    state: State<T>,
}

enum State<T> {
    /// Not polled yet: what starts it, and the handle that keeps its threads.
    Ready(Box<dyn FnOnce(Arc<Slot<T>>) -> bool + Send>, Option<AsyncDatabase>),
    /// Handed over: where its answer comes, and the handle that keeps its threads.
    Running {
        slot: Arc<Slot<T>>,
        /// Held, not read: the threads stay until the call is answered or dropped.
        _keep: Option<AsyncDatabase>,
    },
    /// Answered.
    Done,
}

/// Where a call's answer comes.
struct Slot<T> {
    inner: Mutex<SlotInner<T>>,
    /// Set once the answer is in `inner`, for a caller that watches for it.
    answered: AtomicBool,
}

struct SlotInner<T> {
    answer: Option<Result<T>>,
    waker: Option<Waker>,
    /// The call was dropped: its answer is not wanted, and it is not run if not yet started.
    abandoned: bool,
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, SlotInner<T>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` unless the call was dropped first, and hands over its answer.
    fn run(&self, f: impl FnOnce() -> Result<T>) {
        if self.lock().abandoned {
            return;
        }
        let answer = f();
        let waker = {
            let mut inner = self.lock();
            inner.answer = Some(answer);
            self.answered.store(true, Release);
            inner.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T: Send + 'static> Call<T> {
    fn on_workers(
        db: AsyncDatabase,
        lane: usize,
        call: impl FnOnce(&Database) -> Result<T> + Send + 'static,
    ) -> Call<T> {
        let core = Arc::clone(&db.handle.core);
        let start = move |slot: Arc<Slot<T>>| {
            let job = move |db: &Database| slot.run(|| call(db));
            core.submit(lane, Box::new(job))
        };
        Call { state: State::Ready(Box::new(start), Some(db)) }
    }

    fn on_own_thread(call: impl FnOnce() -> Result<T> + Send + 'static) -> Call<T> {
        let start = move |slot: Arc<Slot<T>>| {
            let call = Arc::new(Mutex::new(Some(call)));
            let spawned = std::thread::Builder::new().name("multisource-open".into()).spawn({
                let (slot, call) = (Arc::clone(&slot), Arc::clone(&call));
                move || run_once(&slot, &call)
            });
            // Opening takes long: the caller does not watch for it. With no thread to be had,
            // it opens here rather than fail with an error that would name no source.
            if spawned.is_err() {
                run_once(&slot, &call);
            }
            false
        };
        Call { state: State::Ready(Box::new(start), None) }
    }
}

/// Runs the call kept in `call` into `slot`, if no one has taken it yet.
fn run_once<T, F: FnOnce() -> Result<T>>(slot: &Slot<T>, call: &Mutex<Option<F>>) {
    let call = call.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(call) = call {
        slot.run(call);
    }
}

impl<T> Future for Call<T> {
    type Output = Result<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let this = self.get_mut();
        if let State::Ready(..) = this.state {
            let State::Ready(start, keep) = std::mem::replace(&mut this.state, State::Done) else {
                unreachable!("matched just above")
            };
            let slot = Arc::new(Slot {
                inner: Mutex::new(SlotInner {
                    answer: None,
                    waker: Some(cx.waker().clone()),
                    abandoned: false,
                }),
                answered: AtomicBool::new(false),
            });
            this.state = State::Running { slot: Arc::clone(&slot), _keep: keep };
            if start(Arc::clone(&slot)) {
                // Taken at once by a thread that was watching for calls: a short call answers
                // in less time than a wake-up of this thread would take, so watch for it, a
                // bounded moment, before going to sleep.
                let begin = Instant::now();
                while !slot.answered.load(Acquire) && begin.elapsed() < WATCH {
                    std::hint::spin_loop();
                }
            }
        }
        match &this.state {
            State::Running { slot, .. } => {
                let mut inner = slot.lock();
                match inner.answer.take() {
                    Some(answer) => {
                        drop(inner);
                        this.state = State::Done;
                        Poll::Ready(answer)
                    }
                    None => {
                        match &mut inner.waker {
                            Some(waker) if waker.will_wake(cx.waker()) => {}
                            waker => *waker = Some(cx.waker().clone()),
                        }
                        Poll::Pending
                    }
                }
            }
            State::Done => panic!("a multisource call was polled after it was answered"),
            State::Ready(..) => unreachable!("started just above"),
        }
    }
}

impl<T> Drop for Call<T> {
    fn drop(&mut self) {
        if let State::Running { slot, .. } = &self.state {
            slot.lock().abandoned = true;
        }
    }
}

impl<T> fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Ready(..) => "not started",
            State::Running { .. } => "running",
            State::Done => "answered",
        };
        f.debug_struct("Call").field("state", &state).finish()
    }
}

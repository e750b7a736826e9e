//! Group commit on a writable source's writer, of either kind: the writes that arrive while the
//! writer is busy are run together, in one transaction, with one commit (and one sync).
//!
//! A write that finds nobody writing leads: it leases a writer (a SQLite file's one writer
//! connection, or a session of a PostgreSQL source's writers), runs its own call first, in a
//! transaction of its own (`BEGIN IMMEDIATE` on SQLite, `BEGIN` on PostgreSQL) and without a
//! savepoint (a lone writer pays nothing more than a lock it takes alone), then takes the calls
//! that queued meanwhile, in their order of arrival, and runs each in a savepoint of its own
//! (`SAVEPOINT multisource_call`, a name the SQLite guard refuses to the calls themselves): a
//! call that fails is rolled back to its savepoint and gets its own error, the others stay. A
//! call's savepoint is released together with the next call's `SAVEPOINT`, in one statement (one
//! round trip to a server), and the last by the `COMMIT`. Then the batch commits, checks the file
//! as every write does, hands the writer to the next call waiting, and only then answers every
//! call it held: a call is acknowledged after the commit that holds it, and a commit that fails
//! fails every call it held. A batch takes at most [`MAX_CALLS`] calls and stops taking them
//! [`MAX_SPAN`] after it took the first (a server's kind gives its own span), so that a flood of
//! writes cannot hold the lock for long; the
//! calls still queued are led by the first of them, woken for that (one wake-up per batch, not
//! per call).
//!
//! A queued call's query runs on the leader's thread, and its caller waits, its stack untouched,
//! until the answer is in: the query must be `Send` (and its result too), which the router's
//! `call_write` asks for. A closure that is not ([`crate::Router::call_write_here`], behind
//! `Database::write`) is never run by another thread: when it reaches the head of the queue, the
//! batch before it ends and it leads the next.
//!
//! With group commit off (`group-commit = false`), every call leads a batch of its own at once:
//! one transaction per call, as before group commit (on PostgreSQL, as many at once as the
//! source has writer sessions).

#![allow(unsafe_code)]

use std::any::Any;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

use diesel::QueryResult;

use crate::backend::{Conn, Leased, Pools};
use crate::error::{Error, PoolRole, Result};
use crate::moves::{Departure, Moves};
use crate::route::Access;
use crate::source::{Explained, SourceId};
use crate::stats::Counters;

/// The most calls one transaction holds.
pub(crate) const MAX_CALLS: usize = 128;

/// The most batches one leader runs in a row, while calls keep coming: its own call, answered in
/// the first, returns after the last.
pub(crate) const MAX_ROUNDS: usize = 4;

/// How long after it took its first queued call a batch on a SQLite file stops taking calls: its
/// write lock keeps checkpoints from finishing meanwhile.
pub(crate) const MAX_SPAN: Duration = Duration::from_millis(4);

/// The savepoint of each call after the first of a batch; the statement that releases the
/// previous call's savepoint and opens the next one's; and the rollback of a failed call.
const SAVEPOINT: &str = "SAVEPOINT multisource_call";
const RELEASE_AND_SAVEPOINT: &str = "RELEASE multisource_call; SAVEPOINT multisource_call";
const ROLLBACK_TO: &str = "ROLLBACK TO multisource_call; RELEASE multisource_call";

/// The writes waiting for a source's writer.
#[derive(Debug)]
pub(crate) struct Batcher {
    waiting: Mutex<Waiting>,
    enabled: bool,
    /// How long after it took its first queued call a batch stops taking calls.
    span: Duration,
}

#[derive(Debug, Default)]
struct Waiting {
    /// True while a call leads: holds, or is about to take, the writer.
    leading: bool,
    queue: VecDeque<TicketRef>,
}

/// A call waiting in the queue: it lives on its caller's stack, which waits until the ticket is
/// answered or handed the lead, or takes it out of the queue itself, under the queue's lock.
struct Ticket {
    status: AtomicU8,
    thread: Thread,
    member: *mut (dyn Member + 'static),
    sendable: bool,
}

const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const DONE: u8 = 2;
const LEAD: u8 = 3;

#[derive(Debug, Clone, Copy)]
struct TicketRef(NonNull<Ticket>);

// SAFETY: a ticket is reached through its reference only under the queue's lock or by the
// leader that took it; the member it points to is `Send` when `sendable` (see `Ticket`), and
// otherwise only its own thread runs it.
unsafe impl Send for TicketRef {}

impl std::fmt::Debug for Ticket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticket").field("status", &self.status).finish_non_exhaustive()
    }
}

/// One call of a batch, its query and its answer.
trait Member {
    /// The chat the call was routed by, if it was.
    fn chat(&self) -> Option<i64>;
    /// Runs the call's query on the writer, under the guard's rules for writes on SQLite; true
    /// when it returned `Ok`.
    fn run(&mut self, writer: &mut Leased<'_>) -> bool;
    /// Replaces the call's answer by `error`: what it wrote was not committed.
    fn fail(&mut self, error: Error);
    /// The call's chat left the source: the call does not run here.
    fn moved(&mut self, departure: Departure);
}

/// A call's query, then its answer (or the panic it raised, for its caller's thread).
struct Typed<'a, F, T> {
    chat: Option<i64>,
    query: Option<F>,
    answer: Option<Result<T>>,
    panic: Option<Box<dyn Any + Send>>,
    moved: Option<Departure>,
    id: &'a SourceId,
}

/// What became of a write given to a source.
pub(crate) enum Written<T, F> {
    /// It ran there: its answer.
    Done(Result<T>),
    /// Its chat had left the source: it did not run, and goes, with its query, where the chat
    /// went.
    Moved {
        /// Where the chat went, as the source recorded it.
        departure: Departure,
        /// The call's query, not run.
        query: F,
    },
}

impl<F, T> Member for Typed<'_, F, T>
where
    F: FnOnce(Conn<'_>) -> QueryResult<T>,
{
    fn chat(&self) -> Option<i64> {
        self.chat
    }

    fn moved(&mut self, departure: Departure) {
        self.moved = Some(departure);
    }

    fn run(&mut self, writer: &mut Leased<'_>) -> bool {
        let Some(query) = self.query.take() else { return false };
        match catch_unwind(AssertUnwindSafe(|| writer.run_write(query))) {
            Ok(Ok(value)) => {
                self.answer = Some(Ok(value));
                true
            }
            Ok(Err(error)) => {
                self.answer = Some(Err(self.id.failure(error, Access::Write, &writer.explain())));
                false
            }
            Err(payload) => {
                self.panic = Some(payload);
                false
            }
        }
    }

    fn fail(&mut self, error: Error) {
        if self.panic.is_none() {
            self.answer = Some(Err(error));
        }
    }
}

impl<'a, F, T> Typed<'a, F, T> {
    fn new(id: &'a SourceId, chat: Option<i64>, query: F) -> Self {
        Typed { chat, query: Some(query), answer: None, panic: None, moved: None, id }
    }

    /// The call's answer, on its caller's thread: its panic goes on from here.
    fn answer(self) -> Written<T, F> {
        if let Some(payload) = self.panic {
            resume_unwind(payload);
        }
        if let (Some(departure), Some(query)) = (self.moved, self.query) {
            return Written::Moved { departure, query };
        }
        let id = self.id;
        Written::Done(
            self.answer
                .unwrap_or_else(|| Err(library_error(id, "the write ended without an answer"))),
        )
    }
}

/// What a batch needs of its source.
pub(crate) struct Writer<'a> {
    pub(crate) pools: &'a Pools,
    pub(crate) batcher: &'a Batcher,
    pub(crate) id: &'a SourceId,
    pub(crate) counters: &'a Counters,
    /// What the source says of the chats that left it.
    pub(crate) moves: &'a Moves,
}

impl Batcher {
    /// The queue of a writable source; `enabled` is its `group-commit` setting, `span` how long
    /// a batch takes calls ([`MAX_SPAN`] on a file).
    pub(crate) fn new(enabled: bool, span: Duration) -> Batcher {
        Batcher { waiting: Mutex::new(Waiting::default()), enabled, span }
    }

    /// True when no call waits.
    fn is_idle(&self) -> bool {
        self.lock().queue.is_empty()
    }

    /// The writes waiting now.
    pub(crate) fn waiting(&self) -> u32 {
        u32::try_from(self.lock().queue.len()).unwrap_or(u32::MAX)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        // Nothing panics while the lock is held.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Writer<'_> {
    /// Runs `query`, a call routed by `chat` (if by a chat), as one call of a batch, possibly on
    /// the thread of the batch's leader; a call whose chat left the source is handed back.
    pub(crate) fn write_sendable<T: Send, F>(&self, chat: Option<i64>, query: F) -> Written<T, F>
    where
        F: FnOnce(Conn<'_>) -> QueryResult<T> + Send,
    {
        let mut member = Typed::new(self.id, chat, query);
        match self.submit(&mut member, true) {
            Ok(()) => member.answer(),
            Err(error) => Written::Done(Err(error)),
        }
    }

    /// [`Writer::write_sendable`] for a query that must run on this thread.
    pub(crate) fn write_here<T, F>(&self, chat: Option<i64>, query: F) -> Written<T, F>
    where
        F: FnOnce(Conn<'_>) -> QueryResult<T>,
    {
        let mut member = Typed::new(self.id, chat, query);
        match self.submit(&mut member, false) {
            Ok(()) => member.answer(),
            Err(error) => Written::Done(Err(error)),
        }
    }

    /// Runs `member` in a batch: leads one when nobody does, else waits in the queue until a
    /// leader answered it or handed it the lead. Fails, with `member` not run, when the writer
    /// could not be had within the source's timeout.
    fn submit(&self, member: &mut dyn Member, sendable: bool) -> Result<()> {
        let batcher = self.batcher;
        if !batcher.enabled {
            return self.lead(member, false);
        }
        let mut waiting = batcher.lock();
        if !waiting.leading {
            waiting.leading = true;
            drop(waiting);
            return self.lead(member, true);
        }
        // The ticket, which holds the erased pointer, is answered or out of the queue before
        // this function returns, and nothing else keeps it.
        let ticket = Ticket {
            status: AtomicU8::new(QUEUED),
            thread: std::thread::current(),
            member: erase(member),
            sendable,
        };
        waiting.queue.push_back(TicketRef(NonNull::from(&ticket)));
        drop(waiting);
        let started = Instant::now();
        let mut deadline = Some(started + self.id.timeout);
        loop {
            match ticket.status.load(Ordering::Acquire) {
                DONE => {
                    self.counters.waited(started.elapsed());
                    return Ok(());
                }
                LEAD => {
                    self.counters.waited(started.elapsed());
                    return self.lead(member, true);
                }
                _ => {}
            }
            match deadline {
                Some(at) if Instant::now() >= at => {
                    let mut waiting = batcher.lock();
                    if ticket.status.load(Ordering::Acquire) == QUEUED {
                        let me = NonNull::from(&ticket);
                        waiting.queue.retain(|t| t.0 != me);
                        drop(waiting);
                        self.counters.checkout_timeout();
                        return Err(self.id.busy_pool_error(PoolRole::Writer, 1));
                    }
                    // Taken by a leader, or handed the lead: it will be answered.
                    deadline = None;
                }
                Some(at) => std::thread::park_timeout(at.saturating_duration_since(Instant::now())),
                None => std::thread::park(),
            }
        }
    }

    /// Leads a batch: `member` first, then (when `queued`) the calls waiting; then, while calls
    /// wait, up to [`MAX_ROUNDS`] batches in all, each answered as soon as it committed (a
    /// thread already running leads the next batch sooner than a sleeping one could be woken
    /// to); and hands the lead on to the next call waiting, whatever happens.
    fn lead(&self, member: &mut dyn Member, queued: bool) -> Result<()> {
        let handoff = queued.then_some(Handoff(self.batcher));
        let mut lease = match self.pools.writer_lease(self.id, self.counters) {
            Ok(lease) => lease,
            Err(error) => {
                // The lead goes on (the next call may find the writer free), and this call
                // fails, not run.
                drop(handoff);
                return Err(error);
            }
        };
        let mut own = Some(member);
        for round in 1..=MAX_ROUNDS {
            let mut batch = Batch::new(self, &mut lease);
            if let Some(member) = own.take() {
                batch.run(member, None);
            }
            while queued && let Some(ticket) = batch.take() {
                // SAFETY: a taken ticket stays alive, and its member untouched by its caller,
                // until the batch answers it (`Answers::drop`).
                let member = unsafe { &mut *ticket.0.as_ref().member };
                batch.run(member, Some(ticket));
            }
            batch.commit();
            let (answers, ran, broken) = (batch.answers(), batch.calls, batch.broken);
            drop(batch);
            // Its callers go on while the next batch runs.
            drop(answers);
            if !queued || broken || ran == 0 || round == MAX_ROUNDS || self.batcher.is_idle() {
                break;
            }
        }
        drop(lease);
        drop(handoff);
        Ok(())
    }
}

/// Gives the lead to the first call waiting, or leaves it free.
struct Handoff<'a>(&'a Batcher);

impl Drop for Handoff<'_> {
    fn drop(&mut self) {
        let mut waiting = self.0.lock();
        match waiting.queue.pop_front() {
            Some(next) => {
                // SAFETY: a queued ticket is alive while it is in the queue, and its caller
                // waits for `status` to change.
                let ticket = unsafe { next.0.as_ref() };
                let thread = ticket.thread.clone();
                ticket.status.store(LEAD, Ordering::Release);
                drop(waiting);
                thread.unpark();
            }
            None => waiting.leading = false,
        }
    }
}

/// The tickets a batch took, answered when dropped: their callers wake and read their answers.
struct Answers(Vec<TicketRef>);

impl Drop for Answers {
    fn drop(&mut self) {
        for ticket in self.0.drain(..) {
            // SAFETY: the caller of a taken ticket waits for `DONE`; once it is stored, the
            // ticket is not touched again.
            let ticket = unsafe { ticket.0.as_ref() };
            let thread = ticket.thread.clone();
            ticket.status.store(DONE, Ordering::Release);
            thread.unpark();
        }
    }
}

/// A batch being run on the writer.
struct Batch<'w, 'l, 'a> {
    writer: &'w Writer<'a>,
    lease: &'l mut Leased<'a>,
    /// A transaction is open.
    open: bool,
    /// A call ran in the open transaction: the next one runs in a savepoint.
    ran: bool,
    /// The last call's savepoint is still open, to be released with the next call's.
    pending_release: bool,
    /// The connection can no longer be trusted with a transaction: the batch takes no more
    /// calls, and the lease's end discards it.
    broken: bool,
    /// When the batch took its first queued call (a lone writer reads no clock).
    started: Option<Instant>,
    /// Calls run so far, and those of them that wrote what the commit will hold (the first
    /// apart: a lone writer allocates nothing).
    calls: usize,
    first_held: Option<*mut (dyn Member + 'static)>,
    held: Vec<*mut (dyn Member + 'static)>,
    /// The tickets to answer at the end.
    taken: Answers,
}

impl<'w, 'l, 'a> Batch<'w, 'l, 'a> {
    fn new(writer: &'w Writer<'a>, lease: &'l mut Leased<'a>) -> Self {
        Batch {
            writer,
            lease,
            open: false,
            ran: false,
            pending_release: false,
            broken: false,
            started: None,
            calls: 0,
            first_held: None,
            held: Vec::new(),
            taken: Answers(Vec::new()),
        }
    }

    /// The next call of the queue, when the batch may take one and the call may run here.
    fn take(&mut self) -> Option<TicketRef> {
        if self.broken || self.calls >= MAX_CALLS {
            return None;
        }
        let mut waiting = self.writer.batcher.lock();
        let next = *waiting.queue.front()?;
        let started = *self.started.get_or_insert_with(Instant::now);
        if started.elapsed() >= self.writer.batcher.span {
            return None;
        }
        // SAFETY: a queued ticket is alive while it is in the queue.
        let ticket = unsafe { next.0.as_ref() };
        if !ticket.sendable {
            // Its caller runs it, leading the next batch.
            return None;
        }
        waiting.queue.pop_front();
        ticket.status.store(TAKEN, Ordering::Relaxed);
        Some(next)
    }

    /// Runs one call: the first of a transaction as it is, the others in a savepoint; a call
    /// whose chat left the source, as the transaction sees it, not at all.
    fn run(&mut self, member: &mut dyn Member, ticket: Option<TicketRef>) {
        self.taken.0.extend(ticket);
        self.calls += 1;
        if self.broken {
            member.fail(self.library_error("the writer's connection failed in this batch; retry"));
            return;
        }
        if !self.open {
            // The source's record of moves is read again here, if it may have changed, under
            // the write lock the transaction holds from now on.
            if let Err(error) = self.lease.begin_write(self.writer.moves) {
                member.fail(self.writer.id.failure(error, Access::Write, &self.lease.explain()));
                return;
            }
            self.writer.counters.began_transaction();
            self.open = true;
            self.ran = false;
        }
        if let Some(departure) = member.chat().and_then(|chat| self.writer.moves.left(chat)) {
            member.moved(departure);
            return;
        }
        let first = !self.ran;
        let began = match (first, self.pending_release) {
            (true, _) => Ok(()),
            (false, true) => self.lease.execute(RELEASE_AND_SAVEPOINT),
            (false, false) => self.lease.execute(SAVEPOINT),
        };
        self.pending_release = false;
        if let Err(error) = began {
            let error = self.writer.id.failure(error, Access::Write, &self.lease.explain());
            member.fail(error);
            // Whether the previous call's savepoint was released is not known.
            self.abandon();
            return;
        }
        self.ran = true;
        let mut ok = member.run(self.lease);
        if self.lease.in_autocommit() {
            // SQLite rolled the whole transaction back (on a full disk, for one), or the call
            // ended it, which the guard refuses: nothing of the batch so far is in the file.
            self.open = false;
            self.broken = true;
            // Diesel still counts the transaction: this connection is not used again.
            let _ = self.lease.rollback();
            if ok {
                member.fail(self.library_error("the call's transaction ended inside the call"));
            }
            self.fail_held(|batch| {
                batch.library_error(
                    "the transaction holding this call was rolled back when another call of its \
                     batch failed; nothing of this call was written: retry it",
                )
            });
            return;
        }
        if !self.lease.depth_is_one() {
            // The call left a transaction of its own open (diesel's `begin_transaction`
            // without its end): roll it back; the call fails.
            while !self.lease.depth_is_one() {
                if self.lease.rollback().is_err() {
                    self.broken = true;
                    break;
                }
            }
            if ok {
                ok = false;
                member.fail(self.library_error(
                    "the call left a transaction of its own open; nothing of it was written",
                ));
            }
        }
        let ended = match (first, ok) {
            (_, true) if self.broken => Err(()),
            (true, true) => Ok(()),
            (false, true) => {
                self.pending_release = true;
                Ok(())
            }
            (true, false) => {
                self.open = false;
                self.ran = false;
                self.lease.rollback().map_err(drop)
            }
            (false, false) => self.lease.execute(ROLLBACK_TO).map_err(drop),
        };
        match (ended, ok) {
            (Ok(()), true) if self.first_held.is_none() => self.first_held = Some(erase(member)),
            (Ok(()), true) => self.held.push(erase(member)),
            (Ok(()), false) => {}
            (Err(()), _) => {
                // The savepoint could not be ended: the batch cannot be trusted.
                if ok {
                    member.fail(self.library_error("the call's savepoint could not be released"));
                }
                self.abandon();
            }
        }
    }

    /// Rolls the transaction back and fails every call it held.
    fn abandon(&mut self) {
        self.broken = true;
        self.pending_release = false;
        if self.open {
            self.open = false;
            let _ = self.lease.rollback();
        }
        self.fail_held(|batch| {
            batch.library_error(
                "the batch holding this call could not be committed; nothing of it was \
                 written: retry it",
            )
        });
    }

    /// Commits what the batch holds (releasing every savepoint still open) and checks the file,
    /// as every write does.
    fn commit(&mut self) {
        if !self.open {
            return;
        }
        self.open = false;
        self.pending_release = false;
        if let Err(error) = self.lease.commit() {
            // Every call gets the commit's error.
            let explained = self.lease.explain();
            self.fail_held(|batch| {
                let again = Explained {
                    refused: explained.refused.clone(),
                    busy_wait: explained.busy_wait,
                };
                batch.writer.id.failure(rebuild(&error), Access::Write, &again)
            });
            self.broken = true;
            return;
        }
        if let Some(fault) = self.writer.pools.fault_after_write() {
            // The first call's error saves what the writer sees of a removed file; the others
            // name where it went.
            self.fail_held(|batch| {
                let writer = batch.writer;
                writer.pools.file_error(writer.id, fault, Some(&mut *batch.lease))
            });
        }
    }

    /// The tickets to answer, taken from the batch, which is over.
    fn answers(&mut self) -> Answers {
        Answers(std::mem::take(&mut self.taken.0))
    }

    /// Fails every call the transaction held, each with an error of its own.
    fn fail_held(&mut self, mut error: impl FnMut(&mut Self) -> Error) {
        let first = self.first_held.take();
        for member in first.into_iter().chain(std::mem::take(&mut self.held)) {
            let error = error(self);
            // SAFETY: the members held are the leader's own, or those of tickets taken and not
            // yet answered, alive until their `Answers` is dropped.
            unsafe { (*member).fail(error) };
        }
    }

    fn library_error(&self, message: &str) -> Error {
        library_error(self.writer.id, message)
    }
}

/// An error of a write that the library, not the database, found.
fn library_error(id: &SourceId, message: &str) -> Error {
    let error = diesel::result::Error::QueryBuilderError(message.into());
    id.failure(error, Access::Write, &Explained::default())
}

/// Diesel's error again, for one more call of a batch whose commit failed.
fn rebuild(error: &diesel::result::Error) -> diesel::result::Error {
    match error {
        diesel::result::Error::DatabaseError(kind, info) => {
            diesel::result::Error::DatabaseError(*kind, Box::new(info.message().to_owned()))
        }
        other => diesel::result::Error::QueryBuilderError(other.to_string().into()),
    }
}

impl Drop for Batch<'_, '_, '_> {
    /// A batch dropped before its commit, which only a panic of the library's own could do,
    /// committed nothing: its calls fail, and are answered when its `Answers` go.
    fn drop(&mut self) {
        if self.open {
            self.abandon();
        }
    }
}

/// The member with its lifetime erased, for a ticket and for the list of calls a commit holds.
fn erase(member: &mut dyn Member) -> *mut (dyn Member + 'static) {
    // SAFETY: only the lifetime changes; every pointer is used only while its member is alive:
    // a ticket's until it is answered or out of the queue, a held one while the batch runs.
    unsafe { std::mem::transmute::<*mut (dyn Member + '_), _>(member as *mut _) }
}

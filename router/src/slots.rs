//! The connections of one pool of a SQLite source, in slots, so that a call leases an idle one
//! with a single `try_lock`.
//!
//! A slot opens its connection when a call first needs it, on the caller's thread (with the
//! source's pragmas, by [`Manager::connect`]), and keeps it until it breaks or the source is
//! dropped; a call leases it by locking the slot, and returns it by unlocking. There are as many
//! slots as the pool may have connections, so the bound of `pool-size` holds. (A pool such as
//! r2d2's opens connections on a thread of its own, which can still hold one open after the
//! source is dropped: here, dropping the source closes every connection before it returns, so
//! that its files are closed, and the writer last.)
//!
//! When every slot is leased, a caller waits on a condition variable until a lease ends or the
//! source's timeout passes.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use crate::sqlite::{Guarded, Manager};

/// The connections of one pool, in slots.
pub(crate) struct Slots {
    manager: Manager,
    slots: Box<[Mutex<Option<Guarded>>]>,
    waiters: AtomicUsize,
    wait_lock: Mutex<()>,
    freed: Condvar,
}

/// A leased connection; the lease ends when it is dropped.
pub(crate) struct Lease<'a> {
    // Always `Some` until the lease is dropped, which takes it to unlock the slot first.
    slot: Option<MutexGuard<'a, Option<Guarded>>>,
    slots: &'a Slots,
}

/// Why no connection could be leased.
pub(crate) enum Unavailable {
    /// Every connection stayed leased for the whole timeout.
    Busy,
    /// A new connection could not be opened: why.
    Open(diesel::r2d2::Error),
    /// A new connection was needed, and the check made before opening it failed.
    Refused,
}

impl Slots {
    /// `size` slots of connections opened by `manager`.
    pub(crate) fn new(manager: Manager, size: u32) -> Slots {
        let slots = (0..size).map(|_| Mutex::new(None)).collect();
        Slots {
            manager,
            slots,
            waiters: AtomicUsize::new(0),
            wait_lock: Mutex::new(()),
            freed: Condvar::new(),
        }
    }

    /// The most connections the pool opens.
    pub(crate) fn size(&self) -> u32 {
        u32::try_from(self.slots.len()).unwrap_or(u32::MAX)
    }

    /// The connections open now: those of the slots no call holds, and those leased.
    pub(crate) fn open_connections(&self) -> u32 {
        let open = self
            .slots
            .iter()
            .filter(|slot| match slot.try_lock() {
                Ok(guard) => guard.is_some(),
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner().is_some(),
                // Leased: a lease always holds a connection.
                Err(TryLockError::WouldBlock) => true,
            })
            .count();
        u32::try_from(open).unwrap_or(u32::MAX)
    }

    /// Leases a connection, waiting up to `timeout` when all are leased. Before a new connection
    /// is opened, `may_open` is asked (r2d2 would retry a failing open for the whole timeout).
    /// Returns the lease and, when it had to wait, how long.
    pub(crate) fn lease(
        &self,
        timeout: Duration,
        may_open: &dyn Fn() -> bool,
    ) -> Result<(Lease<'_>, Option<Duration>), Unavailable> {
        if let Some(lease) = self.try_lease(may_open)? {
            return Ok((lease, None));
        }
        let started = Instant::now();
        let deadline = started + timeout;
        // Announce the wait before looking again. The releaser's read-modify-write of `waiters` in
        // `Lease::drop` is ordered with this one: if it comes later it sees the waiter and wakes
        // it; if it comes first, it carries the slot's release to this thread, whose look then
        // finds the slot free.
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let result = self.wait(deadline, may_open);
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        result.map(|lease| (lease, Some(started.elapsed())))
    }

    fn wait(
        &self,
        deadline: Instant,
        may_open: &dyn Fn() -> bool,
    ) -> Result<Lease<'_>, Unavailable> {
        let mut guard = self.wait_lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(lease) = self.try_lease(may_open)? {
                return Ok(lease);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Unavailable::Busy);
            }
            guard = match self.freed.wait_timeout(guard, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// Leases an idle connection, or opens one in an empty slot; `None` when every slot is leased.
    fn try_lease(&self, may_open: &dyn Fn() -> bool) -> Result<Option<Lease<'_>>, Unavailable> {
        let count = self.slots.len();
        let start = home_slot(count);
        let mut empty = None;
        for i in 0..count {
            let index = (start + i) % count;
            let guard = match self.slots[index].try_lock() {
                Ok(guard) => guard,
                Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
                Err(TryLockError::WouldBlock) => continue,
            };
            match guard.is_some() {
                true => return Ok(Some(Lease { slot: Some(guard), slots: self })),
                // Prefer an open connection anywhere to opening a new one here.
                false => empty = empty.or(Some(guard)),
            }
        }
        match empty {
            Some(mut guard) => {
                if !may_open() {
                    return Err(Unavailable::Refused);
                }
                let conn = self.manager.connect().map_err(Unavailable::Open)?;
                *guard = Some(conn);
                Ok(Some(Lease { slot: Some(guard), slots: self }))
            }
            None => Ok(None),
        }
    }
}

/// Where a thread starts looking: threads spread over the slots, so that they rarely meet.
fn home_slot(count: usize) -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static HOME: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    HOME.with(|home| *home % count.max(1))
}

impl Deref for Lease<'_> {
    type Target = Guarded;

    fn deref(&self) -> &Guarded {
        match self.slot.as_deref() {
            Some(Some(conn)) => conn,
            _ => unreachable!("a lease holds a connection until it is dropped"),
        }
    }
}

impl DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Guarded {
        match self.slot.as_deref_mut() {
            Some(Some(conn)) => conn,
            _ => unreachable!("a lease holds a connection until it is dropped"),
        }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(mut slot) = self.slot.take() {
            // A connection left broken or inside a transaction, or by a panic in the middle of a
            // call, goes back to r2d2, which closes it; the slot opens a new one when it is next
            // needed.
            let broken = slot.as_mut().is_some_and(crate::sqlite::is_broken);
            if broken {
                *slot = None;
            }
            // Unlock the slot before looking for waiters, so that a woken waiter finds it free.
            drop(slot);
        }
        // A read-modify-write rather than a load, so that it is ordered after the unlock above
        // and with the waiters' increments (see `Slots::lease`).
        if self.slots.waiters.fetch_add(0, Ordering::SeqCst) > 0 {
            let _guard = self.slots.wait_lock.lock().unwrap_or_else(|e| e.into_inner());
            self.slots.freed.notify_one();
        }
    }
}

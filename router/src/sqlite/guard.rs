//! The guard on every SQLite connection multisource opens: what SQL run by a query or a closure
//! may not do, and the few direct calls into SQLite that diesel does not offer.
//!
//! Diesel does not give access to the `sqlite3` handle of its connections, so the handle is
//! caught as the connection is opened: an auto-extension (which SQLite runs on every connection
//! it opens in the process) records it on the opening thread, and only when [`open`] armed that
//! thread, so the bot's other SQLite connections are left alone. With the handle, each connection
//! gets, for its whole life:
//!
//! - `SQLITE_LIMIT_ATTACHED = 0`: no `ATTACH`, and so no `VACUUM` or `VACUUM INTO` either (both
//!   attach a database), whatever SQL runs; the library raises it for its own rescue copy only;
//! - `SQLITE_DBCONFIG_DEFENSIVE` (no `writable_schema`, no writes to shadow tables),
//!   `SQLITE_DBCONFIG_TRUSTED_SCHEMA` off (functions with side effects cannot run from another
//!   bot's views or triggers), and the query planner stability guarantee (see below);
//! - an authorizer that, while a query or a closure runs ([`Mode::Read`] or [`Mode::Write`]),
//!   refuses what would escape the call's transaction or outlive the call on a pooled connection:
//!   `ATTACH`/`DETACH`, `BEGIN`/`COMMIT`/`ROLLBACK` and multisource's own savepoints in writes
//!   (a read may open a transaction for a consistent snapshot: it is rolled back when the call
//!   ends), `PRAGMA` assignments (but for the introspection pragmas that take an
//!   argument), `PRAGMA wal_checkpoint`/`optimize`/`incremental_vacuum`, temporary tables,
//!   views, indexes and triggers, and `load_extension`. The library's own statements run in
//!   [`Mode::Library`], where nothing is refused.
//!
//! SQLite consults the authorizer when it prepares a statement, on the thread that prepares it,
//! so the mode is a field of the connection's own state rather than of a thread: a closure that
//! hands its connection to another thread is held to the same rules.
//!
//! The query planner stability guarantee (`SQLITE_DBCONFIG_ENABLE_QPSG`): SQLite lets its planner
//! look at the values bound to some parameters, a `LIMIT ?` among them, which every diesel
//! `.first()` and `.limit(n)` produces. A statement planned that way expires as soon as such a
//! parameter is bound again, so each call re-prepares it; for the message queries (a three-table
//! join of 28 columns) the re-preparation costs five times the query. The guarantee makes plans
//! independent of bound values, so diesel's statement cache keeps working.

#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::Mutex;
use std::sync::Once;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use diesel::{ConnectionError, SqliteConnection};
use libsqlite3_sys as ffi;

/// Who is running statements on a connection now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Mode {
    /// The library's own statements: nothing is refused.
    Library = 0,
    /// A read's query or closure.
    Read = 1,
    /// A write's query or closure, inside the library's transaction.
    Write = 2,
}

/// The state the authorizer of one connection reads: boxed, so that its address is stable for
/// SQLite, and dropped only after the connection is closed (see [`Guarded`]).
#[derive(Debug)]
struct State {
    mode: AtomicU8,
    /// What the authorizer last refused, for the error message.
    refused: Mutex<Option<String>>,
    /// How long a lock held by another connection is waited for.
    timeout: Duration,
    /// The busy handler's record of the current wait.
    busy: Mutex<BusyLog>,
}

/// What the busy handler saw.
#[derive(Debug, Default)]
struct BusyLog {
    /// When the current wait for a lock began.
    started: Option<Instant>,
    /// How long the last wait lasted before it gave up.
    gave_up_after: Option<Duration>,
}

/// A SQLite connection opened by multisource, with its guard.
pub(crate) struct Guarded {
    // Declared before `state` so that the connection is closed before its state is freed.
    conn: SqliteConnection,
    state: Box<State>,
    handle: *mut ffi::sqlite3,
    /// The file's data version when this connection's last write transaction ended: a
    /// different one at the next `BEGIN` means another connection committed meanwhile (see
    /// [`Guarded::data_version`]).
    pub(crate) ended_at_version: Option<u32>,
}

// SAFETY: `handle` is the handle of `conn`, which diesel declares `Send`; it is only used through
// `&mut self` (or `&self` for calls SQLite makes thread-safe: it is built `SQLITE_THREADSAFE=1`),
// never after `conn` is dropped. `State` is `Sync`.
unsafe impl Send for Guarded {}

impl std::fmt::Debug for Guarded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guarded").field("mode", &self.mode()).finish_non_exhaustive()
    }
}

thread_local! {
    /// Armed by [`open`] on the thread that opens a connection; the auto-extension fills it.
    static CAPTURE: Cell<Option<*mut ffi::sqlite3>> = const { Cell::new(None) };
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

/// The auto-extension: records the handle of a connection opened on an armed thread.
unsafe extern "C" fn capture(
    db: *mut ffi::sqlite3,
    _error: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    if ARMED.with(Cell::get) {
        CAPTURE.with(|c| c.set(Some(db)));
    }
    ffi::SQLITE_OK
}

/// Opens `uri` (a `file:` URI) with diesel and puts the guard on the connection; a lock held by
/// another connection is waited for up to `timeout`.
pub(crate) fn open(uri: &str, timeout: Duration) -> Result<Guarded, ConnectionError> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: `capture` has the signature SQLite calls auto-extensions with, never unwinds,
        // and only touches thread-locals.
        unsafe {
            ffi::sqlite3_auto_extension(Some(capture));
        }
    });
    ARMED.with(|a| a.set(true));
    CAPTURE.with(|c| c.set(None));
    let opened = diesel::Connection::establish(uri);
    ARMED.with(|a| a.set(false));
    let handle = CAPTURE.with(Cell::take);
    let conn: SqliteConnection = opened?;
    let Some(handle) = handle else {
        return Err(ConnectionError::BadConnection(
            "SQLite did not run multisource's connection hook; the connection is not guarded"
                .into(),
        ));
    };
    let state = Box::new(State {
        mode: AtomicU8::new(Mode::Library as u8),
        refused: Mutex::new(None),
        timeout,
        busy: Mutex::new(BusyLog::default()),
    });
    let guarded = Guarded { conn, state, handle, ended_at_version: None };
    guarded.configure()?;
    Ok(guarded)
}

impl Guarded {
    fn configure(&self) -> Result<(), ConnectionError> {
        let failed = |what: &str| ConnectionError::BadConnection(format!("cannot set {what}"));
        // SAFETY: `handle` is open; the options take an int and an optional int pointer.
        unsafe {
            ffi::sqlite3_limit(self.handle, ffi::SQLITE_LIMIT_ATTACHED, 0);
            for (option, value, what) in [
                (ffi::SQLITE_DBCONFIG_DEFENSIVE, 1, "SQLITE_DBCONFIG_DEFENSIVE"),
                (ffi::SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, "SQLITE_DBCONFIG_TRUSTED_SCHEMA"),
                (ffi::SQLITE_DBCONFIG_ENABLE_QPSG, 1, "SQLITE_DBCONFIG_ENABLE_QPSG"),
                (ffi::SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, "load_extension off"),
            ] {
                let rc = ffi::sqlite3_db_config(
                    self.handle,
                    option,
                    value as c_int,
                    std::ptr::null_mut::<c_int>(),
                );
                if rc != ffi::SQLITE_OK {
                    return Err(failed(what));
                }
            }
            let state: *const State = &*self.state;
            let rc =
                ffi::sqlite3_set_authorizer(self.handle, Some(authorize), state as *mut c_void);
            if rc != ffi::SQLITE_OK {
                return Err(failed("the authorizer"));
            }
            let rc = ffi::sqlite3_busy_handler(self.handle, Some(busy), state as *mut c_void);
            if rc != ffi::SQLITE_OK {
                return Err(failed("the busy handler"));
            }
        }
        Ok(())
    }

    /// The connection, for the library's own statements.
    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }

    /// Runs `work` on the connection in `mode` (the authorizer's rules for a query or a closure),
    /// and back in [`Mode::Library`] afterwards, even if `work` panics.
    pub(crate) fn run_as<T>(
        &mut self,
        mode: Mode,
        work: impl FnOnce(&mut SqliteConnection) -> T,
    ) -> T {
        self.state.mode.store(mode as u8, Ordering::Relaxed);
        let _reset = Reset(&self.state);
        work(&mut self.conn)
    }

    /// The mode the connection is in.
    fn mode(&self) -> Mode {
        match self.state.mode.load(Ordering::Relaxed) {
            1 => Mode::Read,
            2 => Mode::Write,
            _ => Mode::Library,
        }
    }

    /// What the authorizer refused last, taken: the statement a query or closure was not allowed
    /// to run.
    pub(crate) fn take_refused(&self) -> Option<String> {
        self.state.refused.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// How long the last wait for a lock lasted before SQLite gave up, taken; `None` when SQLite
    /// answered busy without waiting (it does when waiting could only deadlock).
    pub(crate) fn take_busy_wait(&self) -> Option<Duration> {
        self.state.busy.lock().unwrap_or_else(|e| e.into_inner()).gave_up_after.take()
    }

    /// The data version of the main database as this connection's pager knows it
    /// (`SQLITE_FCNTL_DATA_VERSION`): it changes when this connection commits, and when the
    /// connection begins a transaction and finds that another connection, of this process or
    /// another, committed since its last one. Between two transactions of the connection it
    /// does not change. `None` if SQLite could not say.
    pub(crate) fn data_version(&self) -> Option<u32> {
        let mut version: u32 = 0;
        // SAFETY: `handle` is open; SQLITE_FCNTL_DATA_VERSION writes an `unsigned int` into the
        // pointer, and reads nothing else. A null database name is the main database (without
        // a comparison of names).
        let rc = unsafe {
            ffi::sqlite3_file_control(
                self.handle,
                std::ptr::null(),
                ffi::SQLITE_FCNTL_DATA_VERSION,
                (&raw mut version).cast(),
            )
        };
        (rc == ffi::SQLITE_OK).then_some(version)
    }

    /// True when no transaction is open on the connection.
    pub(crate) fn in_autocommit(&self) -> bool {
        // SAFETY: `handle` is open; the call only reads a flag.
        unsafe { ffi::sqlite3_get_autocommit(self.handle) != 0 }
    }

    /// The first page of the file's write-ahead-log index, where SQLite keeps the header that
    /// every commit rewrites, as SQLite's VFS maps it for this connection (a shared mapping of
    /// the `-shm` file, the same memory every connection to the file sees). The pointer stays
    /// valid while this connection is open: SQLite unmaps it only when the connection closes its
    /// log. `None` when the connection has no such index (a file in another journal mode, or
    /// opened with `immutable=1`) or has not mapped it yet; call it after a read in WAL mode.
    pub(crate) fn wal_index(&mut self) -> Option<std::ptr::NonNull<u8>> {
        /// The size of a page of the index, as SQLite maps it (`WALINDEX_PGSZ`).
        const WAL_INDEX_PAGE: c_int = 32 * 1024;
        let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: `handle` is open; SQLITE_FCNTL_FILE_POINTER writes the `sqlite3_file` of the
        // main database, owned by the connection, into `file`. Its methods are SQLite's own VFS's;
        // `xShmMap` of page 0 without extending (`0`) returns the page SQLite itself maps for the
        // log (or null when the `-shm` file is shorter), taking the VFS's own locks.
        unsafe {
            let rc = ffi::sqlite3_file_control(
                self.handle,
                c"main".as_ptr(),
                ffi::SQLITE_FCNTL_FILE_POINTER,
                (&raw mut file).cast(),
            );
            if rc != ffi::SQLITE_OK || file.is_null() {
                return None;
            }
            let methods = (*file).pMethods;
            if methods.is_null() || (*methods).iVersion < 2 {
                return None;
            }
            let map = (*methods).xShmMap?;
            let mut page: *mut c_void = std::ptr::null_mut();
            if map(file, 0, WAL_INDEX_PAGE, 0, &raw mut page) != ffi::SQLITE_OK {
                return None;
            }
            std::ptr::NonNull::new(page.cast())
        }
    }

    /// Runs `work` with one database attachable, for the library's own `VACUUM INTO`.
    pub(crate) fn with_one_attachment<T>(
        &mut self,
        work: impl FnOnce(&mut SqliteConnection) -> T,
    ) -> T {
        // SAFETY: `handle` is open; setting a limit cannot fail.
        unsafe { ffi::sqlite3_limit(self.handle, ffi::SQLITE_LIMIT_ATTACHED, 1) };
        let out = self.run_as(Mode::Library, work);
        // SAFETY: as above.
        unsafe { ffi::sqlite3_limit(self.handle, ffi::SQLITE_LIMIT_ATTACHED, 0) };
        out
    }
}

impl std::ops::Deref for Guarded {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for Guarded {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

/// Puts a connection back in [`Mode::Library`] when dropped.
struct Reset<'a>(&'a State);

impl Drop for Reset<'_> {
    fn drop(&mut self) {
        self.0.mode.store(Mode::Library as u8, Ordering::Relaxed);
    }
}

/// The pragmas that take an argument only to say what to look at, never to change anything.
const LOOKING_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_info",
    "index_xinfo",
    "index_list",
    "foreign_key_list",
    "foreign_key_check",
    "integrity_check",
    "quick_check",
];

/// The pragmas that act even without an argument.
const ACTING_PRAGMAS: &[&str] = &["wal_checkpoint", "optimize", "incremental_vacuum"];

/// The SQL functions that reach outside the database.
const REFUSED_FUNCTIONS: &[&str] = &["load_extension", "fts3_tokenizer"];

/// The prefix of the savepoints multisource names itself.
pub(crate) const OWN_SAVEPOINT_PREFIX: &str = "multisource";

/// The tables only the library writes: a query or closure may read them, never change them.
const LIBRARY_TABLES: &[&str] = &[multisource_migrations::MOVES_TABLE];

/// The authorizer: what a statement prepared in [`Mode::Read`] or [`Mode::Write`] may do.
unsafe extern "C" fn authorize(
    state: *mut c_void,
    action: c_int,
    first: *const c_char,
    second: *const c_char,
    _database: *const c_char,
    _trigger: *const c_char,
) -> c_int {
    // SAFETY: `state` is the `State` of the connection, set with the authorizer and freed only
    // after the connection is closed; SQLite calls this while preparing on that connection.
    let state = unsafe { &*state.cast::<State>() };
    let mode = state.mode.load(Ordering::Relaxed);
    if mode == Mode::Library as u8 {
        return ffi::SQLITE_OK;
    }
    // SAFETY: SQLite passes NUL-terminated strings or null, valid for the call.
    let text = |p: *const c_char| -> String {
        if p.is_null() {
            String::new()
        } else {
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        }
    };
    let refused = match action {
        ffi::SQLITE_ATTACH => Some(match text(first).is_empty() {
            true => "VACUUM (it attaches a database)".to_owned(),
            false => "ATTACH (or VACUUM INTO)".to_owned(),
        }),
        ffi::SQLITE_DETACH => Some("DETACH".to_owned()),
        // A read may hold a snapshot across statements (it is rolled back at the end of the
        // call); a write runs inside the library's transaction, which it may not end.
        ffi::SQLITE_TRANSACTION => (mode == Mode::Write as u8).then(|| text(first)),
        ffi::SQLITE_SAVEPOINT => {
            let name = text(second);
            let own = name.to_ascii_lowercase().starts_with(OWN_SAVEPOINT_PREFIX);
            (mode == Mode::Write as u8 && own).then(|| format!("SAVEPOINT {} {name}", text(first)))
        }
        ffi::SQLITE_PRAGMA => {
            let name = text(first).to_ascii_lowercase();
            let value = (!second.is_null()).then(|| text(second));
            let looking = LOOKING_PRAGMAS.contains(&name.as_str());
            match value {
                Some(value) if !looking => Some(format!("PRAGMA {name} = {value}")),
                None if ACTING_PRAGMAS.contains(&name.as_str()) => Some(format!("PRAGMA {name}")),
                _ => None,
            }
        }
        ffi::SQLITE_CREATE_TEMP_INDEX
        | ffi::SQLITE_CREATE_TEMP_TABLE
        | ffi::SQLITE_CREATE_TEMP_TRIGGER
        | ffi::SQLITE_CREATE_TEMP_VIEW => {
            Some(format!("CREATE TEMP ... {} (it would outlive the call)", text(first)))
        }
        ffi::SQLITE_FUNCTION => {
            let name = text(second).to_ascii_lowercase();
            REFUSED_FUNCTIONS.contains(&name.as_str()).then(|| format!("{name}()"))
        }
        ffi::SQLITE_INSERT
        | ffi::SQLITE_UPDATE
        | ffi::SQLITE_DELETE
        | ffi::SQLITE_DROP_TABLE
        | ffi::SQLITE_ALTER_TABLE => {
            // ALTER TABLE names the table second.
            let table = match action {
                ffi::SQLITE_ALTER_TABLE => text(second),
                _ => text(first),
            };
            LIBRARY_TABLES
                .iter()
                .any(|t| t.eq_ignore_ascii_case(&table))
                .then(|| format!("a change to `{table}` (the library's record of chat moves)"))
        }
        _ => None,
    };
    match refused {
        None => ffi::SQLITE_OK,
        Some(what) => {
            if let Ok(mut slot) = state.refused.lock() {
                *slot = Some(what);
            }
            ffi::SQLITE_DENY
        }
    }
}

/// The waits between two attempts at a lock, in milliseconds, as SQLite's own busy timeout
/// spaces them; the last repeats.
const BUSY_STEPS_MS: &[u64] = &[1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

/// The busy handler: waits for a lock held by another connection up to the connection's timeout,
/// as `PRAGMA busy_timeout` would, and records how long it waited when it gives up.
unsafe extern "C" fn busy(state: *mut c_void, attempts: c_int) -> c_int {
    // SAFETY: as for `authorize`: the connection's `State`, alive while the connection is open.
    let state = unsafe { &*state.cast::<State>() };
    let Ok(mut log) = state.busy.lock() else { return 0 };
    let now = Instant::now();
    let started = match (attempts, log.started) {
        (0, _) | (_, None) => *log.started.insert(now),
        (_, Some(started)) => started,
    };
    let waited = now.saturating_duration_since(started);
    if waited >= state.timeout {
        log.gave_up_after = Some(waited);
        log.started = None;
        return 0;
    }
    drop(log);
    let step = usize::try_from(attempts).unwrap_or(0).min(BUSY_STEPS_MS.len() - 1);
    let pause = Duration::from_millis(BUSY_STEPS_MS[step]).min(state.timeout - waited);
    std::thread::sleep(pause);
    1
}

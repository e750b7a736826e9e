//! SQLite sources: files, opened as multisource opens every SQLite connection (the router's, the
//! checkpointer's, and the operator's command line's): a `file:` URI in a mode, the guard of
//! [`guard`], the source's busy timeout, and the pragmas of its role.
//!
//! A writable source has a writer pool of exactly one connection (SQLite admits one writer at a
//! time; queueing writers in the pool never produces `SQLITE_BUSY` between them), one connection
//! for background checkpoints when `pool-size` is 3 or more (see [`crate::maintenance`]), and
//! readers for the rest of `pool-size`. Calls lease the pools' connections through [`Slots`].
//! Every reader is opened with `mode=ro` and runs with `query_only = ON`, so a read can never
//! write, whatever SQL it runs. A read-only source has only readers, and its file is never
//! created, migrated or written.

pub(crate) mod file;
pub(crate) mod guard;
mod inspect;
pub(crate) mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel::sql_types::Text;

use crate::backend::{Conn, Opening, Refused};
use crate::cache::Cache;
use crate::config::{Durability, SourceConfig};
use crate::error::{Error, PoolRole, RefusedBy, Result};
use crate::health::{Fault, Health};
use crate::maintenance;
use crate::opened::Purpose;
use crate::route::Access;
use crate::slots::{Lease, Slots, Unavailable};
use crate::source::{Explained, SourceId, SourceInfo};
use crate::stats::Counters;
use crate::tools::{Dialect, truthy};

use self::file::{Examined, OpenFile};
pub(crate) use self::guard::{Guarded, Mode};
pub(crate) use self::inspect::inspect;
use self::watch::Watch;

/// A connection of a SQLite source, leased for one call.
pub(crate) type Leased<'a> = Lease<'a>;

/// The connections of a SQLite source, and the watch over its file.
pub(crate) struct Pools {
    /// The watch over the file's commits (closed first: its connection only reads); `None` for
    /// a file without a write-ahead-log index to watch.
    watch: Option<Watch>,
    /// The answers of cached reads, for a file with a watch and `cache` on.
    cache: Option<Cache>,
    // Readers are declared before the writer so that they close first: the last connection to
    // close checkpoints and removes the `-wal` file, which only a writable connection can do.
    readers: Slots,
    writer: Option<Slots>,
    /// The writes waiting for the writer (see `batch.rs`).
    batcher: crate::batch::Batcher,
    health: Arc<Health>,
    // Last: the descriptor on the file is closed after every connection to it.
    _file: Arc<OpenFile>,
}

/// How readers of the source open its file: read-only, and immutable for a frozen archive.
pub(crate) fn read_mode(config: &SourceConfig) -> OpenMode {
    OpenMode::ReadOnly { immutable: config.is_immutable() }
}

/// Opens a SQLite source: a read-only one as the preflight reads it, a writable one created if
/// needed, switched to write-ahead logging and migrated; then its pools.
pub(crate) fn open(id: &SourceId, config: &SourceConfig) -> Result<Opening> {
    let mut info = SourceInfo::new(config, id.path.clone());
    let (mut setup, file) = match id.readonly {
        // The preflight's reading, schema check included.
        true => {
            let (setup, file, state) = inspect::open_read_only(id, config)?;
            info.state_at_open = state;
            (setup, file)
        }
        false => {
            let (mut setup, file) = prepare_writable(id, &mut info)?;
            check_schema(id, config, &mut setup)?;
            (setup, file)
        }
    };
    let moves = crate::moves::load(Conn::Sqlite(setup.conn()))
        .map_err(|e| id.failure(e, Access::Read, &explain(&setup)))?;
    drop(setup);
    let background = has_background_checkpoints(config);
    let (readers, writer) = match (id.readonly, background) {
        (true, _) => (pool(id, config, Access::Read, id.pool_size), None),
        (false, background) => (
            pool(id, config, Access::Read, id.pool_size - 1 - u32::from(background)),
            Some(pool(id, config, Access::Write, 1)),
        ),
    };
    let health = Arc::new(Health::new(info.path.clone(), file.clone()));
    let checkpoint = background.then(|| maintenance::Target {
        name: id.name.clone(),
        path: info.path.clone(),
        timeout: id.timeout,
    });
    let batcher = crate::batch::Batcher::new(config.is_group_commit(), crate::batch::MAX_SPAN);
    let watch = Watch::open(id, read_mode(config));
    let cache = (watch.is_some() && config.is_cache()).then(Cache::default);
    let pools = Pools { watch, cache, readers, writer, batcher, health, _file: file };
    Ok(Opening { pools: crate::backend::Pools::Sqlite(pools), info, checkpoint, moves })
}

/// A writable SQLite source checkpoints in the background when `pool-size` leaves a connection
/// for it besides the writer and a reader.
fn has_background_checkpoints(config: &SourceConfig) -> bool {
    !config.is_readonly() && config.get_pool_size() >= 3
}

/// Opens a writable source's file (creating it if needed), switches it to WAL and migrates it.
/// Another process opening the same new file at the same moment (a second bot instance,
/// `multisource migrate`) can make SQLite answer busy without waiting, since waiting could only
/// deadlock: those steps are tried again until the source's timeout.
fn prepare_writable(id: &SourceId, info: &mut SourceInfo) -> Result<(Guarded, Arc<OpenFile>)> {
    if let Err(unusable) = file::examine(&id.path) {
        return Err(id.open_error(unusable.describe()));
    }
    let started = Instant::now();
    loop {
        match try_prepare_writable(id, info) {
            Err(Error::Busy { waited, .. }) if started.elapsed() + waited < id.timeout => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(Error::Busy { source_name, path, timeout, .. }) => {
                return Err(Error::Busy { source_name, path, timeout, waited: started.elapsed() });
            }
            other => return other,
        }
    }
}

fn try_prepare_writable(id: &SourceId, info: &mut SourceInfo) -> Result<(Guarded, Arc<OpenFile>)> {
    let mut conn = connect(&id.path, OpenMode::Create, id.timeout, "")
        .map_err(|e| id.open_error(describe_open(&e)))?;
    migrate_writable(id, &mut conn, info)?;
    let file = OpenFile::acquire(&id.path, true)
        .map_err(|e| id.open_error(format!("cannot open the file: {e}")))?;
    Ok((conn, file))
}

/// Switches a writable connection's file to write-ahead logging and brings it to the current
/// schema (adopting a file of the Python bot), recording what it found and did in `info`.
pub(crate) fn migrate_writable(
    id: &SourceId,
    conn: &mut Guarded,
    info: &mut SourceInfo,
) -> Result<()> {
    let failed = |conn: &Guarded, e| id.failure(e, Access::Write, &explain(conn));
    let schema = &Arc::clone(info.config.schema());
    let mode =
        journal_mode(conn.conn(), "PRAGMA journal_mode = WAL").map_err(|e| failed(conn, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(id.open_error(format!(
            "cannot switch the file to write-ahead logging (it stays in `{mode}` mode); put it on \
             a local file system"
        )));
    }
    info.state_at_open =
        multisource_migrations::state(schema, conn.conn()).map_err(|e| failed(conn, e))?;
    let report =
        multisource_migrations::migrate(schema, conn.conn()).map_err(|error| match error {
            multisource_migrations::MigrationError::Query(e) => failed(conn, e),
            error => {
                Error::Migration { source_name: id.name.to_string(), path: id.path.clone(), error }
            }
        })?;
    info.applied = report.applied;
    info.adopted_python_version = report.adopted_python_version;
    Ok(())
}

fn check_schema(id: &SourceId, config: &SourceConfig, conn: &mut Guarded) -> Result<()> {
    let mismatches = multisource_migrations::check(config.schema(), conn.conn())
        .map_err(|e| id.failure(e, Access::Read, &explain(conn)))?;
    match mismatches.is_empty() {
        true => Ok(()),
        false => Err(Error::SchemaMismatch {
            source_name: id.name.to_string(),
            path: id.path.clone(),
            mismatches,
        }),
    }
}

/// The page cache of each reader of a read-only source, in KiB (SQLite's default is 2,000).
/// Nothing changes such a file under its readers, so the operating system keeps its pages
/// cached once for the process, where each reader's own cache would hold another copy of the
/// same pages: the peer workload's archive, read by five readers, held about 3 MiB more at its
/// peak with the default, and no read was faster for it (BENCHMARKS.md, section 6.8).
const READ_ONLY_CACHE_KIB: u32 = 256;

/// The slots of one pool: `size` connections at most, opened when calls need them.
fn pool(id: &SourceId, config: &SourceConfig, access: Access, size: u32) -> Slots {
    let (mode, pragmas) = match access {
        Access::Read if config.is_readonly() => {
            (read_mode(config), format!("PRAGMA cache_size = -{READ_ONLY_CACHE_KIB};"))
        }
        Access::Read => (read_mode(config), String::new()),
        Access::Write => (OpenMode::Create, writer_pragmas(config)),
    };
    Slots::new(Manager { path: id.path.clone(), mode, timeout: id.timeout, pragmas }, size)
}

/// The pragmas of a writable source's writer: its durability, and its own checkpoints.
fn writer_pragmas(config: &SourceConfig) -> String {
    let synchronous = match config.durability().unwrap_or_default() {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    // With background checkpoints, the writer's own is only a backstop; else SQLite's default.
    let autocheckpoint = match has_background_checkpoints(config) {
        true => maintenance::BACKSTOP_PAGES,
        false => 1_000,
    };
    format!("PRAGMA synchronous = {synchronous}; PRAGMA wal_autocheckpoint = {autocheckpoint};")
}

impl Pools {
    /// A connection for reads: `mode=ro` and `query_only = ON`.
    pub(crate) fn reader<'a>(&'a self, id: &SourceId, counters: &Counters) -> Result<Lease<'a>> {
        self.lease(&self.readers, PoolRole::Readers, id, counters)
    }

    /// The queue of the source's writes; `None` for a read-only source, which has no writer.
    pub(crate) fn batcher(&self) -> Option<&crate::batch::Batcher> {
        self.writer.as_ref().map(|_| &self.batcher)
    }

    /// The source's one writer connection.
    pub(crate) fn writer(&self, id: &SourceId, counters: &Counters) -> Result<Lease<'_>> {
        match &self.writer {
            Some(slots) => self.lease(slots, PoolRole::Writer, id, counters),
            None => Err(id.busy_pool_error(PoolRole::Writer, 0)),
        }
    }

    /// What the check of the file after a write found wrong.
    pub(crate) fn fault_after_write(&self) -> Option<Fault> {
        self.health.check_after_write()
    }

    /// The source's read cache: `None` when it has none (`cache = false`, or a file without a
    /// write-ahead-log index to watch).
    pub(crate) fn cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }

    /// The watch over the file's commits: `None` for a file without a write-ahead-log index.
    #[inline]
    pub(crate) fn watch(&self) -> Option<&Watch> {
        self.watch.as_ref()
    }

    pub(crate) fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    pub(crate) fn open_connections(&self) -> u32 {
        self.readers.open_connections() + self.writer.as_ref().map_or(0, Slots::open_connections)
    }

    fn lease<'a>(
        &'a self,
        slots: &'a Slots,
        role: PoolRole,
        id: &SourceId,
        counters: &Counters,
    ) -> Result<Lease<'a>> {
        // Before opening a connection, look at the file: r2d2 would retry a missing or broken
        // file for the whole timeout.
        let may_open = || self.health.check().is_none();
        match slots.lease(id.timeout, &may_open) {
            Ok((lease, waited)) => {
                if let Some(waited) = waited {
                    counters.waited(waited);
                }
                Ok(lease)
            }
            Err(unavailable) => {
                counters.checkout_timeout();
                Err(match unavailable {
                    Unavailable::Busy => id.busy_pool_error(role, slots.size()),
                    Unavailable::Open(error) => {
                        id.pool_failure(describe_open(&error), role, slots.size())
                    }
                    Unavailable::Refused => match self.health.fault() {
                        Some(fault) => self.file_error(id, fault, None),
                        None => id.busy_pool_error(role, slots.size()),
                    },
                })
            }
        }
    }

    /// Records that SQLite said the file is damaged, so that the next calls fail at once and
    /// nothing more is written into it.
    pub(crate) fn noticed(&self, error: &Error) {
        if let Error::Corrupt { .. } = error {
            self.health.damaged();
        }
    }

    /// Fails when the source's file was found removed, replaced or overwritten.
    #[inline]
    pub(crate) fn check_file(&self, id: &SourceId) -> Result<()> {
        match self.health.fault() {
            None => Ok(()),
            Some(fault) => Err(self.file_error(id, fault, None)),
        }
    }

    /// The error of a faulted file. When a writable source's file was removed, what the writer
    /// still sees of it is saved first, once, next to it (`VACUUM INTO`): on `held`, the writer
    /// the caller holds, if it holds it.
    pub(crate) fn file_error(
        &self,
        id: &SourceId,
        fault: Fault,
        held: Option<&mut Guarded>,
    ) -> Error {
        let (path, source_name) = (id.path.clone(), id.name.to_string());
        let detail = match fault {
            Fault::NotADatabase => {
                "it was overwritten while open and no longer starts with a SQLite header"
            }
            Fault::Damaged => {
                "SQLite found it damaged while the database was open; check it with `PRAGMA \
                 integrity_check` and reopen the database"
            }
            Fault::Gone => {
                // The writer's connection as it is: one opened now would create a new, empty
                // file at the path, and a lease that found the file gone would come back here.
                let saved_to = self.writer.as_ref().and_then(|writer| {
                    self.rescue(id, held, || match writer.lease(id.timeout, &|| false) {
                        Ok((lease, _)) => Ok(lease),
                        Err(_) => Err(id.busy_pool_error(PoolRole::Writer, 1)),
                    })
                });
                return Error::FileGone { source_name, path, saved_to };
            }
        };
        Error::Corrupt { source_name, path, detail: detail.into() }
    }

    /// Saves what the writer still sees of a removed file next to it, once; where it went.
    fn rescue<'a>(
        &'a self,
        id: &SourceId,
        held: Option<&mut Guarded>,
        writer: impl FnOnce() -> Result<Lease<'a>>,
    ) -> Option<PathBuf> {
        let outcome = self.health.rescued(|| {
            let target = self.health.rescue_path();
            let saved = match held {
                Some(conn) => vacuum_into(conn, &target),
                None => writer()
                    .map_err(|e| e.to_string())
                    .and_then(|mut lease| vacuum_into(&mut lease, &target)),
            };
            saved.map(|()| target)
        });
        match outcome {
            Ok(target) => Some(target.clone()),
            Err(reason) => {
                tracing::error!(
                    target: "multisource",
                    source = &*id.name,
                    reason = %reason,
                    "the file was removed while open, and its data could not be saved",
                );
                None
            }
        }
    }
}

/// Runs a read's query or closure on a reader, under the guard's rules for reads; a transaction
/// it left open is rolled back, so that the connection's next read sees the latest commits.
pub(crate) fn read<T>(
    lease: &mut Lease<'_>,
    id: &SourceId,
    query: impl FnOnce(Conn<'_>) -> QueryResult<T>,
) -> Result<T> {
    let guarded: &mut Guarded = lease;
    let result = guarded.run_as(Mode::Read, |c| query(Conn::Sqlite(c)));
    if !guarded.in_autocommit() {
        // If the rollback fails, the connection stays outside autocommit and the lease's end
        // discards it.
        let _ = guarded.conn().batch_execute("ROLLBACK;");
    }
    result.map_err(|e| id.failure(e, Access::Read, &explain(guarded)))
}

/// What a SQLite connection knows of its last failure.
pub(crate) fn explain(conn: &Guarded) -> Explained {
    Explained { refused: conn.take_refused(), busy_wait: conn.take_busy_wait() }
}

/// What SQLite's message of a failed statement means.
pub(crate) fn classify(message: &str, explained: &Explained) -> Option<Refused> {
    if message.starts_with("too many attached databases") {
        return Some(Refused::NotAllowed("ATTACH (or VACUUM, which attaches a database)".into()));
    }
    if message.contains("attempt to write a readonly database") {
        return Some(Refused::ReadOnly(RefusedBy::Sqlite));
    }
    if message.contains("database is locked") || message.contains("database table is locked") {
        return Some(Refused::Busy(explained.busy_wait.unwrap_or_default()));
    }
    if message.contains("file is not a database")
        || message.contains("database disk image is malformed")
    {
        return Some(Refused::Corrupt(message.to_owned()));
    }
    None
}

/// Opens a SQLite source for a tool's purpose.
pub(crate) fn open_tool(
    id: &SourceId,
    config: &SourceConfig,
    purpose: Purpose,
    info: &mut SourceInfo,
) -> Result<(Guarded, Arc<OpenFile>)> {
    let missing = || Error::MissingFile { source_name: id.name.to_string(), path: id.path.clone() };
    let examined = file::examine(&id.path);
    if let Err(unusable) = &examined
        && !matches!(unusable, file::Unusable::NoFolder(_))
    {
        return Err(id.open_error(unusable.describe()));
    }
    let open = |mode, pragmas: &str, writable| -> Result<(Guarded, Arc<OpenFile>)> {
        // A read-only open records the side files before its first connection; a writer's file
        // may not exist before it.
        let early = match writable {
            false => Some(acquire(id, false)?),
            true => None,
        };
        let conn = connect(&id.path, mode, id.timeout, pragmas)
            .map_err(|e| id.open_error(describe_open(&e)))?;
        let file = match early {
            Some(file) => file,
            None => acquire(id, true)?,
        };
        Ok((conn, file))
    };
    match (purpose, examined) {
        (Purpose::Inspect | Purpose::Serve(Access::Read), Ok(Examined::File(_))) => {
            open(read_mode(config), "", false)
        }
        (Purpose::Serve(Access::Write), Ok(Examined::File(_))) => {
            open(OpenMode::ReadWrite, &writer_pragmas(config), true)
        }
        (Purpose::Inspect | Purpose::Serve(_), _) => Err(missing()),
        (Purpose::Migrate, Err(unusable)) => Err(id.open_error(unusable.describe())),
        (Purpose::Migrate, Ok(_)) => prepare_writable(id, info),
        (Purpose::Move { create }, examined) => {
            let mode = match (create, examined) {
                (_, Ok(Examined::File(_))) => OpenMode::ReadWrite,
                (true, Ok(Examined::Missing)) => OpenMode::Create,
                (true, Err(unusable)) => return Err(id.open_error(unusable.describe())),
                (false, _) => return Err(missing()),
            };
            open(mode, "PRAGMA synchronous = FULL;", true)
        }
    }
}

fn acquire(id: &SourceId, writable: bool) -> Result<Arc<OpenFile>> {
    OpenFile::acquire(&id.path, writable)
        .map_err(|e| id.open_error(format!("cannot open the file: {e}")))
}

crate::tools::primitives!(diesel::SqliteConnection);

/// The SQL of SQLite, for the tools' statements.
pub(crate) static DIALECT: Dialect = Dialect {
    placeholder: |_| "?".to_owned(),
    table_names: "SELECT name AS line FROM sqlite_master WHERE type = 'table' AND name NOT LIKE \
                  'sqlite_%' ORDER BY name",
    as_text: |column, sql_type| match sql_type.to_ascii_uppercase().as_str() {
        // Printed with 17 significant digits, which every double survives.
        "FLOAT" | "REAL" | "DOUBLE" => format!(
            "CASE WHEN typeof({column}) = 'real' THEN printf('%!.17g', {column}) \
             ELSE CAST({column} AS TEXT) END"
        ),
        _ => format!("CAST({column} AS TEXT)"),
    },
    from_text: |placeholder, sql_type| match sql_type.to_ascii_uppercase().as_str() {
        "INTEGER" | "BOOLEAN" => format!("CAST({placeholder} AS INTEGER)"),
        "FLOAT" | "REAL" | "DOUBLE" => format!("CAST({placeholder} AS REAL)"),
        _ => placeholder.to_owned(),
    },
    json_array: |values| format!("json_array({})", values.join(", ")),
    upsert: |table, columns, values, _key| {
        format!(
            "INSERT OR REPLACE INTO {table} ({}) VALUES ({})",
            columns.join(", "),
            values.join(", ")
        )
    },
    stored: |sql_type, value| match sql_type.to_ascii_uppercase().as_str() {
        "BOOLEAN" => if truthy(value) == Some(true) { "1" } else { "0" }.to_owned(),
        // As the Python bot wrote them: a space, not `T`.
        "TIMESTAMP" => value.replacen('T', " ", 1),
        // SQLite reads `9e999` as infinity, and `Inf` as 0.
        "FLOAT" | "REAL" | "DOUBLE" => match value.trim().parse::<f64>() {
            Ok(x) if x.is_infinite() => if x > 0.0 { "9e999" } else { "-9e999" }.to_owned(),
            _ => value.to_owned(),
        },
        _ => value.to_owned(),
    },
    begin_write: "BEGIN IMMEDIATE;",
    lock_tables: |_| None,
    size: None,
    journal_mode: Some("SELECT journal_mode AS line FROM pragma_journal_mode"),
    freeze: Some("PRAGMA journal_mode = DELETE;"),
    moves_table: multisource_migrations::MOVES_TABLE_SQL,
};

/// Writes a complete copy of `conn`'s database to `target` (the one `ATTACH` the library makes).
fn vacuum_into(conn: &mut Guarded, target: &Path) -> std::result::Result<(), String> {
    let quoted = target.to_string_lossy().replace('\'', "''");
    conn.with_one_attachment(|c| c.batch_execute(&format!("VACUUM INTO '{quoted}';")))
        .map_err(|e| e.to_string())
}

fn journal_mode(conn: &mut SqliteConnection, sql: &str) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        journal_mode: String,
    }
    Ok(diesel::sql_query(sql).get_result::<Row>(conn)?.journal_mode)
}

/// How a connection opens its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenMode {
    /// Read-only (`mode=ro`), and `query_only`; `immutable` opens a frozen archive with SQLite's
    /// `immutable=1` (no locks, no side files, no look for changes).
    ReadOnly {
        /// The file is declared frozen.
        immutable: bool,
    },
    /// Read-write; the file must exist.
    ReadWrite,
    /// Read-write, creating the file if it is missing.
    Create,
}

impl OpenMode {
    /// The URI's `mode` parameter.
    fn uri_mode(self) -> &'static str {
        match self {
            OpenMode::ReadOnly { immutable: true } => "ro&immutable=1",
            OpenMode::ReadOnly { immutable: false } => "ro",
            OpenMode::ReadWrite => "rw",
            OpenMode::Create => "rwc",
        }
    }
}

/// Opens `path` in `mode`, guarded, waiting up to `timeout` for locks, and runs `pragmas` (for a
/// read-only connection, `query_only = ON` first).
pub(crate) fn connect(
    path: &Path,
    mode: OpenMode,
    timeout: Duration,
    pragmas: &str,
) -> Result<Guarded, diesel::r2d2::Error> {
    let mut conn = guard::open(&sqlite_uri(path, mode.uri_mode()), timeout)
        .map_err(diesel::r2d2::Error::ConnectionError)?;
    let read_only = match mode {
        OpenMode::ReadOnly { .. } => "PRAGMA query_only = ON;",
        OpenMode::ReadWrite | OpenMode::Create => "",
    };
    conn.conn()
        .batch_execute(&format!("{read_only}{pragmas}"))
        .map_err(diesel::r2d2::Error::QueryError)?;
    Ok(conn)
}

/// A failure to open a connection, in words: diesel's connection error, or the pragma that
/// failed.
pub(crate) fn describe_open(error: &diesel::r2d2::Error) -> String {
    match error {
        diesel::r2d2::Error::ConnectionError(e) => e.to_string(),
        diesel::r2d2::Error::QueryError(e) => e.to_string(),
    }
}

/// Opens the connections of one pool of a source, for r2d2.
#[derive(Debug)]
pub(crate) struct Manager {
    pub(crate) path: std::path::PathBuf,
    pub(crate) mode: OpenMode,
    pub(crate) timeout: Duration,
    pub(crate) pragmas: String,
}

impl Manager {
    /// Opens one connection of the pool.
    pub(crate) fn connect(&self) -> std::result::Result<Guarded, diesel::r2d2::Error> {
        connect(&self.path, self.mode, self.timeout, &self.pragmas)
    }
}

/// A connection left inside a transaction, or whose transaction diesel found broken, or released
/// by a panic in the middle of a call, is not used again.
pub(crate) fn is_broken(conn: &mut Guarded) -> bool {
    std::thread::panicking() || !conn.in_autocommit() || R2D2Connection::is_broken(conn.conn())
}

/// The SQLite URI of `path` opened with `mode` (`ro`, `rw`, `rwc`, or `ro&immutable=1`): `file:`
/// and the path with every byte SQLite would read as URI syntax percent-encoded.
pub fn sqlite_uri(path: &Path, mode: &str) -> String {
    let mut out = String::from("file:");
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'.' | b'_' | b'-' | b'~' => {
                out.push(char::from(*byte));
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out.push_str("?mode=");
    out.push_str(mode);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_escapes_what_sqlite_would_read_as_uri_syntax() {
        assert_eq!(
            sqlite_uri(Path::new("/a b/c?d#e%f.db"), "ro"),
            "file:/a%20b/c%3Fd%23e%25f.db?mode=ro"
        );
        assert_eq!(
            sqlite_uri(Path::new("/tmp/снег.db"), "rwc"),
            "file:/tmp/%D1%81%D0%BD%D0%B5%D0%B3.db?mode=rwc"
        );
    }

    #[test]
    fn a_double_survives_its_text_and_values_are_stored_as_sqlite_reads_them() {
        let dir = std::env::temp_dir().join(format!("multisource-dialect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.db");
        let mut conn = connect(&path, OpenMode::Create, Duration::from_secs(5), "").unwrap();
        conn.conn()
            .batch_execute(
                "CREATE TABLE f (x FLOAT); \
                 INSERT INTO f VALUES (0.1 + 0.2), (1e308 * 10), (-0.0), (5e-324);",
            )
            .unwrap();
        let sql = format!("SELECT {} AS line FROM f", (DIALECT.as_text)("x", "FLOAT"));
        let texts: Vec<String> = crate::tools::texts(conn.conn(), &sql, &[])
            .unwrap()
            .into_iter()
            .filter_map(|mut r| r.pop().flatten())
            .collect();
        let back: Vec<f64> = texts.iter().map(|t| t.parse::<f64>().unwrap()).collect();
        assert_eq!(back[0].to_bits(), (0.1f64 + 0.2).to_bits(), "{texts:?}");
        assert!(back[1].is_infinite(), "{texts:?}");
        assert_eq!(back[3].to_bits(), 5e-324f64.to_bits(), "{texts:?}");
        assert_eq!((DIALECT.stored)("BOOLEAN", "true"), "1");
        assert_eq!((DIALECT.stored)("FLOAT", "inf"), "9e999");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

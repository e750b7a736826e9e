//! One opened source: its pools of SQLite connections, the pragmas they run with, and the checks
//! made when it is opened.
//!
//! A writable source has a writer pool of exactly one connection (SQLite admits one writer at a
//! time; queueing writers in the pool never produces `SQLITE_BUSY` between them), one connection
//! for background checkpoints when `pool-size` is 3 or more (see [`crate::maintenance`]), and
//! readers for the rest of `pool-size`. Calls lease the pools' connections through [`Slots`].
//! Every reader, on every source, is opened with `mode=ro` and runs with `query_only = ON`, so a read can never write, whatever SQL it runs. A read-only source has
//! only readers, and its file is never created, migrated or written.
//!
//! A PostgreSQL source (the `postgres` feature, [`crate::pg`]) has a pool of read-only sessions
//! and, when writable, a pool of sessions for writes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::Pool;
use diesel::sql_types::Text;
use multisource_migrations::SchemaState;
use scheduled_thread_pool::ScheduledThreadPool;

use crate::config::{Durability, SourceConfig};
use crate::conn::{Conn, Kind};
use crate::error::{Error, InvalidArgument, PoolRole, RefusedBy, Result};
use crate::health::{Fault, Health};
use crate::maintenance;
use crate::route::Access;
use crate::slots::{Lease, Slots, Unavailable};
use crate::sqlite::file::{self, OpenFile};
use crate::sqlite::{self, Guarded, Mode, OpenMode};
use crate::stats::{Counters, SourceStats};

/// What opening a source found and did.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// The source's configuration.
    pub config: SourceConfig,
    /// The database file, as an absolute path.
    pub path: PathBuf,
    /// Where the schema stood before the source was opened.
    pub state_at_open: SchemaState,
    /// The migrations applied when it was opened, oldest first (always empty when read-only).
    pub applied: Vec<String>,
    /// The Python schema version adopted when it was opened, if the file came from the Python bot.
    pub adopted_python_version: Option<i64>,
}

pub(crate) struct Source {
    pub(crate) id: SourceId,
    pub(crate) counters: Arc<Counters>,
    pub(crate) info: SourceInfo,
    /// The watch over the source's file; a PostgreSQL source has no file to watch.
    pub(crate) health: Option<Arc<Health>>,
    /// The source's index among the checkpointer's targets, when it has background checkpoints.
    pub(crate) checkpoint: Option<usize>,
    pools: Pools,
    // Last: the descriptor on a SQLite source's file is closed after every connection to it.
    _file: Option<Arc<OpenFile>>,
}

/// The connections of a source, of its kind.
enum Pools {
    Sqlite {
        // Readers are declared before the writer so that they close first: the last connection
        // to close checkpoints and removes the `-wal` file, which only a writable connection can
        // do.
        readers: Slots,
        writer: Option<Slots>,
    },
    #[cfg(feature = "postgres")]
    Postgres(crate::pg::Pools),
}

/// A connection leased for one call.
pub(crate) enum Leased<'a> {
    Sqlite(Lease<'a>),
    #[cfg(feature = "postgres")]
    Postgres(crate::pg::Pooled),
}

impl Leased<'_> {
    /// Runs a read's query or closure on the connection, under the guard's rules for reads; a
    /// transaction it left open is rolled back, so that the connection's next read sees the
    /// latest commits.
    pub(crate) fn read<T>(
        &mut self,
        query: impl FnOnce(Conn<'_>) -> QueryResult<T>,
    ) -> QueryResult<T> {
        match self {
            Leased::Sqlite(lease) => {
                let guarded: &mut Guarded = lease;
                let result = guarded.run_as(Mode::Read, |c| query(Conn::Sqlite(c)));
                if !guarded.in_autocommit() {
                    // If the rollback fails, the connection is left outside autocommit and the
                    // lease's end discards it.
                    let _ = guarded.conn().batch_execute("ROLLBACK;");
                }
                result
            }
            #[cfg(feature = "postgres")]
            Leased::Postgres(conn) => query(Conn::Pg(conn)),
        }
    }

    /// What SQLite's side of the connection knows of the last failure: the statement the guard
    /// refused, and how long a wait for a lock lasted.
    pub(crate) fn explain(&self) -> Explained {
        match self {
            Leased::Sqlite(lease) => explain(lease),
            #[cfg(feature = "postgres")]
            Leased::Postgres(_) => Explained::default(),
        }
    }
}

/// What a connection knows of why a statement failed, beyond diesel's error.
#[derive(Debug, Default)]
pub(crate) struct Explained {
    /// The statement the guard refused.
    pub(crate) refused: Option<String>,
    /// How long SQLite waited for a lock before it gave up (`None`: it did not wait).
    pub(crate) busy_wait: Option<Duration>,
}

/// What identifies a source in its errors.
pub(crate) struct SourceId {
    pub(crate) name: Box<str>,
    pub(crate) readonly: bool,
    pub(crate) kind: Kind,
    /// The file, or a PostgreSQL source's URL without its password.
    pub(crate) path: PathBuf,
    pub(crate) timeout: Duration,
    pub(crate) pool_size: u32,
    /// How readers open the file: read-only, and immutable for a frozen archive.
    pub(crate) read_mode: OpenMode,
}

impl Source {
    /// Opens the source: checks its file, migrates it when writable, checks its schema, and builds
    /// its pools.
    pub(crate) fn open(
        config: &SourceConfig,
        threads: &Arc<ScheduledThreadPool>,
    ) -> Result<Source> {
        match config.kind() {
            Kind::Sqlite => Source::open_sqlite(config, threads),
            #[cfg(feature = "postgres")]
            Kind::Postgres => Source::open_postgres(config, threads),
            #[cfg(not(feature = "postgres"))]
            Kind::Postgres => Err(Error::Open {
                source_name: config.name().to_owned(),
                path: PathBuf::from(config.location().to_string()),
                detail: "PostgreSQL sources need multisource built with its `postgres` feature"
                    .into(),
            }),
        }
    }

    #[cfg(feature = "postgres")]
    fn open_postgres(config: &SourceConfig, threads: &Arc<ScheduledThreadPool>) -> Result<Source> {
        let id = SourceId::postgres(config);
        let mut info = SourceInfo {
            config: config.clone(),
            path: id.path.clone(),
            state_at_open: SchemaState::Empty,
            applied: Vec::new(),
            adopted_python_version: None,
        };
        let pools = crate::pg::open(&id, config, &mut info, threads)?;
        Ok(Source {
            id,
            counters: Arc::default(),
            info,
            health: None,
            checkpoint: None,
            pools: Pools::Postgres(pools),
            _file: None,
        })
    }

    fn open_sqlite(config: &SourceConfig, threads: &Arc<ScheduledThreadPool>) -> Result<Source> {
        let id = SourceId::sqlite(config)?;
        let mut info = SourceInfo {
            config: config.clone(),
            path: id.path.clone(),
            state_at_open: SchemaState::Empty,
            applied: Vec::new(),
            adopted_python_version: None,
        };
        let file = match id.readonly {
            // The preflight's reading, schema check included.
            true => {
                let (setup, file, state) = sqlite::open_read_only(&id, config)?;
                info.state_at_open = state;
                drop(setup);
                file
            }
            false => {
                let (mut setup, file) = id.prepare_writable(&mut info)?;
                id.check_schema(&mut setup)?;
                file
            }
        };
        let counters = Arc::<Counters>::default();
        let background = has_background_checkpoints(config);
        let (readers, writer) = match (id.readonly, background) {
            (true, _) => (id.pool(Access::Read, id.pool_size, threads, config)?, None),
            (false, background) => (
                id.pool(Access::Read, id.pool_size - 1 - u32::from(background), threads, config)?,
                Some(id.pool(Access::Write, 1, threads, config)?),
            ),
        };
        let health = Some(Arc::new(Health::new(info.path.clone(), file.clone())));
        let pools = Pools::Sqlite { readers, writer };
        Ok(Source { id, counters, info, health, checkpoint: None, pools, _file: Some(file) })
    }

    /// A connection for reads: read-only (`mode=ro` and `query_only = ON` on SQLite, a read-only
    /// session on PostgreSQL).
    pub(crate) fn reader(&self) -> Result<Leased<'_>> {
        match &self.pools {
            Pools::Sqlite { readers, .. } => {
                self.lease(readers, PoolRole::Readers).map(Leased::Sqlite)
            }
            #[cfg(feature = "postgres")]
            Pools::Postgres(pools) => pools.reader(&self.id, &self.counters).map(Leased::Postgres),
        }
    }

    /// A connection for writes; refuses before taking anything when the source is read-only.
    pub(crate) fn writer(&self) -> Result<Leased<'_>> {
        let leased = match &self.pools {
            Pools::Sqlite { writer: Some(slots), .. } => {
                Some(self.lease(slots, PoolRole::Writer).map(Leased::Sqlite))
            }
            #[cfg(feature = "postgres")]
            Pools::Postgres(pools) => {
                pools.writer(&self.id, &self.counters).map(|r| r.map(Leased::Postgres))
            }
            Pools::Sqlite { writer: None, .. } => None,
        };
        leased.unwrap_or_else(|| {
            self.counters.refused_write();
            Err(Error::ReadOnlySource {
                source_name: self.id.name.to_string(),
                refused_by: RefusedBy::Router,
            })
        })
    }

    /// Records that SQLite said the file is damaged, so that the next calls fail at once and
    /// nothing more is written into it.
    pub(crate) fn noticed(&self, error: &Error) {
        if let (Error::Corrupt { .. }, Some(health)) = (error, &self.health) {
            health.damaged();
        }
    }

    /// Fails when the source's file was found removed, replaced or overwritten.
    #[inline]
    pub(crate) fn check_file(&self) -> Result<()> {
        match self.health.as_ref().and_then(|h| h.fault()) {
            None => Ok(()),
            Some(fault) => Err(self.file_error(fault, None)),
        }
    }

    /// After a write committed: fails when the file was found removed, replaced or damaged
    /// meanwhile (the write is then not acknowledged; what the writer sees is saved first).
    pub(crate) fn check_after_write(&self, held: &mut Guarded) -> Result<()> {
        match self.health.as_ref().and_then(|h| h.check_after_write()) {
            None => Ok(()),
            Some(fault) => Err(self.file_error(fault, Some(held))),
        }
    }

    /// The error of a faulted file. When a writable source's file was removed, what the writer
    /// still sees of it is saved first, once, next to it (`VACUUM INTO`): on `held`, the writer
    /// the caller holds, if it holds it.
    pub(crate) fn file_error(&self, fault: Fault, held: Option<&mut Guarded>) -> Error {
        let path = self.id.path.clone();
        let source_name = self.id.name.to_string();
        match fault {
            Fault::NotADatabase => Error::Corrupt {
                source_name,
                path,
                detail: "it was overwritten while open and no longer starts with a SQLite header"
                    .into(),
            },
            Fault::Damaged => Error::Corrupt {
                source_name,
                path,
                detail: "SQLite found it damaged while the database was open; check it with \
                         `PRAGMA integrity_check` and reopen the database"
                    .into(),
            },
            Fault::Gone => {
                let writer = match &self.pools {
                    Pools::Sqlite { writer: Some(writer), .. } => Some(writer),
                    _ => None,
                };
                let saved_to = match (writer, &self.health) {
                    (Some(writer), Some(health)) => {
                        let outcome = health.rescued(|| {
                            let target = health.rescue_path();
                            let saved = match held {
                                Some(conn) => vacuum_into(conn, &target),
                                None => self
                                    .lease(writer, PoolRole::Writer)
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
                                    source = &*self.id.name,
                                    reason = %reason,
                                    "the file was removed while open, and its data could not be saved",
                                );
                                None
                            }
                        }
                    }
                    _ => None,
                };
                Error::FileGone { source_name, path, saved_to }
            }
        }
    }

    fn lease<'a>(&'a self, slots: &'a Slots, role: PoolRole) -> Result<Lease<'a>> {
        // Before opening a connection, look at the file: r2d2 would retry a missing or broken
        // file for the whole timeout.
        let may_open = || self.health.as_ref().is_none_or(|h| h.check().is_none());
        match slots.lease(self.id.timeout, &may_open) {
            Ok((lease, waited)) => {
                if let Some(waited) = waited {
                    self.counters.waited(waited);
                }
                Ok(lease)
            }
            Err(unavailable) => {
                self.counters.checkout_timeout();
                Err(match unavailable {
                    Unavailable::Busy => self.id.busy_pool_error(role, slots.size()),
                    Unavailable::Open(error) => self.id.pool_error(&error, role, slots.size()),
                    Unavailable::Refused => match self.health.as_ref().and_then(|h| h.fault()) {
                        Some(fault) => self.file_error(fault, None),
                        None => self.id.busy_pool_error(role, slots.size()),
                    },
                })
            }
        }
    }

    /// The source's counters; `background` tells whether the checkpointer holds a connection to
    /// it and how many checkpoints it ran.
    pub(crate) fn stats(&self, background: (bool, u64)) -> SourceStats {
        let open = match &self.pools {
            Pools::Sqlite { readers, writer } => {
                readers.open_connections() + writer.as_ref().map_or(0, Slots::open_connections)
            }
            #[cfg(feature = "postgres")]
            Pools::Postgres(pools) => pools.open_connections(),
        } + u32::from(background.0);
        let mut stats = self.counters.snapshot(&self.id.name, open);
        stats.background_checkpoints = background.1;
        stats
    }

    /// What the checkpointer needs to open this source.
    pub(crate) fn checkpoint_target(&self) -> maintenance::Target {
        maintenance::Target {
            name: self.id.name.clone(),
            path: self.info.path.clone(),
            timeout: self.id.timeout,
        }
    }
}

impl SourceId {
    /// The identity of a PostgreSQL source: its URL without the password stands for its path.
    #[cfg(feature = "postgres")]
    pub(crate) fn postgres(config: &SourceConfig) -> SourceId {
        SourceId {
            name: config.name().into(),
            readonly: config.is_readonly(),
            kind: Kind::Postgres,
            path: PathBuf::from(config.location().to_string()),
            timeout: config.get_timeout(),
            pool_size: config.get_pool_size(),
            read_mode: OpenMode::ReadOnly { immutable: false },
        }
    }

    /// The identity of a SQLite source, its path made absolute.
    pub(crate) fn sqlite(config: &SourceConfig) -> Result<SourceId> {
        let file = config.file().ok_or_else(|| Error::Open {
            source_name: config.name().to_owned(),
            path: PathBuf::from(config.location().to_string()),
            detail: "not a SQLite file".into(),
        })?;
        let path = std::path::absolute(file.path()).map_err(|e| Error::Open {
            source_name: config.name().to_owned(),
            path: file.path().to_path_buf(),
            detail: format!("cannot make the path absolute: {e}"),
        })?;
        Ok(SourceId {
            name: config.name().into(),
            readonly: config.is_readonly(),
            kind: Kind::Sqlite,
            path,
            timeout: config.get_timeout(),
            pool_size: config.get_pool_size(),
            read_mode: OpenMode::ReadOnly { immutable: config.is_immutable() },
        })
    }

    /// Opens a writable source's file (creating it if needed), switches it to WAL and migrates it.
    /// Another process opening the same new file at the same moment (a second bot instance,
    /// `multisource migrate`) can make SQLite answer busy without waiting, since waiting could
    /// only deadlock: those steps are tried again until the source's timeout.
    pub(crate) fn prepare_writable(
        &self,
        info: &mut SourceInfo,
    ) -> Result<(Guarded, Arc<OpenFile>)> {
        match file::examine(&self.path) {
            Ok(_) => {}
            Err(unusable) => return Err(self.open_error(unusable.describe())),
        }
        let started = Instant::now();
        loop {
            match self.try_prepare_writable(info) {
                Err(Error::Busy { waited, .. }) if started.elapsed() + waited < self.timeout => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(Error::Busy { source_name, path, timeout, .. }) => {
                    return Err(Error::Busy {
                        source_name,
                        path,
                        timeout,
                        waited: started.elapsed(),
                    });
                }
                other => return other,
            }
        }
    }

    fn try_prepare_writable(&self, info: &mut SourceInfo) -> Result<(Guarded, Arc<OpenFile>)> {
        let mut conn = sqlite::connect(&self.path, OpenMode::Create, self.timeout, "")
            .map_err(|e| self.open_error(sqlite::describe_open(&e)))?;
        self.migrate_writable(&mut conn, info)?;
        let file = OpenFile::acquire(&self.path, true)
            .map_err(|e| self.open_error(format!("cannot open the file: {e}")))?;
        Ok((conn, file))
    }

    /// Switches a writable connection's file to write-ahead logging and brings it to the current
    /// schema (adopting a file of the Python bot), recording what it found and did in `info`.
    pub(crate) fn migrate_writable(&self, conn: &mut Guarded, info: &mut SourceInfo) -> Result<()> {
        let failed = |conn: &Guarded, e| self.failure(e, Access::Write, &explain(conn));
        let mode =
            journal_mode(conn.conn(), "PRAGMA journal_mode = WAL").map_err(|e| failed(conn, e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(self.open_error(format!(
                "cannot switch the file to write-ahead logging (it stays in `{mode}` mode); \
                 put it on a local file system"
            )));
        }
        info.state_at_open =
            multisource_migrations::state(conn.conn()).map_err(|e| failed(conn, e))?;
        let report = multisource_migrations::migrate(conn.conn()).map_err(|error| match error {
            multisource_migrations::MigrationError::Query(e) => failed(conn, e),
            error => Error::Migration {
                source_name: self.name.to_string(),
                path: self.path.clone(),
                error,
            },
        })?;
        info.applied = report.applied;
        info.adopted_python_version = report.adopted_python_version;
        Ok(())
    }

    fn check_schema(&self, conn: &mut Guarded) -> Result<()> {
        let mismatches = multisource_migrations::check(conn.conn())
            .map_err(|e| self.failure(e, Access::Read, &explain(conn)))?;
        match mismatches.is_empty() {
            true => Ok(()),
            false => Err(Error::SchemaMismatch {
                source_name: self.name.to_string(),
                path: self.path.clone(),
                mismatches,
            }),
        }
    }

    fn pool(
        &self,
        access: Access,
        size: u32,
        threads: &Arc<ScheduledThreadPool>,
        config: &SourceConfig,
    ) -> Result<Slots> {
        let (mode, pragmas, role) = match access {
            Access::Read => (self.read_mode, String::new(), PoolRole::Readers),
            Access::Write => (OpenMode::Create, writer_pragmas(config), PoolRole::Writer),
        };
        let manager =
            sqlite::Manager { path: self.path.clone(), mode, timeout: self.timeout, pragmas };
        pool_builder(size, self.timeout, threads)
            .build(manager)
            .map(Slots::new)
            .map_err(|e| self.pool_error(&e, role, size))
    }

    pub(crate) fn open_error(&self, detail: String) -> Error {
        Error::Open { source_name: self.name.to_string(), path: self.path.clone(), detail }
    }

    /// No connection of the pool `role` (of `size` connections) could be opened in time.
    pub(crate) fn pool_error(&self, error: &r2d2::Error, role: PoolRole, size: u32) -> Error {
        let detail = error.to_string();
        let detail = detail.strip_prefix("timed out waiting for connection: ").unwrap_or(&detail);
        let detail = match detail == "timed out waiting for connection" {
            true => format!("{} could not be opened in time", role.describe(size)),
            false => format!("{} could not be opened: {detail}", role.describe(size)),
        };
        Error::PoolTimeout { source_name: self.name.to_string(), timeout: self.timeout, detail }
    }

    /// Every connection of the pool `role` (of `size` connections) stayed leased.
    fn busy_pool_error(&self, role: PoolRole, size: u32) -> Error {
        Error::PoolTimeout {
            source_name: self.name.to_string(),
            timeout: self.timeout,
            detail: format!("{} stayed busy", role.describe(size)),
        }
    }

    /// Turns a diesel error on this source into the error that says what happened, with what the
    /// connection knows of it.
    pub(crate) fn failure(
        &self,
        error: diesel::result::Error,
        access: Access,
        explained: &Explained,
    ) -> Error {
        use diesel::result::DatabaseErrorKind;
        let message = match &error {
            diesel::result::Error::DatabaseError(_, info) => info.message().to_owned(),
            other => other.to_string(),
        };
        let source_name = self.name.to_string();
        if let diesel::result::Error::SerializationError(inner) = &error
            && let Some(invalid) = inner.downcast_ref::<InvalidArgument>()
        {
            return Error::InvalidArgument(invalid.clone());
        }
        // SQLite words an authorizer's refusal "not authorized", "not authorized to use
        // function: ..." or "authorization denied".
        if let Some(statement) = &explained.refused
            && message.contains("authoriz")
        {
            return Error::NotAllowed { source_name, statement: statement.clone(), access };
        }
        if message.starts_with("too many attached databases") {
            let statement = "ATTACH (or VACUUM, which attaches a database)".to_owned();
            return Error::NotAllowed { source_name, statement, access };
        }
        if let diesel::result::Error::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) =
            &error
        {
            return match (self.readonly, access) {
                (true, _) => Error::ReadOnlySource { source_name, refused_by: RefusedBy::Postgres },
                (false, Access::Read) => Error::WriteInRead { source_name },
                (false, Access::Write) => Error::Query { source_name, error },
            };
        }
        if message.contains("canceling statement due to lock timeout") {
            let (path, timeout) = (self.path.clone(), self.timeout);
            return Error::Busy { source_name, path, timeout, waited: timeout };
        }
        if message.contains("attempt to write a readonly database") {
            return match (self.readonly, access) {
                (true, _) => Error::ReadOnlySource { source_name, refused_by: RefusedBy::Sqlite },
                (false, Access::Read) => Error::WriteInRead { source_name },
                (false, Access::Write) => Error::Query { source_name, error },
            };
        }
        if message.contains("database is locked") || message.contains("database table is locked") {
            let waited = explained.busy_wait.unwrap_or_default();
            return Error::Busy {
                source_name,
                path: self.path.clone(),
                timeout: self.timeout,
                waited,
            };
        }
        if message.contains("file is not a database")
            || message.contains("database disk image is malformed")
        {
            return Error::Corrupt { source_name, path: self.path.clone(), detail: message };
        }
        Error::Query { source_name, error }
    }

    /// [`SourceId::failure`] for an error known only by diesel's error (a PostgreSQL session's).
    #[cfg(feature = "postgres")]
    pub(crate) fn query_error(&self, error: diesel::result::Error, access: Access) -> Error {
        self.failure(error, access, &Explained::default())
    }
}

/// What a SQLite connection knows of its last failure.
pub(crate) fn explain(conn: &Guarded) -> Explained {
    Explained { refused: conn.take_refused(), busy_wait: conn.take_busy_wait() }
}

/// A pool of at most `size` connections, opened on demand and kept, never tested on checkout
/// (a broken connection is dropped when it is returned), waiting at most `timeout` for one.
pub(crate) fn pool_builder<M: r2d2::ManageConnection>(
    size: u32,
    timeout: Duration,
    threads: &Arc<ScheduledThreadPool>,
) -> r2d2::Builder<M> {
    Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .test_on_check_out(false)
        .idle_timeout(None)
        .max_lifetime(None)
        .connection_timeout(timeout)
        .thread_pool(threads.clone())
}

pub(crate) fn writer_pragmas(config: &SourceConfig) -> String {
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

/// A writable SQLite source checkpoints in the background when `pool-size` leaves a connection
/// for it besides the writer and a reader.
pub(crate) fn has_background_checkpoints(config: &SourceConfig) -> bool {
    config.kind() == Kind::Sqlite && !config.is_readonly() && config.get_pool_size() >= 3
}

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

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

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sql_types::Text;
use multisource_migrations::SchemaState;
use scheduled_thread_pool::ScheduledThreadPool;

use crate::config::{Durability, SourceConfig};
use crate::conn::{Conn, Kind};
use crate::error::{Error, RefusedBy, Result};
use crate::health::{Fault, Health};
use crate::maintenance;
use crate::route::Access;
use crate::slots::{Lease, Slots, Unavailable};
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
    /// The connection, for the query.
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Leased::Sqlite(lease) => Conn::Sqlite(lease),
            #[cfg(feature = "postgres")]
            Leased::Postgres(conn) => Conn::Pg(conn),
        }
    }
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
    /// The URI `mode` of readers: `ro`, or `ro&immutable=1` for a frozen archive.
    read_mode: &'static str,
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
                path: PathBuf::from(config.location()),
                detail: "PostgreSQL sources need multisource built with its `postgres` feature"
                    .into(),
            }),
        }
    }

    #[cfg(feature = "postgres")]
    fn open_postgres(config: &SourceConfig, threads: &Arc<ScheduledThreadPool>) -> Result<Source> {
        let id = SourceId {
            name: config.name().into(),
            readonly: config.is_readonly(),
            kind: Kind::Postgres,
            path: PathBuf::from(config.location()),
            timeout: config.get_timeout(),
            pool_size: config.get_pool_size(),
            read_mode: "ro",
        };
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
        })
    }

    fn open_sqlite(config: &SourceConfig, threads: &Arc<ScheduledThreadPool>) -> Result<Source> {
        let path = std::path::absolute(config.path()).map_err(|e| Error::Open {
            source_name: config.name().to_owned(),
            path: config.path().to_path_buf(),
            detail: format!("cannot make the path absolute: {e}"),
        })?;
        let id = SourceId {
            name: config.name().into(),
            readonly: config.is_readonly(),
            kind: Kind::Sqlite,
            path: path.clone(),
            timeout: config.get_timeout(),
            pool_size: config.get_pool_size(),
            read_mode: if config.is_immutable() { "ro&immutable=1" } else { "ro" },
        };
        let mut info = SourceInfo {
            config: config.clone(),
            path,
            state_at_open: SchemaState::Empty,
            applied: Vec::new(),
            adopted_python_version: None,
        };
        let mut setup = match id.readonly {
            true => id.prepare_readonly(&mut info)?,
            false => id.prepare_writable(&mut info)?,
        };
        id.check_schema(&mut setup)?;
        drop(setup);
        crate::qpsg::register(&id.path);
        let counters = Arc::<Counters>::default();
        let background = has_background_checkpoints(config);
        let (readers, writer) = match (id.readonly, background) {
            (true, _) => (id.pool(Access::Read, id.pool_size, threads, config)?, None),
            (false, background) => (
                id.pool(Access::Read, id.pool_size - 1 - u32::from(background), threads, config)?,
                Some(id.pool(Access::Write, 1, threads, config)?),
            ),
        };
        let health = Some(Arc::new(Health::new(&info.path)));
        let pools = Pools::Sqlite { readers, writer };
        Ok(Source { id, counters, info, health, checkpoint: None, pools })
    }

    /// A connection for reads: read-only (`mode=ro` and `query_only = ON` on SQLite, a read-only
    /// session on PostgreSQL).
    pub(crate) fn reader(&self) -> Result<Leased<'_>> {
        match &self.pools {
            Pools::Sqlite { readers, .. } => self.lease(readers).map(Leased::Sqlite),
            #[cfg(feature = "postgres")]
            Pools::Postgres(pools) => pools.reader(&self.id, &self.counters).map(Leased::Postgres),
        }
    }

    /// A connection for writes; refuses before taking anything when the source is read-only.
    pub(crate) fn writer(&self) -> Result<Leased<'_>> {
        let leased = match &self.pools {
            Pools::Sqlite { writer: Some(slots), .. } => {
                Some(self.lease(slots).map(Leased::Sqlite))
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
    pub(crate) fn check_after_write(&self, held: &mut SqliteConnection) -> Result<()> {
        match self.health.as_ref().and_then(|h| h.check_after_write()) {
            None => Ok(()),
            Some(fault) => Err(self.file_error(fault, Some(held))),
        }
    }

    /// The error of a faulted file. When a writable source's file was removed, what the writer
    /// still sees of it is saved first, once, next to it (`VACUUM INTO`): on `held`, the writer
    /// the caller holds, if it holds it.
    pub(crate) fn file_error(&self, fault: Fault, held: Option<&mut SqliteConnection>) -> Error {
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
                let writable = matches!(self.pools, Pools::Sqlite { writer: Some(_), .. });
                let saved_to = match (writable, &self.health, held) {
                    (false, _, _) | (_, None, _) => None,
                    (true, Some(health), held) => {
                        let outcome = health.rescued(|| {
                            let target = health.rescue_path();
                            let saved = match held {
                                Some(conn) => vacuum_into(conn, &target),
                                None => self.writer().map_err(|e| e.to_string()).and_then(
                                    |mut leased| match leased.conn() {
                                        Conn::Sqlite(conn) => vacuum_into(conn, &target),
                                        #[allow(unreachable_patterns)]
                                        _ => Err("not a SQLite source".to_owned()),
                                    },
                                ),
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
                };
                Error::FileGone { source_name, path, saved_to }
            }
        }
    }

    fn lease<'a>(&'a self, slots: &'a Slots) -> Result<Lease<'a>> {
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
                    Unavailable::Busy => self.id.busy_pool_error(),
                    Unavailable::Open(error) => self.id.pool_error(&error),
                    Unavailable::Refused => match self.health.as_ref().and_then(|h| h.fault()) {
                        Some(fault) => self.file_error(fault, None),
                        None => self.id.busy_pool_error(),
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
            uri: sqlite_uri(&self.info.path, "rw"),
            busy_timeout_ms: self.id.timeout.as_millis(),
        }
    }
}

impl SourceId {
    /// Opens a writable source's file (creating it if needed), switches it to WAL and migrates it.
    fn prepare_writable(&self, info: &mut SourceInfo) -> Result<SqliteConnection> {
        match self.path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() && !folder.is_dir() => {
                return Err(self.open_error(format!(
                    "the folder {} does not exist; create it first",
                    folder.display()
                )));
            }
            _ => {}
        }
        if self.path.is_dir() {
            return Err(self.open_error("it is a folder, not a database file".into()));
        }
        let mut conn = SqliteConnection::establish(&sqlite_uri(&self.path, "rwc"))
            .map_err(|e| self.open_error(e.to_string()))?;
        conn.batch_execute(&format!("PRAGMA busy_timeout = {};", self.timeout.as_millis()))
            .map_err(|e| self.query_error(e, Access::Write))?;
        let mode = journal_mode(&mut conn, "PRAGMA journal_mode = WAL")
            .map_err(|e| self.query_error(e, Access::Write))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(self.open_error(format!(
                "cannot switch the file to write-ahead logging (it stays in `{mode}` mode); \
                 put it on a local file system"
            )));
        }
        info.state_at_open = multisource_migrations::state(&mut conn)
            .map_err(|e| self.query_error(e, Access::Read))?;
        let report = multisource_migrations::migrate(&mut conn).map_err(|error| {
            Error::Migration { source_name: self.name.to_string(), path: self.path.clone(), error }
        })?;
        info.applied = report.applied;
        info.adopted_python_version = report.adopted_python_version;
        Ok(conn)
    }

    /// Opens a read-only source's file, which must exist, without writing anything.
    fn prepare_readonly(&self, info: &mut SourceInfo) -> Result<SqliteConnection> {
        match fs::metadata(&self.path) {
            Ok(meta) if meta.is_dir() => {
                return Err(self.open_error("it is a folder, not a database file".into()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::MissingFile {
                    source_name: self.name.to_string(),
                    path: self.path.clone(),
                });
            }
            Err(e) => return Err(self.open_error(e.to_string())),
        }
        let mut conn = SqliteConnection::establish(&sqlite_uri(&self.path, self.read_mode))
            .map_err(|e| self.open_error(e.to_string()))?;
        conn.batch_execute(&reader_pragmas(self.timeout))
            .map_err(|e| self.query_error(e, Access::Read))?;
        info.state_at_open = multisource_migrations::state(&mut conn)
            .map_err(|e| self.query_error(e, Access::Read))?;
        Ok(conn)
    }

    fn check_schema(&self, conn: &mut SqliteConnection) -> Result<()> {
        let mismatches =
            multisource_migrations::check(conn).map_err(|e| self.query_error(e, Access::Read))?;
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
        let (mode, pragmas) = match access {
            Access::Read => (self.read_mode, reader_pragmas(self.timeout)),
            Access::Write => ("rwc", writer_pragmas(self.timeout, config)),
        };
        pool_builder(size, self.timeout, threads)
            .connection_customizer(Box::new(Pragmas(pragmas)))
            .build(ConnectionManager::new(sqlite_uri(&self.path, mode)))
            .map(Slots::new)
            .map_err(|e| self.pool_error(&e))
    }

    pub(crate) fn open_error(&self, detail: String) -> Error {
        Error::Open { source_name: self.name.to_string(), path: self.path.clone(), detail }
    }

    pub(crate) fn pool_error(&self, error: &r2d2::Error) -> Error {
        let detail = error.to_string();
        let detail = detail.strip_prefix("timed out waiting for connection: ").unwrap_or(&detail);
        let detail = match detail == "timed out waiting for connection" {
            true => format!("no connection could be opened in time ({} at most)", self.pool_size),
            false => format!("the last attempt to connect failed: {detail}"),
        };
        Error::PoolTimeout { source_name: self.name.to_string(), timeout: self.timeout, detail }
    }

    fn busy_pool_error(&self) -> Error {
        Error::PoolTimeout {
            source_name: self.name.to_string(),
            timeout: self.timeout,
            detail: format!("all {} connection(s) were busy", self.pool_size),
        }
    }

    /// Turns a diesel error on this source into the error that says what happened.
    pub(crate) fn query_error(&self, error: diesel::result::Error, access: Access) -> Error {
        use diesel::result::DatabaseErrorKind;
        let message = match &error {
            diesel::result::Error::DatabaseError(_, info) => info.message().to_owned(),
            other => other.to_string(),
        };
        let source_name = self.name.to_string();
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
            return Error::Busy { source_name, path: self.path.clone(), timeout: self.timeout };
        }
        if message.contains("attempt to write a readonly database") {
            return match (self.readonly, access) {
                (true, _) => Error::ReadOnlySource { source_name, refused_by: RefusedBy::Sqlite },
                (false, Access::Read) => Error::WriteInRead { source_name },
                (false, Access::Write) => Error::Query { source_name, error },
            };
        }
        if message.contains("database is locked") || message.contains("database table is locked") {
            return Error::Busy { source_name, path: self.path.clone(), timeout: self.timeout };
        }
        if message.contains("file is not a database")
            || message.contains("database disk image is malformed")
        {
            return Error::Corrupt { source_name, path: self.path.clone(), detail: message };
        }
        Error::Query { source_name, error }
    }
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

#[derive(Debug)]
struct Pragmas(String);

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(
        &self,
        conn: &mut SqliteConnection,
    ) -> std::result::Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&self.0).map_err(diesel::r2d2::Error::QueryError)
    }
}

fn reader_pragmas(timeout: Duration) -> String {
    format!("PRAGMA busy_timeout = {}; PRAGMA query_only = ON;", timeout.as_millis())
}

fn writer_pragmas(timeout: Duration, config: &SourceConfig) -> String {
    let synchronous = match config.get_durability() {
        Durability::Normal => "NORMAL",
        Durability::Full => "FULL",
    };
    // With background checkpoints, the writer's own is only a backstop; else SQLite's default.
    let autocheckpoint = match has_background_checkpoints(config) {
        true => maintenance::BACKSTOP_PAGES,
        false => 1_000,
    };
    format!(
        "PRAGMA busy_timeout = {}; PRAGMA synchronous = {synchronous}; \
         PRAGMA wal_autocheckpoint = {autocheckpoint};",
        timeout.as_millis()
    )
}

/// A writable SQLite source checkpoints in the background when `pool-size` leaves a connection
/// for it besides the writer and a reader.
pub(crate) fn has_background_checkpoints(config: &SourceConfig) -> bool {
    config.kind() == Kind::Sqlite && !config.is_readonly() && config.get_pool_size() >= 3
}

/// Writes a complete copy of `conn`'s database to `target`.
fn vacuum_into(conn: &mut SqliteConnection, target: &Path) -> std::result::Result<(), String> {
    let quoted = target.to_string_lossy().replace('\'', "''");
    conn.batch_execute(&format!("VACUUM INTO '{quoted}';")).map_err(|e| e.to_string())
}

fn journal_mode(conn: &mut SqliteConnection, sql: &str) -> QueryResult<String> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        journal_mode: String,
    }
    Ok(diesel::sql_query(sql).get_result::<Row>(conn)?.journal_mode)
}

/// The SQLite URI of `path` opened in `mode` (`ro` or `rwc`): `file:` and the path with the
/// characters URIs reserve percent-encoded.
/// The SQLite URI of `path` opened with `mode` (`ro`, `rw`, `rwc`, or `ro&immutable=1`): every
/// byte SQLite would read as URI syntax is escaped. The connections of tools that work beside
/// the router (the operator's command line) are opened with it, as the router's own are.
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
}

//! The kinds of source, behind one boundary: this module is the only place that knows which kinds
//! there are. Each kind is a module that implements the same set of operations for its own
//! connection type ([`crate::sqlite`], and [`crate::postgres`] with the `postgres` feature); the
//! enums here ([`Kind`], [`Conn`], [`Pools`], [`Leased`], [`ToolConn`]) hold one variant per kind,
//! and every `match` on a kind is written here, once per operation.
//!
//! A closed set of enums rather than a trait object: a routed call's hot path (lease a connection,
//! run the query, give it back) then costs a predictable branch instead of a virtual call and a
//! box, and a query is compiled for each kind's concrete connection type anyway (see
//! [`Conn::run`]), which a trait object could not hand it.
//!
//! A new kind of source: a variant in each enum and an arm in each `match` here, its module, its
//! migrations, and its copy of the annotated queries (`multisource`'s `__private` and the macro's
//! list of kinds).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use diesel::QueryResult;
use diesel::SqliteConnection;
use diesel::connection::SimpleConnection;
use multisource_migrations::{Mismatch, Schema, SchemaState};

use crate::config::SourceConfig;
use crate::error::{Error, RefusedBy, Result};
use crate::maintenance;
use crate::moves::Moves;
use crate::opened::Purpose;
use crate::preflight::Inspected;
use crate::source::{Explained, SourceId, SourceInfo};
use crate::sqlite;
use crate::stats::Counters;
use crate::tools::{Bind, Dialect};

/// The connection types of the kinds besides SQLite's, which `multisource` re-exports: the
/// annotated queries are also compiled against each.
pub mod connections {
    /// A PostgreSQL connection: the annotated queries are also compiled against it.
    #[cfg(feature = "postgres")]
    pub use diesel::PgConnection;
}

/// What the code the annotated queries generate needs of the kinds (`multisource::__private`
/// re-exports it): the connection a query gets, each kind's connection type, and the gate of
/// each kind's copies. Not a stable API.
#[doc(hidden)]
pub mod __generated {
    pub use super::Conn;
    #[cfg(feature = "postgres")]
    pub use super::connections::PgConnection;
    pub use crate::__if_postgres;
}

/// Keeps its input only when built with the `postgres` feature: `items: ...` gives the items
/// (the queries' PostgreSQL copies), `expr: ...` the expression (a copy's call), which is `()`
/// without the feature. Not for use outside generated code.
#[cfg(feature = "postgres")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_postgres {
    (items: $($item:item)*) => { $($item)* };
    (expr: $expr:expr) => { $expr };
}

/// Keeps its input only when built with the `postgres` feature: `items: ...` gives the items
/// (the queries' PostgreSQL copies), `expr: ...` the expression (a copy's call), which is `()`
/// without the feature. Not for use outside generated code.
#[cfg(not(feature = "postgres"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_postgres {
    (items: $($item:item)*) => {};
    (expr: $expr:expr) => {
        ()
    };
}

/// The kind of database behind a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A SQLite file (`path`).
    Sqlite,
    /// A PostgreSQL server (`url`).
    Postgres,
}

impl Kind {
    /// `sqlite` or `postgres`: the spelling of the kind in reports, and of its cargo feature.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }

    /// The kind of server a URL's scheme names: `postgres://` and `postgresql://` are PostgreSQL.
    pub fn of_url(url: &str) -> Option<Kind> {
        let scheme = url.split_once("://")?.0;
        match scheme.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(Kind::Postgres),
            _ => None,
        }
    }

    /// True when this build of multisource can open sources of this kind (PostgreSQL's needs the
    /// `postgres` feature).
    pub fn is_built(self) -> bool {
        match self {
            Kind::Sqlite => true,
            Kind::Postgres => cfg!(feature = "postgres"),
        }
    }

    /// The versions and the full names of the kind's migrations of `schema` (multisource's,
    /// then a bot's), oldest first.
    pub fn migrations(self, schema: &Schema) -> (Vec<String>, Vec<String>) {
        match self {
            Kind::Sqlite => (schema.versions(), schema.names()),
            #[cfg(feature = "postgres")]
            Kind::Postgres => multisource_migrations::postgres::listed(schema),
            #[cfg(not(feature = "postgres"))]
            Kind::Postgres => (Vec::new(), Vec::new()),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Sqlite => "SQLite",
            Kind::Postgres => "PostgreSQL",
        })
    }
}

/// The connection a routed call runs on, of the kind of its source.
///
/// The queries annotated with `#[multisource::read]` and `#[multisource::write]` are compiled for
/// each kind, and the generated methods pick the right one; code given to `Database::read_any`
/// and the like matches on it. New kinds may be added: match with a `_` arm.
#[non_exhaustive]
pub enum Conn<'a> {
    /// A SQLite source's connection.
    Sqlite(&'a mut SqliteConnection),
    /// A PostgreSQL source's connection.
    #[cfg(feature = "postgres")]
    Pg(&'a mut diesel::PgConnection),
}

impl Conn<'_> {
    /// The kind of the source.
    pub fn kind(&self) -> Kind {
        match self {
            Conn::Sqlite(_) => Kind::Sqlite,
            #[cfg(feature = "postgres")]
            Conn::Pg(_) => Kind::Postgres,
        }
    }

    /// Runs the copy of a query for the connection's kind with the call's arguments: `sqlite` on
    /// a SQLite connection, `postgres` on a PostgreSQL one (with the `postgres` feature; without
    /// it, the parameter is `()`). The generated methods of the annotated queries call it with
    /// each kind's copy; the arguments are handed to the one that runs, so that an argument
    /// taken by value is moved once.
    pub fn run<A, T>(
        self,
        args: A,
        sqlite: impl FnOnce(&mut SqliteConnection, A) -> QueryResult<T>,
        #[cfg(feature = "postgres")] postgres: impl FnOnce(
            &mut diesel::PgConnection,
            A,
        ) -> QueryResult<T>,
        #[cfg(not(feature = "postgres"))] _postgres: (),
    ) -> QueryResult<T> {
        match self {
            Conn::Sqlite(conn) => sqlite(conn, args),
            #[cfg(feature = "postgres")]
            Conn::Pg(conn) => postgres(conn, args),
        }
    }
}

impl fmt::Debug for Conn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Conn::{:?}", self.kind())
    }
}

impl SimpleConnection for Conn<'_> {
    fn batch_execute(&mut self, query: &str) -> QueryResult<()> {
        match self {
            Conn::Sqlite(conn) => conn.batch_execute(query),
            #[cfg(feature = "postgres")]
            Conn::Pg(conn) => conn.batch_execute(query),
        }
    }
}

/// A source opened by the router: its connections, of its kind.
// One per source, made once and never moved: its size does not matter, an indirection on the
// hot path would.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Pools {
    Sqlite(sqlite::Pools),
    #[cfg(feature = "postgres")]
    Postgres(crate::postgres::Pools),
}

/// What tells whether anything committed to a source while a read ran.
pub(crate) enum Changes<'a> {
    /// The watch over a SQLite file's commits: equal tokens, nothing committed in between.
    Watched(&'a crate::sqlite::watch::Watch),
    /// Nothing tells but a query (a PostgreSQL server).
    #[cfg(feature = "postgres")]
    Asked,
    /// Nothing changes the source while the router runs, as far as moves go: a SQLite file
    /// without a write-ahead-log index, which only a read-only source can be (a chat moves out
    /// of it only with the bot stopped).
    Never,
}

impl Changes<'_> {
    /// The watch's stamp now (see `Watch::stamp`); 0 without a watch.
    #[inline]
    pub(crate) fn stamp(&self) -> u64 {
        match self {
            Changes::Watched(watch) => watch.stamp(),
            _ => 0,
        }
    }

    /// True when something may have committed since the watch gave `before`.
    #[inline]
    pub(crate) fn since(&self, before: u64) -> bool {
        match self {
            Changes::Watched(watch) => watch.stamp() != before,
            #[cfg(feature = "postgres")]
            Changes::Asked => true,
            Changes::Never => false,
        }
    }
}

/// A connection leased for one call, of its source's kind.
pub(crate) enum Leased<'a> {
    Sqlite(sqlite::Leased<'a>),
    #[cfg(feature = "postgres")]
    Postgres(crate::postgres::Pooled),
}

/// What opening a source found and made.
pub(crate) struct Opening {
    pub(crate) pools: Pools,
    pub(crate) info: SourceInfo,
    /// What the maintenance thread checkpoints, for a source that has background checkpoints.
    pub(crate) checkpoint: Option<maintenance::Target>,
    /// The source's record of chats that left it (`None`: it has no such table).
    pub(crate) moves: Option<Vec<crate::moves::Change>>,
}

/// Opens a source for the router: checks it, migrates it when writable, builds its pools.
pub(crate) fn open(id: &SourceId, config: &SourceConfig) -> Result<Opening> {
    match config.kind() {
        Kind::Sqlite => sqlite::open(id, config),
        #[cfg(feature = "postgres")]
        Kind::Postgres => crate::postgres::open(id, config),
        #[cfg(not(feature = "postgres"))]
        Kind::Postgres => Err(not_built(id)),
    }
}

/// What the preflight finds of a source, through read-only connections.
pub(crate) fn inspect(config: &SourceConfig) -> Inspected {
    match config.kind() {
        Kind::Sqlite => sqlite::inspect(config),
        #[cfg(feature = "postgres")]
        Kind::Postgres => crate::postgres::inspect(config),
        #[cfg(not(feature = "postgres"))]
        Kind::Postgres => {
            let error = not_built(&SourceId::of(config));
            Inspected {
                report: crate::preflight::SourceReport {
                    name: config.name().to_owned(),
                    unreadable: Some(error.to_string()),
                    ..Default::default()
                },
                error: Some(error),
                warnings: Vec::new(),
            }
        }
    }
}

#[cfg(not(feature = "postgres"))]
fn not_built(id: &SourceId) -> Error {
    id.open_error("PostgreSQL sources need multisource built with its `postgres` feature".into())
}

/// How a kind's database refused a statement, for the error that says so.
pub(crate) enum Refused {
    /// A write on a read-only connection or session.
    ReadOnly(RefusedBy),
    /// A lock held elsewhere, after waiting this long.
    Busy(Duration),
    /// A damaged file: the database's words.
    Corrupt(String),
    /// A statement the connection's guard does not allow there.
    NotAllowed(String),
}

/// What a kind's database error means, beyond diesel's error.
pub(crate) fn classify(
    id: &SourceId,
    error: &diesel::result::Error,
    message: &str,
    explained: &Explained,
) -> Option<Refused> {
    match id.kind {
        Kind::Sqlite => sqlite::classify(message, explained),
        Kind::Postgres => postgres_refused(id, error, message),
    }
}

#[cfg(feature = "postgres")]
fn postgres_refused(
    id: &SourceId,
    error: &diesel::result::Error,
    message: &str,
) -> Option<Refused> {
    crate::postgres::classify(id, error, message)
}

#[cfg(not(feature = "postgres"))]
fn postgres_refused(_: &SourceId, _: &diesel::result::Error, _: &str) -> Option<Refused> {
    None
}

impl Pools {
    /// A connection for reads.
    pub(crate) fn reader<'a>(&'a self, id: &SourceId, counters: &Counters) -> Result<Leased<'a>> {
        match self {
            Pools::Sqlite(pools) => pools.reader(id, counters).map(Leased::Sqlite),
            #[cfg(feature = "postgres")]
            Pools::Postgres(pools) => pools.reader(id, counters).map(Leased::Postgres),
        }
    }

    /// The writes of the source, in batches (see `batch.rs`); `None` when the source has no
    /// writers (it is read-only).
    pub(crate) fn writer<'a>(
        &'a self,
        id: &'a SourceId,
        counters: &'a Counters,
        moves: &'a Moves,
    ) -> Option<crate::batch::Writer<'a>> {
        let batcher = match self {
            Pools::Sqlite(pools) => pools.batcher()?,
            #[cfg(feature = "postgres")]
            Pools::Postgres(pools) => pools.batcher()?,
        };
        Some(crate::batch::Writer { pools: self, batcher, id, counters, moves })
    }

    /// The watch's token now, for a SQLite file with a watch (`None`: no watch, or a commit
    /// was being written).
    #[inline]
    pub(crate) fn token(&self) -> Option<crate::sqlite::watch::Token> {
        match self.changes() {
            Changes::Watched(watch) => watch.token(),
            _ => None,
        }
    }

    /// What tells whether the source changed while a read ran.
    #[inline]
    pub(crate) fn changes(&self) -> Changes<'_> {
        match self {
            Pools::Sqlite(pools) => pools.watch().map_or(Changes::Never, Changes::Watched),
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => Changes::Asked,
        }
    }

    /// A writer of a writable source, for a batch.
    pub(crate) fn writer_lease<'a>(
        &'a self,
        id: &SourceId,
        counters: &Counters,
    ) -> Result<Leased<'a>> {
        match self {
            Pools::Sqlite(pools) => pools.writer(id, counters).map(Leased::Sqlite),
            #[cfg(feature = "postgres")]
            Pools::Postgres(pools) => pools.writer(id, counters).map(Leased::Postgres),
        }
    }

    /// What the check of the source's file after a write found wrong (SQLite files only).
    pub(crate) fn fault_after_write(&self) -> Option<crate::health::Fault> {
        match self {
            Pools::Sqlite(pools) => pools.fault_after_write(),
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => None,
        }
    }

    /// The error of a file found at fault after a write, saving what `held`, the writer, still
    /// sees of a removed file.
    pub(crate) fn file_error(
        &self,
        id: &SourceId,
        fault: crate::health::Fault,
        held: Option<&mut Leased<'_>>,
    ) -> Error {
        match self {
            Pools::Sqlite(pools) => {
                let held = match held {
                    Some(Leased::Sqlite(lease)) => Some(&mut **lease),
                    _ => None,
                };
                pools.file_error(id, fault, held)
            }
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => unreachable!("a PostgreSQL source has no file to find at fault"),
        }
    }

    /// Fails when the source's storage was found at fault (a SQLite file removed, replaced or
    /// damaged while open).
    #[inline]
    pub(crate) fn check(&self, id: &SourceId) -> Result<()> {
        match self {
            Pools::Sqlite(pools) => pools.check_file(id),
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => Ok(()),
        }
    }

    /// The source's read cache, if it has one (SQLite files only).
    #[inline]
    pub(crate) fn cache(&self) -> Option<&crate::cache::Cache> {
        match self {
            Pools::Sqlite(pools) => pools.cache(),
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => None,
        }
    }

    /// Records what an error of a call says of the source's storage (a damaged SQLite file).
    pub(crate) fn noticed(&self, error: &Error) {
        match self {
            Pools::Sqlite(pools) => pools.noticed(error),
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => {}
        }
    }

    /// The file watch of the source, for the maintenance thread.
    pub(crate) fn health(&self) -> Option<Arc<crate::health::Health>> {
        match self {
            Pools::Sqlite(pools) => Some(pools.health()),
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => None,
        }
    }

    /// The writes waiting now for the writer.
    pub(crate) fn writes_waiting(&self) -> u32 {
        let batcher = match self {
            Pools::Sqlite(pools) => pools.batcher(),
            #[cfg(feature = "postgres")]
            Pools::Postgres(pools) => pools.batcher(),
        };
        batcher.map_or(0, crate::batch::Batcher::waiting)
    }

    /// The connections the pools hold open now.
    pub(crate) fn open_connections(&self) -> u32 {
        match self {
            Pools::Sqlite(pools) => pools.open_connections(),
            #[cfg(feature = "postgres")]
            Pools::Postgres(pools) => pools.open_connections(),
        }
    }
}

impl Leased<'_> {
    /// Runs a read's query or closure; a SQLite connection is held to its guard's rules for
    /// reads, and a transaction it left open is rolled back.
    pub(crate) fn read<T>(
        &mut self,
        id: &SourceId,
        query: impl FnOnce(Conn<'_>) -> QueryResult<T>,
    ) -> Result<T> {
        match self {
            Leased::Sqlite(lease) => sqlite::read(lease, id, query),
            #[cfg(feature = "postgres")]
            Leased::Postgres(conn) => crate::postgres::read(conn, id, query),
        }
    }

    /// The connection, for the library's own statements.
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            Leased::Sqlite(lease) => Conn::Sqlite(lease.conn()),
            #[cfg(feature = "postgres")]
            Leased::Postgres(conn) => Conn::Pg(conn),
        }
    }

    /// Begins a write transaction on a writer, and reads again what the source says of the
    /// chats that left it when it may have changed, under the lock that keeps it from changing
    /// until the transaction ends. SQLite: `BEGIN IMMEDIATE` (the file's write lock at once),
    /// and the table read again when the file's data version says another connection committed
    /// since this one's last write transaction. PostgreSQL: `BEGIN`, the table locked against a
    /// move (`ROW SHARE`, which a move's `EXCLUSIVE` waits for), and the check that no move was
    /// recorded past the greatest one known, in one round trip; the table read again when the
    /// check fails.
    pub(crate) fn begin_write(&mut self, moves: &Moves) -> QueryResult<()> {
        use diesel::connection::AnsiTransactionManager;
        match self {
            Leased::Sqlite(lease) => {
                AnsiTransactionManager::begin_transaction_sql(lease.conn(), "BEGIN IMMEDIATE")?;
                if !moves.present() {
                    return Ok(());
                }
                let now = lease.data_version();
                if now.is_some() && now == lease.ended_at_version {
                    return Ok(());
                }
                let refreshed = moves.refresh(Conn::Sqlite(lease.conn()));
                if refreshed.is_err() {
                    let _ = <AnsiTransactionManager as diesel::connection::TransactionManager<_>>::rollback_transaction(lease.conn());
                }
                refreshed
            }
            #[cfg(feature = "postgres")]
            Leased::Postgres(conn) => crate::postgres::begin_write(conn, moves),
        }
    }

    /// Runs the library's own statements (savepoints) on the connection.
    pub(crate) fn execute(&mut self, sql: &str) -> QueryResult<()> {
        match self {
            Leased::Sqlite(lease) => lease.conn().batch_execute(sql),
            #[cfg(feature = "postgres")]
            Leased::Postgres(conn) => conn.batch_execute(sql),
        }
    }

    /// Runs a write's query or closure inside the open transaction; on SQLite, under the
    /// guard's rules for writes.
    pub(crate) fn run_write<T>(
        &mut self,
        query: impl FnOnce(Conn<'_>) -> QueryResult<T>,
    ) -> QueryResult<T> {
        match self {
            Leased::Sqlite(lease) => lease.run_as(sqlite::Mode::Write, |c| query(Conn::Sqlite(c))),
            #[cfg(feature = "postgres")]
            Leased::Postgres(conn) => query(Conn::Pg(conn)),
        }
    }

    /// True when the database says no transaction is open (SQLite only: a PostgreSQL session's
    /// state is what diesel counts).
    pub(crate) fn in_autocommit(&self) -> bool {
        match self {
            Leased::Sqlite(lease) => lease.in_autocommit(),
            #[cfg(feature = "postgres")]
            Leased::Postgres(_) => false,
        }
    }

    /// True when diesel counts exactly one transaction open: the batch's.
    pub(crate) fn depth_is_one(&mut self) -> bool {
        fn one<C>(conn: &mut C) -> bool
        where
            C: diesel::Connection<TransactionManager = diesel::connection::AnsiTransactionManager>,
        {
            use diesel::connection::{AnsiTransactionManager, TransactionManager};
            let status = AnsiTransactionManager::transaction_manager_status_mut(conn);
            matches!(status.transaction_depth(), Ok(Some(depth)) if depth.get() == 1)
        }
        match self {
            Leased::Sqlite(lease) => one(lease.conn()),
            #[cfg(feature = "postgres")]
            Leased::Postgres(conn) => one(&mut **conn),
        }
    }

    /// Rolls back the innermost transaction diesel counts.
    pub(crate) fn rollback(&mut self) -> QueryResult<()> {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        match self {
            Leased::Sqlite(lease) => {
                let rolled = AnsiTransactionManager::rollback_transaction(lease.conn());
                lease.ended_at_version = lease.data_version();
                rolled
            }
            #[cfg(feature = "postgres")]
            Leased::Postgres(conn) => AnsiTransactionManager::rollback_transaction(&mut **conn),
        }
    }

    /// Commits the transaction.
    pub(crate) fn commit(&mut self) -> QueryResult<()> {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        match self {
            Leased::Sqlite(lease) => {
                let committed = AnsiTransactionManager::commit_transaction(lease.conn());
                // This commit changed the data version; the next `BEGIN` compares with it.
                lease.ended_at_version = lease.data_version();
                committed
            }
            #[cfg(feature = "postgres")]
            Leased::Postgres(conn) => AnsiTransactionManager::commit_transaction(&mut **conn),
        }
    }

    /// What the connection knows of its last failure, beyond diesel's error.
    pub(crate) fn explain(&self) -> Explained {
        match self {
            Leased::Sqlite(lease) => sqlite::explain(lease),
            #[cfg(feature = "postgres")]
            Leased::Postgres(_) => Explained::default(),
        }
    }
}

/// A connection opened beside the router for a tool, of its source's kind.
pub(crate) enum ToolConn {
    Sqlite(sqlite::Guarded),
    #[cfg(feature = "postgres")]
    Pg(diesel::PgConnection),
}

/// Opens a source for a tool's purpose: the connection, and the descriptor a SQLite file keeps
/// open as long as it.
pub(crate) fn open_tool(
    id: &SourceId,
    config: &SourceConfig,
    purpose: Purpose,
    info: &mut SourceInfo,
) -> Result<(ToolConn, Option<Arc<sqlite::file::OpenFile>>)> {
    match config.kind() {
        Kind::Sqlite => sqlite::open_tool(id, config, purpose, info)
            .map(|(conn, file)| (ToolConn::Sqlite(conn), Some(file))),
        #[cfg(feature = "postgres")]
        Kind::Postgres => crate::postgres::open_tool(id, config, purpose, info)
            .map(|conn| (ToolConn::Pg(conn), None)),
        #[cfg(not(feature = "postgres"))]
        Kind::Postgres => Err(not_built(id)),
    }
}

impl ToolConn {
    /// The connection, of the source's kind.
    pub(crate) fn conn(&mut self) -> Conn<'_> {
        match self {
            ToolConn::Sqlite(conn) => Conn::Sqlite(conn.conn()),
            #[cfg(feature = "postgres")]
            ToolConn::Pg(conn) => Conn::Pg(conn),
        }
    }

    /// The SQL of the source's kind.
    pub(crate) fn dialect(&self) -> &'static Dialect {
        match self {
            ToolConn::Sqlite(_) => &sqlite::DIALECT,
            #[cfg(feature = "postgres")]
            ToolConn::Pg(_) => &crate::postgres::DIALECT,
        }
    }

    /// What a failed statement of a tool's says, as the router would say it.
    pub(crate) fn explain(&self) -> Explained {
        match self {
            ToolConn::Sqlite(conn) => sqlite::explain(conn),
            #[cfg(feature = "postgres")]
            ToolConn::Pg(_) => Explained::default(),
        }
    }

    /// Where the schema stands against `schema`.
    pub(crate) fn state(&mut self, schema: &Schema) -> QueryResult<SchemaState> {
        match self {
            ToolConn::Sqlite(conn) => multisource_migrations::state(schema, conn.conn()),
            #[cfg(feature = "postgres")]
            ToolConn::Pg(conn) => multisource_migrations::postgres::state(schema, conn),
        }
    }

    /// How the database differs from `schema`.
    pub(crate) fn check(&mut self, schema: &Schema) -> QueryResult<Vec<Mismatch>> {
        match self {
            ToolConn::Sqlite(conn) => multisource_migrations::check(schema, conn.conn()),
            #[cfg(feature = "postgres")]
            ToolConn::Pg(conn) => multisource_migrations::postgres::check(schema, conn),
        }
    }

    /// Applies the pending migrations, as the router does for a writable source.
    pub(crate) fn migrate(&mut self, id: &SourceId, info: &mut SourceInfo) -> Result<()> {
        match self {
            ToolConn::Sqlite(conn) => sqlite::migrate_writable(id, conn, info),
            #[cfg(feature = "postgres")]
            ToolConn::Pg(conn) => crate::postgres::migrate(id, conn, info),
        }
    }

    /// The rows of a query whose columns are text (each row's columns in order).
    pub(crate) fn texts(
        &mut self,
        sql: &str,
        binds: &[Bind<'_>],
    ) -> QueryResult<Vec<Vec<Option<String>>>> {
        match self {
            ToolConn::Sqlite(conn) => crate::tools::texts(conn.conn(), sql, binds),
            #[cfg(feature = "postgres")]
            ToolConn::Pg(conn) => crate::tools::texts(conn, sql, binds),
        }
    }

    /// Runs a statement; the rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, binds: &[Bind<'_>]) -> QueryResult<usize> {
        match self {
            ToolConn::Sqlite(conn) => crate::tools::execute(conn.conn(), sql, binds),
            #[cfg(feature = "postgres")]
            ToolConn::Pg(conn) => crate::tools::execute(conn, sql, binds),
        }
    }

    /// Runs statements without binds.
    pub(crate) fn batch(&mut self, sql: &str) -> QueryResult<()> {
        self.conn().batch_execute(sql)
    }
}

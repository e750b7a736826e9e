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

    /// Runs a write's query in one transaction on the source's writer, committed when it
    /// returns `Ok` (on SQLite, possibly in a batch led by another thread, which may run
    /// `query` there: see `sqlite/batch.rs`); `None` when the source has no writers (it is
    /// read-only).
    pub(crate) fn write<T: Send>(
        &self,
        id: &SourceId,
        counters: &Counters,
        query: impl FnOnce(Conn<'_>) -> QueryResult<T> + Send,
    ) -> Option<Result<T>> {
        match self {
            Pools::Sqlite(pools) => pools.batch(id, counters).map(|w| w.write_sendable(query)),
            #[cfg(feature = "postgres")]
            Pools::Postgres(pools) => pools.write(id, counters, query),
        }
    }

    /// [`Pools::write`] for a query that must run on this thread.
    pub(crate) fn write_here<T>(
        &self,
        id: &SourceId,
        counters: &Counters,
        query: impl FnOnce(Conn<'_>) -> QueryResult<T>,
    ) -> Option<Result<T>> {
        match self {
            Pools::Sqlite(pools) => pools.batch(id, counters).map(|w| w.write_here(query)),
            #[cfg(feature = "postgres")]
            Pools::Postgres(pools) => pools.write(id, counters, query),
        }
    }

    /// Fails when the source's storage was found at fault (a SQLite file removed, replaced or
    /// damaged while open).
    #[inline]
    pub(crate) fn check(&self, id: &SourceId, counters: &Counters) -> Result<()> {
        match self {
            Pools::Sqlite(pools) => pools.check_file(id, counters),
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
        match self {
            Pools::Sqlite(pools) => pools.writes_waiting(),
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => 0,
        }
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

//! PostgreSQL sources (the `postgres` feature): opening them, their pools of sessions, what each
//! session is set to, how the server's refusals read, and the SQL of the operator's tools.
//!
//! A source has a pool of sessions for reads, each opened read-only
//! (`default_transaction_read_only = on`), so a write that slips into a read is refused by the
//! server, and, when writable, a pool of sessions for writes; `pool-size` is shared between them
//! (half for writes, at least one). Every session runs in UTC, as SQLite's `CURRENT_TIMESTAMP`
//! does, and waits for a lock at most the source's `timeout` (`lock_timeout`).
//!
//! A read-only session can be switched back to read-write by SQL run inside a read closure, as
//! SQLite's `query_only` can: for a source that must never be written, whatever the code does,
//! also give it a role that may only `SELECT`.

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use multisource_migrations::postgres as schema;
use multisource_migrations::{MigrationError, SchemaState};
use scheduled_thread_pool::ScheduledThreadPool;

use crate::backend::{Conn, Opening, Refused};
use crate::config::SourceConfig;
use crate::error::{Error, PoolRole, RefusedBy, Result};
use crate::moves::Moves;
use crate::opened::Purpose;
use crate::preflight::{Inspected, SourceReport};
use crate::route::Access;
use crate::source::{SourceId, SourceInfo};
use crate::stats::Counters;
use crate::tools::{Dialect, truthy};

/// How long after it took its first queued call a batch of writes stops taking calls (see
/// `batch.rs`): a server's readers do not wait for it, but each call costs round trips, and the
/// rows it wrote stay locked until it commits.
const MAX_SPAN: Duration = Duration::from_millis(25);

/// A pooled PostgreSQL session.
pub(crate) type Pooled = PooledConnection<ConnectionManager<PgConnection>>;

/// The pools of one PostgreSQL source.
pub(crate) struct Pools {
    readers: Pool<ConnectionManager<PgConnection>>,
    writers: Option<Pool<ConnectionManager<PgConnection>>>,
    /// The writes waiting for a writer session (see `batch.rs`).
    batcher: crate::batch::Batcher,
}

impl Pools {
    pub(crate) fn reader(&self, id: &SourceId, counters: &Counters) -> Result<Pooled> {
        lease(&self.readers, id, counters, PoolRole::Readers)
    }

    /// The queue of the source's writes; `None` for a read-only source, which has no writers.
    pub(crate) fn batcher(&self) -> Option<&crate::batch::Batcher> {
        self.writers.as_ref().map(|_| &self.batcher)
    }

    /// A writer session.
    pub(crate) fn writer(&self, id: &SourceId, counters: &Counters) -> Result<Pooled> {
        match &self.writers {
            Some(pool) => lease(pool, id, counters, PoolRole::Writers),
            None => Err(id.busy_pool_error(PoolRole::Writers, 0)),
        }
    }

    pub(crate) fn open_connections(&self) -> u32 {
        self.readers.state().connections
            + self.writers.as_ref().map_or(0, |p| p.state().connections)
    }
}

fn lease(
    pool: &Pool<ConnectionManager<PgConnection>>,
    id: &SourceId,
    counters: &Counters,
    role: PoolRole,
) -> Result<Pooled> {
    pool.get_timeout(id.timeout).map_err(|e| {
        counters.checkout_timeout();
        pool_error(id, &e, role, pool.max_size())
    })
}

/// What every session of a source is set to.
#[derive(Debug)]
struct Session(String);

impl Session {
    fn new(access: Access, timeout: Duration) -> Session {
        let read_only = match access {
            Access::Read => " SET default_transaction_read_only = on;",
            Access::Write => "",
        };
        Session(format!(
            "SET TIME ZONE 'UTC'; SET lock_timeout = {};{read_only}",
            timeout.as_millis().max(1)
        ))
    }
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for Session {
    fn on_acquire(&self, conn: &mut PgConnection) -> std::result::Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&self.0).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// `url` with a `connect_timeout` (whole seconds, at least 2 as libpq wants) unless it has one:
/// without it, a server that does not answer blocks a connection attempt for minutes.
fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let seconds = timeout.as_secs_f64().ceil().max(2.0) as u64;
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}connect_timeout={seconds}")
}

/// A PostgreSQL session set as the router sets its own: connected within `timeout` (unless the
/// URL says otherwise), in UTC, waiting at most `timeout` for a lock, and read-only when
/// `read_only`. The tools that work beside the router (the operator's command line, the
/// benchmarks) open their sessions with it, so that they see the data as the bot does.
pub fn postgres_session(
    url: &str,
    timeout: Duration,
    read_only: bool,
) -> std::result::Result<PgConnection, String> {
    let url = with_connect_timeout(url, timeout);
    let mut conn = PgConnection::establish(&url)
        .map_err(|e| format!("cannot connect: {}", e.to_string().trim_end()))?;
    let access = if read_only { Access::Read } else { Access::Write };
    conn.batch_execute(&Session::new(access, timeout).0).map_err(|e| e.to_string())?;
    Ok(conn)
}

/// The threads r2d2 opens the sessions of every PostgreSQL source on.
fn threads() -> Arc<ScheduledThreadPool> {
    static THREADS: std::sync::OnceLock<Arc<ScheduledThreadPool>> = std::sync::OnceLock::new();
    THREADS
        .get_or_init(|| {
            Arc::new(
                ScheduledThreadPool::builder()
                    .num_threads(1)
                    .thread_name_pattern("multisource-postgres-{}")
                    .build(),
            )
        })
        .clone()
}

/// A pool of at most `size` sessions, opened on demand and kept, never tested on checkout (a
/// broken session is dropped when it is returned), waiting at most `timeout` for one.
fn pool_builder<M: r2d2::ManageConnection>(size: u32, timeout: Duration) -> r2d2::Builder<M> {
    Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .test_on_check_out(false)
        .idle_timeout(None)
        .max_lifetime(None)
        .connection_timeout(timeout)
        .thread_pool(threads())
}

/// What the preflight finds of a PostgreSQL source, through a read-only session: the error
/// opening it would fail with, if any.
pub(crate) fn inspect(source: &SourceConfig) -> Inspected {
    let id = SourceId::of(source);
    let mut inspected = Inspected {
        report: SourceReport { name: source.name().to_owned(), ..SourceReport::default() },
        ..Inspected::default()
    };
    let read = (|| -> Result<()> {
        let url = source.url().unwrap_or_default();
        let mut conn = postgres_session(url, id.timeout, true).map_err(|e| id.open_error(e))?;
        inspected.report.exists = true;
        let state =
            schema::state(source.schema(), &mut conn).map_err(|e| failed(&id, e, Access::Read))?;
        inspected.report.mismatches =
            schema::check(source.schema(), &mut conn).map_err(|e| failed(&id, e, Access::Read))?;
        inspected.report.state = Some(state);
        Ok(())
    })();
    inspected.error = match read {
        Err(error) => {
            inspected.report.unreadable = Some(error.to_string());
            Some(error)
        }
        Ok(()) => match (&inspected.report.state, id.readonly) {
            (Some(SchemaState::Unknown), false) => Some(Error::Migration {
                source_name: id.name.to_string(),
                path: id.path.clone(),
                error: MigrationError::UnknownTables,
            }),
            (Some(_), true) if !inspected.report.mismatches.is_empty() => {
                Some(Error::SchemaMismatch {
                    source_name: id.name.to_string(),
                    path: id.path.clone(),
                    mismatches: inspected.report.mismatches.clone(),
                })
            }
            _ => None,
        },
    };
    inspected
}

/// Opens a PostgreSQL source: connects, migrates it when writable, checks its schema, builds its
/// pools.
pub(crate) fn open(id: &SourceId, config: &SourceConfig) -> Result<Opening> {
    let mut info = SourceInfo::new(config, id.path.clone());
    let url = with_connect_timeout(config.url().unwrap_or_default(), id.timeout);
    let mut conn = postgres_session(&url, id.timeout, false).map_err(|e| id.open_error(e))?;
    info.state_at_open =
        schema::state(config.schema(), &mut conn).map_err(|e| failed(id, e, Access::Read))?;
    if !id.readonly {
        let report = schema::migrate(config.schema(), &mut conn).map_err(|error| {
            Error::Migration { source_name: id.name.to_string(), path: id.path.clone(), error }
        })?;
        info.applied = report.applied;
    }
    let mismatches =
        schema::check(config.schema(), &mut conn).map_err(|e| failed(id, e, Access::Read))?;
    if !mismatches.is_empty() {
        return Err(Error::SchemaMismatch {
            source_name: id.name.to_string(),
            path: id.path.clone(),
            mismatches,
        });
    }
    let moves = crate::moves::load(Conn::Pg(&mut conn)).map_err(|e| failed(id, e, Access::Read))?;
    drop(conn);
    let writers = match id.readonly {
        true => 0,
        false => (id.pool_size / 2).max(1),
    };
    let pool = |access: Access, size: u32| {
        let role = match access {
            Access::Read => PoolRole::Readers,
            Access::Write => PoolRole::Writers,
        };
        pool_builder(size, id.timeout)
            .connection_customizer(Box::new(Session::new(access, id.timeout)))
            .build(ConnectionManager::new(url.clone()))
            .map_err(|e| pool_error(id, &e, role, size))
    };
    let pools = Pools {
        readers: pool(Access::Read, id.pool_size - writers)?,
        writers: match writers {
            0 => None,
            n => Some(pool(Access::Write, n)?),
        },
        batcher: crate::batch::Batcher::new(config.is_group_commit(), MAX_SPAN),
    };
    Ok(Opening { pools: crate::backend::Pools::Postgres(pools), info, checkpoint: None, moves })
}

/// Runs a read's query or closure in the session (read-only, so the server refuses a write).
pub(crate) fn read<T>(
    conn: &mut Pooled,
    id: &SourceId,
    query: impl FnOnce(Conn<'_>) -> QueryResult<T>,
) -> Result<T> {
    query(Conn::Pg(conn)).map_err(|e| failed(id, e, Access::Read))
}

/// The check a write makes as it begins, that no move was recorded past the `n`th: fails, and
/// the transaction with it, when one was.
const MOVES_CHECK: &str = "multisource: chat moves were recorded after";

/// Begins a write transaction on a writer session (see `Leased::begin_write`): `BEGIN`, the
/// table of chat moves locked in `ROW SHARE` mode (a move's `EXCLUSIVE` lock on it, taken before
/// it touches any row, waits for the writes under way and makes the next ones wait until it
/// commits), and the check that nothing was recorded past the greatest move known, all in one
/// round trip. When the check fails, the transaction begins again and the new moves are read.
pub(crate) fn begin_write(conn: &mut Pooled, moves: &Moves) -> QueryResult<()> {
    use diesel::connection::AnsiTransactionManager;
    let table = multisource_migrations::MOVES_TABLE;
    if !moves.present() {
        return AnsiTransactionManager::begin_transaction_sql(&mut **conn, "BEGIN");
    }
    let locked = format!("BEGIN; LOCK TABLE {table} IN ROW SHARE MODE;");
    let checked = format!("{locked} SELECT multisource_moves_unchanged({});", moves.seq());
    match AnsiTransactionManager::begin_transaction_sql(&mut **conn, &checked) {
        Ok(()) => Ok(()),
        Err(error) => {
            // The server's transaction, begun but failed, ends here; diesel counted none.
            let _ = conn.batch_execute("ROLLBACK;");
            if !error.to_string().contains(MOVES_CHECK) {
                return Err(error);
            }
            AnsiTransactionManager::begin_transaction_sql(&mut **conn, &locked)?;
            let refreshed = moves.refresh(Conn::Pg(conn));
            if refreshed.is_err() {
                let _ = <AnsiTransactionManager as diesel::connection::TransactionManager<_>>::rollback_transaction(&mut **conn);
            }
            refreshed
        }
    }
}

/// The error of a statement on a session: the server's own message says everything a session
/// knows.
fn failed(id: &SourceId, error: diesel::result::Error, access: Access) -> Error {
    id.failure(error, access, &crate::source::Explained::default())
}

/// What the server's refusal of a statement means.
pub(crate) fn classify(
    id: &SourceId,
    error: &diesel::result::Error,
    message: &str,
) -> Option<Refused> {
    use diesel::result::{DatabaseErrorKind, Error as E};
    if let E::DatabaseError(DatabaseErrorKind::ReadOnlyTransaction, _) = error {
        return Some(Refused::ReadOnly(RefusedBy::Postgres));
    }
    // `lock_timeout` is what the session waited.
    message.contains("canceling statement due to lock timeout").then_some(Refused::Busy(id.timeout))
}

/// Opens a PostgreSQL session for a tool's purpose: read-only to inspect, or as the router's own
/// sessions of that access.
pub(crate) fn open_tool(
    id: &SourceId,
    config: &SourceConfig,
    purpose: Purpose,
    info: &mut SourceInfo,
) -> Result<PgConnection> {
    let read_only = matches!(purpose, Purpose::Inspect | Purpose::Serve(Access::Read));
    let mut conn = postgres_session(config.url().unwrap_or_default(), id.timeout, read_only)
        .map_err(|e| id.open_error(e))?;
    if purpose == Purpose::Migrate {
        migrate(id, &mut conn, info)?;
    }
    Ok(conn)
}

/// Applies the pending migrations, recording what was found and done in `info`.
pub(crate) fn migrate(id: &SourceId, conn: &mut PgConnection, info: &mut SourceInfo) -> Result<()> {
    info.state_at_open =
        schema::state(info.config.schema(), conn).map_err(|e| failed(id, e, Access::Read))?;
    let schema_of = Arc::clone(info.config.schema());
    let report = schema::migrate(&schema_of, conn).map_err(|error| Error::Migration {
        source_name: id.name.to_string(),
        path: id.path.clone(),
        error,
    })?;
    info.applied = report.applied;
    Ok(())
}

crate::tools::primitives!(diesel::PgConnection);

/// The SQL of PostgreSQL, for the tools' statements.
pub(crate) static DIALECT: Dialect = Dialect {
    placeholder: |n| format!("${n}"),
    table_names: "SELECT CAST(table_name AS TEXT) AS line FROM information_schema.tables WHERE \
                  table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY \
                  table_name",
    as_text: |column, _| format!("CAST({column} AS TEXT)"),
    from_text: |placeholder, sql_type| match sql_type.to_ascii_uppercase().as_str() {
        "INTEGER" => format!("CAST({placeholder} AS BIGINT)"),
        "BOOLEAN" => format!("CAST({placeholder} AS BOOLEAN)"),
        "FLOAT" | "REAL" | "DOUBLE" => format!("CAST({placeholder} AS DOUBLE PRECISION)"),
        "TIMESTAMP" => format!("CAST({placeholder} AS TIMESTAMP)"),
        _ => placeholder.to_owned(),
    },
    json_array: |values| format!("CAST(json_build_array({}) AS TEXT)", values.join(", ")),
    upsert: |table, columns, values, key| {
        let set: Vec<String> = columns.iter().map(|n| format!("{n} = EXCLUDED.{n}")).collect();
        format!(
            "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
            columns.join(", "),
            values.join(", "),
            key.join(", "),
            set.join(", ")
        )
    },
    stored: |sql_type, value| match sql_type.to_ascii_uppercase().as_str() {
        "BOOLEAN" => if truthy(value) == Some(true) { "true" } else { "false" }.to_owned(),
        "TIMESTAMP" => value.replacen('T', " ", 1),
        _ => value.to_owned(),
    },
    begin_write: "BEGIN;",
    lock_tables: |tables| {
        (!tables.is_empty()).then(|| format!("LOCK TABLE {} IN EXCLUSIVE MODE;", tables.join(", ")))
    },
    size: Some("SELECT CAST(pg_database_size(current_database()) AS TEXT) AS line"),
    journal_mode: None,
    freeze: None,
    moves_table: multisource_migrations::postgres::MOVES_TABLE_SQL,
};

/// No connection of the pool `role` (of `size` connections) could be opened in time, as an r2d2
/// pool reports it.
fn pool_error(id: &SourceId, error: &r2d2::Error, role: PoolRole, size: u32) -> Error {
    let detail = error.to_string();
    let detail = detail.strip_prefix("timed out waiting for connection: ").unwrap_or(&detail);
    match detail == "timed out waiting for connection" {
        true => id.pool_failure("none opened in time".into(), role, size),
        false => id.pool_failure(detail.to_owned(), role, size),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_timeout_is_added_unless_given() {
        let t = Duration::from_millis(300);
        assert_eq!(with_connect_timeout("postgres://h/db", t), "postgres://h/db?connect_timeout=2");
        assert_eq!(
            with_connect_timeout("postgres://h/db?sslmode=disable", Duration::from_secs(30)),
            "postgres://h/db?sslmode=disable&connect_timeout=30"
        );
        assert_eq!(
            with_connect_timeout("postgres://h/db?connect_timeout=9", t),
            "postgres://h/db?connect_timeout=9"
        );
    }

    #[test]
    fn values_are_stored_as_postgresql_reads_them() {
        assert_eq!((DIALECT.stored)("BOOLEAN", "0"), "false");
        assert_eq!((DIALECT.stored)("TIMESTAMP", "2025-01-01T00:00:00"), "2025-01-01 00:00:00");
        assert_eq!((DIALECT.from_text)("$1", "INTEGER"), "CAST($1 AS BIGINT)");
    }
}

//! PostgreSQL sources (the `postgres` feature): opening them, their pools of sessions, and what
//! each session is set to.
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

use crate::config::SourceConfig;
use crate::error::{Error, PoolRole, Result};
use crate::route::Access;
use crate::source::{SourceId, SourceInfo};
use crate::stats::Counters;

/// A pooled PostgreSQL session.
pub(crate) type Pooled = PooledConnection<ConnectionManager<PgConnection>>;

/// The pools of one PostgreSQL source.
pub(crate) struct Pools {
    readers: Pool<ConnectionManager<PgConnection>>,
    writers: Option<Pool<ConnectionManager<PgConnection>>>,
}

impl Pools {
    pub(crate) fn reader(&self, id: &SourceId, counters: &Counters) -> Result<Pooled> {
        lease(&self.readers, id, counters, PoolRole::Readers)
    }

    /// `None` when the source is read-only.
    pub(crate) fn writer(&self, id: &SourceId, counters: &Counters) -> Option<Result<Pooled>> {
        self.writers.as_ref().map(|pool| lease(pool, id, counters, PoolRole::Writers))
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
        id.pool_error(&e, role, pool.max_size())
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

/// What the preflight finds of a PostgreSQL source, through a read-only session: the error
/// opening it would fail with, if any.
pub(crate) fn inspect(source: &SourceConfig) -> crate::preflight::Inspected {
    use crate::preflight::{Inspected, SourceReport};
    let id = SourceId::postgres(source);
    let mut inspected = Inspected {
        report: SourceReport { name: source.name().to_owned(), ..SourceReport::default() },
        ..Inspected::default()
    };
    let read = (|| -> Result<()> {
        let url = source.url().unwrap_or_default();
        let mut conn = postgres_session(url, id.timeout, true).map_err(|e| id.open_error(e))?;
        inspected.report.exists = true;
        let state = schema::state(&mut conn).map_err(|e| id.query_error(e, Access::Read))?;
        inspected.report.mismatches =
            schema::check(&mut conn).map_err(|e| id.query_error(e, Access::Read))?;
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
pub(crate) fn open(
    id: &SourceId,
    config: &SourceConfig,
    info: &mut SourceInfo,
    threads: &Arc<ScheduledThreadPool>,
) -> Result<Pools> {
    let url = with_connect_timeout(config.url().unwrap_or_default(), id.timeout);
    let mut conn = postgres_session(&url, id.timeout, false).map_err(|e| id.open_error(e))?;
    info.state_at_open = schema::state(&mut conn).map_err(|e| id.query_error(e, Access::Read))?;
    if !id.readonly {
        let report = schema::migrate(&mut conn).map_err(|error| Error::Migration {
            source_name: id.name.to_string(),
            path: id.path.clone(),
            error,
        })?;
        info.applied = report.applied;
    }
    let mismatches = schema::check(&mut conn).map_err(|e| id.query_error(e, Access::Read))?;
    if !mismatches.is_empty() {
        return Err(Error::SchemaMismatch {
            source_name: id.name.to_string(),
            path: id.path.clone(),
            mismatches,
        });
    }
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
        crate::source::pool_builder(size, id.timeout, threads)
            .connection_customizer(Box::new(Session::new(access, id.timeout)))
            .build(ConnectionManager::new(url.clone()))
            .map_err(|e| id.pool_error(&e, role, size))
    };
    Ok(Pools {
        readers: pool(Access::Read, id.pool_size - writers)?,
        writers: match writers {
            0 => None,
            n => Some(pool(Access::Write, n)?),
        },
    })
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
}

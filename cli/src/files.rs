//! Connections to the sources' files, opened beside the router (which would migrate writable
//! sources and refuse writes to read-only ones), and what can be read of a file without changing
//! it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use multisource::{Mismatch, SchemaState, SourceConfig};
use multisource_migrations::Table;

use crate::output::describe;

/// A read-only connection: `mode=ro` and `query_only`, so nothing this tool reads can change the
/// file, and a missing file is an error rather than a new empty database.
pub(crate) fn open_read(path: &Path, timeout: Duration) -> Result<SqliteConnection, String> {
    let mut conn = SqliteConnection::establish(&multisource_router::sqlite_uri(path, "ro"))
        .map_err(|e| describe(&e))?;
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {}; PRAGMA query_only = ON;",
        timeout.as_millis()
    ))
    .map_err(|e| describe(&e))?;
    Ok(conn)
}

/// A connection that writes, with every commit synced to the disk (`synchronous = FULL`): the
/// moves of this tool delete from one file only what another file durably holds. With `create`,
/// a missing file is created.
pub(crate) fn open_write(
    path: &Path,
    timeout: Duration,
    create: bool,
) -> Result<SqliteConnection, String> {
    let mode = if create { "rwc" } else { "rw" };
    let mut conn = SqliteConnection::establish(&multisource_router::sqlite_uri(path, mode))
        .map_err(|e| describe(&e))?;
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {}; PRAGMA synchronous = FULL;",
        timeout.as_millis()
    ))
    .map_err(|e| describe(&e))?;
    Ok(conn)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Runs a `SELECT count(*) AS n ...`, with `chat` bound to every `?` when given.
pub(crate) fn count(conn: &mut SqliteConnection, sql: &str, chat: Option<i64>) -> QueryResult<i64> {
    let query = diesel::sql_query(sql);
    let rows: Vec<Count> = match chat {
        None => query.load(conn)?,
        Some(chat) => {
            let binds = sql.matches('?').count();
            match binds {
                1 => query.bind::<BigInt, _>(chat).load(conn)?,
                2 => query.bind::<BigInt, _>(chat).bind::<BigInt, _>(chat).load(conn)?,
                _ => {
                    return Err(diesel::result::Error::QueryBuilderError(
                        "one or two binds".into(),
                    ));
                }
            }
        }
    };
    Ok(rows.first().map_or(0, |r| r.n))
}

/// The tables of the schema that hold rows of chats (those with a `chat_id` column), as the
/// migrations define them.
pub(crate) fn chat_tables() -> Vec<&'static Table> {
    multisource_migrations::expected()
        .iter()
        .filter(|t| t.columns.iter().any(|c| c.name == "chat_id"))
        .collect()
}

/// A table's columns, quoted and comma-separated, as the migrations define them.
pub(crate) fn columns(table: &Table) -> String {
    table.columns.iter().map(|c| quote(&c.name)).collect::<Vec<_>>().join(", ")
}

/// An SQL identifier, quoted.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The names of the tables a database holds.
pub(crate) fn table_names(conn: &mut SqliteConnection) -> QueryResult<Vec<String>> {
    let rows: Vec<Line> = diesel::sql_query(
        "SELECT name AS line FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         ORDER BY name",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.line).collect())
}

/// The journal mode the file is in (`wal`, `delete`, ...).
pub(crate) fn journal_mode(conn: &mut SqliteConnection) -> QueryResult<String> {
    let rows: Vec<Line> =
        diesel::sql_query("SELECT journal_mode AS line FROM pragma_journal_mode").load(conn)?;
    Ok(rows.into_iter().next().map(|r| r.line).unwrap_or_default())
}

/// The size of `path` with `suffix` appended (`-wal`, `-shm`), when that file exists.
pub(crate) fn side_size(path: &Path, suffix: &str) -> Option<u64> {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::fs::metadata(PathBuf::from(name)).ok().map(|m| m.len())
}

/// What can be read of a source's file without changing it.
#[derive(Debug, Default)]
pub(crate) struct Inspection {
    /// The file exists.
    pub(crate) exists: bool,
    /// Its size in bytes.
    pub(crate) size: Option<u64>,
    /// Where its schema stands, when it could be read.
    pub(crate) state: Option<SchemaState>,
    /// How it differs from the schema multisource expects.
    pub(crate) mismatches: Vec<Mismatch>,
    /// Why it could not be read.
    pub(crate) error: Option<String>,
}

/// Reads a source's file: whether it exists, its schema state, how its schema differs.
pub(crate) fn inspect(source: &SourceConfig) -> Inspection {
    let path = source.path();
    let Ok(metadata) = std::fs::metadata(path) else { return Inspection::default() };
    let mut found =
        Inspection { exists: true, size: Some(metadata.len()), ..Inspection::default() };
    let read = open_read(path, source.get_timeout()).and_then(|mut conn| {
        let state = multisource_migrations::state(&mut conn).map_err(|e| describe(&e))?;
        let mismatches = match state {
            SchemaState::Empty => Vec::new(),
            _ => multisource_migrations::check(&mut conn).map_err(|e| describe(&e))?,
        };
        Ok((state, mismatches))
    });
    match read {
        Ok((state, mismatches)) => {
            found.state = Some(state);
            found.mismatches = mismatches;
        }
        Err(error) => found.error = Some(error),
    }
    found
}

/// The schema state in a word, for scripts.
pub(crate) fn state_word(state: &SchemaState) -> &'static str {
    match state {
        SchemaState::Empty => "empty",
        SchemaState::Managed { pending } if pending.is_empty() => "current",
        SchemaState::Managed { .. } => "pending",
        SchemaState::Python { .. } => "python",
        SchemaState::Unknown => "unknown",
    }
}

//! Connections to the sources, of either kind, opened beside the router (which would migrate
//! writable sources and refuse writes to read-only ones), and what this tool does through them:
//! inspect a schema, count rows, and read, write and delete a chat's rows as text, whatever the
//! kind.
//!
//! Rows travel as text: each column read `CAST(... AS TEXT)` (one JSON array of them per row, so
//! that a row of any width is one value), written back with a cast to the column's type, and
//! compared by the column's type ([`same`]), so that a row moved from SQLite to PostgreSQL or
//! back is checked value for value: `1` and `true`, or `2025-01-01 00:00:00` and
//! `2025-01-01T00:00:00`, are the same value.

use std::path::{Path, PathBuf};

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use multisource::{Conn, Kind, Mismatch, SchemaState, SourceConfig};
use multisource_migrations::Table;
use multisource_router::{Opened, Purpose};

use crate::output::describe;

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Reads only: `mode=ro` and `query_only` on SQLite, a read-only session on PostgreSQL.
    Read,
    /// Writes, to a database that must exist.
    Write,
    /// Writes, creating a missing SQLite file (a PostgreSQL database must exist).
    Create,
}

/// A connection to one source, opened by the router's own opening for a tool's purpose.
pub(crate) struct Db {
    opened: Opened,
}

/// Runs the same code on the connection, whatever its kind.
macro_rules! on_db {
    ($db:expr, $c:ident => $body:expr) => {
        match $db.opened.conn() {
            Conn::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            Conn::Pg($c) => $body,
            #[allow(unreachable_patterns)]
            _ => unreachable!("a kind of source this tool was not built for"),
        }
    };
}

impl Db {
    /// Opens `source` for `access`. Writes are synced to the disk at each commit on SQLite
    /// (`synchronous = FULL`): a move deletes from one source only what another durably holds.
    pub(crate) fn open(source: &SourceConfig, access: Access) -> Result<Db, String> {
        let purpose = match access {
            Access::Read => Purpose::Inspect,
            Access::Write => Purpose::Move { create: false },
            Access::Create => Purpose::Move { create: true },
        };
        Opened::open(source, purpose).map(|opened| Db { opened }).map_err(|e| describe(&e))
    }

    /// Where the source's data is, whether it exists: a SQLite file must be there; a PostgreSQL
    /// database is asked for by connecting.
    pub(crate) fn exists(source: &SourceConfig) -> bool {
        match source.kind() {
            Kind::Sqlite => source.file().is_some_and(|f| f.path().exists()),
            Kind::Postgres => true,
        }
    }

    pub(crate) fn kind(&self) -> Kind {
        self.opened.kind()
    }

    /// The `n`th bind placeholder (from 1).
    fn placeholder(&self, n: usize) -> String {
        match self.kind() {
            Kind::Sqlite => "?".to_owned(),
            Kind::Postgres => format!("${n}"),
        }
    }

    pub(crate) fn batch(&mut self, sql: &str) -> QueryResult<()> {
        on_db!(self, c => c.batch_execute(sql))
    }

    /// The tables of the database, sorted, SQLite's and diesel's own aside.
    pub(crate) fn table_names(&mut self) -> QueryResult<Vec<String>> {
        let names = match self.opened.conn() {
            Conn::Sqlite(c) => lines(
                c,
                "SELECT name AS line FROM sqlite_master WHERE type = 'table' \
                                        AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )?,
            #[cfg(feature = "postgres")]
            Conn::Pg(c) => multisource_migrations::postgres::table_names(c)?,
            #[allow(unreachable_patterns)]
            _ => unreachable!("a kind of source this tool was not built for"),
        };
        Ok(names)
    }

    /// Where the schema stands.
    pub(crate) fn state(&mut self) -> Result<SchemaState, String> {
        self.opened.state().map_err(|e| describe(&e))
    }

    /// How the schema differs from the one multisource expects.
    pub(crate) fn check(&mut self) -> Result<Vec<Mismatch>, String> {
        self.opened.check().map_err(|e| describe(&e))
    }

    /// Applies the pending migrations, as the bot does when it opens a writable source (a new
    /// SQLite file is switched to WAL first, as the bot's are).
    pub(crate) fn migrate(&mut self) -> Result<(), String> {
        self.opened.migrate().map_err(|e| describe(&e))
    }

    /// `SELECT count(*) ...` of `table`, of the rows of `chat` when given.
    pub(crate) fn count(&mut self, table: &str, chat: Option<i64>) -> QueryResult<i64> {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut sql = format!("SELECT count(*) AS n FROM {}", quote(table));
        if chat.is_some() {
            sql.push_str(&format!(" WHERE chat_id = {}", self.placeholder(1)));
        }
        let rows: Vec<Count> = on_db!(self, c => {
            let query = diesel::sql_query(&sql).into_boxed();
            let query = match chat {
                Some(chat) => query.bind::<BigInt, _>(chat),
                None => query,
            };
            query.load(c)?
        });
        Ok(rows.first().map_or(0, |r| r.n))
    }

    /// The chats that have rows in any of `tables`.
    pub(crate) fn chats(&mut self, tables: &[&str]) -> QueryResult<Vec<i64>> {
        if tables.is_empty() {
            return Ok(Vec::new());
        }
        #[derive(QueryableByName)]
        struct Chat {
            #[diesel(sql_type = Nullable<BigInt>)]
            n: Option<i64>,
        }
        let sql = tables
            .iter()
            .map(|t| format!("SELECT chat_id AS n FROM {}", quote(t)))
            .collect::<Vec<_>>()
            .join(" UNION ");
        let rows: Vec<Chat> = on_db!(self, c => diesel::sql_query(&sql).load(c)?);
        Ok(rows.into_iter().filter_map(|r| r.n).collect())
    }

    /// Each chat whose last message is older than `cutoff` (`YYYY-MM-DD HH:MM:SS`, UTC), with
    /// that message's date, oldest first.
    pub(crate) fn last_messages_before(&mut self, cutoff: &str) -> QueryResult<Vec<(i64, String)>> {
        #[derive(QueryableByName)]
        struct Last {
            #[diesel(sql_type = BigInt)]
            chat_id: i64,
            #[diesel(sql_type = Text)]
            last: String,
        }
        let bound = from_text(self.kind(), &self.placeholder(1), "TIMESTAMP");
        let sql = format!(
            "SELECT chat_id, CAST(max(date) AS TEXT) AS last FROM chat_messages GROUP BY chat_id \
             HAVING max(date) < {bound} ORDER BY max(date), chat_id"
        );
        let rows: Vec<Last> =
            on_db!(self, c => diesel::sql_query(&sql).bind::<Text, _>(cutoff).load(c)?);
        Ok(rows.into_iter().map(|r| (r.chat_id, r.last)).collect())
    }

    /// The size of the database in bytes, for a PostgreSQL source (a SQLite file's is its own).
    pub(crate) fn database_bytes(&mut self) -> QueryResult<Option<u64>> {
        match self.opened.conn() {
            #[cfg(feature = "postgres")]
            Conn::Pg(c) => {
                #[derive(QueryableByName)]
                struct Size {
                    #[diesel(sql_type = BigInt)]
                    n: i64,
                }
                let size: Size =
                    diesel::sql_query("SELECT pg_database_size(current_database()) AS n")
                        .get_result(c)?;
                Ok(u64::try_from(size.n).ok())
            }
            _ => Ok(None),
        }
    }

    /// The journal mode of a SQLite file.
    pub(crate) fn journal_mode(&mut self) -> QueryResult<Option<String>> {
        match self.opened.conn() {
            Conn::Sqlite(c) => {
                Ok(lines(c, "SELECT journal_mode AS line FROM pragma_journal_mode")?
                    .into_iter()
                    .next())
            }
            _ => Ok(None),
        }
    }

    /// Every row of `chat` in `table`, each as its columns' text (in the order of the table's
    /// columns), sorted by the table's primary key.
    pub(crate) fn rows(&mut self, table: &Table, chat: i64) -> QueryResult<Vec<Row>> {
        let texts: Vec<String> =
            table.columns.iter().map(|c| as_text(self.kind(), &c.name, &c.sql_type)).collect();
        let array = match self.kind() {
            Kind::Sqlite => format!("json_array({})", texts.join(", ")),
            Kind::Postgres => format!("CAST(json_build_array({}) AS TEXT)", texts.join(", ")),
        };
        let order: Vec<String> = table.primary_key().iter().map(|c| quote(&c.name)).collect();
        let order = match order.is_empty() {
            true => String::new(),
            false => format!(" ORDER BY {}", order.join(", ")),
        };
        let sql = format!(
            "SELECT {array} AS line FROM {} WHERE chat_id = {}{order}",
            quote(&table.name),
            self.placeholder(1)
        );
        let found: Vec<Line> =
            on_db!(self, c => diesel::sql_query(&sql).bind::<BigInt, _>(chat).load(c)?);
        found
            .into_iter()
            .map(|l| {
                serde_json::from_str::<Row>(&l.line).map_err(|e| {
                    diesel::result::Error::DeserializationError(
                        format!("a row of `{}` read as {:?}: {e}", table.name, l.line).into(),
                    )
                })
            })
            .collect()
    }

    /// Writes a row of `table` (its columns' text, as [`Db::rows`] gives them), replacing the row
    /// with the same primary key if there is one.
    pub(crate) fn upsert(&mut self, table: &Table, row: &Row) -> QueryResult<usize> {
        let kind = self.kind();
        let names: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
        let values: Vec<String> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| from_text(kind, &self.placeholder(i + 1), &c.sql_type))
            .collect();
        let sql = match kind {
            Kind::Sqlite => format!(
                "INSERT OR REPLACE INTO {} ({}) VALUES ({})",
                quote(&table.name),
                names.join(", "),
                values.join(", ")
            ),
            Kind::Postgres => {
                let key: Vec<String> = table.primary_key().iter().map(|c| quote(&c.name)).collect();
                let set: Vec<String> =
                    names.iter().map(|n| format!("{n} = EXCLUDED.{n}")).collect();
                format!(
                    "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}",
                    quote(&table.name),
                    names.join(", "),
                    values.join(", "),
                    key.join(", "),
                    set.join(", ")
                )
            }
        };
        let values: Vec<Option<String>> = table
            .columns
            .iter()
            .zip(row)
            .map(|(c, v)| v.as_deref().map(|v| for_kind(kind, &c.sql_type, v)))
            .collect();
        on_db!(self, c => {
            let mut query = diesel::sql_query(&sql).into_boxed();
            for value in &values {
                query = query.bind::<Nullable<Text>, _>(value.as_deref());
            }
            query.execute(c)
        })
    }

    /// Deletes the rows of `chat` from `table`.
    pub(crate) fn delete(&mut self, table: &str, chat: i64) -> QueryResult<usize> {
        let sql = format!("DELETE FROM {} WHERE chat_id = {}", quote(table), self.placeholder(1));
        on_db!(self, c => diesel::sql_query(&sql).bind::<BigInt, _>(chat).execute(c))
    }

    /// Begins a transaction that holds the write lock of the chat tables in `tables` until it
    /// ends: `BEGIN IMMEDIATE` on SQLite; `LOCK TABLE ... IN EXCLUSIVE MODE` on PostgreSQL, which
    /// lets reads go on and makes writes wait.
    pub(crate) fn begin_locked(&mut self, tables: &[&str]) -> QueryResult<()> {
        match self.kind() {
            Kind::Sqlite => self.batch("BEGIN IMMEDIATE;"),
            Kind::Postgres => {
                let list: Vec<String> = tables.iter().map(|t| quote(t)).collect();
                self.batch("BEGIN;")?;
                match list.is_empty() {
                    true => Ok(()),
                    false => {
                        self.batch(&format!("LOCK TABLE {} IN EXCLUSIVE MODE;", list.join(", ")))
                    }
                }
            }
        }
    }

    /// Begins a transaction that writes.
    pub(crate) fn begin(&mut self) -> QueryResult<()> {
        match self.kind() {
            Kind::Sqlite => self.batch("BEGIN IMMEDIATE;"),
            Kind::Postgres => self.batch("BEGIN;"),
        }
    }
}

/// A row, as the text of each column (`None` for NULL).
pub(crate) type Row = Vec<Option<String>>;

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

fn lines(conn: &mut SqliteConnection, sql: &str) -> QueryResult<Vec<String>> {
    Ok(diesel::sql_query(sql).load::<Line>(conn)?.into_iter().map(|l| l.line).collect())
}

/// An SQL identifier, quoted.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The tables of the schema that hold rows of chats (those with a `chat_id` column), as the
/// migrations define them.
pub(crate) fn chat_tables() -> Vec<&'static Table> {
    multisource_migrations::expected()
        .iter()
        .filter(|t| t.columns.iter().any(|c| c.name == "chat_id"))
        .collect()
}

/// The size of `path` with `suffix` appended (`-wal`, `-shm`), when that file exists.
pub(crate) fn side_size(path: &Path, suffix: &str) -> Option<u64> {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::fs::metadata(PathBuf::from(name)).ok().map(|m| m.len())
}

/// The column read as text. A SQLite `REAL` is printed with 17 significant digits, which every
/// double survives; PostgreSQL's text of a double is already exact.
fn as_text(kind: Kind, column: &str, sql_type: &str) -> String {
    let column = quote(column);
    match (kind, sql_type.to_ascii_uppercase().as_str()) {
        (Kind::Sqlite, "FLOAT" | "REAL" | "DOUBLE") => format!(
            "CASE WHEN typeof({column}) = 'real' THEN printf('%!.17g', {column}) \
             ELSE CAST({column} AS TEXT) END"
        ),
        _ => format!("CAST({column} AS TEXT)"),
    }
}

/// The SQL that turns the text bound at `placeholder` into the column's type.
fn from_text(kind: Kind, placeholder: &str, sql_type: &str) -> String {
    let target = match (kind, sql_type.to_ascii_uppercase().as_str()) {
        (Kind::Sqlite, "INTEGER" | "BOOLEAN") => "INTEGER",
        (Kind::Sqlite, "FLOAT" | "REAL" | "DOUBLE") => "REAL",
        (Kind::Sqlite, _) => return placeholder.to_owned(),
        (Kind::Postgres, "INTEGER") => "BIGINT",
        (Kind::Postgres, "BOOLEAN") => "BOOLEAN",
        (Kind::Postgres, "FLOAT" | "REAL" | "DOUBLE") => "DOUBLE PRECISION",
        (Kind::Postgres, "TIMESTAMP") => "TIMESTAMP",
        (Kind::Postgres, _) => return placeholder.to_owned(),
    };
    format!("CAST({placeholder} AS {target})")
}

/// A value's text as the destination's kind stores it: booleans are `1`/`0` on SQLite and
/// `true`/`false` on PostgreSQL; a timestamp is written with a space, as the Python bot did.
fn for_kind(kind: Kind, sql_type: &str, value: &str) -> String {
    match (sql_type.to_ascii_uppercase().as_str(), kind) {
        ("BOOLEAN", Kind::Sqlite) => if truthy(value) == Some(true) { "1" } else { "0" }.to_owned(),
        ("BOOLEAN", Kind::Postgres) => {
            if truthy(value) == Some(true) { "true" } else { "false" }.to_owned()
        }
        ("TIMESTAMP", _) => value.replacen('T', " ", 1),
        // SQLite reads `9e999` as infinity, and `Inf` as 0.
        ("FLOAT" | "REAL" | "DOUBLE", Kind::Sqlite) => match value.trim().parse::<f64>() {
            Ok(x) if x.is_infinite() => if x > 0.0 { "9e999" } else { "-9e999" }.to_owned(),
            _ => value.to_owned(),
        },
        _ => value.to_owned(),
    }
}

fn truthy(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Some(true),
        "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

/// The value a column of `sql_type` holds, written one way whichever kind of database its text
/// was read from: `1` and `true` are one boolean, `2025-01-01 00:00:00` and
/// `2025-01-01T00:00:00` one timestamp, two texts of a double one value when their bits are. A
/// text that does not read as its type stays as it is.
pub(crate) fn canonical(sql_type: &str, value: Option<&str>) -> Option<String> {
    let value = value?;
    let read = match sql_type.to_ascii_uppercase().as_str() {
        "INTEGER" => value.trim().parse::<i64>().ok().map(|x| x.to_string()),
        "FLOAT" | "REAL" | "DOUBLE" => {
            value.trim().parse::<f64>().ok().map(|x| format!("{:016x}", x.to_bits()))
        }
        "BOOLEAN" => truthy(value).map(|b| b.to_string()),
        "TIMESTAMP" => stamp(value).map(|at| at.format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        _ => None,
    };
    Some(read.unwrap_or_else(|| value.to_owned()))
}

/// A row, each value [`canonical`] by its column's type.
pub(crate) fn canonical_row(table: &Table, row: &Row) -> Vec<Option<String>> {
    table.columns.iter().zip(row).map(|(c, v)| canonical(&c.sql_type, v.as_deref())).collect()
}

fn stamp(text: &str) -> Option<NaiveDateTime> {
    let text = text.replacen('T', " ", 1);
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f").ok()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn same(sql_type: &str, a: Option<&str>, b: Option<&str>) -> bool {
        canonical(sql_type, a) == canonical(sql_type, b)
    }

    #[test]
    fn values_compare_by_their_column_type_across_kinds() {
        assert!(same("BOOLEAN", Some("1"), Some("true")));
        assert!(!same("BOOLEAN", Some("0"), Some("true")));
        assert!(same("TIMESTAMP", Some("2025-01-01 00:00:00"), Some("2025-01-01T00:00:00")));
        assert!(same(
            "TIMESTAMP",
            Some("2025-01-01 00:00:00.5"),
            Some("2025-01-01 00:00:00.500000")
        ));
        assert!(!same("TIMESTAMP", Some("2025-01-01 00:00:00"), Some("2025-01-01 00:00:01")));
        assert!(same("FLOAT", Some("0.30000000000000004"), Some("3.0000000000000004e-1")));
        assert!(!same("FLOAT", Some("0.3"), Some("0.30000000000000004")));
        assert!(same("INTEGER", Some("7"), Some("7")));
        assert!(!same("TEXT", Some("a"), Some("A")));
        assert!(!same("TEXT", Some(""), None));
        assert_eq!(for_kind(Kind::Sqlite, "BOOLEAN", "true"), "1");
        assert_eq!(for_kind(Kind::Postgres, "BOOLEAN", "0"), "false");
    }

    #[test]
    fn a_sqlite_double_survives_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let source = SourceConfig::new("t", dir.path().join("t.db"));
        let mut db = Db::open(&source, Access::Create).unwrap();
        let Conn::Sqlite(conn) = db.opened.conn() else { unreachable!("a SQLite source") };
        conn.batch_execute("CREATE TABLE f (x FLOAT); INSERT INTO f VALUES (0.1 + 0.2), (1e308 * 10), (-0.0), (5e-324);").unwrap();
        let texts =
            lines(conn, &format!("SELECT {} AS line FROM f", as_text(Kind::Sqlite, "x", "FLOAT")))
                .unwrap();
        let back: Vec<f64> = texts.iter().map(|t| t.parse::<f64>().unwrap()).collect();
        assert_eq!(back[0].to_bits(), (0.1f64 + 0.2).to_bits(), "{texts:?}");
        assert!(back[1].is_infinite(), "{texts:?}");
        assert_eq!(back[3].to_bits(), 5e-324f64.to_bits(), "{texts:?}");
    }
}

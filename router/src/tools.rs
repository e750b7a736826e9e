//! What the operator's tools do to a source beside the router, written once for every kind: count
//! rows, list chats, and read, write and delete a chat's rows as text, in the SQL of the source's
//! kind ([`Dialect`], each kind's module has one) through four primitives a kind's connection
//! runs ([`texts`], [`execute`] and the plain batch).
//!
//! Rows travel as text: each column read as text (one JSON array of them per row, so that a row
//! of any width is one value), written back with a cast to the column's type, and compared by the
//! column's type ([`canonical`]), so that a row moved from SQLite to PostgreSQL or back is
//! checked value for value: `1` and `true`, or `2025-01-01 00:00:00` and `2025-01-01T00:00:00`,
//! are the same value.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use multisource_migrations::Table;

use crate::backend::ToolConn;

/// The table of chat moves.
const MOVES_TABLE: &str = multisource_migrations::MOVES_TABLE;

/// A row, as the text of each column (`None` for NULL), in the order of the table's columns.
pub type Row = Vec<Option<String>>;

/// A value bound to a statement of a tool.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bind<'a> {
    Int(i64),
    Text(Option<&'a str>),
}

/// The SQL of one kind, for the tools' statements.
pub(crate) struct Dialect {
    /// The `n`th bind placeholder (from 1).
    pub(crate) placeholder: fn(usize) -> String,
    /// The tables of the database, SQLite's and diesel's own aside, as `line`, sorted.
    pub(crate) table_names: &'static str,
    /// A column read as text.
    pub(crate) as_text: fn(column: &str, sql_type: &str) -> String,
    /// The text bound at a placeholder, cast to a column's type.
    pub(crate) from_text: fn(placeholder: &str, sql_type: &str) -> String,
    /// Values as one JSON array, as text.
    pub(crate) json_array: fn(values: &[String]) -> String,
    /// An insert that replaces the row of the same primary key.
    pub(crate) upsert:
        fn(table: &str, columns: &[String], values: &[String], key: &[String]) -> String,
    /// A value's text as this kind stores it (booleans, timestamps, infinities).
    pub(crate) stored: fn(sql_type: &str, value: &str) -> String,
    /// Begins a transaction that writes.
    pub(crate) begin_write: &'static str,
    /// Takes the write lock of these chat tables in an open transaction, when a kind needs it
    /// beyond `begin_write` (PostgreSQL: `LOCK TABLE ... IN EXCLUSIVE MODE`, which lets reads go
    /// on and makes writes wait).
    pub(crate) lock_tables: fn(tables: &[String]) -> Option<String>,
    /// The size of the database in bytes, as `n`, when the kind measures it by SQL.
    pub(crate) size: Option<&'static str>,
    /// The journal mode, as `line`, for a kind that has one.
    pub(crate) journal_mode: Option<&'static str>,
    /// Switches a file to a journal that needs no side files to be read, for a kind that has
    /// them (a frozen archive).
    pub(crate) freeze: Option<&'static str>,
    /// The statements that create the table of chat moves where it is missing, as the kind's
    /// migration does.
    pub(crate) moves_table: &'static str,
}

/// An SQL identifier, quoted.
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Runs a query whose one column is text, `line`; the lines.
pub(crate) fn lines(
    conn: &mut ToolConn,
    sql: &str,
    binds: &[Bind<'_>],
) -> QueryResult<Vec<String>> {
    Ok(conn.texts(sql, binds)?.into_iter().filter_map(|mut r| r.pop().flatten()).collect())
}

/// Implements [`Primitives`] for one connection type (each kind's module invokes it): text rows
/// and statements with binds.
macro_rules! primitives {
    ($conn:ty) => {
        impl $crate::tools::Primitives for $conn {
            fn texts(
                &mut self,
                sql: &str,
                binds: &[$crate::tools::Bind<'_>],
            ) -> ::diesel::QueryResult<Vec<Vec<Option<String>>>> {
                use ::diesel::prelude::*;
                use ::diesel::sql_types::{Nullable, Text};
                #[derive(QueryableByName)]
                struct Line {
                    #[diesel(sql_type = Nullable<Text>)]
                    line: Option<String>,
                }
                let found: Vec<Line> = $crate::tools::primitives!(@bound sql, binds).load(self)?;
                Ok(found.into_iter().map(|l| vec![l.line]).collect())
            }

            fn execute(
                &mut self,
                sql: &str,
                binds: &[$crate::tools::Bind<'_>],
            ) -> ::diesel::QueryResult<usize> {
                use ::diesel::prelude::*;
                $crate::tools::primitives!(@bound sql, binds).execute(self)
            }
        }
    };
    // The statement with its binds, for the connection's backend.
    (@bound $sql:ident, $binds:ident) => {{
        use ::diesel::sql_types::{BigInt, Nullable, Text};
        let mut query = ::diesel::sql_query($sql).into_boxed();
        for bind in $binds {
            query = match *bind {
                $crate::tools::Bind::Int(i) => query.bind::<BigInt, _>(i),
                $crate::tools::Bind::Text(t) => query.bind::<Nullable<Text>, _>(t),
            };
        }
        query
    }};
}
pub(crate) use primitives;

/// The primitives of a connection type, each kind's implemented by [`primitives!`].
pub(crate) trait Primitives {
    /// Runs a query whose one column, `line`, is a text; each row's value.
    fn texts(&mut self, sql: &str, binds: &[Bind<'_>]) -> QueryResult<Vec<Vec<Option<String>>>>;
    /// Runs a statement; the rows it changed.
    fn execute(&mut self, sql: &str, binds: &[Bind<'_>]) -> QueryResult<usize>;
}

/// Text rows of any connection with primitives.
pub(crate) fn texts(
    conn: &mut impl Primitives,
    sql: &str,
    binds: &[Bind<'_>],
) -> QueryResult<Vec<Vec<Option<String>>>> {
    conn.texts(sql, binds)
}

/// A statement on any connection with primitives.
pub(crate) fn execute(
    conn: &mut impl Primitives,
    sql: &str,
    binds: &[Bind<'_>],
) -> QueryResult<usize> {
    conn.execute(sql, binds)
}

/// The tables of the database, sorted, the database's own and diesel's aside.
pub(crate) fn table_names(conn: &mut ToolConn) -> QueryResult<Vec<String>> {
    let sql = conn.dialect().table_names;
    lines(conn, sql, &[])
}

/// The rows of `table`, or of `chat` in it.
pub(crate) fn count(conn: &mut ToolConn, table: &str, chat: Option<i64>) -> QueryResult<i64> {
    let dialect = conn.dialect();
    let mut sql = format!("SELECT CAST(count(*) AS TEXT) AS line FROM {}", quote(table));
    let mut binds = Vec::new();
    if let Some(chat) = chat {
        sql.push_str(&format!(" WHERE chat_id = {}", (dialect.placeholder)(1)));
        binds.push(Bind::Int(chat));
    }
    let found = lines(conn, &sql, &binds)?;
    Ok(found.first().and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// The chats that have rows in any of `tables`.
pub(crate) fn chats(conn: &mut ToolConn, tables: &[&str]) -> QueryResult<Vec<i64>> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let sql = tables
        .iter()
        .map(|t| format!("SELECT CAST(chat_id AS TEXT) AS line FROM {}", quote(t)))
        .collect::<Vec<_>>()
        .join(" UNION ");
    Ok(lines(conn, &sql, &[])?.iter().filter_map(|n| n.parse().ok()).collect())
}

/// Each chat whose last message is older than `cutoff` (`YYYY-MM-DD HH:MM:SS`, UTC), with that
/// message's date, oldest first.
pub(crate) fn last_messages_before(
    conn: &mut ToolConn,
    cutoff: &str,
) -> QueryResult<Vec<(i64, String)>> {
    let dialect = conn.dialect();
    let bound = (dialect.from_text)(&(dialect.placeholder)(1), "TIMESTAMP");
    let sql = format!(
        "SELECT CAST(chat_id AS TEXT) || ' ' || CAST(max(date) AS TEXT) AS line FROM \
         chat_messages GROUP BY chat_id HAVING max(date) < {bound} ORDER BY max(date), chat_id"
    );
    let found = lines(conn, &sql, &[Bind::Text(Some(cutoff))])?;
    Ok(found
        .into_iter()
        .filter_map(|line| {
            let (chat, last) = line.split_once(' ')?;
            Some((chat.parse().ok()?, last.to_owned()))
        })
        .collect())
}

/// Every row of `chat` in `table`, each as its columns' text (in the order of the table's
/// columns), sorted by the table's primary key.
pub(crate) fn rows(conn: &mut ToolConn, table: &Table, chat: i64) -> QueryResult<Vec<Row>> {
    let dialect = conn.dialect();
    let texts: Vec<String> =
        table.columns.iter().map(|c| (dialect.as_text)(&quote(&c.name), &c.sql_type)).collect();
    let order: Vec<String> = table.primary_key().iter().map(|c| quote(&c.name)).collect();
    let order = match order.is_empty() {
        true => String::new(),
        false => format!(" ORDER BY {}", order.join(", ")),
    };
    let sql = format!(
        "SELECT {} AS line FROM {} WHERE chat_id = {}{order}",
        (dialect.json_array)(&texts),
        quote(&table.name),
        (dialect.placeholder)(1)
    );
    lines(conn, &sql, &[Bind::Int(chat)])?
        .into_iter()
        .map(|line| {
            serde_json::from_str::<Row>(&line).map_err(|e| {
                diesel::result::Error::DeserializationError(
                    format!("a row of `{}` read as {line:?}: {e}", table.name).into(),
                )
            })
        })
        .collect()
}

/// Writes a row of `table` (its columns' text, as [`rows`] gives them), replacing the row with
/// the same primary key if there is one.
pub(crate) fn upsert(conn: &mut ToolConn, table: &Table, row: &Row) -> QueryResult<usize> {
    let dialect = conn.dialect();
    let names: Vec<String> = table.columns.iter().map(|c| quote(&c.name)).collect();
    let values: Vec<String> = table
        .columns
        .iter()
        .enumerate()
        .map(|(i, c)| (dialect.from_text)(&(dialect.placeholder)(i + 1), &c.sql_type))
        .collect();
    let key: Vec<String> = table.primary_key().iter().map(|c| quote(&c.name)).collect();
    let sql = (dialect.upsert)(&quote(&table.name), &names, &values, &key);
    let texts: Vec<Option<String>> = table
        .columns
        .iter()
        .zip(row)
        .map(|(c, v)| v.as_deref().map(|v| (dialect.stored)(&c.sql_type, v)))
        .collect();
    let binds: Vec<Bind<'_>> = texts.iter().map(|t| Bind::Text(t.as_deref())).collect();
    conn.execute(&sql, &binds)
}

/// Deletes the rows of `chat` from `table`.
pub(crate) fn delete(conn: &mut ToolConn, table: &str, chat: i64) -> QueryResult<usize> {
    let placeholder = (conn.dialect().placeholder)(1);
    let sql = format!("DELETE FROM {} WHERE chat_id = {placeholder}", quote(table));
    conn.execute(&sql, &[Bind::Int(chat)])
}

/// Begins a transaction that writes, holding the write lock of the chat tables in `tables` and
/// of the table of chat moves until it ends (the latter first, as a write of the router takes
/// it first: see `moves.rs`).
pub(crate) fn begin_locked(conn: &mut ToolConn, tables: &[&str]) -> QueryResult<()> {
    let dialect = conn.dialect();
    conn.batch(dialect.begin_write)?;
    let quoted: Vec<String> =
        std::iter::once(MOVES_TABLE).chain(tables.iter().copied()).map(quote).collect();
    match (dialect.lock_tables)(&quoted) {
        Some(sql) => conn.batch(&sql),
        None => Ok(()),
    }
}

/// Creates the table of chat moves if the database lacks it (a source made before it).
pub(crate) fn ensure_moves_table(conn: &mut ToolConn) -> QueryResult<()> {
    let sql = conn.dialect().moves_table;
    conn.batch(sql)
}

/// Records, in the transaction that deletes the chat's rows, that `chat` left for the source
/// named `to` at `at` (`YYYY-MM-DD HH:MM:SS`, UTC), or (`to` = `None`), in the transaction that
/// copies its rows in, that it came back: the chat's row of the table of chat moves, with a
/// `seq` past every other. A chat that never left the database gets no row when it comes.
pub(crate) fn record_move(
    conn: &mut ToolConn,
    chat: i64,
    to: Option<&str>,
    at: &str,
) -> QueryResult<usize> {
    let dialect = conn.dialect();
    let p = |n| (dialect.placeholder)(n);
    let next = format!("(SELECT COALESCE(MAX(seq), 0) + 1 FROM {MOVES_TABLE})");
    // The placeholders come in the order of the binds: SQLite's are positional.
    let at_value = |n| (dialect.from_text)(&p(n), "TIMESTAMP");
    match to {
        Some(to) => {
            let sql = format!(
                "INSERT INTO {MOVES_TABLE} (seq, chat, destination, moved_at) VALUES ({next}, {}, \
                 {}, {}) ON CONFLICT (chat) DO UPDATE SET seq = excluded.seq, destination = \
                 excluded.destination, moved_at = excluded.moved_at",
                p(1),
                p(2),
                at_value(3),
            );
            conn.execute(&sql, &[Bind::Int(chat), Bind::Text(Some(to)), Bind::Text(Some(at))])
        }
        None => {
            let sql = format!(
                "UPDATE {MOVES_TABLE} SET seq = {next}, destination = NULL, moved_at = {} \
                 WHERE chat = {} AND destination IS NOT NULL",
                at_value(1),
                p(2),
            );
            conn.execute(&sql, &[Bind::Text(Some(at)), Bind::Int(chat)])
        }
    }
}

/// The value a column of `sql_type` holds, written one way whichever kind of database its text
/// was read from: `1` and `true` are one boolean, `2025-01-01 00:00:00` and
/// `2025-01-01T00:00:00` one timestamp, two texts of a double one value when their bits are. A
/// text that does not read as its type stays as it is.
pub fn canonical(sql_type: &str, value: Option<&str>) -> Option<String> {
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
pub fn canonical_row(table: &Table, row: &Row) -> Vec<Option<String>> {
    table.columns.iter().zip(row).map(|(c, v)| canonical(&c.sql_type, v.as_deref())).collect()
}

/// A boolean's text, as either kind writes it.
pub(crate) fn truthy(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "t" | "true" => Some(true),
        "0" | "f" | "false" => Some(false),
        _ => None,
    }
}

fn stamp(text: &str) -> Option<NaiveDateTime> {
    let text = text.replacen('T', " ", 1);
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S%.f").ok()
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
    }
}

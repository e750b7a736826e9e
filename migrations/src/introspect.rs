//! Reads the tables and columns of a SQLite database, as SQLite itself reports them.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Nullable, Text};
use diesel::sqlite::SqliteConnection;

/// A table of the database, with its columns in their physical order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// The table's name.
    pub name: String,
    /// The columns, in the order SQLite stores them.
    pub columns: Vec<Column>,
}

impl Table {
    /// The primary-key columns, in key order.
    pub fn primary_key(&self) -> Vec<&Column> {
        let mut key: Vec<&Column> = self.columns.iter().filter(|c| c.primary_key > 0).collect();
        key.sort_by_key(|c| c.primary_key);
        key
    }

    /// True when the table's only key column is an `INTEGER PRIMARY KEY`, an alias of the rowid,
    /// which SQLite never lets be NULL.
    pub fn has_rowid_alias(&self) -> bool {
        let key = self.primary_key();
        key.len() == 1 && key[0].sql_type.eq_ignore_ascii_case("INTEGER")
    }
}

/// A column as `PRAGMA table_info` describes it.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct Column {
    /// The column's name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// The declared type, exactly as written in the `CREATE TABLE` statement.
    #[diesel(sql_type = Text)]
    pub sql_type: String,
    /// True when the column is declared `NOT NULL`.
    #[diesel(sql_type = Bool)]
    pub not_null: bool,
    /// The default value's SQL text, if any.
    #[diesel(sql_type = Nullable<Text>)]
    pub default_value: Option<String>,
    /// The column's 1-based position in the primary key, or 0 when it is not part of it.
    #[diesel(sql_type = Integer)]
    pub primary_key: i32,
}

/// Every table of the database, sorted by name, without SQLite's internal tables and diesel's
/// migration table.
pub fn tables(conn: &mut SqliteConnection) -> QueryResult<Vec<Table>> {
    let mut tables = Vec::new();
    for name in names(conn, "table")? {
        if name == "__diesel_schema_migrations" {
            continue;
        }
        let columns = diesel::sql_query(
            "SELECT name, type AS sql_type, \"notnull\" AS not_null, dflt_value AS default_value, \
             pk AS primary_key FROM pragma_table_info(?) ORDER BY cid",
        )
        .bind::<Text, _>(&name)
        .load(conn)?;
        tables.push(Table { name, columns });
    }
    Ok(tables)
}

/// The names of the schema objects of `kind` (`table` or `index`), sorted, without SQLite's own.
pub(crate) fn names(conn: &mut SqliteConnection, kind: &str) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        name: String,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         ORDER BY name",
    )
    .bind::<Text, _>(kind)
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

//! The schema of a multisource database, as embedded diesel migrations, and what is needed to open
//! databases that were not created by multisource.
//!
//! The migrations are the single source of truth for the schema: `multisource-schema`'s `schema.rs`
//! is generated from them (`cargo xtask codegen`), and read-only sources are checked against them.
//!
//! The first six migrations are the six schema versions of the Python bot this library replaces,
//! statement for statement, so that a database created by the Python bot can be *adopted*: its
//! migrations are recorded as applied up to the version it holds in `settings`
//! (`db-migration-version`), and only the later ones run. Every migration also keeps that setting in
//! step, so the Python bot can still open a database that multisource created.

mod introspect;
#[cfg(feature = "postgres")]
pub mod postgres;
mod schema;

use std::error::Error as StdError;
use std::fmt;

use diesel::migration::{Migration, MigrationConnection, MigrationSource};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub use crate::introspect::{Column, Table, tables};
pub use crate::schema::{BotMigration, BotMigrations, Schema, SchemaError};

/// Every migration of the schema, embedded in the binary, oldest first.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// The latest schema version of the Python bot that multisource knows; the first this many of
/// [`MIGRATIONS`] are its versions 1 to 6.
pub const PYTHON_SCHEMA_VERSION: i64 = 6;

/// The `settings` key under which the Python bot records its schema version.
pub const PYTHON_VERSION_KEY: &str = "db-migration-version";

/// The table where a source records the chats that left it and where they went (migration
/// `2026-12-05-000008_chat_moves`): written by the moves of the operator's command line, read by
/// the router. A read-only source made before it may lack it: the schema check does not ask
/// for it, and such a source records no moves.
pub const MOVES_TABLE: &str = "multisource_chat_moves";

/// The statements that create [`MOVES_TABLE`] where it is missing, as its migration does: for
/// a tool that records a move in a source whose schema is older (a read-only archive, moved
/// from offline).
pub const MOVES_TABLE_SQL: &str = include_str!("../migrations/2026-12-05-000008_chat_moves/up.sql");

/// True when the schema check asks for `table`: every table of the schema but [`MOVES_TABLE`].
pub(crate) fn is_required(table: &str) -> bool {
    table != MOVES_TABLE
}

/// Where a database stands before it is migrated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaState {
    /// The file holds no table: it is new.
    Empty,
    /// The file is managed by multisource: diesel's migration table lists what was applied.
    Managed {
        /// The migrations not yet applied, by version, oldest first.
        pending: Vec<String>,
    },
    /// The file was created by the Python bot and has not been opened writable by multisource yet.
    Python {
        /// The schema version the Python bot recorded in `settings`.
        version: i64,
    },
    /// The file holds tables, but neither diesel's migration table nor a Python schema version.
    /// Migrating it runs every migration; they only create what is missing.
    Unknown,
}

impl fmt::Display for SchemaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaState::Empty => f.write_str("empty"),
            SchemaState::Managed { pending } if pending.is_empty() => f.write_str("current"),
            SchemaState::Managed { pending } => write!(f, "{} pending migration(s)", pending.len()),
            SchemaState::Python { version } => {
                write!(f, "created by the Python bot (schema version {version})")
            }
            SchemaState::Unknown => f.write_str("unknown tables, no recorded version"),
        }
    }
}

/// What [`migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The Python schema version that was adopted, when the file came from the Python bot.
    pub adopted_python_version: Option<i64>,
    /// The migrations that ran, by version, oldest first.
    pub applied: Vec<String>,
}

/// A failure to bring a database to the current schema.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// A statement failed while inspecting or adopting the database.
    #[error("could not read or record the schema version")]
    Query(#[from] diesel::result::Error),
    /// A migration failed; nothing of it was kept.
    #[error("migration `{version}` failed and was rolled back")]
    Failed {
        /// The version of the migration that failed.
        version: String,
        /// Why it failed.
        #[source]
        error: Box<dyn StdError + Send + Sync>,
    },
    /// The file was created by a newer Python bot than multisource knows.
    #[error(
        "the file was created by a newer Python bot (schema version {version}; multisource knows up \
         to {PYTHON_SCHEMA_VERSION}); open it with `readonly = true`, or with a newer multisource"
    )]
    NewerPythonSchema {
        /// The schema version found in `settings`.
        version: i64,
    },
    /// A PostgreSQL database holds tables but no record of multisource's migrations: it was not
    /// made by multisource, and is not migrated over.
    #[error(
        "the database holds tables but no record of multisource's migrations; give the source an \
         empty database, or one multisource created"
    )]
    UnknownTables,
    /// The bot's migrations give no PostgreSQL version, and the source is a PostgreSQL one.
    #[error(
        "the bot's migrations have no PostgreSQL version; give `multisource::migrations!` a \
         `postgres = \"...\"` folder, or keep the source on SQLite"
    )]
    NoPostgresMigrations,
    /// Diesel's migration harness failed outside any migration.
    #[error("the migration harness failed")]
    Harness(#[source] Box<dyn StdError + Send + Sync>),
}

/// One difference between a database and the schema multisource expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// A table is missing.
    MissingTable {
        /// The table.
        table: String,
    },
    /// A column is missing from a table that exists.
    MissingColumn {
        /// The table.
        table: String,
        /// The column.
        column: String,
    },
    /// A column is declared with another type.
    ColumnType {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// The declared type multisource expects.
        expected: String,
        /// The declared type found.
        found: String,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::MissingTable { table } => write!(f, "table `{table}` is missing"),
            Mismatch::MissingColumn { table, column } => {
                write!(f, "column `{table}.{column}` is missing")
            }
            Mismatch::ColumnType { table, column, expected, found } => {
                write!(f, "column `{table}.{column}` is declared `{found}`, expected `{expected}`")
            }
        }
    }
}

/// The versions of multisource's own SQLite migrations ([`MIGRATIONS`]), oldest first; a
/// schema's, the bot's included, are [`Schema::versions`].
pub(crate) fn own_versions() -> Vec<String> {
    listed::<Sqlite>(&MIGRATIONS).0
}

/// The migrations of `source` for the backend `DB`, oldest first.
pub(crate) fn embedded_in<DB: diesel::backend::Backend>(
    source: &EmbeddedMigrations,
) -> Vec<Box<dyn Migration<DB>>> {
    // Listing embedded migrations cannot fail: they were read and checked at compile time.
    MigrationSource::<DB>::migrations(source).unwrap_or_default()
}

/// The versions and the full names of the migrations of `source`, oldest first.
pub(crate) fn listed<DB: diesel::backend::Backend>(
    source: &EmbeddedMigrations,
) -> (Vec<String>, Vec<String>) {
    embedded_in::<DB>(source)
        .iter()
        .map(|m| (m.name().version().to_string(), m.name().to_string()))
        .unzip()
}

/// Tells where `conn`'s database stands against `schema`, without changing it.
pub fn state(schema: &Schema, conn: &mut SqliteConnection) -> QueryResult<SchemaState> {
    let names = table_names(conn)?;
    if names.is_empty() {
        return Ok(SchemaState::Empty);
    }
    if names.iter().any(|n| n == "__diesel_schema_migrations") {
        let applied = applied_versions(conn)?;
        let pending = schema.versions().into_iter().filter(|v| !applied.contains(v)).collect();
        return Ok(SchemaState::Managed { pending });
    }
    if names.iter().any(|n| n == "settings")
        && let Some(version) = python_version(conn)?
    {
        return Ok(SchemaState::Python { version });
    }
    Ok(SchemaState::Unknown)
}

/// Brings `conn`'s database to `schema`, in one `BEGIN IMMEDIATE` transaction: a database
/// created by the Python bot is adopted first (its versions recorded as applied, no row
/// changed), then every pending migration runs, multisource's then the bot's. On failure nothing
/// is kept.
///
/// Call it outside any transaction.
pub fn migrate(schema: &Schema, conn: &mut SqliteConnection) -> Result<Report, MigrationError> {
    conn.immediate_transaction(|conn| {
        let mut report = Report::default();
        if let SchemaState::Python { version } = state(schema, conn)? {
            adopt(conn, version)?;
            report.adopted_python_version = Some(version);
        }
        MigrationConnection::setup(conn)?;
        let applied = applied_versions(conn)?;
        report.applied = run_pending(conn, &schema.sqlite_migrations(), &applied)?;
        Ok(report)
    })
}

/// Runs the migrations not in `applied`, in order, on a connection whose migration table exists;
/// the versions run.
pub(crate) fn run_pending<DB, C>(
    conn: &mut C,
    migrations: &[Box<dyn Migration<DB>>],
    applied: &[String],
) -> Result<Vec<String>, MigrationError>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
{
    let mut ran = Vec::new();
    for migration in migrations {
        let version = migration.name().version().to_string();
        if applied.contains(&version) {
            continue;
        }
        conn.run_migration(migration.as_ref())
            .map_err(|error| MigrationError::Failed { version: version.clone(), error })?;
        ran.push(version);
    }
    Ok(ran)
}

/// Records the migrations that stand for the Python bot's versions 1 to `version` as applied.
fn adopt(conn: &mut SqliteConnection, version: i64) -> Result<(), MigrationError> {
    if version > PYTHON_SCHEMA_VERSION {
        return Err(MigrationError::NewerPythonSchema { version });
    }
    MigrationConnection::setup(conn)?;
    let count = usize::try_from(version.max(0)).unwrap_or(0);
    for version in own_versions().into_iter().take(count) {
        diesel::sql_query("INSERT INTO __diesel_schema_migrations (version) VALUES (?)")
            .bind::<Text, _>(version)
            .execute(conn)?;
    }
    Ok(())
}

fn table_names(conn: &mut SqliteConnection) -> QueryResult<Vec<String>> {
    introspect::names(conn, "table")
}

fn applied_versions(conn: &mut SqliteConnection) -> QueryResult<Vec<String>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        version: String,
    }
    let rows: Vec<Row> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations").load(conn)?;
    Ok(rows.into_iter().map(|r| r.version).collect())
}

/// The Python bot's recorded schema version; `None` when it recorded none. Like the Python bot,
/// an unreadable value counts as version 0.
fn python_version(conn: &mut SqliteConnection) -> QueryResult<Option<i64>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        value: Option<String>,
    }
    let rows: Vec<Row> = diesel::sql_query("SELECT value FROM settings WHERE key = ?")
        .bind::<Text, _>(PYTHON_VERSION_KEY)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .next()
        .map(|r| r.value.and_then(|v| v.trim().parse::<i64>().ok()).unwrap_or(0)))
}

/// Compares `conn`'s database with `schema` ([`Schema::expected`]): every table and column must
/// exist with its declared type. Extra tables and columns are allowed.
pub fn check(schema: &Schema, conn: &mut SqliteConnection) -> QueryResult<Vec<Mismatch>> {
    let found = tables(conn)?;
    let mut mismatches = Vec::new();
    for want in schema.expected() {
        let Some(have) = found.iter().find(|t| t.name == want.name) else {
            if is_required(&want.name) {
                mismatches.push(Mismatch::MissingTable { table: want.name.clone() });
            }
            continue;
        };
        for column in &want.columns {
            match have.columns.iter().find(|c| c.name == column.name) {
                None => mismatches.push(Mismatch::MissingColumn {
                    table: want.name.clone(),
                    column: column.name.clone(),
                }),
                Some(c) if !c.sql_type.eq_ignore_ascii_case(&column.sql_type) => {
                    mismatches.push(Mismatch::ColumnType {
                        table: want.name.clone(),
                        column: column.name.clone(),
                        expected: column.sql_type.clone(),
                        found: c.sql_type.clone(),
                    })
                }
                Some(_) => {}
            }
        }
    }
    Ok(mismatches)
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;

    use super::*;

    fn own() -> std::sync::Arc<Schema> {
        Schema::multisource()
    }

    fn memory() -> SqliteConnection {
        SqliteConnection::establish(":memory:").expect("in-memory database")
    }

    #[test]
    fn fresh_database_gets_the_python_schema_with_23_tables_and_5_indexes_and_the_moves_table() {
        let mut conn = memory();
        assert_eq!(state(&own(), &mut conn).unwrap(), SchemaState::Empty);
        let report = migrate(&own(), &mut conn).unwrap();
        assert_eq!(report.applied.len(), own().versions().len());
        assert_eq!(report.adopted_python_version, None);
        let names = table_names(&mut conn).unwrap();
        let ours: Vec<_> = names.iter().filter(|n| !n.starts_with("__diesel")).collect();
        assert_eq!(ours.len(), 24, "{ours:?}");
        assert!(names.iter().any(|n| n == MOVES_TABLE), "{names:?}");
        let indexes = introspect::names(&mut conn, "index").unwrap();
        let explicit: Vec<_> =
            indexes.iter().filter(|n| !n.starts_with("sqlite_autoindex")).collect();
        assert!(explicit.len() >= 5, "{explicit:?}");
        assert_eq!(python_version(&mut conn).unwrap(), Some(PYTHON_SCHEMA_VERSION));
        assert_eq!(state(&own(), &mut conn).unwrap(), SchemaState::Managed { pending: Vec::new() });
        assert!(check(&own(), &mut conn).unwrap().is_empty());
    }

    #[test]
    fn migrating_twice_applies_nothing_the_second_time() {
        let mut conn = memory();
        migrate(&own(), &mut conn).unwrap();
        assert_eq!(migrate(&own(), &mut conn).unwrap(), Report::default());
    }

    #[test]
    fn the_first_six_versions_are_the_python_versions() {
        let v = own().versions();
        assert_eq!(
            &v[..6],
            &[
                "20251024000001",
                "20251024000002",
                "20251025000003",
                "20251026000004",
                "20251101000005",
                "20251115000006"
            ]
        );
        let names = own().names();
        assert_eq!(names.len(), v.len());
        assert_eq!(names[0], "2025-10-24-000001_initial_schema");
    }

    #[test]
    fn every_migration_reverts_cleanly() {
        let mut conn = memory();
        migrate(&own(), &mut conn).unwrap();
        conn.revert_all_migrations(MIGRATIONS).unwrap();
        let left: Vec<_> = table_names(&mut conn)
            .unwrap()
            .into_iter()
            .filter(|n| n != "__diesel_schema_migrations")
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn python_version_4_is_adopted_and_raised_to_6() {
        let mut conn = memory();
        // Build a version-4 database the way the Python bot did: no diesel table.
        migrate(&own(), &mut conn).unwrap();
        conn.batch_execute(
            "DROP TABLE __diesel_schema_migrations;
             UPDATE settings SET value = '4' WHERE key = 'db-migration-version';",
        )
        .unwrap();
        assert_eq!(state(&own(), &mut conn).unwrap(), SchemaState::Python { version: 4 });
        let report = migrate(&own(), &mut conn).unwrap();
        assert_eq!(report.adopted_python_version, Some(4));
        assert_eq!(report.applied, &own().versions()[4..]);
        assert_eq!(python_version(&mut conn).unwrap(), Some(PYTHON_SCHEMA_VERSION));
    }

    #[test]
    fn a_newer_python_schema_is_refused_and_left_untouched() {
        let mut conn = memory();
        migrate(&own(), &mut conn).unwrap();
        conn.batch_execute(
            "DROP TABLE __diesel_schema_migrations;
             UPDATE settings SET value = '18' WHERE key = 'db-migration-version';",
        )
        .unwrap();
        let err = migrate(&own(), &mut conn).unwrap_err();
        assert!(matches!(err, MigrationError::NewerPythonSchema { version: 18 }), "{err}");
        assert!(!table_names(&mut conn).unwrap().contains(&"__diesel_schema_migrations".into()));
    }

    #[test]
    fn check_names_missing_tables_columns_and_types() {
        let mut conn = memory();
        migrate(&own(), &mut conn).unwrap();
        conn.batch_execute(
            "DROP TABLE chat_topics;
             ALTER TABLE chat_users DROP COLUMN metadata;
             DROP TABLE cache_storage;
             CREATE TABLE cache_storage (namespace TEXT, key TEXT, value BLOB, updated_at TIMESTAMP);",
        )
        .unwrap();
        let found = check(&own(), &mut conn).unwrap();
        assert!(found.contains(&Mismatch::MissingTable { table: "chat_topics".into() }));
        assert!(found.contains(&Mismatch::MissingColumn {
            table: "chat_users".into(),
            column: "metadata".into()
        }));
        assert!(
            found.iter().any(|m| m.to_string()
                == "column `cache_storage.value` is declared `BLOB`, expected `TEXT`")
        );
    }
}

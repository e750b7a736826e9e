//! PostgreSQL sources: the same tables, columns and meaning as the SQLite schema, created by
//! migrations of their own (`migrations/postgres/`), in PostgreSQL's types. A PostgreSQL database
//! never comes from the Python bot, so there is nothing to adopt.
//!
//! The SQLite schema stays the reference: [`check`] compares a PostgreSQL database with
//! [`Schema::expected`], each declared SQLite type read as its PostgreSQL counterpart
//! ([`pg_type`]), and a test of this crate proves the two migrations produce the same tables
//! and columns.

use diesel::migration::MigrationConnection;
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::{EmbeddedMigrations, embed_migrations};

use crate::schema::{joined, listed_with};
use crate::{MigrationError, Mismatch, Report, Schema, SchemaState};

/// Every migration of the PostgreSQL schema, embedded, oldest first.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("postgres");

/// The statements that create the table of chat moves ([`crate::MOVES_TABLE`]) and the check of
/// writes where they are missing, as their migration does.
pub const MOVES_TABLE_SQL: &str = include_str!("../postgres/2026-12-05-000002_chat_moves/up.sql");

/// The versions of multisource's own PostgreSQL migrations ([`MIGRATIONS`]), oldest first.
pub(crate) fn own_versions() -> Vec<String> {
    crate::listed::<Pg>(&MIGRATIONS).0
}

/// The versions and the full names of `schema`'s PostgreSQL migrations, multisource's then the
/// bot's, oldest first.
pub fn listed(schema: &Schema) -> (Vec<String>, Vec<String>) {
    listed_with(crate::listed::<Pg>(&MIGRATIONS), schema.bot().and_then(|b| b.postgres))
}

/// The versions of `schema`'s PostgreSQL migrations, multisource's then the bot's.
pub fn versions(schema: &Schema) -> Vec<String> {
    listed(schema).0
}

/// The PostgreSQL type (as `information_schema.columns.data_type` names it) that stands for a
/// SQLite declared type of the schema.
pub fn pg_type(sqlite_type: &str) -> &'static str {
    match sqlite_type.to_ascii_uppercase().as_str() {
        "INTEGER" => "bigint",
        "FLOAT" | "REAL" | "DOUBLE" => "double precision",
        "BOOLEAN" => "boolean",
        "TIMESTAMP" | "DATETIME" => "timestamp without time zone",
        _ => "text",
    }
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
}

/// The tables of the connection's current schema, sorted.
pub fn table_names(conn: &mut PgConnection) -> QueryResult<Vec<String>> {
    let rows: Vec<Name> = diesel::sql_query(
        "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// Tells where the database stands against `schema`, without changing it.
pub fn state(schema: &Schema, conn: &mut PgConnection) -> QueryResult<SchemaState> {
    let names = table_names(conn)?;
    if names.is_empty() {
        return Ok(SchemaState::Empty);
    }
    if names.iter().any(|n| n == "__diesel_schema_migrations") {
        let applied: Vec<Name> = diesel::sql_query(
            "SELECT CAST(version AS TEXT) AS name FROM __diesel_schema_migrations",
        )
        .load(conn)?;
        let applied: Vec<String> = applied.into_iter().map(|r| r.name).collect();
        let pending = versions(schema).into_iter().filter(|v| !applied.contains(v)).collect();
        return Ok(SchemaState::Managed { pending });
    }
    Ok(SchemaState::Unknown)
}

/// Brings the database to `schema`, every pending migration in one transaction (PostgreSQL's
/// DDL is transactional): on failure nothing is kept. A database with tables but no record of
/// migrations is refused rather than guessed at, and so is a schema whose bot gives no
/// PostgreSQL migrations.
pub fn migrate(schema: &Schema, conn: &mut PgConnection) -> Result<Report, MigrationError> {
    if !schema.has_postgres() {
        return Err(MigrationError::NoPostgresMigrations);
    }
    conn.transaction(|conn| {
        let applied = match state(schema, conn)? {
            SchemaState::Unknown => return Err(MigrationError::UnknownTables),
            SchemaState::Managed { pending } => {
                versions(schema).into_iter().filter(|v| !pending.contains(v)).collect()
            }
            SchemaState::Empty | SchemaState::Python { .. } => Vec::new(),
        };
        MigrationConnection::setup(conn)?;
        let bot = schema.bot().and_then(|b| b.postgres);
        let migrations = joined(crate::embedded_in::<Pg>(&MIGRATIONS), bot);
        let applied = crate::run_pending(conn, &migrations, &applied)?;
        Ok(Report { applied, ..Report::default() })
    })
}

/// Compares the database with `schema`: every table and column of [`Schema::expected`] must
/// exist, with the PostgreSQL type that stands for its SQLite type. Extra tables and columns
/// are allowed.
pub fn check(schema: &Schema, conn: &mut PgConnection) -> QueryResult<Vec<Mismatch>> {
    let found: Vec<ColumnRow> = diesel::sql_query(
        "SELECT CAST(table_name AS TEXT) AS table_name, CAST(column_name AS TEXT) AS column_name, \
         CAST(data_type AS TEXT) AS data_type FROM information_schema.columns \
         WHERE table_schema = current_schema()",
    )
    .load(conn)?;
    let tables = table_names(conn)?;
    let mut mismatches = Vec::new();
    for want in schema.expected() {
        if !tables.contains(&want.name) {
            if crate::is_required(&want.name) {
                mismatches.push(Mismatch::MissingTable { table: want.name.clone() });
            }
            continue;
        }
        for column in &want.columns {
            let have =
                found.iter().find(|c| c.table_name == want.name && c.column_name == column.name);
            let expected = pg_type(&column.sql_type);
            match have {
                None => mismatches.push(Mismatch::MissingColumn {
                    table: want.name.clone(),
                    column: column.name.clone(),
                }),
                Some(c) if c.data_type != expected => mismatches.push(Mismatch::ColumnType {
                    table: want.name.clone(),
                    column: column.name.clone(),
                    expected: expected.to_owned(),
                    found: c.data_type.clone(),
                }),
                Some(_) => {}
            }
        }
    }
    Ok(mismatches)
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;

    use multisource_test_support::Databases;

    use super::*;

    #[test]
    fn the_postgres_schema_has_every_table_and_column_of_the_sqlite_one() {
        let databases = Databases::on_test_server("migrations");
        let url = databases.create();
        let mut conn = PgConnection::establish(&url).unwrap();
        let own = Schema::multisource();
        assert_eq!(state(&own, &mut conn).unwrap(), SchemaState::Empty);
        let report = migrate(&own, &mut conn).unwrap();
        assert_eq!(report.applied, versions(&own));
        assert_eq!(state(&own, &mut conn).unwrap(), SchemaState::Managed { pending: Vec::new() });
        assert_eq!(check(&own, &mut conn).unwrap(), Vec::new());
        assert_eq!(migrate(&own, &mut conn).unwrap(), Report::default(), "nothing the second time");
        let mut sqlite: Vec<&str> = own.expected().iter().map(|t| t.name.as_str()).collect();
        sqlite.push("__diesel_schema_migrations");
        sqlite.sort_unstable();
        assert_eq!(table_names(&mut conn).unwrap(), sqlite);
        conn.batch_execute("ALTER TABLE chat_users DROP COLUMN metadata; DROP TABLE chat_topics;")
            .unwrap();
        let found = check(&own, &mut conn).unwrap();
        assert!(found.contains(&Mismatch::MissingTable { table: "chat_topics".into() }));
        assert!(found.contains(&Mismatch::MissingColumn {
            table: "chat_users".into(),
            column: "metadata".into()
        }));
    }

    #[test]
    fn a_database_with_tables_of_its_own_is_not_migrated_over() {
        let databases = Databases::on_test_server("migrations");
        let url = databases.create();
        let mut conn = PgConnection::establish(&url).unwrap();
        let own = Schema::multisource();
        conn.batch_execute("CREATE TABLE theirs (x INT)").unwrap();
        assert_eq!(state(&own, &mut conn).unwrap(), SchemaState::Unknown);
        assert!(matches!(migrate(&own, &mut conn), Err(MigrationError::UnknownTables)));
        assert_eq!(table_names(&mut conn).unwrap(), ["theirs"]);
    }
}

//! Databases created by the Python bot: read-only they open as they are, writable they are
//! adopted (their versions recorded as applied) with no row changed.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::Text;
use multisource::{Config, Database, SchemaState, SourceConfig};

use crate::common::{Scratch, dump, file_state, raw};

fn readonly(path: &std::path::Path) -> Database {
    let config = Config::builder()
        .source(SourceConfig::new("gromozeka", path).readonly(true))
        .default_source("gromozeka")
        .build()
        .unwrap();
    Database::open(config).unwrap()
}

fn setting(db: &Database, key: &str) -> Option<String> {
    use multisource::schema::settings::dsl as s;
    db.read(None, None, |c| {
        s::settings.filter(s::key.eq(key)).select(s::value).first::<Option<String>>(c).optional()
    })
    .unwrap()
    .flatten()
}

fn applied_versions(path: &std::path::Path) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        version: String,
    }
    diesel::sql_query("SELECT version FROM __diesel_schema_migrations ORDER BY version")
        .load::<Row>(&mut raw(path))
        .unwrap()
        .into_iter()
        .map(|r| r.version)
        .collect()
}

#[track_caller]
fn opens_read_only_untouched(path: &std::path::Path) {
    let before = file_state(path);
    let db = readonly(path);
    let info = db.sources().next().unwrap();
    assert!(matches!(info.state_at_open, SchemaState::Python { version: 6 }), "{info:?}");
    assert!(info.applied.is_empty());
    assert_eq!(setting(&db, "db-migration-version").as_deref(), Some("6"));
    drop(db);
    assert_eq!(file_state(path), before);
}

#[track_caller]
fn opens_writable_with_no_row_changed(path: &std::path::Path) {
    let before = dump(path);
    let db = Database::open_path(path).unwrap();
    let info = db.sources().next().unwrap();
    assert!(matches!(info.state_at_open, SchemaState::Python { version: 6 }), "{info:?}");
    assert_eq!(info.adopted_python_version, Some(6));
    // Only the migrations newer than the Python bot's version 6 ran.
    let versions = multisource_migrations_versions();
    assert_eq!(info.applied, &versions[6..]);
    drop(db);
    assert_eq!(the_bots_tables(dump(path), &before), before, "a row changed");
    assert_eq!(applied_versions(path), versions);
    // Opened again, it is an ordinary multisource database.
    let db = Database::open_path(path).unwrap();
    let info = db.sources().next().unwrap();
    assert_eq!(info.state_at_open, SchemaState::Managed { pending: Vec::new() });
    assert!(info.applied.is_empty());
    drop(db);
    assert_eq!(the_bots_tables(dump(path), &before), before, "a row changed");
}

/// `after`'s tables that `before` has; the tables the migrations added must be empty.
fn the_bots_tables(
    mut after: BTreeMap<String, Vec<String>>,
    before: &BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Vec<String>> {
    after.retain(|table, rows| {
        let old = before.contains_key(table);
        assert!(old || rows.is_empty(), "the new table `{table}` holds rows: {rows:?}");
        old
    });
    after
}

/// The versions of every migration, read from a database multisource created.
fn multisource_migrations_versions() -> Vec<String> {
    let scratch = Scratch::new();
    let path = scratch.path("fresh.db");
    drop(Database::open_path(&path).unwrap());
    applied_versions(&path)
}

#[test]
fn a_database_built_like_the_python_bots_opens_read_only_untouched() {
    let scratch = Scratch::new();
    opens_read_only_untouched(&scratch.python_db("bot.db"));
}

#[test]
fn a_database_built_like_the_python_bots_opens_writable_with_no_row_changed() {
    let scratch = Scratch::new();
    opens_writable_with_no_row_changed(&scratch.python_db("bot.db"));
}

#[test]
fn the_python_bots_own_file_opens_read_only_untouched() {
    let scratch = Scratch::new();
    opens_read_only_untouched(&scratch.fixture("bot-v6.db"));
}

#[test]
fn the_python_bots_own_file_opens_writable_with_no_row_changed() {
    let scratch = Scratch::new();
    let path = scratch.fixture("bot-v6.db");
    let rows = dump(&path);
    assert_eq!(rows["chat_messages"].len(), 5);
    assert_eq!(rows["chat_info"].len(), 2);
    opens_writable_with_no_row_changed(&path);
}

#[test]
fn the_python_bots_schema_is_exactly_what_the_migrations_produce() {
    let scratch = Scratch::new();
    let ours = scratch.path("ours.db");
    drop(Database::open_path(&ours).unwrap());
    let python = scratch.fixture("bot-v6.db");
    let shape = |path: &std::path::Path| {
        #[derive(QueryableByName, PartialEq, Debug)]
        struct Row {
            #[diesel(sql_type = Text)]
            line: String,
        }
        diesel::sql_query(
            "SELECT m.name || '.' || p.name || ' ' || p.type || ' nn=' || p.\"notnull\" || \
             ' pk=' || p.pk || ' default=' || ifnull(p.dflt_value, '-') AS line \
             FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name != '__diesel_schema_migrations' \
             AND m.name != 'multisource_chat_moves' \
             ORDER BY m.name, p.cid",
        )
        .load::<Row>(&mut raw(path))
        .unwrap()
        .into_iter()
        .map(|r| r.line)
        .collect::<Vec<_>>()
    };
    let (ours, python) = (shape(&ours), shape(&python));
    assert_eq!(ours.len(), python.len());
    for (a, b) in ours.iter().zip(&python) {
        assert_eq!(a, b);
    }
}

#[test]
fn a_database_created_by_multisource_records_the_python_version_too() {
    let scratch = Scratch::new();
    let path = scratch.path("new.db");
    let db = Database::open_path(&path).unwrap();
    assert_eq!(db.sources().next().unwrap().state_at_open, SchemaState::Empty);
    assert_eq!(setting(&db, "db-migration-version").as_deref(), Some("6"));
}

//! A bot's own tables: its migrations (this package's `bot-migrations`, embedded by
//! `multisource::migrations!` in its library) run after multisource's on every writable source,
//! are checked on read-only ones, are refused when they cannot join multisource's, and are seen
//! and moved by the bot's own command line.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use multisource::{
    BotMigration, BotMigrations, Config, ConfigBuilder, Database, Error, Mismatch, SchemaState,
    SourceConfig,
};
use multisource_tests::{AddReminderExt, MIGRATIONS, PendingRemindersExt};

use crate::common::{Scratch, raw};

const CHAT: i64 = -1001000000042;
const REMINDERS: &str = "20261201000001";
const QUOTA: &str = "20261202000001";

fn due() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 12, 24).unwrap().and_hms_opt(18, 0, 0).unwrap()
}

/// Two writable sources, `a` (the default) and `b`, with `CHAT` mapped to `b`.
fn two_sources(scratch: &Scratch) -> ConfigBuilder {
    Config::builder()
        .source(SourceConfig::new("a", scratch.path("a.db")))
        .source(SourceConfig::new("b", scratch.path("b.db")))
        .default_source("a")
        .map_chat(CHAT, "b")
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn names(path: &Path, sql: &str) -> Vec<String> {
    let rows: Vec<Name> = diesel::sql_query(sql).load(&mut raw(path)).unwrap();
    rows.into_iter().map(|r| r.name).collect()
}

fn applied(path: &Path) -> Vec<String> {
    names(path, "SELECT version AS name FROM __diesel_schema_migrations ORDER BY version")
}

fn reminders_of(path: &Path, chat: i64) -> Vec<String> {
    let rows: Vec<Name> =
        diesel::sql_query("SELECT text AS name FROM reminders WHERE chat_id = ? ORDER BY text")
            .bind::<BigInt, _>(chat)
            .load(&mut raw(path))
            .unwrap();
    rows.into_iter().map(|r| r.name).collect()
}

#[test]
fn a_bots_migrations_run_after_multisources_on_every_writable_source_and_are_recorded() {
    let scratch = Scratch::new();
    let db =
        Database::open(two_sources(&scratch).migrations(&MIGRATIONS).build().unwrap()).unwrap();
    for info in db.sources() {
        let tail: Vec<&str> = info.applied.iter().rev().take(2).rev().map(String::as_str).collect();
        assert_eq!(
            tail,
            [REMINDERS, QUOTA],
            "the bot's come last, in order, on `{}`",
            info.config.name()
        );
        assert_eq!(info.applied.len(), multisource::Schema::multisource().versions().len() + 2);
    }
    assert_eq!(db.add_reminder(CHAT, "7", due(), "buy a tree").unwrap(), 1);
    assert_eq!(db.pending_reminders(CHAT, None).unwrap(), ["buy a tree"]);
    assert_eq!(db.pending_reminders(CHAT, Some("a")).unwrap(), Vec::<String>::new());
    // multisource's own writes keep working beside the column the bot added to their table.
    db.set_chat_setting(CHAT, "lang", "de").unwrap();
    drop(db);
    assert_eq!(reminders_of(&scratch.path("b.db"), CHAT), ["buy a tree"]);
    assert_eq!(reminders_of(&scratch.path("a.db"), CHAT), Vec::<String>::new());
    for file in ["a.db", "b.db"] {
        let versions = applied(&scratch.path(file));
        assert!(versions.contains(&REMINDERS.to_owned()) && versions.contains(&QUOTA.to_owned()));
    }
    // Opened again, nothing is applied twice.
    let db =
        Database::open(two_sources(&scratch).migrations(&MIGRATIONS).build().unwrap()).unwrap();
    assert!(db.sources().all(|info| info.applied.is_empty()));
    assert!(
        matches!(db.sources().next().unwrap().state_at_open, SchemaState::Managed { ref pending } if pending.is_empty())
    );
}

#[test]
fn a_source_made_before_the_bot_had_migrations_gets_them_on_its_next_open() {
    let scratch = Scratch::new();
    let db = Database::open(two_sources(&scratch).build().unwrap()).unwrap();
    db.set_chat_setting(CHAT, "lang", "de").unwrap();
    drop(db);
    let config = Config::from_toml_str(&format!(
        "[database]\ndefault = \"a\"\n[database.sources.a]\npath = {:?}\n[database.sources.b]\n\
         path = {:?}\n[database.chat_mapping]\n{CHAT} = \"b\"\n",
        scratch.path("a.db"),
        scratch.path("b.db")
    ))
    .unwrap()
    .with_migrations(&MIGRATIONS)
    .unwrap();
    let db = Database::open(config).unwrap();
    let b = db.sources().find(|i| i.config.name() == "b").unwrap();
    assert_eq!(
        b.state_at_open,
        SchemaState::Managed { pending: vec![REMINDERS.into(), QUOTA.into()] }
    );
    assert_eq!(b.applied, [REMINDERS, QUOTA]);
    assert_eq!(db.get_chat_setting(CHAT, "lang", None).unwrap().as_deref(), Some("de"), "kept");
    db.add_reminder(CHAT, "8", due(), "call home").unwrap();
}

#[test]
fn a_python_file_is_adopted_then_given_the_bots_migrations() {
    let scratch = Scratch::new();
    let path = scratch.fixture("bot-v6.db");
    let before: i64 = diesel::sql_query("SELECT count(*) AS n FROM chat_messages")
        .get_result::<Count>(&mut raw(&path))
        .unwrap()
        .n;
    let config =
        Config::builder().source(SourceConfig::new("default", &path)).migrations(&MIGRATIONS);
    let db = Database::open(config.build().unwrap()).unwrap();
    let info = db.sources().next().unwrap();
    assert_eq!(info.adopted_python_version, Some(6));
    assert_eq!(info.applied.iter().rev().take(2).collect::<Vec<_>>(), [QUOTA, REMINDERS]);
    db.add_reminder(CHAT, "1", due(), "adopted").unwrap();
    drop(db);
    let after: i64 = diesel::sql_query("SELECT count(*) AS n FROM chat_messages")
        .get_result::<Count>(&mut raw(&path))
        .unwrap()
        .n;
    assert_eq!(after, before, "no row of the Python bot's changed");
}

#[test]
fn a_read_only_source_without_a_bots_table_or_column_is_a_mismatch_naming_it() {
    let scratch = Scratch::new();
    // An archive made by multisource alone, before the bot had tables of its own.
    let archive = scratch.archive("archive.db", |_| {});
    let config = two_sources(&scratch)
        .source(SourceConfig::new("archive", &archive).readonly(true))
        .migrations(&MIGRATIONS)
        .build()
        .unwrap();
    let before = crate::common::file_state(&archive);
    match Database::open(config) {
        Err(err @ Error::SchemaMismatch { .. }) => {
            let Error::SchemaMismatch { ref source_name, ref mismatches, .. } = err else {
                unreachable!()
            };
            assert_eq!(source_name, "archive");
            assert!(mismatches.contains(&Mismatch::MissingTable { table: "reminders".into() }));
            assert!(mismatches.contains(&Mismatch::MissingTable { table: "quota".into() }));
            assert!(mismatches.contains(&Mismatch::MissingColumn {
                table: "chat_settings".into(),
                column: "set_by".into()
            }));
            let text = err.to_string();
            assert!(text.contains("reminders") && text.contains("archive"), "{text}");
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
    assert_eq!(crate::common::file_state(&archive), before, "the archive was not touched");
    // An archive made with the bot's migrations opens.
    let made = scratch.path("made.db");
    let writable =
        Config::builder().source(SourceConfig::new("default", &made)).migrations(&MIGRATIONS);
    let db = Database::open(writable.build().unwrap()).unwrap();
    db.add_reminder(CHAT, "3", due(), "archived").unwrap();
    drop(db);
    let config = Config::builder()
        .source(SourceConfig::new("default", scratch.path("live.db")))
        .source(SourceConfig::new("archive", &made).readonly(true))
        .map_chat(CHAT, "archive")
        .migrations(&MIGRATIONS);
    let db = Database::open(config.build().unwrap()).unwrap();
    assert_eq!(db.pending_reminders(CHAT, None).unwrap(), ["archived"]);
    assert!(matches!(
        db.add_reminder(CHAT, "4", due(), "refused"),
        Err(Error::ReadOnlySource { .. })
    ));
}

fn refusal(migrations: &'static BotMigrations) -> String {
    let scratch = Scratch::new();
    let built = two_sources(&scratch).migrations(migrations).build();
    let Err(Error::Config { key, message, .. }) = built else {
        panic!("expected a refusal, got {built:?}")
    };
    assert_eq!(key, "migrations");
    // The same refusal after loading, and nothing was created.
    let later = two_sources(&scratch).build().unwrap().with_migrations(migrations);
    assert!(matches!(later, Err(Error::Config { .. })), "{later:?}");
    assert!(!scratch.path("a.db").exists());
    message
}

const fn one(name: &'static str, up: &'static str) -> BotMigration {
    BotMigration { name, up, down: None }
}

static TAKEN: BotMigrations = BotMigrations {
    sqlite: &[one("2025-10-24-000001_mine", "CREATE TABLE mine (chat_id INTEGER PRIMARY KEY);")],
    postgres: None,
};
static TWICE: BotMigrations = BotMigrations {
    sqlite: &[
        one("2026-12-01-000001_first", "CREATE TABLE first (chat_id INTEGER PRIMARY KEY);"),
        one("20261201000001_second", "CREATE TABLE second (chat_id INTEGER PRIMARY KEY);"),
    ],
    postgres: None,
};
static UNNAMED: BotMigrations = BotMigrations {
    sqlite: &[one("create_mine", "CREATE TABLE mine (x INTEGER);")],
    postgres: None,
};
static BROKEN: BotMigrations = BotMigrations {
    sqlite: &[one("2026-12-01-000001_clash", "CREATE TABLE chat_users (x INTEGER);")],
    postgres: None,
};
static LOOSE_KEY: BotMigrations = BotMigrations {
    sqlite: &[one(
        "2026-12-01-000001_notes",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, text TEXT);",
    )],
    postgres: None,
};

#[test]
fn migrations_that_cannot_join_multisources_are_refused_saying_why() {
    let taken = refusal(&TAKEN);
    assert!(
        taken.contains("`2025-10-24-000001_mine`") && taken.contains("multisource's"),
        "{taken}"
    );
    let twice = refusal(&TWICE);
    assert!(
        twice.contains("`20261201000001_second`") && twice.contains("`2026-12-01-000001_first`"),
        "{twice}"
    );
    let unnamed = refusal(&UNNAMED);
    assert!(
        unnamed.contains("`create_mine`") && unnamed.contains("<version>_<description>"),
        "{unnamed}"
    );
    let broken = refusal(&BROKEN);
    assert!(
        broken.contains("`2026-12-01-000001_clash`") && broken.contains("already exists"),
        "{broken}"
    );
    let loose = refusal(&LOOSE_KEY);
    assert!(loose.contains("`notes`") && loose.contains("PRIMARY KEY (chat_id"), "{loose}");
}

#[cfg(feature = "postgres")]
static SQLITE_ONLY: BotMigrations = BotMigrations {
    sqlite: &[one("2026-12-01-000001_notes", "CREATE TABLE notes (chat_id INTEGER PRIMARY KEY);")],
    postgres: None,
};

// Without the feature, the source is refused for needing it, before its migrations are looked at.
#[cfg(feature = "postgres")]
#[test]
fn a_postgres_source_needs_the_bots_postgres_migrations() {
    let scratch = Scratch::new();
    let config = two_sources(&scratch)
        .source(SourceConfig::postgres("pg", "postgres://bot:secret@127.0.0.1:1/bot"))
        .migrations(&SQLITE_ONLY)
        .build();
    let Err(Error::Config { key, message, .. }) = config else { panic!("{config:?}") };
    assert_eq!(key, "sources.pg.url");
    assert!(
        message.contains("no PostgreSQL version") && message.contains("postgres = "),
        "{message}"
    );
    assert!(!message.contains("secret"));
    // Without a PostgreSQL source, SQLite migrations alone are enough.
    two_sources(&scratch).migrations(&SQLITE_ONLY).build().unwrap();
}

/// The bot's own command line, in this process.
fn bots_command(args: &[&str]) -> multisource_cli::Ran {
    let args = std::iter::once("bot-admin").chain(args.iter().copied());
    multisource_cli::run_captured_with(args, &MIGRATIONS)
}

fn stock_command(args: &[&str]) -> multisource_cli::Ran {
    multisource_cli::run_captured(std::iter::once("multisource").chain(args.iter().copied()))
}

#[test]
fn the_bots_own_command_migrates_checks_and_moves_the_bots_tables() {
    let scratch = Scratch::new();
    let config = scratch.path("bot.toml");
    std::fs::write(
        &config,
        "[database]\ndefault = \"a\"\n[database.sources.a]\npath = \"a.db\"\n\
         [database.sources.b]\npath = \"b.db\"\n",
    )
    .unwrap();
    let path = config.to_str().unwrap();
    let dry = bots_command(&["migrate", "--config", path, "--dry-run"]);
    assert_eq!(dry.status, 0, "{dry:?}");
    assert!(dry.stdout.contains("2026-12-01-000001_create_reminders"), "{}", dry.stdout);
    let ran = bots_command(&["migrate", "--config", path]);
    assert_eq!(ran.status, 0, "{ran:?}");
    assert!(applied(&scratch.path("b.db")).contains(&QUOTA.to_owned()));
    let check = bots_command(&["check", "--config", path]);
    assert_eq!(check.status, 0, "{check:?}");
    // The bot writes a chat's rows: its own table, and the column it added to multisource's.
    let db =
        Database::open(Config::from_file(&config).unwrap().with_migrations(&MIGRATIONS).unwrap())
            .unwrap();
    db.add_reminder(CHAT, "1", due(), "first").unwrap();
    db.add_reminder(CHAT, "2", due(), "second").unwrap();
    db.add_reminder(CHAT + 1, "1", due(), "another chat's").unwrap();
    db.set_chat_setting(CHAT, "lang", "de").unwrap();
    drop(db);
    raw(&scratch.path("a.db"))
        .batch_execute(&format!("UPDATE chat_settings SET set_by = 77 WHERE chat_id = {CHAT}"))
        .unwrap();
    let status = bots_command(&["status", "--config", path, "--json"]);
    assert_eq!(status.status, 0, "{status:?}");
    assert!(status.stdout.contains("\"reminders\""), "{}", status.stdout);
    // The stock command does not know the bot's tables: it refuses to strand their rows.
    let chat = CHAT.to_string();
    let stock = stock_command(&["move-chat", "--config", path, "--chat", &chat, "--to", "b"]);
    assert_eq!(stock.status, 2, "{stock:?}");
    assert!(stock.stderr.contains("multisource_cli::main_with"), "{}", stock.stderr);
    assert!(stock.stderr.contains(REMINDERS), "{}", stock.stderr);
    assert_eq!(reminders_of(&scratch.path("a.db"), CHAT).len(), 2, "nothing moved");
    // The bot's command moves them with the chat, verified, and rewrites the mapping.
    let moved = bots_command(&["move-chat", "--config", path, "--chat", &chat, "--to", "b"]);
    assert_eq!(moved.status, 0, "{moved:?}");
    assert!(moved.stdout.contains("reminders"), "{}", moved.stdout);
    assert_eq!(reminders_of(&scratch.path("b.db"), CHAT), ["first", "second"]);
    assert_eq!(reminders_of(&scratch.path("a.db"), CHAT), Vec::<String>::new());
    assert_eq!(reminders_of(&scratch.path("a.db"), CHAT + 1), ["another chat's"], "left alone");
    let set_by = names(
        &scratch.path("b.db"),
        &format!("SELECT CAST(set_by AS TEXT) AS name FROM chat_settings WHERE chat_id = {CHAT}"),
    );
    assert_eq!(set_by, ["77"], "the bot's column moved with multisource's table");
    let db =
        Database::open(Config::from_file(&config).unwrap().with_migrations(&MIGRATIONS).unwrap())
            .unwrap();
    assert_eq!(db.route(Some(CHAT), None).unwrap().source(), "b");
    assert_eq!(db.pending_reminders(CHAT, None).unwrap(), ["first", "second"]);
}

#[cfg(feature = "postgres")]
#[test]
fn a_postgres_source_gets_the_bots_postgres_migrations_and_a_read_only_one_is_checked() {
    let place = crate::backends::Place::new(crate::backends::Backend::Postgres);
    let pg = place.source("pg");
    let url = pg.url().unwrap().to_owned();
    let config = Config::builder()
        .source(SourceConfig::new("a", place.scratch.path("a.db")))
        .source(pg)
        .default_source("a")
        .map_chat(CHAT, "pg")
        .migrations(&MIGRATIONS);
    let db = Database::open(config.build().unwrap()).unwrap();
    let info = db.sources().find(|i| i.config.name() == "pg").unwrap();
    assert_eq!(info.applied.iter().rev().take(2).collect::<Vec<_>>(), [QUOTA, REMINDERS]);
    db.add_reminder(CHAT, "1", due(), "on the server").unwrap();
    assert_eq!(db.pending_reminders(CHAT, None).unwrap(), ["on the server"]);
    drop(db);
    // A read-only PostgreSQL source made by multisource alone lacks the bot's tables.
    let bare = place.source("bare");
    let bare_url = bare.url().unwrap().to_owned();
    drop(
        Database::open(
            Config::builder().source(bare.clone()).default_source("bare").build().unwrap(),
        )
        .unwrap(),
    );
    let config = Config::builder()
        .source(SourceConfig::postgres("pg", &url))
        .source(SourceConfig::postgres("bare", &bare_url).readonly(true))
        .default_source("pg")
        .migrations(&MIGRATIONS);
    match Database::open(config.build().unwrap()) {
        Err(Error::SchemaMismatch { source_name, mismatches, .. }) => {
            assert_eq!(source_name, "bare");
            assert!(mismatches.contains(&Mismatch::MissingTable { table: "reminders".into() }));
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
}

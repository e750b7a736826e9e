//! The schema a bot's sources hold: multisource's migrations, then the bot's own.
//!
//! A bot declares its migrations in its crate, in diesel's format (a folder per migration, named
//! `<version>_<description>`, holding `up.sql` and `down.sql`), and embeds them with
//! `multisource::migrations!`, which makes a [`BotMigrations`]. A [`Schema`] joins them to
//! multisource's: opening a source, checking it and the command line's `migrate`, `check`,
//! `status`, `move-chat` and `archive` all take the schema from the configuration
//! (`Config::with_migrations`), so they see the bot's tables as they see multisource's.

use std::fmt;
use std::sync::{Arc, OnceLock};

use diesel::backend::Backend;
use diesel::connection::BoxableConnection;
use diesel::migration::{Migration, MigrationMetadata, MigrationName, MigrationVersion};
use diesel::prelude::*;
use diesel::sqlite::{Sqlite, SqliteConnection};

use crate::introspect::Table;

/// One migration of a bot's, as its folder holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BotMigration {
    /// The folder's name: the version, `_`, a description
    /// (`2026-12-01-000001_create_reminders`, whose version is `20261201000001`).
    pub name: &'static str,
    /// The statements of `up.sql`.
    pub up: &'static str,
    /// The statements of `down.sql`, when the folder has one.
    pub down: Option<&'static str>,
}

impl BotMigration {
    /// The version, as diesel reads it from the folder's name: what comes before the first `_`,
    /// dashes removed.
    pub fn version(&self) -> String {
        self.name.split('_').next().unwrap_or_default().replace('-', "")
    }
}

/// A bot's own migrations, for its SQLite sources and, when it has any, its PostgreSQL ones.
/// `multisource::migrations!` makes one from the crate's folders; each list is oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BotMigrations {
    /// The migrations of SQLite sources.
    pub sqlite: &'static [BotMigration],
    /// The migrations of PostgreSQL sources; `None` when the bot declares none, and then no
    /// PostgreSQL source can be configured.
    pub postgres: Option<&'static [BotMigration]>,
}

/// Why a bot's migrations cannot join multisource's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// A folder's name does not start with a version.
    #[error(
        "the bot's migration `{name}` is not named `<version>_<description>` with a version of \
         digits and dashes (for example `2026-12-01-000001_create_reminders`); rename its folder"
    )]
    BadName {
        /// The folder's name.
        name: String,
    },
    /// Two migrations have one version: diesel records migrations by version, so one would be
    /// taken for the other.
    #[error(
        "the bot's {kind} migration `{name}` has version {version}, as {other} `{with}` has: \
         diesel records migrations by version, so one would be taken for the other; give the \
         bot's migration another date or number"
    )]
    Collision {
        /// `SQLite` or `PostgreSQL`.
        kind: &'static str,
        /// The bot's migration.
        name: String,
        /// The version both have.
        version: String,
        /// `multisource's` or `the bot's`.
        other: &'static str,
        /// The other migration.
        with: String,
    },
    /// A bot's table holds rows of chats (it has a `chat_id` column) under a key without
    /// `chat_id`: moving a chat to another source could then overwrite another chat's row there.
    #[error(
        "the bot's table `{table}` has a `chat_id` column, so `move-chat` moves its rows, but its \
         primary key does not include `chat_id`: a moved row could overwrite another chat's row \
         with the same key; make the key `PRIMARY KEY (chat_id, ...)`"
    )]
    ChatKey {
        /// The table.
        table: String,
    },
    /// A migration of the bot's fails on a database that holds multisource's schema.
    #[error(
        "the bot's SQLite migration `{name}` fails on a new database holding multisource's \
         tables: {message}; fix its `up.sql`"
    )]
    Broken {
        /// The migration.
        name: String,
        /// What SQLite said.
        message: String,
    },
}

/// The migrations a source is brought to and checked against: multisource's, then a bot's.
pub struct Schema {
    bot: Option<&'static BotMigrations>,
    expected: OnceLock<Vec<Table>>,
}

impl Schema {
    /// multisource's own schema, with no migrations of a bot's.
    pub fn multisource() -> Arc<Schema> {
        static OWN: OnceLock<Arc<Schema>> = OnceLock::new();
        Arc::clone(OWN.get_or_init(|| Arc::new(Schema { bot: None, expected: OnceLock::new() })))
    }

    /// multisource's schema and the bot's `migrations` after it. Refuses a folder not named by a
    /// version, a version taken twice, a SQLite migration that fails on a new database (it is
    /// run once, in memory, to learn the tables it makes), and a table of chats whose key lacks
    /// `chat_id`.
    pub fn with_bot(migrations: &'static BotMigrations) -> Result<Arc<Schema>, SchemaError> {
        check_versions("SQLite", migrations.sqlite, &crate::own_versions())?;
        #[cfg(feature = "postgres")]
        if let Some(postgres) = migrations.postgres {
            check_versions("PostgreSQL", postgres, &crate::postgres::own_versions())?;
        }
        let schema = Schema { bot: Some(migrations), expected: OnceLock::new() };
        let tables = schema.build_expected()?;
        let own = Schema::multisource();
        for table in tables.iter().filter(|t| !own.expected().iter().any(|o| o.name == t.name)) {
            let holds_chats = table.columns.iter().any(|c| c.name == "chat_id");
            if holds_chats && !table.primary_key().iter().any(|c| c.name == "chat_id") {
                return Err(SchemaError::ChatKey { table: table.name.clone() });
            }
        }
        let _ = schema.expected.set(tables);
        Ok(Arc::new(schema))
    }

    /// The bot's migrations, when there are any.
    pub fn bot(&self) -> Option<&'static BotMigrations> {
        self.bot
    }

    /// True when the schema can be migrated onto a PostgreSQL source: multisource's alone, or
    /// with a bot that gives PostgreSQL migrations.
    pub fn has_postgres(&self) -> bool {
        self.bot.is_none_or(|bot| bot.postgres.is_some())
    }

    /// The SQLite migrations, multisource's then the bot's: versions, oldest first.
    pub fn versions(&self) -> Vec<String> {
        self.listed().0
    }

    /// The full names of the SQLite migrations, in the order of [`Schema::versions`].
    pub fn names(&self) -> Vec<String> {
        self.listed().1
    }

    fn listed(&self) -> (Vec<String>, Vec<String>) {
        listed_with(crate::listed::<Sqlite>(&crate::MIGRATIONS), self.bot.map(|b| b.sqlite))
    }

    /// The SQLite migrations, multisource's then the bot's, to run in this order.
    pub(crate) fn sqlite_migrations(&self) -> Vec<Box<dyn Migration<Sqlite>>> {
        joined(crate::embedded_in(&crate::MIGRATIONS), self.bot.map(|b| b.sqlite))
    }

    /// The tables and columns the SQLite migrations produce, read once from an in-memory
    /// database. Read-only sources are checked against them, PostgreSQL sources too (each type
    /// read as its PostgreSQL counterpart), and `move-chat` moves the rows of those with a
    /// `chat_id` column.
    pub fn expected(&self) -> &[Table] {
        // multisource's own migrations cannot fail on an empty database (the crate's tests
        // run them); a bot's were run when the schema was made.
        self.expected.get_or_init(|| self.build_expected().unwrap_or_default())
    }

    fn build_expected(&self) -> Result<Vec<Table>, SchemaError> {
        let broken = |name: String, message: String| SchemaError::Broken { name, message };
        let mut conn = SqliteConnection::establish(":memory:")
            .map_err(|e| broken(String::new(), e.to_string()))?;
        crate::migrate(self, &mut conn).map_err(|error| match error {
            crate::MigrationError::Failed { version, error } => {
                let name =
                    self.names().into_iter().zip(self.versions()).find(|(_, v)| *v == version);
                broken(name.map_or(version, |(n, _)| n), error.to_string())
            }
            other => broken(String::new(), other.to_string()),
        })?;
        crate::tables(&mut conn).map_err(|e| broken(String::new(), e.to_string()))
    }
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bot: Vec<&str> =
            self.bot.map_or(&[][..], |b| b.sqlite).iter().map(|m| m.name).collect();
        f.debug_struct("Schema").field("bot_migrations", &bot).finish_non_exhaustive()
    }
}

/// Two schemas are equal when they run the same migrations.
impl PartialEq for Schema {
    fn eq(&self, other: &Schema) -> bool {
        self.bot == other.bot
    }
}

fn check_versions(
    kind: &'static str,
    bot: &[BotMigration],
    own: &[String],
) -> Result<(), SchemaError> {
    let mut seen: Vec<(String, &str)> = Vec::new();
    for migration in bot {
        let version = migration.version();
        let (head, description) = migration.name.split_once('_').unwrap_or((migration.name, ""));
        let digits = head.chars().all(|c| c.is_ascii_digit() || c == '-');
        if version.is_empty() || !digits || description.is_empty() {
            return Err(SchemaError::BadName { name: migration.name.to_owned() });
        }
        let collision = |other, with: &str| SchemaError::Collision {
            kind,
            name: migration.name.to_owned(),
            version: version.clone(),
            other,
            with: with.to_owned(),
        };
        if own.contains(&version) {
            return Err(collision("multisource's migration", &version));
        }
        if let Some((_, with)) = seen.iter().find(|(v, _)| *v == version) {
            return Err(collision("the bot's migration", with));
        }
        seen.push((version, migration.name));
    }
    Ok(())
}

/// A kind's own migrations' versions and names, then the bot's.
pub(crate) fn listed_with(
    (mut versions, mut names): (Vec<String>, Vec<String>),
    bot: Option<&'static [BotMigration]>,
) -> (Vec<String>, Vec<String>) {
    for migration in bot.unwrap_or_default() {
        versions.push(migration.version());
        names.push(migration.name.to_owned());
    }
    (versions, names)
}

/// A kind's own migrations, then the bot's.
pub(crate) fn joined<DB: Backend>(
    mut own: Vec<Box<dyn Migration<DB>>>,
    bot: Option<&'static [BotMigration]>,
) -> Vec<Box<dyn Migration<DB>>> {
    for migration in bot.unwrap_or_default() {
        own.push(Box::new(Embedded { migration, version: migration.version() }));
    }
    own
}

/// A bot's migration as diesel's harness runs and records it.
struct Embedded {
    migration: &'static BotMigration,
    version: String,
}

impl fmt::Display for Embedded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.migration.name)
    }
}

impl MigrationName for Embedded {
    fn version(&self) -> MigrationVersion<'_> {
        MigrationVersion::from(self.version.as_str())
    }
}

impl MigrationMetadata for Embedded {}

impl<DB: Backend> Migration<DB> for Embedded {
    fn run(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        conn.batch_execute(self.migration.up).map_err(Into::into)
    }

    fn revert(&self, conn: &mut dyn BoxableConnection<DB>) -> diesel::migration::Result<()> {
        match self.migration.down {
            Some(down) => conn.batch_execute(down).map_err(Into::into),
            None => Err(format!("the bot's migration `{}` has no `down.sql`", self).into()),
        }
    }

    fn metadata(&self) -> &dyn MigrationMetadata {
        self
    }

    fn name(&self) -> &dyn MigrationName {
        self
    }
}

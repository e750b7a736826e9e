//! [`Database`]: every source of a configuration behind one handle.

use std::hash::Hash;
use std::path::Path;

use multisource_router::{Config, Conn, Result, Route, Router, SourceConfig, SourceInfo, Stats};

use crate::Connection;

/// What [`Database::read`] and the like answer on a source that is not SQLite.
fn not_sqlite(method: &str, conn: &Conn<'_>) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(
        format!(
            "`Database::{method}` runs code written for SQLite, and this source is {}; use \
             `Database::{method}_any`, whose code gets a `Conn` of either kind",
            conn.kind()
        )
        .into(),
    )
}

/// Every source of a configuration, opened, behind one handle that routes each call.
///
/// `Database` is `Send + Sync`: share one (in an `Arc`, or by reference) between every thread of
/// the bot. The data methods (`get_chat_setting`, `save_chat_message`, ...) are generated from
/// the annotated queries of [`crate::queries`]; [`Database::read`], [`Database::write`] and
/// [`Database::fan_out`] run any other diesel code the same way.
#[derive(Debug)]
pub struct Database {
    router: Router,
}

impl Database {
    /// Opens every source of `config`: writable sources are created if missing and migrated
    /// (a database created by the Python bot is adopted, no row changed); read-only sources must
    /// exist and have the expected schema. A broken configuration fails here, at start-up, with an
    /// error naming the source.
    pub fn open(config: Config) -> Result<Database> {
        Ok(Database { router: Router::open(config)? })
    }

    /// Loads the configuration file at `path` ([`Config::from_file`]) and opens it.
    pub fn from_config_file(path: impl AsRef<Path>) -> Result<Database> {
        Database::open(Config::from_file(path)?)
    }

    /// Opens a single database file as one writable source named `default`, with the default
    /// pool size and timeout: the shortcut for a bot with one database.
    pub fn open_path(path: impl AsRef<Path>) -> Result<Database> {
        let source = SourceConfig::new("default", path.as_ref());
        Database::open(Config::builder().source(source).build()?)
    }

    /// Where a call for `chat_id` (`None` for a global call) naming `source` would go, and which
    /// tier decided it, without touching a database. Fails with `Error::UnknownSource` when
    /// `source` names no configured source. A write never names a source: pass `None` and look at
    /// [`Route::is_readonly`] to know whether a write for that chat would be refused.
    pub fn route(&self, chat_id: Option<i64>, source: Option<&str>) -> Result<Route<'_>> {
        self.router.route(chat_id, source)
    }

    /// Per-source counters: calls per tier, refused writes, pool checkouts and time waited,
    /// fan-out failures.
    pub fn stats(&self) -> Stats {
        self.router.stats()
    }

    /// The configuration the database was opened with, with the chat mapping in force now
    /// (which [`Database::reload_mapping`] may have changed since).
    pub fn config(&self) -> std::sync::Arc<Config> {
        self.router.config()
    }

    /// Reads the configuration file the database was opened from ([`Database::from_config_file`])
    /// again and puts its chat mapping in force, while the bot runs: at once and whole, so that
    /// a call sees the old mapping or the new, never a mix. Returns how many chats now go to
    /// another source than before.
    ///
    /// The file is checked as at open, with the same errors. A file that no longer loads, or
    /// whose sources or default source differ from those running, is refused with
    /// `Error::Config`, and the mapping in force stays: changing the sources needs a restart.
    /// For a database opened from a configuration built in code, see
    /// [`Database::apply_mapping`].
    pub fn reload_mapping(&self) -> Result<usize> {
        self.router.reload_mapping()
    }

    /// Puts the chat mapping of `config` in force, as [`Database::reload_mapping`] does with the
    /// file: `config` must have the same sources and default source as the running one.
    pub fn apply_mapping(&self, config: Config) -> Result<usize> {
        self.router.apply_mapping(config)
    }

    /// What opening each source found and did, in configuration order.
    pub fn sources(&self) -> impl ExactSizeIterator<Item = &SourceInfo> {
        self.router.sources()
    }

    /// The router underneath: what the generated methods call (through `__private`).
    pub(crate) fn router(&self) -> &Router {
        &self.router
    }

    /// Runs `query`, written for SQLite, on a read-only connection of the source that `chat_id`
    /// and `source` resolve to: `source` if given, else the chat's mapped source, else the
    /// default source. Anything that tries to write fails in SQLite. On a PostgreSQL source it
    /// fails with `Error::Query`: use [`Database::read_any`].
    ///
    /// A read routed by its chat follows the chat where it moved (see the README's "Operating a
    /// bot"): when the chat moved while `query` ran, `query` runs again where the chat is now,
    /// which is why it may be called more than once.
    pub fn read<T>(
        &self,
        chat_id: Option<i64>,
        source: Option<&str>,
        mut query: impl FnMut(&mut Connection) -> diesel::QueryResult<T>,
    ) -> Result<T> {
        self.read_any(chat_id, source, |conn| match conn {
            Conn::Sqlite(conn) => query(conn),
            #[allow(unreachable_patterns)]
            other => Err(not_sqlite("read", &other)),
        })
    }

    /// Runs `query`, written for SQLite, in one `BEGIN IMMEDIATE` transaction on the source that
    /// `chat_id` resolves to (the chat's mapped source, else the default source): committed when
    /// it returns `Ok`, rolled back otherwise. A read-only target is refused with
    /// `Error::ReadOnlySource` before any connection is taken. On a PostgreSQL source it fails
    /// with `Error::Query`: use [`Database::write_any`].
    pub fn write<T>(
        &self,
        chat_id: Option<i64>,
        query: impl FnOnce(&mut Connection) -> diesel::QueryResult<T>,
    ) -> Result<T> {
        self.write_any(chat_id, |conn| match conn {
            Conn::Sqlite(conn) => query(conn),
            #[allow(unreachable_patterns)]
            other => Err(not_sqlite("write", &other)),
        })
    }

    /// Runs `query`, written for SQLite, on every source in configuration order (concurrently)
    /// and merges the rows, keeping the first row of each `key`; with `Some(source)`, on that
    /// source alone. A failing source (a PostgreSQL one among them: use
    /// [`Database::fan_out_any`]) is handled by the configuration's `on_source_error` policy.
    pub fn fan_out<T: Send, K: Hash + Eq>(
        &self,
        source: Option<&str>,
        key: impl Fn(&T) -> K,
        query: impl Fn(&mut Connection) -> diesel::QueryResult<Vec<T>> + Sync,
    ) -> Result<Vec<T>> {
        self.fan_out_any(source, key, |conn| match conn {
            Conn::Sqlite(conn) => query(conn),
            #[allow(unreachable_patterns)]
            other => Err(not_sqlite("fan_out", &other)),
        })
    }

    /// [`Database::read`] for code that runs on any kind of source: `query` gets the connection
    /// as a [`Conn`], to match on.
    pub fn read_any<T>(
        &self,
        chat_id: Option<i64>,
        source: Option<&str>,
        query: impl FnMut(Conn<'_>) -> diesel::QueryResult<T>,
    ) -> Result<T> {
        self.router.call_read("read", chat_id, source, query)
    }

    /// [`Database::write`] for code that runs on any kind of source: `query` gets the connection
    /// as a [`Conn`], in a transaction (`BEGIN IMMEDIATE` on SQLite, `BEGIN` on PostgreSQL).
    pub fn write_any<T>(
        &self,
        chat_id: Option<i64>,
        query: impl FnOnce(Conn<'_>) -> diesel::QueryResult<T>,
    ) -> Result<T> {
        self.router.call_write_here("write", chat_id, query)
    }

    /// [`Database::fan_out`] for code that runs on any kind of source: `query` gets each
    /// source's connection as a [`Conn`].
    pub fn fan_out_any<T: Send, K: Hash + Eq>(
        &self,
        source: Option<&str>,
        key: impl Fn(&T) -> K,
        query: impl Fn(Conn<'_>) -> diesel::QueryResult<Vec<T>> + Sync,
    ) -> Result<Vec<T>> {
        self.router.call_fan_out("fan_out", source, key, query)
    }
}

//! The configuration: named sources, the default source, the chat mapping and the fan-out policy.
//!
//! It is read from TOML, either a whole bot configuration with a `[database]` table (the Python
//! bot's file loads unchanged) or that table alone, and is validated completely at load: every
//! refusal names the key, and the line when the text came from TOML.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use multisource_migrations::{BotMigrations, Schema};

use crate::backend::Kind;
use crate::error::{Error, Result};

mod keys;
mod mapping;
mod parse;
mod rules;

pub use self::mapping::{MappingEdit, replace as replace_file, sync_folder};
use self::parse::Parser;

/// The pool size of a source that does not set `pool-size`.
pub const DEFAULT_POOL_SIZE: u32 = 5;
/// The timeout of a source that does not set `timeout`, in seconds.
pub const DEFAULT_TIMEOUT_SECS: f64 = 30.0;
/// The default source's name when the configuration does not set `default`, as in the Python bot.
pub const DEFAULT_SOURCE_NAME: &str = "default";
/// The largest `pool-size` accepted.
pub const MAX_POOL_SIZE: u32 = 256;
/// The largest `timeout` accepted, in seconds (one day).
pub const MAX_TIMEOUT_SECS: f64 = 86_400.0;

/// A validated configuration: at least one source, a default source that exists, and a chat
/// mapping whose every entry names a configured source.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    default: String,
    sources: Vec<SourceConfig>,
    chat_mapping: BTreeMap<i64, String>,
    on_source_error: OnSourceError,
    watch_mapping: bool,
    file: Option<PathBuf>,
}

/// One named source: where its data is ([`Location`]), its access mode and its pool settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    name: String,
    location: Location,
    readonly: bool,
    pool_size: u32,
    timeout: Duration,
    schema: Arc<Schema>,
}

/// Where a source's data is: a SQLite file, with what only a file has, or a database server.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// A SQLite file (`path` in a configuration file).
    File(SqliteFile),
    /// A database on a server (`url`), of the kind its URL's scheme names (`postgres://`).
    Server(Server),
}

/// A SQLite file, and the settings that only a file has.
#[derive(Debug, Clone, PartialEq)]
pub struct SqliteFile {
    path: PathBuf,
    durability: Durability,
    immutable: bool,
    group_commit: bool,
    cache: bool,
}

/// A database server's URL (`postgres://user:password@host:port/database`), and how its writes
/// are committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    url: String,
    group_commit: bool,
}

impl SqliteFile {
    /// The file at `path`, with the default durability (`normal`), not immutable, its writes
    /// committed in groups, its hot reads cached.
    pub fn new(path: impl Into<PathBuf>) -> SqliteFile {
        SqliteFile {
            path: path.into(),
            durability: Durability::Normal,
            immutable: false,
            group_commit: true,
            cache: true,
        }
    }

    /// Sets whether the reads generated as cached (`get_chat_setting`, `get_chat_settings`,
    /// `get_chat_info`) are answered from memory while nothing has committed to the file since
    /// the answer was read: on by default (`cache` in a configuration file). A commit by any
    /// connection, this process's writes and other processes' alike, empties the source's cache
    /// before the next read, so an answer is never staler than the file. The cache needs the
    /// file's write-ahead-log index to see commits; on a file in another journal mode it stays
    /// empty (see the README's Durability section).
    pub fn cache(mut self, cache: bool) -> SqliteFile {
        self.cache = cache;
        self
    }

    /// Sets the durability of the source's writes.
    pub fn durability(mut self, durability: Durability) -> SqliteFile {
        self.durability = durability;
        self
    }

    /// Sets whether writes that arrive while the writer is busy share one transaction, each in
    /// a savepoint of its own, with one commit (and one sync) for all: on by default
    /// (`group-commit` in a configuration file). Off, every write is a transaction of its own,
    /// as in a benchmark's comparison. Either way a write is answered only after the commit that
    /// holds it, and a write that fails leaves nothing of itself.
    pub fn group_commit(mut self, group_commit: bool) -> SqliteFile {
        self.group_commit = group_commit;
        self
    }

    /// Declares the file frozen, for a read-only source: SQLite then opens it with
    /// `immutable=1`, taking no lock and creating no `-shm` file, and trusts that nothing changes
    /// it. The risk: if the file does change while open (another process writes it, a backup is
    /// restored over it), reads may return wrong rows or report a damaged database. Only for
    /// archives nothing writes.
    pub fn immutable(mut self, immutable: bool) -> SqliteFile {
        self.immutable = immutable;
        self
    }

    /// The file. Relative paths of a configuration file are resolved against its folder; others
    /// against the process's current folder when the source is opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The durability of the source's writes (meaningless for a read-only source).
    pub fn get_durability(&self) -> Durability {
        self.durability
    }

    /// True when the file is declared frozen.
    pub fn is_immutable(&self) -> bool {
        self.immutable
    }

    /// True when the file's writes are committed in groups (see [`SqliteFile::group_commit`]).
    pub fn is_group_commit(&self) -> bool {
        self.group_commit
    }

    /// True when the file's cached reads are answered from memory (see [`SqliteFile::cache`]).
    pub fn is_cache(&self) -> bool {
        self.cache
    }
}

impl Server {
    /// The server at `url`, password included; its kind is the URL's scheme's. Its writes are
    /// committed in groups.
    pub fn new(url: impl Into<String>) -> Server {
        Server { url: url.into(), group_commit: true }
    }

    /// Sets whether writes that arrive while a write runs share one transaction on one writer
    /// session, each in a savepoint of its own, with one commit for all: on by default
    /// (`group-commit` in a configuration file). Off, every write is a transaction of its own on
    /// a session of its own, as many at once as the source has writer sessions.
    pub fn group_commit(mut self, group_commit: bool) -> Server {
        self.group_commit = group_commit;
        self
    }

    /// True when the server's writes are committed in groups (see [`Server::group_commit`]).
    pub fn is_group_commit(&self) -> bool {
        self.group_commit
    }

    /// The URL, password included.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kind of database the URL's scheme names, if multisource knows it.
    pub fn kind(&self) -> Option<Kind> {
        Kind::of_url(&self.url)
    }
}

impl From<SqliteFile> for Location {
    fn from(file: SqliteFile) -> Location {
        Location::File(file)
    }
}

impl From<Server> for Location {
    fn from(server: Server) -> Location {
        Location::Server(server)
    }
}

impl Location {
    /// Whether the data is there, as far as can be told without connecting: a file must exist;
    /// a server is asked by connecting.
    pub fn exists(&self) -> bool {
        match self {
            Location::File(file) => file.path.exists(),
            Location::Server(_) => true,
        }
    }

    /// The kind of database: a SQLite file, or the server's kind (PostgreSQL for a URL whose
    /// scheme multisource does not know, which a validated configuration never holds).
    pub fn kind(&self) -> Kind {
        match self {
            Location::File(_) => Kind::Sqlite,
            Location::Server(server) => server.kind().unwrap_or(Kind::Postgres),
        }
    }
}

impl fmt::Display for Location {
    /// For people: the file's path, or the URL with its password hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(file) => write!(f, "{}", file.path.display()),
            Location::Server(server) => f.write_str(&redact(&server.url)),
        }
    }
}

/// How hard a writable source works to keep acknowledged writes across failures.
///
/// Both settings use SQLite's write-ahead log, and under both a write that returned `Ok` survives
/// a crash or kill of the process; they differ on a power loss or an operating-system crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Durability {
    /// `synchronous = NORMAL`: the log is synced at checkpoints, not at each commit. A power loss
    /// may lose the last transactions committed before it, never the file's consistency.
    #[default]
    Normal,
    /// `synchronous = FULL`: every commit is synced to the disk before it returns. Nothing
    /// acknowledged is lost even on a power loss; each write costs a disk sync.
    Full,
}

/// What a read that fans out to every source does when one source fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OnSourceError {
    /// Log a warning, count the failure in `Database::stats`, and return the other sources' rows.
    #[default]
    Skip,
    /// Return the error, naming the source.
    Fail,
}

impl Durability {
    /// The configuration spelling: `normal` or `full`.
    pub fn as_str(self) -> &'static str {
        match self {
            Durability::Normal => "normal",
            Durability::Full => "full",
        }
    }
}

impl OnSourceError {
    /// The configuration spelling: `skip` or `fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            OnSourceError::Skip => "skip",
            OnSourceError::Fail => "fail",
        }
    }
}

impl SourceConfig {
    /// A writable source named `name` at `location`, with the default pool size (5) and timeout
    /// (30 s).
    pub fn at(name: impl Into<String>, location: impl Into<Location>) -> SourceConfig {
        SourceConfig {
            name: name.into(),
            location: location.into(),
            readonly: false,
            pool_size: DEFAULT_POOL_SIZE,
            timeout: Duration::from_secs_f64(DEFAULT_TIMEOUT_SECS),
            schema: Schema::multisource(),
        }
    }

    /// A writable source named `name` on the SQLite file `path`, with the defaults (durability
    /// `normal`); [`SourceConfig::at`] with a [`SqliteFile`] sets what only a file has.
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> SourceConfig {
        SourceConfig::at(name, SqliteFile::new(path))
    }

    /// A PostgreSQL source named `name` on the server and database of `url`
    /// (`postgres://user:password@host:port/database`), writable, with the default pool size and
    /// timeout. Opening it needs multisource's `postgres` feature.
    pub fn postgres(name: impl Into<String>, url: impl Into<String>) -> SourceConfig {
        SourceConfig::at(name, Server::new(url))
    }

    /// Makes the source read-only (or writable again).
    pub fn readonly(mut self, readonly: bool) -> SourceConfig {
        self.readonly = readonly;
        self
    }

    /// Sets the largest number of connections the source opens.
    pub fn pool_size(mut self, pool_size: u32) -> SourceConfig {
        self.pool_size = pool_size;
        self
    }

    /// Sets how long a call waits for a lock held by another connection or process, and for a
    /// free connection of the pool.
    pub fn timeout(mut self, timeout: Duration) -> SourceConfig {
        self.timeout = timeout;
        self
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the source's data is; its `Display` is for people (a password hidden).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The kind of database: a SQLite file or a PostgreSQL server.
    pub fn kind(&self) -> Kind {
        self.location.kind()
    }

    /// The SQLite file, for a file source.
    pub fn file(&self) -> Option<&SqliteFile> {
        match &self.location {
            Location::File(file) => Some(file),
            Location::Server(_) => None,
        }
    }

    /// The server's URL, password included, for a server source.
    pub fn url(&self) -> Option<&str> {
        match &self.location {
            Location::File(_) => None,
            Location::Server(server) => Some(server.url()),
        }
    }

    /// True when the source is read-only.
    pub fn is_readonly(&self) -> bool {
        self.readonly
    }

    /// The largest number of connections the source opens. A writable source uses one of them
    /// for writes and the others for reads.
    pub fn get_pool_size(&self) -> u32 {
        self.pool_size
    }

    /// The busy timeout and pool checkout timeout.
    pub fn get_timeout(&self) -> Duration {
        self.timeout
    }

    /// The durability of a writable file's writes; `None` for a server, whose commits are kept as
    /// the server says, and for a read-only source, which takes none.
    pub fn durability(&self) -> Option<Durability> {
        self.file().filter(|_| !self.readonly).map(SqliteFile::get_durability)
    }

    /// True when the source is writable and its writes are committed in groups (see
    /// [`SqliteFile::group_commit`] and [`Server::group_commit`]).
    pub fn is_group_commit(&self) -> bool {
        let grouped = match &self.location {
            Location::File(file) => file.is_group_commit(),
            Location::Server(server) => server.is_group_commit(),
        };
        grouped && !self.readonly
    }

    /// True when the source is a SQLite file whose cached reads are answered from memory (see
    /// [`SqliteFile::cache`]); never for a server.
    pub fn is_cache(&self) -> bool {
        self.file().is_some_and(SqliteFile::is_cache)
    }

    /// True when the source is a frozen archive, opened with SQLite's `immutable=1`.
    pub fn is_immutable(&self) -> bool {
        self.file().is_some_and(SqliteFile::is_immutable)
    }

    /// The migrations the source is brought to and checked against: multisource's, and the
    /// bot's when the configuration was given them ([`Config::with_migrations`]).
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }
}

impl Config {
    /// Reads a configuration from TOML text: a whole bot configuration with a `[database]` table,
    /// or that table alone. Relative source paths stay relative to the process's current folder.
    pub fn from_toml_str(text: &str) -> Result<Config> {
        Parser { text, file: None }.parse()
    }

    /// Reads a configuration file. Relative source paths are resolved against the file's folder.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            key: String::new(),
            line: None,
            file: Some(path.to_path_buf()),
            message: format!("cannot read the configuration file: {e}"),
        })?;
        Config::from_text_at(&text, path)
    }

    /// Reads `text` as the configuration file at `path` would be read.
    pub(crate) fn from_text_at(text: &str, path: &Path) -> Result<Config> {
        let mut config = Parser { text, file: Some(path) }.parse()?;
        let folder = path.parent().unwrap_or(Path::new(""));
        for source in &mut config.sources {
            if let Location::File(file) = &mut source.location
                && file.path.is_relative()
            {
                file.path = folder.join(&file.path);
            }
        }
        config.file = Some(path.to_path_buf());
        Ok(config)
    }

    /// Starts a configuration in code; [`ConfigBuilder::build`] validates it as a file would be.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder::default()
    }

    /// The default source's name.
    pub fn default_source(&self) -> &str {
        &self.default
    }

    /// The sources, in configuration order (the order fan-out reads visit them).
    pub fn sources(&self) -> &[SourceConfig] {
        &self.sources
    }

    /// The source named `name`.
    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.iter().find(|s| s.name == name)
    }

    /// The chat mapping: chat id to source name.
    pub fn chat_mapping(&self) -> &BTreeMap<i64, String> {
        &self.chat_mapping
    }

    /// The source a chat's calls go to when they name none: the chat's mapping, or the default
    /// source. Touches no database.
    pub fn source_for_chat(&self, chat_id: i64) -> &str {
        self.chat_mapping.get(&chat_id).map_or(&self.default, String::as_str)
    }

    /// What fan-out reads do when a source fails.
    pub fn on_source_error(&self) -> OnSourceError {
        self.on_source_error
    }

    /// True when the database watches its configuration file and puts an edited chat mapping
    /// in force by itself (`watch-mapping` in the file; [`ConfigBuilder::watch_mapping`]).
    pub fn is_watch_mapping(&self) -> bool {
        self.watch_mapping
    }

    /// The file the configuration was read from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The migrations every source is brought to and checked against: multisource's, and the
    /// bot's once given ([`Config::with_migrations`]).
    pub fn schema(&self) -> &Arc<Schema> {
        // A configuration has at least one source, and all of them share the schema.
        self.sources[0].schema()
    }

    /// The same configuration with every source given `schema` (a configuration read again
    /// keeps the migrations the running one was given).
    pub(crate) fn with_schema(mut self, schema: &Arc<Schema>) -> Config {
        for source in &mut self.sources {
            source.schema = schema.clone();
        }
        self
    }

    /// Adds a bot's own migrations (made by `multisource::migrations!`) to multisource's: opening
    /// a source applies them after multisource's on every writable source and checks them on
    /// read-only ones, and the command line's tools see the bot's tables. Refused when a
    /// migration's version is taken twice or by one of multisource's, when its SQL fails on a
    /// new database, and when a PostgreSQL source is configured but the bot gives no PostgreSQL
    /// migrations.
    pub fn with_migrations(mut self, migrations: &'static BotMigrations) -> Result<Config> {
        attach(&mut self.sources, Some(migrations), |source, message| {
            Error::config(format!("sources.{}.url", source.name), message)
        })?;
        Ok(self)
    }
}

/// Gives every source the schema of multisource and `migrations`; `refuse` names a source the
/// schema cannot be migrated onto.
pub(crate) fn attach(
    sources: &mut [SourceConfig],
    migrations: Option<&'static BotMigrations>,
    refuse: impl Fn(&SourceConfig, String) -> Error,
) -> Result<()> {
    let Some(migrations) = migrations else { return Ok(()) };
    let schema =
        Schema::with_bot(migrations).map_err(|e| Error::config("migrations", e.to_string()))?;
    if let Some(source) =
        sources.iter().find(|s| s.kind() == Kind::Postgres && !schema.has_postgres())
    {
        return Err(refuse(
            source,
            format!(
                "source `{}` is a PostgreSQL database, and the bot's migrations have no \
                 PostgreSQL version; give `multisource::migrations!` a `postgres = \"...\"` \
                 folder, or keep the source on SQLite",
                source.name
            ),
        ));
    }
    for source in sources {
        source.schema = Arc::clone(&schema);
    }
    Ok(())
}

/// Builds a [`Config`] in code; [`ConfigBuilder::build`] checks it by the rules a configuration
/// file is checked by (a file's parser fills a builder).
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder {
    default: Option<String>,
    sources: Vec<SourceConfig>,
    chat_mapping: Vec<(i64, String)>,
    on_source_error: OnSourceError,
    watch_mapping: bool,
    migrations: Option<&'static BotMigrations>,
}

impl ConfigBuilder {
    /// Adds a source; sources keep the order they are added in.
    pub fn source(mut self, source: SourceConfig) -> ConfigBuilder {
        self.sources.push(source);
        self
    }

    /// Names the default source (without it, a source named `default` must exist).
    pub fn default_source(mut self, name: impl Into<String>) -> ConfigBuilder {
        self.default = Some(name.into());
        self
    }

    /// Maps a chat to a source.
    pub fn map_chat(mut self, chat_id: i64, source: impl Into<String>) -> ConfigBuilder {
        self.chat_mapping.push((chat_id, source.into()));
        self
    }

    /// Sets what fan-out reads do when a source fails.
    pub fn on_source_error(mut self, policy: OnSourceError) -> ConfigBuilder {
        self.on_source_error = policy;
        self
    }

    /// Sets whether the database watches the configuration file it was read from and, when the
    /// file changes, puts its chat mapping in force as `Database::reload_mapping` does (off by
    /// default; `watch-mapping = true` in the file's `[database]` table). The file is looked at
    /// every 200 ms; an edit that does not load, or that changes the sources, is refused with a
    /// warning (a `tracing` event) and the mapping in force stays. Only for a configuration read
    /// from a file: opening one built in code with it on fails.
    pub fn watch_mapping(mut self, watch: bool) -> ConfigBuilder {
        self.watch_mapping = watch;
        self
    }

    /// Adds a bot's own migrations to multisource's, as [`Config::with_migrations`] does.
    pub fn migrations(mut self, migrations: &'static BotMigrations) -> ConfigBuilder {
        self.migrations = Some(migrations);
        self
    }

    /// Validates the configuration: every rule, with each refusal naming its key.
    pub fn build(self) -> Result<Config> {
        self.check(&rules::Canonical)
    }
}

/// A URL with its password hidden, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = tail
        .split('&')
        .map(|part| match part.split_once("password=") {
            Some((before, _)) => format!("{before}password=***"),
            None => part.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_from_urls() {
        assert_eq!(redact("postgres://bot:s3cret@db:5432/bot"), "postgres://bot:***@db:5432/bot");
        assert_eq!(redact("postgres://bot@db/bot"), "postgres://bot@db/bot");
        assert_eq!(
            redact("postgresql://db/bot?user=a&password=x"),
            "postgresql://db/bot?user=a&password=***"
        );
        assert_eq!(redact("postgres://a:b:c@h"), "postgres://a:***@h");
    }
}

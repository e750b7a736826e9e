//! The configuration: named sources, the default source, the chat mapping and the fan-out policy.
//!
//! It is read from TOML, either a whole bot configuration with a `[database]` table (the Python
//! bot's file loads unchanged) or that table alone, and is validated completely at load: every
//! refusal names the key, and the line when the text came from TOML.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::conn::{Kind, redact};
use crate::error::{Error, Result};

mod keys;
mod mapping;
mod parse;

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
    file: Option<PathBuf>,
}

/// One named source: a SQLite file (`path`) or a PostgreSQL server (`url`), with its access mode
/// and pool settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceConfig {
    name: String,
    path: PathBuf,
    url: Option<String>,
    readonly: bool,
    pool_size: u32,
    timeout: Duration,
    durability: Durability,
    immutable: bool,
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
    /// A writable source named `name` on the file `path`, with the default pool size (5), timeout
    /// (30 s) and durability (`normal`).
    pub fn new(name: impl Into<String>, path: impl Into<PathBuf>) -> SourceConfig {
        SourceConfig {
            name: name.into(),
            path: path.into(),
            readonly: false,
            pool_size: DEFAULT_POOL_SIZE,
            timeout: Duration::from_secs_f64(DEFAULT_TIMEOUT_SECS),
            durability: Durability::Normal,
            immutable: false,
            url: None,
        }
    }

    /// A PostgreSQL source named `name` on the server and database of `url`
    /// (`postgres://user:password@host:port/database`), writable, with the default pool size and
    /// timeout. Opening it needs multisource's `postgres` feature.
    pub fn postgres(name: impl Into<String>, url: impl Into<String>) -> SourceConfig {
        SourceConfig { url: Some(url.into()), ..SourceConfig::new(name, PathBuf::new()) }
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

    /// Sets the durability of the source's writes.
    pub fn durability(mut self, durability: Durability) -> SourceConfig {
        self.durability = durability;
        self
    }

    /// Declares a read-only source's file frozen: SQLite then opens it with `immutable=1`, taking
    /// no lock and creating no `-shm` file, and trusts that nothing changes it. The risk: if the
    /// file does change while open (another process writes it, a backup is restored over it),
    /// reads may return wrong rows or report a damaged database. Only for archives nothing writes.
    pub fn immutable(mut self, immutable: bool) -> SourceConfig {
        self.immutable = immutable;
        self
    }

    /// The source's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kind of database: a SQLite file or a PostgreSQL server.
    pub fn kind(&self) -> Kind {
        match self.url {
            Some(_) => Kind::Postgres,
            None => Kind::Sqlite,
        }
    }

    /// A PostgreSQL source's URL, password included.
    pub fn url(&self) -> Option<&str> {
        self.url.as_deref()
    }

    /// Where the data is, for people: the file's path, or the URL with its password hidden.
    pub fn location(&self) -> String {
        match &self.url {
            Some(url) => redact(url),
            None => self.path.display().to_string(),
        }
    }

    /// The database file. Relative paths of a configuration file are resolved against its folder;
    /// others against the process's current folder when the source is opened.
    pub fn path(&self) -> &Path {
        &self.path
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

    /// The durability of the source's writes (meaningless for read-only sources).
    pub fn get_durability(&self) -> Durability {
        self.durability
    }

    /// True when the source is a frozen archive, opened with SQLite's `immutable=1`.
    pub fn is_immutable(&self) -> bool {
        self.immutable
    }

    fn validate(&self, key: &str) -> std::result::Result<(), (String, String)> {
        let field = |f: &str| format!("{key}.{f}");
        if let Some(url) = &self.url {
            return self.validate_postgres(key, url);
        }
        if self.immutable && !self.readonly {
            return Err((
                field("immutable"),
                "only a read-only source can be immutable; add `readonly = true`, or remove \
                 `immutable` if the bot writes to this file"
                    .into(),
            ));
        }
        if self.path.as_os_str().is_empty() {
            return Err((field("path"), "the path is empty; give the database file".into()));
        }
        if self.path.as_os_str().as_encoded_bytes().contains(&0) {
            return Err((
                field("path"),
                format!(
                    "the path {:?} holds a NUL character, which no file name can hold (the system \
                     would open the file named by what comes before it); remove it",
                    self.path.display()
                ),
            ));
        }
        if self.path.as_os_str() == ":memory:" {
            return Err((
                field("path"),
                "`:memory:` is not supported: every pooled connection would see its own empty \
                 database; use a file in a temporary folder"
                    .into(),
            ));
        }
        self.validate_pool().map_err(|(f, message)| (field(f), message))
    }

    fn validate_postgres(&self, key: &str, url: &str) -> std::result::Result<(), (String, String)> {
        let field = |f: &str| format!("{key}.{f}");
        if url.contains('\0') {
            return Err((
                field("url"),
                "the URL holds a NUL character, which no connection string can hold; remove it"
                    .into(),
            ));
        }
        if !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            return Err((
                field("url"),
                format!(
                    "a source's `url` is a PostgreSQL server, `postgres://user:password@host/database`, \
                     not {:?}; a SQLite file goes in `path`",
                    redact(url)
                ),
            ));
        }
        if !cfg!(feature = "postgres") {
            return Err((
                field("url"),
                "PostgreSQL sources need multisource built with its `postgres` feature \
                 (`multisource = { features = [\"postgres\"] }`)"
                    .into(),
            ));
        }
        if self.immutable {
            return Err((
                field("immutable"),
                "`immutable` is for frozen SQLite files; a read-only PostgreSQL source is \
                 `readonly = true`"
                    .into(),
            ));
        }
        if self.durability != Durability::Normal {
            return Err((
                field("durability"),
                "`durability` is for SQLite files; a PostgreSQL server keeps commits as its own \
                 `synchronous_commit` says"
                    .into(),
            ));
        }
        self.validate_pool().map_err(|(f, message)| (field(f), message))
    }

    /// `pool-size` and `timeout`: the field at fault and why.
    fn validate_pool(&self) -> std::result::Result<(), (&'static str, String)> {
        let min = if self.readonly { 1 } else { 2 };
        if self.pool_size < min || self.pool_size > MAX_POOL_SIZE {
            let why = match self.readonly {
                true => String::new(),
                false => " (a writable source needs one connection for writes and at least one \
                          for reads)"
                    .to_owned(),
            };
            return Err((
                "pool-size",
                format!(
                    "pool-size must be between {min} and {MAX_POOL_SIZE}{why}, not {}",
                    self.pool_size
                ),
            ));
        }
        let secs = self.timeout.as_secs_f64();
        if secs <= 0.0 || secs > MAX_TIMEOUT_SECS {
            return Err((
                "timeout",
                format!(
                    "timeout must be more than 0 and at most {MAX_TIMEOUT_SECS} seconds, not {secs}"
                ),
            ));
        }
        Ok(())
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
            if source.url.is_none() && source.path.is_relative() {
                source.path = folder.join(&source.path);
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

    /// The file the configuration was read from, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

/// Builds a [`Config`] in code.
#[derive(Debug, Clone, Default)]
pub struct ConfigBuilder {
    default: Option<String>,
    sources: Vec<SourceConfig>,
    chat_mapping: Vec<(i64, String)>,
    on_source_error: OnSourceError,
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

    /// Validates the configuration.
    pub fn build(self) -> Result<Config> {
        let mut names = Vec::new();
        for source in &self.sources {
            let key = format!("sources.{}", source.name);
            if source.name.is_empty() {
                return Err(Error::config("sources", "a source has an empty name"));
            }
            if names.contains(&source.name) {
                return Err(Error::config(key, "this source is configured twice"));
            }
            source.validate(&key).map_err(|(key, message)| Error::config(key, message))?;
            names.push(source.name.clone());
        }
        if names.is_empty() {
            return Err(Error::config("sources", NO_SOURCES));
        }
        let default = self.default.unwrap_or_else(|| DEFAULT_SOURCE_NAME.to_owned());
        if !names.contains(&default) {
            return Err(Error::config("default", unknown_default(&default, &names)));
        }
        let mut chat_mapping = BTreeMap::new();
        for (chat, source) in self.chat_mapping {
            let key = format!("chat_mapping.{chat}");
            if !names.contains(&source) {
                return Err(Error::config(key, unknown_mapped(&source, &names)));
            }
            if chat_mapping.insert(chat, source).is_some() {
                return Err(Error::config(key, "this chat is mapped twice"));
            }
        }
        Ok(Config {
            default,
            sources: self.sources,
            chat_mapping,
            on_source_error: self.on_source_error,
            file: None,
        })
    }
}

pub(crate) const NO_SOURCES: &str =
    "no sources are configured; add a `[database.sources.<name>]` table with a `path`";

pub(crate) fn unknown_default(default: &str, names: &[String]) -> String {
    format!(
        "the default source `{default}` is not among the sources ({}); set `default` to one of them",
        quoted(names)
    )
}

pub(crate) fn unknown_mapped(source: &str, names: &[String]) -> String {
    format!(
        "the chat is mapped to `{source}`, which is not a configured source ({})",
        quoted(names)
    )
}

pub(crate) fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

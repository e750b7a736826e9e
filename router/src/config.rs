//! The configuration: named sources, the default source, the chat mapping and the fan-out policy.
//!
//! It is read from TOML, either a whole bot configuration with a `[database]` table (the Python
//! bot's file loads unchanged) or that table alone, and is validated completely at load: every
//! refusal names the key, and the line when the text came from TOML.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use crate::conn::{Kind, redact};
use crate::error::{Error, Result};

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
        let mut config = Parser { text: &text, file: Some(path) }.parse()?;
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

const NO_SOURCES: &str =
    "no sources are configured; add a `[database.sources.<name>]` table with a `path`";

fn unknown_default(default: &str, names: &[String]) -> String {
    format!(
        "the default source `{default}` is not among the sources ({}); set `default` to one of them",
        quoted(names)
    )
}

fn unknown_mapped(source: &str, names: &[String]) -> String {
    format!(
        "the chat is mapped to `{source}`, which is not a configured source ({})",
        quoted(names)
    )
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// Keys of the `[database]` table, in their canonical (snake_case) spelling.
const TOP_KEYS: &[&str] = &["default", "sources", "chat_mapping", "on_source_error"];
/// Keys of a source table.
const SOURCE_KEYS: &[&str] =
    &["path", "url", "readonly", "pool_size", "timeout", "durability", "immutable"];

struct Parser<'a> {
    text: &'a str,
    file: Option<&'a Path>,
}

type Entry<'i> = (&'i toml::Spanned<toml::de::DeString<'i>>, &'i toml::Spanned<DeValue<'i>>);

impl Parser<'_> {
    fn error(&self, key: &str, span: Option<Range<usize>>, message: impl Into<String>) -> Error {
        Error::Config {
            key: key.to_owned(),
            line: span.map(|s| line_of(self.text, s.start)),
            file: self.file.map(Path::to_path_buf),
            message: message.into(),
        }
    }

    fn parse(&self) -> Result<Config> {
        let doc = DeTable::parse(self.text).map_err(|e| {
            let key = e.span().map_or_else(String::new, |s| key_near(self.text, s.start));
            self.error(&key, e.span(), format!("not valid TOML: {}", e.message().trim_end()))
        })?;
        let root = doc.get_ref();
        let (table, prefix, span) = match root.iter().find(|(k, _)| k.get_ref() == "database") {
            Some((key, value)) => match value.get_ref() {
                DeValue::Table(t) => (t, "database.", Some(key.span())),
                other => {
                    return Err(self.error(
                        "database",
                        Some(key.span()),
                        format!("`database` must be a table, not {}", kind(other)),
                    ));
                }
            },
            None => (root, "", None),
        };
        self.parse_database(table, prefix, span)
    }

    fn parse_database(
        &self,
        table: &DeTable<'_>,
        prefix: &str,
        span: Option<Range<usize>>,
    ) -> Result<Config> {
        let entries = self.known_entries(table, prefix, TOP_KEYS, "the database configuration")?;
        let mut default = None;
        let mut sources = Vec::new();
        let mut mapping: Vec<(i64, String, String, Range<usize>)> = Vec::new();
        let mut on_source_error = OnSourceError::Skip;
        let mut sources_span = None;
        for (canon, (key, value)) in entries {
            let path = format!("{prefix}{}", key.get_ref());
            match canon {
                "default" => default = Some((self.string(&path, value)?, path, key.span())),
                "on_source_error" => {
                    on_source_error = match self.string(&path, value)?.as_str() {
                        "skip" => OnSourceError::Skip,
                        "fail" => OnSourceError::Fail,
                        other => {
                            return Err(self.error(
                                &path,
                                Some(value.span()),
                                format!("expected \"skip\" or \"fail\", not {other:?}"),
                            ));
                        }
                    }
                }
                "sources" => {
                    sources_span = Some(key.span());
                    let DeValue::Table(list) = value.get_ref() else {
                        return Err(self.error(
                            &path,
                            Some(value.span()),
                            format!(
                                "`sources` must be a table of named sources, not {}",
                                kind(value.get_ref())
                            ),
                        ));
                    };
                    for (name, source) in list.iter() {
                        let key = format!("{path}.{}", name.get_ref());
                        sources.push((
                            self.parse_source(name.get_ref(), &key, source)?,
                            key,
                            name.span(),
                        ));
                    }
                }
                "chat_mapping" => {
                    let DeValue::Table(list) = value.get_ref() else {
                        return Err(self.error(
                            &path,
                            Some(value.span()),
                            format!(
                                "the chat mapping must be a table, not {}",
                                kind(value.get_ref())
                            ),
                        ));
                    };
                    for (chat, source) in list.iter() {
                        let key = format!("{path}.{}", quote_key(chat.get_ref()));
                        let id = chat.get_ref().parse::<i64>().map_err(|_| {
                            self.error(
                                &key,
                                Some(chat.span()),
                                format!(
                                    "the chat id `{}` is not an integer; write chat ids as \
                                     integers, such as -1001234567890",
                                    chat.get_ref()
                                ),
                            )
                        })?;
                        let name = self.string(&key, source)?;
                        if let Some(first) = mapping.iter().find(|m| m.0 == id) {
                            return Err(self.error(
                                &key,
                                Some(chat.span()),
                                format!("chat {id} is mapped twice (first as `{}`)", first.2),
                            ));
                        }
                        mapping.push((id, name, key, chat.span()));
                    }
                }
                // `known_entries` returns only the keys matched above.
                _ => {}
            }
        }
        if sources.is_empty() {
            return Err(self.error(&format!("{prefix}sources"), sources_span.or(span), NO_SOURCES));
        }
        let names: Vec<String> = sources.iter().map(|(s, _, _)| s.name.clone()).collect();
        let default = match default {
            Some((name, key, span)) => {
                if !names.contains(&name) {
                    return Err(self.error(&key, Some(span), unknown_default(&name, &names)));
                }
                name
            }
            None if names.iter().any(|n| n == DEFAULT_SOURCE_NAME) => {
                DEFAULT_SOURCE_NAME.to_owned()
            }
            None => {
                return Err(self.error(
                    &format!("{prefix}default"),
                    None,
                    format!(
                        "`default` is not set and no source is named `default`; set `default` to \
                         one of {}",
                        quoted(&names)
                    ),
                ));
            }
        };
        let mut chat_mapping = BTreeMap::new();
        for (id, name, key, span) in mapping {
            if !names.contains(&name) {
                return Err(self.error(&key, Some(span), unknown_mapped(&name, &names)));
            }
            chat_mapping.insert(id, name);
        }
        Ok(Config {
            default,
            sources: sources.into_iter().map(|(s, _, _)| s).collect(),
            chat_mapping,
            on_source_error,
            file: None,
        })
    }

    fn parse_source(
        &self,
        name: &str,
        key: &str,
        value: &toml::Spanned<DeValue<'_>>,
    ) -> Result<SourceConfig> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.error(
                key,
                Some(value.span()),
                format!("a source must be a table with a `path`, not {}", kind(value.get_ref())),
            ));
        };
        if name.is_empty() {
            return Err(self.error(key, Some(value.span()), "a source has an empty name"));
        }
        let mut source = SourceConfig::new(name, PathBuf::new());
        let mut has_path = false;
        let prefix = format!("{key}.");
        let entries =
            self.known_entries(table, &prefix, SOURCE_KEYS, &format!("source `{name}`"))?;
        let mut spans = BTreeMap::new();
        for (canon, (k, v)) in entries {
            let path = format!("{key}.{}", k.get_ref());
            spans.insert(canon, (path.clone(), v.span()));
            match canon {
                "path" => {
                    source.path = PathBuf::from(self.string(&path, v)?);
                    has_path = true;
                }
                "url" => source.url = Some(self.string(&path, v)?),
                "readonly" => match v.get_ref() {
                    DeValue::Boolean(b) => source.readonly = *b,
                    other => return Err(self.expected(&path, v, "true or false", other)),
                },
                "immutable" => match v.get_ref() {
                    DeValue::Boolean(b) => source.immutable = *b,
                    other => return Err(self.expected(&path, v, "true or false", other)),
                },
                "pool_size" => {
                    let size = match v.get_ref() {
                        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
                        other => return Err(self.expected(&path, v, "an integer", other)),
                    };
                    source.pool_size = size.and_then(|s| u32::try_from(s).ok()).unwrap_or(0);
                }
                "timeout" => {
                    let secs = match v.get_ref() {
                        DeValue::Integer(i) => {
                            i64::from_str_radix(i.as_str(), i.radix()).ok().map(|i| i as f64)
                        }
                        DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
                        other => return Err(self.expected(&path, v, "a number of seconds", other)),
                    };
                    let secs = secs.filter(|s| s.is_finite() && *s > 0.0 && *s <= MAX_TIMEOUT_SECS);
                    let Some(secs) = secs else {
                        return Err(self.error(
                            &path,
                            Some(v.span()),
                            format!(
                                "timeout must be more than 0 and at most {MAX_TIMEOUT_SECS} \
                                 seconds"
                            ),
                        ));
                    };
                    source.timeout = Duration::from_secs_f64(secs);
                }
                "durability" => {
                    source.durability = match self.string(&path, v)?.as_str() {
                        "normal" => Durability::Normal,
                        "full" => Durability::Full,
                        other => {
                            return Err(self.error(
                                &path,
                                Some(v.span()),
                                format!("expected \"normal\" or \"full\", not {other:?}"),
                            ));
                        }
                    }
                }
                // `known_entries` returns only the keys matched above.
                _ => {}
            }
        }
        match (has_path, spans.get("url"), spans.get("durability")) {
            (false, None, _) => {
                return Err(self.error(
                    key,
                    Some(value.span()),
                    format!(
                        "source `{name}` has no `path`; give its database file (or `url` for a \
                         PostgreSQL server)"
                    ),
                ));
            }
            (true, Some((written, span)), _) => {
                return Err(self.error(
                    written,
                    Some(span.clone()),
                    "give either `path` (a SQLite file) or `url` (a PostgreSQL server), not both",
                ));
            }
            (false, Some(_), Some((written, span))) => {
                return Err(self.error(
                    written,
                    Some(span.clone()),
                    "`durability` is for SQLite files; a PostgreSQL server keeps commits as its \
                     own `synchronous_commit` says",
                ));
            }
            _ => {}
        }
        source.validate(key).map_err(|(field, message)| {
            let canon = field.rsplit('.').next().unwrap_or("").replace('-', "_");
            match spans.get(canon.as_str()) {
                Some((written, span)) => self.error(written, Some(span.clone()), message),
                None => self.error(&field, Some(value.span()), message),
            }
        })?;
        Ok(source)
    }

    /// The entries of `table` keyed by their canonical spelling, refusing unknown keys (with the
    /// closest known key suggested) and keys given twice in two spellings.
    fn known_entries<'i>(
        &self,
        table: &'i DeTable<'i>,
        prefix: &str,
        known: &'static [&'static str],
        what: &str,
    ) -> Result<Vec<(&'static str, Entry<'i>)>> {
        let mut out: Vec<(&'static str, Entry<'i>)> = Vec::new();
        for (key, value) in table.iter() {
            let written = key.get_ref().as_ref();
            let canon = canonical(written);
            let Some(found) = known.iter().find(|k| **k == canon) else {
                let hint = match closest(&canon, known) {
                    Some(k) => format!("; did you mean `{}`?", respell(k, written)),
                    None => format!(
                        "; the known keys are {}",
                        known
                            .iter()
                            .map(|k| format!("`{}`", respell(k, written)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                return Err(self.error(
                    &format!("{prefix}{written}"),
                    Some(key.span()),
                    format!("unknown key `{written}` in {what}{hint}"),
                ));
            };
            if let Some((_, (first, _))) = out.iter().find(|(c, _)| c == found) {
                return Err(self.error(
                    &format!("{prefix}{written}"),
                    Some(key.span()),
                    format!("`{written}` is given twice, also as `{}`", first.get_ref()),
                ));
            }
            out.push((found, (key, value)));
        }
        Ok(out)
    }

    fn string(&self, key: &str, value: &toml::Spanned<DeValue<'_>>) -> Result<String> {
        match value.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            other => Err(self.expected(key, value, "a string", other)),
        }
    }

    fn expected(
        &self,
        key: &str,
        value: &toml::Spanned<DeValue<'_>>,
        want: &str,
        found: &DeValue<'_>,
    ) -> Error {
        self.error(key, Some(value.span()), format!("expected {want}, found {}", kind(found)))
    }
}

/// The canonical spelling of a key: `pool-size`, `poolSize` and `pool_size` are all `pool_size`.
fn canonical(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        match c {
            '-' => out.push('_'),
            c if c.is_ascii_uppercase() => {
                out.push('_');
                out.push(c.to_ascii_lowercase());
            }
            c => out.push(c),
        }
    }
    out
}

/// Spells a canonical key the way the user spells keys: with hyphens if `like` has one, in
/// camelCase for `chat_mapping` when `like` is camelCase.
fn respell(canon: &str, like: &str) -> String {
    if like.contains('-') {
        canon.replace('_', "-")
    } else if like.chars().any(|c| c.is_ascii_uppercase()) {
        let mut out = String::new();
        let mut upper = false;
        for c in canon.chars() {
            match (c, upper) {
                ('_', _) => upper = true,
                (c, true) => {
                    out.push(c.to_ascii_uppercase());
                    upper = false;
                }
                (c, false) => out.push(c),
            }
        }
        out
    } else {
        canon.to_owned()
    }
}

/// The known key closest to `key`, if one is close enough to be a typo.
fn closest(key: &str, known: &[&'static str]) -> Option<&'static str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn kind(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn quote_key(key: &str) -> String {
    match key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') && !key.is_empty()
    {
        true => key.to_owned(),
        false => format!("{key:?}"),
    }
}

/// The key a syntax error at `offset` is under, read from the text since it did not parse: the
/// last table header before the error's line, and the key assigned on that line, if any.
fn key_near(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let start = text.as_bytes()[..offset].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let end = text.as_bytes()[offset..]
        .iter()
        .position(|b| *b == b'\n')
        .map_or(text.len(), |i| offset + i);
    let clean = |key: &str| -> Option<String> {
        let parts: Vec<&str> =
            key.split('.').map(|p| p.trim().trim_matches(|c| c == '"' || c == '\'')).collect();
        let bare = |p: &&str| {
            !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        parts.iter().all(bare).then(|| parts.join("."))
    };
    let table = text.get(..start).unwrap_or("").lines().rev().find_map(|line| {
        let line = line.trim();
        let inner = line.strip_prefix('[')?.split(']').next()?.trim_start_matches('[');
        clean(inner)
    });
    let assigned =
        text.get(start..end).and_then(|line| line.split_once('=')).and_then(|(k, _)| clean(k));
    match (table, assigned) {
        (Some(table), Some(key)) => format!("{table}.{key}"),
        (Some(key), None) | (None, Some(key)) => key,
        (None, None) => String::new(),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())].iter().filter(|b| **b == b'\n').count() + 1
}

//! Reading a configuration from TOML text, with the span of every key, so that each refusal names
//! the key and its line.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use rustc_hash::FxHashMap;

use super::keys::{canonical, closest, respell};
use super::rules::{Field, Names, Place, Written, canonical_key};
use super::{
    Config, ConfigBuilder, Durability, Location, OnSourceError, Server, SourceConfig, SqliteFile,
};
use crate::error::{Error, Result};

/// Keys of the `[database]` table, in their canonical (snake_case) spelling; each is read by an
/// arm of `parse_database`.
const TOP_KEYS: &[&str] =
    &["default", "sources", "chat_mapping", "on_source_error", "watch_mapping"];
/// Keys of a source table; each is read by an arm of `parse_source`.
const SOURCE_KEYS: &[&str] = &[
    "path",
    "url",
    "readonly",
    "pool_size",
    "timeout",
    "durability",
    "immutable",
    "group_commit",
    "cache",
];

pub(crate) struct Parser<'a> {
    pub(crate) text: &'a str,
    pub(crate) file: Option<&'a Path>,
}

/// Where a file wrote each thing a refusal can be about, so that it names the key as written and
/// its line.
struct Spans<'p, 'a> {
    parser: &'p Parser<'a>,
    /// `database.` for a whole bot configuration, nothing for the table alone.
    prefix: String,
    /// The `[database]` table's own key, when there is one.
    database: Option<Range<usize>>,
    default: Option<Written>,
    sources: Option<Written>,
    /// Each source's table and its settings, in the builder's order.
    source: Vec<(Written, FxHashMap<Field, Written>)>,
    /// Each entry of the chat mapping, in the builder's order.
    mapping: Vec<Written>,
}

impl<'p, 'a> Spans<'p, 'a> {
    fn default_for(parser: &'p Parser<'a>) -> Spans<'p, 'a> {
        Spans {
            parser,
            prefix: String::new(),
            database: None,
            default: None,
            sources: None,
            source: Vec::new(),
            mapping: Vec::new(),
        }
    }

    fn written(&self, builder: &ConfigBuilder, place: Place) -> (String, Option<Range<usize>>) {
        let at = |w: &Written| (w.0.clone(), Some(w.1.clone()));
        let found = match place {
            Place::Sources => self.sources.as_ref().map(at),
            Place::Default => self.default.as_ref().map(at),
            Place::Source(i) => self.source.get(i).map(|(w, _)| at(w)),
            Place::Field(i, field) => self
                .source
                .get(i)
                .map(|(source, fields)| fields.get(&field).map_or_else(|| at(source), at)),
            Place::Mapping(i) => self.mapping.get(i).map(at),
        };
        found.unwrap_or_else(|| match place {
            // Not written: the key the file would have, at the database table.
            Place::Sources | Place::Default => (
                format!("{}{}", self.prefix, canonical_key(builder, place)),
                if place == Place::Sources { self.database.clone() } else { None },
            ),
            _ => (canonical_key(builder, place), None),
        })
    }
}

impl Names for Spans<'_, '_> {
    fn refuse(&self, builder: &ConfigBuilder, place: Place, message: String) -> Error {
        let (key, span) = self.written(builder, place);
        self.parser.error(&key, span, message)
    }

    fn key(&self, builder: &ConfigBuilder, place: Place) -> String {
        self.written(builder, place).0
    }
}

/// The field a canonical source key stands for, in the builder's refusals.
fn field_of(canon: &str) -> Option<Field> {
    match canon {
        "path" => Some(Field::Path),
        "url" => Some(Field::Url),
        "pool_size" => Some(Field::PoolSize),
        "timeout" => Some(Field::Timeout),
        "immutable" => Some(Field::Immutable),
        _ => None,
    }
}

/// Where each setting of a source that the builder can refuse was written.
type Fields = FxHashMap<Field, Written>;

/// What one source's table wrote, before it becomes a [`SourceConfig`].
#[derive(Default)]
struct SourceKeys<'k> {
    path: Option<String>,
    url: Option<String>,
    readonly: Option<bool>,
    immutable: Option<bool>,
    durability: Option<Durability>,
    group_commit: Option<bool>,
    cache: Option<bool>,
    pool_size: Option<u32>,
    timeout: Option<Duration>,
    /// Every key the table wrote, by its canonical spelling, as written and where.
    seen: BTreeMap<&'k str, Written>,
    /// Where each setting the builder can refuse was written.
    fields: FxHashMap<Field, Written>,
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

    pub(crate) fn parse(&self) -> Result<Config> {
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
        let mut builder = ConfigBuilder::default();
        let mut written = Spans {
            parser: self,
            prefix: prefix.to_owned(),
            database: span,
            ..Spans::default_for(self)
        };
        for (canon, (key, value)) in entries {
            let path = format!("{prefix}{}", key.get_ref());
            match canon {
                "default" => {
                    builder = builder.default_source(self.string(&path, value)?);
                    written.default = Some((path, key.span()));
                }
                "watch_mapping" => {
                    builder = builder.watch_mapping(self.boolean(&path, value)?);
                }
                "on_source_error" => {
                    let choices = [("skip", OnSourceError::Skip), ("fail", OnSourceError::Fail)];
                    builder = builder.on_source_error(self.choice(&path, value, choices)?);
                }
                "sources" => {
                    for (source, at, fields) in self.parse_sources(&path, value)? {
                        builder = builder.source(source);
                        written.source.push((at, fields));
                    }
                    written.sources = Some((path, key.span()));
                }
                "chat_mapping" => {
                    for (chat, source, at) in self.parse_mapping(&path, value)? {
                        builder = builder.map_chat(chat, source);
                        written.mapping.push(at);
                    }
                }
                // `known_entries` returns only the keys matched above.
                _ => {}
            }
        }
        builder.check(&written)
    }

    /// Reads `[database.sources]`: each named source, where its table was written, and where
    /// each of its settings was.
    fn parse_sources(
        &self,
        path: &str,
        value: &toml::Spanned<DeValue<'_>>,
    ) -> Result<Vec<(SourceConfig, Written, Fields)>> {
        let list = self.table(path, value, "`sources` must be a table of named sources")?;
        list.iter()
            .map(|(name, source)| {
                let key = format!("{path}.{}", name.get_ref());
                let (source, fields) = self.parse_source(name.get_ref(), &key, source)?;
                Ok((source, (key, name.span()), fields))
            })
            .collect()
    }

    /// Reads the chat mapping: each chat id (an integer written as a key), the source's name it
    /// maps to, and where it was written.
    fn parse_mapping(
        &self,
        path: &str,
        value: &toml::Spanned<DeValue<'_>>,
    ) -> Result<Vec<(i64, String, Written)>> {
        let mut mapping = Vec::new();
        for (chat, source) in self.table(path, value, "the chat mapping must be a table")?.iter() {
            let key = format!("{path}.{}", quote_key(chat.get_ref()));
            let Ok(id) = chat.get_ref().parse::<i64>() else {
                let message = format!(
                    "the chat id `{}` is not an integer; write chat ids as integers, such as \
                     -1001234567890",
                    chat.get_ref()
                );
                return Err(self.error(&key, Some(chat.span()), message));
            };
            let name = self.string(&key, source)?;
            mapping.push((id, name, (key, chat.span())));
        }
        Ok(mapping)
    }

    /// Reads one source's table into a [`SourceConfig`], and where each of its settings was
    /// written. What a source cannot be (both a file and a server, a server with a file's
    /// settings) is refused here, since the model cannot hold it; every other rule is the
    /// builder's.
    fn parse_source(
        &self,
        name: &str,
        key: &str,
        value: &toml::Spanned<DeValue<'_>>,
    ) -> Result<(SourceConfig, Fields)> {
        let table = self.table(key, value, "a source must be a table with a `path`")?;
        let prefix = format!("{key}.");
        let entries =
            self.known_entries(table, &prefix, SOURCE_KEYS, &format!("source `{name}`"))?;
        let mut read = SourceKeys::default();
        for (canon, (k, v)) in entries {
            let at = format!("{key}.{}", k.get_ref());
            read.seen.insert(canon, (at.clone(), v.span()));
            if let Some(field) = field_of(canon) {
                read.fields.insert(field, (at.clone(), v.span()));
            }
            match canon {
                "path" => read.path = Some(self.string(&at, v)?),
                "url" => read.url = Some(self.string(&at, v)?),
                "readonly" => read.readonly = Some(self.boolean(&at, v)?),
                "immutable" => read.immutable = Some(self.boolean(&at, v)?),
                "group_commit" => read.group_commit = Some(self.boolean(&at, v)?),
                "cache" => read.cache = Some(self.boolean(&at, v)?),
                "pool_size" => read.pool_size = Some(self.pool_size(&at, v)?),
                "timeout" => read.timeout = Some(self.timeout(&at, v)?),
                "durability" => {
                    let choices = [("normal", Durability::Normal), ("full", Durability::Full)];
                    read.durability = Some(self.choice(&at, v, choices)?);
                }
                // `known_entries` returns only the keys matched above.
                _ => {}
            }
        }
        let location = self.location(name, key, value, &mut read)?;
        let mut source = SourceConfig::at(name, location).readonly(read.readonly.unwrap_or(false));
        if let Some(pool_size) = read.pool_size {
            source = source.pool_size(pool_size);
        }
        if let Some(timeout) = read.timeout {
            source = source.timeout(timeout);
        }
        Ok((source, read.fields))
    }

    /// Where a source is: a file (`path`, with a file's settings) or a server (`url`, without
    /// them), never both and never neither.
    fn location(
        &self,
        name: &str,
        key: &str,
        value: &toml::Spanned<DeValue<'_>>,
        read: &mut SourceKeys<'_>,
    ) -> Result<Location> {
        let refuse = |setting: &str, why: &str| {
            let (at, span) = &read.seen[setting];
            self.error(at, Some(span.clone()), why)
        };
        match (read.path.take(), read.url.take()) {
            (Some(path), None) => Ok(Location::File(
                SqliteFile::new(path)
                    .durability(read.durability.unwrap_or_default())
                    .immutable(read.immutable.unwrap_or(false))
                    .group_commit(read.group_commit.unwrap_or(true))
                    .cache(read.cache.unwrap_or(true)),
            )),
            (None, Some(url)) => {
                if read.seen.contains_key("durability") {
                    return Err(refuse(
                        "durability",
                        "`durability` is for SQLite files; a PostgreSQL server keeps commits as \
                         its own `synchronous_commit` says",
                    ));
                }
                if read.seen.contains_key("cache") {
                    return Err(refuse(
                        "cache",
                        "`cache` is for SQLite files, whose commits a reader sees in shared \
                         memory; a PostgreSQL source reads every call from the server",
                    ));
                }
                if read.seen.contains_key("immutable") {
                    return Err(refuse(
                        "immutable",
                        "`immutable` is for frozen SQLite files; a read-only PostgreSQL source \
                         is `readonly = true`",
                    ));
                }
                Ok(Location::Server(
                    Server::new(url).group_commit(read.group_commit.unwrap_or(true)),
                ))
            }
            (Some(_), Some(_)) => Err(refuse(
                "url",
                "give either `path` (a SQLite file) or `url` (a PostgreSQL server), not both",
            )),
            (None, None) => Err(self.error(
                key,
                Some(value.span()),
                format!(
                    "source `{name}` has no `path`; give its database file (or `url` for a \
                     PostgreSQL server)"
                ),
            )),
        }
    }

    /// A pool size as written; what no `u32` holds is held as 0, which the builder refuses with
    /// the range.
    fn pool_size(&self, at: &str, v: &toml::Spanned<DeValue<'_>>) -> Result<u32> {
        let size = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
            other => return Err(self.expected(at, v, "an integer", other)),
        };
        Ok(size.and_then(|s| u32::try_from(s).ok()).unwrap_or(0))
    }

    /// A timeout in seconds, whole or not. What no duration can be (negative, not a number) is
    /// held as none at all, and what is too long as the longest: the builder refuses both.
    fn timeout(&self, at: &str, v: &toml::Spanned<DeValue<'_>>) -> Result<Duration> {
        let secs = match v.get_ref() {
            DeValue::Integer(i) => {
                i64::from_str_radix(i.as_str(), i.radix()).ok().map(|i| i as f64)
            }
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            other => return Err(self.expected(at, v, "a number of seconds", other)),
        };
        let secs = secs.unwrap_or(0.0);
        Ok(match Duration::try_from_secs_f64(secs) {
            Ok(duration) => duration,
            Err(_) if secs > 0.0 => Duration::MAX,
            Err(_) => Duration::ZERO,
        })
    }

    /// One of two spellings, each standing for a value.
    fn choice<T: Copy>(
        &self,
        at: &str,
        v: &toml::Spanned<DeValue<'_>>,
        choices: [(&str, T); 2],
    ) -> Result<T> {
        let written = self.string(at, v)?;
        match choices.iter().find(|(spelling, _)| *spelling == written) {
            Some((_, value)) => Ok(*value),
            None => Err(self.error(
                at,
                Some(v.span()),
                format!("expected {:?} or {:?}, not {written:?}", choices[0].0, choices[1].0),
            )),
        }
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

    /// The table `value` is, or the refusal `rule`, saying what it is instead.
    fn table<'v, 'i>(
        &self,
        key: &str,
        value: &'v toml::Spanned<DeValue<'i>>,
        rule: &str,
    ) -> Result<&'v DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Ok(table),
            other => {
                Err(self.error(key, Some(value.span()), format!("{rule}, not {}", kind(other))))
            }
        }
    }

    fn boolean(&self, key: &str, value: &toml::Spanned<DeValue<'_>>) -> Result<bool> {
        match value.get_ref() {
            DeValue::Boolean(b) => Ok(*b),
            other => Err(self.expected(key, value, "true or false", other)),
        }
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

//! Reading a configuration from TOML text, with the span of every key, so that each refusal names
//! the key and its line.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use rustc_hash::FxHashMap;

use super::keys::{SOURCE_KEYS, TOP_KEYS, canonical, closest, respell};
use super::rules::{Field, Names, Place, Written, canonical_key};
use super::{
    Config, ConfigBuilder, Durability, Location, OnSourceError, Server, SourceConfig, SqliteFile,
};
use crate::error::{Error, Result};

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
                "on_source_error" => {
                    builder = builder.on_source_error(match self.string(&path, value)?.as_str() {
                        "skip" => OnSourceError::Skip,
                        "fail" => OnSourceError::Fail,
                        other => {
                            return Err(self.error(
                                &path,
                                Some(value.span()),
                                format!("expected \"skip\" or \"fail\", not {other:?}"),
                            ));
                        }
                    });
                }
                "sources" => {
                    written.sources = Some((path.clone(), key.span()));
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
                        let (source, fields) = self.parse_source(name.get_ref(), &key, source)?;
                        builder = builder.source(source);
                        written.source.push(((key, name.span()), fields));
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
                        builder = builder.map_chat(id, self.string(&key, source)?);
                        written.mapping.push((key, chat.span()));
                    }
                }
                // `known_entries` returns only the keys matched above.
                _ => {}
            }
        }
        builder.check(&written)
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
    ) -> Result<(SourceConfig, FxHashMap<Field, Written>)> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.error(
                key,
                Some(value.span()),
                format!("a source must be a table with a `path`, not {}", kind(value.get_ref())),
            ));
        };
        let prefix = format!("{key}.");
        let entries =
            self.known_entries(table, &prefix, SOURCE_KEYS, &format!("source `{name}`"))?;
        let mut fields: FxHashMap<Field, Written> = FxHashMap::default();
        let mut seen: BTreeMap<&str, Written> = BTreeMap::new();
        let (mut path, mut url, mut readonly, mut pool_size, mut timeout) =
            (None, None, None, None, None);
        let (mut durability, mut immutable) = (None, None);
        for (canon, (k, v)) in entries {
            let at = format!("{key}.{}", k.get_ref());
            seen.insert(canon, (at.clone(), v.span()));
            if let Some(field) = field_of(canon) {
                fields.insert(field, (at.clone(), v.span()));
            }
            match canon {
                "path" => path = Some(self.string(&at, v)?),
                "url" => url = Some(self.string(&at, v)?),
                "readonly" => readonly = Some(self.boolean(&at, v)?),
                "immutable" => immutable = Some(self.boolean(&at, v)?),
                "pool_size" => {
                    let size = match v.get_ref() {
                        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
                        other => return Err(self.expected(&at, v, "an integer", other)),
                    };
                    // Out of range either way: the builder refuses 0 with the range.
                    pool_size = Some(size.and_then(|s| u32::try_from(s).ok()).unwrap_or(0));
                }
                "timeout" => {
                    let secs = match v.get_ref() {
                        DeValue::Integer(i) => {
                            i64::from_str_radix(i.as_str(), i.radix()).ok().map(|i| i as f64)
                        }
                        DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
                        other => return Err(self.expected(&at, v, "a number of seconds", other)),
                    };
                    // What no duration can be (negative, not a number) is held as none at all,
                    // and what is too long as the longest: the builder refuses both.
                    let secs = secs.unwrap_or(0.0);
                    timeout = Some(match Duration::try_from_secs_f64(secs) {
                        Ok(duration) => duration,
                        Err(_) if secs > 0.0 => Duration::MAX,
                        Err(_) => Duration::ZERO,
                    });
                }
                "durability" => {
                    durability = Some(match self.string(&at, v)?.as_str() {
                        "normal" => Durability::Normal,
                        "full" => Durability::Full,
                        other => {
                            return Err(self.error(
                                &at,
                                Some(v.span()),
                                format!("expected \"normal\" or \"full\", not {other:?}"),
                            ));
                        }
                    })
                }
                // `known_entries` returns only the keys matched above.
                _ => {}
            }
        }
        let location = match (path, url) {
            (Some(path), None) => {
                let mut file = SqliteFile::new(path);
                file = file.durability(durability.unwrap_or_default());
                file = file.immutable(immutable.unwrap_or(false));
                Location::File(file)
            }
            (None, Some(url)) => {
                for (setting, why) in [
                    (
                        "durability",
                        "`durability` is for SQLite files; a PostgreSQL server keeps commits as \
                         its own `synchronous_commit` says",
                    ),
                    (
                        "immutable",
                        "`immutable` is for frozen SQLite files; a read-only PostgreSQL source \
                         is `readonly = true`",
                    ),
                ] {
                    if let Some((at, span)) = seen.get(setting) {
                        return Err(self.error(at, Some(span.clone()), why));
                    }
                }
                Location::Server(Server::new(url))
            }
            (Some(_), Some(_)) => {
                let (at, span) = &seen["url"];
                return Err(self.error(
                    at,
                    Some(span.clone()),
                    "give either `path` (a SQLite file) or `url` (a PostgreSQL server), not both",
                ));
            }
            (None, None) => {
                return Err(self.error(
                    key,
                    Some(value.span()),
                    format!(
                        "source `{name}` has no `path`; give its database file (or `url` for a \
                         PostgreSQL server)"
                    ),
                ));
            }
        };
        let mut source = SourceConfig::at(name, location).readonly(readonly.unwrap_or(false));
        if let Some(pool_size) = pool_size {
            source = source.pool_size(pool_size);
        }
        if let Some(timeout) = timeout {
            source = source.timeout(timeout);
        }
        Ok((source, fields))
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

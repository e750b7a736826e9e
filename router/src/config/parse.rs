//! Reading a configuration from TOML text, with the span of every key, so that each refusal names
//! the key and its line.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use super::keys::{SOURCE_KEYS, TOP_KEYS, canonical, closest, respell};
use super::{
    Config, DEFAULT_SOURCE_NAME, Durability, MAX_TIMEOUT_SECS, NO_SOURCES, OnSourceError,
    SourceConfig, quoted, unknown_default, unknown_mapped,
};
use crate::error::{Error, Result};

pub(crate) struct Parser<'a> {
    pub(crate) text: &'a str,
    pub(crate) file: Option<&'a Path>,
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
        let mut default = None;
        let mut sources = Vec::new();
        let mut mapping: Vec<(i64, String, String, Range<usize>)> = Vec::new();
        // Where each chat was first mapped, for the refusal of a second entry: a lookup per entry
        // keeps a mapping of a million chats linear to load.
        let mut first_entry: rustc_hash::FxHashMap<i64, usize> = rustc_hash::FxHashMap::default();
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
                        if let Some(first) = first_entry.get(&id) {
                            return Err(self.error(
                                &key,
                                Some(chat.span()),
                                format!(
                                    "chat {id} is mapped twice (first as `{}`)",
                                    mapping[*first].2
                                ),
                            ));
                        }
                        first_entry.insert(id, mapping.len());
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

//! Every rule a configuration must follow, in one place: [`ConfigBuilder::check`]. A builder
//! filled in code and one filled by a file's parser are checked alike; only the naming of what is
//! at fault differs ([`Names`]): the builder's own spelling of keys, or the keys as the file
//! wrote them, with their lines.

use std::collections::BTreeMap;
use std::ops::Range;

use rustc_hash::FxHashMap;

use super::redact;
use super::{
    Config, ConfigBuilder, DEFAULT_SOURCE_NAME, Location, MAX_POOL_SIZE, MAX_TIMEOUT_SECS,
    SourceConfig, SqliteFile,
};
use crate::backend::Kind;
use crate::error::{Error, Result};

/// What a refusal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Place {
    /// The list of sources as a whole.
    Sources,
    /// The default source.
    Default,
    /// The source at this index, as a whole.
    Source(usize),
    /// A setting of the source at this index.
    Field(usize, Field),
    /// The chat mapping's entry at this index.
    Mapping(usize),
}

/// A setting of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Field {
    Path,
    Url,
    PoolSize,
    Timeout,
    Immutable,
}

impl Field {
    /// The key, as the builder spells it (the Python bot's spelling).
    pub(crate) fn key(self) -> &'static str {
        match self {
            Field::Path => "path",
            Field::Url => "url",
            Field::PoolSize => "pool-size",
            Field::Timeout => "timeout",
            Field::Immutable => "immutable",
        }
    }
}

/// How refusals name what is at fault.
pub(crate) trait Names {
    /// The error for a refusal of `place` saying `message`.
    fn refuse(&self, builder: &ConfigBuilder, place: Place, message: String) -> Error;

    /// The key written for `place`, for messages that point at another entry.
    fn key(&self, builder: &ConfigBuilder, place: Place) -> String;
}

/// The builder's own spelling: `sources.a.pool-size`, `chat_mapping.-1001`, no line.
pub(crate) struct Canonical;

impl Names for Canonical {
    fn refuse(&self, builder: &ConfigBuilder, place: Place, message: String) -> Error {
        Error::config(self.key(builder, place), message)
    }

    fn key(&self, builder: &ConfigBuilder, place: Place) -> String {
        canonical_key(builder, place)
    }
}

/// The key of `place` in the builder's spelling.
pub(crate) fn canonical_key(builder: &ConfigBuilder, place: Place) -> String {
    let name = |i: usize| builder.sources.get(i).map_or("", |s| s.name.as_str());
    match place {
        Place::Sources => "sources".to_owned(),
        Place::Default => "default".to_owned(),
        Place::Source(i) => format!("sources.{}", name(i)),
        Place::Field(i, field) => format!("sources.{}.{}", name(i), field.key()),
        Place::Mapping(i) => {
            format!("chat_mapping.{}", builder.chat_mapping.get(i).map_or(0, |m| m.0))
        }
    }
}

impl ConfigBuilder {
    /// Checks every rule, naming what is at fault with `names`.
    pub(crate) fn check(self, names: &dyn Names) -> Result<Config> {
        let refuse = |place, message: String| Err(names.refuse(&self, place, message));
        let mut index: FxHashMap<&str, usize> = FxHashMap::default();
        for (i, source) in self.sources.iter().enumerate() {
            if source.name.is_empty() {
                return refuse(Place::Source(i), "a source has an empty name".into());
            }
            if index.insert(&source.name, i).is_some() {
                return refuse(Place::Source(i), "this source is configured twice".into());
            }
            if let Some((field, message)) = source_fault(source) {
                return refuse(Place::Field(i, field), message);
            }
        }
        let names_list: Vec<String> = self.sources.iter().map(|s| s.name.clone()).collect();
        if self.sources.is_empty() {
            return refuse(Place::Sources, NO_SOURCES.into());
        }
        let default = match &self.default {
            Some(name) if index.contains_key(name.as_str()) => name.clone(),
            Some(name) => return refuse(Place::Default, unknown_default(name, &names_list)),
            None if index.contains_key(DEFAULT_SOURCE_NAME) => DEFAULT_SOURCE_NAME.to_owned(),
            None => {
                return refuse(
                    Place::Default,
                    format!(
                        "the default source `{DEFAULT_SOURCE_NAME}` is not among the sources \
                         ({list}): `default` is not set and no source is named `default`; set \
                         `default` to one of {list}",
                        list = quoted(&names_list)
                    ),
                );
            }
        };
        let mut chat_mapping = BTreeMap::new();
        let mut first: FxHashMap<i64, usize> = FxHashMap::default();
        for (i, (chat, source)) in self.chat_mapping.iter().enumerate() {
            if !index.contains_key(source.as_str()) {
                return refuse(Place::Mapping(i), unknown_mapped(source, &names_list));
            }
            if let Some(earlier) = first.insert(*chat, i) {
                let earlier = names.key(&self, Place::Mapping(earlier));
                return refuse(
                    Place::Mapping(i),
                    format!("chat {chat} is mapped twice (first as `{earlier}`)"),
                );
            }
            chat_mapping.insert(*chat, source.clone());
        }
        let mut sources = self.sources.clone();
        super::attach(&mut sources, self.migrations, |source, message| {
            let i = self.sources.iter().position(|s| s.name == source.name).unwrap_or(0);
            names.refuse(&self, Place::Field(i, Field::Url), message)
        })?;
        Ok(Config {
            default,
            sources,
            chat_mapping,
            on_source_error: self.on_source_error,
            watch_mapping: self.watch_mapping,
            file: None,
        })
    }
}

/// What is wrong with one source's settings, if anything: the setting and why.
fn source_fault(source: &SourceConfig) -> Option<(Field, String)> {
    match &source.location {
        Location::File(file) => file_fault(file, source.readonly),
        Location::Server(server) => server_fault(server.url()),
    }
    .or_else(|| pool_fault(source))
}

/// What is wrong with a file's location, if anything.
fn file_fault(file: &SqliteFile, readonly: bool) -> Option<(Field, String)> {
    let path = file.path.as_os_str();
    let message = if path.is_empty() {
        "the path is empty; give the database file".into()
    } else if path.as_encoded_bytes().contains(&0) {
        format!(
            "the path {:?} holds a NUL character, which no file name can hold (the system would \
             open the file named by what comes before it); remove it",
            file.path.display()
        )
    } else if path == ":memory:" {
        "`:memory:` is not supported: every pooled connection would see its own empty database; \
         use a file in a temporary folder"
            .into()
    } else if file.immutable && !readonly {
        return Some((
            Field::Immutable,
            "only a read-only source can be immutable; add `readonly = true`, or remove \
             `immutable` if the bot writes to this file"
                .into(),
        ));
    } else {
        return None;
    };
    Some((Field::Path, message))
}

/// What is wrong with a server's URL, if anything.
fn server_fault(url: &str) -> Option<(Field, String)> {
    let message = if url.contains('\0') {
        "the URL holds a NUL character, which no connection string can hold; remove it".into()
    } else {
        match Kind::of_url(url) {
            None => format!(
                "a source's `url` is a PostgreSQL server, `postgres://user:password@host/database`, \
                 not {:?}; a SQLite file goes in `path`",
                redact(url)
            ),
            Some(kind) if !kind.is_built() => format!(
                "{kind} sources need multisource built with its `{feature}` feature \
                 (`multisource = {{ features = [\"{feature}\"] }}`)",
                feature = kind.as_str(),
            ),
            Some(_) => return None,
        }
    };
    Some((Field::Url, message))
}

/// What is wrong with a source's pool size or timeout, if anything.
fn pool_fault(source: &SourceConfig) -> Option<(Field, String)> {
    let min = if source.readonly { 1 } else { 2 };
    if source.pool_size < min || source.pool_size > MAX_POOL_SIZE {
        let why = match source.readonly {
            true => "",
            false => {
                " (a writable source needs one connection for writes and at least one for reads)"
            }
        };
        return Some((
            Field::PoolSize,
            format!(
                "pool-size must be between {min} and {MAX_POOL_SIZE}{why}, not {}",
                source.pool_size
            ),
        ));
    }
    let secs = source.timeout.as_secs_f64();
    if secs <= 0.0 || secs > MAX_TIMEOUT_SECS {
        return Some((
            Field::Timeout,
            format!(
                "timeout must be more than 0 and at most {MAX_TIMEOUT_SECS} seconds, not {secs}"
            ),
        ));
    }
    None
}

/// The error of a configuration without sources.
pub(crate) const NO_SOURCES: &str =
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

/// Where a file wrote what a refusal is about: its key as written, and its span.
pub(crate) type Written = (String, Range<usize>);

//! The chat mapping in force, and the configuration it came with: replaced whole when the
//! configuration is read again ([`crate::Router::reload_mapping`], or the watch over the file of
//! `watch-mapping`), while calls go on.
//!
//! A call resolves its chat under the mapping's read lock and a reload swaps it under the write
//! lock, so every call sees one mapping, the old or the new. The sources never change: a
//! configuration that changes them, or the default source, is refused, and the mapping in force
//! stays.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::config::Config;
use crate::error::{Error, Result};

/// The chat mapping in force.
pub(crate) struct Live {
    by_name: FxHashMap<Box<str>, usize>,
    mapping: RwLock<FxHashMap<i64, Mapped>>,
    config: RwLock<Arc<Config>>,
}

/// Where the mapping in force sends a chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mapped {
    /// The source's index.
    pub(crate) index: usize,
    /// The router learned it from the source the chat left (see `moves.rs`), not from the
    /// configuration; a reload of the mapping forgets it, and the next call learns it again.
    pub(crate) moved: bool,
}

impl Live {
    /// The mapping of `config`, whose sources are at the indexes of `by_name`.
    pub(crate) fn new(config: Config, by_name: FxHashMap<Box<str>, usize>) -> Live {
        let mut live =
            Live { by_name, mapping: RwLock::default(), config: RwLock::new(Arc::new(config)) };
        let mapping = live.indexes(&live.config());
        *live.mapping.get_mut().unwrap_or_else(|e| e.into_inner()) = mapping;
        live
    }

    /// The index of the source named `name`, if there is one.
    #[inline]
    pub(crate) fn source(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    /// The index of a source a validated configuration names (which is always configured).
    pub(crate) fn index(&self, name: &str) -> usize {
        self.source(name).unwrap_or(0)
    }

    /// Where the mapping in force sends the chat, if it is mapped.
    #[inline]
    pub(crate) fn chat(&self, chat: i64) -> Option<Mapped> {
        self.mapping.read().unwrap_or_else(|e| e.into_inner()).get(&chat).copied()
    }

    /// Sends the chat's later calls to the source at `index`, where it moved.
    pub(crate) fn learn(&self, chat: i64, index: usize) {
        let mapped = Mapped { index, moved: true };
        self.mapping.write().unwrap_or_else(|e| e.into_inner()).insert(chat, mapped);
    }

    /// The configuration with the mapping in force.
    pub(crate) fn config(&self) -> Arc<Config> {
        self.config.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reads the configuration file again and puts its mapping in force.
    pub(crate) fn reload(&self) -> Result<usize> {
        let current = self.config();
        let Some(file) = current.file() else {
            return Err(Error::config(
                "chat_mapping",
                "the database was opened from a configuration built in code, with no file to \
                 read again; give the new configuration to `apply_mapping`",
            ));
        };
        self.apply(Config::from_file(file)?)
    }

    /// The chat mapping of `config` as indexes of its sources.
    fn indexes(&self, config: &Config) -> FxHashMap<i64, Mapped> {
        let mapped = |name: &str| Mapped { index: self.index(name), moved: false };
        config.chat_mapping().iter().map(|(chat, name)| (*chat, mapped(name))).collect()
    }

    /// Puts the mapping of `new` in force, when it has the running sources and default source.
    pub(crate) fn apply(&self, new: Config) -> Result<usize> {
        let mut config = self.config.write().unwrap_or_else(|e| e.into_inner());
        let new = new.with_schema(config.schema());
        if let Some(why) = differs(&config, &new) {
            return Err(Error::Config {
                key: "sources".into(),
                line: None,
                file: new.file().map(Path::to_path_buf),
                message: format!(
                    "{why}; changing the sources or the default source needs a restart of the \
                     bot. The chat mapping in force was kept"
                ),
            });
        }
        let chats: FxHashSet<&i64> =
            config.chat_mapping().keys().chain(new.chat_mapping().keys()).collect();
        let changed = chats
            .into_iter()
            .filter(|chat| config.source_for_chat(**chat) != new.source_for_chat(**chat))
            .count();
        let mapping = self.indexes(&new);
        *self.mapping.write().unwrap_or_else(|e| e.into_inner()) = mapping;
        *config = Arc::new(new);
        tracing::info!(target: "multisource", changed, "chat mapping reloaded");
        Ok(changed)
    }
}

/// How `new` differs from `running` beyond its chat mapping, in words; `None` when it does not.
fn differs(running: &Config, new: &Config) -> Option<String> {
    let names = |c: &Config| c.sources().iter().map(|s| s.name().to_owned()).collect::<Vec<_>>();
    if names(running) != names(new) {
        return Some(format!(
            "the file names the sources {:?} where the database runs {:?}",
            names(new),
            names(running)
        ));
    }
    if let Some((source, _)) = running.sources().iter().zip(new.sources()).find(|(a, b)| a != b) {
        return Some(format!("source `{}` is configured differently", source.name()));
    }
    if running.default_source() != new.default_source() {
        return Some(format!(
            "the default source is `{}` where the database runs `{}`",
            new.default_source(),
            running.default_source()
        ));
    }
    if running.on_source_error() != new.on_source_error() {
        return Some("`on-source-error` changed".to_owned());
    }
    if running.is_watch_mapping() != new.is_watch_mapping() {
        return Some("`watch-mapping` changed".to_owned());
    }
    None
}

/// The watch over the configuration file of `watch-mapping`, ticked by the maintenance thread.
pub(crate) struct FileWatch {
    live: Arc<Live>,
    path: PathBuf,
    /// The file as last looked at.
    seen: Option<Stamp>,
}

/// What tells that a file changed: its size, modification time and inode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp { len: meta.len(), modified: meta.modified().ok(), inode })
}

impl FileWatch {
    /// The watch of `live`'s configuration file, when it has one and `watch-mapping` is on.
    pub(crate) fn of(live: &Arc<Live>) -> Option<FileWatch> {
        let config = live.config();
        let path = config.file().filter(|_| config.is_watch_mapping())?.to_path_buf();
        let seen = stamp(&path);
        Some(FileWatch { live: live.clone(), path, seen })
    }

    /// Looks at the file; when it changed since the last look, reads it again and puts its
    /// mapping in force, or warns why not.
    pub(crate) fn tick(&mut self) {
        let now = stamp(&self.path);
        if now == self.seen {
            return;
        }
        self.seen = now;
        if self.seen.is_none() {
            // Gone, or being replaced: the next look sees the new file.
            return;
        }
        if let Err(error) = self.live.reload() {
            tracing::warn!(
                target: "multisource",
                file = %self.path.display(),
                %error,
                "the configuration file changed but its chat mapping was not put in force",
            );
        }
    }
}

//! The router: resolves every call to one source by the three tiers, and runs it there.

use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::backend::Conn;
use crate::batch::Written;
use crate::cache::Cache;
use crate::config::{Config, OnSourceError};
use crate::error::{Error, Result};
use crate::helpers::{Helpers, PartFn};
use crate::live::{FileWatch, Live};
use crate::maintenance::Maintenance;
use crate::preflight::Preflight;
use crate::route::{Access, Route, Tier};
use crate::source::{ChatRead, Source, SourceInfo};
use crate::sqlite::watch::Token;
use crate::stats::Stats;

/// The most helper threads a router starts for reads of every source.
const MAX_HELPERS: usize = 8;

/// A source's part of a fan-out goes to a helper thread when its recent parts took longer than
/// this: below it, waking a helper and handing the result back costs more than the read saves
/// (10 to 30 µs on the 2-core machines measured in BENCHMARKS.md).
const OFFLOAD_ABOVE: Duration = Duration::from_micros(50);

/// Every source of a configuration, opened, and the routing between them.
///
/// Routing never touches a database: it is two hash lookups at most. Reads run on a read-only
/// connection of the resolved source; writes run in a `BEGIN IMMEDIATE` transaction on its writer,
/// and are refused before any connection is taken when the source is read-only.
pub struct Router {
    // Declared first so that its thread stops, and closes its connections, before the sources.
    maintenance: Maintenance,
    sources: Vec<Source>,
    /// The sources by name, the chat mapping in force, and the configuration with it.
    live: Arc<Live>,
    default: usize,
    on_source_error: OnSourceError,
    // Reads of every source run their parts on these threads too.
    helpers: Helpers,
    // Last: once every connection and thread is gone, what they freed goes back to the system.
    _trim: crate::memory::Trim,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("config", &self.config()).finish_non_exhaustive()
    }
}

impl Router {
    /// Opens every source of `config`, in order: writable ones are created if missing and migrated,
    /// read-only ones must exist and have the expected schema. Fails on the first source that
    /// cannot be opened, naming it; the sources opened before it are closed again.
    pub fn open(config: Config) -> Result<Router> {
        // What `multisource check` reports: the first error found fails the open, before any
        // source is opened.
        Preflight::run(&config).into_result()?;
        if config.is_watch_mapping() && config.file().is_none() {
            return Err(Error::config(
                "watch_mapping",
                "`watch-mapping` watches the configuration file the database was opened from; \
                 this configuration was built in code: open it with `from_config_file`, or call \
                 `apply_mapping` with each new configuration",
            ));
        }
        let mut sources: Vec<Source> = Vec::with_capacity(config.sources().len());
        let mut targets = Vec::new();
        for source_config in config.sources() {
            let (mut source, checkpoint) = Source::open(source_config)?;
            if let Some(target) = checkpoint {
                source.checkpoint = Some(targets.len());
                targets.push(target);
            }
            sources.push(source);
        }
        let by_name: FxHashMap<Box<str>, usize> =
            sources.iter().enumerate().map(|(i, s)| (s.id.name.clone(), i)).collect();
        let on_source_error = config.on_source_error();
        let default_name = config.default_source().to_owned();
        let live = Arc::new(Live::new(config, by_name));
        let default = live.index(&default_name);
        let helpers = Helpers::new(sources.len().saturating_sub(1).min(MAX_HELPERS));
        let watched = sources.iter().filter_map(|s| s.pools.health()).collect();
        let maintenance = Maintenance::new(targets, watched, FileWatch::of(&live));
        Ok(Router {
            maintenance,
            helpers,
            live,
            default,
            on_source_error,
            sources,
            _trim: crate::memory::Trim,
        })
    }

    /// The configuration the router was opened with, with the chat mapping in force now (see
    /// [`Router::reload_mapping`]).
    pub fn config(&self) -> Arc<Config> {
        self.live.config()
    }

    /// Reads the configuration file the router was opened from again and puts its chat mapping
    /// in force, at once and whole: a call resolved before sees the old mapping, a call resolved
    /// after the new, none a mix. Returns how many chats go to another source than before.
    ///
    /// The file is checked as at open, with the same errors; a file that no longer loads, or
    /// one whose sources or default source differ from those running, is refused and the
    /// mapping in force stays. Changing the sources needs a restart.
    pub fn reload_mapping(&self) -> Result<usize> {
        self.live.reload()
    }

    /// Puts the chat mapping of `new` in force, as [`Router::reload_mapping`] does with the
    /// file: `new` must have the same sources (names, places and settings) and default source
    /// as the running configuration, or it is refused and the mapping in force stays.
    pub fn apply_mapping(&self, new: Config) -> Result<usize> {
        self.live.apply(new)
    }

    /// What opening each source found and did, in configuration order.
    pub fn sources(&self) -> impl ExactSizeIterator<Item = &SourceInfo> {
        self.sources.iter().map(|s| &s.info)
    }

    /// Where a call for `chat_id` (or a global call, with `None`) naming `source` would go, and
    /// why, without touching a database. Writes never name a source: pass `None` to see where a
    /// write would go, and check [`Route::is_readonly`]. A chat that left the source the three
    /// tiers choose, as far as the router knows from that source (it reads the source's record
    /// of moves when it opens it, and again as calls find it changed), goes where it went, with
    /// [`Tier::Moved`].
    pub fn route(&self, chat_id: Option<i64>, source: Option<&str>) -> Result<Route<'_>> {
        let (mut index, mut tier) = self.resolve(chat_id, source)?;
        if let (Some(chat), true) = (chat_id, tier != Tier::Explicit) {
            let mut visited = 0;
            while let Some(departure) = self.sources[index].moves.left(chat) {
                match self.live.source(&departure.to) {
                    Some(to) if visited < self.sources.len() => (index, tier) = (to, Tier::Moved),
                    _ => break,
                }
                visited += 1;
            }
        }
        let source = &self.sources[index];
        Ok(Route { source: &source.id.name, tier, readonly: source.id.readonly })
    }

    #[inline]
    fn resolve(&self, chat_id: Option<i64>, source: Option<&str>) -> Result<(usize, Tier)> {
        if let Some(name) = source {
            return match self.live.source(name) {
                Some(index) => Ok((index, Tier::Explicit)),
                None => Err(self.unknown_source(name)),
            };
        }
        if let Some(chat) = chat_id
            && let Some(mapped) = self.live.chat(chat)
        {
            let tier = if mapped.moved { Tier::Moved } else { Tier::ChatMapping };
            return Ok((mapped.index, tier));
        }
        Ok((self.default, Tier::Default))
    }

    /// A call for `chat` found that the chat left the source at `from` for `departure`: where
    /// the call goes now, remembered for the chat's later calls. `hops` counts the sources the
    /// call went through; a call that went through as many as there are sources, and is sent on
    /// again, is going round in a circle.
    fn follow(
        &self,
        op: &'static str,
        chat: i64,
        from: usize,
        departure: crate::moves::Departure,
        hops: &mut usize,
    ) -> Result<(usize, Tier)> {
        let origin = &self.sources[from];
        origin.counters.moved_away();
        *hops += 1;
        let refuse = |circle| Error::MoveNotFollowed {
            source_name: origin.id.name.to_string(),
            chat,
            to: departure.to.to_string(),
            circle,
        };
        let Some(to) = self.live.source(&departure.to) else {
            origin.counters.error();
            return Err(refuse(false));
        };
        if *hops > self.sources.len() {
            origin.counters.error();
            return Err(refuse(true));
        }
        self.live.learn(chat, to);
        tracing::info!(
            target: "multisource",
            op,
            chat,
            from = &*origin.id.name,
            to = &*self.sources[to].id.name,
            recorded = departure.seq,
            "re-routed: the chat moved to another source, as the source it left records",
        );
        Ok((to, Tier::Moved))
    }

    fn unknown_source(&self, name: &str) -> Error {
        Error::UnknownSource {
            name: name.to_owned(),
            known: self.sources.iter().map(|s| s.id.name.to_string()).collect(),
        }
    }

    /// Runs `query` on a read-only connection of the source that `chat_id` and `source` resolve
    /// to. `op` names the call in trace events. A read routed by its chat (not by an explicit
    /// source) goes where the chat moved, if it left that source; `query` may then run a second
    /// time, there, when the chat moved while it ran.
    pub fn call_read<T>(
        &self,
        op: &'static str,
        chat_id: Option<i64>,
        source: Option<&str>,
        mut query: impl FnMut(Conn<'_>) -> QueryResult<T>,
    ) -> Result<T> {
        let (index, tier) = self.resolve(chat_id, source)?;
        self.read(op, chat_to_follow(chat_id, tier), index, tier, &mut Uncached, &mut query)
    }

    /// [`Router::call_read`] for a read whose answer the source may keep in its cache (a
    /// SQLite file with `cache` on): answered from memory while nothing has committed to the
    /// file since the same call (`op` and the key `key` makes of its arguments, made only for a
    /// source that caches) last read it. The answer must be what the query alone makes of the
    /// rows it reads, for its arguments: nothing of the clock, of other sources or of the caller.
    pub fn call_read_cached<K, T>(
        &self,
        op: &'static str,
        chat_id: Option<i64>,
        source: Option<&str>,
        key: impl FnOnce() -> K,
        mut query: impl FnMut(Conn<'_>) -> QueryResult<T>,
    ) -> Result<T>
    where
        K: Hash + Eq + Send + Sync + 'static,
        T: Clone + Send + Sync + 'static,
    {
        let (index, tier) = self.resolve(chat_id, source)?;
        let mut cached = Cached { op, make: Some(key), key: None };
        self.read(op, chat_to_follow(chat_id, tier), index, tier, &mut cached, &mut query)
    }

    /// The answer `cache` (`at`'s) keeps for the call, if it has one still true at `token`:
    /// the call is counted and traced as a read of `at`.
    fn cached<T>(
        &self,
        op: &'static str,
        at: &Source,
        tier: Tier,
        cache: &Cache,
        token: Option<Token>,
        cached: &mut impl Keep<T>,
    ) -> Option<Result<T>> {
        let answer = cached.look(cache, token)?;
        at.counters.read(tier);
        trace(op, at, tier, Access::Read);
        // A file found removed or damaged fails the call, as a read of it would.
        if let Err(error) = at.pools.check(&at.id) {
            at.counters.error();
            return Some(Err(error));
        }
        Some(Ok(answer))
    }

    /// A read from the source at `index`; routed by a chat (`follow`), it follows the chat
    /// where it moved. Answered from the cache of the source it reads, when `cached` can be.
    fn read<T>(
        &self,
        op: &'static str,
        follow: Option<i64>,
        mut index: usize,
        mut tier: Tier,
        cached: &mut impl Keep<T>,
        query: &mut impl FnMut(Conn<'_>) -> QueryResult<T>,
    ) -> Result<T> {
        let mut hops = 0;
        loop {
            let at = &self.sources[index];
            let cache = at.pools.cache().filter(|_| cached.caches());
            // Taken before the look: an answer kept under it is at least as new as it.
            let token = cache.and_then(|_| at.pools.token());
            if let Some(cache) = cache
                && let Some(answer) = self.cached(op, at, tier, cache, token, cached)
            {
                return answer;
            }
            match at.read(follow, query) {
                Ok(ChatRead::Done(answer)) => {
                    at.counters.read(tier);
                    trace(op, at, tier, Access::Read);
                    if let Some(cache) = cache {
                        cached.keep(cache, &answer, token);
                    }
                    return Ok(answer);
                }
                Ok(ChatRead::Left(departure)) => {
                    // Only a read that follows a chat finds it gone.
                    let chat = follow.unwrap_or_default();
                    (index, tier) = self.follow(op, chat, index, departure, &mut hops)?;
                }
                Ok(ChatRead::Again) => hops += 1,
                Err(error) => {
                    at.counters.read(tier);
                    trace(op, at, tier, Access::Read);
                    at.counters.error();
                    at.noticed(&error);
                    return Err(error);
                }
            }
        }
    }

    /// Runs `query` in a transaction on a writer of the source `chat_id` resolves to (the default
    /// source for `None`): `BEGIN IMMEDIATE` on SQLite, `BEGIN` on PostgreSQL. The transaction
    /// commits when `query` returns `Ok` and rolls back otherwise. A read-only target is refused
    /// before any connection is taken. `op` names the call in trace events.
    ///
    /// A write that arrives while another runs joins a batch: one transaction, the call in a
    /// savepoint of its own, answered after the batch's commit. The thread leading the batch may
    /// run `query`, which is why it must be `Send`. A write routed by a chat that left the source
    /// (as the source records it, read in the write's own transaction) does not run there: it
    /// goes where the chat went.
    pub fn call_write<T: Send>(
        &self,
        op: &'static str,
        chat_id: Option<i64>,
        query: impl FnOnce(Conn<'_>) -> QueryResult<T> + Send,
    ) -> Result<T> {
        self.routed_write(op, chat_id, query, |source, query| source.write(chat_id, query))
    }

    /// [`Router::call_write`] for a query that is not `Send` (a closure of the bot's, behind
    /// `Database::write`): it runs on this thread, in a batch of its own lead.
    pub fn call_write_here<T>(
        &self,
        op: &'static str,
        chat_id: Option<i64>,
        query: impl FnOnce(Conn<'_>) -> QueryResult<T>,
    ) -> Result<T> {
        self.routed_write(op, chat_id, query, |source, query| source.write_here(chat_id, query))
    }

    fn routed_write<T, F>(
        &self,
        op: &'static str,
        chat_id: Option<i64>,
        mut query: F,
        write: impl Fn(&Source, F) -> Written<T, F>,
    ) -> Result<T> {
        let (mut index, mut tier) = self.resolve(chat_id, None)?;
        let mut hops = 0;
        loop {
            let source = &self.sources[index];
            let result = match write(source, query) {
                Written::Done(result) => result,
                Written::Moved { departure, query: unrun } => {
                    let chat = chat_id.unwrap_or_default();
                    (index, tier) = self.follow(op, chat, index, departure, &mut hops)?;
                    query = unrun;
                    continue;
                }
            };
            source.counters.write(tier);
            trace(op, source, tier, Access::Write);
            match (&result, source.checkpoint) {
                (Err(error), _) => {
                    source.counters.error();
                    source.noticed(error);
                }
                (Ok(_), Some(target)) => self.maintenance.wrote(target),
                (Ok(_), None) => {}
            }
            return result;
        }
    }

    /// Runs `query` on every source in configuration order and merges the rows, keeping the first
    /// row of each `key` (the first source wins); with `Some(source)`, on that source alone. The
    /// sources run concurrently; the order of the result does not depend on timing. A failing
    /// source is skipped (with a warning, counted) or fails the call, as `on_source_error` says.
    /// `op` names the call in trace events.
    pub fn call_fan_out<T, K>(
        &self,
        op: &'static str,
        source: Option<&str>,
        key: impl Fn(&T) -> K,
        query: impl Fn(Conn<'_>) -> QueryResult<Vec<T>> + Sync,
    ) -> Result<Vec<T>>
    where
        T: Send,
        K: Hash + Eq,
    {
        if let Some(name) = source {
            let (index, tier) = self.resolve(None, Some(name))?;
            return self.read(op, None, index, tier, &mut Uncached, &mut &query);
        }
        let visit = |source: &Source| -> Result<Vec<T>> {
            source.counters.fan_out_read();
            let started = Instant::now();
            let result = source.reader().and_then(|mut leased| leased.read(&source.id, &query));
            source.counters.fan_out_took(started.elapsed());
            if let Err(error) = &result {
                source.counters.error();
                source.noticed(error);
            }
            result
        };
        tracing::debug!(target: "multisource", op, sources = self.sources.len(), "fan-out");
        // The sources run in parallel when helpers are free; results keep configuration order.
        let slots: Vec<std::sync::Mutex<Option<Result<Vec<T>>>>> =
            self.sources.iter().map(|_| std::sync::Mutex::new(None)).collect();
        let parts: Vec<_> = (0..self.sources.len())
            .map(|i| {
                let (slots, visit, sources) = (&slots, &visit, &self.sources);
                move || {
                    let result = visit(&sources[i]);
                    *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                }
            })
            .collect();
        // Slow sources go to helpers, but for the first, which stays here; the rest stays here too.
        let (mut inline, mut offered): (Vec<PartFn<'_>>, Vec<PartFn<'_>>) =
            (Vec::new(), Vec::new());
        let mut kept_a_slow_one = false;
        for (part, source) in parts.iter().zip(&self.sources) {
            let slow = source.counters.fan_out_cost() > OFFLOAD_ABOVE;
            match slow && std::mem::replace(&mut kept_a_slow_one, true) {
                true => offered.push(part),
                false => inline.push(part),
            }
        }
        self.helpers.run(&inline, &offered);
        let results = slots.into_iter().map(|slot| {
            let result = slot.into_inner().unwrap_or_else(|e| e.into_inner());
            result.unwrap_or_else(|| unreachable!("`Helpers::run` runs every part once"))
        });
        let mut seen = FxHashSet::default();
        let mut rows = Vec::new();
        for (result, source) in results.zip(&self.sources) {
            match result {
                Ok(found) => rows.extend(found.into_iter().filter(|row| seen.insert(key(row)))),
                Err(error) => match self.on_source_error {
                    OnSourceError::Fail => return Err(error),
                    OnSourceError::Skip => {
                        source.counters.fan_out_failure();
                        tracing::warn!(
                            target: "multisource",
                            op,
                            source = &*source.id.name,
                            error = %error,
                            "fan-out read skipped a failing source",
                        );
                    }
                },
            }
        }
        Ok(rows)
    }

    /// The counters of every source, in configuration order.
    pub fn stats(&self) -> Stats {
        let stats = self.sources.iter().map(|source| {
            let background = source
                .checkpoint
                .map_or((false, 0), |t| (self.maintenance.is_open(t), self.maintenance.done(t)));
            source.stats(background)
        });
        Stats { sources: stats.collect() }
    }
}

/// The chat a read routed by `chat` and resolved to `tier` follows where it moves: none for a
/// global read, or one that names its source.
fn chat_to_follow(chat: Option<i64>, tier: Tier) -> Option<i64> {
    chat.filter(|_| tier != Tier::Explicit)
}

/// How a read uses the cache of the source it reaches.
trait Keep<T> {
    /// The read may be answered from a cache.
    fn caches(&self) -> bool;
    /// The answer `cache` keeps for the read, still true at `token`.
    fn look(&mut self, cache: &Cache, token: Option<Token>) -> Option<T>;
    /// Keeps the read's answer in `cache`, read under `token`.
    fn keep(&mut self, cache: &Cache, answer: &T, token: Option<Token>);
}

/// A read that is not cached.
struct Uncached;

impl<T> Keep<T> for Uncached {
    fn caches(&self) -> bool {
        false
    }

    fn look(&mut self, _: &Cache, _: Option<Token>) -> Option<T> {
        None
    }

    fn keep(&mut self, _: &Cache, _: &T, _: Option<Token>) {}
}

/// A cached read: its name, and its key, made of its arguments when a cache first needs it.
struct Cached<K, F> {
    op: &'static str,
    make: Option<F>,
    key: Option<(&'static str, K)>,
}

impl<K, F: FnOnce() -> K> Cached<K, F> {
    fn key(&mut self) -> Option<&(&'static str, K)> {
        if let Some(make) = self.make.take() {
            self.key = Some((self.op, make()));
        }
        self.key.as_ref()
    }
}

impl<K, F, T> Keep<T> for Cached<K, F>
where
    K: Hash + Eq + Send + Sync + 'static,
    F: FnOnce() -> K,
    T: Clone + Send + Sync + 'static,
{
    fn caches(&self) -> bool {
        true
    }

    fn look(&mut self, cache: &Cache, token: Option<Token>) -> Option<T> {
        cache.look(token, self.key()?)
    }

    fn keep(&mut self, cache: &Cache, answer: &T, token: Option<Token>) {
        self.key();
        if let (Some(token), Some(key)) = (token, self.key.take()) {
            cache.keep(key, answer, token);
        }
    }
}

#[inline]
fn trace(op: &'static str, source: &Source, tier: Tier, access: Access) {
    tracing::debug!(
        target: "multisource",
        op,
        source = &*source.id.name,
        tier = tier.as_str(),
        access = access.as_str(),
        "routed",
    );
}

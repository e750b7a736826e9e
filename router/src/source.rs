//! One opened source, whatever its kind: its identity in errors, its counters, what opening it
//! found, and its connections ([`crate::backend::Pools`], of its kind).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use multisource_migrations::SchemaState;

use crate::backend::{self, Changes, Conn, Kind, Leased, Pools, Refused};
use crate::batch::Written;
use crate::config::{Location, SourceConfig};
use crate::error::{Error, InvalidArgument, PoolRole, RefusedBy, Result};
use crate::maintenance;
use crate::moves::{Departure, Entry, Moves};
use crate::route::Access;
use crate::stats::{Counters, SourceStats};

/// What opening a source found and did.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// The source's configuration.
    pub config: SourceConfig,
    /// The database file, as an absolute path (for a server, its URL without the password).
    pub path: PathBuf,
    /// Where the schema stood before the source was opened.
    pub state_at_open: SchemaState,
    /// The migrations applied when it was opened, oldest first (always empty when read-only).
    pub applied: Vec<String>,
    /// The Python schema version adopted when it was opened, if the file came from the Python bot.
    pub adopted_python_version: Option<i64>,
}

impl SourceInfo {
    /// Nothing found or done yet, for the source of `config` at `path`.
    pub(crate) fn new(config: &SourceConfig, path: PathBuf) -> SourceInfo {
        SourceInfo {
            config: config.clone(),
            path,
            state_at_open: SchemaState::Empty,
            applied: Vec::new(),
            adopted_python_version: None,
        }
    }
}

pub(crate) struct Source {
    pub(crate) id: SourceId,
    pub(crate) counters: Arc<Counters>,
    pub(crate) info: SourceInfo,
    /// The source's index among the checkpointer's targets, when it has background checkpoints.
    pub(crate) checkpoint: Option<usize>,
    pub(crate) pools: Pools,
    /// What the source says of the chats that left it.
    pub(crate) moves: Moves,
}

/// What a read found at a source.
pub(crate) enum ChatRead<T> {
    /// The read's answer (for a read routed by its chat: the chat is there).
    Done(T),
    /// The chat left the source, before the read or while it ran.
    Left(Departure),
    /// The chat came back to the source while the read ran: run it again.
    Again,
}

/// What identifies a source in its errors.
pub(crate) struct SourceId {
    pub(crate) name: Box<str>,
    pub(crate) readonly: bool,
    pub(crate) kind: Kind,
    /// The file, made absolute, or a server's URL without its password.
    pub(crate) path: PathBuf,
    pub(crate) timeout: Duration,
    pub(crate) pool_size: u32,
}

/// What a connection knows of why a statement failed, beyond diesel's error.
#[derive(Debug, Default)]
pub(crate) struct Explained {
    /// The statement the connection's guard refused.
    pub(crate) refused: Option<String>,
    /// How long the database waited for a lock before it gave up (`None`: it did not wait).
    pub(crate) busy_wait: Option<Duration>,
}

impl Source {
    /// Opens the source, of its kind; and what the checkpointer works on, if anything.
    pub(crate) fn open(config: &SourceConfig) -> Result<(Source, Option<maintenance::Target>)> {
        let id = SourceId::of(config);
        let opening = backend::open(&id, config)?;
        let source = Source {
            id,
            counters: Arc::default(),
            info: opening.info,
            checkpoint: None,
            pools: opening.pools,
            moves: Moves::new(opening.moves),
        };
        Ok((source, opening.checkpoint))
    }

    /// A connection for reads: read-only (`mode=ro` and `query_only = ON` on SQLite, a read-only
    /// session on PostgreSQL).
    #[inline]
    pub(crate) fn reader(&self) -> Result<Leased<'_>> {
        self.pools.check(&self.id)?;
        self.pools.reader(&self.id, &self.counters)
    }

    /// Runs a write on the source's writer, in one transaction (possibly in a batch led by
    /// another thread, which may run `query` there: see `batch.rs`); refuses before taking
    /// anything when the source is read-only. A write routed by a chat that left the source is
    /// handed back, not run.
    #[inline]
    pub(crate) fn write<T: Send, F>(&self, chat: Option<i64>, query: F) -> Written<T, F>
    where
        F: FnOnce(Conn<'_>) -> diesel::QueryResult<T> + Send,
    {
        if let Err(error) = self.pools.check(&self.id) {
            return Written::Done(Err(error));
        }
        match self.pools.writer(&self.id, &self.counters, &self.moves) {
            Some(writer) => writer.write_sendable(chat, query),
            None => Written::Done(Err(self.refused())),
        }
    }

    /// [`Source::write`] for a query that must run on this thread.
    pub(crate) fn write_here<T, F>(&self, chat: Option<i64>, query: F) -> Written<T, F>
    where
        F: FnOnce(Conn<'_>) -> diesel::QueryResult<T>,
    {
        if let Err(error) = self.pools.check(&self.id) {
            return Written::Done(Err(error));
        }
        match self.pools.writer(&self.id, &self.counters, &self.moves) {
            Some(writer) => writer.write_here(chat, query),
            None => Written::Done(Err(self.refused())),
        }
    }

    /// Runs a read on a reader. A read routed by a chat (`follow`) runs only if the chat has not
    /// left the source: the source's record of moves is looked at in the state the read runs
    /// against.
    pub(crate) fn read<T>(
        &self,
        follow: Option<i64>,
        query: &mut impl FnMut(Conn<'_>) -> diesel::QueryResult<T>,
    ) -> Result<ChatRead<T>> {
        let changes = self.pools.changes();
        let before = changes.stamp();
        let mut leased = self.reader()?;
        let Some(chat) = follow.filter(|_| self.moves.present()) else {
            return leased.read(&self.id, &mut *query).map(ChatRead::Done);
        };
        // What the router knows is brought up to `before`: complete at that state or later. On
        // a server, which gives no such stamp, it is looked at again after the read, or before
        // it when it says the chat left (a departure known may have been followed by a return).
        let entry = match changes {
            Changes::Watched(_) if !self.moves.verified_at(before) => {
                self.refresh_moves(&mut leased)?;
                self.moves.verified(before);
                self.moves.entry(chat)
            }
            Changes::Watched(_) | Changes::Never => self.moves.entry(chat),
            #[allow(unreachable_patterns)]
            _ => match self.moves.entry(chat) {
                Some(entry) if entry.destination.is_some() => {
                    self.refresh_moves(&mut leased)?;
                    self.moves.entry(chat)
                }
                entry => entry,
            },
        };
        if let Some(departure) = entry.as_ref().and_then(Entry::departure) {
            return Ok(ChatRead::Left(departure));
        }
        let answer = leased.read(&self.id, &mut *query)?;
        // Did anything commit while the read ran? If the chat's record changed, the read may
        // have seen the chat gone (or not yet back).
        if changes.since(before) {
            self.refresh_moves(&mut leased)?;
            let now = self.moves.entry(chat);
            if now != entry {
                return Ok(match now.as_ref().and_then(Entry::departure) {
                    Some(departure) => ChatRead::Left(departure),
                    None => ChatRead::Again,
                });
            }
        }
        Ok(ChatRead::Done(answer))
    }

    /// Reads what changed in the source's record of moves, on `leased`.
    fn refresh_moves(&self, leased: &mut Leased<'_>) -> Result<()> {
        self.moves
            .refresh(leased.conn())
            .map_err(|e| self.id.failure(e, Access::Read, &leased.explain()))
    }

    /// The refusal of a write to a read-only source, by the router.
    fn refused(&self) -> Error {
        self.counters.refused_write();
        Error::ReadOnlySource {
            source_name: self.id.name.to_string(),
            refused_by: RefusedBy::Router,
        }
    }

    /// Records what an error of a call says of the source (a damaged file).
    pub(crate) fn noticed(&self, error: &Error) {
        self.pools.noticed(error);
    }

    /// The source's counters; `background` tells whether the checkpointer holds a connection to
    /// it and how many checkpoints it ran.
    pub(crate) fn stats(&self, background: (bool, u64)) -> SourceStats {
        let open = self.pools.open_connections() + u32::from(background.0);
        let mut stats = self.counters.snapshot(&self.id.name, open);
        stats.background_checkpoints = background.1;
        stats.writes_waiting = self.pools.writes_waiting();
        if let Some(cache) = self.pools.cache() {
            (stats.cache_hits, stats.cache_misses) = cache.counts();
            // A read answered from the cache took no connection.
            stats.checkouts = stats.checkouts.saturating_sub(stats.cache_hits);
        }
        stats
    }
}

impl SourceId {
    /// The identity of the source of `config`: a file's path is made absolute.
    pub(crate) fn of(config: &SourceConfig) -> SourceId {
        let path = match config.location() {
            Location::File(file) => {
                std::path::absolute(file.path()).unwrap_or_else(|_| file.path().to_path_buf())
            }
            server => PathBuf::from(server.to_string()),
        };
        SourceId {
            name: config.name().into(),
            readonly: config.is_readonly(),
            kind: config.kind(),
            path,
            timeout: config.get_timeout(),
            pool_size: config.get_pool_size(),
        }
    }

    pub(crate) fn open_error(&self, detail: String) -> Error {
        Error::Open { source_name: self.name.to_string(), path: self.path.clone(), detail }
    }

    /// A connection of the pool `role` (of `size` connections) could not be opened: why.
    pub(crate) fn pool_failure(&self, why: String, role: PoolRole, size: u32) -> Error {
        let detail = format!("{} could not be opened: {why}", role.describe(size));
        Error::PoolTimeout { source_name: self.name.to_string(), timeout: self.timeout, detail }
    }

    /// Every connection of the pool `role` (of `size` connections) stayed leased.
    pub(crate) fn busy_pool_error(&self, role: PoolRole, size: u32) -> Error {
        Error::PoolTimeout {
            source_name: self.name.to_string(),
            timeout: self.timeout,
            detail: format!("{} stayed busy", role.describe(size)),
        }
    }

    /// Turns a diesel error on this source into the error that says what happened, with what the
    /// connection knows of it.
    pub(crate) fn failure(
        &self,
        error: diesel::result::Error,
        access: Access,
        explained: &Explained,
    ) -> Error {
        let message = match &error {
            diesel::result::Error::DatabaseError(_, info) => info.message().to_owned(),
            other => other.to_string(),
        };
        let source_name = self.name.to_string();
        if let diesel::result::Error::SerializationError(inner) = &error
            && let Some(invalid) = inner.downcast_ref::<InvalidArgument>()
        {
            return Error::InvalidArgument(invalid.clone());
        }
        // SQLite words an authorizer's refusal "not authorized", "not authorized to use
        // function: ..." or "authorization denied".
        if let Some(statement) = &explained.refused
            && message.contains("authoriz")
        {
            return Error::NotAllowed { source_name, statement: statement.clone(), access };
        }
        let (path, timeout) = (self.path.clone(), self.timeout);
        match backend::classify(self, &error, &message, explained) {
            Some(Refused::NotAllowed(statement)) => {
                Error::NotAllowed { source_name, statement, access }
            }
            Some(Refused::ReadOnly(refused_by)) => match (self.readonly, access) {
                (true, _) => Error::ReadOnlySource { source_name, refused_by },
                (false, Access::Read) => Error::WriteInRead { source_name },
                (false, Access::Write) => Error::Query { source_name, error },
            },
            Some(Refused::Busy(waited)) => Error::Busy { source_name, path, timeout, waited },
            Some(Refused::Corrupt(detail)) => Error::Corrupt { source_name, path, detail },
            None => Error::Query { source_name, error },
        }
    }
}

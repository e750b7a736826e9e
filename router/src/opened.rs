//! One source opened beside the router, for the operator's tools (the `multisource` command):
//! the same opening as the router's, for a purpose the router does not serve (reading a source
//! without migrating it, migrating it without serving calls, writing a chat's rows into a source
//! the bot may not write), and what those tools do through it, in the SQL of the source's kind.

use std::sync::Arc;

use multisource_migrations::{Mismatch, SchemaState, Table};

use crate::backend::{self, Conn, Kind, ToolConn};
use crate::config::SourceConfig;
use crate::error::{Error, Result};
use crate::route::Access;
use crate::source::{SourceId, SourceInfo};
use crate::sqlite::file::{OpenFile, sidecar};
use crate::tools::{self, Row};

/// What a tool opens a source for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Reading without changing anything: a read-only connection (SQLite's `mode=ro` and
    /// `query_only`, `immutable=1` for a frozen archive; a read-only PostgreSQL session). The
    /// source must exist, and a read-only source's folder is left as it was found.
    Inspect,
    /// Bringing a writable source to the current schema, as `Database::open` does: a new SQLite
    /// file is created in write-ahead-log mode, a file of the Python bot adopted.
    Migrate,
    /// Writing a chat's rows during a move, whatever the source's access: every commit synced to
    /// the disk (`synchronous = FULL`); with `create`, a missing SQLite file is created.
    Move {
        /// Create the SQLite file when it is missing.
        create: bool,
    },
    /// A connection as the router's own readers (`Access::Read`) or writer (`Access::Write`) of
    /// the source get it, with the same settings, for benchmarks that compare a routed call with
    /// the same query on a connection held directly. The source must exist.
    Serve(Access),
}

/// The sizes of what holds a source's data, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sizes {
    /// The database: a SQLite file, or a PostgreSQL database (`pg_database_size`).
    pub database: u64,
    /// A SQLite file's write-ahead log (`-wal`).
    pub log: u64,
    /// A SQLite file's shared-memory index (`-shm`).
    pub index: u64,
}

/// A connection to one source, opened for a [`Purpose`].
pub struct Opened {
    conn: ToolConn,
    id: SourceId,
    info: SourceInfo,
    // Last: closed after the connection, so that a read-only open leaves the folder as found.
    _file: Option<Arc<OpenFile>>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").field("source", &self.info.config.name()).finish_non_exhaustive()
    }
}

impl Opened {
    /// Opens `source` for `purpose`. For [`Purpose::Migrate`], the pending migrations are applied
    /// here, and [`Opened::info`] says what was found and done.
    pub fn open(source: &SourceConfig, purpose: Purpose) -> Result<Opened> {
        let id = SourceId::of(source);
        let mut info = SourceInfo::new(source, id.path.clone());
        let (conn, file) = backend::open_tool(&id, source, purpose, &mut info)?;
        Ok(Opened { conn, id, info, _file: file })
    }

    /// The connection, of the source's kind.
    pub fn conn(&mut self) -> Conn<'_> {
        self.conn.conn()
    }

    /// The kind of the source.
    pub fn kind(&self) -> Kind {
        self.id.kind
    }

    /// What opening found and did: for [`Purpose::Migrate`], the schema state before and the
    /// migrations applied.
    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// The error that says what a statement did wrong on this source.
    fn failed(&self, access: Access) -> impl Fn(diesel::result::Error) -> Error + '_ {
        move |e| self.id.failure(e, access, &self.conn.explain())
    }

    /// Where the schema stands.
    pub fn state(&mut self) -> Result<SchemaState> {
        self.conn
            .state(self.info.config.schema())
            .map_err(|e| self.id.failure(e, Access::Read, &self.conn.explain()))
    }

    /// How the schema differs from the one multisource expects.
    pub fn check(&mut self) -> Result<Vec<Mismatch>> {
        self.conn
            .check(self.info.config.schema())
            .map_err(|e| self.id.failure(e, Access::Read, &self.conn.explain()))
    }

    /// The migrations recorded as applied to the database that its schema does not know: a bot's,
    /// when the source is opened with multisource's schema alone. A tool that moves rows refuses
    /// such a source, since it would leave the bot's tables behind.
    pub fn unknown_migrations(&mut self) -> Result<Vec<String>> {
        if !matches!(self.state()?, SchemaState::Managed { .. }) {
            return Ok(Vec::new());
        }
        let known = self.id.kind.migrations(self.info.config.schema()).0;
        let sql = "SELECT CAST(version AS TEXT) AS line FROM __diesel_schema_migrations";
        let recorded = tools::lines(&mut self.conn, sql, &[]).map_err(self.failed(Access::Read))?;
        Ok(recorded.into_iter().filter(|version| !known.contains(version)).collect())
    }

    /// Applies the pending migrations, as `Database::open` does for a writable source (a SQLite
    /// file is switched to write-ahead logging first); [`Opened::info`] records what was done.
    pub fn migrate(&mut self) -> Result<()> {
        self.conn.migrate(&self.id, &mut self.info)
    }

    /// The tables of the database, sorted, the database's own and diesel's aside.
    pub fn table_names(&mut self) -> Result<Vec<String>> {
        tools::table_names(&mut self.conn).map_err(self.failed(Access::Read))
    }

    /// The rows of `table`, or of `chat` in it.
    pub fn count(&mut self, table: &str, chat: Option<i64>) -> Result<i64> {
        tools::count(&mut self.conn, table, chat).map_err(self.failed(Access::Read))
    }

    /// The chats that have rows in any of `tables`.
    pub fn chats(&mut self, tables: &[&str]) -> Result<Vec<i64>> {
        tools::chats(&mut self.conn, tables).map_err(self.failed(Access::Read))
    }

    /// Each chat whose last message is older than `cutoff` (`YYYY-MM-DD HH:MM:SS`, UTC), with
    /// that message's date, oldest first.
    pub fn last_messages_before(&mut self, cutoff: &str) -> Result<Vec<(i64, String)>> {
        tools::last_messages_before(&mut self.conn, cutoff).map_err(self.failed(Access::Read))
    }

    /// The journal mode of a SQLite file (`wal`, `delete`, ...); `None` for a kind without one.
    pub fn journal_mode(&mut self) -> Result<Option<String>> {
        let Some(sql) = self.conn.dialect().journal_mode else { return Ok(None) };
        let found = tools::lines(&mut self.conn, sql, &[]).map_err(self.failed(Access::Read))?;
        Ok(found.into_iter().next())
    }

    /// The sizes of the database and, for a SQLite file, of its log and index.
    pub fn sizes(&mut self) -> Result<Sizes> {
        let measured = match self.conn.dialect().size {
            Some(sql) => {
                let found = tools::lines(&mut self.conn, sql, &[]);
                Some(found.map_err(self.failed(Access::Read))?)
            }
            None => None,
        };
        let file =
            |suffix: &str| std::fs::metadata(sidecar(&self.id.path, suffix)).map_or(0, |m| m.len());
        Ok(match measured {
            Some(lines) => Sizes {
                database: lines.first().and_then(|n| n.parse().ok()).unwrap_or(0),
                ..Sizes::default()
            },
            None => Sizes { database: file(""), log: file("-wal"), index: file("-shm") },
        })
    }

    /// Every row of `chat` in `table`, each as its columns' text (in the order of the table's
    /// columns), sorted by the table's primary key.
    pub fn rows(&mut self, table: &Table, chat: i64) -> Result<Vec<Row>> {
        tools::rows(&mut self.conn, table, chat).map_err(self.failed(Access::Read))
    }

    /// Writes a row of `table` (its columns' text, as [`Opened::rows`] gives them), replacing the
    /// row with the same primary key if there is one.
    pub fn upsert(&mut self, table: &Table, row: &Row) -> Result<usize> {
        tools::upsert(&mut self.conn, table, row).map_err(self.failed(Access::Write))
    }

    /// Deletes the rows of `chat` from `table`.
    pub fn delete(&mut self, table: &str, chat: i64) -> Result<usize> {
        tools::delete(&mut self.conn, table, chat).map_err(self.failed(Access::Write))
    }

    /// Begins a transaction that writes.
    pub fn begin(&mut self) -> Result<()> {
        let sql = self.conn.dialect().begin_write;
        self.conn.batch(sql).map_err(self.failed(Access::Write))
    }

    /// Records, in the open transaction, that `chat` left this source for the source named `to`
    /// (or, with `None`, came back to it) at `at` (`YYYY-MM-DD HH:MM:SS`, UTC): a running bot
    /// reads it at its next call for the chat and follows it. Returns the rows written (none
    /// for a chat that comes to a source it never left).
    pub fn record_move(&mut self, chat: i64, to: Option<&str>, at: &str) -> Result<usize> {
        tools::record_move(&mut self.conn, chat, to, at).map_err(self.failed(Access::Write))
    }

    /// True when the source has the table of chat moves (a source made before it may not).
    pub fn has_moves_table(&mut self) -> Result<bool> {
        let table = multisource_migrations::MOVES_TABLE;
        Ok(self.table_names()?.iter().any(|t| t == table))
    }

    /// Creates the table of chat moves if the source lacks it (a source made before it, such
    /// as a read-only archive).
    pub fn ensure_moves_table(&mut self) -> Result<()> {
        tools::ensure_moves_table(&mut self.conn).map_err(self.failed(Access::Write))
    }

    /// Begins a transaction that writes and holds the write lock of the chat tables in `tables`
    /// (and of the table of chat moves) until it ends, so that the bot's writes wait (its reads
    /// go on).
    pub fn begin_locked(&mut self, tables: &[&str]) -> Result<()> {
        tools::begin_locked(&mut self.conn, tables).map_err(self.failed(Access::Write))
    }

    /// Begins a transaction that only reads: one snapshot for several statements.
    pub fn begin_read(&mut self) -> Result<()> {
        self.conn.batch("BEGIN;").map_err(self.failed(Access::Read))
    }

    /// Commits the transaction.
    pub fn commit(&mut self) -> Result<()> {
        self.conn.batch("COMMIT;").map_err(self.failed(Access::Write))
    }

    /// Leaves the transaction, changing nothing.
    pub fn rollback(&mut self) -> Result<()> {
        self.conn.batch("ROLLBACK;").map_err(self.failed(Access::Read))
    }

    /// Freezes the source as an archive: a SQLite file is switched to a rollback journal, so
    /// that reading it read-only creates no side files; a kind without them is left as it is.
    pub fn freeze(&mut self) -> Result<()> {
        match self.conn.dialect().freeze {
            Some(sql) => self.conn.batch(sql).map_err(self.failed(Access::Write)),
            None => Ok(()),
        }
    }
}

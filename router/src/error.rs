//! The one error type of multisource: every failure of loading, opening, routing and querying.

use std::path::PathBuf;
use std::time::Duration;

use multisource_migrations::{MigrationError, Mismatch};

use crate::route::Access;

/// `Result` with multisource's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which layer refused a write to a read-only source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefusedBy {
    /// The router refused it before taking a connection: the call resolved to a source configured
    /// `readonly = true`.
    Router,
    /// SQLite refused it: the statement ran on a connection opened read-only.
    Sqlite,
    /// The PostgreSQL server refused it: the statement ran in a session opened read-only
    /// (`default_transaction_read_only`).
    Postgres,
}

/// A value a call was given that multisource cannot store faithfully, as a query returns it:
/// wrap it in `diesel::result::Error::SerializationError`, and the call fails with
/// [`Error::InvalidArgument`] naming the parameter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{parameter}` {problem}")]
pub struct InvalidArgument {
    /// The parameter, as the method names it.
    pub parameter: String,
    /// What is wrong with its value and what is accepted.
    pub problem: String,
}

/// Which of a source's pools a connection was wanted from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolRole {
    /// A SQLite source's read-only readers, or a PostgreSQL source's read-only sessions.
    Readers,
    /// A SQLite source's single writer.
    Writer,
    /// A PostgreSQL source's sessions for writes.
    Writers,
}

impl PoolRole {
    /// The whole pool, in words: `its single writer`, `its only reader`, `all 3 of its readers`.
    pub fn describe(self, size: u32) -> String {
        let (one, many) = match self {
            PoolRole::Readers => ("reader", "readers"),
            PoolRole::Writer => return "its single writer".to_owned(),
            PoolRole::Writers => ("writer session", "writer sessions"),
        };
        match size {
            1 => format!("its only {one}"),
            n => format!("all {n} of its {many}"),
        }
    }
}

/// Everything that can go wrong in multisource. Every variant that concerns a source names it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid; nothing was opened.
    #[error("invalid configuration{}: {message}", location(key, *line, file.as_ref()))]
    Config {
        /// The offending key, as a dotted path (`database.sources.archive.pool-size`); empty when
        /// the whole document is at fault.
        key: String,
        /// The 1-based line of the key in the file, when known.
        line: Option<usize>,
        /// The configuration file, when the configuration came from one.
        file: Option<PathBuf>,
        /// What is wrong and what to do.
        message: String,
    },
    /// A call named a source that is not configured. Unlike the Python layer, multisource never
    /// falls back to the default source here: that would read the wrong data silently.
    #[error("unknown source `{name}`; the configured sources are {}", list(known))]
    UnknownSource {
        /// The name given.
        name: String,
        /// The configured source names, in configuration order.
        known: Vec<String>,
    },
    /// A call could not follow its chat's move: the source the chat left records a destination
    /// this database has no source of that name for, or the chat's recorded moves lead back to
    /// a source already visited. The call did not run.
    #[error(
        "chat {chat} moved from `{source_name}` to `{to}`, {}",
        match circle {
            true => "and its moves recorded in the sources lead back to where the call already \
                     was; finish the move that is under way (`multisource move-chat` again), or \
                     look at each source's `multisource_chat_moves` table",
            false => "a source this database does not have; add it to the configuration, as the \
                      configuration the move was made with has it, and restart the bot",
        }
    )]
    MoveNotFollowed {
        /// The source the chat left.
        source_name: String,
        /// The chat.
        chat: i64,
        /// Where the source says the chat went.
        to: String,
        /// The moves go round in a circle (otherwise, `to` is not a source of this database).
        circle: bool,
    },
    /// A write resolved to a read-only source and was refused; nothing was written.
    #[error("{}", read_only_message(source_name, *refused_by))]
    ReadOnlySource {
        /// The read-only source.
        source_name: String,
        /// Which layer refused the write.
        refused_by: RefusedBy,
    },
    /// SQL inside a query or a closure tried something multisource refuses there: what would
    /// escape the call's transaction, reach another database file, or stay on the pooled
    /// connection for later calls. Nothing of it ran.
    #[error(
        "source `{source_name}`: `{statement}` is not allowed inside a {} call, and nothing of it \
         ran: a query or closure may not attach databases, vacuum, end or commit the call's \
         transaction, change pragmas or create temporary objects (see the README's \"What a \
         closure may not do\")",
        access.as_str()
    )]
    NotAllowed {
        /// The source the call ran on.
        source_name: String,
        /// What was refused, as the authorizer saw it (`ATTACH`, `COMMIT`,
        /// `PRAGMA query_only = 0`).
        statement: String,
        /// Whether the call was a read or a write.
        access: Access,
    },
    /// A call was given a value multisource cannot store faithfully; nothing was written.
    #[error("invalid argument: {0}; nothing was written or read")]
    InvalidArgument(InvalidArgument),
    /// A read tried to write. Reads run on read-only connections, even on writable sources.
    #[error(
        "a read on source `{source_name}` tried to write, and SQLite refused it: reads run on \
         read-only connections; declare the query a write"
    )]
    WriteInRead {
        /// The source the read ran on.
        source_name: String,
    },
    /// No connection of the source became free within its timeout.
    #[error(
        "source `{source_name}` gave no connection within {}s ({detail}); raise its `pool-size` or \
         `timeout`, or find the caller holding its connections",
        timeout.as_secs_f64()
    )]
    PoolTimeout {
        /// The source.
        source_name: String,
        /// The checkout timeout that passed (the source's `timeout`).
        timeout: Duration,
        /// What the pool reported: the last error when it could not open a connection.
        detail: String,
    },
    /// The database was locked by another connection or process, and stayed locked past the
    /// source's timeout, or could not be waited for.
    #[error("{}", busy_message(source_name, path, *timeout, *waited))]
    Busy {
        /// The source.
        source_name: String,
        /// The database file (for a PostgreSQL source, its URL without the password).
        path: PathBuf,
        /// The source's `timeout`: how long a lock is waited for.
        timeout: Duration,
        /// How long the call really waited before it gave up: about `timeout`, or nothing when
        /// SQLite answered busy at once because waiting could only deadlock.
        waited: Duration,
    },
    /// A query failed; the message carries the database's own.
    #[error("query on source `{source_name}` failed: {}", database_message(error))]
    Query {
        /// The source.
        source_name: String,
        /// Diesel's error (its text is in the message).
        error: diesel::result::Error,
    },
    /// The source's file is not a SQLite database, or is damaged.
    #[error(
        "source `{source_name}`: {} is not a valid SQLite database ({detail}); restore it from a \
         backup or point `path` at the right file",
        path.display()
    )]
    Corrupt {
        /// The source.
        source_name: String,
        /// The database file (for a PostgreSQL source, its URL without the password).
        path: PathBuf,
        /// SQLite's message.
        detail: String,
    },
    /// The source's file was removed, or another file put in its place, while the database was
    /// open: every call to the source fails from then on.
    #[error(
        "source `{source_name}`: {} was removed or replaced while the database was open; calls to \
         it fail until the file is back and the database is reopened{}",
        path.display(),
        saved(saved_to.as_ref())
    )]
    FileGone {
        /// The source.
        source_name: String,
        /// The path the file was opened at.
        path: PathBuf,
        /// Where the data the source still held was saved, for a writable source.
        saved_to: Option<PathBuf>,
    },
    /// A read-only source's file does not exist; read-only sources are never created.
    #[error(
        "read-only source `{source_name}`: {} does not exist; read-only sources are never created, \
         so check its `path`",
        path.display()
    )]
    MissingFile {
        /// The source.
        source_name: String,
        /// The path that does not exist.
        path: PathBuf,
    },
    /// The source's file could not be opened.
    #[error("source `{source_name}`: cannot open {}: {detail}", path.display())]
    Open {
        /// The source.
        source_name: String,
        /// The database file (for a PostgreSQL source, its URL without the password).
        path: PathBuf,
        /// What went wrong and what to do.
        detail: String,
    },
    /// Bringing a writable source to the current schema failed; the file is as it was.
    #[error("source `{source_name}`: migrating {} failed", path.display())]
    Migration {
        /// The source.
        source_name: String,
        /// The database file (for a PostgreSQL source, its URL without the password).
        path: PathBuf,
        /// Why.
        #[source]
        error: MigrationError,
    },
    /// A source's schema is not the one multisource expects.
    #[error(
        "source `{source_name}`: {} does not have the expected schema: {}",
        path.display(),
        differences(mismatches)
    )]
    SchemaMismatch {
        /// The source.
        source_name: String,
        /// The database file (for a PostgreSQL source, its URL without the password).
        path: PathBuf,
        /// Every difference found; never empty.
        mismatches: Vec<Mismatch>,
    },
}

impl Error {
    /// The source the error concerns, when there is one.
    pub fn source_name(&self) -> Option<&str> {
        match self {
            Error::Config { .. } | Error::UnknownSource { .. } | Error::InvalidArgument(_) => None,
            Error::ReadOnlySource { source_name, .. }
            | Error::WriteInRead { source_name }
            | Error::NotAllowed { source_name, .. }
            | Error::PoolTimeout { source_name, .. }
            | Error::Busy { source_name, .. }
            | Error::Query { source_name, .. }
            | Error::Corrupt { source_name, .. }
            | Error::MissingFile { source_name, .. }
            | Error::FileGone { source_name, .. }
            | Error::Open { source_name, .. }
            | Error::Migration { source_name, .. }
            | Error::SchemaMismatch { source_name, .. }
            | Error::MoveNotFollowed { source_name, .. } => Some(source_name),
        }
    }

    /// Builds a configuration error without a line.
    pub(crate) fn config(key: impl Into<String>, message: impl Into<String>) -> Error {
        Error::Config { key: key.into(), line: None, file: None, message: message.into() }
    }
}

fn location(key: &str, line: Option<usize>, file: Option<&PathBuf>) -> String {
    let mut out = String::new();
    if !key.is_empty() {
        out.push_str(&format!(" at `{key}`"));
    }
    match (line, file) {
        (Some(line), Some(file)) => out.push_str(&format!(" (line {line} of {})", file.display())),
        (Some(line), None) => out.push_str(&format!(" (line {line})")),
        (None, Some(file)) => out.push_str(&format!(" (in {})", file.display())),
        (None, None) => {}
    }
    out
}

fn list(names: &[String]) -> String {
    match names.is_empty() {
        true => "none".to_owned(),
        false => names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "),
    }
}

fn read_only_message(source: &str, by: RefusedBy) -> String {
    match by {
        RefusedBy::Router => format!(
            "source `{source}` is read-only and the write was refused before touching it; map the \
             chat to a writable source, or set `readonly = false` if it should take writes"
        ),
        RefusedBy::Sqlite => format!(
            "source `{source}` is read-only and SQLite refused the write (the file is opened \
             read-only); nothing was written"
        ),
        RefusedBy::Postgres => format!(
            "source `{source}` is read-only and the PostgreSQL server refused the write (the \
             session is read-only); nothing was written"
        ),
    }
}

fn busy_message(
    source: &str,
    path: &std::path::Path,
    timeout: Duration,
    waited: Duration,
) -> String {
    let place = path.display();
    match waited < timeout / 2 {
        true => format!(
            "source `{source}` is locked by another connection or process, and SQLite answered \
             busy after {:.3}s without waiting its `timeout` of {}s, because waiting could only \
             deadlock (the other side holds a lock this call needs to upgrade); retry the call, \
             or find the process writing to {place}",
            waited.as_secs_f64(),
            timeout.as_secs_f64()
        ),
        false => format!(
            "source `{source}` stayed locked by another connection or process: the call waited \
             {:.3}s (its `timeout` is {}s); raise `timeout`, or find the process holding a long \
             transaction on {place}",
            waited.as_secs_f64(),
            timeout.as_secs_f64()
        ),
    }
}

/// The database's own message of a diesel error, or diesel's text of it.
fn database_message(error: &diesel::result::Error) -> String {
    match error {
        diesel::result::Error::DatabaseError(_, info) => info.message().to_owned(),
        other => other.to_string(),
    }
}

fn saved(to: Option<&PathBuf>) -> String {
    match to {
        Some(to) => format!("; everything it held was saved to {}", to.display()),
        None => String::new(),
    }
}

/// The first few differences, and how many more there are.
fn differences(mismatches: &[Mismatch]) -> String {
    const SHOWN: usize = 5;
    let mut out: Vec<String> = mismatches.iter().take(SHOWN).map(ToString::to_string).collect();
    if mismatches.len() > SHOWN {
        out.push(format!("and {} more difference(s)", mismatches.len() - SHOWN));
    }
    out.join("; ")
}

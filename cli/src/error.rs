//! Why a command stopped: one variant per way it can, each with its exit status and its message,
//! which says what to do.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use crate::output::describe;

/// Why a command stopped before its end.
///
/// A variant is bad usage (exit status 2: the command was asked something it cannot do, and
/// asking differently fixes it) or a failure of the work (exit status 1: a database or a file
/// failed, or a check of the data did not hold).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The configuration file is missing or invalid.
    #[error("{}", describe(.0))]
    Config(Box<multisource::Error>),
    /// The configuration file cannot be read at all.
    #[error("cannot read the configuration {}: {error}", path.display())]
    ConfigUnreadable {
        /// The file named on the command line.
        path: PathBuf,
        /// Why it cannot be read.
        error: io::Error,
    },
    /// The command named a source the configuration does not have.
    #[error("unknown source `{name}`; the configuration has {known}")]
    UnknownSource {
        /// The name given.
        name: String,
        /// The configured names, quoted, for the message.
        known: String,
    },
    /// The chat has no rows where the configuration routes it.
    #[error(
        "chat {chat} has no rows in `{source_name}` ({}); nothing to move: check the chat id",
        if *.mapped { "it is mapped to" } else { "it is not mapped, so it goes to the default source" }
    )]
    NothingToMove {
        /// The chat asked for.
        chat: i64,
        /// The source it is routed to.
        source_name: String,
        /// Whether the chat mapping names it (or it falls to the default).
        mapped: bool,
    },
    /// Two sources of the move are one database.
    #[error("`{from}` and `{to}` are the same database, {location}")]
    SameDatabase {
        /// The origin's name.
        from: String,
        /// The destination's name.
        to: String,
        /// Where both are.
        location: String,
    },
    /// The command would write a read-only source while the bot may be running.
    #[error(
        "`{source_name}` is read-only: the bot never writes it. To {action} it, stop the bot and \
         run again with --offline (then start the bot again)"
    )]
    ReadOnly {
        /// The read-only source.
        source_name: String,
        /// What the command would do to it: "write to", "delete from", "archive into".
        action: &'static str,
    },
    /// A source's database failed or refused.
    #[error("{doing}: {}", describe(.error))]
    Database {
        /// What the command was doing, naming the source.
        doing: String,
        /// The library's error.
        error: Box<multisource::Error>,
    },
    /// A file of the command's own (the demo's, the move journal) cannot be read or written.
    #[error("cannot {doing} {}: {error}", path.display())]
    File {
        /// What the command was doing: "create", "write", "read", "remove".
        doing: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// The move journal is there but is not a journal.
    #[error(
        "the move journal {} cannot be read ({problem}); it records a move that did not finish: \
         look at `multisource status`, then remove the file",
        path.display()
    )]
    Journal {
        /// The journal's file.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// An earlier move did not finish, and must be finished first.
    #[error("{hint}")]
    Unfinished {
        /// The command that finishes it, in words (from the journal).
        hint: String,
    },
    /// The origin's file is not there.
    #[error("the file of `{source_name}`, {location}, is missing")]
    MissingFile {
        /// The source.
        source_name: String,
        /// Its location.
        location: String,
    },
    /// The destination already holds rows of the chat.
    #[error(
        "`{to}` already holds {rows} row(s) of chat {chat}; a move never merges into data it did \
         not put there: remove them, or choose another destination"
    )]
    AlreadyHeld {
        /// The destination.
        to: String,
        /// The chat.
        chat: i64,
        /// How many rows of it the destination holds.
        rows: i64,
    },
    /// A source's schema cannot hold the chat tables' rows.
    #[error("the schema of `{source_name}` cannot hold the chat's rows: {}", .mismatches.join("; "))]
    SchemaCannotHold {
        /// The source.
        source_name: String,
        /// What differs from the migrations, one per table or column.
        mismatches: Vec<String>,
    },
    /// A source holds migrations the command does not know: a bot's, whose tables it would leave
    /// behind.
    #[error(
        "`{source_name}` holds migrations this command does not know ({}): they are the bot's, \
         and moving the chat with this command would leave the rows of the bot's tables behind; \
         run the bot's own command, built with `multisource_cli::main_with`, which knows them",
        .versions.join(", ")
    )]
    UnknownMigrations {
        /// The source.
        source_name: String,
        /// The versions recorded there and unknown here.
        versions: Vec<String>,
    },
    /// The origin's write lock stayed taken.
    #[error(
        "`{source_name}` is busy: its write lock stayed taken longer than its timeout \
         ({timeout:?}): {}; try again",
        describe(.error)
    )]
    Busy {
        /// The origin.
        source_name: String,
        /// Its configured timeout.
        timeout: Duration,
        /// The library's error.
        error: Box<multisource::Error>,
    },
    /// The rows copied are not all found, identical, in the destination.
    #[error(
        "verification failed for `{table}`: {copied} row(s) in `{from}`, {found} in `{to}`, not \
         all found identical; nothing was deleted, and running the same command again retries \
         the move"
    )]
    NotVerified {
        /// The table.
        table: String,
        /// Rows of the chat in the origin.
        copied: usize,
        /// The origin.
        from: String,
        /// Rows of the chat found in the destination.
        found: usize,
        /// The destination.
        to: String,
    },
    /// Deleting from the origin found another number of rows than was copied.
    #[error(
        "`{table}` of `{from}` held {deleted} row(s) of the chat when deleting, not the {copied} \
         copied; nothing was deleted, and running the same command again retries the move"
    )]
    DeletedOther {
        /// The table.
        table: String,
        /// The origin.
        from: String,
        /// Rows the deletion found.
        deleted: i64,
        /// Rows copied.
        copied: i64,
    },
    /// The chat mapping cannot be rewritten, found before any row moved.
    #[error("{}; nothing was moved", describe(.0))]
    MappingBeforeMove(Box<multisource::Error>),
    /// The chat mapping cannot be rewritten after the rows moved.
    #[error(
        "the rows moved, but {}; the journal keeps the move: fix the file and run the same command \
         again",
        describe(.0)
    )]
    MappingAfterMove(Box<multisource::Error>),
}

impl Error {
    /// The exit status: 2 for bad usage, 1 for a failure of the work.
    pub(crate) fn code(&self) -> u8 {
        if self.is_usage() { 2 } else { 1 }
    }

    /// Whether asking differently fixes it.
    fn is_usage(&self) -> bool {
        matches!(
            self,
            Error::Config(_)
                | Error::ConfigUnreadable { .. }
                | Error::UnknownSource { .. }
                | Error::NothingToMove { .. }
                | Error::SameDatabase { .. }
                | Error::ReadOnly { .. }
                | Error::UnknownMigrations { .. }
        )
    }

    /// The kind, for scripts: `usage` or `failed`.
    pub(crate) fn kind(&self) -> &'static str {
        if self.is_usage() { "usage" } else { "failed" }
    }

    /// A database error while `doing` something.
    pub(crate) fn database(doing: impl Into<String>) -> impl FnOnce(multisource::Error) -> Error {
        let doing = doing.into();
        move |error| Error::Database { doing, error: Box::new(error) }
    }

    /// The configuration could not be loaded.
    pub(crate) fn config(error: multisource::Error) -> Error {
        Error::Config(Box::new(error))
    }

    /// The chat mapping cannot be rewritten before the move.
    pub(crate) fn mapping_before_move(error: multisource::Error) -> Error {
        Error::MappingBeforeMove(Box::new(error))
    }

    /// The chat mapping cannot be rewritten after the move.
    pub(crate) fn mapping_after_move(error: multisource::Error) -> Error {
        Error::MappingAfterMove(Box::new(error))
    }

    /// A file error while `doing` something to `path`.
    pub(crate) fn file(
        doing: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |error| Error::File { doing, path, error }
    }

    /// Writes the error for standard error, and as a JSON object for standard output when the
    /// script asked for JSON.
    pub(crate) fn report(&self, json: bool, out: &mut String, err: &mut String) {
        let message = self.to_string();
        err.push_str(&format!("error: {message}\n"));
        if json {
            out.push_str(&crate::output::to_json(
                &serde_json::json!({ "error": { "kind": self.kind(), "message": message } }),
            ));
        }
    }
}

//! `multisource` keeps a chat bot's data in many SQLite databases at once, behind one typed API.
//!
//! Each database is a named *source*, writable or read-only. Every call is routed by three tiers:
//! an explicit source argument (reads only), then the chat's mapping, then the default source.
//! Writes never take a source and are refused on read-only sources: by the types (they have no
//! source parameter), by the router (before any connection is taken) and by SQLite itself (the
//! files are opened read-only). Reads across chats fan out to every source and merge.
//!
//! ```no_run
//! use multisource::Database;
//!
//! # fn main() -> multisource::Result<()> {
//! let db = Database::from_config_file("bot.toml")?;
//! db.set_chat_setting(-1001234567890, "model", "gpt")?;
//! let model = db.get_chat_setting(-1001234567890, "model", None)?;
//! let route = db.route(Some(-1001234567890), None)?;
//! println!("{model:?} came from `{}` ({})", route.source(), route.tier());
//! # Ok(())
//! # }
//! ```
//!
//! The data methods of [`Database`] are generated from the annotated diesel queries of
//! [`queries`], one module per domain; a bot adds its own the same way, with
//! [`macro@read`] and [`macro@write`].

// Generated code names this crate `::multisource` wherever it expands, here included.
extern crate self as multisource;

mod asynchronous;
mod carry;
mod database;
pub mod enums;
pub mod models;
#[cfg(feature = "postgres")]
mod postgres;
pub mod queries;
pub mod timestamps;

pub use crate::asynchronous::{AsyncDatabase, Call};
pub use crate::carry::Carry;
pub use crate::database::Database;
pub use crate::enums::{
    CacheType, MediaStatus, MessageCategory, MessageType, SpamReason, UnknownValue,
};
pub use crate::models::{
    CacheEntry, CacheStorageEntry, ChatInfo, ChatMessage, ChatSummarization, ChatTopic, ChatUser,
    DelayedTask, MediaAttachment, MediaAttachmentUpdate, NewMediaAttachment, NewMessage,
    SpamMessage,
};
pub use multisource_macros::{migrations, read, write};
pub use multisource_router::{
    Access, BotMigration, BotMigrations, Config, ConfigBuilder, Conn, Durability, Error, Finding,
    InvalidArgument, Kind, Location, Mismatch, OnSourceError, PoolRole, Preflight, RefusedBy,
    Result, Route, Router, Schema, SchemaError, SchemaState, Server, Severity, SourceConfig,
    SourceInfo, SourceReport, SourceStats, SqliteFile, Stats, Tier, TierCounts,
};
/// The diesel tables of the schema.
pub use multisource_schema as schema;

/// The connection an annotated query is written against: SQLite's. With the `postgres` feature
/// the query is also compiled against `PgConnection` (`diesel::PgConnection`).
pub type Connection = diesel::SqliteConnection;

/// The connection types of the other kinds of source (`PgConnection` with the `postgres`
/// feature): the annotated queries are also compiled against each.
#[allow(
    unused_imports,
    unreachable_pub,
    reason = "without the `postgres` feature there is none"
)]
pub use multisource_router::connections::*;

/// What the code `#[multisource::read]` and `#[multisource::write]` generate reaches, and nothing
/// else should: not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use multisource_router::__generated::*;

    /// The router of a database, for the generated methods.
    #[inline]
    pub fn router(db: &crate::Database) -> &multisource_router::Router {
        db.router()
    }
}

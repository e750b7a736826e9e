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
//! let route = db.route(Some(-1001234567890), None)?;
//! println!("chat -1001234567890 lives in `{}` ({})", route.source(), route.tier());
//! # Ok(())
//! # }
//! ```

// Generated code names this crate `::multisource` wherever it expands, here included.
extern crate self as multisource;

mod database;

pub use crate::database::Database;
pub use multisource_router::{
    Access, Config, ConfigBuilder, Durability, Error, Mismatch, OnSourceError, RefusedBy, Result,
    Route, Router, SchemaState, SourceConfig, SourceInfo, SourceStats, Stats, Tier, TierCounts,
};
/// The diesel tables of the schema.
pub use multisource_schema as schema;

/// The connection a query runs on.
pub type Connection = diesel::SqliteConnection;

//! The routing layer of multisource: configuration, sources and their pools, three-tier route
//! resolution, and the read, write and fan-out primitives the generated methods call.
//!
//! Bots use it through the `multisource` crate, which re-exports what they need.
//!
//! Every call resolves to exactly one source, in this order:
//!
//! 1. an explicit source named by the call (reads only; an unknown name is an error, never a
//!    fallback);
//! 2. the source the chat is mapped to, for calls about one chat;
//! 3. the default source.
//!
//! Writes never name a source, and a write that resolves to a read-only source is refused before
//! any connection is taken. Read-only sources are also opened read-only by SQLite, and every read,
//! on every source, runs on a read-only connection.

mod backend;
mod batch;
mod cache;
mod config;
mod error;
mod health;
mod helpers;
mod live;
mod maintenance;
mod memory;
mod moves;
mod opened;
#[cfg(feature = "postgres")]
mod postgres;
mod preflight;
mod route;
mod router;
mod slots;
mod source;
mod sqlite;
mod stats;
mod tools;

pub use crate::backend::{__generated, Conn, Kind, connections};
pub use crate::config::{
    Config, ConfigBuilder, DEFAULT_POOL_SIZE, DEFAULT_SOURCE_NAME, DEFAULT_TIMEOUT_SECS,
    Durability, Location, MAX_POOL_SIZE, MAX_TIMEOUT_SECS, MappingEdit, OnSourceError, Server,
    SourceConfig, SqliteFile, replace_file, sync_folder,
};
pub use crate::error::{Error, InvalidArgument, PoolRole, RefusedBy, Result};
pub use crate::opened::{Opened, Purpose, Sizes};
#[cfg(feature = "postgres")]
pub use crate::postgres::postgres_session;
pub use crate::preflight::{Finding, Preflight, Severity, SourceReport, same_place};
pub use crate::route::{Access, Route, Tier};
pub use crate::router::Router;
pub use crate::source::SourceInfo;
pub use crate::sqlite::sqlite_uri;
pub use crate::stats::{SourceStats, Stats, TierCounts};
pub use crate::tools::{Row, canonical, canonical_row};
pub use multisource_migrations::{
    BotMigration, BotMigrations, Mismatch, Schema, SchemaError, SchemaState,
};

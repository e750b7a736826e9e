//! Integration tests of multisource against real SQLite files in temporary folders, and, with the
//! `postgres` feature, the query tests against a PostgreSQL server too; each test owns its files
//! and databases.

mod api_messages;
mod api_misc;
mod api_routing;
mod api_settings;
mod api_users;
mod asynchronous;
mod backends;
mod batches;
mod bot_tables;
mod cache;
mod closures;
mod common;
mod compat;
mod concurrency;
mod config;
mod crash;
mod errors;
mod extension;
mod faults;
mod files;
mod guarantees;
mod hostile;
mod moves;
mod operator;
mod pool;
#[cfg(feature = "postgres")]
mod postgres;
mod readonly;
mod reload;
mod routing;
mod shared;

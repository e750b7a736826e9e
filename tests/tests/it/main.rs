//! Integration tests of multisource against real SQLite files in temporary folders; each test
//! owns its files.

mod api_messages;
mod api_misc;
mod api_routing;
mod api_settings;
mod api_users;
mod common;
mod compat;
mod config;
mod extension;
mod pool;
mod readonly;
mod routing;

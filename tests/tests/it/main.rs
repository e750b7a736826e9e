//! Integration tests of multisource against real SQLite files in temporary folders; each test
//! owns its files.

mod api_messages;
mod api_misc;
mod api_routing;
mod api_settings;
mod api_users;
mod common;
mod compat;
mod concurrency;
mod config;
mod crash;
mod extension;
mod faults;
mod guarantees;
mod hostile;
mod pool;
mod readonly;
mod routing;
mod shared;

//! Integration tests of multisource against real SQLite files in temporary folders; each test
//! owns its files.

mod common;
mod compat;
mod config;
mod pool;
mod readonly;
mod routing;

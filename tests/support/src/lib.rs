//! What the tests and the benchmarks of multisource share.
//!
//! - `Databases` (feature `postgres`): throwaway databases on a PostgreSQL server, each created
//!   empty and dropped when its owner is, for the tests (on the server `cargo xtask test`
//!   starts) and the benchmarks alike.

#[cfg(feature = "postgres")]
mod postgres;

#[cfg(feature = "postgres")]
pub use postgres::{Databases, TEST_SERVER, test_server};

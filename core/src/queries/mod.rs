//! The annotated queries: one module per domain, each function a plain diesel query that
//! `#[multisource::read]` or `#[multisource::write]` turns into a routed method of
//! [`Database`](crate::Database) with the same name.
//!
//! The functions stay usable on their own with a plain connection, for example in a migration
//! script or a test. Writes return `()` when they always take effect, `bool` when they target one
//! row that may not exist (true when it did), and `usize` when they remove a set of rows (how
//! many).

pub mod cache;
mod cached;
pub mod chat_info;
pub mod chat_messages;
pub mod chat_settings;
pub mod chat_users;
pub mod delayed_tasks;
pub mod media;
pub mod settings;
pub mod spam;
pub mod summarization;
pub mod user_data;

use chrono::{NaiveDateTime, Timelike};
use diesel::QueryResult;

pub use crate::queries::cached::{ConflictKey, Update, Upsert, update, upsert};

/// A timestamp without its fraction of a second: the Python bot stored timestamps as
/// `YYYY-MM-DD HH:MM:SS`, and values compared as text must have one shape.
pub(crate) fn whole_seconds(at: NaiveDateTime) -> NaiveDateTime {
    at.with_nanosecond(0).unwrap_or(at)
}

/// The timestamp parameter `parameter` as it is stored and compared: to the second, and refused
/// when its year is outside 0000 to 9999 ([`crate::timestamps::checked`]).
pub(crate) fn stored(parameter: &str, at: NaiveDateTime) -> QueryResult<NaiveDateTime> {
    crate::timestamps::checked(parameter, at).map(whole_seconds)
}

//! Keeping `UPDATE`s and upserts prepared.
//!
//! Diesel never caches the prepared statement of an `UPDATE` or of an `INSERT ... ON CONFLICT DO
//! UPDATE`: an `AsChangeset` with `Option` fields can change its SQL from call to call, so diesel
//! plays safe and has SQLite parse and plan the statement again on every call. For the writes of
//! this crate that is most of their cost after the disk. [`cached`] lets diesel cache such a
//! statement under its SQL text: a statement whose text varies gets one cache entry per text, so
//! this is always correct, and the entries stay few as long as the texts do (a changeset of `n`
//! optional fields has at most `2^n`).

use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, SqliteConnection};

/// A statement diesel may keep prepared, keyed by its SQL text; see [`cached`].
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(Q);

/// Lets diesel keep `statement` prepared between calls, keyed by its SQL text. Use it on
/// `diesel::update(...)` and `insert_into(...).on_conflict(...).do_update()` statements, which
/// diesel otherwise prepares again on every call.
pub fn cached<Q>(statement: Q) -> Cached<Q> {
    Cached(statement)
}

impl<Q: QueryFragment<Sqlite>> QueryFragment<Sqlite> for Cached<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    // The cache key is the SQL text (the query id is not static), so caching is correct whatever
    // the statement.
    fn is_safe_to_cache_prepared(&self, _backend: &Sqlite) -> QueryResult<bool> {
        Ok(true)
    }
}

impl<Q> QueryId for Cached<Q> {
    type QueryId = ();

    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q> RunQueryDsl<SqliteConnection> for Cached<Q> {}

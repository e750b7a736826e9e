//! `UPDATE`s and upserts that stay prepared.
//!
//! Diesel never keeps the prepared statement of an `UPDATE` or of an `INSERT ... ON CONFLICT DO
//! UPDATE`: an `AsChangeset` with `Option` fields can change its SQL from call to call, so diesel
//! marks both statements unsafe to cache, and SQLite parses and plans them again on every call.
//! For the writes of this crate that is most of their cost besides the disk.
//!
//! [`update`] and [`upsert`] build the same SQL from diesel's own parts (the update target, the
//! `INSERT`, the changeset), without that mark: diesel then caches them under their SQL text. A
//! statement whose text varies gets one cache entry per text, so this is always correct, and the
//! entries stay few as long as the texts do (a changeset of `n` optional fields has at most `2^n`).

use diesel::associations::HasTable;
use diesel::backend::Backend;
use diesel::query_builder::{AsChangeset, AstPass, IntoUpdateTarget, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::query_source::{Column, QuerySource};
use diesel::{Connection, QueryResult};

/// `UPDATE table SET changeset WHERE ...`, kept prepared; see [`update`].
#[derive(Debug, Clone, Copy)]
pub struct Update<F, W, S> {
    from: F,
    where_clause: W,
    set: S,
}

/// `INSERT ... ON CONFLICT (key) DO UPDATE SET changeset`, kept prepared; see [`upsert`].
#[derive(Debug, Clone, Copy)]
pub struct Upsert<I, K, S> {
    insert: I,
    key: K,
    set: S,
}

/// `diesel::update(target).set(changeset)`, but kept prepared between calls.
pub fn update<T, C>(
    target: T,
    changeset: C,
) -> Update<<T::Table as QuerySource>::FromClause, T::WhereClause, C::Changeset>
where
    T: IntoUpdateTarget,
    C: AsChangeset<Target = <T as HasTable>::Table>,
{
    let target = target.into_update_target();
    Update {
        from: target.table.from_clause(),
        where_clause: target.where_clause,
        set: changeset.as_changeset(),
    }
}

/// `insert.on_conflict(key).do_update().set(changeset)`, but kept prepared between calls: `insert`
/// is an `insert_into(table).values(...)` of one row, `key` a tuple of the columns of the unique
/// index that conflicts (`(table::id,)` for one).
pub fn upsert<I, K, C>(insert: I, key: K, changeset: C) -> Upsert<I, K, C::Changeset>
where
    K: ConflictKey,
    C: AsChangeset,
{
    Upsert { insert, key, set: changeset.as_changeset() }
}

/// The columns of a conflict target, written unqualified as SQLite and PostgreSQL want them.
pub trait ConflictKey {
    /// Writes the column names, separated by commas.
    fn walk_names<DB: Backend>(&self, out: AstPass<'_, '_, DB>) -> QueryResult<()>;
}

macro_rules! conflict_key {
    ($($column:ident),+) => {
        impl<$($column: Column),+> ConflictKey for ($($column,)+) {
            fn walk_names<DB: Backend>(&self, mut out: AstPass<'_, '_, DB>) -> QueryResult<()> {
                let names = [$($column::NAME),+];
                for (i, name) in names.iter().enumerate() {
                    if i > 0 {
                        out.push_sql(", ");
                    }
                    out.push_identifier(name)?;
                }
                Ok(())
            }
        }
    };
}

conflict_key!(A);
conflict_key!(A, B);
conflict_key!(A, B, C);

impl<F, W, S, DB: Backend> QueryFragment<DB> for Update<F, W, S>
where
    F: QueryFragment<DB>,
    W: QueryFragment<DB>,
    S: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("UPDATE ");
        self.from.walk_ast(out.reborrow())?;
        out.push_sql(" SET ");
        self.set.walk_ast(out.reborrow())?;
        self.where_clause.walk_ast(out.reborrow())
    }
}

impl<I, K, S, DB: Backend> QueryFragment<DB> for Upsert<I, K, S>
where
    I: QueryFragment<DB>,
    K: ConflictKey,
    S: QueryFragment<DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.insert.walk_ast(out.reborrow())?;
        out.push_sql(" ON CONFLICT (");
        self.key.walk_names(out.reborrow())?;
        out.push_sql(") DO UPDATE SET ");
        self.set.walk_ast(out.reborrow())
    }
}

// Not a static query id: the cache key is the SQL text, which is always correct.
impl<F, W, S> QueryId for Update<F, W, S> {
    type QueryId = ();

    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<I, K, S> QueryId for Upsert<I, K, S> {
    type QueryId = ();

    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<F, W, S, C: Connection> RunQueryDsl<C> for Update<F, W, S> {}

impl<I, K, S, C: Connection> RunQueryDsl<C> for Upsert<I, K, S> {}

#[cfg(test)]
mod tests {
    use diesel::dsl::now;
    use diesel::prelude::*;
    use diesel::upsert::excluded;

    use diesel::SqliteConnection;
    use diesel::sqlite::Sqlite;

    use super::*;
    use crate::schema::{chat_settings, chat_users, media_attachments};

    #[test]
    fn the_sql_is_what_diesel_writes() {
        let ours = diesel::debug_query::<Sqlite, _>(&update(
            chat_users::table.find((1i64, 2i64)),
            (
                chat_users::messages_count.eq(chat_users::messages_count + 1),
                chat_users::updated_at.eq(now),
            ),
        ))
        .to_string();
        let diesel = diesel::debug_query::<Sqlite, _>(
            &diesel::update(chat_users::table.find((1i64, 2i64))).set((
                chat_users::messages_count.eq(chat_users::messages_count + 1),
                chat_users::updated_at.eq(now),
            )),
        )
        .to_string();
        assert_eq!(ours, diesel);
        let insert = || {
            diesel::insert_into(chat_settings::table)
                .values((chat_settings::chat_id.eq(1i64), chat_settings::key.eq("k")))
        };
        let ours = diesel::debug_query::<Sqlite, _>(&upsert(
            insert(),
            (chat_settings::chat_id, chat_settings::key),
            chat_settings::value.eq(excluded(chat_settings::value)),
        ))
        .to_string();
        let diesel = diesel::debug_query::<Sqlite, _>(
            &insert()
                .on_conflict((chat_settings::chat_id, chat_settings::key))
                .do_update()
                .set(chat_settings::value.eq(excluded(chat_settings::value))),
        )
        .to_string();
        assert_eq!(ours, diesel);
    }

    #[test]
    fn statements_stay_prepared_and_varying_changesets_stay_correct() {
        use std::sync::{Arc, Mutex};

        use diesel::connection::InstrumentationEvent;

        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        multisource_migrations::migrate(&multisource_migrations::Schema::multisource(), &mut conn)
            .unwrap();
        // Diesel reports each statement it prepares into its cache.
        let cached = Arc::new(Mutex::new(Vec::<String>::new()));
        let seen = cached.clone();
        conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::CacheQuery { sql, .. } = event {
                seen.lock().unwrap().push(sql.to_owned());
            }
        });
        diesel::insert_into(media_attachments::table)
            .values((
                media_attachments::file_unique_id.eq("u"),
                media_attachments::media_type.eq("image"),
                media_attachments::metadata.eq("{}"),
            ))
            .execute(&mut conn)
            .unwrap();
        // Two changesets of different SQL, alternately, through the same cache.
        for i in 0..3 {
            let size = Some(i64::from(i));
            update(
                media_attachments::table.filter(media_attachments::file_unique_id.eq("u")),
                media_attachments::file_size.eq(size),
            )
            .execute(&mut conn)
            .unwrap();
            update(
                media_attachments::table.filter(media_attachments::file_unique_id.eq("u")),
                media_attachments::mime_type.eq(format!("t/{i}")),
            )
            .execute(&mut conn)
            .unwrap();
            let (found_size, mime): (Option<i64>, Option<String>) = media_attachments::table
                .select((media_attachments::file_size, media_attachments::mime_type))
                .first(&mut conn)
                .unwrap();
            assert_eq!((found_size, mime.as_deref()), (size, Some(format!("t/{i}").as_str())));
        }
        let cached = cached.lock().unwrap();
        let updates: Vec<&String> = cached.iter().filter(|sql| sql.starts_with("UPDATE")).collect();
        assert_eq!(updates.len(), 2, "each UPDATE text prepared once: {cached:?}");
    }
}

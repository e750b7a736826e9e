//! A bot's own queries, written outside `multisource`: the same annotations as the library's own
//! queries produce extension traits implemented for `multisource::Database`. The integration
//! tests (`tests/it/extension.rs`) call them, routed, on a database of several sources.

use diesel::prelude::*;
use multisource::Connection;
use multisource::schema::{chat_info, chat_messages, chat_users, settings};

/// How many messages the chat holds.
#[multisource::read(chat = chat_id)]
pub fn count_messages(conn: &mut Connection, chat_id: i64) -> QueryResult<i64> {
    chat_messages::table.filter(chat_messages::chat_id.eq(chat_id)).count().get_result(conn)
}

/// A chat and how many users it has, as [`chats_with_users`] returns it.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct ChatSize {
    /// The chat.
    pub chat_id: i64,
    /// Its title.
    pub title: Option<String>,
    /// How many users it has.
    pub users: i64,
}

/// Every chat with at least `min_users` users, in every source; a chat is counted in the first
/// source that has it.
#[multisource::read(all_sources, key = chat_id)]
pub fn chats_with_users(conn: &mut Connection, min_users: i64) -> QueryResult<Vec<ChatSize>> {
    chat_info::table
        .inner_join(chat_users::table.on(chat_users::chat_id.eq(chat_info::chat_id)))
        .group_by((chat_info::chat_id, chat_info::title))
        .having(diesel::dsl::count_star().ge(min_users))
        .select((chat_info::chat_id, chat_info::title, diesel::dsl::count_star()))
        .order(chat_info::chat_id)
        .load(conn)
}

/// Renames a user in a chat; returns how many rows changed (0 when the user is unknown there).
#[multisource::write(chat = chat_id)]
pub fn rename_user(
    conn: &mut Connection,
    chat_id: i64,
    user_id: i64,
    full_name: &str,
) -> QueryResult<usize> {
    diesel::update(chat_users::table.find((chat_id, user_id)))
        .set(chat_users::full_name.eq(full_name))
        .execute(conn)
}

/// Adds one to the global counter `key`, starting from 0, and returns the new value.
#[multisource::write(global)]
pub fn bump_counter(conn: &mut Connection, key: &str) -> QueryResult<i64> {
    let current: Option<Option<String>> = settings::table
        .filter(settings::key.eq(key))
        .select(settings::value)
        .first(conn)
        .optional()?;
    let next = current.flatten().and_then(|v| v.parse::<i64>().ok()).unwrap_or(0) + 1;
    diesel::insert_into(settings::table)
        .values((settings::key.eq(key), settings::value.eq(next.to_string())))
        .on_conflict(settings::key)
        .do_update()
        .set(settings::value.eq(next.to_string()))
        .execute(conn)?;
    Ok(next)
}

/// The bot's own migrations: a `reminders` table and a `quota` table of chats, and a column added
/// to multisource's `chat_settings`, for SQLite and PostgreSQL sources.
pub static MIGRATIONS: multisource::BotMigrations = multisource::migrations!(
    sqlite = "bot-migrations/sqlite",
    postgres = "bot-migrations/postgres"
);

diesel::table! {
    /// The bot's `reminders` table.
    reminders (chat_id, message_id) {
        /// The chat.
        chat_id -> BigInt,
        /// The message that asked for the reminder.
        message_id -> Text,
        /// When it is due.
        due_at -> Timestamp,
        /// What to say.
        text -> Text,
        /// Whether it was said.
        delivered -> Bool,
    }
}

/// Adds a reminder to the chat's source.
#[multisource::write(chat = chat_id)]
pub fn add_reminder(
    conn: &mut Connection,
    chat_id: i64,
    message_id: &str,
    due_at: chrono::NaiveDateTime,
    text: &str,
) -> QueryResult<usize> {
    diesel::insert_into(reminders::table)
        .values((
            reminders::chat_id.eq(chat_id),
            reminders::message_id.eq(message_id),
            reminders::due_at.eq(due_at),
            reminders::text.eq(text),
        ))
        .execute(conn)
}

/// The chat's reminders not yet delivered, by due time.
#[multisource::read(chat = chat_id)]
pub fn pending_reminders(conn: &mut Connection, chat_id: i64) -> QueryResult<Vec<String>> {
    reminders::table
        .filter(reminders::chat_id.eq(chat_id).and(reminders::delivered.eq(false)))
        .order(reminders::due_at)
        .select(reminders::text)
        .load(conn)
}

/// The README's Rust examples, compiled as doctests so that they stay true.
#[doc = include_str!("../../README.md")]
mod readme {}

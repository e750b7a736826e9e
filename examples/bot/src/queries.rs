//! The bot's own queries: plain diesel functions, annotated. Each gives a method on
//! `multisource::Database` (through the trait `<Name>Ext`) and on `multisource::AsyncDatabase`
//! (through `<Name>AsyncExt`), routed like the library's own: by the chat, or to every source.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use multisource::Connection;

use crate::schema::{chat_messages, chat_users, reminders};

/// One line of `/stats`: a user of the chat and how many of its messages the bot stored.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct UserCount {
    /// The user.
    pub user_id: i64,
    /// Their name, as last seen.
    pub full_name: String,
    /// How many messages of theirs the chat holds.
    pub messages: i64,
}

/// The chat's users with how many messages each has sent, most first (then by name).
#[multisource::read(chat = chat_id)]
pub fn messages_per_user(conn: &mut Connection, chat_id: i64) -> QueryResult<Vec<UserCount>> {
    chat_messages::table
        .inner_join(
            chat_users::table.on(chat_users::chat_id
                .eq(chat_messages::chat_id)
                .and(chat_users::user_id.eq(chat_messages::user_id))),
        )
        .filter(chat_messages::chat_id.eq(chat_id))
        .group_by((chat_users::user_id, chat_users::full_name))
        .select((chat_users::user_id, chat_users::full_name, diesel::dsl::count_star()))
        .order((diesel::dsl::count_star().desc(), chat_users::full_name))
        .load(conn)
}

/// What identifies a reminder: the chat, and the message that asked for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Queryable)]
pub struct ReminderKey {
    /// The chat.
    pub chat_id: i64,
    /// The `/remind` message.
    pub message_id: String,
}

/// A reminder that is due.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Reminder {
    /// Which it is.
    pub key: ReminderKey,
    /// Who asked for it.
    pub user_id: i64,
    /// When it is due (UTC).
    pub due_at: NaiveDateTime,
    /// What to say.
    pub text: String,
}

/// Stores a reminder in the chat's source; `false` when that message already asked for one (an
/// update Telegram delivered twice), which leaves it as it was.
#[multisource::write(chat = chat_id)]
pub fn add_reminder(
    conn: &mut Connection,
    chat_id: i64,
    message_id: &str,
    user_id: i64,
    due_at: NaiveDateTime,
    text: &str,
) -> QueryResult<bool> {
    let added = diesel::insert_into(reminders::table)
        .values((
            reminders::chat_id.eq(chat_id),
            reminders::message_id.eq(message_id),
            reminders::user_id.eq(user_id),
            reminders::due_at.eq(due_at),
            reminders::text.eq(text),
        ))
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(added == 1)
}

/// Every reminder not yet delivered and due by `now`, from every source, oldest first within
/// each source.
#[multisource::read(all_sources, key = key)]
pub fn due_reminders(conn: &mut Connection, now: NaiveDateTime) -> QueryResult<Vec<Reminder>> {
    reminders::table
        .filter(reminders::delivered.eq(false).and(reminders::due_at.le(now)))
        .order(reminders::due_at)
        .select((
            (reminders::chat_id, reminders::message_id),
            reminders::user_id,
            reminders::due_at,
            reminders::text,
        ))
        .load(conn)
}

/// Marks a reminder delivered before it is sent, so that two bot processes never both send it;
/// `false` when it was already taken (or is not in the chat's source).
#[multisource::write(chat = chat_id)]
pub fn claim_reminder(conn: &mut Connection, chat_id: i64, message_id: &str) -> QueryResult<bool> {
    let claimed = diesel::update(reminders::table.find((chat_id, message_id)))
        .filter(reminders::delivered.eq(false))
        .set(reminders::delivered.eq(true))
        .execute(conn)?;
    Ok(claimed == 1)
}

/// Gives a claimed reminder back, when sending it failed, so that the next round tries again.
#[multisource::write(chat = chat_id)]
pub fn release_reminder(
    conn: &mut Connection,
    chat_id: i64,
    message_id: &str,
) -> QueryResult<bool> {
    let released = diesel::update(reminders::table.find((chat_id, message_id)))
        .set(reminders::delivered.eq(false))
        .execute(conn)?;
    Ok(released == 1)
}

//! The users of each chat, in the chat's source, and the two reads that look at every source.

use chrono::NaiveDateTime;
use diesel::dsl::now;
use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::Connection;
use crate::models::{ChatInfo, ChatUser};
use crate::queries::stored;
use crate::queries::{update, upsert};
use crate::schema::{chat_info, chat_users};

/// Records the user's username and full name in the chat, creating or updating its row; the
/// update marks the user as seen now.
#[multisource::write(chat = chat_id)]
pub fn update_chat_user(
    conn: &mut Connection,
    chat_id: i64,
    user_id: i64,
    username: &str,
    full_name: &str,
) -> QueryResult<()> {
    upsert(
        diesel::insert_into(chat_users::table).values((
            chat_users::chat_id.eq(chat_id),
            chat_users::user_id.eq(user_id),
            chat_users::username.eq(username),
            chat_users::full_name.eq(full_name),
            chat_users::updated_at.eq(now),
        )),
        (chat_users::chat_id, chat_users::user_id),
        (
            chat_users::username.eq(excluded(chat_users::username)),
            chat_users::full_name.eq(excluded(chat_users::full_name)),
            chat_users::updated_at.eq(now),
        ),
    )
    .execute(conn)
    .map(drop)
}

/// The user in the chat, if known.
#[multisource::read(chat = chat_id)]
pub fn get_chat_user(
    conn: &mut Connection,
    chat_id: i64,
    user_id: i64,
) -> QueryResult<Option<ChatUser>> {
    chat_users::table.find((chat_id, user_id)).select(ChatUser::as_select()).first(conn).optional()
}

/// Marks the user as a spammer in the chat, or not; true when the user is known there. The user's
/// `updated_at` is left as it is, as in the Python bot.
#[multisource::write(chat = chat_id)]
pub fn mark_user_is_spammer(
    conn: &mut Connection,
    chat_id: i64,
    user_id: i64,
    is_spammer: bool,
) -> QueryResult<bool> {
    update(chat_users::table.find((chat_id, user_id)), chat_users::is_spammer.eq(is_spammer))
        .execute(conn)
        .map(|n| n > 0)
}

/// Replaces the user's metadata in the chat; true when the user is known there.
#[multisource::write(chat = chat_id)]
pub fn update_user_metadata(
    conn: &mut Connection,
    chat_id: i64,
    user_id: i64,
    metadata: &str,
) -> QueryResult<bool> {
    update(
        chat_users::table.find((chat_id, user_id)),
        (chat_users::metadata.eq(metadata), chat_users::updated_at.eq(now)),
    )
    .execute(conn)
    .map(|n| n > 0)
}

/// The user of the chat with exactly this username (case-sensitive, with its `@`).
#[multisource::read(chat = chat_id)]
pub fn get_chat_user_by_username(
    conn: &mut Connection,
    chat_id: i64,
    username: &str,
) -> QueryResult<Option<ChatUser>> {
    chat_users::table
        .filter(chat_users::chat_id.eq(chat_id).and(chat_users::username.eq(username)))
        .select(ChatUser::as_select())
        .first(conn)
        .optional()
}

/// The chat's users most recently seen first, at most `limit` (the Python default was 10); only
/// those seen strictly after `seen_since` when given.
#[multisource::read(chat = chat_id)]
pub fn get_chat_users(
    conn: &mut Connection,
    chat_id: i64,
    limit: u32,
    seen_since: Option<NaiveDateTime>,
) -> QueryResult<Vec<ChatUser>> {
    let mut query = chat_users::table
        .filter(chat_users::chat_id.eq(chat_id))
        .select(ChatUser::as_select())
        .order(chat_users::updated_at.desc())
        .limit(i64::from(limit))
        .into_boxed();
    if let Some(seen_since) = seen_since {
        query = query.filter(chat_users::updated_at.gt(stored("seen_since", seen_since)?));
    }
    query.load(conn)
}

/// The chats the user is in. Without `source`, every source is asked, in configuration order,
/// and a chat found in several is returned once, from the first. Each source's chats come by chat
/// id (the Python method left the order to SQLite).
#[multisource::read(all_sources, key = chat_id)]
pub fn get_user_chats(conn: &mut Connection, user_id: i64) -> QueryResult<Vec<ChatInfo>> {
    chat_info::table
        .inner_join(chat_users::table.on(chat_users::chat_id.eq(chat_info::chat_id)))
        .filter(chat_users::user_id.eq(user_id))
        .select(ChatInfo::as_select())
        .order(chat_info::chat_id)
        .load(conn)
}

/// Every group and supergroup. Without `source`, every source is asked, in configuration order,
/// and a chat found in several is returned once, from the first. Each source's chats come by chat
/// id (the Python method left the order to SQLite).
#[multisource::read(all_sources, key = chat_id)]
pub fn get_all_group_chats(conn: &mut Connection) -> QueryResult<Vec<ChatInfo>> {
    chat_info::table
        .filter(chat_info::chat_type.eq("group").or(chat_info::chat_type.eq("supergroup")))
        .select(ChatInfo::as_select())
        .order(chat_info::chat_id)
        .load(conn)
}

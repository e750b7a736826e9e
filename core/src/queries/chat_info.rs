//! Chats and their forum topics, in the chat's source.

use diesel::dsl::now;
use diesel::prelude::*;
use diesel::upsert::excluded;

use crate::Connection;
use crate::models::{ChatInfo, ChatTopic};
use crate::queries::upsert;
use crate::schema::{chat_info, chat_topics};

/// Records the chat's type, title, username and forum flag, creating or updating its row.
#[multisource::write(chat = chat_id)]
pub fn update_chat_info(
    conn: &mut Connection,
    chat_id: i64,
    chat_type: &str,
    title: Option<&str>,
    username: Option<&str>,
    is_forum: bool,
) -> QueryResult<()> {
    upsert(
        diesel::insert_into(chat_info::table).values((
            chat_info::chat_id.eq(chat_id),
            chat_info::chat_type.eq(chat_type),
            chat_info::title.eq(title),
            chat_info::username.eq(username),
            chat_info::is_forum.eq(is_forum),
        )),
        (chat_info::chat_id,),
        (
            chat_info::chat_type.eq(excluded(chat_info::chat_type)),
            chat_info::title.eq(excluded(chat_info::title)),
            chat_info::username.eq(excluded(chat_info::username)),
            chat_info::is_forum.eq(excluded(chat_info::is_forum)),
            chat_info::updated_at.eq(now),
        ),
    )
    .execute(conn)
    .map(drop)
}

/// The chat, if it is known.
#[multisource::read(chat = chat_id, cached)]
pub fn get_chat_info(conn: &mut Connection, chat_id: i64) -> QueryResult<Option<ChatInfo>> {
    chat_info::table.find(chat_id).select(ChatInfo::as_select()).first(conn).optional()
}

/// Records a forum topic of the chat, creating or updating its row. A topic without a name is
/// named `Default`, as in the Python bot.
#[multisource::write(chat = chat_id)]
pub fn update_chat_topic_info(
    conn: &mut Connection,
    chat_id: i64,
    topic_id: i64,
    icon_color: Option<i64>,
    custom_emoji_id: Option<&str>,
    topic_name: Option<&str>,
) -> QueryResult<()> {
    upsert(
        diesel::insert_into(chat_topics::table).values((
            chat_topics::chat_id.eq(chat_id),
            chat_topics::topic_id.eq(topic_id),
            chat_topics::icon_color.eq(icon_color),
            chat_topics::icon_custom_emoji_id.eq(custom_emoji_id),
            chat_topics::name.eq(topic_name.unwrap_or("Default")),
            chat_topics::updated_at.eq(now),
        )),
        (chat_topics::chat_id, chat_topics::topic_id),
        (
            chat_topics::icon_color.eq(excluded(chat_topics::icon_color)),
            chat_topics::icon_custom_emoji_id.eq(excluded(chat_topics::icon_custom_emoji_id)),
            chat_topics::name.eq(excluded(chat_topics::name)),
            chat_topics::updated_at.eq(now),
        ),
    )
    .execute(conn)
    .map(drop)
}

/// The chat's forum topics, by topic id (the Python method left the order to SQLite).
#[multisource::read(chat = chat_id)]
pub fn get_chat_topics(conn: &mut Connection, chat_id: i64) -> QueryResult<Vec<ChatTopic>> {
    chat_topics::table
        .filter(chat_topics::chat_id.eq(chat_id))
        .order(chat_topics::topic_id)
        .select(ChatTopic::as_select())
        .load(conn)
}

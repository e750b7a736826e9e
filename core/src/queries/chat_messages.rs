//! Messages, in the chat's source. Reads return [`ChatMessage`]s: the message joined with its
//! author's row in `chat_users` (a message whose author has no row there is not returned, as in
//! the Python bot) and with its media attachment.
//!
//! Media attachments are global: they are written to the default source. The Python bot joined
//! them in the chat's source only, so the messages of a chat mapped elsewhere came back without
//! their media. Here, an attachment the chat's source does not hold is looked up in the default
//! source ([`attach_media`]).

use chrono::{NaiveDateTime, NaiveTime};
use diesel::dsl::now;
use diesel::prelude::*;

use crate::enums::MessageCategory;
use crate::models::{ChatMessage, MediaAttachment, NewMessage};
use crate::queries::stored;
use crate::queries::{update, upsert};
use crate::schema::{chat_messages, chat_stats, chat_user_stats, chat_users, media_attachments};
use crate::{Connection, Database};

/// Messages that [`attach_media`] can complete: one or many.
pub trait Messages {
    /// Every message, to complete.
    fn messages(&mut self) -> impl Iterator<Item = &mut ChatMessage>;
}

impl Messages for Vec<ChatMessage> {
    fn messages(&mut self) -> impl Iterator<Item = &mut ChatMessage> {
        self.iter_mut()
    }
}

impl Messages for Option<ChatMessage> {
    fn messages(&mut self) -> impl Iterator<Item = &mut ChatMessage> {
        self.iter_mut()
    }
}

/// Completes messages read from a source other than the default one with the media attachments
/// that source does not hold, looked up in the default source, where attachments are written.
/// Messages read from the default source are returned as they are, without another query.
pub fn attach_media<M: Messages>(
    db: &Database,
    chat_id: Option<i64>,
    source: Option<&str>,
    mut found: M,
) -> multisource::Result<M> {
    let missing: Vec<String> =
        found.messages().filter(|m| m.media.is_none()).filter_map(|m| m.media_id.clone()).collect();
    if missing.is_empty() {
        return Ok(found);
    }
    let config = db.config();
    let default = config.default_source();
    if db.route(chat_id, source)?.source() == default {
        return Ok(found);
    }
    // One query, for the default source's kind of connection.
    macro_rules! media {
        ($conn:ident) => {
            media_attachments::table
                .filter(media_attachments::file_unique_id.eq_any(&missing))
                .select(MediaAttachment::as_select())
                .load($conn)
        };
    }
    let media: Vec<MediaAttachment> = db.read_any(None, Some(default), |conn| {
        conn.run((), |c, ()| media!(c), crate::__private::__if_postgres!(expr: |c, ()| media!(c)))
    })?;
    for message in found.messages() {
        if message.media.is_none() {
            let id = message.media_id.as_deref();
            message.media = media.iter().find(|m| Some(m.file_unique_id.as_str()) == id).cloned();
        }
    }
    Ok(found)
}

/// Messages joined with their authors and media, as the Python bot's `MSG_SELECT`.
macro_rules! messages {
    () => {
        chat_messages::table
            .inner_join(
                chat_users::table.on(chat_users::chat_id
                    .eq(chat_messages::chat_id)
                    .and(chat_users::user_id.eq(chat_messages::user_id))),
            )
            .left_join(
                media_attachments::table.on(chat_messages::media_id
                    .is_not_null()
                    .and(chat_messages::media_id.eq(media_attachments::file_unique_id))),
            )
    };
}

/// Saves a message, in one transaction of four statements: the message itself (a message id
/// already saved in the chat is an error, and nothing is written), one more message for its
/// author in `chat_users`, and one more for the chat and for the author on the message's day in
/// `chat_stats` and `chat_user_stats`. The date is stored to the second.
#[multisource::write(chat = chat_id)]
pub fn save_chat_message(
    conn: &mut Connection,
    date: NaiveDateTime,
    chat_id: i64,
    user_id: i64,
    message_id: &str,
    message: &NewMessage<'_>,
) -> QueryResult<()> {
    let date = stored("date", date)?;
    let day = date.date().and_time(NaiveTime::MIN);
    diesel::insert_into(chat_messages::table)
        .values((
            chat_messages::date.eq(date),
            chat_messages::chat_id.eq(chat_id),
            chat_messages::user_id.eq(user_id),
            chat_messages::message_id.eq(message_id),
            chat_messages::reply_id.eq(message.reply_id),
            chat_messages::thread_id.eq(message.thread_id.unwrap_or(0)),
            chat_messages::message_text.eq(message.message_text),
            chat_messages::message_type.eq(message.message_type),
            chat_messages::message_category.eq(message.message_category),
            chat_messages::root_message_id.eq(message.root_message_id),
            chat_messages::quote_text.eq(message.quote_text),
            chat_messages::media_id.eq(message.media_id),
        ))
        .execute(conn)?;
    update(
        chat_users::table.find((chat_id, user_id)),
        (
            chat_users::messages_count.eq(chat_users::messages_count + 1),
            chat_users::updated_at.eq(now),
        ),
    )
    .execute(conn)?;
    upsert(
        diesel::insert_into(chat_stats::table).values((
            chat_stats::chat_id.eq(chat_id),
            chat_stats::date.eq(day),
            chat_stats::messages_count.eq(1),
            chat_stats::updated_at.eq(now),
        )),
        (chat_stats::chat_id, chat_stats::date),
        (
            chat_stats::messages_count.eq(chat_stats::messages_count + 1),
            chat_stats::updated_at.eq(now),
        ),
    )
    .execute(conn)?;
    upsert(
        diesel::insert_into(chat_user_stats::table).values((
            chat_user_stats::chat_id.eq(chat_id),
            chat_user_stats::user_id.eq(user_id),
            chat_user_stats::date.eq(day),
            chat_user_stats::messages_count.eq(1),
            chat_user_stats::updated_at.eq(now),
        )),
        (chat_user_stats::chat_id, chat_user_stats::user_id, chat_user_stats::date),
        (
            chat_user_stats::messages_count.eq(chat_user_stats::messages_count + 1),
            chat_user_stats::updated_at.eq(now),
        ),
    )
    .execute(conn)
    .map(drop)
}

/// The chat's messages, newest first: sent strictly after `since` and strictly before `till`
/// when given, in the forum topic `thread_id` when given, of one of `categories` when given, at
/// most `limit` when given. An empty `categories` list matches no message, as in the Python bot.
#[multisource::read(chat = chat_id, finish = attach_media)]
pub fn get_chat_messages_since(
    conn: &mut Connection,
    chat_id: i64,
    since: Option<NaiveDateTime>,
    till: Option<NaiveDateTime>,
    thread_id: Option<i64>,
    limit: Option<u32>,
    categories: Option<&[MessageCategory]>,
) -> QueryResult<Vec<ChatMessage>> {
    if categories.is_some_and(<[_]>::is_empty) {
        return Ok(Vec::new());
    }
    let mut query = messages!()
        .filter(chat_messages::chat_id.eq(chat_id))
        .select(ChatMessage::as_select())
        .order(chat_messages::date.desc())
        .into_boxed();
    if let Some(since) = since {
        query = query.filter(chat_messages::date.gt(stored("since", since)?));
    }
    if let Some(till) = till {
        query = query.filter(chat_messages::date.lt(stored("till", till)?));
    }
    if let Some(thread_id) = thread_id {
        query = query.filter(chat_messages::thread_id.eq(thread_id));
    }
    if let Some(categories) = categories {
        query = query.filter(chat_messages::message_category.eq_any(categories.to_vec()));
    }
    if let Some(limit) = limit {
        query = query.limit(i64::from(limit));
    }
    query.load(conn)
}

/// One message of the chat, by id.
#[multisource::read(chat = chat_id, finish = attach_media)]
pub fn get_chat_message_by_message_id(
    conn: &mut Connection,
    chat_id: i64,
    message_id: &str,
) -> QueryResult<Option<ChatMessage>> {
    messages!()
        .filter(chat_messages::chat_id.eq(chat_id).and(chat_messages::message_id.eq(message_id)))
        .select(ChatMessage::as_select())
        .first(conn)
        .optional()
}

/// The messages of the chat whose reply chain starts at `root_message_id`, oldest first; only
/// those in the forum topic `thread_id` when given.
#[multisource::read(chat = chat_id, finish = attach_media)]
pub fn get_chat_messages_by_root_id(
    conn: &mut Connection,
    chat_id: i64,
    root_message_id: &str,
    thread_id: Option<i64>,
) -> QueryResult<Vec<ChatMessage>> {
    let mut query = messages!()
        .filter(chat_messages::chat_id.eq(chat_id))
        .filter(chat_messages::root_message_id.eq(root_message_id))
        .select(ChatMessage::as_select())
        .order(chat_messages::date.asc())
        .into_boxed();
    if let Some(thread_id) = thread_id {
        query = query.filter(chat_messages::thread_id.eq(thread_id));
    }
    query.load(conn)
}

/// The user's latest messages in the chat, newest first, at most `limit` (the Python default was
/// 100).
#[multisource::read(chat = chat_id, finish = attach_media)]
pub fn get_chat_messages_by_user(
    conn: &mut Connection,
    chat_id: i64,
    user_id: i64,
    limit: u32,
) -> QueryResult<Vec<ChatMessage>> {
    messages!()
        .filter(chat_messages::chat_id.eq(chat_id).and(chat_messages::user_id.eq(user_id)))
        .select(ChatMessage::as_select())
        .order(chat_messages::date.desc())
        .limit(i64::from(limit))
        .load(conn)
}

/// Changes a message's category; true when the message exists.
#[multisource::write(chat = chat_id)]
pub fn update_chat_message_category(
    conn: &mut Connection,
    chat_id: i64,
    message_id: &str,
    category: MessageCategory,
) -> QueryResult<bool> {
    update(
        chat_messages::table.find((chat_id, message_id)),
        chat_messages::message_category.eq(category),
    )
    .execute(conn)
    .map(|n| n > 0)
}

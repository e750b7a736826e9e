//! Messages recorded as spam or as ham (not spam), for the spam filter. They are written to the
//! chat's source; the global reads look at the default source (or the one named), as the Python
//! bot did.

use diesel::prelude::*;

use crate::Connection;
use crate::enums::SpamReason;
use crate::models::SpamMessage;
use crate::schema::{ham_messages, spam_messages};

/// Records a message as spam; one already recorded is an error, and nothing is written.
#[multisource::write(chat = chat_id)]
pub fn add_spam_message(
    conn: &mut Connection,
    chat_id: i64,
    user_id: i64,
    message_id: &str,
    message_text: &str,
    spam_reason: SpamReason,
    score: f64,
) -> QueryResult<()> {
    diesel::insert_into(spam_messages::table)
        .values((
            spam_messages::chat_id.eq(chat_id),
            spam_messages::user_id.eq(user_id),
            spam_messages::message_id.eq(message_id),
            spam_messages::text.eq(message_text),
            spam_messages::reason.eq(spam_reason),
            spam_messages::score.eq(score),
        ))
        .execute(conn)
        .map(drop)
}

/// Records a message as ham (not spam); one already recorded is an error, and nothing is written.
#[multisource::write(chat = chat_id)]
pub fn add_ham_message(
    conn: &mut Connection,
    chat_id: i64,
    user_id: i64,
    message_id: &str,
    message_text: &str,
    spam_reason: SpamReason,
    score: f64,
) -> QueryResult<()> {
    diesel::insert_into(ham_messages::table)
        .values((
            ham_messages::chat_id.eq(chat_id),
            ham_messages::user_id.eq(user_id),
            ham_messages::message_id.eq(message_id),
            ham_messages::text.eq(message_text),
            ham_messages::reason.eq(spam_reason),
            ham_messages::score.eq(score),
        ))
        .execute(conn)
        .map(drop)
}

/// The spam messages with exactly this text.
#[multisource::read(global)]
pub fn get_spam_messages_by_text(
    conn: &mut Connection,
    text: &str,
) -> QueryResult<Vec<SpamMessage>> {
    spam_messages::table
        .filter(spam_messages::text.eq(text))
        .select(SpamMessage::as_select())
        .load(conn)
}

/// Spam messages, at most `limit` (the Python default was 1000), in the order SQLite keeps them.
#[multisource::read(global)]
pub fn get_spam_messages(conn: &mut Connection, limit: u32) -> QueryResult<Vec<SpamMessage>> {
    spam_messages::table.select(SpamMessage::as_select()).limit(i64::from(limit)).load(conn)
}

/// Removes the user's spam messages in the chat; returns how many there were.
#[multisource::write(chat = chat_id)]
pub fn delete_spam_messages_by_user_id(
    conn: &mut Connection,
    chat_id: i64,
    user_id: i64,
) -> QueryResult<usize> {
    diesel::delete(
        spam_messages::table
            .filter(spam_messages::chat_id.eq(chat_id).and(spam_messages::user_id.eq(user_id))),
    )
    .execute(conn)
}

/// The user's spam messages in the chat.
#[multisource::read(chat = chat_id)]
pub fn get_spam_messages_by_user_id(
    conn: &mut Connection,
    chat_id: i64,
    user_id: i64,
) -> QueryResult<Vec<SpamMessage>> {
    spam_messages::table
        .filter(spam_messages::chat_id.eq(chat_id).and(spam_messages::user_id.eq(user_id)))
        .select(SpamMessage::as_select())
        .load(conn)
}

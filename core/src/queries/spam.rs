//! Messages recorded as spam or as ham (not spam), for the spam filter. They are written to the
//! chat's source; the global reads look at the default source (or the one named), as the Python
//! bot did.

use diesel::prelude::*;

use crate::Connection;
use crate::enums::SpamReason;
use crate::models::SpamMessage;
use crate::schema::{ham_messages, spam_messages};

/// Inserts a message into `spam_messages` or `ham_messages`, which have one shape.
macro_rules! record {
    ($table:ident, $conn:expr, $chat_id:expr, $user_id:expr, $message_id:expr, $text:expr, $reason:expr, $score:expr) => {
        diesel::insert_into($table::table)
            .values((
                $table::chat_id.eq($chat_id),
                $table::user_id.eq($user_id),
                $table::message_id.eq($message_id),
                $table::text.eq($text),
                $table::reason.eq($reason),
                $table::score.eq($score),
            ))
            .execute($conn)
            .map(drop)
    };
}

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
    record!(spam_messages, conn, chat_id, user_id, message_id, message_text, spam_reason, score)
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
    record!(ham_messages, conn, chat_id, user_id, message_id, message_text, spam_reason, score)
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

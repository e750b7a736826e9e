//! Cached summaries of ranges of messages, in the chat's source.

use diesel::dsl::now;
use diesel::prelude::*;
use diesel::upsert::excluded;
use sha2::{Digest, Sha512};

use crate::Connection;
use crate::models::ChatSummarization;
use crate::queries::upsert;
use crate::schema::chat_summarization_cache as cache;

/// The key of a cached summary, exactly as the Python bot computed it: the lowercase hex SHA-512
/// of `"{chat_id}:{topic_id}_{first_message_id}:{last_message_id}-{prompt}"`, where a missing
/// topic is written `None`.
pub fn summarization_key(
    chat_id: i64,
    topic_id: Option<i64>,
    first_message_id: &str,
    last_message_id: &str,
    prompt: &str,
) -> String {
    let topic = topic_id.map_or_else(|| "None".to_owned(), |t| t.to_string());
    let text = format!("{chat_id}:{topic}_{first_message_id}:{last_message_id}-{prompt}");
    Sha512::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Stores the summary of the messages `first_message_id` to `last_message_id` made with
/// `prompt`, replacing the summary already stored for the same range and prompt.
#[multisource::write(chat = chat_id)]
pub fn add_chat_summarization(
    conn: &mut Connection,
    chat_id: i64,
    topic_id: Option<i64>,
    first_message_id: &str,
    last_message_id: &str,
    prompt: &str,
    summary: &str,
) -> QueryResult<()> {
    let csid = summarization_key(chat_id, topic_id, first_message_id, last_message_id, prompt);
    upsert(
        diesel::insert_into(cache::table).values((
            cache::csid.eq(csid),
            cache::chat_id.eq(chat_id),
            cache::topic_id.eq(topic_id),
            cache::first_message_id.eq(first_message_id),
            cache::last_message_id.eq(last_message_id),
            cache::prompt.eq(prompt),
            cache::summary.eq(summary),
            cache::created_at.eq(now),
            cache::updated_at.eq(now),
        )),
        (cache::csid,),
        (cache::summary.eq(excluded(cache::summary)), cache::updated_at.eq(now)),
    )
    .execute(conn)
    .map(drop)
}

/// The stored summary of the messages `first_message_id` to `last_message_id` made with
/// `prompt`, if any.
#[multisource::read(chat = chat_id)]
pub fn get_chat_summarization(
    conn: &mut Connection,
    chat_id: i64,
    topic_id: Option<i64>,
    first_message_id: &str,
    last_message_id: &str,
    prompt: &str,
) -> QueryResult<Option<ChatSummarization>> {
    let csid = summarization_key(chat_id, topic_id, first_message_id, last_message_id, prompt);
    cache::table
        .filter(cache::csid.eq(csid))
        .select(ChatSummarization::as_select())
        .first(conn)
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_python_sha512_of_the_python_string() {
        // Computed with Python: hashlib.sha512(f"{chatId}:{topicId}_{first}:{last}-{prompt}"
        // .encode()).hexdigest().
        assert_eq!(
            summarization_key(-100, None, "1", "20", "Summarize"),
            "e0ca883f466c07db6de6c1d18faafafc1e163569a3862f2e68ddd97a1972ebc7\
             a529ef7eb7fd0f332f534d51f1cf0c74951c7ab7f6289891dd23c16247bf0b03"
        );
        assert_eq!(
            summarization_key(-100, Some(7), "1", "20", "Сводка ☃"),
            "ff5d59b2f92458573d5c618b0d10e65b6e095ae59f94bade1b9d50d2238b04b0\
             a5b5cad6a7aa830d9c8c495ac8a5b941828274f063072679a5aa22a99ccc57d0"
        );
    }
}

//! The rows the data methods return and the inputs they take, with public fields named as the
//! columns (`chat_type` for the column `type`). Timestamps are naive UTC date-times, as the Python
//! bot stored them (`YYYY-MM-DD HH:MM:SS`).

use chrono::NaiveDateTime;
use diesel::dsl::AssumeNotNull;
use diesel::prelude::*;
use diesel::sqlite::Sqlite;

use crate::enums::{MediaStatus, MessageCategory, MessageType, SpamReason};
use crate::schema::{
    chat_info, chat_messages, chat_summarization_cache, chat_topics, chat_users, delayed_tasks,
    media_attachments, spam_messages,
};
use crate::timestamps::{MaybeStamp, Stamp};

/// A message, with its author's name and its media attachment (the Python `ChatMessageDict`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = chat_messages, check_for_backend(Sqlite))]
pub struct ChatMessage {
    /// The chat.
    pub chat_id: i64,
    /// The message id, as text (Telegram's integers and Max's strings alike).
    pub message_id: String,
    /// When the message was sent.
    #[diesel(deserialize_as = Stamp)]
    pub date: NaiveDateTime,
    /// The author.
    pub user_id: i64,
    /// The message this one replies to.
    pub reply_id: Option<String>,
    /// The forum topic; 0 outside topics.
    pub thread_id: i64,
    /// The first message of the reply chain.
    pub root_message_id: Option<String>,
    /// The text.
    pub message_text: String,
    /// The kind of message.
    pub message_type: MessageType,
    /// Who or what it comes from.
    pub message_category: MessageCategory,
    /// The quoted text, if any.
    pub quote_text: Option<String>,
    /// The media attachment's `file_unique_id`, if any.
    pub media_id: Option<String>,
    /// When the row was written.
    #[diesel(deserialize_as = MaybeStamp)]
    pub created_at: Option<NaiveDateTime>,
    /// The author's username in the chat (from `chat_users`).
    #[diesel(select_expression = chat_users::username)]
    pub username: String,
    /// The author's full name in the chat (from `chat_users`).
    #[diesel(select_expression = chat_users::full_name)]
    pub full_name: String,
    /// The media attachment, when `media_id` names one in the same source.
    #[diesel(embed)]
    pub media: Option<MediaAttachment>,
}

/// A user of a chat (the Python `ChatUserDict`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = chat_users, check_for_backend(Sqlite))]
pub struct ChatUser {
    /// The chat.
    pub chat_id: i64,
    /// The user.
    pub user_id: i64,
    /// The username, with its `@`.
    pub username: String,
    /// The full name.
    pub full_name: String,
    /// The user's time zone, if known.
    pub timezone: Option<String>,
    /// How many messages the user saved in the chat.
    pub messages_count: i64,
    /// When the row was created.
    #[diesel(deserialize_as = MaybeStamp)]
    pub created_at: Option<NaiveDateTime>,
    /// When the row last changed: the user was last seen then.
    #[diesel(deserialize_as = MaybeStamp)]
    pub updated_at: Option<NaiveDateTime>,
    /// True when the user is marked as a spammer.
    pub is_spammer: bool,
    /// Free-form metadata, usually JSON; empty by default.
    pub metadata: String,
}

/// A chat (the Python `ChatInfoDict`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = chat_info, check_for_backend(Sqlite))]
pub struct ChatInfo {
    /// The chat.
    pub chat_id: i64,
    /// The title.
    pub title: Option<String>,
    /// The public username.
    pub username: Option<String>,
    /// The chat type (`private`, `group`, `supergroup`, `channel`): the column `type`.
    pub chat_type: String,
    /// True for forum supergroups.
    pub is_forum: bool,
    /// When the row was created.
    #[diesel(deserialize_as = MaybeStamp)]
    pub created_at: Option<NaiveDateTime>,
    /// When the row last changed.
    #[diesel(deserialize_as = MaybeStamp)]
    pub updated_at: Option<NaiveDateTime>,
}

/// A forum topic of a chat (the Python `ChatTopicInfoDict`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = chat_topics, check_for_backend(Sqlite))]
pub struct ChatTopic {
    /// The chat.
    pub chat_id: i64,
    /// The topic.
    pub topic_id: i64,
    /// The icon's color.
    pub icon_color: Option<i64>,
    /// The icon's custom emoji.
    pub icon_custom_emoji_id: Option<String>,
    /// The topic's name.
    pub name: Option<String>,
    /// When the row was created.
    #[diesel(deserialize_as = MaybeStamp)]
    pub created_at: Option<NaiveDateTime>,
    /// When the row last changed.
    #[diesel(deserialize_as = MaybeStamp)]
    pub updated_at: Option<NaiveDateTime>,
}

/// A media attachment (the Python `MediaAttachmentDict`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = media_attachments, check_for_backend(Sqlite))]
pub struct MediaAttachment {
    /// The messenger's stable id of the file.
    #[diesel(select_expression = media_attachments::file_unique_id.assume_not_null())]
    #[diesel(select_expression_type = AssumeNotNull<media_attachments::file_unique_id>)]
    pub file_unique_id: String,
    /// The messenger's id to download the file.
    pub file_id: Option<String>,
    /// The size in bytes.
    pub file_size: Option<i64>,
    /// The kind of media, a [`MessageType`] string.
    pub media_type: String,
    /// Free-form metadata, usually JSON.
    pub metadata: String,
    /// Where its processing stands.
    pub status: MediaStatus,
    /// The MIME type.
    pub mime_type: Option<String>,
    /// Where a local copy is.
    pub local_url: Option<String>,
    /// The prompt used to describe it.
    pub prompt: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// When the row was created.
    #[diesel(deserialize_as = MaybeStamp)]
    pub created_at: Option<NaiveDateTime>,
    /// When the row last changed.
    #[diesel(deserialize_as = MaybeStamp)]
    pub updated_at: Option<NaiveDateTime>,
}

/// A task to run later (the Python `DelayedTaskDict`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = delayed_tasks, check_for_backend(Sqlite))]
pub struct DelayedTask {
    /// The task id.
    pub id: String,
    /// When to run it, as a Unix timestamp.
    pub delayed_ts: i64,
    /// The function to run.
    pub function: String,
    /// Its arguments, as JSON.
    pub kwargs: String,
    /// True once done.
    pub is_done: bool,
    /// When the row was created.
    #[diesel(deserialize_as = MaybeStamp)]
    pub created_at: Option<NaiveDateTime>,
    /// When the row last changed.
    #[diesel(deserialize_as = MaybeStamp)]
    pub updated_at: Option<NaiveDateTime>,
}

/// A message recorded as spam (the Python `SpamMessageDict`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = spam_messages, check_for_backend(Sqlite))]
pub struct SpamMessage {
    /// The chat.
    pub chat_id: i64,
    /// The author.
    pub user_id: i64,
    /// The message id, as text.
    pub message_id: String,
    /// The message's text.
    pub text: String,
    /// Why it was recorded.
    pub reason: SpamReason,
    /// The classifier's score.
    pub score: f64,
    /// When the row was created.
    #[diesel(deserialize_as = MaybeStamp)]
    pub created_at: Option<NaiveDateTime>,
    /// When the row last changed.
    #[diesel(deserialize_as = MaybeStamp)]
    pub updated_at: Option<NaiveDateTime>,
}

/// A cached summary of a range of messages (the Python `ChatSummarizationCacheDict`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = chat_summarization_cache, check_for_backend(Sqlite))]
pub struct ChatSummarization {
    /// The key: [`crate::queries::summarization::summarization_key`] of the other fields.
    #[diesel(select_expression = chat_summarization_cache::csid.assume_not_null())]
    #[diesel(select_expression_type = AssumeNotNull<chat_summarization_cache::csid>)]
    pub csid: String,
    /// The chat.
    pub chat_id: i64,
    /// The forum topic, if any.
    pub topic_id: Option<i64>,
    /// The first message summarized.
    pub first_message_id: String,
    /// The last message summarized.
    pub last_message_id: String,
    /// The prompt used.
    pub prompt: String,
    /// The summary.
    pub summary: String,
    /// When the row was created.
    #[diesel(deserialize_as = MaybeStamp)]
    pub created_at: Option<NaiveDateTime>,
    /// When the row last changed.
    #[diesel(deserialize_as = MaybeStamp)]
    pub updated_at: Option<NaiveDateTime>,
}

/// An entry of one of the typed caches (the Python `CacheDict`).
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct CacheEntry {
    /// The key.
    pub key: String,
    /// The cached data, usually JSON.
    pub data: String,
    /// When the entry was created.
    #[diesel(deserialize_as = MaybeStamp)]
    pub created_at: Option<NaiveDateTime>,
    /// When the entry was last written.
    #[diesel(deserialize_as = MaybeStamp)]
    pub updated_at: Option<NaiveDateTime>,
}

/// An entry of the generic key-value cache (the Python `CacheStorageDict`).
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct CacheStorageEntry {
    /// The namespace.
    pub namespace: String,
    /// The key within the namespace.
    pub key: String,
    /// The value.
    pub value: String,
    /// When the entry was last written.
    #[diesel(deserialize_as = MaybeStamp)]
    pub updated_at: Option<NaiveDateTime>,
}

/// The optional fields of a new message (the optional parameters of the Python
/// `saveChatMessage`); `Default` gives their Python defaults.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct NewMessage<'a> {
    /// The message this one replies to.
    pub reply_id: Option<&'a str>,
    /// The forum topic; `None` is stored as 0, as the Python bot did.
    pub thread_id: Option<i64>,
    /// The text; empty by default.
    pub message_text: &'a str,
    /// The kind of message; `text` by default.
    pub message_type: MessageType,
    /// Who or what it comes from; `unspecified` by default, as the Python bot's method had it
    /// (the column's own default, `user`, applies only to rows written without a category).
    pub message_category: MessageCategory,
    /// The first message of the reply chain.
    pub root_message_id: Option<&'a str>,
    /// The quoted text.
    pub quote_text: Option<&'a str>,
    /// The media attachment's `file_unique_id`.
    pub media_id: Option<&'a str>,
}

/// The optional fields of a new media attachment (the Python `addMediaAttachment` keywords);
/// `Default` gives their Python defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewMediaAttachment<'a> {
    /// The size in bytes.
    pub file_size: Option<i64>,
    /// The kind of media; `image` by default.
    pub media_type: MessageType,
    /// The MIME type.
    pub mime_type: Option<&'a str>,
    /// Free-form metadata; `{}` by default.
    pub metadata: &'a str,
    /// Where its processing stands; `new` by default.
    pub status: MediaStatus,
    /// Where a local copy is.
    pub local_url: Option<&'a str>,
    /// The prompt used to describe it.
    pub prompt: Option<&'a str>,
    /// Its description.
    pub description: Option<&'a str>,
}

impl Default for NewMediaAttachment<'_> {
    fn default() -> Self {
        NewMediaAttachment {
            file_size: None,
            media_type: MessageType::Image,
            mime_type: None,
            metadata: "{}",
            status: MediaStatus::New,
            local_url: None,
            prompt: None,
            description: None,
        }
    }
}

/// The fields of a media attachment to change; `None` leaves a field as it is (so a field cannot
/// be set back to NULL, as in the Python bot).
#[derive(Debug, Clone, Copy, PartialEq, Default, AsChangeset)]
#[diesel(table_name = media_attachments)]
pub struct MediaAttachmentUpdate<'a> {
    /// The size in bytes.
    pub file_size: Option<i64>,
    /// Where its processing stands.
    pub status: Option<MediaStatus>,
    /// Free-form metadata.
    pub metadata: Option<&'a str>,
    /// The MIME type.
    pub mime_type: Option<&'a str>,
    /// Where a local copy is.
    pub local_url: Option<&'a str>,
    /// Its description.
    pub description: Option<&'a str>,
    /// The prompt used to describe it.
    pub prompt: Option<&'a str>,
}

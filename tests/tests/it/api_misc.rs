//! The remaining methods: summaries, media attachments, delayed tasks, spam and ham, caches.

use diesel::prelude::*;
use multisource::queries::summarization::summarization_key;
use multisource::schema::{cache_storage, cache_weather, ham_messages, media_attachments};
use multisource::{
    CacheType, Error, MediaAttachmentUpdate, MediaStatus, MessageType, NewMediaAttachment,
    SpamReason,
};

use crate::backends::{Backend, Place, on_conn, on_each_backend};

/// 2020-01-01 00:00:00.
fn long_ago() -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap()
}

on_each_backend! {
fn add_chat_summarization_and_get_chat_summarization(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    assert_eq!(db.get_chat_summarization(-1, None, "1", "20", "Summarize", None).unwrap(), None);
    db.add_chat_summarization(-1, None, "1", "20", "Summarize", "first summary").unwrap();
    db.add_chat_summarization(-1, Some(7), "1", "20", "Summarize", "topic summary").unwrap();
    db.add_chat_summarization(-1, None, "1", "20", "Summarize", "second summary").unwrap();
    let found = db.get_chat_summarization(-1, None, "1", "20", "Summarize", None).unwrap().unwrap();
    assert_eq!(found.summary, "second summary");
    assert_eq!(found.csid, summarization_key(-1, None, "1", "20", "Summarize"));
    assert_eq!(
        (
            found.chat_id,
            found.topic_id,
            found.first_message_id.as_str(),
            found.last_message_id.as_str()
        ),
        (-1, None, "1", "20")
    );
    let topic =
        db.get_chat_summarization(-1, Some(7), "1", "20", "Summarize", None).unwrap().unwrap();
    assert_eq!(topic.summary, "topic summary");
    assert_eq!(db.get_chat_summarization(-1, None, "1", "21", "Summarize", None).unwrap(), None);
    assert_eq!(db.get_chat_summarization(-1, None, "1", "20", "Other prompt", None).unwrap(), None);
}
}

on_each_backend! {
fn add_media_attachment_get_media_attachment_and_its_defaults(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    assert_eq!(db.get_media_attachment("u1", None).unwrap(), None);
    db.add_media_attachment("u1", "f1", &NewMediaAttachment::default()).unwrap();
    let media = db.get_media_attachment("u1", None).unwrap().unwrap();
    assert_eq!((media.file_id.as_deref(), media.media_type.as_str()), (Some("f1"), "image"));
    assert_eq!((media.metadata.as_str(), media.status), ("{}", MediaStatus::New));
    assert_eq!((media.file_size, media.mime_type, media.description), (None, None, None));
    let full = NewMediaAttachment {
        file_size: Some(2048),
        media_type: MessageType::Voice,
        mime_type: Some("audio/ogg"),
        metadata: r#"{"duration": 3}"#,
        status: MediaStatus::Pending,
        local_url: Some("/tmp/v.ogg"),
        prompt: Some("transcribe"),
        description: Some("a voice"),
    };
    db.add_media_attachment("u2", "f2", &full).unwrap();
    let media = db.get_media_attachment("u2", None).unwrap().unwrap();
    assert_eq!(
        (media.file_size, media.media_type.as_str(), media.status),
        (Some(2048), "voice", MediaStatus::Pending)
    );
    assert_eq!(
        (media.local_url.as_deref(), media.prompt.as_deref()),
        (Some("/tmp/v.ogg"), Some("transcribe"))
    );
    // Adding the same attachment twice is an error.
    let err = db.add_media_attachment("u1", "f9", &NewMediaAttachment::default()).unwrap_err();
    assert!(matches!(err, Error::Query { .. }), "{err:?}");
    assert_eq!(
        db.get_media_attachment("u1", None).unwrap().unwrap().file_id.as_deref(),
        Some("f1")
    );
}
}

on_each_backend! {
fn update_media_attachment_changes_only_the_fields_given(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    db.add_media_attachment(
        "u1",
        "f1",
        &NewMediaAttachment { description: Some("old"), ..Default::default() },
    )
    .unwrap();
    db.write_any(None, |conn| {
        on_conn!(conn, c => diesel::update(media_attachments::table)
            .set(media_attachments::updated_at.eq(long_ago()))
            .execute(c))
    })
    .unwrap();
    let update = MediaAttachmentUpdate {
        status: Some(MediaStatus::Done),
        mime_type: Some("image/png"),
        file_size: Some(10),
        ..Default::default()
    };
    assert!(db.update_media_attachment("u1", &update).unwrap());
    let media = db.get_media_attachment("u1", None).unwrap().unwrap();
    assert_eq!(
        (media.status, media.mime_type.as_deref(), media.file_size),
        (MediaStatus::Done, Some("image/png"), Some(10))
    );
    assert_eq!(media.description.as_deref(), Some("old"), "untouched");
    let stamped = media.updated_at.unwrap();
    assert!(stamped.and_utc().timestamp() > 1_700_000_000, "{stamped}");
    // Every field None: only updated_at changes, as in the Python bot.
    db.write_any(None, |conn| {
        on_conn!(conn, c => diesel::update(media_attachments::table)
            .set(media_attachments::updated_at.eq(long_ago()))
            .execute(c))
    })
    .unwrap();
    assert!(db.update_media_attachment("u1", &MediaAttachmentUpdate::default()).unwrap());
    let after = db.get_media_attachment("u1", None).unwrap().unwrap();
    assert_eq!((after.status, after.description.as_deref()), (MediaStatus::Done, Some("old")));
    assert!(after.updated_at.unwrap().and_utc().timestamp() > 1_700_000_000);
    assert!(!db.update_media_attachment("missing", &update).unwrap());
}
}

on_each_backend! {
fn delayed_tasks_add_update_and_get_pending(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    assert!(db.get_pending_delayed_tasks(None).unwrap().is_empty());
    db.add_delayed_task("late", "sendMessage", r#"{"text": "later"}"#, 2_000).unwrap();
    db.add_delayed_task("soon", "sendMessage", r#"{"text": "soon"}"#, 1_000).unwrap();
    db.add_delayed_task("done", "noop", "{}", 500).unwrap();
    assert!(db.update_delayed_task("done", true).unwrap());
    assert!(!db.update_delayed_task("missing", true).unwrap());
    let pending = db.get_pending_delayed_tasks(None).unwrap();
    assert_eq!(pending.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["soon", "late"]);
    assert_eq!(
        (pending[0].function.as_str(), pending[0].kwargs.as_str()),
        ("sendMessage", r#"{"text": "soon"}"#)
    );
    assert!(!pending[0].is_done);
    assert!(db.add_delayed_task("soon", "again", "{}", 1).is_err(), "a task id is unique");
    assert!(db.update_delayed_task("done", false).unwrap());
    assert_eq!(db.get_pending_delayed_tasks(None).unwrap().len(), 3);
}
}

on_each_backend! {
fn spam_and_ham_messages(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    db.add_spam_message(-1, 10, "100", "buy now", SpamReason::Auto, 0.97).unwrap();
    db.add_spam_message(-1, 10, "101", "buy again", SpamReason::Admin, 1.0).unwrap();
    db.add_spam_message(-2, 11, "5", "buy now", SpamReason::User, 0.5).unwrap();
    db.add_ham_message(-1, 12, "102", "hello", SpamReason::Unban, 0.1).unwrap();
    assert!(db.add_spam_message(-1, 10, "100", "dup", SpamReason::Auto, 0.0).is_err());
    let by_text = db.get_spam_messages_by_text("buy now", None).unwrap();
    assert_eq!(
        by_text.iter().map(|m| (m.chat_id, m.message_id.as_str())).collect::<Vec<_>>(),
        [(-1, "100"), (-2, "5")]
    );
    assert_eq!((by_text[0].reason, by_text[0].score), (SpamReason::Auto, 0.97));
    assert_eq!(db.get_spam_messages(1000, None).unwrap().len(), 3, "ham is not spam");
    assert_eq!(db.get_spam_messages(2, None).unwrap().len(), 2);
    assert!(db.get_spam_messages(0, None).unwrap().is_empty());
    let by_user = db.get_spam_messages_by_user_id(-1, 10, None).unwrap();
    assert_eq!(
        by_user.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["buy now", "buy again"]
    );
    assert_eq!(db.delete_spam_messages_by_user_id(-1, 10).unwrap(), 2);
    assert_eq!(db.delete_spam_messages_by_user_id(-1, 10).unwrap(), 0);
    assert!(db.get_spam_messages_by_user_id(-1, 10, None).unwrap().is_empty());
    assert_eq!(db.get_spam_messages(1000, None).unwrap().len(), 1);
    let ham: i64 = db
        .read_any(None, None, |conn| on_conn!(conn, c => ham_messages::table.count().get_result(c)))
        .unwrap();
    assert_eq!(ham, 1);
}
}

on_each_backend! {
fn cache_storage_set_get_and_unset(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    assert!(db.get_cache_storage(None).unwrap().is_empty());
    db.set_cache_storage("ns", "a", "1").unwrap();
    db.set_cache_storage("ns", "b", "2").unwrap();
    db.set_cache_storage("other", "a", "3").unwrap();
    db.set_cache_storage("ns", "a", "1b").unwrap();
    for (namespace, key, day) in [("ns", "a", 3), ("ns", "b", 1), ("other", "a", 2)] {
        let at = chrono::NaiveDate::from_ymd_opt(2025, 1, day).unwrap().and_hms_opt(0, 0, 0);
        db.write_any(None, |conn| {
            on_conn!(conn, c => diesel::update(cache_storage::table.find((namespace, key)))
                .set(cache_storage::updated_at.eq(at))
                .execute(c))
        })
        .unwrap();
    }
    let entries = db.get_cache_storage(None).unwrap();
    let seen: Vec<_> =
        entries.iter().map(|e| (e.namespace.as_str(), e.key.as_str(), e.value.as_str())).collect();
    assert_eq!(seen, [("ns", "a", "1b"), ("other", "a", "3"), ("ns", "b", "2")], "newest first");
    assert!(db.unset_cache_storage("ns", "a").unwrap());
    assert!(!db.unset_cache_storage("ns", "a").unwrap());
    assert_eq!(db.get_cache_storage(None).unwrap().len(), 2);
}
}

on_each_backend! {
fn cache_entries_per_type_with_ttl_and_clear(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    for cache in CacheType::ALL {
        assert_eq!(db.get_cache_entry("k", *cache, None, None).unwrap(), None);
        db.set_cache_entry("k", &format!("data of {cache}"), *cache).unwrap();
    }
    for cache in CacheType::ALL {
        let entry = db.get_cache_entry("k", *cache, None, None).unwrap().unwrap();
        assert_eq!((entry.key.as_str(), entry.data), ("k", format!("data of {cache}")));
    }
    db.set_cache_entry("k", "new weather", CacheType::Weather).unwrap();
    assert_eq!(
        db.get_cache_entry("k", CacheType::Weather, None, None).unwrap().unwrap().data,
        "new weather"
    );
    // Written just now: found with a TTL of an hour.
    assert!(db.get_cache_entry("k", CacheType::Weather, Some(3600), None).unwrap().is_some());
    // A TTL of zero or less finds nothing, as in the Python bot.
    assert_eq!(db.get_cache_entry("k", CacheType::Weather, Some(0), None).unwrap(), None);
    assert_eq!(db.get_cache_entry("k", CacheType::Weather, Some(-5), None).unwrap(), None);
    assert_eq!(
        db.get_cache_entry("k", CacheType::Weather, Some(i64::MAX), None).unwrap().unwrap().data,
        "new weather"
    );
    // Aged a day: too old for an hour's TTL, fine without one.
    let yesterday = chrono::Utc::now().naive_utc() - chrono::TimeDelta::days(1);
    db.write_any(None, |conn| {
        on_conn!(conn, c => diesel::update(cache_weather::table)
            .set(cache_weather::updated_at.eq(yesterday))
            .execute(c))
    })
    .unwrap();
    assert_eq!(db.get_cache_entry("k", CacheType::Weather, Some(3600), None).unwrap(), None);
    assert!(db.get_cache_entry("k", CacheType::Weather, Some(2 * 86400), None).unwrap().is_some());
    assert!(db.get_cache_entry("k", CacheType::Weather, None, None).unwrap().is_some());
    db.set_cache_entry("k2", "x", CacheType::Weather).unwrap();
    assert_eq!(db.clear_cache(CacheType::Weather).unwrap(), 2);
    assert_eq!(db.get_cache_entry("k", CacheType::Weather, None, None).unwrap(), None);
    assert!(
        db.get_cache_entry("k", CacheType::Geocoding, None, None).unwrap().is_some(),
        "other caches stay"
    );
}
}

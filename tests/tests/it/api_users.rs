//! The chat user and chat info methods, and the two reads over every source.

use chrono::NaiveDate;
use diesel::prelude::*;
use multisource::ChatInfo;
use multisource::schema::chat_users;

use crate::backends::{Backend, Place, on_conn, on_each_backend};

fn chat_ids(chats: &[ChatInfo]) -> Vec<i64> {
    chats.iter().map(|c| c.chat_id).collect()
}

on_each_backend! {
fn update_chat_user_creates_then_updates_and_get_chat_user_reads_it(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    assert_eq!(db.get_chat_user(-1, 10, None).unwrap(), None);
    db.update_chat_user(-1, 10, "@old", "Old Name").unwrap();
    let user = db.get_chat_user(-1, 10, None).unwrap().unwrap();
    assert_eq!((user.username.as_str(), user.full_name.as_str()), ("@old", "Old Name"));
    assert_eq!((user.messages_count, user.is_spammer, user.metadata.as_str()), (0, false, ""));
    assert_eq!(user.timezone, None);
    db.update_chat_user(-1, 10, "@new", "New Name").unwrap();
    let user = db.get_chat_user(-1, 10, None).unwrap().unwrap();
    assert_eq!((user.username.as_str(), user.full_name.as_str()), ("@new", "New Name"));
    // Another chat has its own row for the same user.
    assert_eq!(db.get_chat_user(-2, 10, None).unwrap(), None);
}
}

on_each_backend! {
fn mark_user_is_spammer_and_update_user_metadata(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    db.update_chat_user(-1, 10, "@u", "U").unwrap();
    assert!(db.mark_user_is_spammer(-1, 10, true).unwrap());
    assert!(db.get_chat_user(-1, 10, None).unwrap().unwrap().is_spammer);
    assert!(db.mark_user_is_spammer(-1, 10, false).unwrap());
    assert!(!db.get_chat_user(-1, 10, None).unwrap().unwrap().is_spammer);
    assert!(!db.mark_user_is_spammer(-1, 404, true).unwrap(), "unknown user");
    assert!(db.update_user_metadata(-1, 10, r#"{"lang": "ru"}"#).unwrap());
    assert_eq!(db.get_chat_user(-1, 10, None).unwrap().unwrap().metadata, r#"{"lang": "ru"}"#);
    assert!(!db.update_user_metadata(-1, 404, "{}").unwrap());
}
}

on_each_backend! {
fn get_chat_user_by_username_is_exact(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    db.update_chat_user(-1, 10, "@Alice", "Alice").unwrap();
    db.update_chat_user(-2, 11, "@bob", "Bob").unwrap();
    assert_eq!(db.get_chat_user_by_username(-1, "@Alice", None).unwrap().unwrap().user_id, 10);
    assert_eq!(db.get_chat_user_by_username(-1, "@alice", None).unwrap(), None);
    assert_eq!(db.get_chat_user_by_username(-1, "Alice", None).unwrap(), None);
    assert_eq!(db.get_chat_user_by_username(-1, "@bob", None).unwrap(), None);
}
}

on_each_backend! {
fn get_chat_users_is_most_recently_seen_first_with_limit_and_since(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    for (user, seen) in
        [(1, "2025-01-01 00:00:01"), (2, "2025-01-03 00:00:00"), (3, "2025-01-02 00:00:00")]
    {
        db.update_chat_user(-1, user, &format!("@u{user}"), "U").unwrap();
        let seen = chrono::NaiveDateTime::parse_from_str(seen, "%Y-%m-%d %H:%M:%S").unwrap();
        db.write_any(Some(-1), |conn| {
            on_conn!(conn, c => diesel::update(chat_users::table.filter(chat_users::user_id.eq(user)))
                .set(chat_users::updated_at.eq(seen))
                .execute(c))
        })
        .unwrap();
    }
    db.update_chat_user(-2, 9, "@other", "Other").unwrap();
    let users = |limit, since| {
        db.get_chat_users(-1, limit, since, None)
            .unwrap()
            .iter()
            .map(|u| u.user_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(users(10, None), [2, 3, 1]);
    assert_eq!(users(2, None), [2, 3]);
    let since = NaiveDate::from_ymd_opt(2025, 1, 2).unwrap().and_hms_opt(0, 0, 0).unwrap();
    assert_eq!(users(10, Some(since)), [2], "seen strictly after");
    assert!(users(0, None).is_empty());
}
}

on_each_backend! {
fn update_chat_info_creates_then_updates_and_get_chat_info_reads_it(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    assert_eq!(db.get_chat_info(-1, None).unwrap(), None);
    db.update_chat_info(-1, "group", Some("Friends"), None, false).unwrap();
    let info = db.get_chat_info(-1, None).unwrap().unwrap();
    assert_eq!(info.chat_type, "group");
    assert_eq!(
        (info.title.as_deref(), info.username.as_deref(), info.is_forum),
        (Some("Friends"), None, false)
    );
    db.update_chat_info(-1, "supergroup", Some("Friends ☃"), Some("friends"), true).unwrap();
    let info = db.get_chat_info(-1, None).unwrap().unwrap();
    assert_eq!(info.chat_type, "supergroup");
    assert_eq!(
        (info.title.as_deref(), info.username.as_deref(), info.is_forum),
        (Some("Friends ☃"), Some("friends"), true)
    );
    db.update_chat_info(-1, "supergroup", None, None, false).unwrap();
    let info = db.get_chat_info(-1, None).unwrap().unwrap();
    assert_eq!((info.title, info.username), (None, None), "the update sets every field");
}
}

on_each_backend! {
fn update_chat_topic_info_and_get_chat_topics(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    assert!(db.get_chat_topics(-1, None).unwrap().is_empty());
    db.update_chat_topic_info(-1, 7, Some(0xFF0000), Some("emoji-1"), Some("News")).unwrap();
    db.update_chat_topic_info(-1, 3, None, None, None).unwrap();
    db.update_chat_topic_info(-2, 1, None, None, Some("Elsewhere")).unwrap();
    let topics = db.get_chat_topics(-1, None).unwrap();
    assert_eq!(topics.iter().map(|t| t.topic_id).collect::<Vec<_>>(), [3, 7]);
    assert_eq!(topics[0].name.as_deref(), Some("Default"), "a topic without a name");
    assert_eq!(
        (
            topics[1].icon_color,
            topics[1].icon_custom_emoji_id.as_deref(),
            topics[1].name.as_deref()
        ),
        (Some(0xFF0000), Some("emoji-1"), Some("News"))
    );
    db.update_chat_topic_info(-1, 7, None, None, Some("Renamed")).unwrap();
    let topics = db.get_chat_topics(-1, None).unwrap();
    assert_eq!((topics[1].icon_color, topics[1].name.as_deref()), (None, Some("Renamed")));
}
}

on_each_backend! {
fn get_user_chats_and_get_all_group_chats_on_one_source(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    db.update_chat_info(3, "private", None, Some("alice"), false).unwrap();
    db.update_chat_info(-20, "group", Some("B"), None, false).unwrap();
    db.update_chat_info(-10, "supergroup", Some("A"), None, true).unwrap();
    db.update_chat_info(-30, "channel", Some("C"), None, false).unwrap();
    for chat in [3, -20, -10] {
        db.update_chat_user(chat, 100, "@alice", "Alice").unwrap();
    }
    db.update_chat_user(-30, 200, "@bob", "Bob").unwrap();
    assert_eq!(chat_ids(&db.get_user_chats(100, None).unwrap()), [-20, -10, 3]);
    assert_eq!(chat_ids(&db.get_user_chats(200, None).unwrap()), [-30]);
    assert!(db.get_user_chats(300, None).unwrap().is_empty());
    assert_eq!(chat_ids(&db.get_all_group_chats(None).unwrap()), [-20, -10]);
    assert_eq!(chat_ids(&db.get_all_group_chats(Some("default")).unwrap()), [-20, -10]);
}
}

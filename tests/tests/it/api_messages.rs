//! The message methods: saving (four statements in one transaction), the four reads with their
//! filters, orders and limits, and the category update.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use multisource::{Database, Error, MessageCategory, MessageType, NewMediaAttachment, NewMessage};

use crate::backends::{Backend, Place, on_conn, on_each_backend};

const CHAT: i64 = -1001234567890;
const ALICE: i64 = 777001;
const BOB: i64 = 777002;

fn at(day: u32, h: u32, m: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 1, day).unwrap().and_hms_opt(h, m, s).unwrap()
}

/// A database with two users in the chat and six messages: alice's 1, 2, 3 and bob's 4 on
/// January 1st, alice's 5 in topic 9 and 6 (a bot reply) on January 2nd.
fn conversation(place: &Place) -> Database {
    let db = place.open_one();
    db.update_chat_user(CHAT, ALICE, "@alice", "Alice O'Neil").unwrap();
    db.update_chat_user(CHAT, BOB, "@bob", "Bob").unwrap();
    let user = |text| NewMessage {
        message_text: text,
        message_category: MessageCategory::User,
        ..NewMessage::default()
    };
    db.save_chat_message(at(1, 10, 0, 0), CHAT, ALICE, "1", &user("first")).unwrap();
    db.save_chat_message(
        at(1, 10, 1, 0),
        CHAT,
        ALICE,
        "2",
        &NewMessage { reply_id: Some("1"), root_message_id: Some("1"), ..user("second") },
    )
    .unwrap();
    db.save_chat_message(
        at(1, 10, 2, 0),
        CHAT,
        ALICE,
        "3",
        &NewMessage { root_message_id: Some("1"), quote_text: Some("first"), ..user("third") },
    )
    .unwrap();
    db.save_chat_message(at(1, 11, 0, 0), CHAT, BOB, "4", &user("bob's")).unwrap();
    db.save_chat_message(
        at(2, 9, 0, 0),
        CHAT,
        ALICE,
        "5",
        &NewMessage { thread_id: Some(9), root_message_id: Some("1"), ..user("in a topic") },
    )
    .unwrap();
    db.save_chat_message(
        at(2, 9, 30, 0),
        CHAT,
        ALICE,
        "6",
        &NewMessage { message_category: MessageCategory::BotCommandReply, ..user("a reply") },
    )
    .unwrap();
    db
}

fn ids(messages: &[multisource::ChatMessage]) -> Vec<&str> {
    messages.iter().map(|m| m.message_id.as_str()).collect()
}

on_each_backend! {
fn save_chat_message_writes_the_message_the_user_count_and_both_stats(backend: Backend) {
    let place = Place::new(backend);
    let db = conversation(&place);
    let alice = db.get_chat_user(CHAT, ALICE, None).unwrap().unwrap();
    assert_eq!(alice.messages_count, 5);
    assert_eq!(db.get_chat_user(CHAT, BOB, None).unwrap().unwrap().messages_count, 1);
    #[derive(QueryableByName, Debug, PartialEq)]
    struct Stat {
        #[diesel(sql_type = Text)]
        date: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let stats: Vec<Stat> = db
        .read_any(Some(CHAT), None, |conn| {
            on_conn!(conn, c => diesel::sql_query(
                "SELECT CAST(date AS TEXT) AS date, messages_count AS n FROM chat_stats ORDER BY date",
            )
            .load(c))
        })
        .unwrap();
    assert_eq!(
        stats,
        [
            Stat { date: "2025-01-01 00:00:00".into(), n: 4 },
            Stat { date: "2025-01-02 00:00:00".into(), n: 2 }
        ]
    );
    let per_user: Vec<Stat> = db
        .read_any(Some(CHAT), None, |conn| {
            on_conn!(conn, c => diesel::sql_query(
                "SELECT CAST(date AS TEXT) || ' ' || user_id AS date, messages_count AS n \
                 FROM chat_user_stats ORDER BY 1",
            )
            .load(c))
        })
        .unwrap();
    assert_eq!(
        per_user,
        [
            Stat { date: "2025-01-01 00:00:00 777001".into(), n: 3 },
            Stat { date: "2025-01-01 00:00:00 777002".into(), n: 1 },
            Stat { date: "2025-01-02 00:00:00 777001".into(), n: 2 }
        ]
    );
    // The stored values follow the Python bot's conventions.
    let raw: Vec<Stat> = db
        .read_any(Some(CHAT), None, |conn| {
            on_conn!(conn, c => diesel::sql_query(
                "SELECT CAST(date AS TEXT) || '|' || message_type || '|' || message_category || '|' \
                 || thread_id AS date, CAST(0 AS BIGINT) AS n FROM chat_messages WHERE message_id = '5'",
            )
            .load(c))
        })
        .unwrap();
    assert_eq!(raw[0].date, "2025-01-02 09:00:00|text|user|9");
}
}

on_each_backend! {
fn a_duplicate_message_fails_and_changes_nothing(backend: Backend) {
    let place = Place::new(backend);
    let db = conversation(&place);
    let err =
        db.save_chat_message(at(3, 0, 0, 0), CHAT, ALICE, "1", &NewMessage::default()).unwrap_err();
    match &err {
        Error::Query { source_name, error } => {
            assert_eq!(source_name, "default");
            assert!(
                matches!(
                    error,
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _
                    )
                ),
                "{error}"
            );
        }
        other => panic!("expected Query, got {other:?}"),
    }
    assert_eq!(db.get_chat_user(CHAT, ALICE, None).unwrap().unwrap().messages_count, 5);
    let first = db.get_chat_message_by_message_id(CHAT, "1", None).unwrap().unwrap();
    assert_eq!(first.message_text, "first");
}
}

on_each_backend! {
fn save_chat_message_defaults_are_the_python_ones_and_dates_are_kept_to_the_second(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    db.update_chat_user(1, 2, "@u", "U").unwrap();
    let date = at(5, 12, 0, 0) + chrono::TimeDelta::milliseconds(999);
    db.save_chat_message(date, 1, 2, "m", &NewMessage::default()).unwrap();
    let m = db.get_chat_message_by_message_id(1, "m", None).unwrap().unwrap();
    assert_eq!(m.date, at(5, 12, 0, 0));
    assert_eq!((m.thread_id, m.message_text.as_str()), (0, ""));
    assert_eq!(
        (m.message_type, m.message_category),
        (MessageType::Text, MessageCategory::Unspecified)
    );
    assert_eq!((m.reply_id, m.root_message_id, m.quote_text, m.media_id), (None, None, None, None));
    assert_eq!((m.username.as_str(), m.full_name.as_str()), ("@u", "U"));
    assert!(m.created_at.is_some());
}
}

on_each_backend! {
fn get_chat_message_by_message_id_finds_one_message_with_its_author(backend: Backend) {
    let place = Place::new(backend);
    let db = conversation(&place);
    let m = db.get_chat_message_by_message_id(CHAT, "2", None).unwrap().unwrap();
    assert_eq!((m.chat_id, m.user_id, m.message_text.as_str()), (CHAT, ALICE, "second"));
    assert_eq!((m.reply_id.as_deref(), m.root_message_id.as_deref()), (Some("1"), Some("1")));
    assert_eq!((m.username.as_str(), m.full_name.as_str()), ("@alice", "Alice O'Neil"));
    assert_eq!(m.date, at(1, 10, 1, 0));
    assert!(m.media.is_none());
    assert_eq!(db.get_chat_message_by_message_id(CHAT, "99", None).unwrap(), None);
    assert_eq!(db.get_chat_message_by_message_id(-5, "2", None).unwrap(), None);
}
}

on_each_backend! {
fn a_message_whose_author_is_unknown_is_not_returned_as_in_the_python_bot(backend: Backend) {
    let place = Place::new(backend);
    let db = conversation(&place);
    db.save_chat_message(at(3, 0, 0, 0), CHAT, 5555, "stranger", &NewMessage::default()).unwrap();
    assert_eq!(db.get_chat_message_by_message_id(CHAT, "stranger", None).unwrap(), None);
}
}

on_each_backend! {
fn get_chat_messages_since_filters_orders_and_limits(backend: Backend) {
    let place = Place::new(backend);
    let db = conversation(&place);
    let all = db.get_chat_messages_since(CHAT, None, None, None, None, None, None).unwrap();
    assert_eq!(ids(&all), ["6", "5", "4", "3", "2", "1"]);
    // Both bounds are exclusive.
    let between = db
        .get_chat_messages_since(
            CHAT,
            Some(at(1, 10, 0, 0)),
            Some(at(1, 11, 0, 0)),
            None,
            None,
            None,
            None,
        )
        .unwrap();
    assert_eq!(ids(&between), ["3", "2"]);
    let topic = db.get_chat_messages_since(CHAT, None, None, Some(9), None, None, None).unwrap();
    assert_eq!(ids(&topic), ["5"]);
    let limited = db.get_chat_messages_since(CHAT, None, None, None, Some(2), None, None).unwrap();
    assert_eq!(ids(&limited), ["6", "5"]);
    let replies = db
        .get_chat_messages_since(
            CHAT,
            None,
            None,
            None,
            None,
            Some(&[MessageCategory::BotCommandReply]),
            None,
        )
        .unwrap();
    assert_eq!(ids(&replies), ["6"]);
    let both = db
        .get_chat_messages_since(
            CHAT,
            Some(at(1, 10, 0, 30)),
            None,
            None,
            Some(10),
            Some(&[MessageCategory::User, MessageCategory::BotCommandReply]),
            None,
        )
        .unwrap();
    assert_eq!(ids(&both), ["6", "5", "4", "3", "2"]);
    // The Python bot's edge cases: an empty category list and a limit of 0 match nothing.
    assert!(
        db.get_chat_messages_since(CHAT, None, None, None, None, Some(&[]), None)
            .unwrap()
            .is_empty()
    );
    assert!(
        db.get_chat_messages_since(CHAT, None, None, None, Some(0), None, None).unwrap().is_empty()
    );
}
}

on_each_backend! {
fn get_chat_messages_by_root_id_is_oldest_first_and_filters_the_topic(backend: Backend) {
    let place = Place::new(backend);
    let db = conversation(&place);
    let chain = db.get_chat_messages_by_root_id(CHAT, "1", None, None).unwrap();
    assert_eq!(ids(&chain), ["2", "3", "5"]);
    let in_topic = db.get_chat_messages_by_root_id(CHAT, "1", Some(9), None).unwrap();
    assert_eq!(ids(&in_topic), ["5"]);
    assert!(db.get_chat_messages_by_root_id(CHAT, "4", None, None).unwrap().is_empty());
}
}

on_each_backend! {
fn get_chat_messages_by_user_is_newest_first_with_a_limit(backend: Backend) {
    let place = Place::new(backend);
    let db = conversation(&place);
    assert_eq!(
        ids(&db.get_chat_messages_by_user(CHAT, ALICE, 100, None).unwrap()),
        ["6", "5", "3", "2", "1"]
    );
    assert_eq!(ids(&db.get_chat_messages_by_user(CHAT, ALICE, 2, None).unwrap()), ["6", "5"]);
    assert_eq!(ids(&db.get_chat_messages_by_user(CHAT, BOB, 100, None).unwrap()), ["4"]);
    assert!(db.get_chat_messages_by_user(CHAT, ALICE, 0, None).unwrap().is_empty());
}
}

on_each_backend! {
fn update_chat_message_category_changes_one_message(backend: Backend) {
    let place = Place::new(backend);
    let db = conversation(&place);
    assert!(db.update_chat_message_category(CHAT, "4", MessageCategory::UserSpam).unwrap());
    assert!(!db.update_chat_message_category(CHAT, "404", MessageCategory::UserSpam).unwrap());
    let m = db.get_chat_message_by_message_id(CHAT, "4", None).unwrap().unwrap();
    assert_eq!(m.message_category, MessageCategory::UserSpam);
    let other = db.get_chat_message_by_message_id(CHAT, "3", None).unwrap().unwrap();
    assert_eq!(other.message_category, MessageCategory::User);
}
}

on_each_backend! {
fn messages_carry_their_media_attachment(backend: Backend) {
    let place = Place::new(backend);
    let db = conversation(&place);
    db.add_media_attachment(
        "uniq-1",
        "file-1",
        &NewMediaAttachment { description: Some("a cat"), ..Default::default() },
    )
    .unwrap();
    let with_media = NewMessage {
        media_id: Some("uniq-1"),
        message_type: MessageType::Image,
        ..NewMessage::default()
    };
    db.save_chat_message(at(3, 0, 0, 0), CHAT, BOB, "7", &with_media).unwrap();
    let dangling = NewMessage { media_id: Some("never-added"), ..NewMessage::default() };
    db.save_chat_message(at(3, 0, 1, 0), CHAT, BOB, "8", &dangling).unwrap();
    let m = db.get_chat_message_by_message_id(CHAT, "7", None).unwrap().unwrap();
    let media = m.media.unwrap();
    assert_eq!(
        (media.file_unique_id.as_str(), media.description.as_deref()),
        ("uniq-1", Some("a cat"))
    );
    let m = db.get_chat_message_by_message_id(CHAT, "8", None).unwrap().unwrap();
    assert_eq!((m.media_id.as_deref(), m.media), (Some("never-added"), None));
}
}

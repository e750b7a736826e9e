//! What is particular to PostgreSQL sources: read-only sessions that the server enforces, the
//! schema checked on read-only sources, connection failures named without the password, and a
//! lock held past the timeout.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use multisource::{Config, Database, Error, RefusedBy, SourceConfig};

use crate::backends::{Backend, Place};
use crate::common::{ARCHIVE_CHAT, PRIMARY_CHAT, ThreeSources};

fn settings_in(db: &Database, source: &str) -> i64 {
    db.read_any(None, Some(source), |conn| {
        crate::backends::on_conn!(conn, c => multisource::schema::chat_settings::table.count().get_result(c))
    })
    .unwrap()
}

#[test]
fn a_write_inside_a_read_on_a_read_only_postgres_source_is_refused_by_the_server() {
    let t = ThreeSources::on(Backend::Postgres);
    let before = settings_in(&t.db, "archive");
    for sql in [
        "INSERT INTO chat_settings (chat_id, key, value) VALUES (1, 'k', 'v')",
        "DELETE FROM chat_settings",
        "CREATE TABLE intruder (x INT)",
        "UPDATE settings SET value = 'changed'",
    ] {
        let err =
            t.db.read_any(Some(ARCHIVE_CHAT), None, |mut c| c.batch_execute(sql)).unwrap_err();
        match &err {
            Error::ReadOnlySource { source_name, refused_by: RefusedBy::Postgres } => {
                assert_eq!(source_name, "archive", "{sql}");
            }
            other => panic!("{sql}: expected a refusal by the server, got {other:?}"),
        }
        assert!(err.to_string().contains("the PostgreSQL server refused the write"), "{err}");
    }
    assert_eq!(settings_in(&t.db, "archive"), before);
    // On a writable PostgreSQL source, a read cannot write either.
    let err = t
        .db
        .read_any(Some(PRIMARY_CHAT), None, |mut c| c.batch_execute("DELETE FROM chat_settings"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::WriteInRead { source_name } if source_name == "primary"),
        "{err:?}"
    );
    // The router refuses writes to the read-only source before the server sees them.
    let err = t.db.set_chat_setting(ARCHIVE_CHAT, "k", "v").unwrap_err();
    assert!(matches!(err, Error::ReadOnlySource { refused_by: RefusedBy::Router, .. }), "{err:?}");
}

#[test]
fn a_read_only_postgres_source_is_never_migrated_and_a_mismatch_names_the_table() {
    let place = Place::new(Backend::Postgres);
    let empty = place.source("empty").readonly(true);
    let url = empty.url().unwrap().to_owned();
    let config = Config::builder().source(empty).default_source("empty").build().unwrap();
    let err = Database::open(config).unwrap_err();
    match &err {
        Error::SchemaMismatch { source_name, mismatches, .. } => {
            assert_eq!(source_name, "empty");
            assert!(!mismatches.is_empty());
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
    // Nothing was created on the server.
    let mut conn = PgConnection::establish(&url).unwrap();
    assert!(multisource_migrations_tables(&mut conn).is_empty());
}

fn multisource_migrations_tables(conn: &mut PgConnection) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    diesel::sql_query(
        "SELECT CAST(table_name AS TEXT) AS name FROM information_schema.tables \
         WHERE table_schema = current_schema()",
    )
    .load::<Name>(conn)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
}

#[test]
fn a_writable_postgres_source_is_migrated_once() {
    let place = Place::new(Backend::Postgres);
    let source = place.source("main");
    let config = Config::builder().source(source).default_source("main").build().unwrap();
    let db = Database::open(config.clone()).unwrap();
    assert_eq!(
        db.sources().next().unwrap().applied.len(),
        2,
        "the schema, then the table of chat moves"
    );
    assert_eq!(db.sources().next().unwrap().config.kind(), multisource::Kind::Postgres);
    db.set_setting("k", "v").unwrap();
    drop(db);
    let db = Database::open(config).unwrap();
    assert!(db.sources().next().unwrap().applied.is_empty(), "nothing the second time");
    assert_eq!(db.get_setting("k", None).unwrap().as_deref(), Some("v"));
}

#[test]
fn a_server_that_cannot_be_reached_is_named_without_its_password() {
    let source = SourceConfig::postgres("remote", "postgres://bot:s3cret@127.0.0.1:1/bot")
        .timeout(Duration::from_millis(500));
    let config = Config::builder().source(source).default_source("remote").build().unwrap();
    let err = Database::open(config).unwrap_err();
    let text = err.to_string();
    assert!(matches!(&err, Error::Open { source_name, .. } if source_name == "remote"), "{err:?}");
    assert!(text.contains("postgres://bot:***@127.0.0.1:1/bot"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(text.contains("cannot connect"), "{text}");
}

#[test]
fn a_lock_held_past_the_timeout_fails_naming_the_source_and_the_source_recovers() {
    let place = Place::new(Backend::Postgres);
    let source = place.source("main").timeout(Duration::from_millis(300));
    let url = source.url().unwrap().to_owned();
    let config = Config::builder().source(source).default_source("main").build().unwrap();
    let db = Database::open(config).unwrap();
    db.set_setting("k", "1").unwrap();
    let mut holder = PgConnection::establish(&url).unwrap();
    holder.batch_execute("BEGIN; LOCK TABLE settings IN ACCESS EXCLUSIVE MODE;").unwrap();
    let err = db.set_setting("k", "2").unwrap_err();
    match &err {
        Error::Busy { source_name, timeout, .. } => {
            assert_eq!((source_name.as_str(), *timeout), ("main", Duration::from_millis(300)));
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    holder.batch_execute("ROLLBACK;").unwrap();
    db.set_setting("k", "3").unwrap();
    assert_eq!(db.get_setting("k", None).unwrap().as_deref(), Some("3"));
}

#[test]
fn sqlite_code_on_a_postgres_source_says_what_to_use_instead() {
    let t = ThreeSources::on(Backend::Postgres);
    let err = t.db.read(None, None, |c| c.batch_execute("SELECT 1")).unwrap_err();
    assert_eq!(err.source_name(), Some("primary"));
    let text = format!(
        "{err}: {}",
        std::error::Error::source(&err).map(|e| e.to_string()).unwrap_or_default()
    );
    assert!(text.contains("use `Database::read_any`"), "{text}");
}

/// Every read after the same writes, as text, the moments a row was created or updated aside
/// (the database sets them): what a bot sees of its data.
fn what_a_bot_sees(db: &Database) -> Vec<String> {
    use multisource::{
        CacheType, MediaAttachmentUpdate, MediaStatus, MessageCategory, NewMediaAttachment,
        NewMessage, SpamReason,
    };
    let chat = -1001;
    let at =
        |h| chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap().and_hms_opt(h, 30, 15).unwrap();
    // Upserts, booleans, timestamps, doubles, counters, partial updates.
    db.update_chat_info(chat, "supergroup", Some("Title"), None, true).unwrap();
    db.update_chat_info(chat, "supergroup", Some("Renamed"), Some("@chat"), false).unwrap();
    db.update_chat_topic_info(chat, 7, Some(0xFF00FF), Some("emoji"), Some("Topic")).unwrap();
    db.update_chat_user(chat, 1, "@a", "A").unwrap();
    db.update_chat_user(chat, 2, "@b", "B").unwrap();
    db.mark_user_is_spammer(chat, 2, true).unwrap();
    db.update_user_metadata(chat, 1, "{\"lang\":\"ru\"}").unwrap();
    for (n, (user, text)) in [(1, "one"), (2, "two"), (1, "three")].into_iter().enumerate() {
        let message = NewMessage {
            message_text: text,
            message_category: MessageCategory::User,
            thread_id: Some(7),
            reply_id: (n > 0).then_some("1"),
            root_message_id: (n > 0).then_some("1"),
            ..NewMessage::default()
        };
        db.save_chat_message(at(10 + n as u32), chat, user, &(n + 1).to_string(), &message)
            .unwrap();
    }
    db.update_chat_message_category(chat, "2", MessageCategory::Bot).unwrap();
    db.set_chat_setting(chat, "k", "1").unwrap();
    db.set_chat_setting(chat, "k", "2").unwrap();
    db.set_setting("global", "yes").unwrap();
    db.add_user_data(1, chat, "city", "Paris").unwrap();
    db.add_spam_message(chat, 2, "9", "buy", SpamReason::Admin, 0.1 + 0.2).unwrap();
    db.add_ham_message(chat, 1, "8", "hello", SpamReason::Auto, 1e-300).unwrap();
    db.add_chat_summarization(chat, Some(7), "1", "3", "prompt", "summary").unwrap();
    db.add_delayed_task("t1", "f", "{}", 1_700_000_000).unwrap();
    db.update_delayed_task("t1", true).unwrap();
    db.add_delayed_task("t2", "g", "{\"x\":1}", 1_600_000_000).unwrap();
    db.add_media_attachment(
        "m",
        "file",
        &NewMediaAttachment { file_size: Some(42), ..Default::default() },
    )
    .unwrap();
    let update = MediaAttachmentUpdate {
        status: Some(MediaStatus::Done),
        description: Some("a cat"),
        ..Default::default()
    };
    db.update_media_attachment("m", &update).unwrap();
    db.set_cache_entry("q", "data", CacheType::Weather).unwrap();
    db.set_cache_storage("ns", "k", "v").unwrap();
    let since = at(10);
    let seen = vec![
        format!("{:?}", db.get_chat_info(chat, None).unwrap()),
        format!("{:?}", db.get_chat_topics(chat, None).unwrap()),
        format!(
            "{:?}",
            db.get_chat_users(chat, 10, None, None)
                .unwrap()
                .iter()
                .map(|u| (u.user_id, u.messages_count, u.is_spammer, u.metadata.clone()))
                .collect::<Vec<_>>()
        ),
        format!("{:?}", db.get_chat_user_by_username(chat, "@b", None).unwrap()),
        format!(
            "{:?}",
            db.get_chat_messages_since(
                chat,
                Some(since),
                None,
                Some(7),
                Some(10),
                Some(&[MessageCategory::User]),
                None
            )
            .unwrap()
        ),
        format!("{:?}", db.get_chat_messages_by_root_id(chat, "1", None, None).unwrap()),
        format!("{:?}", db.get_chat_messages_by_user(chat, 1, 10, None).unwrap()),
        format!("{:?}", db.get_chat_message_by_message_id(chat, "2", None).unwrap()),
        format!("{:?}", db.get_chat_settings(chat, None).unwrap()),
        format!("{:?}", db.get_settings(None).unwrap()),
        format!("{:?}", db.get_user_data(1, chat, None).unwrap()),
        format!("{:?}", db.get_spam_messages_by_user_id(chat, 2, None).unwrap()),
        format!("{:?}", db.get_spam_messages(10, None).unwrap()),
        format!(
            "{:?}",
            db.get_chat_summarization(chat, Some(7), "1", "3", "prompt", None).unwrap()
        ),
        format!("{:?}", db.get_pending_delayed_tasks(None).unwrap()),
        format!("{:?}", db.get_media_attachment("m", None).unwrap()),
        format!("{:?}", db.get_cache_entry("q", CacheType::Weather, Some(3600), None).unwrap()),
        format!(
            "{:?}",
            db.get_cache_storage(None)
                .unwrap()
                .iter()
                .map(|e| (&e.namespace, &e.key, &e.value))
                .collect::<Vec<_>>()
        ),
        format!("{:?}", db.get_user_chats(1, None).unwrap()),
        format!("{:?}", db.get_all_group_chats(None).unwrap()),
    ];
    seen.into_iter().map(|text| without_moments(&text)).collect()
}

/// `created_at: Some(...)` and `updated_at: Some(...)` as `created_at: _`.
fn without_moments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = ["created_at: Some(", "updated_at: Some("]
        .iter()
        .filter_map(|k| rest.find(k).map(|i| (i, *k)))
        .min()
    {
        let (i, key) = at;
        out.push_str(&rest[..i]);
        out.push_str(&key[..key.len() - "Some(".len()]);
        out.push('_');
        rest = &rest[i + key.len()..];
        rest = &rest[rest.find(')').map_or(rest.len(), |j| j + 1)..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_same_calls_give_the_same_results_on_both_kinds() {
    let sqlite = Place::new(Backend::Sqlite);
    let postgres = Place::new(Backend::Postgres);
    let on_sqlite = what_a_bot_sees(&sqlite.open_one());
    let on_postgres = what_a_bot_sees(&postgres.open_one());
    assert_eq!(on_sqlite.len(), 20);
    for (a, b) in on_sqlite.iter().zip(&on_postgres) {
        assert_eq!(a, b);
    }
    // The moments were masked, not missing: the rows have them on both kinds.
    assert!(on_sqlite[0].contains("created_at: _"), "{}", on_sqlite[0]);
}

//! The generated methods on three sources (`primary` writable and default, `secondary` writable,
//! `archive` read-only, chats mapped to each): for each kind of method, reads honour the explicit
//! source, the mapping and the default; writes follow the mapping and are refused on the archive
//! with its file unchanged; fan-out reads merge, de-duplicate and apply both failure policies.

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use multisource::{
    CacheType, ChatInfo, Error, MediaAttachmentUpdate, MessageCategory, NewMediaAttachment,
    NewMessage, OnSourceError, RefusedBy, SpamReason,
};

use crate::backends::{Backend, on_each_backend};
use crate::common::{
    ARCHIVE_CHAT, PRIMARY_CHAT, SECONDARY_CHAT, SHARED_CHAT, ThreeSources, UNMAPPED_CHAT, USER,
    file_state,
};

fn chat_ids(chats: &[ChatInfo]) -> Vec<i64> {
    chats.iter().map(|c| c.chat_id).collect()
}

#[track_caller]
fn refused_by_router<T: std::fmt::Debug>(result: multisource::Result<T>) {
    match result {
        Err(Error::ReadOnlySource { source_name, refused_by: RefusedBy::Router }) => {
            assert_eq!(source_name, "archive");
        }
        other => panic!("expected a refusal by the router, got {other:?}"),
    }
}

on_each_backend! {
fn chat_scoped_reads_honour_explicit_then_mapped_then_default(backend: Backend) {
    let t = ThreeSources::on(backend);
    let db = &t.db;
    db.set_chat_setting(PRIMARY_CHAT, "where", "primary").unwrap();
    db.set_chat_setting(SECONDARY_CHAT, "where", "secondary").unwrap();
    db.set_chat_setting(UNMAPPED_CHAT, "where", "primary (default)").unwrap();
    let get = |chat, source| db.get_chat_setting(chat, "where", source).unwrap();
    assert_eq!(get(PRIMARY_CHAT, None).as_deref(), Some("primary"));
    assert_eq!(get(SECONDARY_CHAT, None).as_deref(), Some("secondary"));
    assert_eq!(get(ARCHIVE_CHAT, None).as_deref(), Some("archive"));
    assert_eq!(get(UNMAPPED_CHAT, None).as_deref(), Some("primary (default)"));
    assert_eq!(get(ARCHIVE_CHAT, Some("primary")), None);
    assert_eq!(get(SECONDARY_CHAT, Some("archive")), None);
    assert_eq!(get(ARCHIVE_CHAT, Some("archive")).as_deref(), Some("archive"));
    let err = db.get_chat_setting(PRIMARY_CHAT, "where", Some("nowhere")).unwrap_err();
    assert!(matches!(err, Error::UnknownSource { .. }), "{err:?}");
    let chat_info = db.get_chat_info(ARCHIVE_CHAT, None).unwrap().unwrap();
    assert_eq!(chat_info.title.as_deref(), Some("archived"));
    assert_eq!(db.get_chat_info(ARCHIVE_CHAT, Some("secondary")).unwrap(), None);
    let stats = db.stats();
    let archive = stats.source("archive").unwrap();
    assert_eq!((archive.reads.chat_mapping, archive.reads.explicit), (2, 2));
}
}

on_each_backend! {
fn global_reads_go_to_the_explicit_source_or_the_default(backend: Backend) {
    let t = ThreeSources::on(backend);
    let db = &t.db;
    db.set_setting("where", "primary").unwrap();
    assert_eq!(db.get_setting("where", None).unwrap().as_deref(), Some("primary"));
    assert_eq!(db.get_setting("where", Some("archive")).unwrap().as_deref(), Some("archive"));
    assert_eq!(db.get_setting("where", Some("secondary")).unwrap(), None);
    let stats = db.stats();
    assert_eq!(stats.source("primary").unwrap().reads.default, 1);
    assert_eq!(stats.source("archive").unwrap().reads.explicit, 1);
}
}

on_each_backend! {
fn chat_scoped_writes_follow_the_mapping_and_are_refused_on_the_archive(backend: Backend) {
    let t = ThreeSources::on(backend);
    let db = &t.db;
    db.set_chat_setting(SECONDARY_CHAT, "k", "v").unwrap();
    assert_eq!(
        db.get_chat_setting(SECONDARY_CHAT, "k", Some("secondary")).unwrap().as_deref(),
        Some("v")
    );
    assert_eq!(db.get_chat_setting(SECONDARY_CHAT, "k", Some("primary")).unwrap(), None);
    db.set_chat_setting(UNMAPPED_CHAT, "k", "v").unwrap();
    assert_eq!(
        db.get_chat_setting(UNMAPPED_CHAT, "k", Some("primary")).unwrap().as_deref(),
        Some("v")
    );
    refused_by_router(db.set_chat_setting(ARCHIVE_CHAT, "k", "v"));
    assert_eq!(db.get_chat_setting(ARCHIVE_CHAT, "k", None).unwrap(), None);
}
}

#[test]
fn every_chat_scoped_write_is_refused_on_the_archive_with_the_file_unchanged() {
    let t = ThreeSources::new();
    let db = &t.db;
    let before = file_state(&t.archive_path());
    let date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let c = ARCHIVE_CHAT;
    refused_by_router(db.save_chat_message(date, c, USER, "1", &NewMessage::default()));
    refused_by_router(db.update_chat_message_category(c, "1", MessageCategory::Bot));
    refused_by_router(db.update_chat_user(c, USER, "@x", "X"));
    refused_by_router(db.mark_user_is_spammer(c, USER, true));
    refused_by_router(db.update_user_metadata(c, USER, "{}"));
    refused_by_router(db.add_user_data(USER, c, "k", "v"));
    refused_by_router(db.delete_user_data(USER, c, "k"));
    refused_by_router(db.clear_user_data(USER, c));
    refused_by_router(db.set_chat_setting(c, "where", "overwritten"));
    refused_by_router(db.unset_chat_setting(c, "where"));
    refused_by_router(db.clear_chat_settings(c));
    refused_by_router(db.update_chat_info(c, "group", None, None, false));
    refused_by_router(db.update_chat_topic_info(c, 1, None, None, None));
    refused_by_router(db.add_chat_summarization(c, None, "1", "2", "p", "s"));
    refused_by_router(db.add_spam_message(c, USER, "1", "t", SpamReason::Auto, 1.0));
    refused_by_router(db.add_ham_message(c, USER, "1", "t", SpamReason::Auto, 0.0));
    refused_by_router(db.delete_spam_messages_by_user_id(c, USER));
    assert_eq!(file_state(&t.archive_path()), before);
    let archive = db.stats().source("archive").unwrap().clone();
    assert_eq!(
        (archive.refused_writes, archive.writes.chat_mapping, archive.checkouts),
        (17, 17, 0)
    );
    // The data is still there to read.
    assert_eq!(db.get_chat_setting(c, "where", None).unwrap().as_deref(), Some("archive"));
}

#[test]
fn global_writes_go_to_the_default_source_and_are_refused_when_it_is_read_only() {
    let t = ThreeSources::new();
    let db = &t.db;
    db.set_setting("k", "v").unwrap();
    db.set_cache_entry("k", "v", CacheType::Weather).unwrap();
    db.add_delayed_task("t", "f", "{}", 1).unwrap();
    assert_eq!(db.get_setting("k", Some("primary")).unwrap().as_deref(), Some("v"));
    assert_eq!(db.get_setting("k", Some("secondary")).unwrap(), None);
    assert!(db.get_cache_entry("k", CacheType::Weather, None, Some("primary")).unwrap().is_some());
    assert_eq!(db.get_pending_delayed_tasks(Some("primary")).unwrap().len(), 1);
    assert!(db.get_pending_delayed_tasks(Some("secondary")).unwrap().is_empty());

    let t = ThreeSources::with(|b| b.default_source("archive"));
    let db = &t.db;
    let before = file_state(&t.archive_path());
    refused_by_router(db.set_setting("k", "v"));
    refused_by_router(db.add_media_attachment("u", "f", &NewMediaAttachment::default()));
    refused_by_router(db.update_media_attachment("u", &MediaAttachmentUpdate::default()));
    refused_by_router(db.add_delayed_task("t", "f", "{}", 1));
    refused_by_router(db.update_delayed_task("t", true));
    refused_by_router(db.set_cache_storage("ns", "k", "v"));
    refused_by_router(db.unset_cache_storage("ns", "k"));
    refused_by_router(db.set_cache_entry("k", "v", CacheType::Weather));
    refused_by_router(db.clear_cache(CacheType::Weather));
    // Unmapped chats go to the read-only default too.
    refused_by_router(db.set_chat_setting(UNMAPPED_CHAT, "k", "v"));
    assert_eq!(file_state(&t.archive_path()), before);
    assert_eq!(db.get_setting("where", None).unwrap().as_deref(), Some("archive"));
}

/// The user's chats: one in primary, one in secondary, and the archive's two; the shared chat is
/// also in primary, under another title.
fn user_in_every_source(t: &ThreeSources) {
    let db = &t.db;
    db.update_chat_info(PRIMARY_CHAT, "supergroup", Some("primary chat"), None, false).unwrap();
    db.update_chat_user(PRIMARY_CHAT, USER, "@user", "User").unwrap();
    db.update_chat_info(SECONDARY_CHAT, "group", Some("secondary chat"), None, false).unwrap();
    db.update_chat_user(SECONDARY_CHAT, USER, "@user", "User").unwrap();
    db.update_chat_info(SHARED_CHAT, "supergroup", Some("shared, primary copy"), None, false)
        .unwrap();
    db.update_chat_user(SHARED_CHAT, USER, "@user", "User").unwrap();
    db.update_chat_info(UNMAPPED_CHAT, "private", None, Some("user"), false).unwrap();
}

on_each_backend! {
fn fan_out_reads_merge_every_source_in_order_and_the_first_source_wins(backend: Backend) {
    merge_every_source_in_order(&ThreeSources::on(backend));
}
}

/// A SQLite primary source, a PostgreSQL secondary and a PostgreSQL archive: reads of every
/// source merge and de-duplicate across kinds as across files.
#[cfg(feature = "postgres")]
#[test]
fn fan_out_reads_merge_sources_of_both_kinds() {
    let kinds = [Backend::Sqlite, Backend::Postgres, Backend::Postgres];
    merge_every_source_in_order(&ThreeSources::on_kinds(kinds, |b| b));
    let kinds = [Backend::Postgres, Backend::Sqlite, Backend::Sqlite];
    merge_every_source_in_order(&ThreeSources::on_kinds(kinds, |b| b));
}

fn merge_every_source_in_order(t: &ThreeSources) {
    user_in_every_source(t);
    let db = &t.db;
    let chats = db.get_user_chats(USER, None).unwrap();
    // Primary's chats (by chat id), then secondary's, then the archive's not seen before.
    assert_eq!(chat_ids(&chats), [SHARED_CHAT, PRIMARY_CHAT, SECONDARY_CHAT, ARCHIVE_CHAT]);
    let shared = chats.iter().find(|c| c.chat_id == SHARED_CHAT).unwrap();
    assert_eq!(shared.title.as_deref(), Some("shared, primary copy"));
    assert_eq!(
        chat_ids(&db.get_user_chats(USER, Some("archive")).unwrap()),
        [SHARED_CHAT, ARCHIVE_CHAT]
    );
    assert_eq!(
        db.get_user_chats(USER, Some("archive")).unwrap()[0].title.as_deref(),
        Some("shared, archive copy")
    );
    assert_eq!(chat_ids(&db.get_user_chats(USER, Some("secondary")).unwrap()), [SECONDARY_CHAT]);
    let groups = db.get_all_group_chats(None).unwrap();
    assert_eq!(chat_ids(&groups), [SHARED_CHAT, PRIMARY_CHAT, SECONDARY_CHAT, ARCHIVE_CHAT]);
    assert_eq!(
        chat_ids(&db.get_all_group_chats(Some("primary")).unwrap()),
        [SHARED_CHAT, PRIMARY_CHAT]
    );
    let stats = db.stats();
    assert!(stats.sources.iter().all(|s| s.fan_out_reads == 2), "{stats:?}");
    assert_eq!(stats.source("archive").unwrap().reads.explicit, 2);
    // The order does not depend on timing.
    for _ in 0..20 {
        assert_eq!(db.get_user_chats(USER, None).unwrap(), chats);
    }
}

/// Breaks the secondary source under the running database: its `chat_info` table disappears.
fn break_secondary(t: &ThreeSources) {
    t.db.write_any(Some(SECONDARY_CHAT), |mut conn| conn.batch_execute("DROP TABLE chat_info;"))
        .unwrap();
}

on_each_backend! {
fn a_failing_source_is_skipped_with_the_skip_policy(backend: Backend) {
    let t = ThreeSources::on(backend);
    user_in_every_source(&t);
    break_secondary(&t);
    let chats = t.db.get_user_chats(USER, None).unwrap();
    assert_eq!(chat_ids(&chats), [SHARED_CHAT, PRIMARY_CHAT, ARCHIVE_CHAT]);
    let stats = t.db.stats();
    assert_eq!(stats.source("secondary").unwrap().fan_out_failures, 1);
    assert_eq!(stats.source("primary").unwrap().fan_out_failures, 0);
    // Named explicitly, the broken source is an error, whatever the policy.
    let err = t.db.get_user_chats(USER, Some("secondary")).unwrap_err();
    assert_eq!(err.source_name(), Some("secondary"));
}
}

on_each_backend! {
fn a_failing_source_fails_the_call_with_the_fail_policy(backend: Backend) {
    let t = ThreeSources::on_kinds([backend; 3], |b| b.on_source_error(OnSourceError::Fail));
    user_in_every_source(&t);
    break_secondary(&t);
    let err = t.db.get_user_chats(USER, None).unwrap_err();
    match &err {
        Error::Query { source_name, error } => {
            assert_eq!(source_name, "secondary");
            let missing = match backend {
                Backend::Sqlite => "no such table: chat_info",
                #[cfg(feature = "postgres")]
                Backend::Postgres => "relation \"chat_info\" does not exist",
            };
            assert!(error.to_string().contains(missing), "{error}");
        }
        other => panic!("expected Query, got {other:?}"),
    }
    assert!(err.to_string().starts_with("query on source `secondary` failed"), "{err}");
    let err = t.db.get_all_group_chats(None).unwrap_err();
    assert_eq!(err.source_name(), Some("secondary"));
    // Calls routed to the other sources keep working.
    assert_eq!(
        chat_ids(&t.db.get_user_chats(USER, Some("primary")).unwrap()),
        [SHARED_CHAT, PRIMARY_CHAT]
    );
}
}

on_each_backend! {
fn media_of_a_chat_mapped_elsewhere_comes_from_the_default_source(backend: Backend) {
    let t = ThreeSources::on(backend);
    let db = &t.db;
    let date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    db.add_media_attachment(
        "pic",
        "file",
        &NewMediaAttachment { description: Some("a cat"), ..Default::default() },
    )
    .unwrap();
    db.update_chat_user(SECONDARY_CHAT, USER, "@user", "User").unwrap();
    let message = NewMessage { media_id: Some("pic"), ..NewMessage::default() };
    db.save_chat_message(date, SECONDARY_CHAT, USER, "1", &message).unwrap();
    // The Python bot joined media in the chat's source only, and found none here.
    let found = db.get_chat_message_by_message_id(SECONDARY_CHAT, "1", None).unwrap().unwrap();
    assert_eq!(found.media.unwrap().description.as_deref(), Some("a cat"));
    let listed = db.get_chat_messages_by_user(SECONDARY_CHAT, USER, 10, None).unwrap();
    assert_eq!(listed[0].media.as_ref().map(|m| m.file_unique_id.as_str()), Some("pic"));
    let since =
        db.get_chat_messages_since(SECONDARY_CHAT, None, None, None, None, None, None).unwrap();
    assert!(since[0].media.is_some());
    let reply =
        NewMessage { media_id: Some("pic"), root_message_id: Some("1"), ..NewMessage::default() };
    db.save_chat_message(date, SECONDARY_CHAT, USER, "2", &reply).unwrap();
    let chain = db.get_chat_messages_by_root_id(SECONDARY_CHAT, "1", None, None).unwrap();
    assert_eq!(chain.len(), 1);
    assert_eq!(chain[0].media.as_ref().map(|m| m.file_id.as_deref()), Some(Some("file")));
    // Read from the default source itself, no second lookup is needed or made.
    let reads = db.stats().source("primary").unwrap().reads.explicit;
    db.get_chat_message_by_message_id(SECONDARY_CHAT, "1", Some("primary")).unwrap();
    assert_eq!(db.stats().source("primary").unwrap().reads.explicit, reads + 1);
}
}

on_each_backend! {
fn slow_fan_out_parts_run_on_helpers_and_the_result_keeps_configuration_order(backend: Backend) {
    let t = ThreeSources::on(backend);
    let db = &t.db;
    // Enough groups in each writable source that a part takes longer than a hand-off to a helper.
    for (chat, base) in [(PRIMARY_CHAT, 1_000_000), (SECONDARY_CHAT, 2_000_000)] {
        db.write_any(Some(chat), |mut c| {
            c.batch_execute(&format!(
                "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20000)
                 INSERT INTO chat_info (chat_id, title, type) SELECT -{base} - x, 'g', 'group' FROM n;"
            ))
        })
        .unwrap();
    }
    let first = db.get_all_group_chats(None).unwrap();
    assert_eq!(first.len(), 40_000 + 2, "both sources' groups and the archive's two");
    // Primary's groups first (by chat id), then secondary's, then the archive's.
    assert!(first[..20_000].iter().all(|c| c.chat_id <= -1_000_001 && c.chat_id >= -1_020_000));
    assert!(first[20_000..40_000].iter().all(|c| c.chat_id <= -2_000_001));
    assert_eq!(chat_ids(&first[40_000..]), [SHARED_CHAT, ARCHIVE_CHAT]);
    // Later calls, with the parts measured slow, give the same rows in the same order.
    for _ in 0..3 {
        assert_eq!(db.get_all_group_chats(None).unwrap(), first);
    }
}
}

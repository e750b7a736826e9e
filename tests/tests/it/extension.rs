//! A bot's own queries, defined in another crate (this package's library): the annotations give
//! extension traits of `Database`, routed like the library's own methods.

use chrono::NaiveDate;
use multisource::{Error, NewMessage, RefusedBy};
use multisource_tests::{
    BumpCounterExt, ChatSize, ChatsWithUsersExt, CountMessagesExt, RenameUserExt,
};

use crate::backends::{Backend, on_each_backend};
use crate::common::{
    ARCHIVE_CHAT, PRIMARY_CHAT, SECONDARY_CHAT, SHARED_CHAT, ThreeSources, USER, file_state,
};

on_each_backend! {
fn a_bots_own_chat_read_is_routed_like_the_librarys(backend: Backend) {
    let t = ThreeSources::on(backend);
    let db = &t.db;
    let date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    db.update_chat_user(SECONDARY_CHAT, USER, "@user", "User").unwrap();
    for id in ["1", "2", "3"] {
        db.save_chat_message(date, SECONDARY_CHAT, USER, id, &NewMessage::default()).unwrap();
    }
    assert_eq!(db.count_messages(SECONDARY_CHAT, None).unwrap(), 3);
    assert_eq!(db.count_messages(SECONDARY_CHAT, Some("primary")).unwrap(), 0);
    assert_eq!(db.count_messages(PRIMARY_CHAT, None).unwrap(), 0);
    assert_eq!(db.stats().source("secondary").unwrap().reads.chat_mapping, 1);
    // The function stays usable on its own, with a plain connection.
    if backend == Backend::Sqlite {
        let mut conn = crate::common::raw(&t.place.scratch.path("secondary.db"));
        assert_eq!(multisource_tests::count_messages(&mut conn, SECONDARY_CHAT).unwrap(), 3);
    }
}
}

on_each_backend! {
fn a_bots_own_fan_out_merges_every_source(backend: Backend) {
    let t = ThreeSources::on(backend);
    let db = &t.db;
    db.update_chat_info(PRIMARY_CHAT, "group", Some("p"), None, false).unwrap();
    db.update_chat_info(SHARED_CHAT, "group", Some("shared in primary"), None, false).unwrap();
    for user in [1, 2] {
        db.update_chat_user(PRIMARY_CHAT, user, "@u", "U").unwrap();
    }
    db.update_chat_user(SHARED_CHAT, 1, "@u", "U").unwrap();
    let chats = db.chats_with_users(1, None).unwrap();
    assert_eq!(
        chats,
        [
            ChatSize { chat_id: SHARED_CHAT, title: Some("shared in primary".into()), users: 1 },
            ChatSize { chat_id: PRIMARY_CHAT, title: Some("p".into()), users: 2 },
            ChatSize { chat_id: ARCHIVE_CHAT, title: Some("archived".into()), users: 1 },
        ]
    );
    assert_eq!(db.chats_with_users(2, None).unwrap().len(), 1);
    assert_eq!(db.chats_with_users(1, Some("archive")).unwrap().len(), 2);
}
}

on_each_backend! {
fn a_bots_own_writes_follow_the_mapping_and_are_refused_on_the_archive(backend: Backend) {
    let t = ThreeSources::on(backend);
    let db = &t.db;
    db.update_chat_user(SECONDARY_CHAT, USER, "@user", "User").unwrap();
    assert_eq!(db.rename_user(SECONDARY_CHAT, USER, "Renamed").unwrap(), 1);
    assert_eq!(db.get_chat_user(SECONDARY_CHAT, USER, None).unwrap().unwrap().full_name, "Renamed");
    let before = (backend == Backend::Sqlite).then(|| file_state(&t.archive_path()));
    match db.rename_user(ARCHIVE_CHAT, USER, "Renamed") {
        Err(Error::ReadOnlySource { source_name, refused_by: RefusedBy::Router }) => {
            assert_eq!(source_name, "archive");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    if let Some(before) = before {
        assert_eq!(file_state(&t.archive_path()), before);
    }
    assert_eq!(db.bump_counter("hits").unwrap(), 1);
    assert_eq!(db.bump_counter("hits").unwrap(), 2);
    assert_eq!(db.get_setting("hits", Some("primary")).unwrap().as_deref(), Some("2"));
}
}

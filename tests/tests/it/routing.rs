//! The routing table: explicit, mapped and default, for reads and writes, on writable and
//! read-only sources; and what each call did, as the counters and the files show it.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use multisource::{Error, RefusedBy, Tier};

use crate::common::{
    ARCHIVE_CHAT, PRIMARY_CHAT, SECONDARY_CHAT, ThreeSources, UNMAPPED_CHAT, file_state,
};

#[derive(QueryableByName, Debug, PartialEq)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

/// Reads the chat setting `where` on whatever connection the route gave.
fn where_is(conn: &mut multisource::Connection, chat: i64) -> QueryResult<Option<String>> {
    diesel::sql_query("SELECT value FROM chat_settings WHERE chat_id = ? AND key = 'where'")
        .bind::<BigInt, _>(chat)
        .get_result::<Value>(conn)
        .optional()
        .map(|v| v.map(|v| v.value))
}

fn set_where(conn: &mut multisource::Connection, chat: i64, value: &str) -> QueryResult<usize> {
    diesel::sql_query("INSERT INTO chat_settings (chat_id, key, value) VALUES (?, 'where', ?)")
        .bind::<BigInt, _>(chat)
        .bind::<Text, _>(value)
        .execute(conn)
}

#[test]
fn route_resolves_every_tier_without_touching_a_database() {
    let t = ThreeSources::new();
    let cases: [(Option<i64>, Option<&str>, &str, Tier); 9] = [
        (None, None, "primary", Tier::Default),
        (Some(UNMAPPED_CHAT), None, "primary", Tier::Default),
        (Some(PRIMARY_CHAT), None, "primary", Tier::ChatMapping),
        (Some(SECONDARY_CHAT), None, "secondary", Tier::ChatMapping),
        (Some(ARCHIVE_CHAT), None, "archive", Tier::ChatMapping),
        // An explicit source wins over the mapping and the default.
        (Some(ARCHIVE_CHAT), Some("primary"), "primary", Tier::Explicit),
        (Some(UNMAPPED_CHAT), Some("secondary"), "secondary", Tier::Explicit),
        (None, Some("archive"), "archive", Tier::Explicit),
        (Some(SECONDARY_CHAT), Some("secondary"), "secondary", Tier::Explicit),
    ];
    for (chat, source, want, tier) in cases {
        let route = t.db.route(chat, source).unwrap();
        assert_eq!((route.source(), route.tier()), (want, tier), "{chat:?} {source:?}");
        assert_eq!(route.is_readonly(), want == "archive");
    }
    let stats = t.db.stats();
    assert!(stats.sources.iter().all(|s| s.reads.total() == 0 && s.writes.total() == 0));
}

#[test]
fn an_unknown_explicit_source_is_an_error_never_a_fallback() {
    let t = ThreeSources::new();
    for name in ["nope", "", "Primary"] {
        let err = t.db.route(Some(PRIMARY_CHAT), Some(name)).unwrap_err();
        match &err {
            Error::UnknownSource { name: got, known } => {
                assert_eq!(got, name);
                assert_eq!(known, &["primary", "secondary", "archive"]);
            }
            other => panic!("expected UnknownSource, got {other:?}"),
        }
        assert_eq!(
            err.to_string(),
            format!(
                "unknown source `{name}`; the configured sources are `primary`, `secondary`, \
                 `archive`"
            )
        );
        let read = t.db.read(Some(PRIMARY_CHAT), Some(name), |c| where_is(c, PRIMARY_CHAT));
        assert!(matches!(read, Err(Error::UnknownSource { .. })), "{read:?}");
    }
}

#[test]
fn reads_go_to_the_explicit_then_mapped_then_default_source() {
    let t = ThreeSources::new();
    // One marker row per writable source, written through the mapping.
    t.db.write(Some(PRIMARY_CHAT), |c| set_where(c, PRIMARY_CHAT, "primary")).unwrap();
    t.db.write(Some(SECONDARY_CHAT), |c| set_where(c, SECONDARY_CHAT, "secondary")).unwrap();
    t.db.write(Some(UNMAPPED_CHAT), |c| set_where(c, UNMAPPED_CHAT, "primary")).unwrap();

    let read = |chat: i64, source: Option<&str>| {
        t.db.read(Some(chat), source, |c| where_is(c, chat)).unwrap()
    };
    // Tier 2: each chat's marker is found through its mapping.
    assert_eq!(read(PRIMARY_CHAT, None).as_deref(), Some("primary"));
    assert_eq!(read(SECONDARY_CHAT, None).as_deref(), Some("secondary"));
    assert_eq!(read(ARCHIVE_CHAT, None).as_deref(), Some("archive"));
    // Tier 3: an unmapped chat is in the default source.
    assert_eq!(read(UNMAPPED_CHAT, None).as_deref(), Some("primary"));
    // Tier 1: an explicit source overrides the mapping, and the marker is not there.
    assert_eq!(read(SECONDARY_CHAT, Some("primary")), None);
    assert_eq!(read(ARCHIVE_CHAT, Some("secondary")), None);
    assert_eq!(read(PRIMARY_CHAT, Some("archive")), None);
    assert_eq!(read(ARCHIVE_CHAT, Some("archive")).as_deref(), Some("archive"));

    let stats = t.db.stats();
    let primary = stats.source("primary").unwrap();
    assert_eq!(
        (primary.reads.chat_mapping, primary.reads.default, primary.reads.explicit),
        (1, 1, 1)
    );
    let secondary = stats.source("secondary").unwrap();
    assert_eq!((secondary.reads.chat_mapping, secondary.reads.explicit), (1, 1));
    let archive = stats.source("archive").unwrap();
    assert_eq!((archive.reads.chat_mapping, archive.reads.explicit), (1, 2));
    assert_eq!(primary.writes.chat_mapping + primary.writes.default, 2);
    assert_eq!(secondary.writes.chat_mapping, 1);
}

#[test]
fn writes_follow_the_mapping_and_land_in_that_file_only() {
    let t = ThreeSources::new();
    t.db.write(Some(SECONDARY_CHAT), |c| set_where(c, SECONDARY_CHAT, "secondary")).unwrap();
    // Global writes (no chat) go to the default source.
    t.db.write(None, |c| set_where(c, 1, "global")).unwrap();
    let in_file = |name: &str, chat: i64| {
        let mut conn = crate::common::raw(&t.place.scratch.path(name));
        where_is(&mut conn, chat).unwrap()
    };
    assert_eq!(in_file("secondary.db", SECONDARY_CHAT).as_deref(), Some("secondary"));
    assert_eq!(in_file("primary.db", SECONDARY_CHAT), None);
    assert_eq!(in_file("primary.db", 1).as_deref(), Some("global"));
    assert_eq!(in_file("secondary.db", 1), None);
    let stats = t.db.stats();
    assert_eq!(stats.source("secondary").unwrap().writes.chat_mapping, 1);
    assert_eq!(stats.source("primary").unwrap().writes.default, 1);
}

#[test]
fn a_write_mapped_to_the_read_only_source_is_refused_before_any_connection() {
    let t = ThreeSources::new();
    let before = file_state(&t.archive_path());
    let checkouts = t.db.stats().source("archive").unwrap().checkouts;
    let mut ran = false;
    let err =
        t.db.write(Some(ARCHIVE_CHAT), |c| {
            ran = true;
            set_where(c, ARCHIVE_CHAT, "overwritten")
        })
        .unwrap_err();
    assert!(!ran, "the closure must not run");
    match &err {
        Error::ReadOnlySource { source_name, refused_by } => {
            assert_eq!((source_name.as_str(), *refused_by), ("archive", RefusedBy::Router));
        }
        other => panic!("expected ReadOnlySource, got {other:?}"),
    }
    assert!(err.to_string().starts_with("source `archive` is read-only"), "{err}");
    assert_eq!(file_state(&t.archive_path()), before);
    let stats = t.db.stats();
    let archive = stats.source("archive").unwrap();
    assert_eq!((archive.refused_writes, archive.writes.chat_mapping), (1, 1));
    assert_eq!(archive.checkouts, checkouts, "no connection was taken");
}

#[test]
fn a_read_only_default_source_refuses_global_writes() {
    let t = ThreeSources::with(|b| b.default_source("archive"));
    let before = file_state(&t.archive_path());
    let err = t.db.write(None, |c| c.batch_execute("DELETE FROM chat_settings")).unwrap_err();
    assert!(matches!(err, Error::ReadOnlySource { refused_by: RefusedBy::Router, .. }), "{err:?}");
    let err = t.db.write(Some(UNMAPPED_CHAT), |c| set_where(c, 5, "x")).unwrap_err();
    assert!(matches!(err, Error::ReadOnlySource { .. }), "{err:?}");
    // Mapped chats still write to their writable sources.
    t.db.write(Some(PRIMARY_CHAT), |c| set_where(c, PRIMARY_CHAT, "primary")).unwrap();
    assert_eq!(file_state(&t.archive_path()), before);
}

#[test]
fn a_failed_write_rolls_back_everything_it_did() {
    let t = ThreeSources::new();
    let err =
        t.db.write(Some(PRIMARY_CHAT), |c| {
            set_where(c, PRIMARY_CHAT, "first")?;
            // The same key again violates the primary key.
            set_where(c, PRIMARY_CHAT, "second")
        })
        .unwrap_err();
    match &err {
        Error::Query { source_name, .. } => assert_eq!(source_name, "primary"),
        other => panic!("expected Query, got {other:?}"),
    }
    assert!(err.to_string().starts_with("query on source `primary` failed"), "{err}");
    let found = t.db.read(Some(PRIMARY_CHAT), None, |c| where_is(c, PRIMARY_CHAT)).unwrap();
    assert_eq!(found, None, "the first insert was rolled back");
    assert_eq!(t.db.stats().source("primary").unwrap().errors, 1);
}

#[test]
fn database_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<multisource::Database>();
}

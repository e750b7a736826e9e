//! The settings methods: global settings, chat settings and user data.

use std::collections::BTreeMap;

use diesel::prelude::*;

use crate::backends::{Backend, Place, on_conn, on_each_backend};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

on_each_backend! {
fn set_setting_get_setting_and_get_settings(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    assert_eq!(db.get_setting("owner", None).unwrap(), None);
    db.set_setting("owner", "gromozeka").unwrap();
    db.set_setting("mode", "telegram").unwrap();
    assert_eq!(db.get_setting("owner", None).unwrap().as_deref(), Some("gromozeka"));
    db.set_setting("owner", "someone else").unwrap();
    assert_eq!(db.get_setting("owner", Some("default")).unwrap().as_deref(), Some("someone else"));
    let all = db.get_settings(None).unwrap();
    // The migrations record the Python schema version among the settings.
    assert_eq!(
        all,
        map(&[("db-migration-version", "6"), ("mode", "telegram"), ("owner", "someone else")])
    );
}

fn replacing_a_setting_keeps_its_created_at(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    db.set_setting("k", "1").unwrap();
    db.set_chat_setting(5, "k", "1").unwrap();
    // Age the rows, as if written long ago.
    db.write_any(None, |conn| {
        on_conn!(conn, c => {
            diesel::sql_query(
                "UPDATE settings SET created_at = '2020-01-01 00:00:00', updated_at = '2020-01-01 00:00:00';",
            )
            .execute(c)?;
            diesel::sql_query(
                "UPDATE chat_settings SET created_at = '2020-01-01 00:00:00', updated_at = '2020-01-01 00:00:00';",
            )
            .execute(c)
        })
    })
    .unwrap();
    db.set_setting("k", "2").unwrap();
    db.set_chat_setting(5, "k", "2").unwrap();
    let times = |table: &str| {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            created: String,
            #[diesel(sql_type = diesel::sql_types::Text)]
            updated: String,
        }
        let sql = format!(
            "SELECT CAST(created_at AS TEXT) AS created, CAST(updated_at AS TEXT) AS updated \
             FROM {table} WHERE key = 'k'"
        );
        let row: Row =
            db.read_any(None, None, |conn| on_conn!(conn, c => diesel::sql_query(&sql).get_result(c)))
                .unwrap();
        (row.created, row.updated)
    };
    for table in ["settings", "chat_settings"] {
        let (created, updated) = times(table);
        assert_eq!(created, "2020-01-01 00:00:00", "{table}");
        assert_ne!(updated, "2020-01-01 00:00:00", "{table}");
    }
}

fn chat_settings_set_get_unset_and_clear(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    let chat = -1001234567890;
    assert_eq!(db.get_chat_setting(chat, "model", None).unwrap(), None);
    assert!(db.get_chat_settings(chat, None).unwrap().is_empty());
    db.set_chat_setting(chat, "model", "gpt").unwrap();
    db.set_chat_setting(chat, "lang", "ru").unwrap();
    db.set_chat_setting(chat, "model", "claude").unwrap();
    db.set_chat_setting(42, "model", "other chat").unwrap();
    assert_eq!(db.get_chat_setting(chat, "model", None).unwrap().as_deref(), Some("claude"));
    assert_eq!(
        db.get_chat_settings(chat, None).unwrap(),
        map(&[("lang", "ru"), ("model", "claude")])
    );
    assert!(db.unset_chat_setting(chat, "lang").unwrap());
    assert!(!db.unset_chat_setting(chat, "lang").unwrap(), "already unset");
    assert_eq!(db.get_chat_settings(chat, None).unwrap(), map(&[("model", "claude")]));
    db.set_chat_setting(chat, "a", "1").unwrap();
    assert_eq!(db.clear_chat_settings(chat).unwrap(), 2);
    assert_eq!(db.clear_chat_settings(chat).unwrap(), 0);
    assert!(db.get_chat_settings(chat, None).unwrap().is_empty());
    assert_eq!(db.get_chat_setting(42, "model", None).unwrap().as_deref(), Some("other chat"));
}

fn user_data_add_get_delete_and_clear(backend: Backend) {
    let place = Place::new(backend);
    let db = place.open_one();
    let (user, chat) = (777001, -100);
    assert!(db.get_user_data(user, chat, None).unwrap().is_empty());
    db.add_user_data(user, chat, "city", "Paris").unwrap();
    db.add_user_data(user, chat, "tz", "UTC").unwrap();
    db.add_user_data(user, chat, "city", "Moscow").unwrap();
    db.add_user_data(user, 7, "city", "Elsewhere").unwrap();
    db.add_user_data(1, chat, "city", "Someone else's").unwrap();
    assert_eq!(
        db.get_user_data(user, chat, None).unwrap(),
        map(&[("city", "Moscow"), ("tz", "UTC")])
    );
    assert!(db.delete_user_data(user, chat, "tz").unwrap());
    assert!(!db.delete_user_data(user, chat, "tz").unwrap());
    db.add_user_data(user, chat, "x", "1").unwrap();
    assert_eq!(db.clear_user_data(user, chat).unwrap(), 2);
    assert!(db.get_user_data(user, chat, None).unwrap().is_empty());
    assert_eq!(db.get_user_data(user, 7, None).unwrap(), map(&[("city", "Elsewhere")]));
    assert_eq!(db.get_user_data(1, chat, None).unwrap(), map(&[("city", "Someone else's")]));
}
}

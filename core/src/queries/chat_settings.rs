//! Per-chat settings, in the chat's source.

use std::collections::BTreeMap;

use diesel::dsl::now;
use diesel::prelude::*;

use crate::Connection;
use crate::queries::upsert;
use crate::schema::chat_settings;

/// The value of the chat's setting `key`, or `None` when it is not set.
#[multisource::read(chat = chat_id, cached)]
pub fn get_chat_setting(
    conn: &mut Connection,
    chat_id: i64,
    key: &str,
) -> QueryResult<Option<String>> {
    chat_settings::table
        .find((chat_id, key))
        .select(chat_settings::value)
        .first::<Option<String>>(conn)
        .optional()
        .map(Option::flatten)
}

/// Every setting of the chat. A setting whose value is NULL (which multisource never writes) is
/// left out.
#[multisource::read(chat = chat_id, cached)]
pub fn get_chat_settings(
    conn: &mut Connection,
    chat_id: i64,
) -> QueryResult<BTreeMap<String, String>> {
    let rows: Vec<(String, Option<String>)> = chat_settings::table
        .filter(chat_settings::chat_id.eq(chat_id))
        .select((chat_settings::key, chat_settings::value))
        .load(conn)?;
    Ok(rows.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
}

/// Sets the chat's setting `key` to `value`. Unlike the Python method (`INSERT OR REPLACE`), an
/// existing setting keeps its `created_at`.
#[multisource::write(chat = chat_id)]
pub fn set_chat_setting(
    conn: &mut Connection,
    chat_id: i64,
    key: &str,
    value: &str,
) -> QueryResult<()> {
    upsert(
        diesel::insert_into(chat_settings::table).values((
            chat_settings::chat_id.eq(chat_id),
            chat_settings::key.eq(key),
            chat_settings::value.eq(value),
            chat_settings::updated_at.eq(now),
        )),
        (chat_settings::chat_id, chat_settings::key),
        (chat_settings::value.eq(value), chat_settings::updated_at.eq(now)),
    )
    .execute(conn)
    .map(drop)
}

/// Removes the chat's setting `key`; true when it was set.
#[multisource::write(chat = chat_id)]
pub fn unset_chat_setting(conn: &mut Connection, chat_id: i64, key: &str) -> QueryResult<bool> {
    diesel::delete(chat_settings::table.find((chat_id, key))).execute(conn).map(|n| n > 0)
}

/// Removes every setting of the chat; returns how many there were.
#[multisource::write(chat = chat_id)]
pub fn clear_chat_settings(conn: &mut Connection, chat_id: i64) -> QueryResult<usize> {
    diesel::delete(chat_settings::table.filter(chat_settings::chat_id.eq(chat_id))).execute(conn)
}

//! Data the bot keeps about a user in a chat, in the chat's source.

use std::collections::BTreeMap;

use diesel::dsl::now;
use diesel::prelude::*;

use crate::Connection;
use crate::queries::upsert;
use crate::schema::user_data;

/// Stores `data` under `key` for the user in the chat, replacing what was there.
#[multisource::write(chat = chat_id)]
pub fn add_user_data(
    conn: &mut Connection,
    user_id: i64,
    chat_id: i64,
    key: &str,
    data: &str,
) -> QueryResult<()> {
    upsert(
        diesel::insert_into(user_data::table).values((
            user_data::user_id.eq(user_id),
            user_data::chat_id.eq(chat_id),
            user_data::key.eq(key),
            user_data::data.eq(data),
        )),
        (user_data::user_id, user_data::chat_id, user_data::key),
        (user_data::data.eq(data), user_data::updated_at.eq(now)),
    )
    .execute(conn)
    .map(drop)
}

/// Everything stored for the user in the chat, by key.
#[multisource::read(chat = chat_id)]
pub fn get_user_data(
    conn: &mut Connection,
    user_id: i64,
    chat_id: i64,
) -> QueryResult<BTreeMap<String, String>> {
    let rows: Vec<(String, String)> = user_data::table
        .filter(user_data::user_id.eq(user_id).and(user_data::chat_id.eq(chat_id)))
        .select((user_data::key, user_data::data))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Removes what is stored under `key` for the user in the chat; true when something was.
#[multisource::write(chat = chat_id)]
pub fn delete_user_data(
    conn: &mut Connection,
    user_id: i64,
    chat_id: i64,
    key: &str,
) -> QueryResult<bool> {
    diesel::delete(user_data::table.find((user_id, chat_id, key))).execute(conn).map(|n| n > 0)
}

/// Removes everything stored for the user in the chat; returns how many keys there were.
#[multisource::write(chat = chat_id)]
pub fn clear_user_data(conn: &mut Connection, user_id: i64, chat_id: i64) -> QueryResult<usize> {
    diesel::delete(
        user_data::table.filter(user_data::user_id.eq(user_id).and(user_data::chat_id.eq(chat_id))),
    )
    .execute(conn)
}

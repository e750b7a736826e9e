// A parameter type of the bot's own needs `multisource::Carry`; the error says how to add it.
use diesel::prelude::*;
use multisource::Connection;

pub struct Quota {
    pub per_day: i64,
}

#[multisource::read(chat = chat_id)]
pub fn within(conn: &mut Connection, chat_id: i64, quota: Quota) -> QueryResult<bool> {
    let _ = (conn, chat_id);
    Ok(quota.per_day > 0)
}

fn main() {}

// A bot's own parameter type needs `multisource::Carry` (and `Clone`, to run again); errors say how.
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

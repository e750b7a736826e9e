// A query has one scope.
use diesel::prelude::*;
use multisource::Connection;

#[multisource::read(chat = chat_id, global)]
pub fn count(conn: &mut Connection, chat_id: i64) -> QueryResult<i64> {
    let _ = conn;
    Ok(chat_id)
}

fn main() {}

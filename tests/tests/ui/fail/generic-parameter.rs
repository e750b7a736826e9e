// A query's parameters have concrete types, so that its async twin can carry them.
use diesel::prelude::*;
use multisource::Connection;

#[multisource::read(chat = chat_id)]
pub fn count<T: Into<i64>>(conn: &mut Connection, chat_id: i64, limit: T) -> QueryResult<i64> {
    let _ = conn;
    Ok(chat_id + limit.into())
}

fn main() {}

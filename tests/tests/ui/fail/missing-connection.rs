// The first parameter must be the connection.
use diesel::prelude::*;

#[multisource::read(chat = chat_id)]
pub fn count(chat_id: i64) -> QueryResult<i64> {
    Ok(chat_id)
}

#[multisource::read(global)]
pub fn nothing() -> QueryResult<i64> {
    Ok(0)
}

fn main() {}

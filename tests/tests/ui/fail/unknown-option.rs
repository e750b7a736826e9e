// An unknown option is refused, with the list of the known ones.
use diesel::prelude::*;
use multisource::Connection;

#[multisource::read(chat = chat_id, cache = true)]
pub fn count(conn: &mut Connection, chat_id: i64) -> QueryResult<i64> {
    let _ = conn;
    Ok(chat_id)
}

fn main() {}

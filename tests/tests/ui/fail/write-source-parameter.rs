// A write with a `source` parameter is refused: writes go where the chat is mapped.
use diesel::prelude::*;
use multisource::Connection;

#[multisource::write(chat = chat_id)]
pub fn forget(conn: &mut Connection, chat_id: i64, source: &str) -> QueryResult<usize> {
    let _ = (conn, chat_id, source);
    Ok(0)
}

fn main() {}

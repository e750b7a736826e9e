// A write never takes a source: asking for one is refused.
use diesel::prelude::*;
use multisource::Connection;

#[multisource::write(chat = chat_id, source)]
pub fn forget(conn: &mut Connection, chat_id: i64) -> QueryResult<usize> {
    let _ = (conn, chat_id);
    Ok(0)
}

fn main() {}

// `chat` must name a parameter of the function.
use diesel::prelude::*;
use multisource::Connection;

#[multisource::read(chat = chatid)]
pub fn count(conn: &mut Connection, chat_id: i64, user_id: i64) -> QueryResult<i64> {
    let _ = (conn, chat_id, user_id);
    Ok(0)
}

fn main() {}

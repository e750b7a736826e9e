// The chat id is an `i64`; the type error points at the `chat` expression.
use diesel::prelude::*;
use multisource::Connection;

#[multisource::read(chat = name)]
pub fn count(conn: &mut Connection, name: &str) -> QueryResult<i64> {
    let _ = (conn, name);
    Ok(0)
}

fn main() {}

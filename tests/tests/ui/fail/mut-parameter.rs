// A query cannot take a `&mut` argument: its async twin runs it on another thread.
use diesel::prelude::*;
use multisource::Connection;

#[multisource::write(chat = chat_id)]
pub fn collect(conn: &mut Connection, chat_id: i64, into: &mut Vec<i64>) -> QueryResult<()> {
    let _ = conn;
    into.push(chat_id);
    Ok(())
}

fn main() {}

// `cached` is for reads of one chat or global reads whose answer is the query's alone.
use diesel::prelude::*;
use multisource::Connection;

#[multisource::write(chat = chat_id, cached)]
pub fn forget(conn: &mut Connection, chat_id: i64) -> QueryResult<usize> {
    let _ = (conn, chat_id);
    Ok(0)
}

#[multisource::read(all_sources, key = chat_id, cached)]
pub fn every_chat(conn: &mut Connection) -> QueryResult<Vec<multisource::ChatInfo>> {
    let _ = conn;
    Ok(Vec::new())
}

#[multisource::read(chat = chat_id, finish = keep, cached)]
pub fn title(conn: &mut Connection, chat_id: i64) -> QueryResult<Option<String>> {
    let _ = (conn, chat_id);
    Ok(None)
}

fn main() {}

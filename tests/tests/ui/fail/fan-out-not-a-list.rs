// A read over every source returns rows to merge: `QueryResult<Vec<T>>`.
use diesel::prelude::*;
use multisource::Connection;

#[multisource::read(all_sources, key = chat_id)]
pub fn total(conn: &mut Connection) -> QueryResult<i64> {
    let _ = conn;
    Ok(0)
}

fn main() {}

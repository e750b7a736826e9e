// A write cannot fan out to every source.
use diesel::prelude::*;
use multisource::Connection;

#[multisource::write(all_sources, key = chat_id)]
pub fn wipe(conn: &mut Connection) -> QueryResult<Vec<i64>> {
    let _ = conn;
    Ok(Vec::new())
}

fn main() {}

// A read over every source needs the key its rows are de-duplicated by.
use diesel::prelude::*;
use multisource::{ChatInfo, Connection};

#[multisource::read(all_sources)]
pub fn chats(conn: &mut Connection) -> QueryResult<Vec<ChatInfo>> {
    let _ = conn;
    Ok(Vec::new())
}

fn main() {}

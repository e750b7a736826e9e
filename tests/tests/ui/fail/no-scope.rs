// Every query says where it runs.
use diesel::prelude::*;
use multisource::Connection;

#[multisource::read]
pub fn total(conn: &mut Connection) -> QueryResult<i64> {
    let _ = conn;
    Ok(0)
}

fn main() {}

// A query returns diesel's `QueryResult<T>`.
use multisource::Connection;

#[multisource::read(chat = chat_id)]
pub fn count(conn: &mut Connection, chat_id: i64) -> Result<i64, String> {
    let _ = conn;
    Ok(chat_id)
}

#[multisource::write(global)]
pub fn touch(conn: &mut Connection) {
    let _ = conn;
}

fn main() {}

// Generated code uses absolute paths only: it compiles where a user shadowed `Result`, `Option`,
// `Ok`, `Err`, `Some`, `None`, `Vec` and `Clone`.
#![allow(dead_code, unused_imports, non_camel_case_types)]

use diesel::prelude::*;
use multisource::schema::{chat_info, settings};
use multisource::{ChatInfo, Connection, Database};

type Result<T> = std::result::Result<T, String>;
type Option = ();
struct Ok;
struct Err;
struct Some;
struct None;
struct Vec;
trait Clone {}

#[multisource::read(chat = chat_id)]
pub fn setting_of_chat(conn: &mut Connection, chat_id: i64) -> QueryResult<i64> {
    let _ = conn;
    QueryResult::Ok(chat_id)
}

#[multisource::read(global)]
pub fn setting_count(conn: &mut Connection) -> QueryResult<i64> {
    settings::table.count().get_result(conn)
}

#[multisource::read(all_sources, key = chat_id)]
pub fn every_chat(conn: &mut Connection, kind: &str) -> QueryResult<std::vec::Vec<ChatInfo>> {
    chat_info::table.filter(chat_info::chat_type.eq(kind)).select(ChatInfo::as_select()).load(conn)
}

#[multisource::write(chat = chat_id)]
pub fn touch_chat(conn: &mut Connection, chat_id: i64) -> QueryResult<usize> {
    diesel::update(chat_info::table.find(chat_id)).set(chat_info::title.eq("touched")).execute(conn)
}

#[multisource::write(global)]
pub fn forget(conn: &mut Connection, key: &str) -> QueryResult<usize> {
    diesel::delete(settings::table.filter(settings::key.eq(key))).execute(conn)
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open_path(dir.path().join("bot.db")).unwrap();
    assert_eq!(db.setting_of_chat(-5, std::option::Option::None).unwrap(), -5);
    assert_eq!(db.setting_count(std::option::Option::None).unwrap(), 1);
    assert!(db.every_chat("group", std::option::Option::None).unwrap().is_empty());
    assert_eq!(db.touch_chat(-5).unwrap(), 0);
    assert_eq!(db.forget("db-migration-version").unwrap(), 1);
}

// Parameters taken by value, not `Copy` (a `String`, a `Vec`, a type of the bot's own), move
// once into the copy of the query that runs, with and without the `postgres` feature, and their
// async twins carry them.
#![allow(dead_code)]

use diesel::prelude::*;
use multisource::Connection;
use multisource::schema::settings;

#[derive(Clone)]
pub struct Tag {
    pub name: String,
}

multisource::carry_by_clone!(Tag);

#[multisource::write(global)]
pub fn save_tags(conn: &mut Connection, key: String, tags: Vec<String>, tag: Tag) -> QueryResult<usize> {
    let value = format!("{}: {}", tag.name, tags.join(","));
    diesel::insert_into(settings::table)
        .values((settings::key.eq(key), settings::value.eq(value)))
        .execute(conn)
}

#[multisource::read(all_sources, key = key)]
pub fn settings_named(conn: &mut Connection, keys: Vec<String>) -> QueryResult<Vec<Setting>> {
    settings::table.filter(settings::key.eq_any(keys)).select((settings::key, settings::value)).load(conn)
}

#[derive(Queryable)]
pub struct Setting {
    pub key: Option<String>,
    pub value: Option<String>,
}

fn main() {}

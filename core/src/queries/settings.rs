//! Global settings: key-value pairs of the bot, in the default source.

use std::collections::BTreeMap;

use diesel::dsl::now;
use diesel::prelude::*;

use crate::Connection;
use crate::queries::upsert;
use crate::schema::settings;

/// The value of the global setting `key`, or `None` when it is not set. (The Python method took a
/// default to return instead; use `unwrap_or` on the result.)
#[multisource::read(global)]
pub fn get_setting(conn: &mut Connection, key: &str) -> QueryResult<Option<String>> {
    settings::table
        .filter(settings::key.eq(key))
        .select(settings::value)
        .first::<Option<String>>(conn)
        .optional()
        .map(Option::flatten)
}

/// Every global setting. A setting whose value is NULL (which multisource never writes) is left
/// out.
#[multisource::read(global)]
pub fn get_settings(conn: &mut Connection) -> QueryResult<BTreeMap<String, String>> {
    let rows: Vec<(Option<String>, Option<String>)> =
        settings::table.select((settings::key, settings::value)).load(conn)?;
    Ok(rows.into_iter().filter_map(|(k, v)| Some((k?, v?))).collect())
}

/// Sets the global setting `key` to `value`. Unlike the Python method (`INSERT OR REPLACE`), an
/// existing setting keeps its `created_at`. Always written to the default source: the Python
/// method's `dataSource` argument is gone, as writes never take a source.
#[multisource::write(global)]
pub fn set_setting(conn: &mut Connection, key: &str, value: &str) -> QueryResult<()> {
    upsert(
        diesel::insert_into(settings::table).values((
            settings::key.eq(key),
            settings::value.eq(value),
            settings::updated_at.eq(now),
        )),
        (settings::key,),
        (settings::value.eq(value), settings::updated_at.eq(now)),
    )
    .execute(conn)
    .map(drop)
}

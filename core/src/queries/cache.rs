//! Caches: the generic key-value `cache_storage` and one table per [`CacheType`]. Global, in the
//! default source.

use chrono::{TimeDelta, Utc};
use diesel::dsl::now;
use diesel::prelude::*;

use crate::Connection;
use crate::enums::CacheType;
use crate::models::{CacheEntry, CacheStorageEntry};
use crate::queries::upsert;
use crate::queries::whole_seconds;
use crate::schema::cache_storage as storage;
use chrono::Datelike;

/// Runs `$body` with `$t` naming the module of the table of `$cache_type`: the six cache tables
/// have one shape, and a static query per table keeps diesel's statement cache working.
macro_rules! with_cache_table {
    ($cache_type:expr, $t:ident => $body:expr) => {
        match $cache_type {
            CacheType::Weather => {
                use crate::schema::cache_weather as $t;
                $body
            }
            CacheType::Geocoding => {
                use crate::schema::cache_geocoding as $t;
                $body
            }
            CacheType::YandexSearch => {
                use crate::schema::cache_yandex_search as $t;
                $body
            }
            CacheType::GeocodeMapsSearch => {
                use crate::schema::cache_geocode_maps_search as $t;
                $body
            }
            CacheType::GeocodeMapsReverse => {
                use crate::schema::cache_geocode_maps_reverse as $t;
                $body
            }
            CacheType::GeocodeMapsLookup => {
                use crate::schema::cache_geocode_maps_lookup as $t;
                $body
            }
        }
    };
}

/// Every entry of the generic cache, most recently written first.
#[multisource::read(global)]
pub fn get_cache_storage(conn: &mut Connection) -> QueryResult<Vec<CacheStorageEntry>> {
    storage::table
        .select((storage::namespace, storage::key, storage::value, storage::updated_at))
        .order(storage::updated_at.desc())
        .load(conn)
}

/// Stores `value` under `key` in `namespace` of the generic cache, replacing what was there.
#[multisource::write(global)]
pub fn set_cache_storage(
    conn: &mut Connection,
    namespace: &str,
    key: &str,
    value: &str,
) -> QueryResult<()> {
    upsert(
        diesel::insert_into(storage::table).values((
            storage::namespace.eq(namespace),
            storage::key.eq(key),
            storage::value.eq(value),
            storage::updated_at.eq(now),
        )),
        (storage::namespace, storage::key),
        (storage::value.eq(value), storage::updated_at.eq(now)),
    )
    .execute(conn)
    .map(drop)
}

/// Removes `key` from `namespace` of the generic cache; true when it was there.
#[multisource::write(global)]
pub fn unset_cache_storage(conn: &mut Connection, namespace: &str, key: &str) -> QueryResult<bool> {
    diesel::delete(storage::table.find((namespace, key))).execute(conn).map(|n| n > 0)
}

/// The entry under `key` in the cache `cache_type`. With a `ttl` (in seconds), only an entry
/// written within the last `ttl` seconds counts; a `ttl` of zero or less finds nothing without
/// querying, as in the Python bot.
#[multisource::read(global)]
pub fn get_cache_entry(
    conn: &mut Connection,
    key: &str,
    cache_type: CacheType,
    ttl: Option<i64>,
) -> QueryResult<Option<CacheEntry>> {
    let oldest = match ttl {
        Some(ttl) if ttl <= 0 => return Ok(None),
        // A TTL reaching before the year 0 bounds nothing.
        Some(ttl) => TimeDelta::try_seconds(ttl)
            .and_then(|ttl| Utc::now().naive_utc().checked_sub_signed(ttl))
            .filter(|oldest| crate::timestamps::YEARS.contains(&oldest.year()))
            .map(whole_seconds),
        None => None,
    };
    with_cache_table!(cache_type, t => {
        let query = t::table
            .filter(t::key.eq(key))
            .select((t::key.assume_not_null(), t::data, t::created_at, t::updated_at));
        match oldest {
            Some(oldest) => query.filter(t::updated_at.ge(oldest)).first(conn).optional(),
            None => query.first(conn).optional(),
        }
    })
}

/// Stores `data` under `key` in the cache `cache_type`, replacing what was there. Always written
/// to the default source: the Python method's `dataSource` argument is gone, as writes never take
/// a source.
#[multisource::write(global)]
pub fn set_cache_entry(
    conn: &mut Connection,
    key: &str,
    data: &str,
    cache_type: CacheType,
) -> QueryResult<()> {
    with_cache_table!(cache_type, t => {
        upsert(diesel::insert_into(t::table).values((t::key.eq(key), t::data.eq(data), t::created_at.eq(now), t::updated_at.eq(now))), (t::key,), (t::data.eq(data), t::updated_at.eq(now))).execute(conn)
            .map(drop)
    })
}

/// Empties the cache `cache_type`; returns how many entries it held. (The Python method returned
/// nothing and only logged failures.)
#[multisource::write(global)]
pub fn clear_cache(conn: &mut Connection, cache_type: CacheType) -> QueryResult<usize> {
    with_cache_table!(cache_type, t => diesel::delete(t::table).execute(conn))
}

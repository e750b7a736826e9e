//! What PostgreSQL sources need of the models (the `postgres` feature): the string enums stored
//! as text, and the fast timestamp decoders, for PostgreSQL's wire formats.

use chrono::NaiveDateTime;
use diesel::deserialize::{self, FromSql};
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{Nullable, Text, Timestamp};

use crate::enums::{CacheType, MediaStatus, MessageCategory, MessageType, SpamReason};
use crate::timestamps::{MaybeStamp, Stamp};

/// Stores each enum as its Python string, as on SQLite.
macro_rules! text_enums {
    ($($name:ident),* $(,)?) => {$(
        impl ToSql<Text, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                std::io::Write::write_all(out, self.as_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Pg> for $name {
            fn from_sql(value: PgValue<'_>) -> deserialize::Result<$name> {
                Ok(std::str::from_utf8(value.as_bytes())?.parse::<$name>()?)
            }
        }
    )*};
}

text_enums!(MessageType, MessageCategory, MediaStatus, SpamReason, CacheType);

// PostgreSQL sends timestamps in binary: diesel's own decoding is already direct.
impl FromSql<Timestamp, Pg> for Stamp {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<Stamp> {
        <NaiveDateTime as FromSql<Timestamp, Pg>>::from_sql(value).map(Stamp)
    }
}

impl FromSql<Nullable<Timestamp>, Pg> for MaybeStamp {
    fn from_sql(value: PgValue<'_>) -> deserialize::Result<MaybeStamp> {
        <Stamp as FromSql<Timestamp, Pg>>::from_sql(value).map(|s| MaybeStamp(Some(s.0)))
    }

    fn from_nullable_sql(value: Option<PgValue<'_>>) -> deserialize::Result<MaybeStamp> {
        match value {
            Some(value) => <MaybeStamp as FromSql<Nullable<Timestamp>, Pg>>::from_sql(value),
            None => Ok(MaybeStamp(None)),
        }
    }
}

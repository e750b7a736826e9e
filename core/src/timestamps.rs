//! Fast decoding of the stored timestamps.
//!
//! The Python bot and SQLite's `CURRENT_TIMESTAMP` store `YYYY-MM-DD HH:MM:SS`. Diesel decodes a
//! timestamp by trying chrono's format strings one after the other, which costs more than the
//! rest of a primary-key read; the models decode through [`Stamp`] and [`MaybeStamp`] instead,
//! which read that shape (and `T` in place of the space, and a fraction of a second) directly and
//! leave any other shape to diesel.
//!
//! A bot's own models can use them the same way:
//! `#[diesel(deserialize_as = multisource::timestamps::Stamp)] pub date: NaiveDateTime`.
//!
//! Timestamps are stored as text and compared as text, which orders them as time only for the
//! years 0000 to 9999; [`checked`] refuses the others (a bot's own queries should call it on the
//! timestamps they are given, as the library's do).

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::sql_types::{Nullable, Timestamp};
use diesel::sqlite::{Sqlite, SqliteValue};

/// The earliest and latest years a stored timestamp may have.
pub const YEARS: std::ops::RangeInclusive<i32> = 0..=9999;

/// `at`, when its year is one a stored timestamp may have (0000 to 9999); otherwise an error for
/// the query to return, which the call reports as `Error::InvalidArgument` naming `parameter`.
pub fn checked(parameter: &str, at: NaiveDateTime) -> diesel::QueryResult<NaiveDateTime> {
    match YEARS.contains(&at.year()) {
        true => Ok(at),
        false => Err(diesel::result::Error::SerializationError(Box::new(
            multisource_router::InvalidArgument {
                parameter: parameter.to_owned(),
                problem: format!(
                    "is {at}, in the year {}; timestamps are stored as text, which sorts as time \
                     only for the years 0000 to 9999, so give one within them",
                    at.year()
                ),
            },
        ))),
    }
}

/// A `TIMESTAMP NOT NULL` column, decoded fast: use it as `deserialize_as` of a `NaiveDateTime`
/// field.
#[derive(Debug, FromSqlRow)]
pub struct Stamp(pub(crate) NaiveDateTime);

/// A nullable `TIMESTAMP` column, decoded fast: use it as `deserialize_as` of an
/// `Option<NaiveDateTime>` field.
#[derive(Debug, FromSqlRow)]
pub struct MaybeStamp(pub(crate) Option<NaiveDateTime>);

impl From<Stamp> for NaiveDateTime {
    fn from(stamp: Stamp) -> NaiveDateTime {
        stamp.0
    }
}

impl From<MaybeStamp> for Option<NaiveDateTime> {
    fn from(stamp: MaybeStamp) -> Option<NaiveDateTime> {
        stamp.0
    }
}

impl FromSql<Timestamp, Sqlite> for Stamp {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Stamp> {
        match parse(value.read_text()) {
            Some(at) => Ok(Stamp(at)),
            None => <NaiveDateTime as FromSql<Timestamp, Sqlite>>::from_sql(value).map(Stamp),
        }
    }
}

impl FromSql<Nullable<Timestamp>, Sqlite> for MaybeStamp {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<MaybeStamp> {
        <Stamp as FromSql<Timestamp, Sqlite>>::from_sql(value).map(|s| MaybeStamp(Some(s.0)))
    }

    fn from_nullable_sql(
        value: Option<SqliteValue<'_, '_, '_>>,
    ) -> deserialize::Result<MaybeStamp> {
        match value {
            Some(value) => <MaybeStamp as FromSql<Nullable<Timestamp>, Sqlite>>::from_sql(value),
            None => Ok(MaybeStamp(None)),
        }
    }
}

/// Reads `YYYY-MM-DD HH:MM:SS`, with `T` for the space and an optional fraction of a second of
/// up to nine digits; `None` for any other text.
fn parse(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || (b[10] != b' ' && b[10] != b'T') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let digits = |from: usize, to: usize| -> Option<u32> {
        b[from..to]
            .iter()
            .try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    let nanos = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=9).contains(&fraction.len()) => {
            let value = digits(20, b.len())?;
            value * 10u32.pow(9 - fraction.len() as u32)
        }
        _ => return None,
    };
    let date =
        NaiveDate::from_ymd_opt(i32::try_from(digits(0, 4)?).ok()?, digits(5, 7)?, digits(8, 10)?)?;
    let time =
        NaiveTime::from_hms_nano_opt(digits(11, 13)?, digits(14, 16)?, digits(17, 19)?, nanos)?;
    Some(date.and_time(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    #[test]
    fn reads_the_stored_shapes() {
        assert_eq!(parse("2025-11-30 12:01:00"), Some(at("2025-11-30 12:01:00")));
        assert_eq!(parse("2025-11-30T12:01:00"), Some(at("2025-11-30 12:01:00")));
        assert_eq!(parse("2025-11-30 12:01:00.5"), Some(at("2025-11-30 12:01:00.5")));
        assert_eq!(
            parse("2025-11-30 12:01:00.123456789"),
            Some(at("2025-11-30 12:01:00.123456789"))
        );
        assert_eq!(parse("0001-01-01 00:00:00"), Some(at("0001-01-01 00:00:00")));
    }

    #[test]
    fn leaves_every_other_text_to_diesel() {
        for text in [
            "",
            "2025-11-30",
            "2025-11-30 12:01",
            "2025-13-30 12:01:00",
            "2025-02-30 12:01:00",
            "2025-11-30 24:01:00",
            "2025-11-30 12:01:00.",
            "2025-11-30 12:01:00.1234567890",
            "2025-11-30 12:01:00Z",
            "2025/11/30 12:01:00",
            "2460000.5",
            "２025-11-30 12:01:00",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }
}

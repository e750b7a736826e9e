//! The Python bot's string enums. Each is stored as its Python string value, and reading a value
//! that is not one of them is an error naming the column's type and the value.

use std::fmt;
use std::str::FromStr;

use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::{Sqlite, SqliteValue};

/// A string that is not a value of the enum it was read or parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a {kind}; expected one of {expected}")]
pub struct UnknownValue {
    /// The enum's name.
    pub kind: &'static str,
    /// The string found.
    pub value: String,
    /// The accepted strings, quoted and joined.
    pub expected: String,
}

macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
        #[diesel(sql_type = Text)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("`", $text, "`")] $variant, )+
        }

        impl $name {
            /// Every value, in the Python declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The string stored in the database: the Python enum's value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(value: &str) -> Result<$name, UnknownValue> {
                match value {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        kind: stringify!($name),
                        value: value.to_owned(),
                        expected: [$(concat!("`", $text, "`")),+].join(", "),
                    }),
                }
            }
        }

        impl ToSql<Text, Sqlite> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(self.as_str());
                Ok(IsNull::No)
            }
        }

        impl FromSql<Text, Sqlite> for $name {
            fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<$name> {
                Ok(value.read_text().parse::<$name>()?)
            }
        }
    };
}

string_enum! {
    /// The kind of a message.
    #[derive(Default)]
    MessageType {
        #[default]
        Text = "text",
        Image = "image",
        Sticker = "sticker",
        Animation = "animation",
        Video = "video",
        VideoNote = "video-note",
        Audio = "audio",
        Voice = "voice",
        Document = "document",
        Unknown = "unknown",
    }
}

string_enum! {
    /// Who or what a message comes from.
    #[derive(Default)]
    MessageCategory {
        #[default]
        Unspecified = "unspecified",
        User = "user",
        UserCommand = "user-command",
        Channel = "channel",
        Bot = "bot",
        BotCommandReply = "bot-command-reply",
        BotError = "bot-error",
        BotSummary = "bot-summary",
        BotSpamNotification = "bot-spam-notification",
        UserSpam = "user-spam",
    }
}

string_enum! {
    /// Where the processing of a media attachment stands.
    #[derive(Default)]
    MediaStatus {
        #[default]
        New = "new",
        Pending = "pending",
        Done = "done",
        Failed = "failed",
    }
}

string_enum! {
    /// Why a message was recorded as spam (or ham).
    SpamReason {
        Auto = "auto",
        User = "user",
        Admin = "admin",
        Unban = "unban",
    }
}

string_enum! {
    /// A cache, each kept in its own table `cache_<value>`.
    CacheType {
        Weather = "weather",
        Geocoding = "geocoding",
        YandexSearch = "yandex_search",
        GeocodeMapsSearch = "geocode_maps_search",
        GeocodeMapsReverse = "geocode_maps_reverse",
        GeocodeMapsLookup = "geocode_maps_lookup",
    }
}

impl CacheType {
    /// The table that holds this cache.
    pub fn table_name(self) -> String {
        format!("cache_{}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_the_python_strings_and_round_trip() {
        assert_eq!(MessageType::VideoNote.as_str(), "video-note");
        assert_eq!(MessageCategory::BotSpamNotification.as_str(), "bot-spam-notification");
        assert_eq!(CacheType::GeocodeMapsLookup.table_name(), "cache_geocode_maps_lookup");
        for value in MessageCategory::ALL {
            assert_eq!(value.as_str().parse::<MessageCategory>(), Ok(*value));
        }
        assert_eq!(MessageType::ALL.len(), 10);
        assert_eq!(MessageCategory::ALL.len(), 10);
        assert_eq!(MediaStatus::ALL.len(), 4);
        assert_eq!(SpamReason::ALL.len(), 4);
        assert_eq!(CacheType::ALL.len(), 6);
    }

    #[test]
    fn an_unknown_string_names_the_enum_and_the_choices() {
        let err = "gif".parse::<MessageType>().unwrap_err();
        assert_eq!(err.kind, "MessageType");
        assert!(err.to_string().starts_with("`gif` is not a MessageType; expected one of `text`"));
    }
}

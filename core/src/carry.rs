//! [`Carry`]: how an async call takes its arguments to the library's threads.
//!
//! An async method ([`crate::AsyncDatabase`]) takes the same parameters as its blocking twin,
//! borrowed strings and structs included, and returns a future that borrows none of them: each
//! argument is carried as an owned value to the thread that runs the query, and lent back there
//! with the parameter's type. The future can then be spawned, and dropped at any point, without
//! anything it was given outliving the call.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

use crate::enums::{CacheType, MediaStatus, MessageCategory, MessageType, SpamReason};
use crate::models::{MediaAttachmentUpdate, NewMediaAttachment, NewMessage};

/// A type of parameter that an async call can carry to another thread and lend back.
///
/// It is implemented for a *family* of types, named with `'static` lifetimes: `&'static str`
/// stands for every `&str` parameter, `Option<&'static str>` for every `Option<&str>`,
/// `NewMessage<'static>` for every `&NewMessage<'_>` (a parameter that is a reference to a struct
/// is carried as the struct, and lent back by reference). The async method of a query carries
/// each argument with [`Carry::carry`] when it is called, and the thread that runs the query
/// lends it back with [`Carry::lend`].
///
/// It is implemented here for the numbers, `bool`, `char`, `String`, `&str`, slices and `Vec`s of
/// clonable values, `Option`s of any of them, chrono's dates and times, the library's enums and
/// its input structs. A parameter type of a bot's own needs an implementation: for an owned type
/// that is `Clone + Send + 'static`, [`carry_by_clone!`](crate::carry_by_clone); for a struct of
/// borrowed fields, [`carry_struct!`](crate::carry_struct).
#[diagnostic::on_unimplemented(
    message = "an async query cannot carry a `{Self}` argument to the library's threads",
    label = "this parameter's type does not implement `multisource::Carry`",
    note = "implement it with `multisource::carry_by_clone!` for an owned `Clone` type, or \
            `multisource::carry_struct!` for a struct of borrowed fields"
)]
pub trait Carry: 'static {
    /// The parameter's type, borrowing for `'v`.
    type Lent<'v>;
    /// What is carried: owned, and sendable to another thread.
    type Owned: Send + 'static;

    /// Takes an owned copy of `value`.
    fn carry(value: &Self::Lent<'_>) -> Self::Owned;

    /// The parameter again, borrowed from the carried copy.
    fn lend(owned: &Self::Owned) -> Self::Lent<'_>;
}

/// Implements [`Carry`] for owned types that are `Clone + Send + 'static`: carried as a clone,
/// lent as another.
///
/// ```
/// #[derive(Clone)]
/// struct Quota { per_day: u32 }
///
/// multisource::carry_by_clone!(Quota);
/// ```
#[macro_export]
macro_rules! carry_by_clone {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::Carry for $ty {
            type Lent<'v> = $ty;
            type Owned = $ty;

            fn carry(value: &$ty) -> $ty {
                ::core::clone::Clone::clone(value)
            }

            fn lend(owned: &$ty) -> $ty {
                ::core::clone::Clone::clone(owned)
            }
        }
    )*};
}

/// Implements [`Carry`] for a struct whose fields borrow (`struct Reminder<'a> { text: &'a str,
/// .. }`), field by field: the carried copy is a struct of the fields' carried copies, named by
/// the macro's second name, and the lent struct borrows from it.
///
/// Each field's type is written as its [`Carry`] family, with `'static` for the struct's lifetime.
///
/// ```
/// pub struct NewReminder<'a> {
///     pub text: &'a str,
///     pub minutes: u32,
///     pub note: Option<&'a str>,
/// }
///
/// multisource::carry_struct!(NewReminder as OwnedNewReminder {
///     text: &'static str,
///     minutes: u32,
///     note: Option<&'static str>,
/// });
/// ```
#[macro_export]
macro_rules! carry_struct {
    ($name:ident as $owned:ident { $($field:ident: $family:ty),* $(,)? }) => {
        #[doc = concat!("The carried copy of a `", stringify!($name), "`, for async calls.")]
        #[doc(hidden)]
        pub struct $owned {
            $($field: <$family as $crate::Carry>::Owned,)*
        }

        impl $crate::Carry for $name<'static> {
            type Lent<'v> = $name<'v>;
            type Owned = $owned;

            fn carry(value: &$name<'_>) -> $owned {
                $owned { $($field: <$family as $crate::Carry>::carry(&value.$field),)* }
            }

            fn lend(owned: &$owned) -> $name<'_> {
                $name { $($field: <$family as $crate::Carry>::lend(&owned.$field),)* }
            }
        }
    };
}

/// Copies are carried as themselves.
macro_rules! carry_by_copy {
    ($($ty:ty),* $(,)?) => {$(
        impl Carry for $ty {
            type Lent<'v> = $ty;
            type Owned = $ty;

            fn carry(value: &$ty) -> $ty {
                *value
            }

            fn lend(owned: &$ty) -> $ty {
                *owned
            }
        }
    )*};
}

carry_by_copy!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64, bool, char
);
carry_by_copy!(NaiveDateTime, NaiveDate, NaiveTime, DateTime<Utc>, TimeDelta);
carry_by_copy!(MessageType, MessageCategory, MediaStatus, SpamReason, CacheType);

carry_by_clone!(String);

impl Carry for &'static str {
    type Lent<'v> = &'v str;
    type Owned = String;

    fn carry(value: &&str) -> String {
        (*value).to_owned()
    }

    fn lend(owned: &String) -> &str {
        owned
    }
}

impl<T: Clone + Send + Sync + 'static> Carry for &'static [T] {
    type Lent<'v> = &'v [T];
    type Owned = Vec<T>;

    fn carry(value: &&[T]) -> Vec<T> {
        value.to_vec()
    }

    fn lend(owned: &Vec<T>) -> &[T] {
        owned
    }
}

impl<T: Clone + Send + 'static> Carry for Vec<T> {
    type Lent<'v> = Vec<T>;
    type Owned = Vec<T>;

    fn carry(value: &Vec<T>) -> Vec<T> {
        value.clone()
    }

    fn lend(owned: &Vec<T>) -> Vec<T> {
        owned.clone()
    }
}

impl<F: Carry> Carry for Option<F> {
    type Lent<'v> = Option<F::Lent<'v>>;
    type Owned = Option<F::Owned>;

    fn carry(value: &Option<F::Lent<'_>>) -> Option<F::Owned> {
        value.as_ref().map(F::carry)
    }

    fn lend(owned: &Option<F::Owned>) -> Option<F::Lent<'_>> {
        owned.as_ref().map(F::lend)
    }
}

carry_struct!(NewMessage as OwnedNewMessage {
    reply_id: Option<&'static str>,
    thread_id: Option<i64>,
    message_text: &'static str,
    message_type: MessageType,
    message_category: MessageCategory,
    root_message_id: Option<&'static str>,
    quote_text: Option<&'static str>,
    media_id: Option<&'static str>,
});

carry_struct!(NewMediaAttachment as OwnedNewMediaAttachment {
    file_size: Option<i64>,
    media_type: MessageType,
    mime_type: Option<&'static str>,
    metadata: &'static str,
    status: MediaStatus,
    local_url: Option<&'static str>,
    prompt: Option<&'static str>,
    description: Option<&'static str>,
});

carry_struct!(MediaAttachmentUpdate as OwnedMediaAttachmentUpdate {
    file_size: Option<i64>,
    status: Option<MediaStatus>,
    metadata: Option<&'static str>,
    mime_type: Option<&'static str>,
    local_url: Option<&'static str>,
    description: Option<&'static str>,
    prompt: Option<&'static str>,
});

#[cfg(test)]
mod tests {
    use super::*;

    /// What the generated async code does with an argument: carry it, then lend it back.
    fn round_trip<F: Carry>(value: F::Lent<'_>, check: impl FnOnce(F::Lent<'_>)) {
        let owned = F::carry(&value);
        drop(value);
        check(F::lend(&owned));
    }

    #[test]
    fn every_kind_of_argument_comes_back_as_it_went() {
        let text = String::from("hello");
        round_trip::<&'static str>(&text, |s| assert_eq!(s, "hello"));
        round_trip::<Option<&'static str>>(Some(&text), |s| assert_eq!(s, Some("hello")));
        round_trip::<Option<&'static str>>(None, |s| assert_eq!(s, None));
        let categories = vec![MessageCategory::User, MessageCategory::Bot];
        round_trip::<Option<&'static [MessageCategory]>>(Some(&categories), |c| {
            assert_eq!(c, Some(&categories[..]))
        });
        round_trip::<i64>(-1001234567890, |n| assert_eq!(n, -1001234567890));
        let message = NewMessage {
            reply_id: Some("41"),
            message_text: &text,
            media_id: Some("m"),
            ..NewMessage::default()
        };
        round_trip::<NewMessage<'static>>(message, |m| assert_eq!(m, message));
        let update = MediaAttachmentUpdate { prompt: Some("p"), ..Default::default() };
        round_trip::<MediaAttachmentUpdate<'static>>(update, |u| assert_eq!(u, update));
    }
}

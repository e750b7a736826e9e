//! Hostile input: arbitrary and mutated configurations, text that tries to break out of SQL or
//! out of UTF-8, extreme chat ids, and the Python layer's edge cases. Property tests run a few
//! hundred generated cases each; a failure prints the smallest input that fails.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::NaiveDate;
use multisource::{CacheType, Config, Database, Error, MessageCategory, NewMessage};
use proptest::prelude::*;
use proptest::test_runner::{Config as Cases, TestRunner};

use crate::common::{PRIMARY_CHAT, SECONDARY_CHAT, Scratch, ThreeSources, fixture_path};

/// A runner of `cases` cases that writes no regression files into the source tree.
fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Cases { cases, failure_persistence: None, ..Cases::default() })
}

/// What a refused configuration must say: a key, or for text that is not TOML at least a line.
fn check_refusal(text: &str, result: multisource::Result<Config>) -> Result<(), TestCaseError> {
    let Err(error) = result else { return Ok(()) };
    let Error::Config { key, line, message, .. } = &error else {
        return Err(TestCaseError::fail(format!("not a configuration error: {error:?}")));
    };
    prop_assert!(!message.is_empty(), "an empty message for {text:?}");
    if message.starts_with("not valid TOML") {
        prop_assert!(line.is_some(), "a syntax error without a line: {error} for {text:?}");
    } else {
        prop_assert!(!key.is_empty(), "a refusal that names no key: {error} for {text:?}");
    }
    Ok(())
}

/// Fragments of TOML, valid and not, that the generators assemble into documents.
const TOML_PIECES: &[&str] = &[
    "[database]\n",
    "[database.sources.a]\n",
    "[database.sources.\"b c\"]\n",
    "[database.chatMapping]\n",
    "[[database.sources]]\n",
    "[sources.a]\n",
    "default = \"a\"\n",
    "path = \"a.db\"\n",
    "path = \"\"\n",
    "path = \":memory:\"\n",
    "readonly = true\n",
    "readonly = \"yes\"\n",
    "pool-size = 3\n",
    "pool_size = 0\n",
    "pool-size = -1\n",
    "pool-size = 9223372036854775807\n",
    "timeout = 30.0\n",
    "timeout = nan\n",
    "timeout = -inf\n",
    "durability = \"full\"\n",
    "durability = \"sometimes\"\n",
    "immutable = true\n",
    "on_source_error = \"fail\"\n",
    "-1001 = \"a\"\n",
    "-9223372036854775808 = \"a\"\n",
    "9223372036854775808 = \"a\"\n",
    "x = \"a\"\n",
    "database = 1\n",
    "= \n",
    "[",
    "]]\n",
    "\"\\u0000\" = 1\n",
    "k = '''\n",
    "\u{0}",
    "\u{FEFF}",
    "\r\n",
    "# comment\n",
];

fn toml_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(TOML_PIECES), 0..24).prop_map(|p| p.concat())
}

#[test]
fn parsing_arbitrary_text_never_panics_and_every_refusal_names_a_key_or_its_line() {
    let texts = prop_oneof![any::<String>(), toml_soup()];
    runner(2048).run(&texts, |text| check_refusal(&text, Config::from_toml_str(&text))).unwrap();
}

/// The Python bot's example files, and one that uses every key.
fn valid_configurations() -> Vec<String> {
    let mut texts: Vec<String> = [
        "default-config.toml",
        "multi-source-basic.toml",
        "multi-source-advanced.toml",
        "multi-source-readonly-only.toml",
        "multi-source-migration.toml",
    ]
    .iter()
    .map(|name| std::fs::read_to_string(fixture_path(name)).expect("read the fixture"))
    .collect();
    texts.push(
        "[database]\ndefault = \"main\"\non_source_error = \"fail\"\n\
         [database.sources.main]\npath = \"main.db\"\npool-size = 4\ntimeout = 2.5\n\
         durability = \"full\"\n\
         [database.sources.old]\npath = \"old.db\"\nreadonly = true\nimmutable = true\n\
         [database.chatMapping]\n-1001 = \"old\"\n9223372036854775807 = \"main\"\n"
            .to_owned(),
    );
    texts
}

/// One change to a valid document, at a position given as a fraction of its length.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replaces the value on a line with another.
    Value(f64, &'static str),
    /// Removes a line.
    DeleteLine(f64),
    /// Repeats a line.
    DuplicateLine(f64),
    /// Changes one character of a key.
    FlipKey(f64, char),
    /// Cuts the document short.
    Truncate(f64),
    /// Inserts text.
    Insert(f64, String),
}

const VALUES: &[&str] = &[
    "-1",
    "0",
    "1",
    "65536",
    "9223372036854775808",
    "1e309",
    "-0.0",
    "nan",
    "true",
    "\"\"",
    "\"x\"",
    "\":memory:\"",
    "\"/nonexistent/folder/x.db\"",
    "\"full\"",
    "\"normal\"",
    "[]",
    "{}",
    "[1, \"a\"]",
    "{ path = \"a.db\" }",
    "1979-05-27T07:32:00Z",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), prop::sample::select(VALUES)).prop_map(|(a, v)| Mutation::Value(a, v)),
        at.clone().prop_map(Mutation::DeleteLine),
        at.clone().prop_map(Mutation::DuplicateLine),
        (at.clone(), any::<char>()).prop_map(|(a, c)| Mutation::FlipKey(a, c)),
        at.clone().prop_map(Mutation::Truncate),
        (at, any::<String>()).prop_map(|(a, s)| Mutation::Insert(a, s)),
    ]
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let line_at = |at: f64, n: usize| ((at * n as f64) as usize).min(n.saturating_sub(1));
    let char_at = |text: &str, at: f64| {
        let n = text.chars().count();
        text.char_indices().nth((at * n as f64) as usize).map_or(text.len(), |(i, _)| i)
    };
    match mutation {
        Mutation::Value(at, value) => {
            let i = line_at(*at, lines.len());
            if let Some((key, _)) = lines.get(i).and_then(|l| l.split_once('=')) {
                lines[i] = format!("{key}= {value}");
            }
        }
        Mutation::DeleteLine(at) => {
            if !lines.is_empty() {
                lines.remove(line_at(*at, lines.len()));
            }
        }
        Mutation::DuplicateLine(at) => {
            if let Some(line) = lines.get(line_at(*at, lines.len())).cloned() {
                lines.push(line);
            }
        }
        Mutation::FlipKey(at, c) => {
            let i = line_at(*at, lines.len());
            if let Some(line) = lines.get_mut(i)
                && let Some(first) = line.find(|ch: char| ch.is_ascii_alphabetic())
            {
                line.replace_range(first..first + 1, &c.to_string());
            }
        }
        Mutation::Truncate(at) => return text[..char_at(text, *at)].to_owned(),
        Mutation::Insert(at, inserted) => {
            let at = char_at(text, *at);
            return format!("{}{inserted}{}", &text[..at], &text[at..]);
        }
    }
    lines.join("\n")
}

#[test]
fn parsing_mutated_configurations_never_panics_and_every_refusal_names_a_key() {
    let bases = valid_configurations();
    for base in &bases {
        Config::from_toml_str(base).expect("every base document is valid");
    }
    let cases = (0..bases.len(), prop::collection::vec(mutation(), 1..4));
    runner(2048)
        .run(&cases, |(base, mutations)| {
            let text = mutations.iter().fold(bases[base].clone(), |text, m| apply(&text, m));
            check_refusal(&text, Config::from_toml_str(&text))
        })
        .unwrap();
}

/// Text built to break things: SQL punctuation and comments, quotes, NUL, escapes that look like
/// invalid UTF-8, byte-order marks, the ends of every Unicode plane, and arbitrary characters.
fn hostile_text() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "'",
        "\"",
        "`",
        ";",
        "--",
        "/*",
        "*/",
        "' OR '1'='1",
        "'); DROP TABLE chat_settings; --",
        "\0",
        "\\0",
        "\\x00",
        "\\xC3\\x28",
        "%C3%28",
        "\\uD800",
        "\u{FFFD}",
        "\u{FEFF}",
        "\u{7F}",
        "\r\n",
        "\t",
        "%",
        "_",
        "?",
        "?1",
        ":name",
        "$1",
        "\u{FFFF}",
        "\u{10000}",
        "\u{1F600}",
        "\u{2FFFF}",
        "\u{E0001}",
        "\u{10FFFF}",
        "é",
        "é",
    ];
    prop_oneof![
        prop::collection::vec(prop::sample::select(PIECES), 0..12).prop_map(|p| p.concat()),
        prop::collection::vec(any::<char>(), 0..40).prop_map(String::from_iter),
        (prop::sample::select(PIECES), 0..5000usize).prop_map(|(p, n)| p.repeat(n)),
    ]
}

#[test]
fn hostile_text_round_trips_byte_exactly_through_writes_and_reads() {
    round_trips(&ThreeSources::new(), false);
}

/// PostgreSQL's `TEXT` holds every character but NUL: there, text without NUL round-trips byte
/// for byte, and text with NUL is refused with an error naming the source, never cut short.
#[cfg(feature = "postgres")]
#[test]
fn hostile_text_round_trips_on_postgres_and_nul_is_refused_not_cut() {
    let t = ThreeSources::on(crate::backends::Backend::Postgres);
    round_trips(&t, true);
    let err = t.db.set_chat_setting(PRIMARY_CHAT, "k", "before\0after").unwrap_err();
    assert_eq!(err.source_name(), Some("primary"), "{err}");
    assert_eq!(t.db.get_chat_setting(PRIMARY_CHAT, "k", None).unwrap(), None);
}

/// Writes and reads back text from [`hostile_text`], without NUL when `without_nul`.
fn round_trips(t: &ThreeSources, without_nul: bool) {
    let db = &t.db;
    let next = AtomicU64::new(0);
    let date = NaiveDate::from_ymd_opt(2025, 6, 1).unwrap().and_hms_opt(12, 0, 0).unwrap();
    let text =
        move || hostile_text().prop_map(move |s| if without_nul { s.replace('\0', "") } else { s });
    runner(256)
        .run(&(text(), text()), |(a, b)| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let (chat, source) = if n.is_multiple_of(2) {
                (PRIMARY_CHAT, "primary")
            } else {
                (SECONDARY_CHAT, "secondary")
            };
            let user = 1_000 + n as i64;
            // As a key and as a value.
            db.set_chat_setting(chat, &a, &b).unwrap();
            prop_assert_eq!(db.get_chat_setting(chat, &a, None).unwrap(), Some(b.clone()));
            prop_assert_eq!(
                db.get_chat_settings(chat, None).unwrap().get(&a).cloned(),
                Some(b.clone())
            );
            db.set_setting(&a, &b).unwrap();
            prop_assert_eq!(db.get_setting(&a, None).unwrap(), Some(b.clone()));
            // In a message, its id and its quote; in the author's names.
            let id = format!("{n}{a}");
            let message = NewMessage {
                message_text: &b,
                quote_text: Some(&a),
                root_message_id: Some(&a),
                ..NewMessage::default()
            };
            let username = format!("@{n}{a}");
            db.update_chat_user(chat, user, &username, &b).unwrap();
            db.save_chat_message(date, chat, user, &id, &message).unwrap();
            let saved = db.get_chat_message_by_message_id(chat, &id, None).unwrap().unwrap();
            prop_assert_eq!(&saved.message_id, &id);
            prop_assert_eq!(&saved.message_text, &b);
            prop_assert_eq!(saved.quote_text.as_ref(), Some(&a));
            prop_assert_eq!((&saved.username, &saved.full_name), (&username, &b));
            let found = db.get_chat_user_by_username(chat, &username, None).unwrap().unwrap();
            prop_assert_eq!((found.user_id, &found.full_name), (user, &b));
            // Per-user data, the cache, the spam list, the chat's own title.
            db.add_user_data(user, chat, &a, &b).unwrap();
            prop_assert_eq!(
                db.get_user_data(user, chat, None).unwrap().get(&a).cloned(),
                Some(b.clone())
            );
            db.set_cache_entry(&a, &b, CacheType::Weather).unwrap();
            let cached = db.get_cache_entry(&a, CacheType::Weather, None, None).unwrap();
            prop_assert_eq!(cached.map(|e| e.data), Some(b.clone()));
            let text = format!("{n}{b}");
            db.add_spam_message(chat, user, &id, &text, multisource::SpamReason::Admin, 1.0)
                .unwrap();
            // A global read: the chat's source is named.
            let spam = db.get_spam_messages_by_text(&text, Some(source)).unwrap();
            prop_assert_eq!(spam.iter().map(|s| &s.message_id).collect::<Vec<_>>(), [&id]);
            db.update_chat_info(chat, "group", Some(&a), Some(&b), false).unwrap();
            let info = db.get_chat_info(chat, None).unwrap().unwrap();
            prop_assert_eq!((info.title, info.username), (Some(a), Some(b)));
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_megabyte_of_text_round_trips() {
    let t = ThreeSources::new();
    let long: String = "\u{10FFFF}'\0;--é".repeat(1 << 17);
    assert!(long.len() > 1 << 20);
    t.db.set_chat_setting(PRIMARY_CHAT, "long", &long).unwrap();
    assert_eq!(t.db.get_chat_setting(PRIMARY_CHAT, "long", None).unwrap(), Some(long.clone()));
    t.db.set_chat_setting(PRIMARY_CHAT, &long, "as a key").unwrap();
    assert_eq!(
        t.db.get_chat_setting(PRIMARY_CHAT, &long, None).unwrap().as_deref(),
        Some("as a key")
    );
}

#[test]
fn chat_ids_at_the_ends_of_i64_are_mapped_routed_and_stored() {
    let scratch = Scratch::new();
    let text = format!(
        "[database]\ndefault = \"low\"\n\
         [database.sources.low]\npath = \"{low}\"\n\
         [database.sources.high]\npath = \"{high}\"\n\
         [database.chatMapping]\n{min} = \"low\"\n{max} = \"high\"\n",
        low = scratch.path("low.db").display(),
        high = scratch.path("high.db").display(),
        min = i64::MIN,
        max = i64::MAX,
    );
    let db = Database::open(Config::from_toml_str(&text).unwrap()).unwrap();
    for (chat, source) in [(i64::MIN, "low"), (i64::MAX, "high"), (0, "low")] {
        assert_eq!(db.route(Some(chat), None).unwrap().source(), source);
        db.set_chat_setting(chat, "k", &chat.to_string()).unwrap();
        db.update_chat_info(chat, "supergroup", Some("t"), None, true).unwrap();
        db.update_chat_user(chat, i64::MIN, "@min", "Min").unwrap();
        db.update_chat_user(chat, i64::MAX, "@max", "Max").unwrap();
        let date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
        let message = NewMessage { thread_id: Some(i64::MAX), ..NewMessage::default() };
        db.save_chat_message(date, chat, i64::MIN, "1", &message).unwrap();
        let got = db.get_chat_message_by_message_id(chat, "1", Some(source)).unwrap().unwrap();
        assert_eq!((got.chat_id, got.user_id, got.thread_id), (chat, i64::MIN, i64::MAX));
        assert_eq!(db.get_chat_setting(chat, "k", Some(source)).unwrap(), Some(chat.to_string()));
        let user = db.get_chat_user(chat, i64::MAX, None).unwrap().unwrap();
        assert_eq!(user.username, "@max");
    }
    // Out of range in the file: refused, naming the key and line.
    let err = Config::from_toml_str(
        "[sources.a]\npath = \"a.db\"\n[chatMapping]\n9223372036854775808 = \"a\"\n",
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Config { key, line: Some(4), .. } if key.contains("9223372036854775808")),
        "{err:?}"
    );
    let chats = db.get_user_chats(i64::MIN, None).unwrap();
    assert_eq!(chats.iter().map(|c| c.chat_id).collect::<Vec<_>>(), [i64::MIN, 0, i64::MAX]);
}

#[test]
fn empty_strings_zero_limits_and_negative_ttls_are_answered_not_refused() {
    let t = ThreeSources::new();
    let db = &t.db;
    let chat = PRIMARY_CHAT;
    // Empty strings are values like any other.
    db.set_chat_setting(chat, "", "").unwrap();
    assert_eq!(db.get_chat_setting(chat, "", None).unwrap().as_deref(), Some(""));
    db.set_setting("", "").unwrap();
    assert_eq!(db.get_setting("", None).unwrap().as_deref(), Some(""));
    db.update_chat_user(chat, 1, "", "").unwrap();
    assert_eq!(db.get_chat_user_by_username(chat, "", None).unwrap().unwrap().user_id, 1);
    let date = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    db.save_chat_message(date, chat, 1, "", &NewMessage::default()).unwrap();
    assert_eq!(
        db.get_chat_message_by_message_id(chat, "", None).unwrap().unwrap().message_text,
        ""
    );
    db.set_cache_entry("", "", CacheType::Geocoding).unwrap();
    assert!(db.get_cache_entry("", CacheType::Geocoding, None, None).unwrap().is_some());
    // The Python layer's edge cases: an empty category list matches nothing, a limit of 0
    // returns nothing, a TTL of zero or less finds nothing.
    let none: &[MessageCategory] = &[];
    assert!(
        db.get_chat_messages_since(chat, None, None, None, None, Some(none), None)
            .unwrap()
            .is_empty()
    );
    assert!(
        db.get_chat_messages_since(chat, None, None, None, Some(0), None, None).unwrap().is_empty()
    );
    assert_eq!(
        db.get_chat_messages_since(chat, None, None, None, None, None, None).unwrap().len(),
        1
    );
    assert!(db.get_chat_messages_by_user(chat, 1, 0, None).unwrap().is_empty());
    assert!(db.get_chat_users(chat, 0, None, None).unwrap().is_empty());
    assert!(db.get_spam_messages(0, None).unwrap().is_empty());
    for ttl in [0, -1, i64::MIN] {
        assert_eq!(db.get_cache_entry("", CacheType::Geocoding, Some(ttl), None).unwrap(), None);
    }
    assert!(db.get_cache_entry("", CacheType::Geocoding, Some(i64::MAX), None).unwrap().is_some());
}

#[test]
fn timestamps_outside_the_years_0000_to_9999_are_refused_naming_the_parameter() {
    let scratch = Scratch::new();
    let db = Database::open_path(scratch.path("bot.db")).unwrap();
    let chat = PRIMARY_CHAT;
    let at = |y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32| {
        NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, mi, s).unwrap()
    };
    let ends = [at(0, 1, 1, 0, 0, 1), at(2025, 6, 1, 12, 0, 0), at(9999, 12, 31, 23, 59, 59)];
    db.update_chat_user(chat, 1, "@author", "Author").unwrap();
    for (i, date) in ends.iter().enumerate() {
        db.save_chat_message(*date, chat, 1, &i.to_string(), &NewMessage::default()).unwrap();
    }
    let invalid = |err: Error, parameter: &str| match err {
        Error::InvalidArgument(arg) => {
            assert_eq!(arg.parameter, parameter);
            assert!(arg.problem.contains("0000 to 9999"), "{}", arg.problem);
        }
        other => panic!("expected InvalidArgument for `{parameter}`, got {other:?}"),
    };
    let outside = [chrono::NaiveDateTime::MIN, at(10000, 1, 1, 0, 0, 0), at(-1, 12, 31, 0, 0, 0)];
    for date in outside {
        let err = db.save_chat_message(date, chat, 1, "x", &NewMessage::default()).unwrap_err();
        invalid(err, "date");
        let err = db.get_chat_messages_since(chat, Some(date), None, None, None, None, None);
        invalid(err.unwrap_err(), "since");
        let err = db.get_chat_messages_since(chat, None, Some(date), None, None, None, None);
        invalid(err.unwrap_err(), "till");
        invalid(db.get_chat_users(chat, 10, Some(date), None).unwrap_err(), "seen_since");
    }
    assert!(db.get_chat_message_by_message_id(chat, "x", None).unwrap().is_none());
    // The ends of the range are stored and compared as time.
    let since =
        db.get_chat_messages_since(chat, Some(at(0, 1, 1, 0, 0, 0)), None, None, None, None, None);
    let dates: Vec<_> = since.unwrap().into_iter().map(|m| m.date).collect();
    assert_eq!(dates, [ends[2], ends[1], ends[0]]);
    let till = db.get_chat_messages_since(
        chat,
        None,
        Some(at(9999, 12, 31, 23, 59, 59)),
        None,
        None,
        None,
        None,
    );
    assert_eq!(till.unwrap().len(), 2);
}

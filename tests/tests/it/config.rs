//! Loading configuration: the Python bot's files load unchanged, snake_case spellings too, and
//! every invalid configuration is refused at load with an error naming the key and its line.

use std::time::Duration;

use multisource::{Config, Durability, Error, OnSourceError, SourceConfig};

use crate::common::{Scratch, fixture_path};

/// The key, line and message of a configuration error.
#[track_caller]
fn refused(text: &str) -> (String, Option<usize>, String) {
    match Config::from_toml_str(text) {
        Err(Error::Config { key, line, message, .. }) => (key, line, message),
        Err(other) => panic!("expected a configuration error, got {other:?}"),
        Ok(config) => panic!("expected a refusal, got {config:?}"),
    }
}

#[track_caller]
fn assert_refused(text: &str, key: &str, line: Option<usize>, message: &str) {
    let (k, l, m) = refused(text);
    assert_eq!((k.as_str(), l), (key, line), "message: {m}");
    assert!(m.contains(message), "{m:?} does not contain {message:?}");
}

#[test]
fn the_python_basic_example_loads_unchanged() {
    let config = Config::from_file(fixture_path("multi-source-basic.toml")).unwrap();
    assert_eq!(config.default_source(), "primary");
    let names: Vec<_> = config.sources().iter().map(SourceConfig::name).collect();
    assert_eq!(names, ["primary", "archive"]);
    let archive = config.source("archive").unwrap();
    assert!(archive.is_readonly());
    assert_eq!(archive.get_pool_size(), 3);
    assert_eq!(archive.get_timeout(), Duration::from_secs(30));
    assert_eq!(config.chat_mapping().len(), 2);
    assert_eq!(config.chat_mapping()[&-1001234567890], "archive");
    assert_eq!(config.chat_mapping()[&-1002345678901], "archive");
    assert_eq!(config.on_source_error(), OnSourceError::Skip);
}

#[test]
fn the_python_advanced_example_loads_unchanged() {
    let config = Config::from_file(fixture_path("multi-source-advanced.toml")).unwrap();
    let names: Vec<_> = config.sources().iter().map(SourceConfig::name).collect();
    assert_eq!(names, ["primary", "archive_2023", "archive_2024", "other_bot", "test", "backup"]);
    assert_eq!(config.source("primary").unwrap().get_pool_size(), 10);
    let other = config.source("other_bot").unwrap();
    assert_eq!((other.get_pool_size(), other.get_timeout()), (2, Duration::from_secs(10)));
    assert_eq!(other.file().unwrap().path(), std::path::Path::new("/shared/other_bot.db"));
    let backup = config.source("backup").unwrap();
    assert_eq!((backup.get_pool_size(), backup.get_timeout()), (1, Duration::from_secs(60)));
    assert_eq!(config.chat_mapping().len(), 10);
}

#[test]
fn the_python_readonly_only_and_migration_examples_load_unchanged() {
    let ro = Config::from_file(fixture_path("multi-source-readonly-only.toml")).unwrap();
    assert_eq!(ro.default_source(), "primary_readonly");
    assert!(ro.sources().iter().all(SourceConfig::is_readonly));
    assert_eq!(ro.sources().len(), 4);
    assert_eq!(ro.chat_mapping().len(), 3);
    let migration = Config::from_file(fixture_path("multi-source-migration.toml")).unwrap();
    assert_eq!(migration.sources().len(), 1);
    assert_eq!(migration.default_source(), "primary");
    assert!(migration.chat_mapping().is_empty());
}

#[test]
fn the_python_bots_whole_default_configuration_loads() {
    let config = Config::from_file(fixture_path("default-config.toml")).unwrap();
    assert_eq!(config.default_source(), "default");
    let source = config.source("default").unwrap();
    assert_eq!(source.file().unwrap().path(), fixture_path("bot_data.db"));
    assert_eq!((source.get_pool_size(), source.get_timeout()), (5, Duration::from_secs(30)));
}

#[test]
fn relative_paths_are_resolved_against_the_files_folder() {
    let scratch = Scratch::new();
    let file = scratch.path("bot.toml");
    std::fs::write(&file, "[sources.main]\npath = \"data/bot.db\"\n[sources.abs]\npath = \"/x.db\"\nreadonly = true\n\ndefault = \"main\"\n")
        .unwrap();
    let err = Config::from_file(&file).unwrap_err();
    // `default` after a table belongs to that table in TOML: refused as an unknown source key.
    assert!(err.to_string().contains("unknown key `default` in source `abs`"), "{err}");
    std::fs::write(
        &file,
        "default = \"main\"\n[sources.main]\npath = \"data/bot.db\"\n[sources.abs]\npath = \"/x.db\"\nreadonly = true\n",
    )
    .unwrap();
    let config = Config::from_file(&file).unwrap();
    assert_eq!(config.source("main").unwrap().file().unwrap().path(), scratch.path("data/bot.db"));
    assert_eq!(config.source("abs").unwrap().file().unwrap().path(), std::path::Path::new("/x.db"));
    assert_eq!(config.file(), Some(file.as_path()));
    // From a string, relative paths stay as written.
    let text = std::fs::read_to_string(&file).unwrap();
    let config = Config::from_toml_str(&text).unwrap();
    assert_eq!(
        config.source("main").unwrap().file().unwrap().path(),
        std::path::Path::new("data/bot.db")
    );
}

#[test]
fn snake_case_spellings_and_every_option_are_accepted() {
    let config = Config::from_toml_str(
        r#"
default = "main"
on_source_error = "fail"

[sources.main]
path = "main.db"
pool_size = 7
timeout = 2
durability = "full"

[sources.old]
path = "old.db"
readonly = true
pool-size = 1
timeout = 0.5

[chat_mapping]
"-100" = "old"
7 = "main"
"#,
    )
    .unwrap();
    let main = config.source("main").unwrap();
    assert_eq!(main.get_pool_size(), 7);
    assert_eq!(main.get_timeout(), Duration::from_secs(2));
    assert_eq!(main.durability(), Some(Durability::Full));
    assert_eq!(config.source("old").unwrap().get_timeout(), Duration::from_millis(500));
    assert_eq!(config.on_source_error(), OnSourceError::Fail);
    assert_eq!(config.chat_mapping().get(&-100).map(String::as_str), Some("old"));
    assert_eq!(config.chat_mapping().get(&7).map(String::as_str), Some("main"));
}

#[test]
fn a_missing_default_means_the_source_named_default() {
    let config = Config::from_toml_str("[sources.default]\npath = \"a.db\"\n").unwrap();
    assert_eq!(config.default_source(), "default");
    assert_refused(
        "[sources.main]\npath = \"a.db\"\n",
        "default",
        None,
        "`default` is not set and no source is named `default`; set `default` to one of `main`",
    );
}

#[test]
fn no_sources_is_refused() {
    assert_refused(
        "[database]\ndefault = \"x\"\n",
        "database.sources",
        Some(1),
        "no sources are configured",
    );
    assert_refused("", "sources", None, "no sources are configured");
    // The Python bot's old flat form has no sources either.
    assert_refused(
        "[database]\npath = \"bot.db\"\n",
        "database.path",
        Some(2),
        "unknown key `path` in the database configuration",
    );
}

#[test]
fn a_source_without_a_path_is_refused() {
    assert_refused(
        "default = \"a\"\n[sources.a]\nreadonly = false\n",
        "sources.a",
        Some(2),
        "source `a` has no `path`",
    );
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"\"\n",
        "sources.a.path",
        Some(3),
        "the path is empty",
    );
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \":memory:\"\n",
        "sources.a.path",
        Some(3),
        "`:memory:` is not supported",
    );
}

#[test]
fn an_unknown_default_is_refused() {
    assert_refused(
        "[database]\ndefault = \"primry\"\n[database.sources.primary]\npath = \"a.db\"\n",
        "database.default",
        Some(2),
        "the default source `primry` is not among the sources (`primary`)",
    );
}

#[test]
fn a_chat_mapped_to_an_unknown_source_is_refused() {
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\n[chatMapping]\n-1001 = \"a\"\n-1002 = \"archive\"\n",
        "chatMapping.-1002",
        Some(6),
        "mapped to `archive`, which is not a configured source (`a`)",
    );
}

#[test]
fn a_non_integer_chat_id_is_refused() {
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\n[chatMapping]\nabc = \"a\"\n",
        "chatMapping.abc",
        Some(5),
        "the chat id `abc` is not an integer",
    );
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\n[chatMapping]\n\"12 3\" = \"a\"\n",
        "chatMapping.\"12 3\"",
        Some(5),
        "is not an integer",
    );
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\n[chatMapping]\n99999999999999999999 = \"a\"\n",
        "chatMapping.99999999999999999999",
        Some(5),
        "is not an integer",
    );
}

#[test]
fn a_chat_mapped_twice_is_refused() {
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\n[chatMapping]\n-5 = \"a\"\n\"-05\" = \"a\"\n",
        "chatMapping.-05",
        Some(6),
        "chat -5 is mapped twice",
    );
}

#[test]
fn an_unknown_key_in_a_source_is_refused_with_the_closest_key() {
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\npool-sise = 3\n",
        "sources.a.pool-sise",
        Some(4),
        "unknown key `pool-sise` in source `a`; did you mean `pool-size`?",
    );
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\nread_only = true\n",
        "sources.a.read_only",
        Some(4),
        "did you mean `readonly`?",
    );
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\ntype = \"sqlite\"\n",
        "sources.a.type",
        Some(4),
        "unknown key `type` in source `a`; the known keys are `path`, `url`, `readonly`",
    );
}

#[test]
fn an_unknown_key_at_the_top_is_refused_with_the_closest_key() {
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\n[chatMaping]\n1 = \"a\"\n",
        "chatMaping",
        Some(4),
        "did you mean `chatMapping`?",
    );
    assert_refused(
        "defaultSource = \"a\"\n[sources.a]\npath = \"a.db\"\n",
        "defaultSource",
        Some(1),
        "unknown key `defaultSource` in the database configuration",
    );
}

#[test]
fn a_key_given_in_two_spellings_is_refused() {
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\npool-size = 3\npool_size = 4\n",
        "sources.a.pool_size",
        Some(5),
        "`pool_size` is given twice, also as `pool-size`",
    );
}

#[test]
fn values_of_the_wrong_type_are_refused() {
    let base = "default = \"a\"\n[sources.a]\npath = \"a.db\"\n";
    assert_refused(
        &format!("{base}readonly = \"yes\"\n"),
        "sources.a.readonly",
        Some(4),
        "expected true or false, found a string",
    );
    assert_refused(
        &format!("{base}pool-size = 2.5\n"),
        "sources.a.pool-size",
        Some(4),
        "expected an integer, found a float",
    );
    assert_refused(
        &format!("{base}timeout = \"30\"\n"),
        "sources.a.timeout",
        Some(4),
        "expected a number of seconds",
    );
    assert_refused(
        &format!("{base}durability = \"fast\"\n"),
        "sources.a.durability",
        Some(4),
        "expected \"normal\" or \"full\"",
    );
    assert_refused(
        "default = 3\n[sources.a]\npath = \"a.db\"\n",
        "default",
        Some(1),
        "expected a string, found an integer",
    );
    assert_refused(
        "default = \"a\"\nsources = 1\n",
        "sources",
        Some(2),
        "must be a table of named sources",
    );
    assert_refused(
        "default = \"a\"\n[sources]\na = \"a.db\"\n",
        "sources.a",
        Some(3),
        "a source must be a table with a `path`",
    );
    assert_refused("database = 1\n", "database", Some(1), "`database` must be a table");
    assert_refused(
        "default = \"a\"\non_source_error = \"ignore\"\n[sources.a]\npath = \"a.db\"\n",
        "on_source_error",
        Some(2),
        "expected \"skip\" or \"fail\"",
    );
}

#[test]
fn pool_sizes_and_timeouts_out_of_range_are_refused() {
    let base = "default = \"a\"\n[sources.a]\npath = \"a.db\"\n";
    assert_refused(
        &format!("{base}pool-size = 1\n"),
        "sources.a.pool-size",
        Some(4),
        "a writable source needs one connection for writes",
    );
    assert_refused(
        &format!("{base}pool-size = 0\nreadonly = true\n"),
        "sources.a.pool-size",
        Some(4),
        "between 1 and 256",
    );
    assert_refused(
        &format!("{base}pool-size = -3\n"),
        "sources.a.pool-size",
        Some(4),
        "between 2 and 256",
    );
    assert_refused(
        &format!("{base}pool-size = 100000\n"),
        "sources.a.pool-size",
        Some(4),
        "between 2 and 256",
    );
    assert_refused(&format!("{base}timeout = 0\n"), "sources.a.timeout", Some(4), "more than 0");
    assert_refused(&format!("{base}timeout = -1.5\n"), "sources.a.timeout", Some(4), "more than 0");
    assert_refused(&format!("{base}timeout = inf\n"), "sources.a.timeout", Some(4), "more than 0");
    assert_refused(&format!("{base}timeout = nan\n"), "sources.a.timeout", Some(4), "more than 0");
}

#[test]
fn invalid_toml_is_refused_with_its_line_and_the_key_read_there() {
    let (key, line, message) = refused("default = \"a\"\n[sources.a]\npath = \"a.db\n");
    assert_eq!((key.as_str(), line), ("sources.a.path", Some(3)));
    assert!(message.starts_with("not valid TOML"), "{message}");
    let (key, line, _) = refused("default = \"a\"\ndefault = \"b\"\n");
    assert_eq!((key.as_str(), line), ("default", Some(2)));
    let (key, line, _) = refused("[database.sources.\"x\"]\n!!!\n");
    assert_eq!((key.as_str(), line), ("database.sources.x", Some(2)));
    // Nothing to read a key from: the line alone.
    let (key, line, _) = refused("@@@\n");
    assert_eq!((key.as_str(), line), ("", Some(1)));
}

#[test]
fn errors_name_the_file_they_came_from() {
    let scratch = Scratch::new();
    let file = scratch.path("bot.toml");
    std::fs::write(
        &file,
        "[database]\ndefault = \"nope\"\n[database.sources.a]\npath = \"a.db\"\n",
    )
    .unwrap();
    let err = Config::from_file(&file).unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("invalid configuration at `database.default` (line 2 of "), "{text}");
    assert!(text.contains("bot.toml"), "{text}");
    let missing = Config::from_file(scratch.path("absent.toml")).unwrap_err();
    assert!(missing.to_string().contains("cannot read the configuration file"), "{missing}");
}

#[test]
fn the_builder_applies_the_same_rules() {
    let refused = |b: multisource::ConfigBuilder| match b.build() {
        Err(Error::Config { key, message, .. }) => (key, message),
        other => panic!("expected a refusal, got {other:?}"),
    };
    let (key, _) = refused(Config::builder());
    assert_eq!(key, "sources");
    let (key, message) = refused(Config::builder().source(SourceConfig::new("a", "a.db")));
    assert_eq!(key, "default");
    assert!(message.contains("`default` is not among the sources"), "{message}");
    let (key, _) = refused(
        Config::builder()
            .source(SourceConfig::new("a", "a.db"))
            .default_source("a")
            .map_chat(1, "b"),
    );
    assert_eq!(key, "chat_mapping.1");
    let (key, _) = refused(
        Config::builder().source(SourceConfig::new("a", "a.db").pool_size(1)).default_source("a"),
    );
    assert_eq!(key, "sources.a.pool-size");
    let (key, _) = refused(
        Config::builder()
            .source(SourceConfig::new("a", "a.db"))
            .source(SourceConfig::new("a", "b.db"))
            .default_source("a"),
    );
    assert_eq!(key, "sources.a");
}

#[test]
fn a_source_is_a_file_or_a_server_never_both_and_server_urls_are_checked() {
    let base = "default = \"a\"\n[sources.a]\n";
    assert_refused(
        &format!("{base}path = \"a.db\"\nurl = \"postgres://h/db\"\n"),
        "sources.a.url",
        Some(4),
        "give either `path` (a SQLite file) or `url` (a PostgreSQL server), not both",
    );
    assert_refused(
        &format!("{base}url = \"mysql://bot:pw@h/db\"\n"),
        "sources.a.url",
        Some(3),
        "a SQLite file goes in `path`",
    );
    let (_, _, message) = refused(&format!("{base}url = \"mysql://bot:pw@h/db\"\n"));
    assert!(message.contains("mysql://bot:***@h/db") && !message.contains("pw"), "{message}");
    assert_refused(
        &format!("{base}readonly = true\n"),
        "sources.a",
        Some(2),
        "has no `path`; give its database file (or `url` for a PostgreSQL server)",
    );
}

#[cfg(not(feature = "postgres"))]
#[test]
fn a_postgres_source_without_the_feature_is_refused_saying_so() {
    assert_refused(
        "default = \"a\"\n[sources.a]\nurl = \"postgres://h/db\"\n",
        "sources.a.url",
        Some(3),
        "need multisource built with its `postgres` feature",
    );
}

#[cfg(feature = "postgres")]
#[test]
fn a_postgres_source_loads_and_refuses_what_is_sqlites() {
    let config = Config::from_toml_str(
        "default = \"a\"\n[sources.a]\nurl = \"postgres://bot:s3cret@h:5432/db\"\nreadonly = true\n\
         pool-size = 4\ntimeout = 2.5\n",
    )
    .unwrap();
    let source = config.source("a").unwrap();
    assert_eq!(source.kind(), multisource::Kind::Postgres);
    assert_eq!(source.url(), Some("postgres://bot:s3cret@h:5432/db"));
    assert_eq!(source.location().to_string(), "postgres://bot:***@h:5432/db");
    assert_eq!((source.get_pool_size(), source.get_timeout()), (4, Duration::from_millis(2500)));
    let base = "default = \"a\"\n[sources.a]\nurl = \"postgres://h/db\"\n";
    assert_refused(
        &format!("{base}readonly = true\nimmutable = true\n"),
        "sources.a.immutable",
        Some(5),
        "`immutable` is for frozen SQLite files",
    );
    assert_refused(
        &format!("{base}durability = \"full\"\n"),
        "sources.a.durability",
        Some(4),
        "`durability` is for SQLite files",
    );
    assert_refused(
        &format!("{base}cache = false\n"),
        "sources.a.cache",
        Some(4),
        "`cache` is for SQLite files",
    );
    // In code, a server source has no durability to set: only a `SqliteFile` has one.
}

#[test]
fn group_commit_is_on_by_default_and_a_source_of_either_kind_can_turn_it_off() {
    let config = Config::from_toml_str(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\n[sources.b]\npath = \"b.db\"\n\
         group-commit = false\n[sources.c]\npath = \"c.db\"\nreadonly = true\n\
         [sources.d]\nurl = \"postgres://h/d\"\n[sources.e]\nurl = \"postgres://h/e\"\n\
         group-commit = false\n",
    )
    .unwrap();
    assert!(config.source("a").unwrap().is_group_commit());
    assert!(!config.source("b").unwrap().is_group_commit());
    // A read-only source writes nothing to group.
    assert!(!config.source("c").unwrap().is_group_commit());
    assert!(config.source("d").unwrap().is_group_commit());
    assert!(!config.source("e").unwrap().is_group_commit());
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\ngroup-commit = \"yes\"\n",
        "sources.a.group-commit",
        Some(4),
        "",
    );
}

#[test]
fn the_read_cache_is_on_by_default_and_a_file_source_can_turn_it_off() {
    let config = Config::from_toml_str(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\n[sources.b]\npath = \"b.db\"\n\
         cache = false\n[sources.c]\npath = \"c.db\"\nreadonly = true\n",
    )
    .unwrap();
    assert!(config.source("a").unwrap().is_cache());
    assert!(!config.source("b").unwrap().is_cache());
    // A read-only file's reads are cached too: another process may write it, and is watched.
    assert!(config.source("c").unwrap().is_cache());
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a.db\"\ncache = 1\n",
        "sources.a.cache",
        Some(4),
        "",
    );
}

#[test]
fn a_nul_in_a_path_is_refused_at_load_naming_the_key_and_line() {
    assert_refused(
        "default = \"a\"\n[sources.a]\npath = \"a\\u0000b.db\"\n",
        "sources.a.path",
        Some(3),
        "holds a NUL character",
    );
    // In code too: the builder applies the same rule.
    let err = Config::builder()
        .source(SourceConfig::new("a", "a\0b.db"))
        .default_source("a")
        .build()
        .unwrap_err();
    match err {
        Error::Config { key, message, .. } => {
            assert_eq!(key, "sources.a.path");
            assert!(message.contains("holds a NUL character"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[test]
fn a_chat_mapping_of_a_hundred_thousand_chats_loads_and_a_duplicate_at_its_end_is_named() {
    const CHATS: i64 = 100_000;
    let mut text = String::from("default = \"a\"\n[sources.a]\npath = \"a.db\"\n[chatMapping]\n");
    for chat in 0..CHATS {
        text.push_str(&format!("{} = \"a\"\n", -1_000_000_000_000 - chat));
    }
    let config = Config::from_toml_str(&text).unwrap();
    assert_eq!(config.chat_mapping().len(), CHATS as usize);
    assert_eq!(config.source_for_chat(-1_000_000_000_000 - (CHATS - 1)), "a");
    // The first chat again at the end, spelled another way: found, with its line.
    text.push_str("-01000000000000 = \"a\"\n");
    let line = text.lines().count();
    assert_refused(&text, "chatMapping.-01000000000000", Some(line), "mapped twice");
}

//! `Database::reload_mapping`: an edited chat mapping put in force while the bot runs, whole and
//! at once; a file that no longer loads, or that changes the sources, refused with the old mapping
//! kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use multisource::{Config, Database, Error, SourceConfig};

use crate::common::{Scratch, raw};

const CHATS: [i64; 4] = [-1001, -1002, -1003, -1004];

/// A configuration file with the sources `a` and `b` (default `a`) in `scratch`, the chats
/// given mapped as given; its path.
fn write_config(scratch: &Scratch, mapping: &[(i64, &str)], extra: &str) -> PathBuf {
    let path = scratch.path("bot.toml");
    std::fs::write(&path, config_text(mapping, extra)).unwrap();
    path
}

/// The text of [`write_config`].
fn config_text(mapping: &[(i64, &str)], extra: &str) -> String {
    let mut text = String::from(
        "[database]\ndefault = \"a\"\n[database.sources.a]\npath = \"a.db\"\n\
         [database.sources.b]\npath = \"b.db\"\n",
    );
    text.push_str(extra);
    text.push_str("[database.chatMapping]\n");
    for (chat, source) in mapping {
        text.push_str(&format!("{chat} = \"{source}\"\n"));
    }
    text
}

fn source_of(db: &Database, chat: i64) -> String {
    db.route(Some(chat), None).unwrap().source().to_owned()
}

fn count_settings(path: &Path, chat: i64) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT count(*) AS n FROM chat_settings WHERE chat_id = {chat}"))
        .get_result::<Count>(&mut raw(path))
        .unwrap()
        .n
}

#[test]
fn an_edited_mapping_is_put_in_force_by_reload_without_a_restart() {
    let scratch = Scratch::new();
    let file = write_config(&scratch, &[(CHATS[0], "a"), (CHATS[1], "b")], "");
    let db = Database::from_config_file(&file).unwrap();
    assert_eq!(source_of(&db, CHATS[0]), "a");
    db.set_chat_setting(CHATS[0], "before", "1").unwrap();

    // The operator moves chat 0 to `b`, chat 1 back to the default, and maps chat 2 to `b`.
    write_config(&scratch, &[(CHATS[0], "b"), (CHATS[2], "b")], "");
    assert_eq!(db.reload_mapping().unwrap(), 3, "three chats go elsewhere");
    assert_eq!(source_of(&db, CHATS[0]), "b");
    assert_eq!(source_of(&db, CHATS[1]), "a");
    assert_eq!(source_of(&db, CHATS[2]), "b");
    db.set_chat_setting(CHATS[0], "after", "1").unwrap();
    assert_eq!(count_settings(&scratch.path("a.db"), CHATS[0]), 1, "the write before, in a");
    assert_eq!(count_settings(&scratch.path("b.db"), CHATS[0]), 1, "the write after, in b");
    let config = db.config();
    assert_eq!(config.source_for_chat(CHATS[0]), "b", "config() shows the mapping in force");
    assert_eq!(config.chat_mapping().len(), 2);
    // Reading the same file again changes nothing.
    assert_eq!(db.reload_mapping().unwrap(), 0);
}

#[test]
fn a_file_that_no_longer_loads_is_refused_as_at_open_and_the_mapping_in_force_stays() {
    let scratch = Scratch::new();
    let file = write_config(&scratch, &[(CHATS[0], "b")], "");
    let db = Database::from_config_file(&file).unwrap();
    // A chat mapped to a source that does not exist: the error of `from_config_file` itself.
    write_config(&scratch, &[(CHATS[0], "nowhere")], "");
    let at_open = Database::from_config_file(&file).unwrap_err().to_string();
    let reloaded = db.reload_mapping().unwrap_err();
    assert!(matches!(reloaded, Error::Config { .. }), "{reloaded:?}");
    assert_eq!(reloaded.to_string(), at_open);
    assert_eq!(source_of(&db, CHATS[0]), "b", "the old mapping stays");
    // Text that is not TOML, and a file that is gone.
    std::fs::write(&file, "[database\n").unwrap();
    assert!(matches!(db.reload_mapping(), Err(Error::Config { .. })));
    std::fs::remove_file(&file).unwrap();
    let gone = db.reload_mapping().unwrap_err().to_string();
    assert!(gone.contains("cannot read the configuration file"), "{gone}");
    assert_eq!(source_of(&db, CHATS[0]), "b");
}

#[test]
fn a_file_that_changes_the_sources_is_refused_naming_a_restart() {
    let scratch = Scratch::new();
    let file = write_config(&scratch, &[(CHATS[0], "b")], "");
    let db = Database::from_config_file(&file).unwrap();
    let refused = |db: &Database| {
        let error = db.reload_mapping().unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("needs a restart"), "{message}");
        assert_eq!(source_of(db, CHATS[0]), "b", "the old mapping stays");
        message
    };
    // A new source.
    write_config(&scratch, &[(CHATS[0], "a")], "[database.sources.c]\npath = \"c.db\"\n");
    assert!(refused(&db).contains("\"c\""));
    // A source's settings.
    let text = std::fs::read_to_string(&file).unwrap();
    let text = text.replace("[database.sources.c]\npath = \"c.db\"\n", "");
    std::fs::write(&file, text.replace("path = \"b.db\"", "path = \"b.db\"\npool-size = 7"))
        .unwrap();
    assert!(refused(&db).contains("source `b`"));
    // The default source.
    write_config(&scratch, &[(CHATS[0], "a")], "");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("default = \"a\"", "default = \"b\"")).unwrap();
    assert!(refused(&db).contains("default source"));
}

#[test]
fn a_database_built_in_code_has_no_file_to_read_again_and_takes_a_new_configuration() {
    let scratch = Scratch::new();
    let build = |chat_to: &str| {
        Config::builder()
            .source(SourceConfig::new("a", scratch.path("a.db")))
            .source(SourceConfig::new("b", scratch.path("b.db")))
            .default_source("a")
            .map_chat(CHATS[0], chat_to)
            .build()
            .unwrap()
    };
    let db = Database::open(build("a")).unwrap();
    let error = db.reload_mapping().unwrap_err().to_string();
    assert!(error.contains("apply_mapping"), "{error}");
    assert_eq!(db.apply_mapping(build("b")).unwrap(), 1);
    assert_eq!(source_of(&db, CHATS[0]), "b");
}

#[test]
fn a_reload_racing_sixteen_threads_of_calls_resolves_each_call_by_the_old_mapping_or_the_new() {
    let scratch = Scratch::new();
    fn all_to(source: &str) -> Vec<(i64, &str)> {
        CHATS.iter().map(|c| (*c, source)).collect()
    }
    let file = write_config(&scratch, &all_to("a"), "");
    let db = Arc::new(Database::from_config_file(&file).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..16)
        .map(|t| {
            let (db, done, calls) = (db.clone(), done.clone(), calls.clone());
            std::thread::spawn(move || {
                let chat = CHATS[t % CHATS.len()];
                let mut written = 0u64;
                while !done.load(Ordering::SeqCst) {
                    // The configuration in force maps every chat to one source: never a mix.
                    let config = db.config();
                    let targets: std::collections::BTreeSet<&str> =
                        CHATS.iter().map(|c| config.source_for_chat(*c)).collect();
                    assert_eq!(targets.len(), 1, "a mix of two mappings: {targets:?}");
                    let routed = db.route(Some(chat), None).unwrap().source().to_owned();
                    assert!(routed == "a" || routed == "b", "{routed}");
                    db.set_chat_setting(chat, &format!("t{t}-{written}"), "v").unwrap();
                    written += 1;
                    calls.fetch_add(1, Ordering::SeqCst);
                }
                written
            })
        })
        .collect();
    for round in 0..40 {
        // Calls in flight between every two reloads.
        let seen = calls.load(Ordering::SeqCst);
        while calls.load(Ordering::SeqCst) < seen + 16 {
            std::thread::yield_now();
        }
        let to = if round % 2 == 0 { "b" } else { "a" };
        write_config(&scratch, &all_to(to), "");
        assert_eq!(db.reload_mapping().unwrap(), CHATS.len());
    }
    done.store(true, Ordering::SeqCst);
    let written: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    // Every acknowledged write is in one source or the other, once.
    let stored: i64 = CHATS
        .iter()
        .map(|c| {
            count_settings(&scratch.path("a.db"), *c) + count_settings(&scratch.path("b.db"), *c)
        })
        .sum();
    assert_eq!(stored, i64::try_from(written).unwrap());
    assert!(written > 0);
}

/// Replaces the file at `path` by `text` as an editor or `multisource move-chat` does: a new
/// file renamed over the old one.
fn replace(path: &Path, text: &str) {
    let next = path.with_extension("toml.next");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, path).unwrap();
}

/// Waits, as long as it takes, for `chat` to be routed to `source`.
fn wait_until_routed(db: &Database, chat: i64, source: &str) {
    while source_of(db, chat) != source {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn with_watch_mapping_an_edited_file_is_put_in_force_by_itself_and_a_bad_edit_is_not() {
    let scratch = Scratch::new();
    let watched = |mapping: &[(i64, &str)]| {
        let text = config_text(mapping, "");
        text.replace("default = \"a\"\n", "default = \"a\"\nwatch-mapping = true\n")
    };
    let file = scratch.path("bot.toml");
    replace(&file, &watched(&[(CHATS[0], "a")]));
    let db = Database::from_config_file(&file).unwrap();
    assert!(db.config().is_watch_mapping());
    replace(&file, &watched(&[(CHATS[0], "b")]));
    wait_until_routed(&db, CHATS[0], "b");
    db.set_chat_setting(CHATS[0], "k", "v").unwrap();
    assert_eq!(count_settings(&scratch.path("b.db"), CHATS[0]), 1);

    // An edit that does not load is refused: the watch looks at the file every 200 ms, and three
    // looks later the mapping is still the one in force.
    let bad = watched(&[(CHATS[0], "nowhere")]);
    replace(&file, &bad);
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(source_of(&db, CHATS[0]), "b");
    // The next good edit is put in force.
    replace(&file, &watched(&[(CHATS[0], "a"), (CHATS[1], "b")]));
    wait_until_routed(&db, CHATS[1], "b");
    assert_eq!(source_of(&db, CHATS[0]), "a");
}

#[test]
fn watch_mapping_needs_a_configuration_file_and_a_boolean() {
    let scratch = Scratch::new();
    let config = Config::builder()
        .source(SourceConfig::new("a", scratch.path("a.db")))
        .default_source("a")
        .watch_mapping(true)
        .build()
        .unwrap();
    let error = Database::open(config).unwrap_err();
    match &error {
        Error::Config { key, message, .. } => {
            assert_eq!(key, "watch_mapping");
            assert!(message.contains("from_config_file"), "{message}");
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
    assert!(!scratch.path("a.db").exists(), "refused before any source was opened");
    let text = "[database]\ndefault = \"a\"\nwatch-mapping = \"yes\"\n[database.sources.a]\n\
                path = \"a.db\"\n";
    let error = Config::from_toml_str(text).unwrap_err().to_string();
    assert!(error.contains("watch-mapping"), "{error}");
}

#[test]
fn the_async_api_reloads_on_the_library_threads() {
    let scratch = Scratch::new();
    let file = write_config(&scratch, &[(CHATS[0], "a")], "");
    let db = multisource::AsyncDatabase::new(Database::from_config_file(&file).unwrap());
    write_config(&scratch, &[(CHATS[0], "b")], "");
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(runtime.block_on(db.reload_mapping()).unwrap(), 1);
    assert_eq!(source_of(db.database(), CHATS[0]), "b");
}

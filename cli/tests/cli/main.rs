//! The `multisource` binary, run as an operator runs it, against real files in temporary folders:
//! every command, its `--json` form, its exit status and its errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use multisource::{Database, NewMessage};
use serde_json::Value;

mod output;

const MAIN_CHAT: i64 = -1001000000001;
const SIDE_CHAT: i64 = -1002000000001;
const OLD_CHAT: i64 = -1003000000001;

/// What a run of the binary printed and how it ended.
#[derive(Debug)]
struct Run {
    /// The exit status; `None` when a signal ended the process.
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }
}

fn multisource_with(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_multisource"));
    command.args(args).env_remove("MULTISOURCE_FAILPOINT");
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.output().expect("run multisource");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn multisource(args: &[&str]) -> Run {
    multisource_with(args, &[])
}

/// Runs the demo in a new folder; returns the folder and its configuration file.
fn demo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let run = multisource(&["demo", "--dir", &dir.path().to_string_lossy()]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let config = dir.path().join("bot.toml");
    (dir, config)
}

fn s(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::establish(&path.to_string_lossy()).unwrap()
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Every row of `chat` in the file, per table, each as its `quote()`d values, sorted.
fn chat_rows(path: &Path, chat: i64) -> BTreeMap<String, Vec<String>> {
    let mut conn = raw(path);
    let mut out = BTreeMap::new();
    for table in multisource_migrations::Schema::multisource().expected() {
        if !table.columns.iter().any(|c| c.name == "chat_id") {
            continue;
        }
        let values: Vec<String> =
            table.columns.iter().map(|c| format!("quote(\"{}\")", c.name)).collect();
        let sql = format!(
            "SELECT {} AS line FROM \"{}\" WHERE chat_id = ? ORDER BY line",
            values.join(" || '|' || "),
            table.name
        );
        let rows: Vec<Line> =
            diesel::sql_query(sql).bind::<BigInt, _>(chat).load(&mut conn).unwrap();
        if !rows.is_empty() {
            out.insert(table.name.clone(), rows.into_iter().map(|l| l.line).collect());
        }
    }
    out
}

fn integrity(path: &Path) -> String {
    let rows: Vec<Line> =
        diesel::sql_query("SELECT integrity_check AS line FROM pragma_integrity_check")
            .load(&mut raw(path))
            .unwrap();
    rows.into_iter().map(|l| l.line).collect::<Vec<_>>().join("; ")
}

/// A line of `out` starts with these words, however the columns are spaced.
fn has_line(out: &str, words: &str) -> bool {
    out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ").starts_with(words))
}

fn bytes_of(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn demo_plays_the_conversation_and_leaves_files_the_library_opens() {
    let dir = tempfile::tempdir().unwrap();
    let run = multisource(&["demo", "--dir", &s(dir.path())]);
    assert_eq!(run.code, Some(0), "{run:?}");
    for expected in [
        "update_chat_info(side chat)                  secondary     chat-mapping  ok",
        "get_chat_setting(side chat, source=primary)  primary       explicit      None",
        "get_user_chats(Alice)                        every source  fan-out       Main chat, Side \
         chat, Old chat",
        "refused: source `archive` is read-only",
    ] {
        assert!(run.stdout.contains(expected), "missing {expected:?} in:\n{}", run.stdout);
    }
    let db = Database::from_config_file(dir.path().join("bot.toml")).unwrap();
    assert_eq!(db.get_chat_messages_by_user(MAIN_CHAT, 777001, 10, None).unwrap().len(), 2);
    assert_eq!(
        db.get_chat_setting(SIDE_CHAT, "language", None).unwrap().as_deref(),
        Some("en"),
        "in the secondary source"
    );
    assert_eq!(
        db.get_chat_messages_since(OLD_CHAT, None, None, None, None, None, None).unwrap().len(),
        2
    );
    // Run again in the same folder: the files are replaced, not added to.
    drop(db);
    assert_eq!(multisource(&["demo", "--dir", &s(dir.path())]).code, Some(0));
    assert_eq!(chat_rows(&dir.path().join("primary.db"), MAIN_CHAT)["chat_messages"].len(), 3);
}

#[test]
fn check_reports_every_source_and_warns_of_chats_mapped_to_read_only_sources() {
    let (_dir, config) = demo();
    let run = multisource(&["check", "--config", &s(&config)]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("0 error(s), 1 warning(s): the bot can open this configuration"));
    let report = multisource(&["check", "--config", &s(&config), "--json"]).json();
    assert_eq!(report["errors"], 0);
    assert_eq!(report["default_source"], "primary");
    let sources = report["sources"].as_array().unwrap();
    let names: Vec<&str> = sources.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["primary", "secondary", "archive"]);
    assert!(sources.iter().all(|s| s["schema"] == "current" && s["kind"] == "sqlite"));
    assert_eq!(sources[2]["readonly"], true);
    assert_eq!(sources[0]["pool_size"], 5);
    let problems = report["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0]["severity"], "warning");
    assert_eq!(problems[0]["source"], "archive");
    assert!(problems[0]["message"].as_str().unwrap().contains("-1003000000001"));
}

#[test]
fn check_finds_what_would_fail_at_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    std::fs::write(&old, b"").unwrap();
    let mut conn = raw(&old);
    conn.batch_execute("CREATE TABLE chat_messages (chat_id INTEGER);").unwrap();
    drop(conn);
    let config = dir.path().join("bot.toml");
    std::fs::write(
        &config,
        "[database]\ndefault = \"main\"\n\
         [database.sources.main]\npath = \"main.db\"\n\
         [database.sources.again]\npath = \"./main.db\"\n\
         [database.sources.gone]\npath = \"gone.db\"\nreadonly = true\n\
         [database.sources.old]\npath = \"old.db\"\nreadonly = true\n\
         [database.sources.nowhere]\npath = \"no/such/folder/x.db\"\n",
    )
    .unwrap();
    // Both writable `main` and `again` are one file, which does not exist yet.
    drop(Database::open_path(dir.path().join("main.db")).unwrap());
    let run = multisource(&["check", "--config", &s(&config), "--json"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let report = run.json();
    let errors: Vec<(Option<&str>, &str)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["severity"] == "error")
        .map(|p| (p["source"].as_str(), p["message"].as_str().unwrap()))
        .collect();
    let about = |source: Option<&str>, words: &str| {
        assert!(
            errors.iter().any(|(s, m)| *s == source && m.contains(words)),
            "no error about {source:?} saying {words:?} in {errors:#?}"
        );
    };
    // The messages are those `Database::open` fails with.
    about(Some("gone"), "does not exist; read-only sources are never created");
    about(Some("old"), "table `bayes_classes` is missing");
    about(Some("nowhere"), "does not exist; create it first");
    about(Some("again"), "two writable sources on one file would compete for its lock");
    assert_eq!(report["errors"], errors.len());
    let schema: Vec<&str> = report["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["schema"].as_str().unwrap())
        .collect();
    assert_eq!(schema, ["current", "current", "missing", "mismatch", "missing"]);
    // The same in words, on standard output, with the exit status of a finding.
    let run = multisource(&["check", "--config", &s(&config)]);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("error: read-only source `gone`: "), "{}", run.stdout);
}

#[test]
fn check_reports_an_invalid_configuration_with_its_key_and_a_missing_one_as_bad_usage() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bot.toml");
    std::fs::write(
        &config,
        "[database]\ndefault = \"a\"\n[database.sources.a]\npath = \"a.db\"\npool-sise = 3\n",
    )
    .unwrap();
    let run = multisource(&["check", "--config", &s(&config), "--json"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let report = run.json();
    assert_eq!(report["valid"], false);
    let message = report["problems"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("database.sources.a.pool-sise") && message.contains("pool-size"),
        "{message}"
    );
    let run = multisource(&["check", "--config", &s(&dir.path().join("absent.toml"))]);
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("absent.toml"), "{}", run.stderr);
    for command in ["status", "migrate"] {
        let run =
            multisource(&[command, "--config", &s(&dir.path().join("absent.toml")), "--json"]);
        assert_eq!(run.code, Some(2), "{command}: {run:?}");
        assert_eq!(run.json()["error"]["kind"], "usage");
    }
}

#[test]
fn status_counts_rows_sizes_and_chats_per_source() {
    let (dir, config) = demo();
    let report = multisource(&["status", "--config", &s(&config), "--json"]).json();
    let sources = report["sources"].as_array().unwrap();
    let primary = &sources[0];
    assert_eq!(primary["journal_mode"], "wal");
    assert_eq!(primary["rows"]["chat_messages"], 3);
    assert_eq!(primary["rows"]["chat_users"], 2);
    assert_eq!(primary["rows"]["settings"], 2, "bot-owner and the schema version");
    assert_eq!(primary["chats"], 1);
    assert_eq!(sources[1]["rows"]["chat_settings"], 1);
    assert_eq!(sources[2]["journal_mode"], "delete");
    assert_eq!(sources[2]["rows"]["chat_messages"], 2);
    let size = std::fs::metadata(dir.path().join("archive.db")).unwrap().len();
    assert_eq!(sources[2]["file_bytes"], size);
    assert_eq!(sources[2]["total_bytes"], size, "no log beside a frozen archive");
    // A chat mapped to the secondary source with no data there, and rows of the side chat left
    // in the primary source, which the configuration routes elsewhere.
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "-1003000000001 = \"archive\"",
        "-1003000000001 = \"archive\"\n-1009 = \"secondary\"",
    );
    std::fs::write(&config, text).unwrap();
    let mut conn = raw(&dir.path().join("primary.db"));
    conn.batch_execute(&format!(
        "INSERT INTO chat_settings (chat_id, key, value) VALUES ({SIDE_CHAT}, 'left', 'behind')"
    ))
    .unwrap();
    drop(conn);
    let run = multisource(&["status", "--config", &s(&config)]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(
        run.stdout.contains("`secondary`: 1 mapped chat(s) with no data here: -1009"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("`primary`: holds rows of 1 chat(s) the configuration routes elsewhere"),
        "{}",
        run.stdout
    );
    let report = multisource(&["status", "--config", &s(&config), "--json"]).json();
    assert_eq!(report["sources"][0]["routed_elsewhere"], serde_json::json!([SIDE_CHAT]));
    // A missing read-only file is a finding.
    std::fs::rename(dir.path().join("archive.db"), dir.path().join("moved.db")).unwrap();
    let run = multisource(&["status", "--config", &s(&config), "--json"]);
    assert_eq!(run.code, Some(1));
    assert_eq!(run.json()["sources"][2]["error"], "the file is missing");
}

/// A copy of the Python bot's database (schema version 6) named `name` in `dir`.
fn python_file(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/gromozeka/bot-v6.db");
    let path = dir.path().join(name);
    std::fs::copy(&fixture, &path).unwrap();
    path
}

/// The action `migrate --json` reported for each source.
fn actions(report: &Value) -> Vec<String> {
    let sources = report["sources"].as_array().unwrap();
    sources.iter().map(|s| s["action"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn migrate_adopts_python_files_applies_what_is_pending_and_never_touches_read_only_sources() {
    let dir = tempfile::tempdir().unwrap();
    let (python, archive) = (python_file(&dir, "python.db"), python_file(&dir, "archive.db"));
    let config = dir.path().join("bot.toml");
    std::fs::write(
        &config,
        "[database]\ndefault = \"python\"\n\
         [database.sources.python]\npath = \"python.db\"\n\
         [database.sources.fresh]\npath = \"fresh.db\"\n\
         [database.sources.archive]\npath = \"archive.db\"\nreadonly = true\n",
    )
    .unwrap();
    let (python_before, archive_before) = (bytes_of(&python), bytes_of(&archive));
    let run = multisource(&["migrate", "--config", &s(&config), "--dry-run", "--json"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let report = run.json();
    assert_eq!(report["sources"][0]["action"], "would-migrate");
    assert_eq!(report["sources"][0]["adopted_python_version"], 6);
    assert_eq!(
        report["sources"][0]["migrations"],
        serde_json::json!(["2026-11-27-000007_lookup_indexes", "2026-12-05-000008_chat_moves"])
    );
    assert_eq!(report["sources"][1]["action"], "would-create");
    assert_eq!(report["sources"][1]["migrations"].as_array().unwrap().len(), 8);
    assert_eq!(report["sources"][2]["action"], "not-touched");
    assert_eq!(bytes_of(&python), python_before, "a dry run changes nothing");
    assert!(!dir.path().join("fresh.db").exists());

    let run = multisource(&["migrate", "--config", &s(&config)]);
    assert_eq!(run.code, Some(0), "{run:?}");
    for line in [
        "python Python schema version 6 adopted: recorded as applied, no row changed",
        "python 2026-11-27-000007_lookup_indexes applied",
        "fresh 2025-10-24-000001_initial_schema applied",
        "fresh - created",
        "archive - read-only, not touched: schema as expected",
    ] {
        assert!(has_line(&run.stdout, line), "missing {line:?} in:\n{}", run.stdout);
    }
    assert_eq!(bytes_of(&archive), archive_before, "the read-only source is untouched");
    assert_eq!(integrity(&python), "ok");
    let again = multisource(&["migrate", "--config", &s(&config), "--json"]).json();
    assert_eq!(actions(&again), ["current", "current", "not-touched"]);
    // A read-only source whose schema differs is a finding.
    let mut conn = raw(&archive);
    conn.batch_execute("DROP TABLE chat_topics;").unwrap();
    drop(conn);
    let run = multisource(&["migrate", "--config", &s(&config), "--json"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    let problem = run.json()["sources"][2]["problem"].as_str().unwrap().to_owned();
    assert!(problem.contains("table `chat_topics` is missing"), "{problem}");
}

/// With the bot stopped, `--offline` creates a missing read-only source (an empty archive) and
/// brings an old one to the schema, leaving each in a rollback journal; a dry run changes
/// nothing.
#[test]
fn migrate_offline_creates_and_migrates_read_only_sources_in_a_rollback_journal() {
    let dir = tempfile::tempdir().unwrap();
    let old = python_file(&dir, "old.db");
    let config = dir.path().join("bot.toml");
    std::fs::write(
        &config,
        "[database]\ndefault = \"primary\"\n\
         [database.sources.primary]\npath = \"primary.db\"\n\
         [database.sources.archive]\npath = \"archive.db\"\nreadonly = true\n\
         [database.sources.old]\npath = \"old.db\"\nreadonly = true\n",
    )
    .unwrap();
    let old_before = bytes_of(&old);
    let run =
        multisource(&["migrate", "--config", &s(&config), "--offline", "--dry-run", "--json"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let report = run.json();
    assert_eq!(report["sources"][1]["action"], "would-create");
    assert_eq!(report["sources"][1]["migrations"].as_array().unwrap().len(), 8);
    assert_eq!(report["sources"][2]["action"], "would-migrate");
    assert_eq!(report["sources"][2]["adopted_python_version"], 6);
    assert!(!dir.path().join("archive.db").exists(), "a dry run creates nothing");
    assert_eq!(bytes_of(&old), old_before);

    let run = multisource(&["migrate", "--config", &s(&config), "--offline"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    for line in [
        "archive 2025-10-24-000001_initial_schema applied",
        "archive - created",
        "old Python schema version 6 adopted: recorded as applied, no row changed",
        "old 2026-11-27-000007_lookup_indexes applied",
    ] {
        assert!(has_line(&run.stdout, line), "missing {line:?} in:\n{}", run.stdout);
    }
    for file in ["archive.db", "old.db"] {
        let path = dir.path().join(file);
        assert_eq!(integrity(&path), "ok");
        let mode: Vec<Line> =
            diesel::sql_query("SELECT journal_mode AS line FROM pragma_journal_mode()")
                .load(&mut raw(&path))
                .unwrap();
        assert_eq!(mode[0].line, "delete", "{file} is left in a rollback journal");
    }
    let check = multisource(&["check", "--config", &s(&config), "--json"]);
    assert_eq!(check.code, Some(0), "the bot can open them: {check:?}");
    let again = multisource(&["migrate", "--config", &s(&config), "--json"]).json();
    assert_eq!(actions(&again), ["current", "not-touched", "not-touched"]);
}

#[test]
fn move_chat_moves_every_row_verified_and_rewrites_the_mapping_keeping_comments() {
    let (dir, config) = demo();
    let (primary, secondary) = (dir.path().join("primary.db"), dir.path().join("secondary.db"));
    let before = chat_rows(&secondary, SIDE_CHAT);
    assert_eq!(before.len(), 6);
    let config_before = std::fs::read_to_string(&config).unwrap();
    let args =
        ["move-chat", "--config", &s(&config), "--chat", "-1002000000001", "--to", "primary"];

    let run = multisource(&[&args[..], &["--dry-run", "--json"]].concat());
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.json()["rows"], 6);
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        config_before,
        "a dry run changes nothing"
    );
    assert_eq!(chat_rows(&secondary, SIDE_CHAT), before);

    let run = multisource(&[&args[..], &["--json"]].concat());
    assert_eq!(run.code, Some(0), "{run:?}");
    let report = run.json();
    assert_eq!(
        (report["from"].as_str(), report["to"].as_str(), report["rows"].as_i64()),
        (Some("secondary"), Some("primary"), Some(6))
    );
    assert!(
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["rows"] == t["in_destination"] && t["rows"] == t["deleted"])
    );
    assert_eq!(chat_rows(&primary, SIDE_CHAT), before, "every row, identical");
    assert!(chat_rows(&secondary, SIDE_CHAT).is_empty());
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        config_before.replace("-1002000000001 = \"secondary\"", "-1002000000001 = \"primary\""),
        "one line changed, every comment kept"
    );
    assert!(!dir.path().join("bot.toml.move-journal").exists());
    // The bot, restarted, finds the chat where it went.
    let db = Database::from_config_file(&config).unwrap();
    assert_eq!(db.route(Some(SIDE_CHAT), None).unwrap().source(), "primary");
    assert_eq!(db.get_chat_setting(SIDE_CHAT, "language", None).unwrap().as_deref(), Some("en"));
    assert_eq!(
        db.get_chat_message_by_message_id(SIDE_CHAT, "1", None).unwrap().unwrap().message_text,
        "A quieter place"
    );
    drop(db);
    // Asked again: nothing to do.
    let run = multisource(&args);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("already in `primary`"), "{}", run.stdout);
}

#[test]
fn move_chat_refuses_unknown_sources_and_chats_and_read_only_targets_without_offline() {
    let (dir, config) = demo();
    let c = s(&config);
    let run =
        multisource(&["move-chat", "--config", &c, "--chat", "-1002000000001", "--to", "nowhere"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains(
            "unknown source `nowhere`; the configuration has `primary`, `secondary`, `archive`"
        ),
        "{}",
        run.stderr
    );
    let run =
        multisource(&["move-chat", "--config", &c, "--chat", "42", "--to", "secondary", "--json"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("chat 42 has no rows in `primary`")
    );
    let archive_before = bytes_of(&dir.path().join("archive.db"));
    let run =
        multisource(&["move-chat", "--config", &c, "--chat", "-1002000000001", "--to", "archive"]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("`archive` is read-only") && run.stderr.contains("--offline"),
        "{}",
        run.stderr
    );
    let run =
        multisource(&["move-chat", "--config", &c, "--chat", "-1003000000001", "--to", "primary"]);
    assert_eq!(run.code, Some(2), "moving out of a read-only source deletes there");
    assert_eq!(bytes_of(&dir.path().join("archive.db")), archive_before);
    // A destination that already holds rows of the chat is not merged into.
    let mut conn = raw(&dir.path().join("primary.db"));
    conn.batch_execute(&format!(
        "INSERT INTO chat_settings (chat_id, key, value) VALUES ({SIDE_CHAT}, 'k', 'v')"
    ))
    .unwrap();
    drop(conn);
    let run =
        multisource(&["move-chat", "--config", &c, "--chat", "-1002000000001", "--to", "primary"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.contains("`primary` already holds 1 row(s) of chat -1002000000001"),
        "{}",
        run.stderr
    );
    // Bad usage of the arguments themselves.
    assert_eq!(
        multisource(&["move-chat", "--config", &c, "--chat", "abc", "--to", "primary"]).code,
        Some(2)
    );
    assert_eq!(multisource(&["move-chat", "--config", &c]).code, Some(2));
    assert_eq!(multisource(&["frobnicate"]).code, Some(2));
    assert_eq!(multisource(&[]).code, Some(2));
}

#[test]
fn move_chat_fills_a_read_only_archive_offline() {
    let (dir, config) = demo();
    let archive = dir.path().join("archive.db");
    let before = chat_rows(&dir.path().join("primary.db"), MAIN_CHAT);
    let run = multisource(&[
        "move-chat",
        "--config",
        &s(&config),
        "--chat",
        "-1001000000001",
        "--to",
        "archive",
        "--offline",
    ]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("start the bot again"), "{}", run.stdout);
    assert_eq!(chat_rows(&archive, MAIN_CHAT), before);
    assert_eq!(integrity(&archive), "ok");
    for suffix in ["-wal", "-shm"] {
        assert!(
            !dir.path().join(format!("archive.db{suffix}")).exists(),
            "the archive stays in its rollback journal"
        );
    }
    let db = Database::from_config_file(&config).unwrap();
    assert_eq!(db.route(Some(MAIN_CHAT), None).unwrap().source(), "archive");
    assert_eq!(
        db.get_chat_messages_since(MAIN_CHAT, None, None, None, None, None, None).unwrap().len(),
        3
    );
    assert!(db.set_chat_setting(MAIN_CHAT, "k", "v").is_err(), "archived: read-only now");
}

#[test]
fn an_interrupted_move_is_finished_by_running_it_again_with_nothing_lost_or_duplicated() {
    for step in ["journal", "copy", "copied", "deleted", "mapped"] {
        let (dir, config) = demo();
        let (primary, secondary) = (dir.path().join("primary.db"), dir.path().join("secondary.db"));
        let before = chat_rows(&primary, MAIN_CHAT);
        let args =
            ["move-chat", "--config", &s(&config), "--chat", "-1001000000001", "--to", "secondary"];
        let run = multisource_with(&args, &[("MULTISOURCE_FAILPOINT", step)]);
        assert_eq!(run.code, None, "{step}: the process was killed: {run:?}");
        assert!(dir.path().join("bot.toml.move-journal").exists(), "{step}: the journal stays");
        // Whatever the step, no row is lost or doubled in the meantime...
        let (left, arrived) = (chat_rows(&primary, MAIN_CHAT), chat_rows(&secondary, MAIN_CHAT));
        assert!(left == before || arrived == before, "{step}: rows are in one place at least");
        assert!(left.is_empty() || left == before, "{step}: the origin is whole or empty");
        // ...and running again finishes the move.
        let run = multisource(&args);
        assert_eq!(run.code, Some(0), "{step}: {run:?}");
        assert!(run.stdout.contains("finished moving"), "{step}: {}", run.stdout);
        assert_eq!(chat_rows(&secondary, MAIN_CHAT), before, "{step}: every row once");
        assert!(chat_rows(&primary, MAIN_CHAT).is_empty(), "{step}");
        assert_eq!(
            (integrity(&primary), integrity(&secondary)),
            ("ok".into(), "ok".into()),
            "{step}"
        );
        assert!(!dir.path().join("bot.toml.move-journal").exists(), "{step}");
        let db = Database::from_config_file(&config).unwrap();
        assert_eq!(db.route(Some(MAIN_CHAT), None).unwrap().source(), "secondary", "{step}");
        assert_eq!(
            db.get_chat_messages_by_user(MAIN_CHAT, 777001, 10, None).unwrap().len(),
            2,
            "{step}"
        );
    }
}

#[test]
fn an_unfinished_move_of_another_chat_must_be_finished_first() {
    let (_dir, config) = demo();
    let c = s(&config);
    let run = multisource_with(
        &["move-chat", "--config", &c, "--chat", "-1001000000001", "--to", "secondary"],
        &[("MULTISOURCE_FAILPOINT", "copied")],
    );
    assert_eq!(run.code, None);
    let run =
        multisource(&["move-chat", "--config", &c, "--chat", "-1002000000001", "--to", "primary"]);
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("a move of chat -1001000000001 from `primary` to `secondary` did not finish"),
        "{}",
        run.stderr
    );
    let run =
        multisource(&["archive", "--config", &c, "--inactive-days", "0", "--to", "secondary"]);
    assert_eq!(run.code, Some(0), "archive finishes a move to its own destination first: {run:?}");
    assert!(run.stdout.contains("(unfinished move)"), "{}", run.stdout);
}

#[test]
fn archive_moves_the_chats_inactive_for_the_given_days_and_keeps_the_others() {
    let (dir, config) = demo();
    // A chat of the primary source, quiet for 100 days.
    let db = Database::from_config_file(&config).unwrap();
    let quiet = -1004000000001;
    let long_ago = chrono::Utc::now().naive_utc() - chrono::TimeDelta::days(100);
    db.update_chat_info(quiet, "group", Some("Quiet chat"), None, false).unwrap();
    db.save_chat_message(long_ago, quiet, 777001, "1", &NewMessage::default()).unwrap();
    drop(db);
    let before = chat_rows(&dir.path().join("primary.db"), quiet);
    let c = s(&config);

    let archive = |more: &[&str]| {
        multisource(
            &[&["archive", "--config", &c, "--inactive-days", "30", "--to", "archive"], more]
                .concat(),
        )
    };
    let run = archive(&[]);
    assert_eq!(run.code, Some(2), "the archive is read-only: --offline is required");
    let run = archive(&["--dry-run", "--json"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    let report = run.json();
    let chats: Vec<i64> =
        report["chats"].as_array().unwrap().iter().map(|c| c["chat"].as_i64().unwrap()).collect();
    assert_eq!(chats, [quiet]);
    assert_eq!(
        chat_rows(&dir.path().join("primary.db"), quiet),
        before,
        "a dry run changes nothing"
    );

    let run = archive(&["--offline"]);
    assert_eq!(run.code, Some(0), "{run:?}");
    assert!(run.stdout.contains("moved 1 chat(s)"), "{}", run.stdout);
    assert_eq!(chat_rows(&dir.path().join("archive.db"), quiet), before);
    assert!(chat_rows(&dir.path().join("primary.db"), quiet).is_empty());
    let db = Database::from_config_file(&config).unwrap();
    assert_eq!(db.route(Some(quiet), None).unwrap().source(), "archive");
    assert_eq!(db.route(Some(MAIN_CHAT), None).unwrap().source(), "primary", "active: kept");
    assert_eq!(
        db.get_chat_info(quiet, None).unwrap().unwrap().title.as_deref(),
        Some("Quiet chat")
    );
}

/// PostgreSQL sources, on the test server (`MULTISOURCE_TEST_POSTGRES`, which `cargo xtask test`
/// starts and sets).
#[cfg(feature = "postgres")]
mod postgres {
    use multisource_test_support::Databases;

    use super::*;

    /// The demo's configuration with a PostgreSQL source `remote` added.
    fn demo_with_remote(url: &str) -> (tempfile::TempDir, PathBuf) {
        let (dir, config) = demo();
        let text = std::fs::read_to_string(&config).unwrap().replace(
            "[database.chatMapping]",
            &format!("[database.sources.remote]\nurl = \"{url}\"\n\n[database.chatMapping]"),
        );
        std::fs::write(&config, text).unwrap();
        (dir, config)
    }

    #[test]
    fn check_migrate_and_status_work_on_postgres_sources() {
        let databases = Databases::on_test_server("cli");
        let remote = databases.create();
        let (_dir, config) = demo_with_remote(&remote);
        let c = s(&config);
        let report = multisource(&["check", "--config", &c, "--json"]).json();
        let source = &report["sources"][3];
        assert_eq!(
            (source["name"].as_str(), source["kind"].as_str()),
            (Some("remote"), Some("postgres"))
        );
        assert_eq!(source["schema"], "empty");
        assert_eq!(report["errors"], 0, "{report}");
        let run = multisource(&["migrate", "--config", &c]);
        assert_eq!(run.code, Some(0), "{run:?}");
        assert!(
            has_line(&run.stdout, "remote 2026-11-27-000001_initial_schema applied"),
            "{}",
            run.stdout
        );
        let report = multisource(&["check", "--config", &c, "--json"]).json();
        assert_eq!(report["sources"][3]["schema"], "current");
        let status = multisource(&["status", "--config", &c, "--json"]).json();
        let remote_status = &status["sources"][3];
        assert_eq!(remote_status["kind"], "postgres");
        assert_eq!(remote_status["rows"]["settings"], 1, "the schema version");
        assert!(remote_status["file_bytes"].as_u64().unwrap() > 0);
        assert!(!remote_status["path"].as_str().unwrap().is_empty());
        // A server that does not answer is an error of `check`, named.
        let text = std::fs::read_to_string(&config)
            .unwrap()
            .replace(&remote, "postgres://bot:secret@127.0.0.1:1/none");
        std::fs::write(&config, text).unwrap();
        let run = multisource(&["check", "--config", &c, "--json"]);
        assert_eq!(run.code, Some(1), "{run:?}");
        let report = run.json();
        let problem = report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["source"] == "remote")
            .unwrap()
            .clone();
        assert!(problem["message"].as_str().unwrap().contains("cannot connect"), "{problem}");
        assert!(!report.to_string().contains("secret"), "the password never shows");
    }

    #[test]
    fn move_chat_goes_to_postgres_and_back_with_every_row_verified() {
        let databases = Databases::on_test_server("cli");
        let remote = databases.create();
        let (dir, config) = demo_with_remote(&remote);
        let c = s(&config);
        let secondary = dir.path().join("secondary.db");
        let before = chat_rows(&secondary, SIDE_CHAT);
        let args = |to: &str| {
            ["move-chat", "--config", &c, "--chat", "-1002000000001", "--to", to, "--json"]
                .map(str::to_owned)
        };
        let run = multisource(&args("remote").each_ref().map(String::as_str));
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(run.json()["rows"], 6);
        assert!(chat_rows(&secondary, SIDE_CHAT).is_empty());
        let db = multisource::Database::from_config_file(&config).unwrap();
        assert_eq!(db.route(Some(SIDE_CHAT), None).unwrap().source(), "remote");
        assert_eq!(
            db.get_chat_setting(SIDE_CHAT, "language", None).unwrap().as_deref(),
            Some("en")
        );
        let message = db.get_chat_message_by_message_id(SIDE_CHAT, "1", None).unwrap().unwrap();
        assert_eq!(message.message_text, "A quieter place");
        assert_eq!(db.get_chat_user(SIDE_CHAT, 777001, None).unwrap().unwrap().messages_count, 1);
        drop(db);
        // And back: the SQLite rows are what they were, value for value.
        let run = multisource(&args("secondary").each_ref().map(String::as_str));
        assert_eq!(run.code, Some(0), "{run:?}");
        assert_eq!(chat_rows(&secondary, SIDE_CHAT), before);
        let status = multisource(&["status", "--config", &c, "--json"]).json();
        assert_eq!(status["sources"][3]["chats"], 0, "nothing left in PostgreSQL");
    }
}

//! What a configured path can name, and what multisource does to the files beside it: only
//! regular files are opened (a FIFO, a device, a socket or a loop of links is refused, without
//! being opened), a read-only source leaves its folder as it found it, concurrent first opens of
//! a new file all succeed, and `multisource check` reports an error exactly when
//! `Database::open` fails, with its message.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use multisource::{Config, Database, Error, Preflight, Severity, SourceConfig};

use crate::common::{Scratch, lock_holder, raw};

/// The names in a folder, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read the folder")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Runs the operator's command line in this process; its exit status.
fn multisource(args: &[&str]) -> u8 {
    multisource_cli::run_captured(std::iter::once("multisource").chain(args.iter().copied())).status
}

/// A database file in write-ahead-log mode, written by a bot that has stopped: its `-wal` and
/// `-shm` are gone, as a bot's last connection leaves them.
fn stopped_bots_file(scratch: &Scratch, name: &str) -> PathBuf {
    let path = scratch.path(name);
    let db = Database::open_path(&path).unwrap();
    db.set_setting("owner", "the other bot").unwrap();
    drop(db);
    let header = std::fs::read(&path).unwrap();
    assert_eq!((header[18], header[19]), (2, 2), "the file is in write-ahead-log mode");
    path
}

fn read_only(name: &str, path: &Path) -> Config {
    Config::builder()
        .source(SourceConfig::new(name, path).readonly(true))
        .default_source(name)
        .build()
        .unwrap()
}

#[test]
fn a_read_only_source_leaves_its_folder_as_it_found_it() {
    let scratch = Scratch::new();
    let path = stopped_bots_file(&scratch, "other.db");
    let before = listing(scratch.dir());
    assert_eq!(before, ["other.db"]);
    // Opened, read and dropped.
    let db = Database::open(read_only("other", &path)).unwrap();
    assert_eq!(db.get_setting("owner", None).unwrap().as_deref(), Some("the other bot"));
    drop(db);
    assert_eq!(listing(scratch.dir()), before, "opening and reading left files behind");
    // The preflight, and every command that promises to change nothing.
    let config = scratch.path("bot.toml");
    std::fs::write(
        &config,
        "[database]\ndefault = \"main\"\n[database.sources.main]\npath = \"main.db\"\n\
         [database.sources.other]\npath = \"other.db\"\nreadonly = true\n",
    )
    .unwrap();
    drop(Database::from_config_file(&config).unwrap());
    let before = listing(scratch.dir());
    let found = Preflight::run(&Config::from_file(&config).unwrap());
    assert_eq!(found.error_count(), 0, "{:?}", found.findings);
    for args in [
        &["check", "--config"][..],
        &["status", "--config"],
        &["migrate", "--dry-run", "--config"],
        &["archive", "--inactive-days", "0", "--to", "main", "--dry-run", "--config"],
    ] {
        let args: Vec<&str> = args.iter().copied().chain([config.to_str().unwrap()]).collect();
        let status = multisource(&args);
        assert!(status <= 1, "{args:?}: {status}");
        assert_eq!(listing(scratch.dir()), before, "`multisource {args:?}` left files behind");
    }
    // `check` says what reading it does.
    let warning = found.findings.iter().find(|f| f.source.as_deref() == Some("other")).unwrap();
    assert_eq!(warning.severity, Severity::Warning);
    assert!(warning.message.contains("immutable = true"), "{}", warning.message);
}

#[test]
fn a_read_only_source_leaves_the_running_owners_files_and_the_owner_goes_on() {
    let scratch = Scratch::new();
    let path = stopped_bots_file(&scratch, "other.db");
    let alone = listing(scratch.dir());
    // The owner runs: its `-wal` and `-shm` are there, and stay when the reader closes.
    let owner = Database::open_path(&path).unwrap();
    owner.set_setting("k", "1").unwrap();
    let running = listing(scratch.dir());
    assert_eq!(running, ["other.db", "other.db-shm", "other.db-wal"]);
    let reader = Database::open(read_only("other", &path)).unwrap();
    assert_eq!(reader.get_setting("k", None).unwrap().as_deref(), Some("1"));
    drop(reader);
    assert_eq!(listing(scratch.dir()), running);
    owner.set_setting("k", "2").unwrap();
    assert_eq!(owner.get_setting("k", None).unwrap().as_deref(), Some("2"));
    drop(owner);
    assert_eq!(listing(scratch.dir()), alone);
    let db = Database::open(read_only("other", &path)).unwrap();
    assert_eq!(db.get_setting("k", None).unwrap().as_deref(), Some("2"), "nothing was lost");
}

/// Something that is not a regular file, at a path of the scratch folder.
fn special(scratch: &Scratch, what: &str) -> PathBuf {
    let path = scratch.path(what);
    match what {
        "fifo" => {
            let made = Command::new("mkfifo").arg(&path).status().expect("run mkfifo");
            assert!(made.success());
        }
        "socket" => {
            std::mem::forget(UnixListener::bind(&path).expect("bind a socket"));
        }
        "loop" => {
            std::os::unix::fs::symlink(scratch.path("loop-b"), &path).unwrap();
            std::os::unix::fs::symlink(&path, scratch.path("loop-b")).unwrap();
        }
        "folder" => std::fs::create_dir(&path).unwrap(),
        "device" => return PathBuf::from("/dev/null"),
        other => panic!("no such special file: {other}"),
    }
    path
}

#[test]
fn a_fifo_a_device_a_socket_a_folder_or_a_link_loop_is_refused_at_open_without_being_opened() {
    let scratch = Scratch::new();
    for (what, says) in [
        ("fifo", "it is a FIFO (named pipe), not a database file"),
        ("device", "it is a character device, not a database file"),
        ("socket", "it is a socket, not a database file"),
        ("folder", "it is a folder, not a database file"),
        ("loop", "its symbolic links loop"),
    ] {
        let path = special(&scratch, what);
        for readonly in [true, false] {
            let config = Config::builder()
                .source(SourceConfig::new("odd", &path).readonly(readonly))
                .default_source("odd")
                .build()
                .unwrap();
            let err = Database::open(config.clone()).unwrap_err();
            match &err {
                Error::Open { source_name, path: named, detail } => {
                    assert_eq!(source_name, "odd", "{what}");
                    assert_eq!(named, &std::path::absolute(&path).unwrap(), "{what}");
                    assert!(detail.contains(says), "{what}: {detail}");
                }
                other => panic!("{what}, readonly {readonly}: expected Open, got {other:?}"),
            }
            let found = Preflight::run(&config);
            let errors: Vec<&str> = found
                .findings
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .map(|f| f.message.as_str())
                .collect();
            assert_eq!(errors, [err.to_string()], "{what}: check says what open says");
        }
    }
}

#[test]
fn concurrent_first_opens_of_a_new_file_all_succeed() {
    const PROCESSES: usize = 8;
    const ROUNDS: usize = 30;
    let scratch = Scratch::new();
    let mut failures = Vec::new();
    for round in 0..ROUNDS {
        let path = scratch.path(&format!("new-{round}.db"));
        let mut children: Vec<_> = (0..PROCESSES)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_multisource-child"))
                    .args(["open", &path.to_string_lossy()])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .spawn()
                    .expect("start an opener")
            })
            .collect();
        let mut outputs: Vec<_> =
            children.iter_mut().map(|c| BufReader::new(c.stdout.take().unwrap())).collect();
        for out in &mut outputs {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            assert_eq!(line.trim(), "ready");
        }
        // All at once.
        for child in &mut children {
            child.stdin.take().unwrap().write_all(b"go\n").unwrap();
        }
        for (child, out) in children.iter_mut().zip(&mut outputs) {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
            if line.trim() != "opened" {
                failures.push(format!("round {round}: {}", line.trim()));
            }
            assert!(child.wait().unwrap().success());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} opens failed: {failures:#?}",
        failures.len(),
        PROCESSES * ROUNDS
    );
}

#[test]
fn a_busy_source_says_how_long_the_call_really_waited() {
    let scratch = Scratch::new();
    let path = scratch.path("locked.db");
    let timeout = std::time::Duration::from_millis(300);
    let config = Config::builder()
        .source(SourceConfig::new("locked", &path).timeout(timeout))
        .default_source("locked")
        .build()
        .unwrap();
    let db = Database::open(config).unwrap();
    let mut holder = lock_holder(&path);
    let err = db.set_setting("k", "v").unwrap_err();
    match &err {
        Error::Busy { waited, timeout: t, .. } => {
            assert_eq!(*t, timeout);
            assert!(*waited >= timeout, "waited {waited:?}, less than the timeout");
        }
        other => panic!("expected Busy, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("the call waited 0.3"), "{text}");
    holder.stdin.take().unwrap().write_all(b"").unwrap();
    assert!(holder.wait().unwrap().success());
}

/// A broken configuration of the reliability tests or of these: its name, and what makes it.
type Case = (&'static str, fn(&Scratch) -> String);

/// A source `s` with the given keys, written for a file of the scratch folder.
fn source(keys: &str) -> String {
    format!("[database]\ndefault = \"s\"\n[database.sources.s]\n{keys}\n")
}

fn cases() -> Vec<Case> {
    vec![
        ("valid writable", |_| source("path = \"new.db\"")),
        ("valid read-only", |s| {
            s.archive("old.db", |_| {});
            source("path = \"old.db\"\nreadonly = true")
        }),
        ("missing read-only file", |_| source("path = \"gone.db\"\nreadonly = true")),
        ("missing folder", |_| source("path = \"no/such/folder/x.db\"")),
        ("missing folder, read-only", |_| {
            source("path = \"no/such/folder/x.db\"\nreadonly = true")
        }),
        ("not a database", |s| {
            std::fs::write(s.path("junk.db"), vec![7u8; 8192]).unwrap();
            source("path = \"junk.db\"")
        }),
        ("not a database, read-only", |s| {
            std::fs::write(s.path("junk.db"), vec![7u8; 8192]).unwrap();
            source("path = \"junk.db\"\nreadonly = true")
        }),
        ("truncated database", |s| {
            let path = s.archive("cut.db", |_| {});
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..4096]).unwrap();
            source("path = \"cut.db\"\nreadonly = true")
        }),
        ("empty read-only database", |s| {
            drop(raw(&s.path("empty.db")));
            std::fs::write(s.path("empty.db"), b"").unwrap();
            source("path = \"empty.db\"\nreadonly = true")
        }),
        ("read-only schema mismatch", |s| {
            let path = s.archive("old.db", |_| {});
            diesel::connection::SimpleConnection::batch_execute(
                &mut raw(&path),
                "DROP TABLE chat_topics;",
            )
            .unwrap();
            source("path = \"old.db\"\nreadonly = true")
        }),
        ("newer Python schema, writable", |s| {
            let path = s.python_db("py.db");
            diesel::connection::SimpleConnection::batch_execute(
                &mut raw(&path),
                "UPDATE settings SET value = '9' WHERE key = 'db-migration-version';",
            )
            .unwrap();
            source("path = \"py.db\"")
        }),
        ("two writable sources on one file", |_| {
            "[database]\ndefault = \"a\"\n[database.sources.a]\npath = \"same.db\"\n\
             [database.sources.b]\npath = \"./same.db\"\n"
                .to_owned()
        }),
        ("a writable and a read-only view of one new file", |_| {
            "[database]\ndefault = \"a\"\n[database.sources.a]\npath = \"same.db\"\n\
             [database.sources.b]\npath = \"same.db\"\nreadonly = true\n"
                .to_owned()
        }),
        ("a FIFO", |s| {
            special(s, "fifo");
            source("path = \"fifo\"")
        }),
        ("a FIFO, read-only", |s| {
            special(s, "fifo");
            source("path = \"fifo\"\nreadonly = true")
        }),
        ("a writable character device", |_| source("path = \"/dev/null\"")),
        ("a symbolic link loop", |s| {
            special(s, "loop");
            source("path = \"loop\"")
        }),
        ("a folder", |s| {
            special(s, "folder");
            source("path = \"folder\"")
        }),
        ("a socket, read-only", |s| {
            special(s, "socket");
            source("path = \"socket\"\nreadonly = true")
        }),
    ]
}

#[test]
fn check_reports_an_error_exactly_when_open_fails_with_the_same_message() {
    for (name, make) in cases() {
        let scratch = Scratch::new();
        let file = scratch.path("bot.toml");
        std::fs::write(&file, make(&scratch)).unwrap();
        let config = Config::from_file(&file).unwrap();
        let found = Preflight::run(&config);
        let errors: Vec<String> = found
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| f.message.clone())
            .collect();
        let status = multisource(&["check", "--config", file.to_str().unwrap()]);
        match Database::open(config) {
            Ok(_) => {
                assert!(errors.is_empty(), "{name}: open succeeds, check says {errors:?}");
                assert_eq!(status, 0, "{name}: `multisource check` exit status");
            }
            Err(err) => {
                assert_eq!(
                    errors.first(),
                    Some(&err.to_string()),
                    "{name}: check's first error is not open's"
                );
                assert_eq!(status, 1, "{name}: `multisource check` exit status");
            }
        }
    }
}

//! Helpers shared by the integration tests: a temporary folder per test, databases built the way
//! the Python bot built them, and ways to see whether a file changed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use multisource::{Config, Database};

use crate::backends::{Backend, Place};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

/// The Python bot's version-6 schema and rows in its value conventions.
pub(crate) const PYTHON_V6_SQL: &str = include_str!("python_v6.sql");

/// A temporary folder owned by one test; removed when dropped.
pub(crate) struct Scratch {
    dir: TempDir,
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        Scratch { dir: tempfile::tempdir().expect("temporary folder") }
    }

    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A database file built like the Python bot's: its DDL, its rows, rollback journal.
    pub(crate) fn python_db(&self, name: &str) -> PathBuf {
        let path = self.path(name);
        let mut conn = raw(&path);
        conn.batch_execute(PYTHON_V6_SQL).expect("python schema");
        path
    }

    /// A copy of a file of `tests/fixtures/gromozeka`.
    pub(crate) fn fixture(&self, name: &str) -> PathBuf {
        let path = self.path(name);
        fs::copy(fixture_path(name), &path).expect("copy the fixture");
        path
    }

    /// A database created by multisource, filled by `fill`, then frozen as an archive: closed and
    /// switched to a rollback journal so that reading it read-only creates no `-wal`/`-shm` file.
    pub(crate) fn archive(&self, name: &str, fill: impl FnOnce(&Database)) -> PathBuf {
        let path = self.path(name);
        let db = Database::open_path(&path).expect("open the archive writable");
        fill(&db);
        drop(db);
        raw(&path).batch_execute("PRAGMA journal_mode = DELETE;").expect("freeze the archive");
        path
    }
}

/// The path of a file of `tests/fixtures/gromozeka` (files in the Python bot's formats).
pub(crate) fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/gromozeka").join(name)
}

/// Another process holding the write lock of the file at `path` (the child's `hold-lock`), once
/// it said so; the lock is released when its standard input is closed.
pub(crate) fn lock_holder(path: &Path) -> std::process::Child {
    use std::io::BufRead;
    let mut holder = std::process::Command::new(env!("CARGO_BIN_EXE_multisource-child"))
        .args(["hold-lock", &path.to_string_lossy()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the lock holder");
    let mut line = String::new();
    std::io::BufReader::new(holder.stdout.take().expect("its output"))
        .read_line(&mut line)
        .expect("read the lock holder");
    assert_eq!(line.trim(), "locked");
    holder
}

/// A plain connection, outside multisource.
pub(crate) fn raw(path: &Path) -> SqliteConnection {
    SqliteConnection::establish(&path.to_string_lossy()).expect("plain connection")
}

/// Three sources: `primary` (writable, the default), `secondary` (writable) and `archive`
/// (read-only, prepared beforehand), with chats mapped to each.
pub(crate) struct ThreeSources {
    pub(crate) place: Place,
    pub(crate) db: Database,
}

pub(crate) const PRIMARY_CHAT: i64 = -1001000000001;
pub(crate) const SECONDARY_CHAT: i64 = -1002000000001;
pub(crate) const ARCHIVE_CHAT: i64 = -1003000000001;
/// A chat in no mapping: it goes to the default source.
pub(crate) const UNMAPPED_CHAT: i64 = -1004000000001;
/// A chat the archive holds a copy of, under another title.
pub(crate) const SHARED_CHAT: i64 = -1005000000001;
/// A user in the archived chats.
pub(crate) const USER: i64 = 100;

impl ThreeSources {
    /// The three sources as SQLite files.
    pub(crate) fn new() -> ThreeSources {
        ThreeSources::with(|b| b)
    }

    /// The three sources as SQLite files, with the builder adjusted by `adjust` before it is
    /// built.
    pub(crate) fn with(
        adjust: impl FnOnce(multisource::ConfigBuilder) -> multisource::ConfigBuilder,
    ) -> ThreeSources {
        ThreeSources::on_kinds([Backend::Sqlite; 3], adjust)
    }

    /// The three sources, all of the kind `backend`.
    pub(crate) fn on(backend: Backend) -> ThreeSources {
        ThreeSources::on_kinds([backend; 3], |b| b)
    }

    /// The three sources, `primary`, `secondary` and `archive` of the kinds given, in that order.
    pub(crate) fn on_kinds(
        kinds: [Backend; 3],
        adjust: impl FnOnce(multisource::ConfigBuilder) -> multisource::ConfigBuilder,
    ) -> ThreeSources {
        let place = Place::new(
            kinds.iter().copied().find(|k| *k != Backend::Sqlite).unwrap_or(Backend::Sqlite),
        );
        let archive = place.archive_on(kinds[2], "archive", |db| {
            db.set_chat_setting(ARCHIVE_CHAT, "where", "archive").expect("fill the archive");
            db.set_setting("where", "archive").expect("fill the archive");
            db.update_chat_info(ARCHIVE_CHAT, "supergroup", Some("archived"), None, false)
                .expect("fill the archive");
            db.update_chat_user(ARCHIVE_CHAT, USER, "@user", "User").expect("fill the archive");
            // A chat that is also in the primary source, under another title.
            db.update_chat_info(SHARED_CHAT, "group", Some("shared, archive copy"), None, false)
                .expect("fill the archive");
            db.update_chat_user(SHARED_CHAT, USER, "@user", "User").expect("fill the archive");
        });
        let config = Config::builder()
            .source(place.source_on(kinds[0], "primary"))
            .source(place.source_on(kinds[1], "secondary"))
            .source(archive)
            .default_source("primary")
            .map_chat(PRIMARY_CHAT, "primary")
            .map_chat(SECONDARY_CHAT, "secondary")
            .map_chat(ARCHIVE_CHAT, "archive");
        let db = Database::open(adjust(config).build().expect("valid configuration"))
            .expect("open three sources");
        ThreeSources { place, db }
    }

    /// The archive's file, when it is a SQLite file.
    pub(crate) fn archive_path(&self) -> PathBuf {
        self.place.scratch.path("archive.db")
    }
}

/// What can be seen of a database file from outside: its bytes, its `-wal` and `-shm` files, and
/// its modification time.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FileState {
    pub(crate) sha256: String,
    pub(crate) wal: Option<String>,
    pub(crate) shm: Option<String>,
    pub(crate) modified: SystemTime,
}

pub(crate) fn file_state(path: &Path) -> FileState {
    let side = |suffix: &str| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        fs::read(PathBuf::from(p)).ok().map(|bytes| hex(&Sha256::digest(bytes)))
    };
    FileState {
        sha256: hex(&Sha256::digest(fs::read(path).expect("read the file"))),
        wal: side("-wal"),
        shm: side("-shm"),
        modified: fs::metadata(path).and_then(|m| m.modified()).expect("modification time"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Every row of every table (diesel's migration table aside), each as the `quote()`d values of
/// its columns, sorted: equal dumps mean equal data.
pub(crate) fn dump(path: &Path) -> BTreeMap<String, Vec<String>> {
    #[derive(QueryableByName)]
    struct Line {
        #[diesel(sql_type = Text)]
        line: String,
    }
    let mut conn = SqliteConnection::establish(&format!("file:{}?mode=ro", path.display()))
        .expect("read-only connection");
    let mut out = BTreeMap::new();
    let tables: Vec<Line> = diesel::sql_query(
        "SELECT name AS line FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name != '__diesel_schema_migrations'",
    )
    .load(&mut conn)
    .expect("tables");
    for Line { line: table } in tables {
        let columns: Vec<Line> =
            diesel::sql_query("SELECT name AS line FROM pragma_table_info(?) ORDER BY cid")
                .bind::<Text, _>(&table)
                .load(&mut conn)
                .expect("columns");
        let expr = columns
            .iter()
            .map(|c| format!("quote(\"{}\")", c.line))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let mut rows: Vec<String> =
            diesel::sql_query(format!("SELECT {expr} AS line FROM \"{table}\""))
                .load::<Line>(&mut conn)
                .expect("rows")
                .into_iter()
                .map(|l| l.line)
                .collect();
        rows.sort();
        out.insert(table, rows);
    }
    out
}

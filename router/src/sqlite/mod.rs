//! SQLite connections, as multisource opens every one of them (the router's, the checkpointer's,
//! and the operator's command line's): a `file:` URI in a mode, the guard of [`guard`], the
//! source's busy timeout, and the pragmas of its role.

pub(crate) mod file;
pub(crate) mod guard;
mod inspect;

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::R2D2Connection;

pub(crate) use self::guard::{Guarded, Mode};
pub(crate) use self::inspect::{inspect, open_read_only};

/// How a connection opens its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenMode {
    /// Read-only (`mode=ro`), and `query_only`; `immutable` opens a frozen archive with SQLite's
    /// `immutable=1` (no locks, no side files, no look for changes).
    ReadOnly {
        /// The file is declared frozen.
        immutable: bool,
    },
    /// Read-write; the file must exist.
    ReadWrite,
    /// Read-write, creating the file if it is missing.
    Create,
}

impl OpenMode {
    /// The URI's `mode` parameter.
    fn uri_mode(self) -> &'static str {
        match self {
            OpenMode::ReadOnly { immutable: true } => "ro&immutable=1",
            OpenMode::ReadOnly { immutable: false } => "ro",
            OpenMode::ReadWrite => "rw",
            OpenMode::Create => "rwc",
        }
    }
}

/// Opens `path` in `mode`, guarded, waiting up to `timeout` for locks, and runs `pragmas` (for a
/// read-only connection, `query_only = ON` first).
pub(crate) fn connect(
    path: &Path,
    mode: OpenMode,
    timeout: Duration,
    pragmas: &str,
) -> Result<Guarded, diesel::r2d2::Error> {
    let mut conn = guard::open(&sqlite_uri(path, mode.uri_mode()), timeout)
        .map_err(diesel::r2d2::Error::ConnectionError)?;
    let read_only = match mode {
        OpenMode::ReadOnly { .. } => "PRAGMA query_only = ON;",
        OpenMode::ReadWrite | OpenMode::Create => "",
    };
    conn.conn()
        .batch_execute(&format!("{read_only}{pragmas}"))
        .map_err(diesel::r2d2::Error::QueryError)?;
    Ok(conn)
}

/// A failure to open a connection, in words: diesel's connection error, or the pragma that
/// failed.
pub(crate) fn describe_open(error: &diesel::r2d2::Error) -> String {
    match error {
        diesel::r2d2::Error::ConnectionError(e) => e.to_string(),
        diesel::r2d2::Error::QueryError(e) => e.to_string(),
    }
}

/// Opens the connections of one pool of a source, for r2d2.
#[derive(Debug)]
pub(crate) struct Manager {
    pub(crate) path: std::path::PathBuf,
    pub(crate) mode: OpenMode,
    pub(crate) timeout: Duration,
    pub(crate) pragmas: String,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Guarded;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Guarded, diesel::r2d2::Error> {
        connect(&self.path, self.mode, self.timeout, &self.pragmas)
    }

    fn is_valid(&self, conn: &mut Guarded) -> Result<(), diesel::r2d2::Error> {
        conn.conn().batch_execute("SELECT 1").map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Guarded) -> bool {
        is_broken(conn)
    }
}

/// A connection left inside a transaction, or whose transaction diesel found broken, or released
/// by a panic in the middle of a call, is not used again.
pub(crate) fn is_broken(conn: &mut Guarded) -> bool {
    std::thread::panicking() || !conn.in_autocommit() || R2D2Connection::is_broken(conn.conn())
}

/// The SQLite URI of `path` opened with `mode` (`ro`, `rw`, `rwc`, or `ro&immutable=1`): `file:`
/// and the path with every byte SQLite would read as URI syntax percent-encoded.
pub fn sqlite_uri(path: &Path, mode: &str) -> String {
    let mut out = String::from("file:");
    for byte in path.as_os_str().as_encoded_bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'.' | b'_' | b'-' | b'~' => {
                out.push(char::from(*byte));
            }
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out.push_str("?mode=");
    out.push_str(mode);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_escapes_what_sqlite_would_read_as_uri_syntax() {
        assert_eq!(
            sqlite_uri(Path::new("/a b/c?d#e%f.db"), "ro"),
            "file:/a%20b/c%3Fd%23e%25f.db?mode=ro"
        );
        assert_eq!(
            sqlite_uri(Path::new("/tmp/снег.db"), "rwc"),
            "file:/tmp/%D1%81%D0%BD%D0%B5%D0%B3.db?mode=rwc"
        );
    }
}

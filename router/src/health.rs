//! Whether a source's file is still the one it opened.
//!
//! SQLite keeps working on a file that was removed or replaced while it was open: reads go on
//! reading the old file, and in WAL mode writes go on being acknowledged into a file that is gone
//! as soon as the last connection closes. A file overwritten in place fails reads, but not always
//! the next write. So the router watches: the maintenance thread checks every source's file
//! every [`CHECK_EVERY`] (still at its path, same inode, still a SQLite header), a write checks
//! after it commits, at most once per [`WRITE_CHECK_EVERY`]. A call that SQLite told the file is
//! damaged (`SQLITE_CORRUPT`, `SQLITE_NOTADB`) records that too: a checkpoint can write a valid
//! first page back over garbage, so the header alone does not tell. A source found at fault fails
//! every call from then on, with an error naming it and its file, so that nothing more is written
//! into a damaged file.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How often the maintenance thread checks every source's file.
pub(crate) const CHECK_EVERY: Duration = Duration::from_millis(200);

/// A write checks that its file is still in place at most this often.
pub(crate) const WRITE_CHECK_EVERY: Duration = Duration::from_millis(1);

use crate::sqlite::file::{FileId, OpenFile};

const OK: u8 = 0;
const GONE: u8 = 1;
const NOT_A_DATABASE: u8 = 2;
const DAMAGED: u8 = 3;

/// What went wrong with a source's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// The file was removed, or another file was put in its place.
    Gone,
    /// The file no longer starts with a SQLite header: it was overwritten in place.
    NotADatabase,
    /// SQLite found the file damaged while reading or writing it.
    Damaged,
}

/// The watch over one source's file.
#[derive(Debug)]
pub(crate) struct Health {
    path: PathBuf,
    /// The file, through the one descriptor the process keeps on it (read with `pread`: opening
    /// and closing the file here would release SQLite's locks, see [`crate::sqlite::file`]).
    file: Arc<OpenFile>,
    fault: AtomicU8,
    /// When a write last checked the path, in nanoseconds since `epoch`.
    checked: AtomicU64,
    epoch: Instant,
    /// Where the data of a removed writable file was saved, once it was.
    rescued: OnceLock<Result<PathBuf, String>>,
}

impl Health {
    /// Starts watching the file opened at `path`.
    pub(crate) fn new(path: PathBuf, file: Arc<OpenFile>) -> Health {
        Health {
            path,
            file,
            fault: AtomicU8::new(OK),
            checked: AtomicU64::new(0),
            // Set back by one period, so that the first write checks.
            epoch: Instant::now().checked_sub(WRITE_CHECK_EVERY).unwrap_or_else(Instant::now),
            rescued: OnceLock::new(),
        }
    }

    /// The fault found so far, if any: one atomic load.
    #[inline]
    pub(crate) fn fault(&self) -> Option<Fault> {
        match self.fault.load(Ordering::Relaxed) {
            OK => None,
            GONE => Some(Fault::Gone),
            NOT_A_DATABASE => Some(Fault::NotADatabase),
            _ => Some(Fault::Damaged),
        }
    }

    /// Checks that the file is still at its path and still a SQLite database; records and returns
    /// the fault found.
    pub(crate) fn check(&self) -> Option<Fault> {
        if let Some(fault) = self.fault() {
            return Some(fault);
        }
        let found = match FileId::at(&self.path) {
            now if now != Some(self.file.id()) => Some(Fault::Gone),
            _ if !self.file.has_header() => Some(Fault::NotADatabase),
            _ => None,
        };
        if let Some(fault) = found {
            self.record(fault);
        }
        found
    }

    /// After a write: checks the file, unless a write did so less than [`WRITE_CHECK_EVERY`] ago.
    pub(crate) fn check_after_write(&self) -> Option<Fault> {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let last = self.checked.load(Ordering::Relaxed);
        if now.saturating_sub(last) < WRITE_CHECK_EVERY.as_nanos() as u64 {
            return self.fault();
        }
        self.checked.store(now, Ordering::Relaxed);
        self.check()
    }

    /// Records that SQLite found the file damaged, unless a fault was found before; the file is
    /// checked first, so that a removed or overwritten file is reported as such.
    pub(crate) fn damaged(&self) {
        if self.check().is_none() {
            self.record(Fault::Damaged);
        }
    }

    fn record(&self, fault: Fault) {
        let code = match fault {
            Fault::Gone => GONE,
            Fault::NotADatabase => NOT_A_DATABASE,
            Fault::Damaged => DAMAGED,
        };
        // The first fault found stays.
        let _ = self.fault.compare_exchange(OK, code, Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Where a rescue copy goes: next to the file, named after it and the time.
    pub(crate) fn rescue_path(&self) -> PathBuf {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".rescued-{seconds}"));
        PathBuf::from(name)
    }

    /// The outcome of the rescue, running `rescue` the first time only.
    pub(crate) fn rescued(
        &self,
        rescue: impl FnOnce() -> Result<PathBuf, String>,
    ) -> &Result<PathBuf, String> {
        self.rescued.get_or_init(rescue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removed_replaced_or_overwritten_file_is_found() {
        let dir = std::env::temp_dir().join(format!("multisource-health-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.db");
        let mut header = crate::sqlite::file::HEADER.to_vec();
        header.resize(4096, 0);
        std::fs::write(&path, &header).unwrap();
        let watch = |path: &std::path::Path| {
            Health::new(path.to_path_buf(), OpenFile::acquire(path, true).unwrap())
        };

        let health = watch(&path);
        assert_eq!(health.check(), None);
        std::fs::write(&path, vec![7u8; 4096]).unwrap();
        assert_eq!(health.check(), Some(Fault::NotADatabase));
        assert_eq!(health.fault(), Some(Fault::NotADatabase), "the first fault stays");

        std::fs::write(&path, &header).unwrap();
        let health = watch(&path);
        health.damaged();
        assert_eq!(health.fault(), Some(Fault::Damaged), "SQLite's word is enough");

        let health = watch(&path);
        let other = dir.join("b.db");
        std::fs::write(&other, &header).unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_eq!(health.check(), Some(Fault::Gone), "another file in its place");

        let health = watch(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(health.check_after_write(), Some(Fault::Gone));
        let _ = std::fs::remove_dir_all(&dir);
    }
}

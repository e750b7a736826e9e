//! The watch over a SQLite file's commits, for the read cache: a reading of the header that
//! SQLite keeps at the start of the file's write-ahead-log index (the `-shm` file, mapped in
//! shared memory by every connection to the file, in every process). Every commit to the file,
//! by any connection, rewrites that header (its change counter, the log's last frame and their
//! checksums), so two equal readings mean that nothing committed in between. A reading is a
//! copy of 96 bytes: no statement, no lock, no system call.
//!
//! SQLite writes the header twice, the second copy first, and a reader that finds the two copies
//! different knows it caught a commit in the middle of writing it; so does the watch, which then
//! answers that it cannot tell (the cache then reads the file). The layout is SQLite's
//! `WalIndexHdr`, described in its documentation of the WAL-index format
//! (<https://www.sqlite.org/walformat.html>): 48 bytes, the first field the index's version,
//! 3007000 since SQLite 3.7.0. The watch checks that version when it opens, and keeps no watch
//! over an index of another version.

#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use diesel::connection::SimpleConnection;

use crate::source::SourceId;
use crate::sqlite::{Guarded, OpenMode, connect};

/// The words of one copy of the header (`WalIndexHdr`, 48 bytes).
const WORDS: usize = 12;

/// The index's version that the layout above is SQLite's for (`WALINDEX_MAX_VERSION`).
const INDEX_VERSION: u32 = 3_007_000;

/// One reading of the header: equal readings, nothing committed in between.
pub(crate) type Token = [u32; WORDS];

/// What tells the cache whether the file changed.
pub(crate) enum Watch {
    /// A frozen archive (`immutable = true`): by the operator's word nothing changes it, and
    /// SQLite itself looks for no change.
    Frozen,
    /// The header of the file's log index, as mapped for a connection of the watch's own.
    Index {
        /// The header: valid while `_conn` is open (see [`Guarded::wal_index`]).
        header: NonNull<AtomicU32>,
        /// The connection for which SQLite maps the index, used for nothing else.
        _conn: Guarded,
    },
}

// SAFETY: `header` points into a shared mapping that SQLite keeps while `_conn` is open and that
// other threads and processes write; it is only ever read, with atomic loads. `Guarded` is
// `Send`, and the connection is never used after the watch opened it.
unsafe impl Send for Watch {}
// SAFETY: as above: shared references only read the header atomically.
unsafe impl Sync for Watch {}

impl Watch {
    /// The watch over the source's file, opened with `mode` (the source's readers' mode); `None`
    /// when the file keeps no log index to watch (another journal mode than WAL), or it cannot
    /// be read as this version of the watch knows it.
    pub(crate) fn open(id: &SourceId, mode: OpenMode) -> Option<Watch> {
        if let OpenMode::ReadOnly { immutable: true } = mode {
            return Some(Watch::Frozen);
        }
        let mut conn = connect(&id.path, mode, id.timeout, "").ok()?;
        let journal = crate::sqlite::journal_mode(conn.conn(), "PRAGMA journal_mode").ok()?;
        if !journal.eq_ignore_ascii_case("wal") {
            return None;
        }
        // A read in WAL mode maps the index for the connection; this one needs no schema, which
        // the watch's connection then never loads.
        conn.conn().batch_execute("PRAGMA data_version").ok()?;
        let header = conn.wal_index()?.cast::<AtomicU32>();
        let watch = Watch::Index { header, _conn: conn };
        let version = watch.token().map(|token| token[0]);
        (version == Some(INDEX_VERSION)).then_some(watch)
    }

    /// A stamp of the header now: the checksum SQLite keeps of it (its last two words, over every
    /// field before them: the change counter, the log's last frame, the salts), from its first
    /// copy. Two equal stamps read before and after a read, nothing committed in between; a stamp
    /// read while a commit writes the header may mix two states, which only makes it differ.
    /// Never 0 (which [`crate::moves::Moves`] keeps for "none").
    #[inline]
    pub(crate) fn stamp(&self) -> u64 {
        let header = match self {
            Watch::Frozen => return 1,
            Watch::Index { header, .. } => header,
        };
        let word = |i: usize| {
            // SAFETY: as in `token`: the first 48 bytes of the mapped page, alive with `self`.
            u64::from(unsafe { &*header.as_ptr().add(i) }.load(Ordering::Acquire))
        };
        (word(WORDS - 2) << 32 | word(WORDS - 1)).max(2)
    }

    /// The header now; `None` when a commit is writing it at this very moment.
    #[inline]
    pub(crate) fn token(&self) -> Option<Token> {
        let header = match self {
            Watch::Frozen => return Some([0; WORDS]),
            Watch::Index { header, .. } => header,
        };
        let word = |i: usize| {
            // SAFETY: the index's first page is 32 KiB, of which the two copies of the header
            // take the first 96 bytes; the mapping is page-aligned, and lives as long as `self`.
            unsafe { &*header.as_ptr().add(i) }.load(Ordering::Relaxed)
        };
        // As SQLite's readers do: the first copy, then the second, which a commit writes first.
        let first: Token = std::array::from_fn(word);
        fence(Ordering::Acquire);
        let second: Token = std::array::from_fn(|i| word(WORDS + i));
        fence(Ordering::Acquire);
        (first == second).then_some(first)
    }
}

//! The files of SQLite sources as the operating system sees them: what a path may name, the
//! descriptor multisource keeps on each file it opens, and the `-wal` and `-shm` files a
//! read-only source must not leave behind.
//!
//! ## What a path may name
//!
//! A source's path must be a regular file, or not exist yet (for a writable source, in a folder
//! that exists). [`examine`] says which, from the file's metadata alone: a FIFO, a device, a
//! socket or a folder is refused without being opened, since opening a FIFO for reading blocks
//! until a writer comes, and a loop of symbolic links is refused as such.
//!
//! ## One descriptor per file
//!
//! On POSIX systems, closing *any* descriptor of a file releases every `fcntl` lock the process
//! holds on it, including those of SQLite's own connections. In write-ahead-log mode SQLite keeps
//! its locks in the `-shm` file, but a file in a rollback journal (a frozen archive, another
//! bot's file) is locked on the database file itself for the length of each read: a descriptor
//! closed beside SQLite during a read lets another process write under the reader. So multisource
//! never opens and closes a source's file beside SQLite while its connections are open: each file
//! it opens gets one descriptor ([`OpenFile`]), shared by every source of the process on that
//! file, kept until the last of them closes, and read with `pread` (the file watch's header
//! check). (A bot that opens the same file with SQLite connections of its own, outside
//! multisource, should keep them open until multisource has closed it.)
//!
//! ## Files a read-only source creates
//!
//! To read a file in write-ahead-log mode, SQLite needs its `-shm` and `-wal` files, and creates
//! them when they are missing and the folder is writable; a read-only connection cannot remove
//! them when it closes, as a writer does. Left behind, owned by the reader's user, they lock the
//! file's owner out (`attempt to write a readonly database`). So when the last source of the
//! process on a file closes, the `-wal` and `-shm` files that did not exist when the first opened
//! it are removed, provided no other connection of any process has the database open (tested the
//! way SQLite tests it before removing them itself: with an exclusive lock on the database file's
//! shared-lock bytes, held while removing) and the `-wal` is empty (a log that holds
//! transactions is never removed).

#![allow(unsafe_code)]

use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

/// The first 16 bytes of every SQLite database file.
pub(crate) const HEADER: &[u8; 16] = b"SQLite format 3\0";

/// A file's device and inode: what identifies it whatever its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    pub(crate) fn of(metadata: &Metadata) -> FileId {
        FileId { dev: metadata.dev(), ino: metadata.ino() }
    }

    /// The identity of the file at `path` now, following symbolic links.
    pub(crate) fn at(path: &Path) -> Option<FileId> {
        std::fs::metadata(path).ok().map(|m| FileId::of(&m))
    }
}

/// What a source's path names.
#[derive(Debug)]
pub(crate) enum Examined {
    /// Nothing yet; its folder exists.
    Missing,
    /// A regular file.
    File(Metadata),
}

/// Why a path cannot be a source's file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// Nothing there, and the folder that would hold it does not exist either.
    NoFolder(PathBuf),
    /// Something that is not a regular file: what it is.
    NotAFile(&'static str),
    /// A loop of symbolic links.
    LinkLoop,
    /// The metadata cannot be read.
    Unreadable(String),
}

impl Unusable {
    /// What is wrong and what to do, for the error's message.
    pub(crate) fn describe(&self) -> String {
        match self {
            Unusable::NoFolder(folder) => {
                format!("the folder {} does not exist; create it first", folder.display())
            }
            Unusable::NotAFile(what) => {
                format!("it is {what}, not a database file; point `path` at a SQLite file")
            }
            Unusable::LinkLoop => {
                "its symbolic links loop and lead to no file; point `path` at a SQLite file".into()
            }
            Unusable::Unreadable(why) => format!("cannot read what it is: {why}"),
        }
    }
}

/// What `path` names, from its metadata alone: nothing is opened.
pub(crate) fn examine(path: &Path) -> Result<Examined, Unusable> {
    match std::fs::metadata(path) {
        Ok(meta) => {
            let kind = meta.file_type();
            let what = if kind.is_file() {
                return Ok(Examined::File(meta));
            } else if kind.is_dir() {
                "a folder"
            } else if kind.is_fifo() {
                "a FIFO (named pipe)"
            } else if kind.is_char_device() {
                "a character device"
            } else if kind.is_block_device() {
                "a block device"
            } else if kind.is_socket() {
                "a socket"
            } else {
                "not a regular file"
            };
            Err(Unusable::NotAFile(what))
        }
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Err(Unusable::LinkLoop),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // A dangling symbolic link names nothing either; its target would be created.
            match path.parent().filter(|p| !p.as_os_str().is_empty()) {
                Some(folder) if !folder.is_dir() => Err(Unusable::NoFolder(folder.to_path_buf())),
                _ => Ok(Examined::Missing),
            }
        }
        Err(e) => Err(Unusable::Unreadable(e.to_string())),
    }
}

/// `path` with `suffix` appended to its file name (`-wal`, `-shm`).
pub(crate) fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// True when the file's header says write-ahead-log mode (its read and write versions are 2).
pub(crate) fn header_says_wal(header: &[u8]) -> bool {
    header.len() >= 20 && header[..16] == HEADER[..] && header[18] == 2 && header[19] == 2
}

/// The one descriptor of the process on a source's file, shared by the sources on it.
#[derive(Debug)]
pub(crate) struct OpenFile {
    id: FileId,
    path: PathBuf,
    file: File,
    /// Whether the `-wal` and `-shm` files existed when the first source opened the file.
    wal_existed: bool,
    shm_existed: bool,
    /// Whether a writable source opened it: its writer removes the side files itself.
    writable: Mutex<bool>,
    /// Whether the descriptor is open for writing, as taking SQLite's exclusive lock needs.
    lockable: bool,
}

/// The files the process has open, by identity.
static OPEN: Mutex<Vec<(FileId, Weak<OpenFile>)>> = Mutex::new(Vec::new());

impl OpenFile {
    /// The descriptor on the regular file at `path`, shared with the sources of the process that
    /// already hold it. Call it before the source opens a connection, so that the side files are
    /// recorded as SQLite found them.
    pub(crate) fn acquire(path: &Path, writable: bool) -> io::Result<Arc<OpenFile>> {
        let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|(_, weak)| weak.strong_count() > 0);
        let meta = std::fs::metadata(path)?;
        let id = FileId::of(&meta);
        if let Some(found) = open.iter().find(|(i, _)| *i == id).and_then(|(_, w)| w.upgrade()) {
            if writable {
                *found.writable.lock().unwrap_or_else(|e| e.into_inner()) = true;
            }
            return Ok(found);
        }
        // Non-blocking, so that a FIFO put in the file's place meanwhile cannot block the open.
        // Open for writing too where the user may (nothing is written through it): only such a
        // descriptor can take the exclusive lock that removing the side files needs.
        let open_with = |write: bool| {
            std::fs::OpenOptions::new()
                .read(true)
                .write(write)
                .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
                .open(path)
        };
        let (file, lockable) = match open_with(true) {
            Ok(file) => (file, true),
            Err(_) => (open_with(false)?, false),
        };
        let opened = FileId::of(&file.metadata()?);
        if opened != id || !file.metadata()?.is_file() {
            return Err(io::Error::other("the file was replaced while it was being opened"));
        }
        let shared = Arc::new(OpenFile {
            id,
            path: path.to_path_buf(),
            wal_existed: sidecar(path, "-wal").exists(),
            shm_existed: sidecar(path, "-shm").exists(),
            writable: Mutex::new(writable),
            lockable,
            file,
        });
        open.push((id, Arc::downgrade(&shared)));
        Ok(shared)
    }

    /// The file's identity.
    pub(crate) fn id(&self) -> FileId {
        self.id
    }

    /// The first bytes of the file, read through the shared descriptor: `n` at most.
    pub(crate) fn head(&self, n: usize) -> io::Result<Vec<u8>> {
        let mut buffer = vec![0u8; n];
        let mut filled = 0;
        while filled < n {
            match self.file.read_at(&mut buffer[filled..], filled as u64)? {
                0 => break,
                read => filled += read,
            }
        }
        buffer.truncate(filled);
        Ok(buffer)
    }

    /// True when the file still starts with a SQLite header; a file that cannot be read now is
    /// left to the calls to report.
    pub(crate) fn has_header(&self) -> bool {
        match self.head(HEADER.len()) {
            // A file shorter than a header is not a database.
            Ok(head) => head[..] == HEADER[..],
            Err(_) => true,
        }
    }

    /// Removes the `-wal` and `-shm` files the process's read-only sources created, when nobody
    /// has the database open and the log holds nothing.
    fn remove_created_sidecars(&self) {
        let wal = sidecar(&self.path, "-wal");
        let shm = sidecar(&self.path, "-shm");
        let created_wal = !self.wal_existed && wal.exists();
        let created_shm = !self.shm_existed && shm.exists();
        if !created_wal && !created_shm {
            return;
        }
        // The path must still lead to the file: else the side files are another file's.
        if !self.lockable || FileId::at(&self.path) != Some(self.id) {
            return;
        }
        let Some(_lock) = ExclusiveLock::try_take(&self.file) else { return };
        let wal_size = std::fs::metadata(&wal).map(|m| m.len());
        match wal_size {
            Ok(0) if created_wal => {
                let _ = std::fs::remove_file(&wal);
            }
            Ok(_) => return,
            Err(_) => {}
        }
        if created_shm {
            let _ = std::fs::remove_file(&shm);
        }
    }
}

impl Drop for OpenFile {
    fn drop(&mut self) {
        let writable = *self.writable.get_mut().unwrap_or_else(|e| e.into_inner());
        if !writable {
            self.remove_created_sidecars();
        }
    }
}

/// SQLite's exclusive lock on a database file: a write lock on its pending, reserved and shared
/// bytes, which every connection to a database in write-ahead-log mode holds a read lock on for
/// as long as it is open. Released when dropped.
struct ExclusiveLock<'a> {
    file: &'a File,
}

/// Where SQLite's lock bytes start in a database file (`PENDING_BYTE`), and how many there are:
/// the pending byte, the reserved byte and 510 shared bytes.
const LOCK_START: i64 = 0x4000_0000;
const LOCK_LEN: i64 = 512;

impl<'a> ExclusiveLock<'a> {
    fn try_take(file: &'a File) -> Option<ExclusiveLock<'a>> {
        set_lock(file, libc::F_WRLCK as libc::c_short).then_some(ExclusiveLock { file })
    }
}

impl Drop for ExclusiveLock<'_> {
    fn drop(&mut self) {
        set_lock(self.file, libc::F_UNLCK as libc::c_short);
    }
}

/// Takes or releases a lock on SQLite's lock bytes without waiting. On Linux it is an open file
/// description lock, which conflicts with the POSIX locks of SQLite's connections in this process
/// too, and is released with the descriptor only.
fn set_lock(file: &File, kind: libc::c_short) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: `flock` is plain data; zeroed is a valid value for every field.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock.l_start = LOCK_START;
    lock.l_len = LOCK_LEN;
    #[cfg(target_os = "linux")]
    let command = libc::F_OFD_SETLK;
    #[cfg(not(target_os = "linux"))]
    let command = libc::F_SETLK;
    // SAFETY: the descriptor is open for the life of `file`, and `lock` is a valid `flock`.
    unsafe { libc::fcntl(file.as_raw_fd(), command, &mut lock) == 0 }
}

/// Whether this user may access `path` as `how` (`libc::W_OK`, `libc::X_OK`), asked of the
/// system without opening anything.
pub(crate) fn may(how: libc::c_int, path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(name) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: `name` is a NUL-terminated path that lives for the call; `access` only reads it.
    unsafe { libc::access(name.as_ptr(), how) == 0 }
}

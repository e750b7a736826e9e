//! SQLite's query planner stability guarantee, on the connections multisource opens.
//!
//! SQLite lets its planner look at the values bound to some parameters: a `LIMIT ?` among them,
//! which every diesel `.first()` and `.limit(n)` produces. A statement planned that way expires as
//! soon as such a parameter is bound again, so each call re-prepares it; for the message queries
//! (a three-table join of 28 columns) the re-preparation costs five times the query. The guarantee
//! (`SQLITE_DBCONFIG_ENABLE_QPSG`) makes plans independent of bound values, so diesel's statement
//! cache keeps working.
//!
//! Diesel does not give access to the raw handle of its connections, so the setting is applied by
//! an auto-extension, which SQLite runs on every connection it opens in the process. It changes
//! only the connections to the files registered here, that is, the sources multisource opens; the
//! bot's other SQLite connections are left as they are.

#![allow(unsafe_code)]

use std::ffi::{CStr, c_char, c_int};
use std::path::Path;
use std::sync::{Mutex, Once};

use libsqlite3_sys as ffi;

/// The files whose connections get the guarantee, as SQLite names them (absolute paths).
static FILES: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// Makes every connection opened from now on to `path` plan independently of bound values.
pub(crate) fn register(path: &Path) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // SAFETY: `enable` has the signature SQLite calls auto-extensions with, never unwinds, and
        // only reads the handle SQLite passes it.
        unsafe {
            ffi::sqlite3_auto_extension(Some(enable));
        }
    });
    let mut names = vec![path.as_os_str().as_encoded_bytes().to_vec()];
    // SQLite resolves symbolic links in the names it reports; register the resolved name too.
    if let Ok(real) = path.canonicalize() {
        names.push(real.as_os_str().as_encoded_bytes().to_vec());
    }
    if let Ok(mut files) = FILES.lock() {
        for name in names {
            if !files.contains(&name) {
                files.push(name);
            }
        }
    }
}

/// The auto-extension: turns the guarantee on when the connection's main file is registered.
unsafe extern "C" fn enable(
    db: *mut ffi::sqlite3,
    _error: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: SQLite passes a valid, open handle; "main" always names its main database.
    let name = unsafe { ffi::sqlite3_db_filename(db, c"main".as_ptr()) };
    if name.is_null() {
        return ffi::SQLITE_OK;
    }
    // SAFETY: a non-null file name from SQLite is a NUL-terminated string that lives as long as
    // the connection.
    let name = unsafe { CStr::from_ptr(name) }.to_bytes();
    let registered = FILES.lock().map(|files| files.iter().any(|f| f == name)).unwrap_or(false);
    if registered {
        // SAFETY: ENABLE_QPSG takes an int (1: on) and an int pointer for the new state, which may
        // be null.
        unsafe {
            ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                1 as c_int,
                std::ptr::null_mut::<c_int>(),
            );
        }
    }
    ffi::SQLITE_OK
}

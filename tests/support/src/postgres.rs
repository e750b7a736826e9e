//! Throwaway databases on a PostgreSQL server.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// The variable that names the tests' server, as `postgres://user@host:port` (no database).
pub const TEST_SERVER: &str = "MULTISOURCE_TEST_POSTGRES";

/// The URL of the tests' server, without a database.
///
/// # Panics
///
/// When [`TEST_SERVER`] is not set, saying how to set it.
pub fn test_server() -> String {
    std::env::var(TEST_SERVER).unwrap_or_else(|_| {
        panic!(
            "{TEST_SERVER} is not set: the PostgreSQL tests need a server. `cargo xtask test` \
             starts a throwaway one and sets it; or set it to a server of yours, such as \
             postgres://postgres@127.0.0.1:5432"
        )
    })
}

/// Databases created on one server for one owner (a test, a benchmark run), each new and empty,
/// all dropped when the owner drops this.
pub struct Databases {
    server: String,
    prefix: String,
    admin: Mutex<PgConnection>,
    created: Mutex<Vec<String>>,
}

impl Databases {
    /// Databases on the tests' server ([`test_server`]), named after `prefix`.
    ///
    /// # Panics
    ///
    /// When the server is not set or cannot be reached.
    pub fn on_test_server(prefix: &str) -> Databases {
        Databases::on(&test_server(), prefix)
    }

    /// Databases on `server` (`postgres://user@host:port`, no database), named after `prefix`.
    ///
    /// # Panics
    ///
    /// When the server cannot be reached.
    pub fn on(server: &str, prefix: &str) -> Databases {
        let admin = PgConnection::establish(&format!("{server}/postgres"))
            .unwrap_or_else(|e| panic!("cannot reach the PostgreSQL server {server}: {e}"));
        Databases {
            server: server.to_owned(),
            prefix: prefix.to_owned(),
            admin: Mutex::new(admin),
            created: Mutex::new(Vec::new()),
        }
    }

    /// A new, empty database, named after the prefix, the process and a counter (so that
    /// processes and threads sharing the server never meet); its URL.
    ///
    /// # Panics
    ///
    /// When the server refuses to create it.
    pub fn create(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}_{}_{n}", self.prefix, std::process::id());
        let mut admin = self.admin.lock().unwrap_or_else(|e| e.into_inner());
        // One statement per call: a batch runs in a transaction, which these refuse.
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap_or_else(|e| panic!("cannot drop an earlier {name}: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("cannot create {name}: {e}"));
        self.created.lock().unwrap_or_else(|e| e.into_inner()).push(name.clone());
        format!("{}/{name}", self.server)
    }

    /// The server's URL, without a database.
    pub fn server(&self) -> &str {
        &self.server
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        let admin = self.admin.get_mut().unwrap_or_else(|e| e.into_inner());
        for name in self.created.get_mut().unwrap_or_else(|e| e.into_inner()).drain(..) {
            // Sessions still open (a pool not yet dropped) are closed by FORCE.
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

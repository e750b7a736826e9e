//! Databases on the PostgreSQL test server, created for one test and dropped at its end.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// The variable that names the test server, as `postgres://user@host:port` (no database).
pub(crate) const SERVER: &str = "MULTISOURCE_TEST_POSTGRES";

/// The URL of the test server, without a database.
pub(crate) fn server() -> String {
    std::env::var(SERVER).unwrap_or_else(|_| {
        panic!(
            "{SERVER} is not set: the PostgreSQL tests need a server. `cargo xtask test` starts a \
             throwaway one and sets it; or set it to a server of yours, such as \
             postgres://postgres@127.0.0.1:5432"
        )
    })
}

/// The databases one test created.
pub(crate) struct Databases {
    server: String,
    admin: Mutex<PgConnection>,
    created: Mutex<Vec<String>>,
}

impl Databases {
    pub(crate) fn new() -> Databases {
        let server = server();
        let admin = PgConnection::establish(&format!("{server}/postgres"))
            .unwrap_or_else(|e| panic!("cannot reach the test server {server}: {e}"));
        Databases { server, admin: Mutex::new(admin), created: Mutex::new(Vec::new()) }
    }

    /// A new, empty database; its URL.
    pub(crate) fn create(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("it_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut admin = self.admin.lock().unwrap();
        // One statement per call: a batch runs in a transaction, which these refuse.
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        self.created.lock().unwrap().push(name.clone());
        format!("{}/{name}", self.server)
    }
}

impl Drop for Databases {
    fn drop(&mut self) {
        let admin = self.admin.get_mut().unwrap_or_else(|e| e.into_inner());
        for name in self.created.get_mut().unwrap_or_else(|e| e.into_inner()).drain(..) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

//! The query tests run on each kind of source: [`on_each_backend!`] turns a test into one test
//! per kind (`name::sqlite`, and `name::postgres` with the `postgres` feature), and a [`Place`]
//! gives a test sources of its kind that it owns: files in a temporary folder, or databases
//! created for it on the test server (`MULTISOURCE_TEST_POSTGRES`, which `cargo xtask test`
//! starts and sets) and dropped at its end.

use multisource::{Database, SourceConfig};

use crate::common::Scratch;

/// A kind of source a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    #[cfg(feature = "postgres")]
    Postgres,
}

/// Defines each test once and runs it on every kind of source: `fn name(backend: Backend)`
/// becomes the module `name` with the tests `sqlite` and `postgres`.
macro_rules! on_each_backend {
    ($( $(#[$meta:meta])* fn $name:ident($b:ident: $t:ty) $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                fn run($b: $t) $body

                #[test]
                fn sqlite() {
                    run($crate::backends::Backend::Sqlite)
                }

                #[cfg(feature = "postgres")]
                #[test]
                fn postgres() {
                    run($crate::backends::Backend::Postgres)
                }
            }
        )*
    };
}
pub(crate) use on_each_backend;

/// Runs one expression on the connection of whatever kind it is: `on_conn!(conn, c => ...)`.
macro_rules! on_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            multisource::Conn::Sqlite($c) => $body,
            #[cfg(feature = "postgres")]
            multisource::Conn::Pg($c) => $body,
            #[allow(unreachable_patterns)]
            _ => unreachable!("a kind of connection the tests do not know"),
        }
    };
}
pub(crate) use on_conn;

/// The sources of one test, of one kind.
pub(crate) struct Place {
    pub(crate) backend: Backend,
    pub(crate) scratch: Scratch,
    #[cfg(feature = "postgres")]
    server: Option<multisource_test_support::Databases>,
}

impl Place {
    pub(crate) fn new(backend: Backend) -> Place {
        Place {
            backend,
            scratch: Scratch::new(),
            #[cfg(feature = "postgres")]
            server: match backend {
                Backend::Postgres => {
                    Some(multisource_test_support::Databases::on_test_server("it"))
                }
                Backend::Sqlite => None,
            },
        }
    }

    /// A new, empty, writable source named `name`, of the place's kind.
    pub(crate) fn source(&self, name: &str) -> SourceConfig {
        self.source_on(self.backend, name)
    }

    /// A new, empty, writable source named `name`, of the kind `backend`.
    pub(crate) fn source_on(&self, backend: Backend, name: &str) -> SourceConfig {
        match backend {
            Backend::Sqlite => SourceConfig::new(name, self.scratch.path(&format!("{name}.db"))),
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                let server = self.server.as_ref().expect("a place on PostgreSQL has a server");
                SourceConfig::postgres(name, server.create())
            }
        }
    }

    /// A database of one writable source named `default`, as `Database::open_path` makes.
    pub(crate) fn open_one(&self) -> Database {
        let config = multisource::Config::builder().source(self.source("default")).build();
        Database::open(config.expect("one source")).expect("open one source")
    }

    /// A read-only source named `name`, of the kind `backend`, filled beforehand through
    /// multisource by `fill`; on SQLite, frozen in a rollback journal so that reading it creates
    /// no `-wal` or `-shm`.
    pub(crate) fn archive_on(
        &self,
        backend: Backend,
        name: &str,
        fill: impl FnOnce(&Database),
    ) -> SourceConfig {
        if backend == Backend::Sqlite {
            let path = self.scratch.archive(&format!("{name}.db"), fill);
            return SourceConfig::new(name, path).readonly(true);
        }
        let source = self.source_on(backend, name);
        let config = multisource::Config::builder().source(source.clone()).default_source(name);
        let db = Database::open(config.build().unwrap()).expect("open the archive writable");
        fill(&db);
        drop(db);
        source.readonly(true)
    }
}

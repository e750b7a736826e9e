//! One source opened beside the router, for the operator's tools (the `multisource` command):
//! the same opening as the router's, for a purpose the router does not serve (reading a source
//! without migrating it, migrating it without serving calls, writing a chat's rows into a source
//! the bot may not write).

use std::path::PathBuf;
use std::sync::Arc;

use multisource_migrations::{Mismatch, SchemaState};

use crate::config::SourceConfig;
use crate::conn::{Conn, Kind};
use crate::error::{Error, Result};
use crate::route::Access;
use crate::source::{SourceId, SourceInfo, explain};
use crate::sqlite::file::{self, Examined, OpenFile};
use crate::sqlite::{self, Guarded, OpenMode};

/// What a tool opens a source for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Reading without changing anything: a read-only connection (SQLite's `mode=ro` and
    /// `query_only`, `immutable=1` for a frozen archive; a read-only PostgreSQL session). The
    /// source must exist, and a read-only source's folder is left as it was found.
    Inspect,
    /// Bringing a writable source to the current schema, as `Database::open` does: a new SQLite
    /// file is created in write-ahead-log mode, a file of the Python bot adopted.
    Migrate,
    /// Writing a chat's rows during a move, whatever the source's access: every commit synced to
    /// the disk (`synchronous = FULL`); with `create`, a missing SQLite file is created.
    Move {
        /// Create the SQLite file when it is missing.
        create: bool,
    },
    /// A connection as the router's own readers (`Access::Read`) or writer (`Access::Write`) of
    /// the source get it, with the same settings, for benchmarks that compare a routed call with
    /// the same query on a connection held directly. The file must exist.
    Serve(Access),
}

/// A connection to one source, opened for a [`Purpose`].
pub struct Opened {
    conn: OpenedConn,
    id: SourceId,
    info: SourceInfo,
    // Last: closed after the connection, so that a read-only open leaves the folder as found.
    _file: Option<Arc<OpenFile>>,
}

enum OpenedConn {
    Sqlite(Guarded),
    #[cfg(feature = "postgres")]
    Pg(diesel::PgConnection),
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").field("source", &self.info.config.name()).finish_non_exhaustive()
    }
}

impl Opened {
    /// Opens `source` for `purpose`. For [`Purpose::Migrate`], the pending migrations are applied
    /// here, and [`Opened::info`] says what was found and done.
    pub fn open(source: &SourceConfig, purpose: Purpose) -> Result<Opened> {
        let mut info = SourceInfo {
            config: source.clone(),
            path: PathBuf::from(source.location().to_string()),
            state_at_open: SchemaState::Empty,
            applied: Vec::new(),
            adopted_python_version: None,
        };
        match source.kind() {
            Kind::Sqlite => open_sqlite(source, purpose, &mut info),
            #[cfg(feature = "postgres")]
            Kind::Postgres => open_postgres(source, purpose, &mut info),
            #[cfg(not(feature = "postgres"))]
            Kind::Postgres => Err(Error::Open {
                source_name: source.name().to_owned(),
                path: info.path,
                detail: "PostgreSQL sources need this program built with multisource's \
                         `postgres` feature"
                    .into(),
            }),
        }
    }

    /// The connection, of the source's kind.
    pub fn conn(&mut self) -> Conn<'_> {
        match &mut self.conn {
            OpenedConn::Sqlite(conn) => Conn::Sqlite(conn.conn()),
            #[cfg(feature = "postgres")]
            OpenedConn::Pg(conn) => Conn::Pg(conn),
        }
    }

    /// The kind of the source.
    pub fn kind(&self) -> Kind {
        match &self.conn {
            OpenedConn::Sqlite(_) => Kind::Sqlite,
            #[cfg(feature = "postgres")]
            OpenedConn::Pg(_) => Kind::Postgres,
        }
    }

    /// What opening found and did: for [`Purpose::Migrate`], the schema state before and the
    /// migrations applied.
    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Where the schema stands.
    pub fn state(&mut self) -> Result<SchemaState> {
        let id = &self.id;
        match &mut self.conn {
            OpenedConn::Sqlite(conn) => multisource_migrations::state(conn.conn())
                .map_err(|e| id.failure(e, Access::Read, &explain(conn))),
            #[cfg(feature = "postgres")]
            OpenedConn::Pg(conn) => multisource_migrations::postgres::state(conn)
                .map_err(|e| id.query_error(e, Access::Read)),
        }
    }

    /// How the schema differs from the one multisource expects.
    pub fn check(&mut self) -> Result<Vec<Mismatch>> {
        let id = &self.id;
        match &mut self.conn {
            OpenedConn::Sqlite(conn) => multisource_migrations::check(conn.conn())
                .map_err(|e| id.failure(e, Access::Read, &explain(conn))),
            #[cfg(feature = "postgres")]
            OpenedConn::Pg(conn) => multisource_migrations::postgres::check(conn)
                .map_err(|e| id.query_error(e, Access::Read)),
        }
    }

    /// Applies the pending migrations, as `Database::open` does for a writable source (a SQLite
    /// file is switched to write-ahead logging first); [`Opened::info`] records what was done.
    pub fn migrate(&mut self) -> Result<()> {
        match &mut self.conn {
            OpenedConn::Sqlite(conn) => self.id.migrate_writable(conn, &mut self.info),
            #[cfg(feature = "postgres")]
            OpenedConn::Pg(conn) => {
                let id = &self.id;
                self.info.state_at_open = multisource_migrations::postgres::state(conn)
                    .map_err(|e| id.query_error(e, Access::Read))?;
                let report = multisource_migrations::postgres::migrate(conn).map_err(|error| {
                    Error::Migration {
                        source_name: id.name.to_string(),
                        path: id.path.clone(),
                        error,
                    }
                })?;
                self.info.applied = report.applied;
                Ok(())
            }
        }
    }

    /// The error that says what a statement of the tool's own SQL did wrong on this source.
    pub fn failure(&self, error: diesel::result::Error, access: Access) -> Error {
        let id = &self.id;
        match &self.conn {
            OpenedConn::Sqlite(conn) => id.failure(error, access, &explain(conn)),
            #[cfg(feature = "postgres")]
            OpenedConn::Pg(_) => id.query_error(error, access),
        }
    }
}

fn open_sqlite(source: &SourceConfig, purpose: Purpose, info: &mut SourceInfo) -> Result<Opened> {
    let id = SourceId::sqlite(source)?;
    info.path = id.path.clone();
    let missing = || Error::MissingFile { source_name: id.name.to_string(), path: id.path.clone() };
    let examined = file::examine(&id.path);
    let (conn, file) = match (purpose, examined) {
        (_, Err(unusable)) if !matches!(unusable, file::Unusable::NoFolder(_)) => {
            return Err(id.open_error(unusable.describe()));
        }
        (Purpose::Inspect, Ok(Examined::File(_))) => {
            let file = OpenFile::acquire(&id.path, false)
                .map_err(|e| id.open_error(format!("cannot open the file: {e}")))?;
            let conn = sqlite::connect(&id.path, id.read_mode, id.timeout, "")
                .map_err(|e| id.open_error(sqlite::describe_open(&e)))?;
            (conn, file)
        }
        (Purpose::Inspect, _) => return Err(missing()),
        (Purpose::Migrate, Err(unusable)) => return Err(id.open_error(unusable.describe())),
        (Purpose::Migrate, Ok(_)) => id.prepare_writable(info)?,
        (Purpose::Serve(access), Ok(Examined::File(_))) => {
            let (mode, pragmas) = match access {
                Access::Read => (id.read_mode, String::new()),
                Access::Write => (OpenMode::ReadWrite, crate::source::writer_pragmas(source)),
            };
            let conn = sqlite::connect(&id.path, mode, id.timeout, &pragmas)
                .map_err(|e| id.open_error(sqlite::describe_open(&e)))?;
            let file = OpenFile::acquire(&id.path, access == Access::Write)
                .map_err(|e| id.open_error(format!("cannot open the file: {e}")))?;
            (conn, file)
        }
        (Purpose::Serve(_), _) => return Err(missing()),
        (Purpose::Move { create }, examined) => {
            let mode = match (create, examined) {
                (_, Ok(Examined::File(_))) => OpenMode::ReadWrite,
                (true, Ok(Examined::Missing)) => OpenMode::Create,
                (true, Err(unusable)) => return Err(id.open_error(unusable.describe())),
                (false, _) => return Err(missing()),
            };
            let conn = sqlite::connect(&id.path, mode, id.timeout, "PRAGMA synchronous = FULL;")
                .map_err(|e| id.open_error(sqlite::describe_open(&e)))?;
            let file = OpenFile::acquire(&id.path, true)
                .map_err(|e| id.open_error(format!("cannot open the file: {e}")))?;
            (conn, file)
        }
    };
    Ok(Opened { conn: OpenedConn::Sqlite(conn), id, info: info.clone(), _file: Some(file) })
}

#[cfg(feature = "postgres")]
fn open_postgres(source: &SourceConfig, purpose: Purpose, info: &mut SourceInfo) -> Result<Opened> {
    let id = SourceId::postgres(source);
    let read_only = matches!(purpose, Purpose::Inspect | Purpose::Serve(Access::Read));
    let conn = crate::pg::postgres_session(source.url().unwrap_or_default(), id.timeout, read_only)
        .map_err(|e| id.open_error(e))?;
    let mut opened = Opened { conn: OpenedConn::Pg(conn), id, info: info.clone(), _file: None };
    if purpose == Purpose::Migrate {
        opened.migrate()?;
    }
    Ok(opened)
}

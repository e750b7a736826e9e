//! Reading a SQLite source without changing it: what the preflight reports, and the first step of
//! opening a read-only source, which is the same reading.

use std::path::Path;
use std::sync::Arc;

use multisource_migrations::{MigrationError, SchemaState};

use crate::config::SourceConfig;
use crate::error::{Error, Result};
use crate::preflight::{Inspected, SourceReport};
use crate::route::Access;
use crate::source::SourceId;
use crate::sqlite::file::{self, Examined, OpenFile, Unusable};
use crate::sqlite::{self as sqlite_mod, Guarded, explain, read_mode};

/// What the preflight finds of a SQLite source: the error opening it would fail with, if any.
pub(crate) fn inspect(source: &SourceConfig) -> Inspected {
    let mut inspected = Inspected {
        report: SourceReport { name: source.name().to_owned(), ..SourceReport::default() },
        ..Inspected::default()
    };
    let id = SourceId::of(source);
    let read = read_only(&id, source, source.is_readonly(), &mut inspected);
    if !source.is_readonly() && inspected.report.state == Some(SchemaState::Unknown) {
        inspected.warnings.push(
            "the file has tables but no recorded schema version; opening it runs every \
             migration, which only creates what is missing"
                .to_owned(),
        );
    }
    let verdict = match read {
        Ok(Some(_)) | Ok(None) => verdict(&id, source, &inspected.report),
        Err(error) => {
            inspected.report.unreadable = Some(error.to_string());
            Err(error)
        }
    };
    inspected.error = verdict.err();
    inspected
}

/// Opens a read-only source's file as the preflight reads it, and returns the connection and the
/// file's descriptor, or the error opening it fails with.
pub(crate) fn open_read_only(
    id: &SourceId,
    source: &SourceConfig,
) -> Result<(Guarded, Arc<OpenFile>, SchemaState)> {
    let mut inspected = Inspected::default();
    let opened = read_only(id, source, true, &mut inspected)?;
    verdict(id, source, &inspected.report)?;
    match (opened, inspected.report.state) {
        (Some((conn, file)), Some(state)) => Ok((conn, file, state)),
        _ => Err(Error::MissingFile { source_name: id.name.to_string(), path: id.path.clone() }),
    }
}

/// Reads the file through a read-only connection: whether it exists, its size, its schema state
/// and mismatches, and what opening it read-only will do to its folder. `None` when there is no
/// file yet (a writable source's first open creates it).
fn read_only(
    id: &SourceId,
    source: &SourceConfig,
    readonly: bool,
    inspected: &mut Inspected,
) -> Result<Option<(Guarded, Arc<OpenFile>)>> {
    let missing = || Error::MissingFile { source_name: id.name.to_string(), path: id.path.clone() };
    let meta = match (file::examine(&id.path), readonly) {
        (Ok(Examined::File(meta)), _) => meta,
        (Ok(Examined::Missing), true) | (Err(Unusable::NoFolder(_)), true) => return Err(missing()),
        (Ok(Examined::Missing), false) => return Ok(None),
        (Err(unusable), _) => return Err(id.open_error(unusable.describe())),
    };
    inspected.report.exists = true;
    inspected.report.size_bytes = Some(meta.len());
    if !readonly && !file::may(libc::W_OK, &id.path) {
        return Err(id.open_error(
            "this user cannot write the file, which is writable in the configuration; fix its \
             permissions or set `readonly = true`"
                .into(),
        ));
    }
    // Before the first connection, so that the side files are recorded as they were.
    let file = OpenFile::acquire(&id.path, false)
        .map_err(|e| id.open_error(format!("cannot open the file: {e}")))?;
    if let Some(warning) = side_files(id, source, &file)? {
        inspected.warnings.push(warning);
    }
    let mut conn = sqlite_mod::connect(&id.path, read_mode(source), id.timeout, "")
        .map_err(|e| id.open_error(super::describe_open(&e)))?;
    let failed = |conn: &Guarded, e| id.failure(e, Access::Read, &explain(conn));
    let state = multisource_migrations::state(source.schema(), conn.conn())
        .map_err(|e| failed(&conn, e))?;
    inspected.report.mismatches = multisource_migrations::check(source.schema(), conn.conn())
        .map_err(|e| failed(&conn, e))?;
    inspected.report.state = Some(state);
    Ok(Some((conn, file)))
}

/// What a read-only open does to the folder of a file in write-ahead-log mode whose `-shm` file
/// is missing: SQLite creates it and the `-wal` (removed again when the source closes), or, in a
/// folder this user cannot write, cannot read the file at all.
fn side_files(id: &SourceId, source: &SourceConfig, file: &OpenFile) -> Result<Option<String>> {
    let immutable = source.is_immutable();
    let head = file.head(100).unwrap_or_default();
    if !id.readonly || immutable || !file::header_says_wal(&head) {
        return Ok(None);
    }
    if file::sidecar(&id.path, "-shm").exists() {
        return Ok(None);
    }
    let folder = id.path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !file::may(libc::W_OK | libc::X_OK, folder) {
        return Err(id.open_error(format!(
            "it is in write-ahead-log mode and its `-shm` file is missing: SQLite can only read it \
             by creating its `-wal` and `-shm` files, and this user cannot create files in {}; \
             set `immutable = true` if nothing writes the file any more, or let this user write \
             the folder (the owner's group)",
            folder.display()
        )));
    }
    Ok(Some(format!(
        "{} is in write-ahead-log mode and nothing has it open: reading it creates its `-wal` and \
         `-shm` files beside it, owned by this user, while the source is open (they are removed \
         when it closes); if another user's bot writes the file, run this one in that user's \
         group, or set `immutable = true` if nothing writes the file any more",
        id.path.display()
    )))
}

/// What opening the source will say of what was read: the error it fails with, if any.
fn verdict(id: &SourceId, source: &SourceConfig, report: &SourceReport) -> Result<()> {
    let migration =
        |error| Error::Migration { source_name: id.name.to_string(), path: id.path.clone(), error };
    match (&report.state, source.is_readonly()) {
        (Some(SchemaState::Python { version }), false)
            if *version > multisource_migrations::PYTHON_SCHEMA_VERSION =>
        {
            Err(migration(MigrationError::NewerPythonSchema { version: *version }))
        }
        (Some(_), true) if !report.mismatches.is_empty() => Err(Error::SchemaMismatch {
            source_name: id.name.to_string(),
            path: id.path.clone(),
            mismatches: report.mismatches.clone(),
        }),
        _ => Ok(()),
    }
}

//! `multisource status`: what every source holds, read through read-only connections: rows per
//! table, the sizes of the file and its log, the journal mode, and the chats (how many, the
//! mapped ones with no data there, and those it holds but the configuration routes elsewhere,
//! such as rows of a move left unfinished).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use multisource::{Config, SourceConfig};
use serde::Serialize;

use multisource_router::{Opened, Purpose};

use crate::db::{self, chat_tables};
use crate::error::Error;
use crate::output::{Bot, Outcome, Table, bytes, describe, load_config, some_of, to_json};

#[derive(Debug, Serialize)]
struct Report {
    config: PathBuf,
    default_source: String,
    sources: Vec<SourceStatus>,
}

#[derive(Debug, Serialize)]
struct SourceStatus {
    name: String,
    /// `sqlite` or `postgres`.
    kind: &'static str,
    /// The file, or the database's URL without its password.
    path: PathBuf,
    readonly: bool,
    /// Why the file could not be read; the other fields are then empty.
    error: Option<String>,
    /// A SQLite file's journal mode (`wal`, `delete`, ...).
    journal_mode: Option<String>,
    /// The size of the file, or of the PostgreSQL database (`pg_database_size`).
    file_bytes: u64,
    wal_bytes: u64,
    shm_bytes: u64,
    total_bytes: u64,
    /// Rows per table, for every table of the file.
    rows: BTreeMap<String, i64>,
    /// How many chats have rows here.
    chats: usize,
    /// Chats mapped to this source that have no rows here.
    mapped_without_data: Vec<i64>,
    /// Chats with rows here that the configuration routes to another source.
    routed_elsewhere: Vec<i64>,
}

/// Runs `status` on the configuration at `path`.
pub(crate) fn run(path: &Path, bot: Bot, json: bool, out: &mut String) -> Result<Outcome, Error> {
    let config = load_config(path, bot)?;
    let sources: Vec<SourceStatus> = config.sources().iter().map(|s| status(&config, s)).collect();
    let unreadable = sources.iter().any(|s| s.error.is_some());
    let report = Report {
        config: path.to_path_buf(),
        default_source: config.default_source().to_owned(),
        sources,
    };
    if json {
        out.push_str(&to_json(&report));
    } else {
        out.push_str(&render(&report));
    }
    Ok(Outcome::found(unreadable))
}

fn status(config: &Config, source: &SourceConfig) -> SourceStatus {
    let mut out = SourceStatus {
        name: source.name().to_owned(),
        kind: source.kind().as_str(),
        path: PathBuf::from(source.location().to_string()),
        readonly: source.is_readonly(),
        error: None,
        journal_mode: None,
        file_bytes: 0,
        wal_bytes: 0,
        shm_bytes: 0,
        total_bytes: 0,
        rows: BTreeMap::new(),
        chats: 0,
        mapped_without_data: Vec::new(),
        routed_elsewhere: Vec::new(),
    };
    if !db::exists(source) {
        out.error = Some(match source.is_readonly() {
            true => "the file is missing".to_owned(),
            false => "no file yet (created at the bot's first open)".to_owned(),
        });
        return out;
    }
    if let Err(error) = read(config, source, &mut out) {
        out.error = Some(describe(&error));
    }
    out.total_bytes = out.file_bytes + out.wal_bytes + out.shm_bytes;
    out
}

fn read(config: &Config, source: &SourceConfig, out: &mut SourceStatus) -> multisource::Result<()> {
    let mut db = Opened::open(source, Purpose::Inspect)?;
    // One snapshot for every count (a read-only transaction).
    db.begin_read()?;
    let result = (|| -> multisource::Result<()> {
        out.journal_mode = db.journal_mode()?;
        let sizes = db.sizes()?;
        (out.file_bytes, out.wal_bytes, out.shm_bytes) = (sizes.database, sizes.log, sizes.index);
        let tables = db.table_names()?;
        for table in &tables {
            out.rows.insert(table.clone(), db.count(table, None)?);
        }
        let held: Vec<&str> = chat_tables(config.schema())
            .iter()
            .filter(|t| tables.contains(&t.name))
            .map(|t| t.name.as_str())
            .collect();
        let chats: BTreeSet<i64> = db.chats(&held)?.into_iter().collect();
        out.chats = chats.len();
        out.mapped_without_data = config
            .chat_mapping()
            .iter()
            .filter(|(chat, s)| *s == source.name() && !chats.contains(chat))
            .map(|(chat, _)| *chat)
            .collect();
        out.routed_elsewhere =
            chats.into_iter().filter(|c| config.source_for_chat(*c) != source.name()).collect();
        Ok(())
    })();
    let _ = db.rollback();
    result
}

fn render(report: &Report) -> String {
    let mut out = format!(
        "configuration {}: default source `{}`\n\n",
        report.config.display(),
        report.default_source
    );
    let mut table = Table::new(&[
        "source", "kind", "access", "journal", ">size", ">wal", ">total", ">chats", "where",
    ]);
    for s in &report.sources {
        table.row(vec![
            s.name.clone(),
            s.kind.to_owned(),
            if s.readonly { "read-only" } else { "writable" }.to_owned(),
            s.journal_mode.clone().unwrap_or_else(|| "-".into()),
            bytes(s.file_bytes),
            bytes(s.wal_bytes),
            bytes(s.total_bytes),
            s.chats.to_string(),
            s.path.display().to_string(),
        ]);
    }
    out.push_str(&table.render());
    for s in &report.sources {
        if let Some(error) = &s.error {
            out.push_str(&format!("`{}`: {error}\n", s.name));
        }
        if !s.mapped_without_data.is_empty() {
            out.push_str(&format!(
                "`{}`: {} mapped chat(s) with no data here: {}\n",
                s.name,
                s.mapped_without_data.len(),
                some_of(&s.mapped_without_data, 5)
            ));
        }
        if !s.routed_elsewhere.is_empty() {
            out.push_str(&format!(
                "`{}`: holds rows of {} chat(s) the configuration routes elsewhere (the bot no \
                 longer sees them): {}\n",
                s.name,
                s.routed_elsewhere.len(),
                some_of(&s.routed_elsewhere, 5)
            ));
        }
    }
    // Rows per table: a line per table, a column per source.
    let all: BTreeSet<&String> = report.sources.iter().flat_map(|s| s.rows.keys()).collect();
    if !all.is_empty() {
        out.push('\n');
        let mut headers = vec!["table".to_owned()];
        headers.extend(report.sources.iter().map(|s| format!(">{}", s.name)));
        let mut rows = Table::new(&headers);
        for table in all {
            let mut cells = vec![table.clone()];
            cells.extend(
                report
                    .sources
                    .iter()
                    .map(|s| s.rows.get(table).map_or_else(|| "-".to_owned(), ToString::to_string)),
            );
            rows.row(cells);
        }
        out.push_str(&rows.render());
    }
    out
}

//! Moving chats between sources: `multisource move-chat` moves one, `multisource archive` several
//! (see `archive.rs`); both go through the same steps, each durable before the next (both
//! connections commit with `synchronous = FULL`):
//!
//! 1. **plan**: the origin of every chat, its rows, and the refusals (a read-only side without
//!    `--offline`, a destination that already holds rows of the chat); the chat mapping's edit is
//!    computed and checked too, so that no row is deleted for a mapping that cannot be written;
//! 2. **journal**: `<config>.move-journal` records the chats, their origins and the destination;
//! 3. for each chat, **lock** (the origin's write lock, `BEGIN IMMEDIATE`, so that the bot cannot
//!    add rows of the chat while they move; its writes wait up to its timeout), **copy** (in one
//!    transaction of the destination, `INSERT OR REPLACE`, so that running again never
//!    duplicates), **verify** (the destination holds every row of the origin, value for value by
//!    the column's type), commit, and **delete** from the origin, as many rows as were verified;
//!    the journal then records the chat as moved;
//! 4. **map**: the chat mapping is rewritten once for every chat moved (atomically, comments
//!    kept), and the journal is removed.
//!
//! Interrupted anywhere, the journal is still there, and running the same command again finishes
//! the work: the copy is idempotent, the deletion removes what is left, the mapping is written for
//! every chat the journal lists, and no row is ever deleted from the origin before the
//! destination durably holds it.
//!
//! For the crash tests, the environment variable `MULTISOURCE_FAILPOINT` names a step at which
//! the process aborts, as if killed: `journal`, `copy` (inside the copy), `copied`, `deleted`,
//! `mapped`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use multisource::{Config, SchemaState, SourceConfig};
use multisource_migrations::Table as Schema;
use multisource_router::MappingEdit;
use serde::{Deserialize, Serialize};

use multisource_router::{Opened, Purpose, Row, canonical_row};

use crate::db::{self, chat_tables};
use crate::error::Error;
use crate::output::{Bot, Outcome, Table, load_config, progress, source, to_json};

/// Where `move-chat` or `archive` was asked to move chats, and how.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Destination<'a> {
    /// The destination source.
    pub(crate) to: &'a str,
    /// Writing (or deleting from) a read-only source is allowed: the bot is stopped.
    pub(crate) offline: bool,
    /// Report only.
    pub(crate) dry_run: bool,
}

/// What a move did, or would do.
#[derive(Debug, Serialize)]
pub(crate) struct Moved {
    pub(crate) chat: i64,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) dry_run: bool,
    /// A move left unfinished by an earlier run was finished.
    pub(crate) resumed: bool,
    /// The chat was already routed to the destination: nothing was done.
    pub(crate) already_there: bool,
    pub(crate) tables: Vec<TableMove>,
    /// The rows moved (or that would be).
    pub(crate) rows: i64,
    /// The mapping entry written, when one was.
    pub(crate) mapping: Option<String>,
    /// What the operator must know or do next.
    pub(crate) notes: Vec<String>,
}

/// One table's share of a move.
#[derive(Debug, Serialize)]
pub(crate) struct TableMove {
    pub(crate) table: String,
    /// Rows of the chat in the origin.
    pub(crate) rows: i64,
    /// Rows of the chat in the destination after the copy.
    pub(crate) in_destination: i64,
    /// Rows deleted from the origin.
    pub(crate) deleted: i64,
}

/// The record of moves in progress: chats going to one destination, and those already moved
/// whose mapping is not written yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Journal {
    pub(crate) to: String,
    pub(crate) chats: Vec<JournalChat>,
    /// The chats whose rows are moved; their mapping is written at the end.
    #[serde(default)]
    pub(crate) moved: Vec<i64>,
}

/// One chat of a journal, and the source it leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct JournalChat {
    pub(crate) chat: i64,
    pub(crate) from: String,
}

/// A journal as an earlier version wrote it: one chat.
#[derive(Debug, Deserialize)]
struct SingleMove {
    chat: i64,
    from: String,
    to: String,
}

impl Journal {
    /// The chat's entry, if the journal lists it.
    pub(crate) fn entry(&self, chat: i64) -> Option<&JournalChat> {
        self.chats.iter().find(|c| c.chat == chat)
    }

    /// The command that finishes the journal's work.
    pub(crate) fn finish_hint(&self, config_path: &Path) -> String {
        match self.chats.as_slice() {
            [one] => format!(
                "a move of chat {} from `{}` to `{}` did not finish (recorded in {}); finish it \
                 first: multisource move-chat --config {} --chat {} --to {}",
                one.chat,
                one.from,
                self.to,
                journal_path(config_path).display(),
                config_path.display(),
                one.chat,
                self.to
            ),
            chats => format!(
                "a move of {} chats to `{}` did not finish (recorded in {}); finish it first: \
                 multisource archive --config {} --to {} (with the same options)",
                chats.len(),
                self.to,
                journal_path(config_path).display(),
                config_path.display(),
                self.to
            ),
        }
    }
}

/// Runs `move-chat`.
pub(crate) fn run(
    config_path: &Path,
    bot: Bot,
    chat: i64,
    request: &Destination<'_>,
    json: bool,
    out: &mut String,
) -> Result<Outcome, Error> {
    let bar = progress(0, json || request.dry_run, "tables");
    let moved = move_chat(config_path, bot, chat, request, &bar);
    bar.finish_and_clear();
    let moved = moved?;
    if json {
        out.push_str(&to_json(&moved));
    } else {
        out.push_str(&render(config_path, &moved));
    }
    Ok(Outcome::Clean)
}

/// Where the journal of moves made with the configuration at `config_path` is kept.
pub(crate) fn journal_path(config_path: &Path) -> PathBuf {
    let mut name = config_path.as_os_str().to_owned();
    name.push(".move-journal");
    PathBuf::from(name)
}

/// The moves left unfinished, if any.
pub(crate) fn read_journal(config_path: &Path) -> Result<Option<Journal>, Error> {
    let path = journal_path(config_path);
    match std::fs::read_to_string(&path) {
        Ok(text) => match serde_json::from_str::<Journal>(&text) {
            Ok(journal) => Ok(Some(journal)),
            Err(e) => match serde_json::from_str::<SingleMove>(&text) {
                Ok(old) => Ok(Some(Journal {
                    to: old.to,
                    chats: vec![JournalChat { chat: old.chat, from: old.from }],
                    moved: Vec::new(),
                })),
                Err(_) => Err(Error::Journal { path, problem: e.to_string() }),
            },
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::file("read", path)(e)),
    }
}

/// Writes the journal (atomically), or removes it once it records nothing.
pub(crate) fn write_journal(config_path: &Path, journal: &Journal) -> Result<(), Error> {
    let path = journal_path(config_path);
    if journal.chats.is_empty() {
        return match std::fs::remove_file(&path) {
            Ok(()) => {
                multisource_router::sync_folder(&path);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::file("remove", path)(e)),
        };
    }
    // A journal is strings and integers, which JSON always holds.
    let text = serde_json::to_string_pretty(journal).unwrap_or_default();
    multisource_router::replace_file(&path, &text).map_err(Error::file("write", &path))
}

pub(crate) fn failpoint(step: &str) {
    if std::env::var_os("MULTISOURCE_FAILPOINT").is_some_and(|v| v == step) {
        std::process::abort();
    }
}

/// The error of a statement of the move.
fn failed(what: impl Into<String>) -> impl FnOnce(multisource::Error) -> Error {
    Error::database(what)
}

/// Moves a chat, or reports what would move; `bar` advances a table at a time.
fn move_chat(
    config_path: &Path,
    bot: Bot,
    chat: i64,
    request: &Destination<'_>,
    bar: &ProgressBar,
) -> Result<Moved, Error> {
    let config = load_config(config_path, bot)?;
    bar.set_length(chat_tables(config.schema()).len() as u64);
    let to = source(&config, request.to)?;
    let journal = read_journal(config_path)?;
    let resumed_from = match &journal {
        Some(j) if j.to == request.to => j.entry(chat).map(|e| e.from.clone()),
        _ => None,
    };
    if let Some(j) = &journal
        && resumed_from.is_none()
    {
        return Err(Error::Unfinished { hint: j.finish_hint(config_path) });
    }
    let resumed = resumed_from.is_some();
    let from_name = resumed_from.unwrap_or_else(|| config.source_for_chat(chat).to_owned());
    let from = source(&config, &from_name)?;
    let plan = plan_chat(&config, chat, from, to, request.offline, request.dry_run, resumed)?;
    let mut moved = Moved {
        chat,
        from: from.name().to_owned(),
        to: to.name().to_owned(),
        dry_run: request.dry_run,
        resumed,
        already_there: plan.already_there,
        tables: Vec::new(),
        rows: plan.rows.iter().map(|(_, n)| n).sum(),
        mapping: None,
        notes: plan.notes,
    };
    if plan.already_there {
        moved.notes.push(format!("chat {chat} is already routed to `{}`", to.name()));
        return Ok(moved);
    }
    if request.dry_run {
        moved.tables = plan
            .rows
            .into_iter()
            .map(|(table, rows)| TableMove { table, rows, in_destination: 0, deleted: 0 })
            .collect();
        moved.mapping = Some(format!("{chat} = \"{}\"", to.name()));
        return Ok(moved);
    }
    // The mapping must be writable before any row is deleted.
    prepare_mapping(config_path, &[chat], to.name())?;
    let mut journal = journal.unwrap_or_else(|| Journal {
        to: to.name().to_owned(),
        chats: vec![JournalChat { chat, from: from.name().to_owned() }],
        moved: Vec::new(),
    });
    if !resumed {
        write_journal(config_path, &journal)?;
    }
    failpoint("journal");
    if !journal.moved.contains(&chat) {
        moved.tables = move_rows(from, to, chat, bar)?;
        journal.moved.push(chat);
        write_journal(config_path, &journal)?;
    }
    moved.mapping = map(config_path, &[chat], to.name())?.into_iter().next();
    journal.chats.retain(|c| c.chat != chat);
    journal.moved.retain(|c| *c != chat);
    write_journal(config_path, &journal)?;
    moved.notes.push(match request.offline {
        true => "start the bot again: it reads the new mapping when it starts".to_owned(),
        false => format!(
            "a running bot sends chat {chat}'s next calls to `{}` without a restart: `{}` \
             records where the chat went",
            to.name(),
            from.name()
        ),
    });
    Ok(moved)
}

/// What the plan of one chat's move found.
pub(crate) struct Plan {
    /// The chat's rows per table in the origin.
    pub(crate) rows: Vec<(String, i64)>,
    /// The chat is already routed to the destination.
    pub(crate) already_there: bool,
    /// What a dry run reports that a real run would refuse.
    pub(crate) notes: Vec<String>,
}

/// The checks made before anything of a chat moves.
pub(crate) fn plan_chat(
    config: &Config,
    chat: i64,
    from: &SourceConfig,
    to: &SourceConfig,
    offline: bool,
    dry_run: bool,
    resumed: bool,
) -> Result<Plan, Error> {
    if !db::exists(from) {
        return Err(Error::MissingFile {
            source_name: from.name().to_owned(),
            location: from.location().to_string(),
        });
    }
    let rows = rows_of(from, chat)?;
    let total: i64 = rows.iter().map(|(_, n)| n).sum();
    if !resumed && total == 0 {
        return Err(Error::NothingToMove {
            chat,
            source_name: from.name().to_owned(),
            mapped: config.chat_mapping().contains_key(&chat),
        });
    }
    let mut plan = Plan { rows, already_there: from.name() == to.name(), notes: Vec::new() };
    if plan.already_there {
        return Ok(plan);
    }
    if multisource_router::same_place(from, to) {
        return Err(Error::SameDatabase {
            from: from.name().to_owned(),
            to: to.name().to_owned(),
            location: to.location().to_string(),
        });
    }
    for (action, s) in [("write to", to), ("delete from", from)] {
        if s.is_readonly() && !offline {
            let refusal = Error::ReadOnly { source_name: s.name().to_owned(), action };
            match dry_run {
                true => plan.notes.push(refusal.to_string()),
                false => return Err(refusal),
            }
        }
    }
    if !resumed {
        let held = rows_of(to, chat)?.iter().map(|(_, n)| n).sum::<i64>();
        if held > 0 {
            return Err(Error::AlreadyHeld { to: to.name().to_owned(), chat, rows: held });
        }
    }
    Ok(plan)
}

/// Checks, before any row moves, that the chat mapping can be rewritten to send `chats` to `to`.
pub(crate) fn prepare_mapping(
    config_path: &Path,
    chats: &[i64],
    to: &str,
) -> Result<MappingEdit, Error> {
    let changes: Vec<(i64, &str)> = chats.iter().map(|chat| (*chat, to)).collect();
    MappingEdit::prepare(config_path, &changes).map_err(Error::mapping_before_move)
}

/// Writes the chat mapping for `chats`, now moved to `to`; returns the entries written.
pub(crate) fn map(config_path: &Path, chats: &[i64], to: &str) -> Result<Vec<String>, Error> {
    if chats.is_empty() {
        return Ok(Vec::new());
    }
    let changes: Vec<(i64, &str)> = chats.iter().map(|chat| (*chat, to)).collect();
    let edit = MappingEdit::prepare(config_path, &changes).map_err(Error::mapping_after_move)?;
    edit.write().map_err(Error::mapping_after_move)?;
    failpoint("mapped");
    Ok(edit.entries().to_vec())
}

/// The rows of `chat` per chat table in `source` (none when its file does not exist).
pub(crate) fn rows_of(source: &SourceConfig, chat: i64) -> Result<Vec<(String, i64)>, Error> {
    if !db::exists(source) {
        return Ok(Vec::new());
    }
    let unreadable = || failed(format!("cannot read `{}` ({})", source.name(), source.location()));
    let mut db = Opened::open(source, Purpose::Inspect).map_err(unreadable())?;
    let present = db.table_names().map_err(unreadable())?;
    let mut rows = Vec::new();
    for table in chat_tables(source.schema()).into_iter().filter(|t| present.contains(&t.name)) {
        let n = db.count(&table.name, Some(chat)).map_err(unreadable())?;
        rows.push((table.name.clone(), n));
    }
    Ok(rows)
}

/// Prepares the destination: a writable source is migrated as the bot would (a new SQLite file
/// in WAL mode); a read-only one, written offline, gets the schema if it is new, and must
/// otherwise already have every column of the chat tables.
fn prepare_destination(to: &SourceConfig) -> Result<Opened, Error> {
    let unprepared = || failed(format!("cannot prepare `{}` ({})", to.name(), to.location()));
    let mut db = Opened::open(to, Purpose::Move { create: true }).map_err(unprepared())?;
    let state = db.state().map_err(unprepared())?;
    if !to.is_readonly() || state == SchemaState::Empty {
        db.migrate().map_err(unprepared())?;
    }
    schema_holds_chat_tables(&mut db, to)?;
    Ok(db)
}

/// Every column of every chat table is in the database, and every migration recorded there is
/// known: a bot's unknown to this command would have tables of chats it cannot move.
fn schema_holds_chat_tables(db: &mut Opened, s: &SourceConfig) -> Result<(), Error> {
    let versions = db
        .unknown_migrations()
        .map_err(failed(format!("cannot read the migrations of `{}`", s.name())))?;
    if !versions.is_empty() {
        return Err(Error::UnknownMigrations { source_name: s.name().to_owned(), versions });
    }
    let mismatches =
        db.check().map_err(failed(format!("cannot read the schema of `{}`", s.name())))?;
    let chat_tables: Vec<String> = chat_tables(s.schema()).iter().map(|t| t.name.clone()).collect();
    let relevant: Vec<String> = mismatches
        .iter()
        .filter(|m| match m {
            multisource::Mismatch::MissingTable { table }
            | multisource::Mismatch::MissingColumn { table, .. }
            | multisource::Mismatch::ColumnType { table, .. } => chat_tables.contains(table),
        })
        .map(ToString::to_string)
        .collect();
    match relevant.is_empty() {
        true => Ok(()),
        false => {
            Err(Error::SchemaCannotHold { source_name: s.name().to_owned(), mismatches: relevant })
        }
    }
}

/// Every row of `held` is in `found`, value for value by the columns' types (each found row
/// counts once), and `found` holds no fewer rows.
fn all_found(table: &Schema, held: &[Row], found: &[Row]) -> bool {
    if found.len() < held.len() {
        return false;
    }
    let mut unmatched: HashMap<Vec<Option<String>>, usize> = HashMap::new();
    for row in found {
        *unmatched.entry(canonical_row(table, row)).or_default() += 1;
    }
    held.iter().all(|row| match unmatched.get_mut(&canonical_row(table, row)) {
        Some(left) if *left > 0 => {
            *left -= 1;
            true
        }
        _ => false,
    })
}

/// The chat's rows, read from the origin under its write lock.
struct Locked {
    origin: Opened,
    held: Vec<Vec<Row>>,
}

/// Takes the origin's write lock, held until its rows are deleted (the bot's writes wait), and
/// reads the chat's rows under it.
fn lock(from: &SourceConfig, chat: i64) -> Result<Locked, Error> {
    let mut origin = Opened::open(from, Purpose::Move { create: false })
        .map_err(failed(format!("cannot open `{}` ({})", from.name(), from.location())))?;
    schema_holds_chat_tables(&mut origin, from)?;
    let tables = chat_tables(from.schema());
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    // The origin records where the chat went, in the transaction that deletes its rows: a
    // source made before that record gets its table first.
    let present = origin.has_moves_table().map_err(failed(format!("reading `{}`", from.name())))?;
    if !present {
        origin
            .ensure_moves_table()
            .map_err(failed(format!("creating the table of chat moves in `{}`", from.name())))?;
    }
    origin.begin_locked(&names).map_err(|error| Error::Busy {
        source_name: from.name().to_owned(),
        timeout: from.get_timeout(),
        error: Box::new(error),
    })?;
    let mut held = Vec::new();
    for table in &tables {
        held.push(origin.rows(table, chat).map_err(failed(format!("reading `{}`", table.name)))?);
    }
    Ok(Locked { origin, held })
}

/// Copies the held rows into the destination and verifies them there, in one transaction of the
/// destination, committed when every table holds every row.
fn copy_and_verify(
    to: &SourceConfig,
    from: &SourceConfig,
    chat: i64,
    held: &[Vec<Row>],
    bar: &ProgressBar,
) -> Result<Vec<TableMove>, Error> {
    let mut dest = prepare_destination(to)?;
    dest.begin().map_err(failed(format!("cannot take the write lock of `{}`", to.name())))?;
    let mut moves = Vec::new();
    for (i, (table, rows)) in chat_tables(to.schema()).into_iter().zip(held).enumerate() {
        bar.set_message(table.name.clone());
        for row in rows {
            dest.upsert(table, row).map_err(failed(format!("copying `{}`", table.name)))?;
        }
        if i == 0 {
            failpoint("copy");
        }
        let found =
            dest.rows(table, chat).map_err(failed(format!("verifying `{}`", table.name)))?;
        if !all_found(table, rows, &found) {
            return Err(Error::NotVerified {
                table: table.name.clone(),
                copied: rows.len(),
                from: from.name().to_owned(),
                found: found.len(),
                to: to.name().to_owned(),
            });
        }
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        moves.push(TableMove {
            table: table.name.clone(),
            rows: count(rows.len()),
            in_destination: count(found.len()),
            deleted: 0,
        });
        bar.inc(1);
    }
    // A chat that once left the destination is back: its record there says so, in the same
    // transaction as its rows (a destination without the table never recorded a departure).
    if dest.has_moves_table().map_err(failed(format!("reading `{}`", to.name())))? {
        dest.record_move(chat, None, &now())
            .map_err(failed(format!("recording chat {chat}'s arrival in `{}`", to.name())))?;
    }
    dest.commit().map_err(failed(format!("committing the copy into `{}`", to.name())))?;
    Ok(moves)
}

/// The time a move is recorded at: now, in UTC, as the tables store timestamps.
fn now() -> String {
    chrono::Utc::now().naive_utc().format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Deletes the moved rows from the origin, as many as were verified, records there that the
/// chat left for `to` (so that a running bot's next call for it goes there), and commits
/// (releasing the origin's write lock).
fn delete(
    origin: &mut Opened,
    from: &SourceConfig,
    to: &SourceConfig,
    chat: i64,
    moves: &mut [TableMove],
) -> Result<(), Error> {
    for table in moves.iter_mut() {
        let deleted = origin
            .delete(&table.table, chat)
            .map_err(failed(format!("deleting from `{}`", table.table)))?;
        table.deleted = i64::try_from(deleted).unwrap_or(i64::MAX);
        if table.deleted != table.rows {
            return Err(Error::DeletedOther {
                table: table.table.clone(),
                from: from.name().to_owned(),
                deleted: table.deleted,
                copied: table.rows,
            });
        }
    }
    origin
        .record_move(chat, Some(to.name()), &now())
        .map_err(failed(format!("recording chat {chat}'s move in `{}`", from.name())))?;
    origin.commit().map_err(failed(format!("committing the deletion from `{}`", from.name())))
}

/// Moves every row of `chat` from `from` to `to`: lock, copy, verify, delete.
pub(crate) fn move_rows(
    from: &SourceConfig,
    to: &SourceConfig,
    chat: i64,
    bar: &ProgressBar,
) -> Result<Vec<TableMove>, Error> {
    let Locked { mut origin, held } = lock(from, chat)?;
    let mut moves = copy_and_verify(to, from, chat, &held, bar)?;
    failpoint("copied");
    delete(&mut origin, from, to, chat, &mut moves)?;
    failpoint("deleted");
    Ok(moves)
}

fn render(config_path: &Path, moved: &Moved) -> String {
    let mut out = String::new();
    let tables = moved.tables.iter().filter(|t| t.rows > 0).count();
    if moved.already_there {
        out.push_str(&format!("nothing to do: chat {} is already in `{}`\n", moved.chat, moved.to));
        return out;
    }
    let verb = match (moved.dry_run, moved.resumed) {
        (true, _) => "would move",
        (false, true) => "finished moving",
        (false, false) => "moved",
    };
    out.push_str(&format!(
        "{verb} chat {} from `{}` to `{}`: {} row(s) in {tables} table(s){}\n\n",
        moved.chat,
        moved.from,
        moved.to,
        moved.rows,
        if moved.dry_run { "" } else { ", each verified column for column" }
    ));
    let mut table = match moved.dry_run {
        true => Table::new(&["table", ">rows"]),
        false => Table::new(&["table", ">rows", ">in destination", ">deleted"]),
    };
    for t in moved.tables.iter().filter(|t| t.rows > 0 || t.in_destination > 0) {
        let mut cells = vec![t.table.clone(), t.rows.to_string()];
        if !moved.dry_run {
            cells.extend([t.in_destination.to_string(), t.deleted.to_string()]);
        }
        table.row(cells);
    }
    out.push_str(&table.render());
    if let Some(mapping) = &moved.mapping {
        let verb = if moved.dry_run { "would map" } else { "mapped" };
        out.push_str(&format!("\n{verb}: {mapping} in {}\n", config_path.display()));
    }
    for note in &moved.notes {
        out.push_str(&format!("note: {note}\n"));
    }
    if moved.dry_run {
        out.push_str("dry run: nothing was changed\n");
    }
    out
}

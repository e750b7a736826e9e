//! `multisource move-chat`: moves every row of a chat (every table of the schema with a `chat_id`
//! column) from the source it is routed to, to another source, and maps it there.
//!
//! The steps, each durable before the next (both connections commit with `synchronous = FULL`):
//!
//! 1. A journal, `<config>.move-journal`, records the move (chat, origin, destination).
//! 2. The origin's write lock is taken (`BEGIN IMMEDIATE`), so the bot cannot add rows of the chat
//!    while they are copied; its writes wait, up to its timeout.
//! 3. In one transaction of the destination, with the origin attached read-only, every row is
//!    copied (`INSERT OR REPLACE`, so that running again never duplicates), then verified: the
//!    destination holds every row of the origin, column for column (`EXCEPT`), and as many.
//! 4. The destination commits; then, in the origin's transaction, the rows are deleted, as many as
//!    were verified, and the origin commits.
//! 5. The configuration's chat mapping is rewritten (atomically, comments kept), and the journal is
//!    removed.
//!
//! Interrupted anywhere, the journal is still there, and running the same command again finishes
//! the move: the copy is idempotent, the deletion removes what is left, and no row is ever deleted
//! from the origin before the destination durably holds it. Without a journal, a destination that
//! already holds rows of the chat is refused: the move never merges into data it did not put there.
//!
//! The bot reads its configuration when it starts: restart it after a move (with `--offline`,
//! stop it before). Rows it writes to the origin after the move and before it restarts stay there;
//! `multisource status` lists such chats as held by a source the configuration routes elsewhere.
//!
//! For the crash tests, the environment variable `MULTISOURCE_FAILPOINT` names a step at which
//! the process aborts, as if killed: `journal`, `copy` (inside the copy), `copied`, `deleted`,
//! `mapped`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;
use multisource::{Kind, SchemaState, SourceConfig};
use multisource_migrations::Table as Schema;
use serde::{Deserialize, Serialize};

use crate::db::{Access, Db, Row, canonical_row, chat_tables};
use crate::mapping::{replace, set_chat_source, sibling, sync_folder};
use crate::output::{Failure, Outcome, Table, describe, load_config, print_json, progress, source};

/// What `move-chat` was asked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    /// The chat to move.
    pub(crate) chat: i64,
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

/// The record of a move in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Journal {
    pub(crate) chat: i64,
    pub(crate) from: String,
    pub(crate) to: String,
}

/// Runs `move-chat`.
pub(crate) fn run(
    config_path: &Path,
    request: &Request<'_>,
    json: bool,
) -> Result<Outcome, Failure> {
    let bar = progress(chat_tables().len() as u64, json || request.dry_run, "tables");
    let moved = move_chat(config_path, request, &bar);
    bar.finish_and_clear();
    let moved = moved?;
    if json {
        print_json(&moved);
    } else {
        print!("{}", render(config_path, &moved));
    }
    Ok(Outcome::Clean)
}

/// Where the journal of moves made with the configuration at `config_path` is kept.
pub(crate) fn journal_path(config_path: &Path) -> PathBuf {
    sibling(config_path, ".move-journal")
}

/// The move left unfinished, if any.
pub(crate) fn read_journal(config_path: &Path) -> Result<Option<Journal>, Failure> {
    let path = journal_path(config_path);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
            Failure::Failed(format!(
                "the move journal {} cannot be read ({e}); it records a move that did not finish: \
                 look at `multisource status`, then remove the file",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::Failed(format!("cannot read {}: {e}", path.display()))),
    }
}

fn failpoint(step: &str) {
    if std::env::var_os("MULTISOURCE_FAILPOINT").is_some_and(|v| v == step) {
        std::process::abort();
    }
}

/// The error of a statement of the move.
fn failed(what: &str) -> impl Fn(diesel::result::Error) -> Failure + '_ {
    move |e| Failure::Failed(format!("{what}: {}", describe(&e)))
}

/// Moves a chat, or reports what would move; `bar` advances a table at a time.
pub(crate) fn move_chat(
    config_path: &Path,
    request: &Request<'_>,
    bar: &ProgressBar,
) -> Result<Moved, Failure> {
    let config = load_config(config_path)?;
    let chat = request.chat;
    let to = source(&config, request.to)?;
    let (from, resumed) = match read_journal(config_path)? {
        Some(j) if j.chat == chat && j.to == request.to => (j.from, true),
        Some(j) => {
            return Err(Failure::Failed(format!(
                "a move of chat {} from `{}` to `{}` did not finish (recorded in {}); finish it \
                 first: multisource move-chat --config {} --chat {} --to {}",
                j.chat,
                j.from,
                j.to,
                journal_path(config_path).display(),
                config_path.display(),
                j.chat,
                j.to
            )));
        }
        None => (config.source_for_chat(chat).to_owned(), false),
    };
    let from = source(&config, &from)?;
    let mut moved = Moved {
        chat,
        from: from.name().to_owned(),
        to: to.name().to_owned(),
        dry_run: request.dry_run,
        resumed,
        already_there: false,
        tables: Vec::new(),
        rows: 0,
        mapping: None,
        notes: Vec::new(),
    };
    if !Db::exists(from) {
        return Err(Failure::Failed(format!(
            "the file of `{}`, {}, is missing",
            from.name(),
            from.location()
        )));
    }
    let origin_rows = rows_of(from, chat)?;
    moved.rows = origin_rows.iter().map(|(_, n)| n).sum();
    if !resumed && moved.rows == 0 {
        let how = match config.chat_mapping().contains_key(&chat) {
            true => "it is mapped to",
            false => "it is not mapped, so it goes to the default source",
        };
        return Err(Failure::Usage(format!(
            "chat {chat} has no rows in `{}` ({how}); nothing to move: check the chat id",
            from.name()
        )));
    }
    if from.name() == to.name() {
        moved.already_there = true;
        moved.notes.push(format!("chat {chat} is already routed to `{}`", to.name()));
        return Ok(moved);
    }
    if same_place(from, to) {
        return Err(Failure::Usage(format!(
            "`{}` and `{}` are the same database, {}",
            from.name(),
            to.name(),
            to.location()
        )));
    }
    for (side, s) in [("write to", to), ("delete from", from)] {
        if s.is_readonly() && !request.offline {
            let message = format!(
                "`{}` is read-only: the bot never writes it. To {side} it, stop the bot and run \
                 again with --offline (then start the bot again)",
                s.name()
            );
            match request.dry_run {
                true => moved.notes.push(message),
                false => return Err(Failure::Usage(message)),
            }
        }
    }
    if !resumed {
        let held = rows_of(to, chat)?.iter().map(|(_, n)| n).sum::<i64>();
        if held > 0 {
            return Err(Failure::Failed(format!(
                "`{}` already holds {held} row(s) of chat {chat}; a move never merges into data it \
                 did not put there: remove them, or choose another destination",
                to.name()
            )));
        }
    }
    if request.dry_run {
        moved.tables = origin_rows
            .into_iter()
            .map(|(table, rows)| TableMove { table, rows, in_destination: 0, deleted: 0 })
            .collect();
        moved.mapping = Some(format!("{chat} = \"{}\"", to.name()));
        return Ok(moved);
    }
    if !resumed {
        let journal = Journal { chat, from: from.name().to_owned(), to: to.name().to_owned() };
        let text = serde_json::to_string_pretty(&journal)
            .map_err(|e| Failure::Failed(format!("cannot write the move journal: {e}")))?;
        replace(&journal_path(config_path), &text)?;
    }
    failpoint("journal");
    moved.tables = copy_and_delete(from, to, chat, bar)?;
    moved.mapping = Some(set_chat_source(config_path, chat, to.name())?);
    failpoint("mapped");
    let journal = journal_path(config_path);
    std::fs::remove_file(&journal)
        .map_err(|e| Failure::Failed(format!("cannot remove {}: {e}", journal.display())))?;
    sync_folder(&journal);
    moved.notes.push(match request.offline {
        true => "start the bot again: it reads the new mapping when it starts".to_owned(),
        false => format!(
            "restart the bot so that it routes chat {chat} to `{}`: it reads the mapping when it \
             starts",
            to.name()
        ),
    });
    Ok(moved)
}

/// The rows of `chat` per chat table in `source` (none when its file does not exist).
fn rows_of(source: &SourceConfig, chat: i64) -> Result<Vec<(String, i64)>, Failure> {
    if !Db::exists(source) {
        return Ok(Vec::new());
    }
    let unreadable = |e: String| {
        Failure::Failed(format!("cannot read `{}` ({}): {e}", source.name(), source.location()))
    };
    let mut db = Db::open(source, Access::Read).map_err(unreadable)?;
    let present = db.table_names().map_err(|e| unreadable(describe(&e)))?;
    let mut rows = Vec::new();
    for table in chat_tables().into_iter().filter(|t| present.contains(&t.name)) {
        let n = db.count(&table.name, Some(chat)).map_err(|e| unreadable(describe(&e)))?;
        rows.push((table.name.clone(), n));
    }
    Ok(rows)
}

fn same_place(a: &SourceConfig, b: &SourceConfig) -> bool {
    match (a.kind(), b.kind()) {
        (Kind::Sqlite, Kind::Sqlite) => {
            match (std::fs::canonicalize(a.path()), std::fs::canonicalize(b.path())) {
                (Ok(a), Ok(b)) => a == b,
                _ => a.path() == b.path(),
            }
        }
        (Kind::Postgres, Kind::Postgres) => a.location() == b.location(),
        _ => false,
    }
}

/// Prepares the destination: a writable source is migrated as the bot would (a new SQLite file
/// in WAL mode); a read-only one, written offline, gets the schema if it is new, and must
/// otherwise already have every column of the chat tables.
fn prepare_destination(to: &SourceConfig) -> Result<Db, Failure> {
    let what = format!("cannot prepare `{}` ({})", to.name(), to.location());
    let mut db =
        Db::open(to, Access::Create).map_err(|e| Failure::Failed(format!("{what}: {e}")))?;
    let state = db.state().map_err(failed(&what))?;
    if !to.is_readonly() || state == SchemaState::Empty {
        db.migrate().map_err(|e| Failure::Failed(format!("{what}: {}", describe(&e))))?;
    }
    schema_holds_chat_tables(&mut db, to)?;
    Ok(db)
}

/// Every column of every chat table is in the database.
fn schema_holds_chat_tables(db: &mut Db, s: &SourceConfig) -> Result<(), Failure> {
    let mismatches =
        db.check().map_err(failed(&format!("cannot read the schema of `{}`", s.name())))?;
    let chat_tables: Vec<String> = chat_tables().iter().map(|t| t.name.clone()).collect();
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
        false => Err(Failure::Failed(format!(
            "the schema of `{}` cannot hold the chat's rows: {}",
            s.name(),
            relevant.join("; ")
        ))),
    }
}

/// Every row of `held` is in `found`, value for value by the columns' types (each found row
/// counts once), and `found` holds no fewer rows.
fn all_found(table: &Schema, held: &[Row], found: &[Row]) -> bool {
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

fn copy_and_delete(
    from: &SourceConfig,
    to: &SourceConfig,
    chat: i64,
    bar: &ProgressBar,
) -> Result<Vec<TableMove>, Failure> {
    let mut dest = prepare_destination(to)?;
    let mut origin = Db::open(from, Access::Write).map_err(|e| {
        Failure::Failed(format!("cannot open `{}` ({}): {e}", from.name(), from.location()))
    })?;
    schema_holds_chat_tables(&mut origin, from)?;
    let tables = chat_tables();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    // The origin's write lock, held until its rows are deleted: the bot's writes wait.
    origin.begin_locked(&names).map_err(|e| {
        Failure::Failed(format!(
            "`{}` is busy: its write lock stayed taken longer than its timeout ({:?}): {}; try \
             again",
            from.name(),
            from.get_timeout(),
            describe(&e)
        ))
    })?;
    let mut held = Vec::new();
    for table in &tables {
        held.push(origin.rows(table, chat).map_err(failed(&format!("reading `{}`", table.name)))?);
    }
    dest.begin().map_err(failed(&format!("cannot take the write lock of `{}`", to.name())))?;
    let mut moves = Vec::new();
    for (i, (table, rows)) in tables.iter().zip(&held).enumerate() {
        bar.set_message(table.name.clone());
        for row in rows {
            dest.upsert(table, row).map_err(failed(&format!("copying `{}`", table.name)))?;
        }
        if i == 0 {
            failpoint("copy");
        }
        let found =
            dest.rows(table, chat).map_err(failed(&format!("verifying `{}`", table.name)))?;
        if found.len() < rows.len() || !all_found(table, rows, &found) {
            return Err(Failure::Failed(format!(
                "verification failed for `{}`: {} row(s) in `{}`, {} in `{}`, not all found \
                 identical; nothing was deleted, and running the same command again retries the \
                 move",
                table.name,
                rows.len(),
                from.name(),
                found.len(),
                to.name()
            )));
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
    dest.batch("COMMIT;").map_err(failed(&format!("committing the copy into `{}`", to.name())))?;
    drop(dest);
    failpoint("copied");
    for table in &mut moves {
        let deleted = origin
            .delete(&table.table, chat)
            .map_err(failed(&format!("deleting from `{}`", table.table)))?;
        table.deleted = i64::try_from(deleted).unwrap_or(i64::MAX);
        if table.deleted != table.rows {
            return Err(Failure::Failed(format!(
                "`{}` of `{}` held {} row(s) of the chat when deleting, not the {} copied; nothing \
                 was deleted, and running the same command again retries the move",
                table.table,
                from.name(),
                table.deleted,
                table.rows
            )));
        }
    }
    origin
        .batch("COMMIT;")
        .map_err(failed(&format!("committing the deletion from `{}`", from.name())))?;
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

//! `multisource archive`: moves every chat whose last message is older than a number of days to
//! another source (usually a read-only archive, written `--offline`), one `move-chat` at a time,
//! with its guarantees: a run that is interrupted is finished by running it again.

use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use serde::Serialize;

use multisource_router::{Opened, Purpose};

use crate::db;
use crate::error::Error;
use crate::moving::{self, Destination};
use crate::output::{Bot, Outcome, Table, describe, load_config, progress, source, to_json};

#[derive(Debug, Serialize)]
struct Report {
    config: PathBuf,
    to: String,
    inactive_days: u32,
    /// Messages at or after this moment (UTC, as stored) keep a chat where it is.
    cutoff: String,
    dry_run: bool,
    /// Written with the bot stopped.
    offline: bool,
    /// The chats moved, or that would be: source by source, oldest last message first.
    chats: Vec<Candidate>,
    /// Chats left in place, and why.
    skipped: Vec<Skipped>,
    moved_chats: usize,
    moved_rows: i64,
    /// Why the run stopped before the end, if it did.
    failure: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
struct Candidate {
    chat: i64,
    from: String,
    last_message: String,
    rows: Option<i64>,
}

#[derive(Debug, Serialize)]
struct Skipped {
    chat: Option<i64>,
    source: String,
    reason: String,
}

/// Runs `archive`.
pub(crate) fn run(
    config_path: &Path,
    bot: Bot,
    inactive_days: u32,
    request: &Destination<'_>,
    json: bool,
    out: &mut String,
) -> Result<Outcome, Error> {
    let config = load_config(config_path, bot)?;
    let to = source(&config, request.to)?;
    if to.is_readonly() && !request.offline && !request.dry_run {
        return Err(Error::ReadOnly { source_name: to.name().to_owned(), action: "archive into" });
    }
    let mut report = Report::new(config_path, to.name(), inactive_days, request);
    // Moves an earlier run left unfinished are finished first.
    let journal = moving::read_journal(config_path)?;
    let mut pending = unfinished(config_path, to.name(), request, journal.as_ref())?;
    let resumed: Vec<i64> = pending.iter().map(|c| c.chat).collect();
    find_candidates(&config, request, to, &report.cutoff, &mut pending, &mut report.skipped);
    let planned = plan(&config, request, to, pending, &resumed, &mut report.skipped)?;
    if request.dry_run {
        report.chats = planned;
    } else {
        archive(config_path, bot, to, journal, planned, &mut report)?;
    }
    if json {
        out.push_str(&to_json(&report));
    } else {
        out.push_str(&render(&report));
    }
    Ok(Outcome::found(report.failure.is_some()))
}

impl Report {
    /// A report of nothing done yet.
    fn new(config_path: &Path, to: &str, inactive_days: u32, request: &Destination<'_>) -> Report {
        let cutoff = Utc::now().naive_utc() - Duration::days(i64::from(inactive_days));
        Report {
            config: config_path.to_path_buf(),
            to: to.to_owned(),
            inactive_days,
            cutoff: cutoff.format("%Y-%m-%d %H:%M:%S").to_string(),
            dry_run: request.dry_run,
            offline: request.offline,
            chats: Vec::new(),
            skipped: Vec::new(),
            moved_chats: 0,
            moved_rows: 0,
            failure: None,
        }
    }
}

/// The chats of a move to `to` that an earlier run left unfinished, finished first; a journal of
/// a move elsewhere (or any, on a dry run) must be finished by its own command.
fn unfinished(
    config_path: &Path,
    to: &str,
    request: &Destination<'_>,
    journal: Option<&moving::Journal>,
) -> Result<Vec<Candidate>, Error> {
    let Some(journal) = journal else { return Ok(Vec::new()) };
    if journal.to != to || request.dry_run {
        return Err(Error::Unfinished { hint: journal.finish_hint(config_path) });
    }
    Ok(journal
        .chats
        .iter()
        .map(|c| Candidate {
            chat: c.chat,
            from: c.from.clone(),
            last_message: "(unfinished move)".to_owned(),
            rows: None,
        })
        .collect())
}

/// Plans every chat before anything moves: a chat that a move's checks refuse is skipped, with
/// the reason.
fn plan(
    config: &multisource::Config,
    request: &Destination<'_>,
    to: &multisource::SourceConfig,
    pending: Vec<Candidate>,
    resumed: &[i64],
    skipped: &mut Vec<Skipped>,
) -> Result<Vec<Candidate>, Error> {
    let mut planned = Vec::new();
    for candidate in pending {
        let from = source(config, &candidate.from)?;
        let resumed = resumed.contains(&candidate.chat);
        let (offline, dry_run) = (request.offline, request.dry_run);
        match moving::plan_chat(config, candidate.chat, from, to, offline, dry_run, resumed) {
            Ok(plan) => {
                let rows = plan.rows.iter().map(|(_, n)| n).sum();
                planned.push(Candidate { rows: Some(rows), ..candidate });
            }
            Err(refusal) => skipped.push(Skipped {
                chat: Some(candidate.chat),
                source: candidate.from,
                reason: refusal.to_string(),
            }),
        }
    }
    Ok(planned)
}

/// The chats of every source but `to` whose last message is before `cutoff`, that the
/// configuration routes to the source holding them (and, from a read-only source, only with
/// `--offline`); the others are reported as skipped.
fn find_candidates(
    config: &multisource::Config,
    request: &Destination<'_>,
    to: &multisource::SourceConfig,
    cutoff: &str,
    pending: &mut Vec<Candidate>,
    skipped: &mut Vec<Skipped>,
) {
    for s in config.sources().iter().filter(|s| s.name() != to.name()) {
        if !db::exists(s) {
            continue;
        }
        let last =
            Opened::open(s, Purpose::Inspect).and_then(|mut db| db.last_messages_before(cutoff));
        let last = match last {
            Ok(last) => last,
            Err(error) => {
                let reason = describe(&error);
                skipped.push(Skipped { chat: None, source: s.name().to_owned(), reason });
                continue;
            }
        };
        for (chat_id, last) in last {
            if pending.iter().any(|p| p.chat == chat_id) {
                continue;
            }
            if config.source_for_chat(chat_id) != s.name() {
                skipped.push(Skipped {
                    chat: Some(chat_id),
                    source: s.name().to_owned(),
                    reason: format!(
                        "rows left here, but the chat is routed to `{}`",
                        config.source_for_chat(chat_id)
                    ),
                });
                continue;
            }
            if s.is_readonly() && !request.offline {
                skipped.push(Skipped {
                    chat: Some(chat_id),
                    source: s.name().to_owned(),
                    reason: "in a read-only source: moving it out needs --offline".to_owned(),
                });
                continue;
            }
            pending.push(Candidate {
                chat: chat_id,
                from: s.name().to_owned(),
                last_message: last,
                rows: None,
            });
        }
    }
}

/// Moves the planned chats, journaled, and maps them all at the end with one rewrite of the
/// mapping: the cost is the rows moved, and one reading and writing of the configuration.
fn archive(
    config_path: &Path,
    bot: Bot,
    to: &multisource::SourceConfig,
    journal: Option<moving::Journal>,
    planned: Vec<Candidate>,
    report: &mut Report,
) -> Result<(), Error> {
    let config = load_config(config_path, bot)?;
    let chats: Vec<i64> = planned.iter().map(|c| c.chat).collect();
    if !chats.is_empty() {
        moving::prepare_mapping(config_path, &chats, to.name())?;
    }
    let mut journal = journal.unwrap_or_else(|| moving::Journal {
        to: to.name().to_owned(),
        chats: Vec::new(),
        moved: Vec::new(),
    });
    for c in &planned {
        if journal.entry(c.chat).is_none() {
            journal.chats.push(moving::JournalChat { chat: c.chat, from: c.from.clone() });
        }
    }
    moving::write_journal(config_path, &journal)?;
    moving::failpoint("journal");
    let bar = progress(planned.len() as u64, false, "chats");
    for candidate in planned {
        bar.set_message(candidate.chat.to_string());
        if !journal.moved.contains(&candidate.chat) {
            let from = source(&config, &candidate.from)?;
            if let Err(failure) =
                moving::move_rows(from, to, candidate.chat, &indicatif::ProgressBar::hidden())
            {
                report.failure = Some(format!("chat {}: {failure}", candidate.chat));
                break;
            }
            journal.moved.push(candidate.chat);
            moving::write_journal(config_path, &journal)?;
        }
        report.moved_rows += candidate.rows.unwrap_or(0);
        report.moved_chats += 1;
        report.chats.push(candidate);
        bar.inc(1);
    }
    bar.finish_and_clear();
    // One rewrite of the mapping for every chat moved; the rest stays in the journal.
    let moved = std::mem::take(&mut journal.moved);
    moving::map(config_path, &moved, to.name())?;
    journal.chats.retain(|c| !moved.contains(&c.chat));
    moving::write_journal(config_path, &journal)
}

fn render(report: &Report) -> String {
    let mut out = format!(
        "chats whose last message is older than {} day(s) (before {} UTC), to `{}`:\n\n",
        report.inactive_days, report.cutoff, report.to
    );
    let mut table = Table::new(&["chat", "from", "last message", ">rows"]);
    for c in &report.chats {
        table.row(vec![
            c.chat.to_string(),
            c.from.clone(),
            c.last_message.clone(),
            c.rows.map_or_else(|| "-".to_owned(), |r| r.to_string()),
        ]);
    }
    out.push_str(&table.render());
    for s in &report.skipped {
        match s.chat {
            Some(chat) => {
                out.push_str(&format!("left chat {chat} in `{}`: {}\n", s.source, s.reason))
            }
            None => out.push_str(&format!("could not read `{}`: {}\n", s.source, s.reason)),
        }
    }
    match (&report.failure, report.dry_run) {
        (Some(failure), _) => out.push_str(&format!(
            "stopped after {} chat(s): {failure}\nrun the same command again to finish\n",
            report.moved_chats
        )),
        (None, true) => out.push_str(&format!(
            "dry run: {} chat(s) would move; nothing was changed\n",
            report.chats.len()
        )),
        (None, false) if report.offline => out.push_str(&format!(
            "moved {} chat(s), {} row(s); start the bot again: it reads the new mapping when it \
             starts\n",
            report.moved_chats, report.moved_rows
        )),
        (None, false) => out.push_str(&format!(
            "moved {} chat(s), {} row(s); a running bot sends their next calls to `{}` without \
             a restart: the sources they left record where they went\n",
            report.moved_chats, report.moved_rows, report.to
        )),
    }
    out
}

//! `multisource archive`: moves every chat whose last message is older than a number of days to
//! another source (usually a read-only archive, written `--offline`), one `move-chat` at a time,
//! with its guarantees: a run that is interrupted is finished by running it again.

use std::path::{Path, PathBuf};

use chrono::{Duration, Utc};
use serde::Serialize;

use crate::db::{Access, Db};
use crate::moving::{self, Moved};
use crate::output::{Failure, Outcome, Table, describe, load_config, print_json, progress, source};

/// What `archive` was asked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request<'a> {
    /// Chats whose last message is older than this are moved.
    pub(crate) inactive_days: u32,
    /// The destination source.
    pub(crate) to: &'a str,
    /// Writing (or deleting from) a read-only source is allowed: the bot is stopped.
    pub(crate) offline: bool,
    /// Report only.
    pub(crate) dry_run: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    config: PathBuf,
    to: String,
    inactive_days: u32,
    /// Messages at or after this moment (UTC, as stored) keep a chat where it is.
    cutoff: String,
    dry_run: bool,
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
    request: &Request<'_>,
    json: bool,
) -> Result<Outcome, Failure> {
    let config = load_config(config_path)?;
    let to = source(&config, request.to)?;
    if to.is_readonly() && !request.offline && !request.dry_run {
        return Err(Failure::Usage(format!(
            "`{}` is read-only: the bot never writes it. To archive into it, stop the bot and run \
             again with --offline (then start the bot again)",
            to.name()
        )));
    }
    let mut report = Report {
        config: config_path.to_path_buf(),
        to: to.name().to_owned(),
        inactive_days: request.inactive_days,
        cutoff: (Utc::now().naive_utc() - Duration::days(i64::from(request.inactive_days)))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        dry_run: request.dry_run,
        chats: Vec::new(),
        skipped: Vec::new(),
        moved_chats: 0,
        moved_rows: 0,
        failure: None,
    };
    // A move an earlier run left unfinished is finished first.
    let mut pending = Vec::new();
    if let Some(journal) = moving::read_journal(config_path)? {
        if journal.to != to.name() || request.dry_run {
            return Err(Failure::Failed(format!(
                "a move of chat {} from `{}` to `{}` did not finish; finish it first: multisource \
                 move-chat --config {} --chat {} --to {}",
                journal.chat,
                journal.from,
                journal.to,
                config_path.display(),
                journal.chat,
                journal.to
            )));
        }
        pending.push(Candidate {
            chat: journal.chat,
            from: journal.from,
            last_message: "(unfinished move)".to_owned(),
            rows: None,
        });
    }
    for s in config.sources().iter().filter(|s| s.name() != to.name()) {
        if !Db::exists(s) {
            continue;
        }
        let last = Db::open(s, Access::Read)
            .and_then(|mut db| db.last_messages_before(&report.cutoff).map_err(|e| describe(&e)));
        let last = match last {
            Ok(last) => last,
            Err(reason) => {
                report.skipped.push(Skipped { chat: None, source: s.name().to_owned(), reason });
                continue;
            }
        };
        for (chat_id, last) in last {
            if pending.iter().any(|p| p.chat == chat_id) {
                continue;
            }
            if config.source_for_chat(chat_id) != s.name() {
                report.skipped.push(Skipped {
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
                report.skipped.push(Skipped {
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
    let bar = progress(pending.len() as u64, json || request.dry_run, "chats");
    for mut candidate in pending {
        bar.set_message(candidate.chat.to_string());
        let single = moving::Request {
            chat: candidate.chat,
            to: to.name(),
            offline: request.offline,
            dry_run: request.dry_run,
        };
        match moving::move_chat(config_path, &single, &indicatif::ProgressBar::hidden()) {
            Ok(Moved { rows, .. }) => {
                candidate.rows = Some(rows);
                report.moved_rows += rows;
                report.moved_chats += 1;
                report.chats.push(candidate);
            }
            Err(failure) => {
                let (Failure::Usage(why) | Failure::Failed(why)) = failure;
                report.failure = Some(format!("chat {}: {why}", candidate.chat));
                break;
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if request.dry_run {
        report.moved_chats = 0;
        report.moved_rows = 0;
    }
    if json {
        print_json(&report);
    } else {
        print!("{}", render(&report));
    }
    Ok(Outcome::found(report.failure.is_some()))
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
        (None, false) => out.push_str(&format!(
            "moved {} chat(s), {} row(s); restart the bot so that it reads the new mapping\n",
            report.moved_chats, report.moved_rows
        )),
    }
    out
}

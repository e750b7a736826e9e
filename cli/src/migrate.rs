//! `multisource migrate`: brings the writable sources to the current schema, as the bot does when
//! it opens them, and reports one line per migration per source. Read-only sources are not
//! touched, their schema is checked and a mismatch is a finding; with `--offline` (the bot
//! stopped), they are brought to the schema too, created when missing, and left in a rollback
//! journal, so that reading them creates no file beside them.

use std::path::{Path, PathBuf};

use multisource::{Preflight, SchemaState, SourceConfig, SourceInfo, SourceReport};
use serde::Serialize;

use multisource_router::{Opened, Purpose};

use crate::error::Error;
use crate::output::{Bot, Outcome, Table, describe, load_config, to_json};

#[derive(Debug, Serialize)]
struct Report {
    config: PathBuf,
    dry_run: bool,
    sources: Vec<SourceMigration>,
}

#[derive(Debug, Serialize)]
struct SourceMigration {
    name: String,
    path: PathBuf,
    readonly: bool,
    /// `migrated`, `current`, `would-migrate`, `created`, `would-create`, `not-touched`
    /// (read-only) or `failed`.
    action: &'static str,
    /// The Python schema version adopted (its migrations recorded as applied, no row changed).
    adopted_python_version: Option<i64>,
    /// The migrations applied, or that would be, by name.
    migrations: Vec<String>,
    /// What went wrong, or what is wrong with a read-only source's schema.
    problem: Option<String>,
}

/// How `migrate` runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// Report what would be done, changing nothing.
    pub(crate) dry_run: bool,
    /// Bring the read-only sources to the schema too (the bot is stopped).
    pub(crate) offline: bool,
    /// Print JSON.
    pub(crate) json: bool,
}

/// Runs `migrate` on the configuration at `path`.
pub(crate) fn run(
    path: &Path,
    bot: Bot,
    options: Options,
    out: &mut String,
) -> Result<Outcome, Error> {
    let Options { dry_run, offline, json } = options;
    let config = load_config(path, bot)?;
    let sources: Vec<SourceMigration> = config
        .sources()
        .iter()
        .map(|s| match (s.is_readonly(), offline) {
            (true, false) => read_only(s),
            (true, true) => read_only_offline(s, dry_run),
            (false, _) => writable(s, dry_run),
        })
        .collect();
    let found = sources.iter().any(|s| s.problem.is_some());
    let report = Report { config: path.to_path_buf(), dry_run, sources };
    if json {
        out.push_str(&to_json(&report));
    } else {
        out.push_str(&render(&report));
    }
    Ok(Outcome::found(found))
}

fn entry(source: &SourceConfig, action: &'static str) -> SourceMigration {
    SourceMigration {
        name: source.name().to_owned(),
        path: PathBuf::from(source.location().to_string()),
        readonly: source.is_readonly(),
        action,
        adopted_python_version: None,
        migrations: Vec::new(),
        problem: None,
    }
}

/// The library's preflight of one source: what it read, and the error opening it fails with.
fn preflight(source: &SourceConfig) -> (SourceReport, Option<String>) {
    let preflight = Preflight::of_source(source);
    let problem = preflight
        .findings
        .iter()
        .find(|f| f.severity == multisource::Severity::Error)
        .map(|f| f.message.clone());
    (preflight.sources.into_iter().next().unwrap_or_default(), problem)
}

fn read_only(source: &SourceConfig) -> SourceMigration {
    let mut out = entry(source, "not-touched");
    out.problem = preflight(source).1;
    out
}

/// The names of the migrations `state` still needs, and the Python version it would adopt.
fn pending(state: &SchemaState, source: &SourceConfig) -> (Option<i64>, Vec<String>) {
    let (versions, names) = source.kind().migrations(source.schema());
    let skip = |done: &dyn Fn(&str) -> bool| -> Vec<String> {
        versions.iter().zip(&names).filter(|(v, _)| !done(v)).map(|(_, n)| n.clone()).collect()
    };
    match state {
        SchemaState::Empty | SchemaState::Unknown => (None, names.clone()),
        SchemaState::Managed { pending } => (None, skip(&|v| !pending.iter().any(|p| p == v))),
        SchemaState::Python { version } => {
            let adopted = usize::try_from(*version).unwrap_or(0);
            (Some(*version), names.iter().skip(adopted).cloned().collect())
        }
    }
}

/// A read-only source with the bot stopped: created when missing, brought to the schema, and
/// frozen in a rollback journal, as `archive --offline` leaves a new archive.
fn read_only_offline(source: &SourceConfig, dry_run: bool) -> SourceMigration {
    let (found, problem) = preflight(source);
    if dry_run {
        // A file that exists but could not be read as a database is what the run would fail on.
        if let (true, None, Some(problem)) = (found.exists, &found.state, problem) {
            let mut out = entry(source, "failed");
            out.problem = Some(problem);
            return out;
        }
        return planned(source, &found);
    }
    let migrated = Opened::open(source, Purpose::Move { create: true }).and_then(|mut db| {
        db.migrate()?;
        db.freeze()?;
        Ok(db.info().clone())
    });
    match migrated {
        Ok(report) => done(source, !found.exists, &report),
        Err(error) => {
            let mut out = entry(source, "failed");
            out.problem = Some(describe(&error));
            out
        }
    }
}

fn writable(source: &SourceConfig, dry_run: bool) -> SourceMigration {
    let (found, problem) = preflight(source);
    if let Some(problem) = problem {
        let mut out = entry(source, "failed");
        out.problem = Some(problem);
        return out;
    }
    if dry_run {
        return planned(source, &found);
    }
    let created = !found.exists;
    let result = Opened::open(source, Purpose::Migrate)
        .map(|db| db.info().clone())
        .map_err(|e| describe(&e));
    match result {
        Ok(report) => done(source, created, &report),
        Err(error) => {
            let mut out = entry(source, "failed");
            out.problem = Some(error);
            out
        }
    }
}

/// The entry of a dry run: what migrating the source as `found` would create or apply.
fn planned(source: &SourceConfig, found: &SourceReport) -> SourceMigration {
    let state = found.state.clone().unwrap_or(SchemaState::Empty);
    let (adopt, names) = pending(&state, source);
    let action = match (found.exists, names.is_empty() && adopt.is_none()) {
        (false, _) => "would-create",
        (true, true) => "current",
        (true, false) => "would-migrate",
    };
    let mut out = entry(source, action);
    out.adopted_python_version = adopt;
    out.migrations = names;
    out
}

/// The entry of a source migrated: what opening found and applied.
fn done(source: &SourceConfig, created: bool, report: &SourceInfo) -> SourceMigration {
    let (versions, all) = source.kind().migrations(source.schema());
    let action = match (created, report.applied.is_empty()) {
        (true, _) => "created",
        (false, true) if report.adopted_python_version.is_none() => "current",
        (false, _) => "migrated",
    };
    let mut out = entry(source, action);
    out.adopted_python_version = report.adopted_python_version;
    out.migrations = report
        .applied
        .iter()
        .map(|v| versions.iter().position(|x| x == v).map_or(v.clone(), |i| all[i].clone()))
        .collect();
    out
}

fn render(report: &Report) -> String {
    let mut table = Table::new(&["source", "migration", "result"]);
    for s in &report.sources {
        let verb = if report.dry_run { "would apply" } else { "applied" };
        if let Some(version) = s.adopted_python_version {
            let verb = if report.dry_run { "would adopt" } else { "adopted" };
            table.row(vec![
                s.name.clone(),
                format!("Python schema version {version}"),
                format!("{verb}: recorded as applied, no row changed"),
            ]);
        }
        for name in &s.migrations {
            table.row(vec![s.name.clone(), name.clone(), verb.to_owned()]);
        }
        let summary = match (s.action, &s.problem) {
            (_, Some(problem)) if s.readonly && s.action == "not-touched" => {
                format!("read-only, not touched: {problem}")
            }
            (_, Some(problem)) => format!("failed, nothing applied: {problem}"),
            ("not-touched", None) => "read-only, not touched: schema as expected".to_owned(),
            ("current", None) => "up to date".to_owned(),
            ("created", None) => format!("created {}", s.path.display()),
            ("would-create", None) => format!("would create {}", s.path.display()),
            _ => continue,
        };
        table.row(vec![s.name.clone(), "-".to_owned(), summary]);
    }
    let mut out = table.render();
    if report.dry_run {
        out.push_str("dry run: nothing was changed\n");
    }
    out
}

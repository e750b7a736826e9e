//! `multisource check`: validates a configuration and every source it names, changing nothing,
//! and reports each problem as an error (the bot would fail at run time: exit status 1) or a
//! warning (it would run, but something deserves a look).
//!
//! There is no check of the busy timeout against the pool's checkout timeout: a source has one
//! `timeout`, used for both, so they cannot disagree.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use multisource::{Config, SchemaState, SourceConfig};
use serde::Serialize;

use crate::db::{Inspection, inspect, state_word};
use crate::output::{Failure, Outcome, Table, describe, print_json, some_of};

#[derive(Debug, Serialize)]
struct Report {
    config: PathBuf,
    valid: bool,
    default_source: Option<String>,
    on_source_error: Option<&'static str>,
    sources: Vec<SourceReport>,
    problems: Vec<Problem>,
    errors: usize,
    warnings: usize,
}

#[derive(Debug, Serialize)]
struct SourceReport {
    name: String,
    kind: &'static str,
    path: PathBuf,
    readonly: bool,
    immutable: bool,
    pool_size: u32,
    timeout_seconds: f64,
    durability: Option<&'static str>,
    mapped_chats: usize,
    exists: bool,
    size_bytes: Option<u64>,
    /// `current`, `pending`, `python`, `empty`, `unknown`, `new` (created at first open),
    /// `missing`, `mismatch` or `unreadable`.
    schema: &'static str,
    /// The schema in words.
    schema_detail: String,
    pending_migrations: Vec<String>,
    python_version: Option<i64>,
    mismatches: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Problem {
    severity: Severity,
    source: Option<String>,
    message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Severity {
    Error,
    Warning,
}

/// Runs `check` on the configuration at `path`.
pub(crate) fn run(path: &Path, json: bool) -> Result<Outcome, Failure> {
    // A file that is not there is a mistake in the command; one that is there is what is checked.
    if let Err(e) = std::fs::metadata(path) {
        return Err(Failure::Usage(format!(
            "cannot read the configuration {}: {e}",
            path.display()
        )));
    }
    let report = match Config::from_file(path) {
        Ok(config) => check(path, &config),
        Err(error) => Report {
            config: path.to_path_buf(),
            valid: false,
            default_source: None,
            on_source_error: None,
            sources: Vec::new(),
            problems: vec![Problem {
                severity: Severity::Error,
                source: None,
                message: describe(&error),
            }],
            errors: 1,
            warnings: 0,
        },
    };
    if json {
        print_json(&report);
    } else {
        print!("{}", render(&report));
    }
    Ok(Outcome::found(report.errors > 0))
}

fn check(path: &Path, config: &Config) -> Report {
    let mut problems = Vec::new();
    let mut sources = Vec::new();
    for source in config.sources() {
        let found = inspect(source);
        sources.push(source_report(config, source, &found, &mut problems));
    }
    same_files(config, &mut problems);
    read_only_targets(config, &mut problems);
    let errors = problems.iter().filter(|p| p.severity == Severity::Error).count();
    Report {
        config: path.to_path_buf(),
        valid: true,
        default_source: Some(config.default_source().to_owned()),
        on_source_error: Some(config.on_source_error().as_str()),
        warnings: problems.len() - errors,
        errors,
        sources,
        problems,
    }
}

fn source_report(
    config: &Config,
    source: &SourceConfig,
    found: &Inspection,
    problems: &mut Vec<Problem>,
) -> SourceReport {
    let name = source.name().to_owned();
    let mut problem = |severity, message: String| {
        problems.push(Problem { severity, source: Some(name.clone()), message });
    };
    let path = source.path();
    let postgres = source.kind() == multisource::Kind::Postgres;
    let mut report = SourceReport {
        name: source.name().to_owned(),
        kind: source.kind().as_str(),
        path: PathBuf::from(source.location()),
        readonly: source.is_readonly(),
        immutable: source.is_immutable(),
        pool_size: source.get_pool_size(),
        timeout_seconds: source.get_timeout().as_secs_f64(),
        durability: (!source.is_readonly() && !postgres).then(|| source.get_durability().as_str()),
        mapped_chats: config.chat_mapping().values().filter(|s| *s == source.name()).count(),
        exists: found.exists,
        size_bytes: found.size,
        schema: "unreadable",
        schema_detail: String::new(),
        pending_migrations: Vec::new(),
        python_version: None,
        mismatches: found.mismatches.iter().map(ToString::to_string).collect(),
    };
    if !found.exists {
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        (report.schema, report.schema_detail) = match (source.is_readonly(), folder.is_dir()) {
            (true, _) => {
                problem(
                    Severity::Error,
                    format!(
                        "the file {} is missing; a read-only source is never created: restore \
                         the file or correct `path`",
                        path.display()
                    ),
                );
                ("missing", "the file is missing".to_owned())
            }
            (false, true) => ("new", "no file yet: created and migrated at first open".to_owned()),
            (false, false) => {
                problem(
                    Severity::Error,
                    format!(
                        "the folder {} does not exist, so {} cannot be created; create the \
                         folder or correct `path`",
                        folder.display(),
                        path.display()
                    ),
                );
                ("missing", "neither the file nor its folder exists".to_owned())
            }
        };
        return report;
    }
    if let Some(error) = &found.error {
        let what = match postgres {
            true => format!("the database at {} cannot be read", source.location()),
            false => format!("{} cannot be read as a SQLite database", path.display()),
        };
        problem(Severity::Error, format!("{what}: {error}"));
        report.schema_detail = format!("unreadable: {error}");
        return report;
    }
    let Some(state) = &found.state else { return report };
    report.schema = state_word(state);
    report.schema_detail = state.to_string();
    match state {
        SchemaState::Managed { pending } => {
            report.pending_migrations = pending.clone();
            if !pending.is_empty() && !source.is_readonly() {
                report
                    .schema_detail
                    .push_str(": applied when the bot opens it, or now by `multisource migrate`");
            }
        }
        SchemaState::Python { version } => {
            report.python_version = Some(*version);
            if *version > multisource_migrations::PYTHON_SCHEMA_VERSION && !source.is_readonly() {
                problem(
                    Severity::Error,
                    format!(
                        "the file comes from a newer Python bot (schema version {version}); \
                         multisource knows up to {}: set `readonly = true` or upgrade multisource",
                        multisource_migrations::PYTHON_SCHEMA_VERSION
                    ),
                );
            } else if !source.is_readonly() {
                report.schema_detail.push_str(": adopted, unchanged, when the bot opens it");
            }
        }
        SchemaState::Unknown if !source.is_readonly() && postgres => problem(
            Severity::Error,
            "the database has tables but no record of multisource's migrations; opening it \
             fails: give the source an empty database, or one multisource created"
                .to_owned(),
        ),
        SchemaState::Unknown if !source.is_readonly() => problem(
            Severity::Warning,
            "the file has tables but no recorded schema version; opening it runs every \
             migration, which only creates what is missing"
                .to_owned(),
        ),
        SchemaState::Empty if source.is_readonly() => problem(
            Severity::Error,
            format!(
                "{} is an empty database; a read-only source needs its tables",
                source.location()
            ),
        ),
        _ => {}
    }
    if source.is_readonly() && !found.mismatches.is_empty() && *state != SchemaState::Empty {
        report.schema = "mismatch";
        problem(
            Severity::Error,
            format!(
                "its schema differs from what multisource reads, and a read-only source is never \
                 migrated: {}",
                some_of(&report.mismatches, 5)
            ),
        );
    }
    if !source.is_readonly() && !postgres && OpenOptions::new().write(true).open(path).is_err() {
        problem(
            Severity::Error,
            format!(
                "{} is writable in the configuration but this user cannot write the file; fix \
                 its permissions or set `readonly = true`",
                path.display()
            ),
        );
    }
    report
}

/// The same file configured under two names: two writers would compete for its lock (refused at
/// open); a writable and a read-only view of one file is allowed but rarely meant.
fn same_files(config: &Config, problems: &mut Vec<Problem>) {
    let mut by_file: BTreeMap<PathBuf, Vec<&SourceConfig>> = BTreeMap::new();
    for source in config.sources() {
        let path = match source.kind() {
            multisource::Kind::Sqlite => {
                std::fs::canonicalize(source.path()).unwrap_or_else(|_| source.path().into())
            }
            multisource::Kind::Postgres => PathBuf::from(source.location()),
        };
        by_file.entry(path).or_default().push(source);
    }
    for (path, sources) in by_file.into_iter().filter(|(_, s)| s.len() > 1) {
        let names = sources.iter().map(|s| format!("`{}`", s.name())).collect::<Vec<_>>();
        let writable = sources.iter().filter(|s| !s.is_readonly()).count();
        let (severity, why) = match writable {
            0 => (Severity::Warning, "each source opens it separately; one source is enough"),
            1 => (
                Severity::Warning,
                "the read-only source sees the writable one's data under another name; fan-out \
                 reads return its rows once, from the first",
            ),
            _ => (
                Severity::Error,
                "two writable sources would compete for the file's lock; opening fails: keep one",
            ),
        };
        problems.push(Problem {
            severity,
            source: None,
            message: format!("{} are the same file {}: {why}", names.join(" and "), path.display()),
        });
    }
}

/// Chats mapped to a read-only source, and a read-only default source: the bot's writes for them
/// are refused at run time.
fn read_only_targets(config: &Config, problems: &mut Vec<Problem>) {
    for source in config.sources().iter().filter(|s| s.is_readonly()) {
        let chats: Vec<i64> = config
            .chat_mapping()
            .iter()
            .filter(|(_, s)| *s == source.name())
            .map(|(chat, _)| *chat)
            .collect();
        if !chats.is_empty() {
            problems.push(Problem {
                severity: Severity::Warning,
                source: Some(source.name().to_owned()),
                message: format!(
                    "{} chat(s) mapped to this read-only source: the bot's writes for them (a new \
                     message, a setting) are refused; map a chat that is still active to a \
                     writable source ({})",
                    chats.len(),
                    some_of(&chats, 5)
                ),
            });
        }
    }
    if config.source(config.default_source()).is_some_and(SourceConfig::is_readonly) {
        problems.push(Problem {
            severity: Severity::Warning,
            source: Some(config.default_source().to_owned()),
            message: "the default source is read-only: global writes (settings, caches, delayed \
                      tasks, media) and writes for unmapped chats are refused"
                .to_owned(),
        });
    }
}

fn render(report: &Report) -> String {
    let mut out = String::new();
    match &report.default_source {
        Some(default) => out.push_str(&format!(
            "configuration {}: {} source(s), default `{default}`, on_source_error = {}\n\n",
            report.config.display(),
            report.sources.len(),
            report.on_source_error.unwrap_or("skip"),
        )),
        None => out.push_str(&format!("configuration {}: invalid\n\n", report.config.display())),
    }
    if !report.sources.is_empty() {
        let mut table = Table::new(&[
            "source", "kind", "access", ">pool", ">timeout", ">mapped", "path", "schema",
        ]);
        for s in &report.sources {
            let access = match (s.readonly, s.immutable) {
                (true, true) => "read-only, immutable".to_owned(),
                (true, false) => "read-only".to_owned(),
                (false, _) => format!("writable ({})", s.durability.unwrap_or("normal")),
            };
            table.row(vec![
                s.name.clone(),
                s.kind.to_owned(),
                access,
                s.pool_size.to_string(),
                format!("{}s", s.timeout_seconds),
                s.mapped_chats.to_string(),
                s.path.display().to_string(),
                s.schema_detail.clone(),
            ]);
        }
        out.push_str(&table.render());
        out.push('\n');
    }
    for p in &report.problems {
        let severity = match p.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        match &p.source {
            Some(source) => out.push_str(&format!("{severity}: `{source}`: {}\n", p.message)),
            None => out.push_str(&format!("{severity}: {}\n", p.message)),
        }
    }
    out.push_str(&format!(
        "{} error(s), {} warning(s){}\n",
        report.errors,
        report.warnings,
        if report.errors == 0 { ": the bot can open this configuration" } else { "" }
    ));
    out
}

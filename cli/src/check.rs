//! `multisource check`: validates a configuration and every source it names, changing nothing,
//! and reports each problem as an error (the bot would fail at run time: exit status 1) or a
//! warning (it would run, but something deserves a look).
//!
//! There is no check of the busy timeout against the pool's checkout timeout: a source has one
//! `timeout`, used for both, so they cannot disagree.

use std::path::{Path, PathBuf};

use multisource::{Config, Finding, Preflight, SchemaState, SourceConfig, SourceReport};
use serde::Serialize;

use crate::db::state_word;
use crate::error::Error;
use crate::output::{Bot, Outcome, Table, describe, to_json};

#[derive(Debug, Serialize)]
struct Report {
    config: PathBuf,
    valid: bool,
    default_source: Option<String>,
    on_source_error: Option<&'static str>,
    sources: Vec<SourceSummary>,
    problems: Vec<Problem>,
    errors: usize,
    warnings: usize,
}

#[derive(Debug, Serialize)]
struct SourceSummary {
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
pub(crate) fn run(path: &Path, bot: Bot, json: bool, out: &mut String) -> Result<Outcome, Error> {
    // A file that is not there is a mistake in the command; one that is there is what is checked.
    if let Err(e) = std::fs::metadata(path) {
        return Err(Error::ConfigUnreadable { path: path.to_path_buf(), error: e });
    }
    let report = match bot.config(path) {
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
        out.push_str(&to_json(&report));
    } else {
        out.push_str(&render(&report));
    }
    Ok(Outcome::found(report.errors > 0))
}

fn check(path: &Path, config: &Config) -> Report {
    // The library's own preflight: what it reports as an error is what `Database::open` fails
    // with.
    let preflight = Preflight::run(config);
    let sources = config
        .sources()
        .iter()
        .zip(&preflight.sources)
        .map(|(source, found)| source_summary(config, source, found, &preflight.findings))
        .collect();
    let problems: Vec<Problem> = preflight
        .findings
        .iter()
        .map(|f| Problem {
            severity: match f.severity {
                multisource::Severity::Error => Severity::Error,
                multisource::Severity::Warning => Severity::Warning,
            },
            source: f.source.clone(),
            message: f.message.clone(),
        })
        .collect();
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

fn source_summary(
    config: &Config,
    source: &SourceConfig,
    found: &SourceReport,
    findings: &[Finding],
) -> SourceSummary {
    let failed = findings.iter().any(|f| {
        f.severity == multisource::Severity::Error && f.source.as_deref() == Some(source.name())
    });
    let mut report = SourceSummary {
        name: source.name().to_owned(),
        kind: source.kind().as_str(),
        path: PathBuf::from(source.location().to_string()),
        readonly: source.is_readonly(),
        immutable: source.is_immutable(),
        pool_size: source.get_pool_size(),
        timeout_seconds: source.get_timeout().as_secs_f64(),
        durability: source.durability().map(multisource::Durability::as_str),
        mapped_chats: config.chat_mapping().values().filter(|s| *s == source.name()).count(),
        exists: found.exists,
        size_bytes: found.size_bytes,
        schema: "unreadable",
        schema_detail: String::new(),
        pending_migrations: Vec::new(),
        python_version: None,
        mismatches: found.mismatches.iter().map(ToString::to_string).collect(),
    };
    if let Some(why) = &found.unreadable {
        (report.schema, report.schema_detail) = match found.exists {
            false => ("missing", "missing".to_owned()),
            true => ("unreadable", format!("unreadable: {why}")),
        };
        return report;
    }
    let Some(state) = &found.state else {
        (report.schema, report.schema_detail) = match failed {
            true => ("missing", "missing".to_owned()),
            false => ("new", "no file yet: created and migrated at first open".to_owned()),
        };
        return report;
    };
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
            if !source.is_readonly() && !failed {
                report.schema_detail.push_str(": adopted, unchanged, when the bot opens it");
            }
        }
        _ => {}
    }
    if source.is_readonly() && !found.mismatches.is_empty() {
        report.schema = "mismatch";
    }
    report
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
        // An error's message is the library's, which names its source.
        match (&p.source, p.severity) {
            (Some(source), Severity::Warning) => {
                out.push_str(&format!("{severity}: `{source}`: {}\n", p.message))
            }
            _ => out.push_str(&format!("{severity}: {}\n", p.message)),
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

//! The checks made before any source is opened, changing nothing: what `Database::open` refuses,
//! and what `multisource check` prints. `Router::open` runs the same [`Preflight`] first and fails
//! with its first error, so that the command line's verdict is the library's by construction.

use std::path::{Path, PathBuf};

use multisource_migrations::{Mismatch, SchemaState};

use crate::config::{Config, SourceConfig};
use crate::error::{Error, Result};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Opening the configuration fails.
    Error,
    /// It opens, but something deserves a look.
    Warning,
}

/// One thing a preflight found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// The source it concerns, or `None` for the configuration as a whole.
    pub source: Option<String>,
    /// What is wrong and what to do; for an error, the message `Database::open` fails with.
    pub message: String,
}

/// What a preflight read of one source, without changing it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceReport {
    /// The source's name.
    pub name: String,
    /// The file exists (a SQLite source), or the server answered (a PostgreSQL one).
    pub exists: bool,
    /// The size of a SQLite file, in bytes.
    pub size_bytes: Option<u64>,
    /// Where the schema stands, when it could be read.
    pub state: Option<SchemaState>,
    /// How the schema differs from the one multisource expects.
    pub mismatches: Vec<Mismatch>,
    /// Why the source could not be read, when it could not.
    pub unreadable: Option<String>,
}

/// Everything a preflight found, in configuration order.
#[derive(Debug)]
pub struct Preflight {
    /// What was read of each source.
    pub sources: Vec<SourceReport>,
    /// The errors and warnings, in the order they were found.
    pub findings: Vec<Finding>,
    /// The errors, as `Database::open` returns them.
    errors: Vec<Error>,
}

/// What inspecting one source found: its report, the error opening it would fail with, and
/// warnings.
#[derive(Debug, Default)]
pub(crate) struct Inspected {
    pub(crate) report: SourceReport,
    pub(crate) error: Option<Error>,
    pub(crate) warnings: Vec<String>,
}

impl Preflight {
    /// Checks `config` and every source it names, changing nothing: each source is inspected
    /// through read-only connections (and a read-only source's folder is left as it was found).
    pub fn run(config: &Config) -> Preflight {
        let mut preflight =
            Preflight { sources: Vec::new(), findings: Vec::new(), errors: Vec::new() };
        for (i, source) in config.sources().iter().enumerate() {
            // A read-only view of a file that a writable source before it creates: the sources
            // open in order, so the file is there when the view opens.
            let created_before = config.sources()[..i]
                .iter()
                .zip(&preflight.sources)
                .any(|(s, r)| !s.is_readonly() && !r.exists && same_place(s, source));
            match source.is_readonly() && created_before {
                true => preflight.sources.push(SourceReport {
                    name: source.name().to_owned(),
                    ..SourceReport::default()
                }),
                false => preflight.add(source),
            }
        }
        preflight.same_places(config);
        preflight.read_only_targets(config);
        preflight
    }

    /// The preflight of one source alone: what opening it would find, without the rules that
    /// concern several sources.
    pub fn of_source(source: &SourceConfig) -> Preflight {
        let mut preflight =
            Preflight { sources: Vec::new(), findings: Vec::new(), errors: Vec::new() };
        preflight.add(source);
        preflight
    }

    fn add(&mut self, source: &SourceConfig) {
        let inspected = crate::backend::inspect(source);
        if let Some(error) = inspected.error {
            self.error(error);
        }
        for message in inspected.warnings {
            self.warn(Some(source.name().to_owned()), message);
        }
        self.sources.push(inspected.report);
    }

    /// The number of errors.
    pub fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// The first error, as `Database::open` fails with it, or `Ok` when there is none.
    pub fn into_result(self) -> Result<()> {
        match self.errors.into_iter().next() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    fn error(&mut self, error: Error) {
        self.findings.push(Finding {
            severity: Severity::Error,
            source: error.source_name().map(str::to_owned),
            message: error.to_string(),
        });
        self.errors.push(error);
    }

    fn warn(&mut self, source: Option<String>, message: String) {
        self.findings.push(Finding { severity: Severity::Warning, source, message });
    }

    /// The same database configured under two names: two writable SQLite sources on one file
    /// would compete for its lock (an error); the other pairings are allowed but rarely meant.
    fn same_places(&mut self, config: &Config) {
        let sources = config.sources();
        let mut reported = vec![false; sources.len()];
        for (i, first) in sources.iter().enumerate() {
            if reported[i] {
                continue;
            }
            let twins: Vec<usize> =
                (i + 1..sources.len()).filter(|j| same_place(first, &sources[*j])).collect();
            if twins.is_empty() {
                continue;
            }
            let group: Vec<&SourceConfig> =
                std::iter::once(first).chain(twins.iter().map(|j| &sources[*j])).collect();
            twins.iter().for_each(|j| reported[*j] = true);
            let writable: Vec<&&SourceConfig> = group.iter().filter(|s| !s.is_readonly()).collect();
            if first.file().is_some() && writable.len() > 1 {
                let (keep, second) = (writable[0], writable[1]);
                self.error(Error::Open {
                    source_name: second.name().to_owned(),
                    path: second.file().map(|f| f.path().to_path_buf()).unwrap_or_default(),
                    detail: format!(
                        "the writable source `{}` is the same file; two writable sources on one \
                         file would compete for its lock, so configure it once",
                        keep.name()
                    ),
                });
                continue;
            }
            let names: Vec<String> = group.iter().map(|s| format!("`{}`", s.name())).collect();
            let why = match writable.len() {
                0 => "each source opens it separately; one source is enough",
                _ => {
                    "the read-only source sees the writable one's data under another name; \
                     reads of every source return its rows once, from the first"
                }
            };
            self.warn(
                None,
                format!(
                    "{} are the same database {}: {why}",
                    names.join(" and "),
                    first.location()
                ),
            );
        }
    }

    /// Chats mapped to a read-only source, and a read-only default source: the bot's writes for
    /// them are refused at run time.
    fn read_only_targets(&mut self, config: &Config) {
        for source in config.sources().iter().filter(|s| s.is_readonly()) {
            let chats: Vec<i64> = config
                .chat_mapping()
                .iter()
                .filter(|(_, s)| *s == source.name())
                .map(|(chat, _)| *chat)
                .collect();
            if !chats.is_empty() {
                self.warn(
                    Some(source.name().to_owned()),
                    format!(
                        "{} chat(s) mapped to this read-only source: the bot's writes for them (a \
                         new message, a setting) are refused; map a chat that is still active to \
                         a writable source ({})",
                        chats.len(),
                        some_of(&chats, 5)
                    ),
                );
            }
        }
        if config.source(config.default_source()).is_some_and(SourceConfig::is_readonly) {
            self.warn(
                Some(config.default_source().to_owned()),
                "the default source is read-only: global writes (settings, caches, delayed tasks, \
                 media) and writes for unmapped chats are refused"
                    .to_owned(),
            );
        }
    }
}

/// True when two sources are the same database: the same file (once symbolic links and `.` are
/// resolved, or the same path for files that do not exist yet), or the same PostgreSQL URL.
pub fn same_place(a: &SourceConfig, b: &SourceConfig) -> bool {
    match (a.file(), b.file()) {
        (Some(a), Some(b)) => same_file(a.path(), b.path()),
        (None, None) => a.url() == b.url(),
        _ => false,
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| -> PathBuf {
        p.canonicalize().unwrap_or_else(|_| std::path::absolute(p).unwrap_or_else(|_| p.into()))
    };
    resolve(a) == resolve(b)
}

/// Up to `shown` items, then how many more.
fn some_of(items: &[i64], shown: usize) -> String {
    let mut out: Vec<String> = items.iter().take(shown).map(ToString::to_string).collect();
    if items.len() > shown {
        out.push(format!("and {} more", items.len() - shown));
    }
    out.join(", ")
}

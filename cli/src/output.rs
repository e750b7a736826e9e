//! What the commands print: their outcome and failures (with the exit status of each), aligned
//! tables for people, JSON for scripts, and progress bars on long work.

use std::fmt::Display;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::error::Error;

/// How a command that ran to its end went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It did what it was asked, and found nothing wrong: exit status 0.
    Clean,
    /// It found a problem and reported it: exit status 1.
    Findings,
}

impl Outcome {
    /// `Findings` when `found`.
    pub(crate) fn found(found: bool) -> Outcome {
        if found { Outcome::Findings } else { Outcome::Clean }
    }
}

/// A library error and its causes, as one message.
pub(crate) fn describe(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

/// The bot this command line serves: its own migrations, when the bot built its own
/// `multisource` command ([`crate::run_with`]); none for the stock `multisource` binary.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Bot(pub(crate) Option<&'static multisource::BotMigrations>);

impl Bot {
    /// The configuration file at `path`, with the bot's migrations beside multisource's.
    pub(crate) fn config(self, path: &Path) -> multisource::Result<multisource::Config> {
        let config = multisource::Config::from_file(path)?;
        match self.0 {
            Some(migrations) => config.with_migrations(migrations),
            None => Ok(config),
        }
    }
}

/// Loads a configuration file, with the bot's migrations; a missing or invalid one is bad usage.
pub(crate) fn load_config(path: &Path, bot: Bot) -> Result<multisource::Config, Error> {
    bot.config(path).map_err(Error::config)
}

/// The names of the configured sources, for messages.
pub(crate) fn source_names(config: &multisource::Config) -> String {
    config.sources().iter().map(|s| format!("`{}`", s.name())).collect::<Vec<_>>().join(", ")
}

/// The source named `name`, or bad usage naming the configured ones.
pub(crate) fn source<'c>(
    config: &'c multisource::Config,
    name: &str,
) -> Result<&'c multisource::SourceConfig, Error> {
    config
        .source(name)
        .ok_or_else(|| Error::UnknownSource { name: name.to_owned(), known: source_names(config) })
}

/// A value as indented JSON, a line of its own.
pub(crate) fn to_json(value: &impl Serialize) -> String {
    match serde_json::to_string_pretty(value) {
        Ok(text) => format!("{text}\n"),
        Err(e) => format!(
            "{{\"error\": {{\"kind\": \"failed\", \"message\": \"cannot render the report as JSON: {e}\"}}}}\n"
        ),
    }
}

/// The longest rule under a table's headers.
const RULE: usize = 100;

/// A table printed with aligned columns; numeric columns are aligned right.
pub(crate) struct Table {
    headers: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers; a header starting with `>` is a right-aligned column
    /// (the `>` is not printed).
    pub(crate) fn new<S: AsRef<str>>(headers: &[S]) -> Table {
        Table {
            headers: headers
                .iter()
                .map(|h| h.as_ref().trim_start_matches('>').to_owned())
                .collect(),
            right: headers.iter().map(|h| h.as_ref().starts_with('>')).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row, one cell per column.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders the table, a line per row, headers and a rule first.
    pub(crate) fn render(&self) -> String {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut out = String::new();
            for (i, cell) in cells.enumerate() {
                let width = widths.get(i).copied().unwrap_or(0);
                let pad = " ".repeat(width.saturating_sub(cell.chars().count()));
                if i > 0 {
                    out.push_str("  ");
                }
                if self.right.get(i) == Some(&true) {
                    out.push_str(&pad);
                    out.push_str(cell);
                } else {
                    out.push_str(cell);
                    out.push_str(&pad);
                }
            }
            out.trim_end().to_owned() + "\n"
        };
        let mut out = line(&mut self.headers.iter().map(String::as_str));
        let width = widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
        out.push_str(&"-".repeat(width.min(RULE)));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(&mut row.iter().map(String::as_str)));
        }
        out
    }
}

/// A size in bytes, for people.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    match unit {
        0 => format!("{n} B"),
        _ => format!("{value:.1} {}", UNITS[unit]),
    }
}

/// Up to `shown` items, then how many more.
pub(crate) fn some_of<T: Display>(items: &[T], shown: usize) -> String {
    let mut out: Vec<String> = items.iter().take(shown).map(ToString::to_string).collect();
    if items.len() > shown {
        out.push(format!("and {} more", items.len() - shown));
    }
    out.join(", ")
}

/// A progress bar on standard error, hidden for JSON output (and by indicatif when standard
/// error is not a terminal).
pub(crate) fn progress(length: u64, json: bool, what: &str) -> ProgressBar {
    if json {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(length);
    if let Ok(style) = ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {wide_msg}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let mut table = Table::new(&["name", ">rows"]);
        table.row(vec!["chat_messages".into(), "12".into()]);
        table.row(vec!["settings".into(), "1024".into()]);
        assert_eq!(
            table.render(),
            "name           rows\n-------------------\nchat_messages    12\nsettings       1024\n"
        );
    }

    #[test]
    fn sizes_and_lists_read_well() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(4096), "4.0 KiB");
        assert_eq!(bytes(3 * 1024 * 1024 + 1), "3.0 MiB");
        assert_eq!(some_of(&[1, 2, 3], 2), "1, 2, and 1 more");
        assert_eq!(some_of(&[1], 2), "1");
    }
}

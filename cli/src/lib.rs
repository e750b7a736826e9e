//! `multisource`, the operator's command line: see where a bot's data lives and change it without
//! writing Rust. The binary is [`main`]; [`run`] runs one command line in-process, for tests and
//! for programs that build their own `multisource` command.
//!
//! Exit status: 0 when the command did what it was asked and found nothing wrong, 1 on a finding
//! (`check` found a problem, a source could not be read, a move or a migration failed), 2 on bad
//! usage (arguments the parser refuses, a configuration that is missing or invalid, an unknown
//! source or chat).

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod archive;
mod check;
mod db;
mod demo;
mod error;
mod migrate;
mod moving;
mod output;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Bot;

/// See where a multisource bot's data lives, and move it.
#[derive(Debug, Parser)]
#[command(name = "multisource", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Creates three SQLite sources and a configuration, plays a short bot conversation through
    /// the library, and shows where every call went and why.
    Demo {
        /// The folder for the demo's files (replaced if they exist).
        #[arg(long, default_value = "multisource-demo")]
        dir: PathBuf,
    },
    /// Validates a configuration and every source it names, without changing anything.
    Check {
        /// The bot's configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Prints the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Shows what every source holds: rows per table, file sizes, journal mode, chats.
    Status {
        /// The bot's configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Prints the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Applies pending migrations to the writable sources; read-only sources are never touched.
    Migrate {
        /// The bot's configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Shows what would be applied, and changes nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also brings the read-only sources to the schema, creating a missing one (an empty
        /// archive): only with the bot stopped.
        #[arg(long)]
        offline: bool,
        /// Prints the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Moves every row of a chat to another source and maps the chat there, crash-safely.
    MoveChat {
        /// The bot's configuration file; its chat mapping is rewritten, comments kept.
        #[arg(long)]
        config: PathBuf,
        /// The chat to move.
        #[arg(long, allow_negative_numbers = true)]
        chat: i64,
        /// The source to move it to.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        moving: MoveOptions,
    },
    /// Moves every chat whose last message is older than a number of days to another source.
    Archive {
        /// The bot's configuration file; its chat mapping is rewritten, comments kept.
        #[arg(long)]
        config: PathBuf,
        /// Chats whose last message is older than this many days are moved.
        #[arg(long)]
        inactive_days: u32,
        /// The source to move them to, usually a read-only archive.
        #[arg(long)]
        to: String,
        #[command(flatten)]
        moving: MoveOptions,
    },
}

/// The options of the commands that move chats.
#[derive(Debug, clap::Args)]
struct MoveOptions {
    /// Allows writing a read-only source (or deleting from one): only with the bot stopped.
    #[arg(long)]
    offline: bool,
    /// Shows what would move, and changes nothing.
    #[arg(long)]
    dry_run: bool,
    /// Prints the report as JSON.
    #[arg(long)]
    json: bool,
}

/// The `multisource` binary: runs the command line of the process and returns its exit status.
pub fn main() -> ExitCode {
    ExitCode::from(run(std::env::args_os()))
}

/// A bot's own `multisource` command, which knows the bot's migrations (made by
/// `multisource::migrations!`) beside multisource's: `migrate` applies them, `check` and
/// `status` check them, `move-chat` and `archive` move the rows of the bot's tables that have a
/// `chat_id` column. A bot gives it a binary of its own:
///
/// ```no_run
/// // src/bin/multisource.rs of the bot's crate
/// static MIGRATIONS: multisource::BotMigrations = multisource::BotMigrations {
///     sqlite: &[],
///     postgres: None,
/// };
/// # // A real bot writes `multisource::migrations!(sqlite = "migrations")` instead.
///
/// fn main() -> std::process::ExitCode {
///     multisource_cli::main_with(&MIGRATIONS)
/// }
/// ```
pub fn main_with(migrations: &'static multisource::BotMigrations) -> ExitCode {
    ExitCode::from(run_with(std::env::args_os(), migrations))
}

/// Runs one command line (`args`, the program's name first), prints what the command prints on
/// standard output and standard error, and returns the exit status: 0 clean, 1 a finding, 2 bad
/// usage.
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    printed(captured(args, Bot(None)))
}

/// [`run`] for a bot's own command, which knows the bot's migrations ([`main_with`]).
pub fn run_with<I, T>(args: I, migrations: &'static multisource::BotMigrations) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    printed(captured(args, Bot(Some(migrations))))
}

fn printed(ran: Ran) -> u8 {
    print!("{}", ran.stdout);
    eprint!("{}", ran.stderr);
    ran.status
}

/// What a command line printed, and its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ran {
    /// The exit status: 0 clean, 1 a finding, 2 bad usage.
    pub status: u8,
    /// What it printed on standard output.
    pub stdout: String,
    /// What it printed on standard error (progress bars aside, which go to a terminal only).
    pub stderr: String,
}

/// Runs one command line (`args`, the program's name first) and returns what it printed, without
/// printing it.
pub fn run_captured<I, T>(args: I) -> Ran
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    captured(args, Bot(None))
}

/// [`run_captured`] for a bot's own command, which knows the bot's migrations ([`main_with`]).
pub fn run_captured_with<I, T>(args: I, migrations: &'static multisource::BotMigrations) -> Ran
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    captured(args, Bot(Some(migrations)))
}

fn captured<I, T>(args: I, bot: Bot) -> Ran
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let text = error.render().to_string();
            return match error.use_stderr() {
                true => Ran { status: 2, stdout: String::new(), stderr: text },
                false => Ran { status: 0, stdout: text, stderr: String::new() },
            };
        }
    };
    let (mut stdout, mut stderr) = (String::new(), String::new());
    let out = &mut stdout;
    let (json, result) = match cli.command {
        Command::Demo { dir } => (false, demo::run(&dir, out)),
        Command::Check { config, json } => (json, check::run(&config, bot, json, out)),
        Command::Status { config, json } => (json, status::run(&config, bot, json, out)),
        Command::Migrate { config, dry_run, offline, json } => {
            let options = migrate::Options { dry_run, offline, json };
            (json, migrate::run(&config, bot, options, out))
        }
        Command::MoveChat { config, chat, to, moving: MoveOptions { offline, dry_run, json } } => {
            let request = moving::Destination { to: &to, offline, dry_run };
            (json, moving::run(&config, bot, chat, &request, json, out))
        }
        Command::Archive {
            config,
            inactive_days,
            to,
            moving: MoveOptions { offline, dry_run, json },
        } => {
            let request = moving::Destination { to: &to, offline, dry_run };
            (json, archive::run(&config, bot, inactive_days, &request, json, out))
        }
    };
    let status = match result {
        Ok(output::Outcome::Clean) => 0,
        Ok(output::Outcome::Findings) => 1,
        Err(failure) => {
            failure.report(json, &mut stdout, &mut stderr);
            failure.code()
        }
    };
    Ran { status, stdout, stderr }
}

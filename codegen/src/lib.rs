//! The generator of a bot's diesel `schema.rs`, for its `cargo xtask codegen [--check]`: the
//! migrations of a [`Schema`] (multisource's, and the bot's own) are applied to an in-memory
//! database, which is introspected, and each table becomes a `diesel::table!` block in diesel's
//! print-schema layout. multisource's own `schema.rs` is made by the same code.
//!
//! A bot's xtask is a few lines:
//!
//! ```no_run
//! # static MIGRATIONS: multisource_migrations::BotMigrations =
//! #     multisource_migrations::BotMigrations { sqlite: &[], postgres: None };
//! use multisource_codegen::{Files, Mode};
//! use multisource_migrations::Schema;
//!
//! fn main() -> Result<(), multisource_codegen::Error> {
//!     let mode = Mode::from_args(std::env::args().skip(2))?; // `cargo xtask codegen [--check]`
//!     let schema = Schema::with_bot(&MIGRATIONS).map_err(multisource_codegen::Error::from)?;
//!     let mut files = Files::new(env!("CARGO_MANIFEST_DIR"), mode);
//!     files.ensure("src/schema.rs", &multisource_codegen::schema_rs(&schema, "the bot")?)?;
//!     files.finish()
//! }
//! ```

mod schema;

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

pub use multisource_migrations::Schema;

pub use crate::schema::schema_rs;

/// What went wrong generating or checking a file; its text says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(message: String) -> Error {
        Error(message)
    }
}

impl From<multisource_migrations::SchemaError> for Error {
    fn from(error: multisource_migrations::SchemaError) -> Error {
        Error(error.to_string())
    }
}

/// Whether codegen writes the files or only checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write every file that differs.
    Write,
    /// Fail when a file differs, writing nothing.
    Check,
}

impl Mode {
    /// The mode of a command line's arguments after `codegen`: none is [`Mode::Write`],
    /// `--check` is [`Mode::Check`]; anything else is refused.
    pub fn from_args<I: IntoIterator<Item = S>, S: AsRef<str>>(args: I) -> Result<Mode, Error> {
        let args: Vec<S> = args.into_iter().collect();
        match args.iter().map(AsRef::as_ref).collect::<Vec<&str>>().as_slice() {
            [] => Ok(Mode::Write),
            ["--check"] => Ok(Mode::Check),
            other => {
                Err(Error(format!("codegen takes `--check` or nothing, not `{}`", other.join(" "))))
            }
        }
    }
}

/// The generated files of one run, under a root folder: each is written, or checked, and
/// [`Files::finish`] fails when one was stale in [`Mode::Check`].
#[derive(Debug)]
pub struct Files {
    root: PathBuf,
    mode: Mode,
    stale: Vec<String>,
}

impl Files {
    /// Files under `root` (a crate's or a workspace's folder), in `mode`.
    pub fn new(root: impl Into<PathBuf>, mode: Mode) -> Files {
        Files { root: root.into(), mode, stale: Vec::new() }
    }

    /// Makes `path` (relative to the root) hold `contents`: in write mode by writing it, in check
    /// mode by recording it as stale and printing a short diff on standard error. Line endings
    /// are compared normalised.
    pub fn ensure(&mut self, path: impl AsRef<Path>, contents: &str) -> Result<(), Error> {
        let name = path.as_ref().display().to_string();
        let path = self.root.join(path);
        let old = fs::read_to_string(&path).unwrap_or_default().replace("\r\n", "\n");
        if old == contents {
            return Ok(());
        }
        match self.mode {
            Mode::Write => {
                fs::write(&path, contents)
                    .map_err(|e| Error(format!("cannot write {name}: {e}")))?;
                #[allow(clippy::print_stdout, reason = "codegen tells what it wrote")]
                {
                    println!("updated {name}");
                }
            }
            Mode::Check => {
                print_diff(&name, &old, contents);
                self.stale.push(format!("`{name}` is"));
            }
        }
        Ok(())
    }

    /// Ends the run: an error naming every stale file, in check mode.
    pub fn finish(self) -> Result<(), Error> {
        match self.stale.is_empty() {
            true => Ok(()),
            false => Err(Error(format!(
                "{} stale; run `cargo xtask codegen` and commit the result",
                self.stale.join(", ")
            ))),
        }
    }
}

/// Prints the first lines that differ, enough to see what changed.
#[allow(clippy::print_stderr, reason = "the diff is for the person running the check")]
fn print_diff(name: &str, old: &str, new: &str) {
    eprintln!("--- {name} (committed)\n+++ {name} (generated)");
    let (old, new): (Vec<_>, Vec<_>) = (old.lines().collect(), new.lines().collect());
    let mut shown = 0;
    for i in 0..old.len().max(new.len()) {
        let (a, b) = (old.get(i), new.get(i));
        if a == b {
            continue;
        }
        if let Some(a) = a {
            eprintln!("{:>5} - {a}", i + 1);
        }
        if let Some(b) = b {
            eprintln!("{:>5} + {b}", i + 1);
        }
        shown += 1;
        if shown == 10 {
            eprintln!("      ...");
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_file_fails_the_check_and_is_written_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let mut check = Files::new(dir.path(), Mode::Check);
        check.ensure("schema.rs", "new\n").unwrap();
        let err = check.finish().unwrap_err();
        assert!(err.to_string().contains("`schema.rs` is stale"), "{err}");
        assert!(!dir.path().join("schema.rs").exists(), "a check writes nothing");
        let mut write = Files::new(dir.path(), Mode::Write);
        write.ensure("schema.rs", "new\n").unwrap();
        write.finish().unwrap();
        std::fs::write(dir.path().join("schema.rs"), "new\r\n").unwrap();
        let mut again = Files::new(dir.path(), Mode::Check);
        again.ensure("schema.rs", "new\n").unwrap();
        again.finish().expect("fresh, line endings aside");
    }

    #[test]
    fn the_mode_comes_from_the_arguments() {
        assert_eq!(Mode::from_args(Vec::<String>::new()).unwrap(), Mode::Write);
        assert_eq!(Mode::from_args(["--check"]).unwrap(), Mode::Check);
        assert!(Mode::from_args(["--chek"]).unwrap_err().to_string().contains("--chek"));
    }
}

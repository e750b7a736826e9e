//! The project's own tasks, run as `cargo xtask <task>` (see <https://github.com/matklad/cargo-xtask/>).
//!
//! - `cargo xtask codegen [--check]`: writes the generated files (`schema/src/schema.rs`), or
//!   with `--check` fails when one of them is stale.
//! - `cargo xtask bench [overhead | peer | scale] [options]`: builds the benchmarks in release mode
//!   and runs them (all of them without an argument); see `BENCHMARKS.md`.
//! - `cargo xtask ci`: runs what `.ci/run` runs, in the same order.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod codegen;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["codegen"] => codegen::run(codegen::Mode::Write),
        ["codegen", "--check"] => codegen::run(codegen::Mode::Check),
        ["ci"] => ci(),
        ["bench", rest @ ..] => bench(rest),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  codegen [--check]   write the generated files, or check that they are fresh
  bench [what] [opts] run the benchmarks in release mode: overhead, peer, scale
                      (all without one); peer takes --durability normal|full, --reps N;
                      --quick runs them small
  ci                  run the checks of .ci/run: fmt, clippy, codegen --check, tests";

/// The result of a task: an error is a message for the user, saying what to do.
pub(crate) type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root, the parent of this crate's folder.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn bench(args: &[&str]) -> Result {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["run", "--quiet", "--release", "--package", "multisource-bench", "--"])
        .args(args)
        .current_dir(project_root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    match status.success() {
        true => Ok(()),
        false => Err("the benchmark failed".into()),
    }
}

fn ci() -> Result {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let steps: [(&[&str], &str); 4] = [
        (&["fmt", "--all", "--check"], "run `cargo fmt --all` and commit the result"),
        (
            &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
            "fix the warnings clippy printed",
        ),
        (&["xtask", "codegen", "--check"], "run `cargo xtask codegen` and commit the result"),
        (&["test", "--workspace"], "fix the failing tests"),
    ];
    for (args, fix) in steps {
        println!("$ cargo {}", args.join(" "));
        let status = Command::new(&cargo)
            .args(args)
            .current_dir(project_root())
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("`cargo {}` failed: {fix}", args.join(" ")));
        }
    }
    Ok(())
}

//! The project's own tasks, run as `cargo xtask <task>` (see <https://github.com/matklad/cargo-xtask/>).
//!
//! - `cargo xtask codegen [--check]`: writes the generated files (`schema/src/schema.rs`), or
//!   with `--check` fails when one of them is stale.
//! - `cargo xtask bench [overhead | peer | async | scale] [options]`: builds the benchmarks in release mode
//!   and runs them (all of them without an argument); see `BENCHMARKS.md`.
//! - `cargo xtask test [args]`: the whole test suite, PostgreSQL's tests included: starts a
//!   throwaway PostgreSQL server (unless `MULTISOURCE_TEST_POSTGRES` names one), runs
//!   `cargo test --workspace --all-features [args]` against it, and stops it.
//! - `cargo xtask ci`: runs what `.ci/run` runs, in the same order.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod codegen;
mod postgres;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["codegen"] => codegen::run(codegen::Mode::Write),
        ["codegen", "--check"] => codegen::run(codegen::Mode::Check),
        ["ci"] => ci(),
        ["test", rest @ ..] => test(rest),
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
  bench [what] [opts] run the benchmarks in release mode: overhead, peer, async,
                      writes, scale (all without one), kinds (SQLite against PostgreSQL,
                      on a throwaway server); peer takes --durability normal|full,
                      --reps N; --quick runs them small
  test [args]         run every test, PostgreSQL's included, on a throwaway server
                      (or the one MULTISOURCE_TEST_POSTGRES names); args go to cargo test
  ci                  run the checks of .ci/run: fmt, clippy, codegen --check, tests";

/// The result of a task: an error is a message for the user, saying what to do.
pub(crate) type Result<T = ()> = std::result::Result<T, String>;

/// The workspace root, the parent of this crate's folder.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn bench(args: &[&str]) -> Result {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args(["run", "--quiet", "--release", "--package", "multisource-bench"]);
    // Both kinds: a PostgreSQL server of the caller's, or a throwaway one, durable.
    let mut cluster = None;
    if args.first() == Some(&"kinds") {
        command.args(["--features", "postgres"]);
        let server = match std::env::var("MULTISOURCE_BENCH_POSTGRES") {
            Ok(server) => server,
            Err(_) => {
                let started = postgres::Cluster::start(true)?;
                let url = started.url.clone();
                cluster = Some(started);
                url
            }
        };
        command.env("MULTISOURCE_BENCH_POSTGRES", server);
    }
    let status = command
        .arg("--")
        .args(args)
        .current_dir(project_root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"));
    drop(cluster);
    let status = status?;
    match status.success() {
        true => Ok(()),
        false => Err("the benchmark failed".into()),
    }
}

/// The variable that tells the tests where the PostgreSQL test server is.
const TEST_SERVER: &str = "MULTISOURCE_TEST_POSTGRES";

fn test(args: &[&str]) -> Result {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // A server of the caller's, or a throwaway one, stopped when `cluster` is dropped.
    let (url, cluster) = match std::env::var(TEST_SERVER) {
        Ok(url) => (url, None),
        Err(_) => {
            let cluster = postgres::Cluster::start(false)?;
            println!("PostgreSQL test server: {}", cluster.url);
            (cluster.url.clone(), Some(cluster))
        }
    };
    println!("$ cargo test --workspace --all-features {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(["test", "--workspace", "--all-features"])
        .args(args)
        .env(TEST_SERVER, &url)
        .current_dir(project_root())
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"));
    drop(cluster);
    match status?.success() {
        true => Ok(()),
        false => Err("the tests failed".into()),
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
        (
            &["clippy", "--workspace", "--all-targets", "--all-features", "--", "-D", "warnings"],
            "fix the warnings clippy printed for the `postgres` features",
        ),
        (&["xtask", "codegen", "--check"], "run `cargo xtask codegen` and commit the result"),
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
    test(&[])
}

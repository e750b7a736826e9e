//! The benchmarks of `cargo xtask bench`, built in release mode:
//!
//! - `overhead`: each routed method against the same diesel query on a connection held directly,
//!   as a ratio, and `Database::route` per tier;
//! - `peer [--durability normal|full]`: the Python bot's measured workload, rows (a) to (g), for
//!   side-by-side comparison;
//! - `async`: the async API against the blocking one on the same queries, and throughput with
//!   1 to 1,024 tasks;
//! - `writes`: write throughput from 1 to 128 callers, group commit against one transaction
//!   per call, each durability;
//! - `scale`: how costs grow with sources, mapping entries, fan-out width and threads;
//! - `kinds` (the `postgres` feature): the same routed calls on a SQLite and a PostgreSQL source,
//!   on the server `MULTISOURCE_BENCH_POSTGRES` names.
//!
//! With no argument, all of them (the peer workload with both durabilities, each in a process of
//! its own, so that the peak RSS it reports is its own). Timings are printed, never asserted.
//! `--quick` runs everything small, to check that it works.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod asynchronous;
#[cfg(feature = "postgres")]
mod kinds;
mod overhead;
mod peer;
mod scale;
mod util;
mod writes;

use std::path::Path;
use std::process::ExitCode;

const USAGE: &str = "\
usage: multisource-bench [overhead | peer | async | writes | scale] [--quick]
       multisource-bench profile <save|lookup|setting|uncached-setting|set|direct-setting|direct-set>
       multisource-bench peer [--durability normal|full] [--reps N]
       multisource-bench kinds [--quick]   (the `postgres` feature; MULTISOURCE_BENCH_POSTGRES)";

/// The value after `name` in `args`.
fn option(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

/// What the command line asks for.
struct Args {
    /// The benchmarks named (all without one), and what they take.
    what: Vec<String>,
    overhead: overhead::Size,
    peer: peer::Options,
    asynchronous: asynchronous::Size,
    scale: scale::Size,
    writes: writes::Size,
}

/// Reads the command line: the benchmarks named, `--quick`, `--durability`, `--reps`.
fn parse(args: &[String]) -> Result<Args, String> {
    let quick = args.iter().any(|a| a == "--quick");
    // The words that are neither options nor the values of options.
    let values = ["--durability", "--reps"];
    if let Some(unknown) =
        args.iter().find(|a| a.starts_with('-') && *a != "--quick" && !values.contains(&a.as_str()))
    {
        return Err(format!("unknown option `{unknown}`\n{USAGE}"));
    }
    let what = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            !a.starts_with("--") && (*i == 0 || !values.contains(&args[i - 1].as_str()))
        })
        .map(|(_, a)| a.clone())
        .collect();
    let durability = match option(args, "--durability").as_deref() {
        None | Some("normal") => multisource::Durability::Normal,
        Some("full") => multisource::Durability::Full,
        Some(other) => return Err(format!("--durability is `normal` or `full`, not `{other}`")),
    };
    let reps =
        option(args, "--reps").and_then(|r| r.parse().ok()).unwrap_or(if quick { 1 } else { 5 });
    Ok(Args {
        what,
        overhead: match quick {
            true => overhead::Size { calls: 200, rounds: 3 },
            false => overhead::Size { calls: 20_000, rounds: 11 },
        },
        peer: peer::Options { durability, reps, scale: if quick { 20 } else { 1 } },
        asynchronous: match quick {
            true => asynchronous::Size { calls: 200, rounds: 3 },
            false => asynchronous::Size { calls: 20_000, rounds: 7 },
        },
        scale: match quick {
            true => scale::Size { calls: 200, reps: 1, scale: 20, max_mapping: 10_000 },
            false => scale::Size { calls: 100_000, reps: 5, scale: 1, max_mapping: 1_000_000 },
        },
        writes: match quick {
            true => writes::Size { calls: 100, reps: 1, callers: &[1, 8] },
            false => writes::Size { calls: 10_000, reps: 3, callers: writes::CALLERS },
        },
    })
}

/// Runs the peer workload in a process of its own (this binary, `peer`), so that the peak RSS it
/// reports is the workload's, not that of the benchmarks this process ran before it.
fn peer_alone(durability: &str, options: peer::Options) -> Result<(), String> {
    use std::io::Write as _;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut command = std::process::Command::new(exe);
    command.args(["peer", "--durability", durability, "--reps", &options.reps.to_string()]);
    if options.scale != 1 {
        command.arg("--quick");
    }
    std::io::stdout().flush().map_err(|e| format!("cannot write the report: {e}"))?;
    let status = command.status().map_err(|e| format!("cannot run the peer workload: {e}"))?;
    match status.success() {
        true => Ok(()),
        false => Err(format!("the peer workload ({durability}) failed: {status}")),
    }
}

/// Runs the benchmarks `args` names, in `dir`.
fn run(dir: &Path, args: &Args) -> Result<(), String> {
    let what: Vec<&str> = args.what.iter().map(String::as_str).collect();
    match what.as_slice() {
        [] | ["all"] => {
            overhead::run(dir, args.overhead);
            for durability in ["normal", "full"] {
                println!();
                peer_alone(durability, args.peer)?;
            }
            println!();
            asynchronous::run(dir, args.asynchronous);
            println!();
            writes::run(dir, args.writes);
            println!();
            scale::run(dir, args.scale);
        }
        ["async"] => asynchronous::run(dir, args.asynchronous),
        ["writes"] => writes::run(dir, args.writes),
        ["overhead"] => overhead::run(dir, args.overhead),
        ["peer"] => peer::run(dir, args.peer),
        ["scale"] => scale::run(dir, args.scale),
        ["profile", what] if overhead::PROFILES.contains(what) => overhead::profile(dir, what),
        #[cfg(feature = "postgres")]
        ["kinds"] => {
            let server = std::env::var(kinds::SERVER).map_err(|_| {
                format!(
                    "{} names no PostgreSQL server; `cargo xtask bench kinds` starts one",
                    kinds::SERVER
                )
            })?;
            // A PostgreSQL commit waits for a disk sync: fewer calls suffice.
            let size = args.overhead;
            kinds::run(
                dir,
                &server,
                overhead::Size { calls: size.calls / 5, rounds: size.rounds.min(7) },
            );
        }
        _ => return Err(USAGE.to_owned()),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("error: cannot create a temporary folder: {e}");
            return ExitCode::FAILURE;
        }
    };
    match parse(&args).and_then(|args| run(dir.path(), &args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    /// The whole harness runs, small: its own checks (the workload's row counts, hits, no errors,
    /// the archive unchanged) hold. Nothing is timed here.
    #[test]
    fn every_benchmark_runs_at_a_small_size() {
        let dir = tempfile::tempdir().unwrap();
        crate::overhead::run(dir.path(), crate::overhead::Size { calls: 20, rounds: 1 });
        for durability in [multisource::Durability::Normal, multisource::Durability::Full] {
            let options = crate::peer::Options { durability, reps: 1, scale: 50 };
            crate::peer::run(dir.path(), options);
        }
        crate::asynchronous::run(dir.path(), crate::asynchronous::Size { calls: 20, rounds: 1 });
        crate::writes::run(
            dir.path(),
            crate::writes::Size { calls: 50, reps: 1, callers: &[1, 8] },
        );
        let size = crate::scale::Size { calls: 20, reps: 1, scale: 200, max_mapping: 1_000 };
        crate::scale::run(dir.path(), size);
    }

    /// The benchmark of both kinds runs, small, on the test server.
    #[cfg(feature = "postgres")]
    #[test]
    fn the_kinds_benchmark_runs_at_a_small_size() {
        let server = std::env::var("MULTISOURCE_TEST_POSTGRES")
            .expect("MULTISOURCE_TEST_POSTGRES names the test server; use `cargo xtask test`");
        let dir = tempfile::tempdir().unwrap();
        crate::kinds::run(dir.path(), &server, crate::overhead::Size { calls: 20, rounds: 1 });
    }
}

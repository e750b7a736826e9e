//! What the commands print for people, pinned by snapshots (in `snapshots/`; after a deliberate
//! change, `cargo insta review`), and the README's samples checked against them line for line,
//! so that neither can drift.

use super::*;

/// The README's commands, in the README's order, as an operator runs them on the demo's files:
/// from the folder holding `multisource-demo/`, so that the paths printed are the README's.
const SESSION: &[(&str, &str)] = &[
    ("demo", "demo"),
    ("check", "check --config multisource-demo/bot.toml"),
    ("status", "status --config multisource-demo/bot.toml"),
    ("migrate_dry_run", "migrate --config multisource-demo/bot.toml --dry-run"),
    (
        "archive_dry_run",
        "archive --config multisource-demo/bot.toml --inactive-days 0 --to archive --dry-run",
    ),
    (
        "move_chat",
        "move-chat --config multisource-demo/bot.toml --chat -1002000000001 --to primary",
    ),
];

/// The README's samples are `text` blocks whose first line is the command, after `$ `.
const README_COMMAND: &str = "$ multisource ";
/// How the README runs the demo, which the session runs as `multisource demo`.
const README_DEMO: &str = "$ cargo run -p multisource-cli -- demo";

/// The output with every moment (`2026-11-27 05:20:33`, which changes with each run) written as
/// `YYYY-MM-DD hh:mm:ss`, of the same width, so that tables keep their layout.
fn without_moments(text: &str) -> String {
    let shape = b"dddd-dd-dd dd:dd:dd";
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let candidate = bytes.get(i..i + shape.len()).filter(|window| {
            window.iter().zip(shape).all(|(b, s)| match s {
                b'd' => b.is_ascii_digit(),
                other => b == other,
            })
        });
        match candidate {
            Some(_) => {
                out.push_str("YYYY-MM-DD hh:mm:ss");
                i += shape.len();
            }
            None => {
                let c = text[i..].chars().next().expect("within the text");
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// Runs the session in a new folder; each command's name, command line and output (without
/// moments).
fn session() -> (tempfile::TempDir, Vec<(&'static str, &'static str, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for (name, line) in SESSION {
        let output = Command::new(env!("CARGO_BIN_EXE_multisource"))
            .args(line.split(' '))
            .current_dir(dir.path())
            .env_remove("MULTISOURCE_FAILPOINT")
            .output()
            .expect("run multisource");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "multisource {line}:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        outputs.push((*name, *line, without_moments(&stdout)));
    }
    (dir, outputs)
}

#[test]
fn every_command_prints_what_its_snapshot_holds() {
    let (_dir, outputs) = session();
    for (name, line, output) in outputs {
        insta::with_settings!({ description => format!("multisource {line}"), omit_expression => true }, {
            insta::assert_snapshot!(name, output);
        });
    }
}

/// A sample of the README: its command line and the lines shown.
struct Sample {
    line: String,
    shown: Vec<String>,
}

/// The README's samples of the commands.
fn readme_samples() -> Vec<Sample> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .expect("the README");
    let mut samples = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line != "```text" {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "```").collect();
        let Some((first, shown)) = block.split_first() else { continue };
        let command = if *first == README_DEMO {
            Some("demo".to_owned())
        } else {
            first.strip_prefix(README_COMMAND).map(str::to_owned)
        };
        if let Some(line) = command {
            samples
                .push(Sample { line, shown: shown.iter().map(|l| without_moments(l)).collect() });
        }
    }
    samples
}

/// Whether `shown` is `output` with lines left out: every line shown is a line of the output,
/// in its order; a line `(and a line for each of the other N tables)` stands for exactly the N
/// lines that follow to the end of the table.
fn shows(output: &str, shown: &[String]) -> Result<(), String> {
    let lines: Vec<&str> = output.lines().collect();
    let mut at = 0;
    for line in shown {
        if let Some(n) = line
            .strip_prefix("(and a line for each of the other ")
            .and_then(|rest| rest.strip_suffix(" tables)"))
        {
            let n: usize = n.parse().map_err(|_| format!("not a count of tables: {line}"))?;
            let rest = lines[at..].iter().take_while(|l| !l.is_empty()).count();
            if rest != n {
                return Err(format!("`{line}`, but {rest} more lines follow in the output"));
            }
            at += rest;
            continue;
        }
        match lines[at..].iter().position(|l| l == line) {
            Some(found) => at += found + 1,
            None => {
                return Err(format!("this line is not in the output (after line {at}):\n{line}"));
            }
        }
    }
    Ok(())
}

#[test]
fn the_readmes_samples_are_what_the_commands_print() {
    let (_dir, outputs) = session();
    let samples = readme_samples();
    let shown: Vec<&str> = samples.iter().map(|s| s.line.as_str()).collect();
    for (_, line, _) in &outputs {
        // Every command of the session but `migrate` has a sample in the README.
        if !line.starts_with("migrate") {
            assert!(shown.contains(line), "the README has no sample of `multisource {line}`");
        }
    }
    for sample in &samples {
        let Some((_, _, output)) = outputs.iter().find(|(_, line, _)| *line == sample.line) else {
            panic!("the README shows `{}`, which the session does not run", sample.line);
        };
        if let Err(why) = shows(output, &sample.shown) {
            panic!(
                "the README's sample of `multisource {}` has drifted: {why}\n\nthe output:\n{output}",
                sample.line
            );
        }
    }
}

#[test]
fn a_sample_that_leaves_out_lines_or_changes_one_is_told_apart() {
    let output = "head\n----\na  1\nb  2\nc  3\n\nend\n";
    let lines = |text: &str| text.lines().map(String::from).collect::<Vec<_>>();
    assert_eq!(shows(output, &lines("head\n----\na  1\nc  3\nend")), Ok(()));
    assert_eq!(
        shows(output, &lines("head\n(and a line for each of the other 4 tables)\n\nend")),
        Ok(())
    );
    assert!(shows(output, &lines("head\n(and a line for each of the other 3 tables)")).is_err());
    assert!(shows(output, &lines("head\na 1")).is_err(), "a changed width");
    assert!(shows(output, &lines("c  3\na  1")).is_err(), "another order");
    assert_eq!(without_moments("at 2026-11-27 05:20:33 UTC"), "at YYYY-MM-DD hh:mm:ss UTC");
}

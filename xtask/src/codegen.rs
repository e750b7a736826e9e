//! `cargo xtask codegen`: the files generated from the project's own sources, and their freshness.

mod api;
mod schema;

use std::fs;
use std::path::Path;

use crate::{Result, project_root};

/// Whether codegen writes the files or only checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Write every file that differs.
    Write,
    /// Fail when a file differs, writing nothing.
    Check,
}

/// Generates every file, in `mode`.
pub(crate) fn run(mode: Mode) -> Result {
    let root = project_root();
    let mut stale = Vec::new();
    let schema = schema::render()?;
    ensure_file_contents(&root.join("schema/src/schema.rs"), &schema, mode, &mut stale)?;
    let methods = api::methods(&root.join("core/src/queries"))?;
    ensure_file_contents(&root.join("docs/API.md"), &api::render(&methods)?, mode, &mut stale)?;
    match stale.is_empty() {
        true => Ok(()),
        false => Err(format!(
            "{} stale; run `cargo xtask codegen` and commit the result",
            stale.join(", ")
        )),
    }
}

/// Makes `path` hold `contents`: in write mode by writing it, in check mode by recording it in
/// `stale` with a short diff. Line endings are compared normalised.
fn ensure_file_contents(
    path: &Path,
    contents: &str,
    mode: Mode,
    stale: &mut Vec<String>,
) -> Result {
    let old = fs::read_to_string(path).unwrap_or_default().replace("\r\n", "\n");
    if old == contents {
        return Ok(());
    }
    let name = path.strip_prefix(project_root()).unwrap_or(path).display().to_string();
    match mode {
        Mode::Write => {
            fs::write(path, contents).map_err(|e| format!("cannot write {name}: {e}"))?;
            println!("updated {name}");
        }
        Mode::Check => {
            print_diff(&name, &old, contents);
            stale.push(format!("`{name}` is"));
        }
    }
    Ok(())
}

/// Prints the first lines that differ, enough to see what changed.
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

    /// A plain `cargo test` fails when a generated file is stale.
    #[test]
    fn generated_files_are_fresh() {
        if let Err(message) = run(Mode::Check) {
            panic!("{message}");
        }
    }

    /// The queries are the Python bot's 50 data methods, by category.
    #[test]
    fn the_api_has_the_fifty_python_methods() {
        let methods = api::methods(&project_root().join("core/src/queries")).unwrap();
        assert_eq!(api::counts(&methods), [14, 2, 8, 17, 9]);
        assert_eq!(methods.len(), 50);
    }
}

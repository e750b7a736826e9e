//! `cargo xtask codegen`: the files generated from the project's own sources, and their freshness.

mod api;

use multisource_codegen::{Files, Schema};

use crate::{Result, project_root};

pub(crate) use multisource_codegen::Mode;

/// Generates every file, in `mode`.
pub(crate) fn run(mode: Mode) -> Result {
    let root = project_root();
    let mut files = Files::new(&root, mode);
    let schema = multisource_codegen::schema_rs(&Schema::multisource(), "multisource")
        .map_err(|e| e.to_string())?;
    files.ensure("schema/src/schema.rs", &schema).map_err(|e| e.to_string())?;
    let methods = api::methods(&root.join("core/src/queries"))?;
    files.ensure("docs/API.md", &api::render(&methods)?).map_err(|e| e.to_string())?;
    files.finish().map_err(|e| e.to_string())
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

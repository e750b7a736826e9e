//! The README's Guarantees section names the tests that prove each guarantee; every name must be
//! a test of this binary (a test of its own, or a test on each kind of source), so that the README
//! cannot point at a test that was renamed or removed.

use std::path::Path;

#[test]
fn every_test_the_readme_guarantees_name_exists() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("\n## Guarantees\n")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("the README has a Guarantees section");
    let names: Vec<&str> = section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| {
            quoted.split_once("::").is_some_and(|(module, name)| {
                !module.is_empty()
                    && !name.is_empty()
                    && quoted.chars().all(|c| c.is_ascii_lowercase() || c == '_' || c == ':')
            })
        })
        .collect();
    assert!(names.len() >= 25, "too few test names found: {names:?}");
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    for quoted in names {
        let (module, name) = quoted.split_once("::").unwrap();
        let source = std::fs::read_to_string(folder.join(format!("{module}.rs")))
            .unwrap_or_else(|e| panic!("`{quoted}`: no module `{module}`: {e}"));
        // A test of its own, or one of `on_each_backend!` (a test per kind of source).
        let compact: String = source.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(
            source.contains(&format!("#[test]\nfn {name}()"))
                || compact.contains(&format!("fn{name}(backend:Backend)")),
            "the README names `{quoted}`, which is not a test of tests/it/{module}.rs"
        );
    }
}

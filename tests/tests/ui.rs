//! Compile-fail tests of the `#[read]` and `#[write]` attributes: each mistake is a compile error
//! spanned on the offending token, with a message that says the fix. And one pass case: the
//! generated code compiles where the prelude's names are shadowed.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p multisource-tests --test
//! ui`, then read the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
    cases.pass("tests/ui/pass/*.rs");
}

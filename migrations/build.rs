//! Rebuilds the crate when a migration changes: `embed_migrations!` cannot track new files itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=postgres");
}

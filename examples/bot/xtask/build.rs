//! Rebuilds the xtask when a migration folder is added: `multisource::migrations!` tracks the files
//! it includes, not new folders.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}

//! Rebuilds the crate when a folder of the bot's migrations is added: `multisource::migrations!`
//! tracks the files it includes, not new folders.

fn main() {
    println!("cargo:rerun-if-changed=bot-migrations");
}

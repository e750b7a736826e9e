//! The example bot's `cargo xtask` (run in `examples/bot/`, where `.cargo/config.toml` names it):
//!
//! - `cargo xtask codegen`: writes `src/schema.rs`, the diesel tables of multisource's migrations
//!   and the bot's own, with `multisource-codegen`;
//! - `cargo xtask codegen --check`: fails, writing nothing, when `src/schema.rs` is stale.
//!
//! It embeds the migration folders itself rather than depending on the bot, so that it still
//! builds when a new migration leaves the bot's queries out of step with `src/schema.rs`.

use std::path::PathBuf;
use std::process::ExitCode;

use multisource_codegen::{Error, Files, Mode, Schema};

static MIGRATIONS: multisource::BotMigrations =
    multisource::migrations!(sqlite = "../migrations/sqlite", postgres = "../migrations/postgres");

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.split_first() {
        Some((command, rest)) if command == "codegen" => Mode::from_args(rest).and_then(codegen),
        _ => Err(Error::from("usage: cargo xtask codegen [--check]".to_owned())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            #[allow(clippy::print_stderr, reason = "a command line's error")]
            {
                eprintln!("{error}");
            }
            ExitCode::FAILURE
        }
    }
}

/// Generates the bot's files, or checks them.
fn codegen(mode: Mode) -> Result<(), Error> {
    let schema = Schema::with_bot(&MIGRATIONS)?;
    let mut files = Files::new(bot_folder(), mode);
    files.ensure("src/schema.rs", &multisource_codegen::schema_rs(&schema, "the example bot")?)?;
    files.finish()
}

/// `examples/bot/`.
fn bot_folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[cfg(test)]
mod tests {
    /// A plain `cargo test` fails when `src/schema.rs` is stale.
    #[test]
    fn the_schema_is_fresh() {
        if let Err(error) = super::codegen(super::Mode::Check) {
            panic!("{error}");
        }
    }
}

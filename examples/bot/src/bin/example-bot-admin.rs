//! `example-bot-admin`: multisource's operator command line (`check`, `status`, `migrate`,
//! `move-chat`, `archive`), built with the bot's migrations, so that it checks and migrates the
//! bot's tables and moves a chat's reminders with it. `example-bot-admin --help` lists the
//! commands.

fn main() -> std::process::ExitCode {
    multisource_cli::main_with(&example_bot::MIGRATIONS)
}

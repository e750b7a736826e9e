//! `example-bot --config <file>`: the bot, on the sources of a multisource configuration file,
//! with its token in `TELOXIDE_TOKEN`. It runs until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;

use teloxide::Bot;

const USAGE: &str = "usage: example-bot --config <file>

Runs the example bot on the sources of a multisource configuration file (see bot.toml), until
Ctrl-C or SIGTERM.

environment:
  TELOXIDE_TOKEN    the bot's token, from @BotFather (required)
  TELOXIDE_API_URL  another Bot API server than https://api.telegram.org (optional)";

fn main() -> ExitCode {
    let config = match config_path(std::env::args().skip(1)) {
        Ok(Some(config)) => config,
        Ok(None) => return say(USAGE, 0),
        Err(error) => return say(&format!("example-bot: {error}\n\n{USAGE}"), 2),
    };
    let token = std::env::var(example_bot::TOKEN_VARIABLE).unwrap_or_default();
    if token.trim().is_empty() {
        let message = format!(
            "example-bot: set {} to the bot's token (from @BotFather), for example\n  \
             {}=123456:ABC-DEF cargo run -p example-bot -- --config {}",
            example_bot::TOKEN_VARIABLE,
            example_bot::TOKEN_VARIABLE,
            config.display()
        );
        return say(&message, 2);
    }
    let mut bot = Bot::new(token.trim());
    if let Ok(url) = std::env::var(example_bot::API_URL_VARIABLE) {
        match url.parse() {
            Ok(url) => bot = bot.set_api_url(url),
            Err(error) => {
                let variable = example_bot::API_URL_VARIABLE;
                return say(&format!("example-bot: {variable} `{url}` is not a URL: {error}"), 2);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return say(&format!("example-bot: cannot start tokio: {error}"), 1),
    };
    runtime.block_on(async {
        let db = match example_bot::open(&config).await {
            Ok(db) => db,
            // A configuration that does not load is the operator's to fix, like bad usage.
            Err(error @ multisource::Error::Config { .. }) => {
                return say(&format!("example-bot: {error}"), 2);
            }
            Err(error) => return say(&format!("example-bot: {error}"), 1),
        };
        let sources: Vec<&str> = db.sources().map(|source| source.config.name()).collect();
        say(&format!("example-bot: started on {}", sources.join(", ")), 0);
        match example_bot::run(bot, db).await {
            Ok(()) => say("example-bot: stopped", 0),
            Err(error) => say(&format!("example-bot: the Bot API refused to start: {error}"), 1),
        }
    })
}

/// `--config <file>` (or `--config=<file>`); `None` for `--help`.
fn config_path(mut args: impl Iterator<Item = String>) -> Result<Option<PathBuf>, String> {
    let mut config = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--config" => match args.next() {
                Some(path) => config = Some(PathBuf::from(path)),
                None => return Err("`--config` needs a file".to_owned()),
            },
            other => match other.strip_prefix("--config=") {
                Some(path) => config = Some(PathBuf::from(path)),
                None => return Err(format!("unexpected argument `{other}`")),
            },
        }
    }
    config.map(Some).ok_or_else(|| "give the configuration file with `--config <file>`".to_owned())
}

/// Prints a line on standard error and gives the exit status.
fn say(line: &str, status: u8) -> ExitCode {
    #[allow(clippy::print_stderr, reason = "the bot's messages go to standard error")]
    {
        eprintln!("{line}");
    }
    ExitCode::from(status)
}

//! The bot: one handler for every message (store it, then answer it when it is a command) and a
//! loop that delivers the reminders that are due. Every database call is a method of
//! `AsyncDatabase`, awaited: it runs on multisource's threads, never on tokio's.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use multisource::{AsyncDatabase, Error, NewMessage};
use teloxide::RequestError;
use teloxide::prelude::*;
use teloxide::types::Me;
use teloxide::update_listeners::polling_default;
use teloxide::utils::command::BotCommands;
use tokio::sync::watch;

use crate::queries::{
    AddReminderAsyncExt, ClaimReminderAsyncExt, DueRemindersAsyncExt, MessagesPerUserAsyncExt,
    ReleaseReminderAsyncExt,
};

/// How often the reminder loop looks for reminders that are due.
const REMINDER_ROUND: Duration = Duration::from_secs(1);

/// The longest `/remind` accepts: a week, in minutes.
const LONGEST_REMINDER: u32 = 7 * 24 * 60;

/// The chat setting `/lang` writes.
const LANGUAGE: &str = "lang";

/// The commands the bot answers; `/help` lists them with their descriptions.
#[derive(BotCommands, Clone, Debug, PartialEq, Eq)]
#[command(rename_rule = "lowercase", description = "These commands are supported:")]
pub enum Command {
    /// `/help`: the list of commands.
    #[command(description = "this list")]
    Help,
    /// `/stats`: how many messages each user of the chat has sent.
    #[command(description = "messages per user in this chat")]
    Stats,
    /// `/remind <minutes> <text>`, with its arguments unparsed.
    #[command(description = "<minutes> <text>: I remind this chat of the text then")]
    Remind(String),
    /// `/lang <code>` sets the chat's language; `/lang` alone shows it.
    #[command(description = "<code>: this chat's language (/lang de); alone, shows it")]
    Lang(String),
}

/// Runs the bot until SIGINT or SIGTERM: long polling, a handler per message, and the reminder
/// loop. On a signal it finishes the updates in hand, tells Telegram which it has seen (so that
/// none comes back after a restart) and returns. An error is Telegram refusing the first call
/// (`getMe`): a wrong token, or a Bot API server that does not answer.
pub async fn run(bot: Bot, db: AsyncDatabase) -> Result<(), RequestError> {
    let handler = Update::filter_message().endpoint(on_message);
    let mut dispatcher = Dispatcher::builder(bot.clone(), handler)
        .dependencies(dptree::deps![db.clone()])
        .error_handler(Arc::new(|error: RequestError| async move {
            log(format_args!("a handler failed: {error}"));
        }))
        .build();
    let token = dispatcher.shutdown_token();
    let signals = tokio::spawn(async move {
        wait_for_signal().await;
        log(format_args!("stopping: finishing the updates in hand"));
        // The dispatcher refuses to shut down before it has started; ask again until it has.
        loop {
            match token.shutdown() {
                Ok(done) => return done.await,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    let reloads = tokio::spawn(reload_on_hangup(db.clone()));
    let (stop, stopped) = watch::channel(false);
    let reminders = tokio::spawn(deliver_reminders(bot.clone(), db, stopped));
    let listener = polling_default(bot).await;
    let result = dispatcher
        .try_dispatch_with_listener(
            listener,
            Arc::new(|error: RequestError| async move {
                log(format_args!("cannot get updates from the Bot API: {error}"));
            }),
        )
        .await;
    signals.abort();
    reloads.abort();
    // The loop ends at its next wait: a round in progress delivers what it claimed.
    let _ = stop.send(true);
    let _ = reminders.await;
    result
}

/// Every message: stored in the chat's source, then answered if it is a command.
async fn on_message(bot: Bot, me: Me, msg: Message, db: AsyncDatabase) -> ResponseResult<()> {
    match store(&db, &msg).await {
        // An archived chat's new messages are not stored: its source is read-only.
        Ok(()) | Err(Error::ReadOnlySource { .. }) => {}
        Err(error) => {
            log(format_args!("chat {}: message {} not stored: {error}", msg.chat.id, msg.id))
        }
    }
    let command = msg.text().and_then(|text| Command::parse(text, me.username()).ok());
    if let Some(command) = command {
        let reply = answer(&db, &msg, command).await;
        bot.send_message(msg.chat.id, reply).await?;
    }
    Ok(())
}

/// Stores a message and its author in the chat's source. A message already stored (Telegram
/// delivers an update again when the bot stopped before confirming it) is left as it is.
pub async fn store(db: &AsyncDatabase, msg: &Message) -> multisource::Result<()> {
    let Some(user) = msg.from.as_ref() else {
        return Ok(()); // a channel post has no author to count it for
    };
    let (chat, user_id) = (msg.chat.id.0, user.id.0 as i64);
    let username = user.username.as_deref().map(|name| format!("@{name}")).unwrap_or_default();
    db.update_chat_user(chat, user_id, &username, &user.full_name()).await?;
    let reply = msg.reply_to_message().map(|reply| reply.id.to_string());
    let message = NewMessage {
        message_text: msg.text().or(msg.caption()).unwrap_or_default(),
        reply_id: reply.as_deref(),
        ..NewMessage::default()
    };
    let date = msg.date.naive_utc();
    match db.save_chat_message(date, chat, user_id, &msg.id.to_string(), &message).await {
        Err(Error::Query {
            error: DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _),
            ..
        }) => Ok(()),
        other => other,
    }
}

/// The reply to a command.
pub async fn answer(db: &AsyncDatabase, msg: &Message, command: Command) -> String {
    let chat = msg.chat.id.0;
    let reply = match command {
        Command::Help => Ok(Command::descriptions().to_string()),
        Command::Stats => stats(db, chat).await,
        Command::Remind(args) => remind(db, msg, &args).await,
        Command::Lang(code) => language(db, chat, code.trim()).await,
    };
    reply.unwrap_or_else(|error| sorry(chat, &error))
}

async fn stats(db: &AsyncDatabase, chat: i64) -> multisource::Result<String> {
    let users = db.messages_per_user(chat, None).await?;
    if users.is_empty() {
        return Ok("I have no messages of this chat yet.".to_owned());
    }
    let lines: Vec<String> =
        users.iter().map(|user| format!("{}: {}", user.full_name, user.messages)).collect();
    Ok(format!("Messages in this chat:\n{}", lines.join("\n")))
}

async fn remind(db: &AsyncDatabase, msg: &Message, args: &str) -> multisource::Result<String> {
    let usage = "Tell me when and what: /remind <minutes> <text>, such as /remind 10 tea is ready";
    let Some((minutes, text)) = args.trim().split_once(char::is_whitespace) else {
        return Ok(usage.to_owned());
    };
    let (Ok(minutes), text) = (minutes.parse::<u32>(), text.trim()) else {
        return Ok(usage.to_owned());
    };
    if minutes > LONGEST_REMINDER {
        return Ok(format!("I remind at most a week ahead ({LONGEST_REMINDER} minutes)."));
    }
    let user = msg.from.as_ref().map_or(0, |user| user.id.0 as i64);
    let due = Utc::now().naive_utc() + chrono::Duration::minutes(i64::from(minutes));
    let message = msg.id.to_string();
    match db.add_reminder(msg.chat.id.0, &message, user, due, text).await? {
        true => Ok(format!("I'll remind this chat in {minutes} minute(s): {text}")),
        false => Ok("I already have that reminder.".to_owned()),
    }
}

async fn language(db: &AsyncDatabase, chat: i64, code: &str) -> multisource::Result<String> {
    if code.is_empty() {
        return Ok(match db.get_chat_setting(chat, LANGUAGE, None).await? {
            Some(code) => format!("This chat's language is {code}."),
            None => "No language is set for this chat; /lang de sets one.".to_owned(),
        });
    }
    let valid = code.len() <= 16
        && code
            .split('-')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if !valid {
        return Ok("A language code is letters, such as en, de or pt-BR.".to_owned());
    }
    db.set_chat_setting(chat, LANGUAGE, code).await?;
    Ok(format!("This chat's language is now {code}."))
}

/// The reply when the database refused or failed: a polite refusal for an archived chat, and an
/// apology for anything else (the details go to the operator's log, not to the chat).
fn sorry(chat: i64, error: &Error) -> String {
    match error {
        Error::ReadOnlySource { .. } => "Sorry, this chat is archived: I can read its history, \
                                         but I can't change anything in it."
            .to_owned(),
        _ => {
            log(format_args!("chat {chat}: {error}"));
            "Sorry, I could not do that just now; please try again later.".to_owned()
        }
    }
}

/// Delivers the reminders that are due, every [`REMINDER_ROUND`], until `stopped` changes.
async fn deliver_reminders(bot: Bot, db: AsyncDatabase, mut stopped: watch::Receiver<bool>) {
    loop {
        if let Err(error) = deliver_due(&bot, &db).await {
            log(format_args!("reminders: {error}"));
        }
        tokio::select! {
            _ = tokio::time::sleep(REMINDER_ROUND) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// One round: each due reminder is claimed in its chat's source (so that no other process sends
/// it too), then sent, and given back if sending failed. A reminder of an archived chat cannot
/// be claimed, and stays as it is.
async fn deliver_due(bot: &Bot, db: &AsyncDatabase) -> multisource::Result<()> {
    for reminder in db.due_reminders(Utc::now().naive_utc(), None).await? {
        let (chat, message) = (reminder.key.chat_id, reminder.key.message_id);
        match db.claim_reminder(chat, &message).await {
            Ok(true) => {}
            Ok(false) | Err(Error::ReadOnlySource { .. }) => continue,
            Err(error) => {
                log(format_args!("chat {chat}: reminder {message} not claimed: {error}"));
                continue;
            }
        }
        let text = format!("Reminder: {}", reminder.text);
        if let Err(error) = bot.send_message(ChatId(chat), text).await {
            log(format_args!("chat {chat}: reminder {message} not sent, will retry: {error}"));
            db.release_reminder(chat, &message).await?;
        }
    }
    Ok(())
}

/// On every SIGHUP (`systemctl reload`, `kill -HUP`), reads the configuration file again and
/// puts its chat mapping in force (`Database::reload_mapping`): a mapping edited by hand goes in
/// force without a restart (a chat moved by `example-bot-admin` is followed without it). A file
/// the database refuses is logged, and the mapping in force stays.
async fn reload_on_hangup(db: AsyncDatabase) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else { return };
        while hangup.recv().await.is_some() {
            match db.reload_mapping().await {
                Ok(changed) => {
                    log(format_args!("reloaded the chat mapping: {changed} chat(s) routed anew"))
                }
                Err(error) => log(format_args!("the chat mapping was not reloaded: {error}")),
            }
        }
    }
    #[cfg(not(unix))]
    drop(db);
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM (`systemctl stop`, `docker stop`).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The bot's log: a line on standard error.
fn log(line: std::fmt::Arguments<'_>) {
    #[allow(clippy::print_stderr, reason = "the example's log is its standard error")]
    {
        eprintln!("example-bot: {line}");
    }
}

//! A fake Telegram Bot API on 127.0.0.1: a real HTTP server (tiny_http) that speaks the methods
//! the bot calls. `getUpdates` serves the updates the test queued, long polling as Telegram
//! does, and forgets those below the `offset` the bot confirms; `sendMessage` is recorded and
//! answered with the message Telegram would return.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The bot's user, as `getMe` describes it.
pub(crate) const BOT_USERNAME: &str = "example_bot";
const BOT_ID: i64 = 4242;

/// A message the bot sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sent {
    /// The chat it went to.
    pub(crate) chat_id: i64,
    /// Its text.
    pub(crate) text: String,
}

/// What the server has seen and holds.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Updates not yet confirmed, by id.
    queued: Vec<Value>,
    /// The highest `offset` the bot sent: it has seen every update below it.
    pub(crate) confirmed: i64,
    /// What the bot sent, in order.
    pub(crate) sent: Vec<Sent>,
    /// Methods the server does not know, as called.
    pub(crate) unknown: Vec<String>,
    next_update: i64,
}

/// The running server; stops when dropped.
pub(crate) struct FakeTelegram {
    server: Arc<tiny_http::Server>,
    shared: Arc<(Mutex<State>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

impl FakeTelegram {
    /// Starts a server on a free port of 127.0.0.1.
    pub(crate) fn start() -> FakeTelegram {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("start the fake API"));
        let shared =
            Arc::new((Mutex::new(State { next_update: 1, ..State::default() }), Condvar::new()));
        let thread = {
            let (server, shared) = (Arc::clone(&server), Arc::clone(&shared));
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    let shared = Arc::clone(&shared);
                    std::thread::spawn(move || serve(request, &shared));
                }
            })
        };
        FakeTelegram { server, shared, thread: Some(thread) }
    }

    /// The URL to give the bot (`TELOXIDE_API_URL`).
    pub(crate) fn url(&self) -> String {
        let port = self.server.server_addr().to_ip().expect("an IP address").port();
        format!("http://127.0.0.1:{port}/")
    }

    /// Queues a text message from `user` in `chat`, as Telegram would deliver it.
    pub(crate) fn message(&self, chat: (i64, &str), user: (i64, &str, Option<&str>), text: &str) {
        let mut state = self.state();
        let id = state.next_update;
        state.next_update += 1;
        let (first, last) = match user.1.split_once(' ') {
            Some((first, last)) => (first, Some(last)),
            None => (user.1, None),
        };
        let mut from =
            json!({"id": user.0, "is_bot": false, "first_name": first, "language_code": "en"});
        if let Some(last) = last {
            from["last_name"] = json!(last);
        }
        if let Some(username) = user.2 {
            from["username"] = json!(username);
        }
        let mut message = json!({
            "message_id": 100 + id,
            "from": from,
            "chat": {"id": chat.0, "title": chat.1, "type": "supergroup"},
            "date": chrono::Utc::now().timestamp(),
            "text": text,
        });
        if text.starts_with('/') {
            let length = text.find(' ').unwrap_or(text.len());
            message["entities"] = json!([{"type": "bot_command", "offset": 0, "length": length}]);
        }
        state.queued.push(json!({"update_id": id, "message": message}));
        self.shared.1.notify_all();
    }

    /// The state, locked.
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.shared.0.lock().unwrap()
    }

    /// Waits until `done` holds of the state; after two minutes, a failure that says what was
    /// awaited, what the bot sent and what it logged (`log`), so that a bot that hangs fails.
    pub(crate) fn wait_until(
        &self,
        what: &str,
        log: impl Fn() -> String,
        done: impl Fn(&State) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut state = self.state();
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "waited two minutes for {what}; the bot sent {:#?}\nits log:\n{}",
                    state.sent,
                    log()
                );
            }
            state =
                self.shared.1.wait_timeout(state, left.min(Duration::from_millis(200))).unwrap().0;
        }
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(mut request: tiny_http::Request, shared: &(Mutex<State>, Condvar)) {
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let payload: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    // `/bot<token>/<Method>`; Telegram's method names are case-insensitive.
    let method = request.url().rsplit('/').next().unwrap_or_default().to_ascii_lowercase();
    let result = match method.as_str() {
        "getme" => Some(json!({
            "id": BOT_ID, "is_bot": true, "first_name": "Example", "username": BOT_USERNAME,
            "can_join_groups": true, "can_read_all_group_messages": true,
            "supports_inline_queries": false, "has_main_web_app": false,
        })),
        "getwebhookinfo" => {
            Some(json!({"url": "", "has_custom_certificate": false, "pending_update_count": 0}))
        }
        "getupdates" => Some(updates(&payload, shared)),
        "sendmessage" => Some(send(&payload, shared)),
        _ => None,
    };
    let answer = match result {
        Some(result) => json!({"ok": true, "result": result}),
        None => {
            shared.0.lock().unwrap().unknown.push(method.clone());
            shared.1.notify_all();
            json!({"ok": false, "error_code": 404, "description": "Not Found: method not found"})
        }
    };
    let header = tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
    let _ =
        request.respond(tiny_http::Response::from_string(answer.to_string()).with_header(header));
}

/// `getUpdates`: forgets the updates below `offset`, and returns the others, waiting up to
/// `timeout` seconds for one when there is none.
fn updates(payload: &Value, shared: &(Mutex<State>, Condvar)) -> Value {
    let offset = payload["offset"].as_i64().unwrap_or(0);
    let timeout = Duration::from_secs(payload["timeout"].as_u64().unwrap_or(0));
    let limit = payload["limit"].as_u64().unwrap_or(100) as usize;
    let deadline = Instant::now() + timeout;
    let mut state = shared.0.lock().unwrap();
    state.confirmed = state.confirmed.max(offset);
    state.queued.retain(|update| update["update_id"].as_i64().unwrap_or(0) >= offset);
    shared.1.notify_all();
    loop {
        if !state.queued.is_empty() || Instant::now() >= deadline {
            return Value::Array(state.queued.iter().take(limit).cloned().collect());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        state = shared.1.wait_timeout(state, left).unwrap().0;
    }
}

/// `sendMessage`: recorded, and answered with the message as sent.
fn send(payload: &Value, shared: &(Mutex<State>, Condvar)) -> Value {
    let chat_id = payload["chat_id"].as_i64().expect("a numeric chat_id");
    let text = payload["text"].as_str().unwrap_or_default().to_owned();
    let mut state = shared.0.lock().unwrap();
    state.sent.push(Sent { chat_id, text: text.clone() });
    let message_id = 10_000 + state.sent.len() as i64;
    shared.1.notify_all();
    json!({
        "message_id": message_id,
        "from": {"id": BOT_ID, "is_bot": true, "first_name": "Example", "username": BOT_USERNAME},
        "chat": {"id": chat_id, "title": "chat", "type": "supergroup"},
        "date": chrono::Utc::now().timestamp(),
        "text": text,
    })
}

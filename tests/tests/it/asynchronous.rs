//! The async API: the twins of the generated methods answer as the blocking ones under tokio's
//! two runtimes and under `futures`' executor, their futures can be spawned, a call dropped at
//! any point leaves a whole write or none, and no executor thread waits for a database.

use std::collections::BTreeSet;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use multisource::{AsyncDatabase, Call, Config, Error, MessageCategory, NewMessage, SourceConfig};
use multisource_tests::{
    ChatsWithUsersAsyncExt, ChatsWithUsersExt, CountMessagesAsyncExt, RenameUserAsyncExt,
};

use crate::common::{
    ARCHIVE_CHAT, PRIMARY_CHAT, SECONDARY_CHAT, Scratch, ThreeSources, USER, lock_holder, raw,
};

fn day() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 3, 1).unwrap().and_hms_opt(12, 0, 0).unwrap()
}

fn text(text: &str) -> NewMessage<'_> {
    NewMessage { message_text: text, message_category: MessageCategory::User, ..Default::default() }
}

/// What a bot's handlers do, through the async twins: writes and reads on every tier, borrowed
/// arguments, a fan-out, a bot's own queries and the closures; each answer compared with the
/// blocking method's.
async fn handlers(db: AsyncDatabase) {
    let blocking = db.database().clone_handle_for_test();
    db.update_chat_user(SECONDARY_CHAT, USER, "@user", "User").await.unwrap();
    let owned = String::from("the first");
    db.save_chat_message(day(), SECONDARY_CHAT, USER, "1", &text(&owned)).await.unwrap();
    drop(owned);
    db.save_chat_message(day(), SECONDARY_CHAT, USER, "2", &text("the second")).await.unwrap();
    db.set_chat_setting(SECONDARY_CHAT, "lang", "de").await.unwrap();

    let got = db.get_chat_messages_by_user(SECONDARY_CHAT, USER, 10, None).await.unwrap();
    assert_eq!(got, blocking.get_chat_messages_by_user(SECONDARY_CHAT, USER, 10, None).unwrap());
    assert_eq!(got.len(), 2);
    assert_eq!(
        db.get_chat_setting(SECONDARY_CHAT, "lang", None).await.unwrap().as_deref(),
        Some("de")
    );
    // An explicit source, and the archive's own rows.
    assert_eq!(db.get_chat_setting(SECONDARY_CHAT, "lang", Some("primary")).await.unwrap(), None);
    assert_eq!(
        db.get_chat_setting(ARCHIVE_CHAT, "where", None).await.unwrap().as_deref(),
        Some("archive")
    );
    // A fan-out, and the same read of one source.
    let everywhere = db.get_user_chats(USER, None).await.unwrap();
    assert_eq!(everywhere, blocking.get_user_chats(USER, None).unwrap());
    assert_eq!(db.get_user_chats(USER, Some("archive")).await.unwrap().len(), 2);
    // A bot's own queries.
    assert_eq!(db.count_messages(SECONDARY_CHAT, None).await.unwrap(), 2);
    assert_eq!(db.rename_user(SECONDARY_CHAT, USER, "Renamed").await.unwrap(), 1);
    assert_eq!(
        db.chats_with_users(1, None).await.unwrap(),
        blocking.chats_with_users(1, None).unwrap()
    );
    // Errors are the blocking method's.
    let refused = db.set_chat_setting(ARCHIVE_CHAT, "lang", "en").await.unwrap_err();
    assert!(matches!(refused, Error::ReadOnlySource { .. }), "{refused:?}");
    let unknown = db.get_chat_setting(PRIMARY_CHAT, "lang", Some("nowhere")).await.unwrap_err();
    assert!(matches!(unknown, Error::UnknownSource { .. }), "{unknown:?}");
    let duplicate =
        db.save_chat_message(day(), SECONDARY_CHAT, USER, "1", &text("again")).await.unwrap_err();
    assert_eq!(duplicate.to_string(), {
        let again = blocking.save_chat_message(day(), SECONDARY_CHAT, USER, "1", &text("again"));
        again.unwrap_err().to_string()
    });
    // The closures, guarded as the blocking ones are.
    let n = db
        .read(Some(SECONDARY_CHAT), None, |conn| {
            diesel::sql_query("SELECT count(*) AS n FROM chat_messages")
                .get_result::<Count>(conn)
                .map(|c| c.n)
        })
        .await
        .unwrap();
    assert_eq!(n, 2);
    let refused = db
        .write(Some(ARCHIVE_CHAT), |conn| {
            diesel::sql_query("DELETE FROM chat_messages").execute(conn)
        })
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::ReadOnlySource { .. }), "{refused:?}");
    let outside = db
        .write(Some(SECONDARY_CHAT), |conn| {
            diesel::sql_query("ATTACH DATABASE 'elsewhere.db' AS other").execute(conn)
        })
        .await;
    assert!(outside.is_err(), "a closure attached a file: {outside:?}");
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// `Database` is not `Clone`; the tests compare with a second handle on the same files.
trait CloneForTest {
    fn clone_handle_for_test(&self) -> multisource::Database;
}

impl CloneForTest for multisource::Database {
    fn clone_handle_for_test(&self) -> multisource::Database {
        multisource::Database::open(multisource::Config::clone(&self.config()))
            .expect("a second handle")
    }
}

#[test]
fn the_twins_answer_as_the_blocking_methods_on_tokios_multi_thread_runtime() {
    let t = ThreeSources::new();
    let db = AsyncDatabase::new(t.db);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    runtime.block_on(handlers(db));
}

#[test]
fn the_twins_answer_as_the_blocking_methods_on_tokios_current_thread_runtime() {
    let t = ThreeSources::new();
    let db = AsyncDatabase::new(t.db);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(handlers(db));
}

#[test]
fn the_twins_answer_as_the_blocking_methods_under_futures_executor() {
    let t = ThreeSources::new();
    let db = AsyncDatabase::new(t.db);
    futures::executor::block_on(handlers(db));
}

#[test]
fn an_async_database_opens_from_a_configuration_file_without_a_runtime_thread_waiting() {
    let scratch = Scratch::new();
    let path = scratch.path("bot.toml");
    std::fs::write(
        &path,
        "[database]\ndefault = \"main\"\n[database.sources.main]\npath = \"main.db\"\n",
    )
    .unwrap();
    let db = futures::executor::block_on(AsyncDatabase::from_config_file(&path)).unwrap();
    futures::executor::block_on(db.set_setting("k", "v")).unwrap();
    assert_eq!(
        futures::executor::block_on(db.get_setting("k", None)).unwrap().as_deref(),
        Some("v")
    );
    drop(db);
    assert!(scratch.path("main.db").exists());
    let missing =
        futures::executor::block_on(AsyncDatabase::from_config_file(scratch.path("missing.toml")))
            .unwrap_err();
    assert!(missing.to_string().contains("missing.toml"), "{missing}");
}

fn assert_spawnable<T: Send + 'static>(_: &T) {}

#[test]
fn calls_are_send_and_static_so_that_handlers_can_spawn_them() {
    let t = ThreeSources::new();
    let db = AsyncDatabase::new(t.db);
    let call = db.set_chat_setting(PRIMARY_CHAT, "k", "v");
    assert_spawnable(&call);
    drop(call);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let chats = [PRIMARY_CHAT, SECONDARY_CHAT];
    runtime.block_on(async {
        for chat in chats {
            db.update_chat_user(chat, USER, "@user", "User").await.unwrap();
        }
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let db = db.clone();
                let id = i.to_string();
                tokio::spawn(async move {
                    let chat = chats[i % 2];
                    db.save_chat_message(day(), chat, USER, &id, &text(&id)).await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
    });
    for chat in chats {
        let n = futures::executor::block_on(db.count_messages(chat, None)).unwrap();
        assert_eq!(n, 100);
    }
}

#[test]
fn a_call_never_polled_never_runs() {
    let t = ThreeSources::new();
    let db = AsyncDatabase::new(t.db);
    let before = db.stats();
    drop(db.set_chat_setting(PRIMARY_CHAT, "never", "set"));
    drop(db.write(Some(PRIMARY_CHAT), |conn| {
        diesel::sql_query("INSERT INTO settings (key, value) VALUES ('never', 'set')").execute(conn)
    }));
    assert_eq!(db.stats(), before);
    assert_eq!(
        futures::executor::block_on(db.get_chat_setting(PRIMARY_CHAT, "never", None)).unwrap(),
        None
    );
    assert_eq!(futures::executor::block_on(db.get_setting("never", None)).unwrap(), None);
}

/// Polls the call `polls` times, yielding to the runtime between polls, then drops it if it has
/// not answered: a caller that gave up (a timeout, a `select!` that took another branch).
struct GiveUpAfter<F> {
    call: Option<F>,
    polls: u32,
}

impl<F: Future + Unpin> Future for GiveUpAfter<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.polls == 0 {
            self.call = None;
            return Poll::Ready(None);
        }
        self.polls -= 1;
        let call = self.call.as_mut().expect("polled after it was ready");
        match Pin::new(call).poll(cx) {
            Poll::Ready(answer) => Poll::Ready(Some(answer)),
            Poll::Pending => {
                // Come back at once: the next poll may find the answer, or give up.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

/// A small deterministic random sequence (xorshift), so that a failure can be replayed.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % sides
    }
}

#[test]
fn a_call_dropped_at_any_point_commits_whole_or_not_at_all_and_is_counted_if_it_ran() {
    let scratch = Scratch::new();
    let path = scratch.path("main.db");
    let config = Config::builder()
        .source(SourceConfig::new("main", &path))
        .default_source("main")
        .build()
        .unwrap();
    let db = AsyncDatabase::new(multisource::Database::open(config).unwrap());
    const CHAT: i64 = -100;
    const USERS: i64 = 4;
    futures::executor::block_on(async {
        for user in 0..USERS {
            db.update_chat_user(CHAT, user, "@u", "U").await.unwrap();
        }
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..600_u64 {
            let db = db.clone();
            let acknowledged = Arc::clone(&acknowledged);
            let (how, polls, micros) = (dice.roll(3), dice.roll(8) as u32, dice.roll(3000));
            tasks.push(tokio::spawn(async move {
                let id = i.to_string();
                let user = (i % USERS as u64) as i64;
                let call: Call<()> = db.save_chat_message(day(), CHAT, user, &id, &text(&id));
                let answer = match how {
                    // Dropped after a number of polls (none: never started).
                    0 => GiveUpAfter { call: Some(call), polls }.await,
                    // Dropped by a timer, at 0 to 3 ms.
                    1 => tokio::time::timeout(Duration::from_micros(micros), call).await.ok(),
                    // Awaited.
                    _ => Some(call.await),
                };
                if let Some(answer) = answer {
                    answer.expect("a write that answered succeeded");
                    acknowledged.lock().unwrap().insert(id);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    // Every call handed over has ended once the blocking database is back.
    let db = db.into_database().expect("the last handle");
    let writes = db.stats().source("main").unwrap().writes.total();
    drop(db);

    let mut conn = raw(&path);
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Text)]
        message_id: String,
    }
    let stored: BTreeSet<String> = diesel::sql_query("SELECT message_id FROM chat_messages")
        .load::<Id>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| r.message_id)
        .collect();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.is_subset(&stored), "an acknowledged write is missing");
    // Some calls were dropped before they were even polled (the seed makes sure of it); whether
    // a dropped call had started depends on timing, and the next test makes that case certain.
    assert!(acknowledged.len() < 600, "no call was dropped: the test proved nothing");
    // Every stored message is whole: its author's count and the day's counts include it.
    let counted: i64 = diesel::sql_query("SELECT sum(messages_count) AS n FROM chat_users")
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n;
    let day_count: i64 =
        diesel::sql_query("SELECT messages_count AS n FROM chat_stats WHERE chat_id = -100")
            .get_result::<Count>(&mut conn)
            .unwrap()
            .n;
    let users_day: i64 = diesel::sql_query(
        "SELECT sum(messages_count) AS n FROM chat_user_stats WHERE chat_id = -100",
    )
    .get_result::<Count>(&mut conn)
    .unwrap()
    .n;
    let n = stored.len() as i64;
    assert_eq!((counted, day_count, users_day), (n, n, n));
    // Counted in the stats: the user rows, then every message that ran, answered or dropped.
    assert_eq!(writes, USERS as u64 + stored.len() as u64);
}

#[test]
fn a_write_dropped_while_it_runs_commits_whole_and_is_counted() {
    let t = ThreeSources::new();
    let db = AsyncDatabase::new(t.db);
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let call = db.write(Some(PRIMARY_CHAT), move |conn| {
        diesel::sql_query("INSERT INTO chat_settings (chat_id, key, value) VALUES (?, 'a', '1')")
            .bind::<BigInt, _>(PRIMARY_CHAT)
            .execute(conn)?;
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
        diesel::sql_query("INSERT INTO chat_settings (chat_id, key, value) VALUES (?, 'b', '2')")
            .bind::<BigInt, _>(PRIMARY_CHAT)
            .execute(conn)
    });
    // Polled once, so handed over; dropped only once a library thread is inside the transaction.
    let mut call = Box::pin(call);
    let waker = futures::task::noop_waker();
    let first = call.as_mut().poll(&mut Context::from_waker(&waker));
    assert!(first.is_pending(), "the call cannot have answered: it waits to be released");
    started.recv().expect("the call started");
    drop(call);
    release.send(()).unwrap();
    let db = db.into_database().expect("the last handle, once the dropped call has ended");
    let settings = db.get_chat_settings(PRIMARY_CHAT, None).unwrap();
    assert_eq!(settings.len(), 2, "both statements of the dropped call committed: {settings:?}");
    assert_eq!(db.stats().source("primary").unwrap().writes.total(), 1, "and it is counted");
}

#[test]
fn every_call_that_ran_is_counted_whether_or_not_its_caller_waited() {
    let t = ThreeSources::new();
    let db = AsyncDatabase::new(t.db);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        for i in 0..100 {
            let call = db.set_chat_setting(PRIMARY_CHAT, &format!("k{i}"), "v");
            // Half are given up after their first poll, once handed over: each runs or not,
            // depending on whether a thread took it before it was dropped.
            if i % 2 == 0 {
                let _ = GiveUpAfter { call: Some(call), polls: 1 }.await;
            } else {
                call.await.unwrap();
            }
        }
    });
    let db = db.into_database().expect("the last handle");
    let writes = db.stats().source("primary").unwrap().writes.total();
    let rows = db.get_chat_settings(PRIMARY_CHAT, None).unwrap().len();
    assert!(rows >= 50, "an awaited call is missing: {rows} rows");
    assert_eq!(writes, rows as u64, "every call that ran, and only those, is counted");
}

#[test]
fn the_executor_keeps_ticking_while_another_process_holds_a_sources_lock() {
    let scratch = Scratch::new();
    let (busy, free) = (scratch.path("busy.db"), scratch.path("free.db"));
    let config = Config::builder()
        .source(SourceConfig::new("busy", &busy).timeout(Duration::from_secs(30)))
        .source(SourceConfig::new("free", &free))
        .default_source("free")
        .map_chat(SECONDARY_CHAT, "busy")
        .build()
        .unwrap();
    let db = AsyncDatabase::new(multisource::Database::open(config).unwrap());
    let mut holder = lock_holder(&busy);
    let locked_at = Instant::now();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        holder.stdin.take().unwrap().write_all(b"").unwrap();
        let released_at = Instant::now();
        assert!(holder.wait().unwrap().success());
        released_at
    });

    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let (gaps, busy_done, free_done) = runtime.block_on(async {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ticker = tokio::spawn({
            let done = Arc::clone(&done);
            async move {
                let mut gaps = Vec::new();
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let before = Instant::now();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    gaps.push(before.elapsed());
                }
                gaps
            }
        });
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    let (chat, key) = match i % 4 {
                        0 => (SECONDARY_CHAT, "lang"),
                        _ => (PRIMARY_CHAT, "lang"),
                    };
                    if i % 2 == 0 {
                        db.set_chat_setting(chat, key, &i.to_string()).await.unwrap();
                    } else {
                        db.get_chat_setting(chat, key, None).await.unwrap();
                    }
                    (chat, Instant::now())
                })
            })
            .collect();
        let mut busy_done = Vec::new();
        let mut free_done = Vec::new();
        for task in tasks {
            let (chat, at) = task.await.unwrap();
            match chat {
                SECONDARY_CHAT => busy_done.push(at),
                _ => free_done.push(at),
            }
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (ticker.await.unwrap(), busy_done, free_done)
    });
    let released_at = release.join().unwrap();
    let lock_time = released_at - locked_at;
    // The busy source's writes waited for the lock: it really was held.
    let first_busy_write = busy_done.iter().min().unwrap();
    assert!(*first_busy_write >= released_at, "a write went through a held lock");
    // The other source's calls did not wait for it.
    let last_free = free_done.iter().max().unwrap();
    assert!(*last_free < released_at, "a call of the free source waited for the busy one");
    // And the executor's one thread kept ticking all along.
    let largest = gaps.iter().max().unwrap();
    let ticks_while_locked = gaps.len();
    assert!(
        largest.as_secs_f64() * 10.0 < lock_time.as_secs_f64(),
        "the ticker's largest gap, {largest:?}, is not far below the lock's {lock_time:?}"
    );
    assert!(ticks_while_locked >= 100, "the ticker ticked only {ticks_while_locked} times");
}

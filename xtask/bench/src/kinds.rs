//! The same routed calls on both kinds of source (`multisource-bench kinds`, the `postgres`
//! feature): a SQLite source with each durability, and a PostgreSQL source on the server
//! `MULTISOURCE_BENCH_POSTGRES` names (`cargo xtask bench kinds` starts one, with `fsync` on);
//! on PostgreSQL also the routed method against the same diesel query on a session held directly,
//! alternating call by call (the server shares the machine's cores with the client, so batches
//! catch its scheduling unevenly)
//! (the query's PostgreSQL copy, which the macro puts in `__multisource_pg_<name>`).

use std::hint::black_box;
use std::path::Path;

use diesel::{Connection as _, PgConnection};
use multisource::queries::{chat_messages, chat_settings};
use multisource::{Config, Database, Durability, NewMessage, SourceConfig, SqliteFile};
use multisource_test_support::Databases;

use crate::overhead::{CHATS, MESSAGES, Pair, Size, chat, date, fill_db, pair_interleaved};
use crate::util::{duration, median, per_call};

/// The variable that names the PostgreSQL server, as `postgres://user@host:port`.
pub(crate) const SERVER: &str = "MULTISOURCE_BENCH_POSTGRES";

/// A filled database of one source named `main`.
fn filled(source: SourceConfig) -> Database {
    let config = Config::builder().source(source).default_source("main").build().expect("config");
    let db = Database::open(config).expect("open");
    fill_db(&db);
    db
}

/// A session held directly, set as the router sets its sessions.
fn session(url: &str, read_only: bool) -> PgConnection {
    multisource_router::postgres_session(url, std::time::Duration::from_secs(30), read_only)
        .expect("a direct session")
}

/// The median time per call of `f`.
fn time(size: Size, mut f: impl FnMut(usize)) -> f64 {
    per_call(size.calls / 4 + 1, &mut f);
    let mut times: Vec<f64> = (0..size.rounds).map(|_| per_call(size.calls, &mut f)).collect();
    median(&mut times)
}

pub(crate) fn run(dir: &Path, server: &str, size: Size) {
    let databases = Databases::on(server, "bench");
    // Without the read cache, which PostgreSQL sources do not have: the kinds' own costs.
    let sqlite =
        filled(SourceConfig::at("main", SqliteFile::new(dir.join("kinds-normal.db")).cache(false)));
    let sqlite_full = filled(SourceConfig::at(
        "main",
        SqliteFile::new(dir.join("kinds-full.db")).durability(Durability::Full).cache(false),
    ));
    let routed_url = databases.create();
    let direct_url = databases.create();
    let postgres = filled(SourceConfig::postgres("main", &routed_url));
    drop(filled(SourceConfig::postgres("main", &direct_url)));
    let mut reader = session(&direct_url, true);
    let mut writer = session(&direct_url, false);

    println!("The same routed calls on a SQLite source and on a PostgreSQL source (loopback)");
    println!(
        "({} calls per batch, median of {} batches; PostgreSQL with fsync and synchronous_commit on)\n",
        size.calls, size.rounds
    );
    println!(
        "{:<32} {:>10} {:>13} {:>12} {:>12} {:>14}",
        "call", "SQLite", "SQLite full", "PG direct", "PG routed", "routed/direct"
    );
    let sides = Sides { sqlite, sqlite_full, postgres };
    read_rows(size, &sides, &mut reader);
    write_rows(size, &sides, &mut writer);
}

/// The routed databases of the comparison.
struct Sides {
    sqlite: Database,
    sqlite_full: Database,
    postgres: Database,
}

/// Prints one row of the table.
fn row(name: &str, sqlite: f64, full: Option<f64>, pg: Pair) {
    println!(
        "{name:<32} {:>10} {:>13} {:>12} {:>12} {:>14.3}",
        duration(sqlite),
        full.map_or_else(|| "-".to_owned(), duration),
        duration(pg.direct),
        duration(pg.routed),
        pg.ratio
    );
}

/// The keys of the settings the benchmark reads and writes.
fn keys() -> Vec<String> {
    (0..20).map(|k| format!("k{k:02}")).collect()
}

/// The reads, routed on each kind, and against their queries on a session held directly.
fn read_rows(size: Size, sides: &Sides, reader: &mut PgConnection) {
    let keys = keys();
    let ids: Vec<String> = (0..MESSAGES).map(|n| n.to_string()).collect();
    let pick = |i: usize| (i * 7919) % MESSAGES;
    let setting = |db: &Database, i: usize| {
        black_box(db.get_chat_setting(chat(i as i64 % CHATS), &keys[i % 20], None).expect("read"));
    };
    row(
        "get_chat_setting",
        time(size, |i| setting(&sides.sqlite, i)),
        None,
        pair_interleaved(
            size,
            |i| {
                let found = chat_settings::__multisource_pg_get_chat_setting::get_chat_setting(
                    reader,
                    chat(i as i64 % CHATS),
                    &keys[i % 20],
                );
                black_box(found.expect("read"));
            },
            |i| setting(&sides.postgres, i),
        ),
    );
    let message = |db: &Database, i: usize| {
        let n = pick(i);
        black_box(
            db.get_chat_message_by_message_id(chat(n as i64 % CHATS), &ids[n], None).expect("read"),
        );
    };
    row(
        "get_chat_message_by_message_id",
        time(size, |i| message(&sides.sqlite, i)),
        None,
        pair_interleaved(
            size,
            |i| {
                let n = pick(i);
                let found = chat_messages::__multisource_pg_get_chat_message_by_message_id::get_chat_message_by_message_id(
                    reader,
                    chat(n as i64 % CHATS),
                    &ids[n],
                );
                black_box(found.expect("read"));
            },
            |i| message(&sides.postgres, i),
        ),
    );
}

/// The writes, routed on each kind, and against their queries in a transaction of a session
/// held directly.
fn write_rows(size: Size, sides: &Sides, writer: &mut PgConnection) {
    let keys = keys();
    // Every write changes its row: SQLite writes nothing, and syncs nothing, for an upsert that
    // leaves a row's bytes as they were (the same value, within the same second), which a
    // value repeated from one batch to the next would be.
    let written = std::cell::Cell::new(0_u64);
    let value = || {
        written.set(written.get() + 1);
        written.get().to_string()
    };
    let set = |db: &Database, i: usize| {
        db.set_chat_setting(chat(i as i64 % CHATS), &keys[i % 20], &value()).expect("write");
    };
    row(
        "set_chat_setting",
        time(size, |i| set(&sides.sqlite, i)),
        Some(time(size, |i| set(&sides.sqlite_full, i))),
        pair_interleaved(
            size,
            |i| {
                writer
                    .transaction(|c| {
                        chat_settings::__multisource_pg_set_chat_setting::set_chat_setting(
                            c,
                            chat(i as i64 % CHATS),
                            &keys[i % 20],
                            &value(),
                        )
                    })
                    .expect("write");
            },
            |i| set(&sides.postgres, i),
        ),
    );
    let next = std::cell::Cell::new(MESSAGES);
    let fresh = || {
        next.set(next.get() + 1);
        next.get()
    };
    let save = |db: &Database| {
        let n = fresh();
        let message = NewMessage { message_text: "routed", ..NewMessage::default() };
        db.save_chat_message(date(n), chat(n as i64 % CHATS), 1, &n.to_string(), &message)
            .expect("write");
    };
    row(
        "save_chat_message",
        time(size, |_| save(&sides.sqlite)),
        Some(time(size, |_| save(&sides.sqlite_full))),
        pair_interleaved(
            size,
            |_| {
                let n = fresh();
                let message = NewMessage { message_text: "direct", ..NewMessage::default() };
                writer
                    .transaction(|c| {
                        chat_messages::__multisource_pg_save_chat_message::save_chat_message(
                            c,
                            date(n),
                            chat(n as i64 % CHATS),
                            1,
                            &n.to_string(),
                            &message,
                        )
                    })
                    .expect("write");
            },
            |_| save(&sides.postgres),
        ),
    );
}

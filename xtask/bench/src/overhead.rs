//! Routing overhead against the floor: each generated, routed method against the same diesel
//! query on a connection held directly, with the same pragmas, in the same run; and
//! `Database::route` alone, per tier.

use std::hint::black_box;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::SqliteConnection;
use multisource::queries::{chat_messages, chat_settings};
use multisource::{Access, Config, Conn, Database, NewMessage, SourceConfig, SqliteFile};
use multisource_router::{Opened, Purpose};

use crate::util::{duration, median, per_call};

/// How much work each measurement does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    /// Calls per batch.
    pub(crate) calls: usize,
    /// Alternating batches (direct, routed) per measurement.
    pub(crate) rounds: usize,
}

pub(crate) const CHATS: i64 = 10;
pub(crate) const MESSAGES: usize = 5_000;
const MAPPED: i64 = -1001000000000;
const UNMAPPED: i64 = -1001000000005;

pub(crate) fn chat(i: i64) -> i64 {
    MAPPED - i
}

pub(crate) fn date(n: usize) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
        + TimeDelta::minutes(n as i64)
}

/// One measurement: the median time per call of each side, and the median of the paired ratios.
pub(crate) struct Pair {
    pub(crate) direct: f64,
    pub(crate) routed: f64,
    pub(crate) ratio: f64,
}

/// Warms both sides (connections opened, statements prepared, pages cached), then takes the
/// medians of `size.rounds` rounds, each giving the time per call of the direct and the routed
/// side.
fn measure<D: FnMut(usize), R: FnMut(usize)>(
    size: Size,
    mut direct: D,
    mut routed: R,
    mut round: impl FnMut(usize, &mut D, &mut R) -> (f64, f64),
) -> Pair {
    per_call(size.calls / 4 + 1, &mut direct);
    per_call(size.calls / 4 + 1, &mut routed);
    let (mut d, mut r, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for n in 0..size.rounds {
        let (a, b) = round(n, &mut direct, &mut routed);
        d.push(a);
        r.push(b);
        ratios.push(b / a);
    }
    Pair { direct: median(&mut d), routed: median(&mut r), ratio: median(&mut ratios) }
}

/// Direct and routed in alternating batches of `size.calls`.
pub(crate) fn pair(size: Size, direct: impl FnMut(usize), routed: impl FnMut(usize)) -> Pair {
    measure(size, direct, routed, |round, direct, routed| {
        // Alternate which side goes first, so drift favours neither.
        match round % 2 {
            0 => (per_call(size.calls, &mut *direct), per_call(size.calls, &mut *routed)),
            _ => {
                let b = per_call(size.calls, &mut *routed);
                (per_call(size.calls, &mut *direct), b)
            }
        }
    })
}

/// Like [`pair`], but alternating single calls, each timed: for writes, whose cost jumps when a
/// call happens to run a checkpoint (two disk syncs). The two files grow alike, so alternating
/// call by call puts the checkpoints at the same places on both sides, where whole batches would
/// catch them unevenly.
pub(crate) fn pair_interleaved(
    size: Size,
    direct: impl FnMut(usize),
    routed: impl FnMut(usize),
) -> Pair {
    fn timed(f: &mut impl FnMut(usize), i: usize) -> u128 {
        let started = std::time::Instant::now();
        f(i);
        started.elapsed().as_nanos()
    }
    measure(size, direct, routed, |_, direct, routed| {
        let (mut direct_ns, mut routed_ns) = (0u128, 0u128);
        for i in 0..size.calls {
            // Alternate which side goes first, so that neither always follows the other's commit.
            if i % 2 == 0 {
                direct_ns += timed(direct, i);
                routed_ns += timed(routed, i);
            } else {
                routed_ns += timed(routed, i);
                direct_ns += timed(direct, i);
            }
        }
        (direct_ns as f64 / size.calls as f64, routed_ns as f64 / size.calls as f64)
    })
}

/// A connection held directly, with the settings the router gives its own readers or writer.
fn direct_connection(source: &SourceConfig, access: Access) -> Opened {
    Opened::open(source, Purpose::Serve(access)).expect("direct connection")
}

/// The SQLite connection of a connection held directly.
fn sqlite(held: &mut Opened) -> &mut SqliteConnection {
    match held.conn() {
        Conn::Sqlite(conn) => conn,
        #[allow(unreachable_patterns)]
        _ => unreachable!("a SQLite source"),
    }
}

/// Fills a database file with the benchmark's chats, users, settings and messages.
fn fill(path: &Path) {
    fill_db(&Database::open_path(path).expect("open"));
}

/// Fills the default source of `db` with the benchmark's chats, users, settings and messages.
pub(crate) fn fill_db(db: &Database) {
    for i in 0..CHATS {
        for user in 0..20 {
            db.update_chat_user(chat(i), user, &format!("@user{user}"), &format!("User {user}"))
                .expect("user");
        }
        for k in 0..20 {
            db.set_chat_setting(chat(i), &format!("k{k:02}"), "value").expect("setting");
        }
    }
    for n in 0..MESSAGES {
        let text = format!("message {n}: lorem ipsum dolor sit amet, consectetur adipiscing elit");
        let message = NewMessage { message_text: &text, ..NewMessage::default() };
        db.save_chat_message(
            date(n),
            chat(n as i64 % CHATS),
            (n % 20) as i64,
            &n.to_string(),
            &message,
        )
        .expect("message");
    }
}

/// Runs the overhead benchmark in `dir` and prints its table.
///
/// The routed calls and the held connection work on two identical files, so that neither side
/// reloads pages the other changed; both files are sources of the same database, so both get the
/// same settings. The sources have `pool-size = 2`, which leaves out background checkpoints: the
/// writer checkpoints as it commits, as the held connection does, so both sides do the same work.
pub(crate) fn run(dir: &Path, size: Size) {
    let routed_path = dir.join("routed.db");
    let path = dir.join("direct.db");
    fill(&routed_path);
    std::fs::copy(&routed_path, &path).expect("copy the database");
    let cached_path = dir.join("cached.db");
    std::fs::copy(&routed_path, &cached_path).expect("copy the database");
    let direct = SourceConfig::new("direct", &path).pool_size(2);
    // The routed side without its read cache: the routing's cost is what is measured. The cache
    // is measured on a database of its own.
    let routed = SqliteFile::new(&routed_path).cache(false);
    let config = Config::builder()
        .source(SourceConfig::at("main", routed).pool_size(2))
        .source(direct.clone())
        .default_source("main")
        .map_chat(MAPPED, "main")
        .build()
        .expect("configuration");
    let db = Database::open(config).expect("open");
    let cached = Database::open_path(&cached_path).expect("open the cached copy");

    // The direct side: connections with the settings of the router's reader and writer.
    let mut reader = direct_connection(&direct, Access::Read);
    let mut writer = direct_connection(&direct, Access::Write);

    println!(
        "Routing overhead: the routed method against the same diesel query on a held connection"
    );
    println!(
        "({} calls per batch, median of {} batches; reads in alternating batches, writes alternating call by call)\n",
        size.calls, size.rounds
    );
    println!("{:<34} {:>10} {:>10} {:>14}", "call", "direct", "routed", "routed/direct");
    read_rows(size, &db, &mut reader);
    // Nothing commits to the cached copy meanwhile: every call after the first of its key is
    // answered from memory.
    setting_row("get_chat_setting, cached", size, &cached, &mut reader);
    write_rows(size, &db, &mut writer);
    route_rows(size, &db);
    moved_rows(dir, size);
}

/// What following a moved chat costs: `size.calls` chats moved from `from` to `to` (their
/// settings copied, their record written in `from` as `move-chat` writes it), read and written
/// by a bot opened after the move: the first call of each chat finds it gone from `from` and goes
/// on (the re-routed call), the next goes straight to `to`; against the same call naming `to`,
/// and a chat that never moved.
fn moved_rows(dir: &Path, size: Size) {
    let (from_path, to_path) = (dir.join("moved-from.db"), dir.join("moved-to.db"));
    let chats = size.calls as i64;
    let moved = |i: i64| -1_009_000_000_000 - i;
    let stayed = -1_008_000_000_000;
    {
        let from = Database::open_path(&from_path).expect("open");
        let to = Database::open_path(&to_path).expect("open");
        for i in 0..chats {
            from.set_chat_setting(moved(i), "lang", "en").expect("fill");
            to.set_chat_setting(moved(i), "lang", "en").expect("fill");
        }
        from.set_chat_setting(stayed, "lang", "en").expect("fill");
    }
    let source =
        |name: &str, path: &Path| SourceConfig::at(name, SqliteFile::new(path).cache(false));
    let (from, to) = (source("from", &from_path), source("to", &to_path));
    let mut origin = Opened::open(&from, Purpose::Move { create: false }).expect("open the origin");
    origin.begin().expect("begin");
    for i in 0..chats {
        origin.delete("chat_settings", moved(i)).expect("delete");
        origin.record_move(moved(i), Some("to"), "2026-12-05 00:00:00").expect("record");
    }
    origin.commit().expect("commit");
    drop(origin);
    let config =
        Config::builder().source(from).source(to).default_source("from").build().expect("config");
    let per = |f: &mut dyn FnMut(i64)| {
        let started = std::time::Instant::now();
        for i in 0..chats {
            f(i);
        }
        started.elapsed().as_nanos() as f64 / chats as f64
    };
    println!(
        "
{:<34} {:>10} {:>10}",
        "a moved chat (cache off)", "read", "write"
    );
    let db = Database::open(config.clone()).expect("open");
    let read = |db: &Database, chat: i64, source: Option<&str>| {
        black_box(db.get_chat_setting(chat, "lang", source).expect("read"));
    };
    let write = |db: &Database, chat: i64| db.set_chat_setting(chat, "lang", "de").expect("write");
    // Warm both files' connections and statements.
    read(&db, stayed, None);
    read(&db, moved(0), Some("to"));
    let first_read = per(&mut |i| read(&db, moved(i), None));
    let later_read = per(&mut |i| read(&db, moved(i), None));
    let named_read = per(&mut |i| read(&db, moved(i), Some("to")));
    let unmoved_read = per(&mut |_| read(&db, stayed, None));
    let db = Database::open(config).expect("open");
    write(&db, stayed);
    let first_write = per(&mut |i| write(&db, moved(i)));
    let later_write = per(&mut |i| write(&db, moved(i)));
    let unmoved_write = per(&mut |_| write(&db, stayed));
    let line = |name: &str, read: f64, write: Option<f64>| {
        let write = write.map_or_else(|| "-".to_owned(), duration);
        println!("{name:<34} {:>10} {:>10}", duration(read), write);
    };
    line("first call after the move", first_read, Some(first_write));
    line("later calls (sent straight there)", later_read, Some(later_write));
    line("the read naming the destination", named_read, None);
    line("a chat that never moved", unmoved_read, Some(unmoved_write));
}

/// Prints one row of the table.
fn row(name: &str, p: Pair) {
    println!("{name:<34} {:>10} {:>10} {:>14.3}", duration(p.direct), duration(p.routed), p.ratio);
}

/// The keys of the settings the benchmark reads and writes.
fn keys() -> Vec<String> {
    (0..20).map(|k| format!("k{k:02}")).collect()
}

/// `get_chat_setting` routed on `db`, under `name`, against the same query on the held reader.
fn setting_row(name: &str, size: Size, db: &Database, reader: &mut Opened) {
    let keys = keys();
    row(
        name,
        pair(
            size,
            |i| {
                let found = chat_settings::get_chat_setting(
                    sqlite(reader),
                    chat(i as i64 % CHATS),
                    &keys[i % 20],
                );
                black_box(found.expect("read"));
            },
            |i| {
                black_box(
                    db.get_chat_setting(chat(i as i64 % CHATS), &keys[i % 20], None).expect("read"),
                );
            },
        ),
    );
}

/// The reads: each routed method against its query on the held reader.
fn read_rows(size: Size, db: &Database, reader: &mut Opened) {
    let ids: Vec<String> = (0..MESSAGES).map(|n| n.to_string()).collect();
    let pick = |i: usize| (i * 7919) % MESSAGES;
    setting_row("get_chat_setting", size, db, reader);
    row(
        "get_chat_message_by_message_id",
        pair(
            size,
            |i| {
                let n = pick(i);
                let found = chat_messages::get_chat_message_by_message_id(
                    sqlite(reader),
                    chat(n as i64 % CHATS),
                    &ids[n],
                );
                black_box(found.expect("read"));
            },
            |i| {
                let n = pick(i);
                let found =
                    db.get_chat_message_by_message_id(chat(n as i64 % CHATS), &ids[n], None);
                black_box(found.expect("read"));
            },
        ),
    );
}

/// The writes: each routed method against its query in a transaction of the held writer.
fn write_rows(size: Size, db: &Database, writer: &mut Opened) {
    let keys = keys();
    row(
        "set_chat_setting",
        pair_interleaved(
            size,
            |i| {
                sqlite(writer)
                    .immediate_transaction(|c| {
                        chat_settings::set_chat_setting(
                            c,
                            chat(i as i64 % CHATS),
                            &keys[i % 20],
                            "direct",
                        )
                    })
                    .expect("write");
            },
            |i| {
                db.set_chat_setting(chat(i as i64 % CHATS), &keys[i % 20], "routed").expect("write")
            },
        ),
    );
    let mut next_id = MESSAGES;
    let mut fresh = move || {
        next_id += 1;
        next_id
    };
    let fresh_ids = std::cell::RefCell::new(&mut fresh);
    row(
        "save_chat_message",
        pair_interleaved(
            size,
            |_| {
                let n = (fresh_ids.borrow_mut())();
                let message = NewMessage { message_text: "direct", ..NewMessage::default() };
                sqlite(writer)
                    .immediate_transaction(|c| {
                        chat_messages::save_chat_message(
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
            |_| {
                let n = (fresh_ids.borrow_mut())();
                let message = NewMessage { message_text: "routed", ..NewMessage::default() };
                db.save_chat_message(date(n), chat(n as i64 % CHATS), 1, &n.to_string(), &message)
                    .expect("write");
            },
        ),
    );
}

/// `Database::route` by tier.
fn route_rows(size: Size, db: &Database) {
    println!("\n{:<34} {:>10}", "Database::route, by tier", "per call");
    let route = |chat: Option<i64>, source: Option<&str>| {
        let mut times: Vec<f64> = (0..size.rounds)
            .map(|_| {
                per_call(size.calls * 20, |_| {
                    let route = db.route(black_box(chat), black_box(source)).expect("route");
                    black_box(route.source().len())
                })
            })
            .collect();
        median(&mut times)
    };
    println!(
        "{:<34} {:>10}",
        "explicit (source given)",
        duration(route(Some(MAPPED), Some("main")))
    );
    println!("{:<34} {:>10}", "chat mapping", duration(route(Some(MAPPED), None)));
    println!("{:<34} {:>10}", "default (unmapped chat)", duration(route(Some(UNMAPPED), None)));
    println!("{:<34} {:>10}", "default (global call)", duration(route(None, None)));
}

/// The calls `profile` runs: routed, then on a connection held directly.
pub(crate) const PROFILES: [&str; 7] =
    ["save", "lookup", "setting", "uncached-setting", "set", "direct-setting", "direct-set"];

/// Runs one call in a loop, for a profiler: `multisource-bench profile <what>`, one of
/// [`PROFILES`].
pub(crate) fn profile(dir: &Path, what: &str) {
    let path = dir.join("profile.db");
    // Without the read cache: what a read costs when it reads the file.
    let file = SqliteFile::new(&path).cache(what != "uncached-setting");
    // As in the overhead table: no background checkpoints, so that a writer held directly and
    // the router's do the same work.
    let source = SourceConfig::at("main", file).pool_size(2);
    let config = Config::builder().source(source).default_source("main");
    let db = Database::open(config.build().expect("configuration")).expect("open");
    for user in 0..20 {
        db.update_chat_user(chat(0), user, "@u", "U").expect("user");
    }
    for n in 0..500 {
        let message = NewMessage { message_text: "lorem ipsum", ..NewMessage::default() };
        db.save_chat_message(date(n), chat(0), (n % 20) as i64, &n.to_string(), &message)
            .expect("message");
    }
    db.set_chat_setting(chat(0), "k", "v").expect("setting");
    let ids: Vec<String> = (0..500).map(|n| n.to_string()).collect();
    let access = if what == "direct-set" { Access::Write } else { Access::Read };
    let mut held = what
        .starts_with("direct")
        .then(|| direct_connection(&SourceConfig::new("main", &path).pool_size(2), access));
    let values: Vec<String> = (0..5_000).map(|n| n.to_string()).collect();
    for i in 0..5_000 {
        match what {
            "direct-setting" => {
                let conn = sqlite(held.as_mut().expect("a held reader"));
                black_box(chat_settings::get_chat_setting(conn, chat(0), "k").expect("read"));
            }
            "direct-set" => {
                sqlite(held.as_mut().expect("a held writer"))
                    .immediate_transaction(|c| {
                        chat_settings::set_chat_setting(c, chat(0), "k", &values[i])
                    })
                    .expect("write");
            }
            "set" => db.set_chat_setting(chat(0), "k", &values[i]).expect("write"),
            "save" => {
                let message = NewMessage {
                    message_text: "lorem ipsum dolor sit amet",
                    ..NewMessage::default()
                };
                let n = 1_000 + i;
                db.save_chat_message(date(n), chat(0), (n % 20) as i64, &n.to_string(), &message)
                    .expect("save");
            }
            "lookup" => {
                black_box(
                    db.get_chat_message_by_message_id(chat(0), &ids[i % 500], None).expect("read"),
                );
            }
            _ => {
                black_box(db.get_chat_setting(chat(0), "k", None).expect("read"));
            }
        }
    }
}

//! The Python bot's measured workload (the specification its benchmark was run with, summarised
//! in `BENCHMARKS.md`), replayed exactly through multisource: the same seeded generator, ids,
//! rows and operation lists, rows (a) to (h).

use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::Instant;

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use multisource::{
    Config, Database, Durability, MessageCategory, MessageType, NewMessage, SourceConfig,
    SqliteFile,
};
use sha2::{Digest, Sha256};

use crate::util::{SplitMix64, duration, median, peak_rss_kib, rss_kib};

const SEED: u64 = 20251203;

/// How the workload is run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// The durability of the writable sources.
    pub(crate) durability: Durability,
    /// Repetitions; the workload takes the median of 5.
    pub(crate) reps: usize,
    /// The workload's sizes are divided by this (1 for the real workload).
    pub(crate) scale: usize,
}

/// The ids and memberships of the workload.
struct World {
    primary: Vec<i64>,
    secondary: Vec<i64>,
    archive: Vec<i64>,
    users: Vec<i64>,
    primary_members: Vec<Vec<i64>>,
    secondary_members: Vec<Vec<i64>>,
    archive_members: Vec<Vec<i64>>,
}

impl World {
    fn new() -> World {
        let users: Vec<i64> = (0..200).map(|j| 100_000 + j).collect();
        let members = |count: i64, modulo: i64| -> Vec<Vec<i64>> {
            (0..count)
                .map(|c| (0..200).filter(|j| (c + j) % modulo == 0).map(|j| 100_000 + j).collect())
                .collect()
        };
        World {
            primary: (0..50).map(|i| -1_001_000_000_000 - i).collect(),
            secondary: (0..10).map(|s| -1_002_000_000_000 - s).collect(),
            archive: (0..10).map(|a| -1_003_000_000_000 - a).collect(),
            users,
            primary_members: members(50, 5),
            secondary_members: members(10, 10),
            archive_members: members(10, 10),
        }
    }

    /// The 70 chats: primary, then secondary, then archive.
    fn all70(&self) -> Vec<i64> {
        [&self.primary[..], &self.secondary[..], &self.archive[..]].concat()
    }
}

/// One generated message. Its id and text are written out when it is used (into reusable
/// buffers, as the Python layer turned its integer ids into text in each call), so that the
/// workload's own lists weigh little in the peak RSS.
#[derive(Debug, Clone, Copy)]
struct Message {
    chat: i64,
    user: i64,
    id: u64,
    /// The number in the message's text.
    n: u64,
    date: NaiveDateTime,
}

/// Reusable text buffers for ids and message texts.
#[derive(Default)]
struct Text {
    id: String,
    body: String,
}

impl Text {
    fn id(&mut self, id: u64) -> &str {
        use std::fmt::Write;
        self.id.clear();
        let _ = write!(self.id, "{id}");
        &self.id
    }

    fn message(&mut self, m: &Message) -> (&str, &str) {
        use std::fmt::Write;
        self.id.clear();
        let _ = write!(self.id, "{}", m.id);
        self.body.clear();
        let _ = write!(self.body, "{}", MessageText(m.n, m.user, m.chat));
        (&self.id, &self.body)
    }
}

fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2025, 1, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).unwrap_or_default()
}

/// `f"message {n} from {user} in {chat}: lorem ipsum ..."`.
struct MessageText(u64, i64, i64);

impl std::fmt::Display for MessageText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let MessageText(n, user, chat) = self;
        write!(
            f,
            "message {n} from {user} in {chat}: lorem ipsum dolor sit amet, consectetur adipiscing \
             elit, sed do eiusmod tempor"
        )
    }
}

/// `genMessages(seed, chats, members, count, idBase)`.
fn gen_messages(
    seed: u64,
    chats: &[i64],
    members: &[Vec<i64>],
    count: usize,
    id_base: usize,
) -> Vec<Message> {
    let mut rng = SplitMix64::new(seed);
    (0..count)
        .map(|n| {
            let ci = rng.below(chats.len());
            let user = members[ci][rng.below(members[ci].len())];
            Message {
                chat: chats[ci],
                user,
                id: (id_base + n) as u64,
                n: n as u64,
                date: epoch() + TimeDelta::seconds(60 * n as i64),
            }
        })
        .collect()
}

/// The Python layer's `save_chat_message`, nanoseconds per call (the specification's range,
/// measured on a machine like this one; not measured here).
pub(crate) const PYTHON_SAVE: (f64, f64) = (814e3, 851e3);

/// The Python layer's `set_chat_setting`, nanoseconds per call (the specification's range).
pub(crate) const PYTHON_SET: (f64, f64) = (639e3, 645e3);

fn save(db: &Database, m: &Message, text: &mut Text) -> multisource::Result<()> {
    let (id, body) = text.message(m);
    let message = NewMessage {
        message_text: body,
        message_type: MessageType::Text,
        message_category: MessageCategory::User,
        ..NewMessage::default()
    };
    db.save_chat_message(m.date, m.chat, m.user, id, &message)
}

fn fill_chats(db: &Database, chats: &[i64], members: &[Vec<i64>]) {
    for (chat, users) in chats.iter().zip(members) {
        db.update_chat_info(*chat, "supergroup", Some(&format!("chat {chat}")), None, false)
            .expect("updateChatInfo");
        for user in users {
            db.update_chat_user(*chat, *user, &format!("@user{user}"), &format!("User {user}"))
                .expect("updateChatUser");
        }
    }
}

fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// The archive: built through the API with a single writable source, then closed, and frozen in
/// a rollback journal so that read-only opens leave no file behind.
fn build_archive(path: &Path, world: &World, archive_msgs: &[Message]) {
    remove(path);
    let config = Config::builder()
        .source(SourceConfig::new("archive", path))
        .default_source("archive")
        .build()
        .expect("archive configuration");
    let db = Database::open(config).expect("open the archive");
    fill_chats(&db, &world.archive, &world.archive_members);
    for chat in &world.archive {
        db.set_chat_setting(*chat, "k00", "archived").expect("setChatSetting");
    }
    let mut text = Text::default();
    for m in archive_msgs {
        save(&db, m, &mut text).expect("saveChatMessage");
    }
    drop(db);
    let mut conn = SqliteConnection::establish(&path.to_string_lossy()).expect("archive");
    conn.batch_execute("PRAGMA journal_mode = DELETE;").expect("freeze the archive");
}

fn config(dir: &Path, world: &World, options: Options) -> Config {
    let mut builder = Config::builder()
        .source(SourceConfig::at(
            "primary",
            SqliteFile::new(dir.join("primary.db")).durability(options.durability),
        ))
        .source(SourceConfig::at(
            "secondary",
            SqliteFile::new(dir.join("secondary.db")).durability(options.durability),
        ))
        .source(SourceConfig::new("archive", dir.join("archive.db")).readonly(true))
        .default_source("primary");
    for chat in &world.primary[..10] {
        builder = builder.map_chat(*chat, "primary");
    }
    for chat in &world.secondary {
        builder = builder.map_chat(*chat, "secondary");
    }
    for chat in &world.archive {
        builder = builder.map_chat(*chat, "archive");
    }
    builder.build().expect("configuration")
}

/// The timed rows of one repetition, in nanoseconds per operation (g: operations per second).
#[derive(Debug, Default, Clone)]
struct Rep {
    construction: f64,
    a: f64,
    b1: f64,
    b2: f64,
    b3: f64,
    c: f64,
    d1: f64,
    d2: f64,
    e1: f64,
    e2: f64,
    f0: f64,
    f_mixed: f64,
    f_mapped: f64,
    f_unmapped: f64,
    g: f64,
}

fn time_per_op(ops: usize, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_nanos() as f64 / ops.max(1) as f64
}

fn count(db: &Database, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    db.read(None, Some("primary"), |c| diesel::sql_query(sql).get_result::<N>(c)).expect("count").n
}

/// Runs the workload and prints its table.
/// The workload's messages and operation lists, generated once, outside the timed loops.
struct Workload {
    world: World,
    primary_msgs: Vec<Message>,
    secondary_msgs: Vec<Message>,
    archive_msgs: Vec<Message>,
    b_list: Vec<usize>,
    b3_list: Vec<usize>,
    c_list: Vec<(i64, i64)>,
    d_list: Vec<i64>,
    e1_list: Vec<(i64, String, String)>,
    e2_list: Vec<(i64, String)>,
    f_mixed: Vec<i64>,
    f_mapped: Vec<i64>,
    f_unmapped: Vec<i64>,
    /// The divisor of the sizes.
    scale: usize,
}

impl Workload {
    fn new(scale: usize) -> Workload {
        let world = World::new();
        let n = |count: usize| (count / scale).max(1);
        let archive_msgs =
            gen_messages(SEED + 3, &world.archive, &world.archive_members, n(5_000), 1);
        let secondary_msgs =
            gen_messages(SEED + 2, &world.secondary, &world.secondary_members, n(2_000), 1);
        let primary_msgs =
            gen_messages(SEED + 1, &world.primary, &world.primary_members, n(20_000), 1);
        let mut rng = SplitMix64::new(SEED + 10);
        let b_list = (0..n(20_000)).map(|_| rng.below(primary_msgs.len())).collect();
        let mut rng = SplitMix64::new(SEED + 16);
        let b3_list = (0..n(20_000)).map(|_| rng.below(archive_msgs.len())).collect();
        let mut rng = SplitMix64::new(SEED + 11);
        let c_list = (0..n(2_000))
            .map(|_| {
                let ci = rng.below(50);
                (world.primary[ci], world.primary_members[ci][rng.below(40)])
            })
            .collect();
        let mut rng = SplitMix64::new(SEED + 12);
        let d_list = (0..n(2_000)).map(|_| world.users[rng.below(200)]).collect();
        let mut rng = SplitMix64::new(SEED + 13);
        let e1_list = (0..n(10_000))
            .map(|i| {
                (world.primary[rng.below(50)], format!("k{:02}", rng.below(20)), format!("v{i}"))
            })
            .collect();
        let mut rng = SplitMix64::new(SEED + 14);
        let e2_list = (0..n(10_000))
            .map(|_| (world.primary[rng.below(50)], format!("k{:02}", rng.below(20))))
            .collect();
        let all70 = world.all70();
        let mut rng = SplitMix64::new(SEED + 15);
        let f_mixed = (0..n(100_000)).map(|_| all70[rng.below(70)]).collect();
        let f_mapped = (0..n(100_000)).map(|i| world.primary[i % 10]).collect();
        let f_unmapped = (0..n(100_000)).map(|i| world.primary[10 + i % 40]).collect();
        Workload {
            world,
            primary_msgs,
            secondary_msgs,
            archive_msgs,
            b_list,
            b3_list,
            c_list,
            d_list,
            e1_list,
            e2_list,
            f_mixed,
            f_mapped,
            f_unmapped,
            scale,
        }
    }

    /// A size of the workload's specification, divided by the scale.
    fn n(&self, count: usize) -> usize {
        (count / self.scale).max(1)
    }
}

/// What one repetition checked, beside its timings.
#[derive(Default)]
struct Checked {
    lines: Vec<String>,
    archive_unchanged: bool,
}

/// Runs the workload and prints its table.
pub(crate) fn run(dir: &Path, options: Options) {
    let workload = Workload::new(options.scale);
    build_archive(&dir.join("archive.db"), &workload.world, &workload.archive_msgs);
    let archive_bytes = std::fs::metadata(dir.join("archive.db")).map(|m| m.len()).unwrap_or(0);
    // What the workload's own lists and the archive's build hold, before any repetition.
    let baseline_rss = rss_kib();
    let mut reps = Vec::new();
    let mut checked = Checked { archive_unchanged: true, ..Checked::default() };
    for r in 0..options.reps {
        let (rep, this) = repetition(dir, &workload, options, r);
        reps.push(rep);
        checked.archive_unchanged &= this.archive_unchanged;
        if checked.lines.is_empty() {
            checked.lines = this.lines;
        }
    }
    report(&reps, &checked, options, archive_bytes, baseline_rss);
}

/// One repetition of rows (a) to (h), on fresh primary and secondary files.
fn repetition(dir: &Path, w: &Workload, options: Options, r: usize) -> (Rep, Checked) {
    remove(&dir.join("primary.db"));
    remove(&dir.join("secondary.db"));
    let mut rep = Rep::default();
    let mut checked = Checked::default();
    let started = Instant::now();
    let db = Database::open(config(dir, &w.world, options)).expect("open the three sources");
    rep.construction = started.elapsed().as_nanos() as f64;
    // Untimed set-up: the primary's chats and users, the secondary's contents.
    fill_chats(&db, &w.world.primary, &w.world.primary_members);
    fill_chats(&db, &w.world.secondary, &w.world.secondary_members);
    let mut text = Text::default();
    for m in &w.secondary_msgs {
        save(&db, m, &mut text).expect("saveChatMessage");
    }
    rep.a = time_per_op(w.primary_msgs.len(), || {
        for m in &w.primary_msgs {
            save(&db, m, &mut text).expect("saveChatMessage");
        }
    });
    checked.lines.push(state_after_a(&db, options));
    let c_rows = reads(&db, w, &mut text, &mut rep);
    writes_and_routes(&db, w, options, &mut rep);
    let existing: Vec<(i64, u64)> = w
        .primary_msgs
        .iter()
        .chain(&w.secondary_msgs)
        .chain(&w.archive_msgs)
        .map(|m| (m.chat, m.id))
        .collect();
    let (ops, failures) = mixed(&db, &w.world, r, w.n(2_000), &existing);
    rep.g = ops;
    checked.lines.push(format!(
        "(b) all lookups hit; (c) {c_rows} rows; (d) 12 and 10 chats per user; (e) all settings hit; (g) {failures} failures"
    ));
    let stats = db.stats();
    let errors: u64 = stats.sources.iter().map(|s| s.errors + s.fan_out_failures).sum();
    assert_eq!(errors, 0, "errors during the workload: {stats:?}");
    // (h) Writes to an archived chat, and the archive's bytes and time.
    let before = archive_state(&dir.join("archive.db"));
    let refused = db.set_chat_setting(w.world.archive[0], "k00", "overwritten").is_err()
        && db.update_chat_user(w.world.archive[0], w.world.users[0], "@x", "X").is_err();
    checked.archive_unchanged = refused && archive_state(&dir.join("archive.db")) == before;
    (rep, checked)
}

/// The state after (a), checked against the specification's at full size.
fn state_after_a(db: &Database, options: Options) -> String {
    let state = [
        count(db, "SELECT count(*) AS n FROM chat_messages"),
        count(db, "SELECT sum(messages_count) AS n FROM chat_users"),
        count(db, "SELECT count(*) AS n FROM chat_stats"),
        count(db, "SELECT count(*) AS n FROM chat_user_stats"),
    ];
    if options.scale == 1 {
        assert_eq!(state, [20_000, 20_000, 700, 14_266], "the state after (a)");
    }
    format!(
        "(a) rows {}, sum of messages_count {}, chat_stats rows {}, chat_user_stats rows {}",
        state[0], state[1], state[2], state[3]
    )
}

/// Rows (b) to (d); the rows (c) read.
fn reads(db: &Database, w: &Workload, text: &mut Text, rep: &mut Rep) -> usize {
    let mut lookup = |list: &[usize], msgs: &[Message], source: Option<&str>| {
        time_per_op(list.len(), || {
            for m in list.iter().map(|i| &msgs[*i]) {
                let id = text.id(m.id);
                let found = db.get_chat_message_by_message_id(m.chat, id, source).expect("lookup");
                assert!(found.is_some(), "lookup of {} in {} missed", m.id, m.chat);
            }
        })
    };
    rep.b1 = lookup(&w.b_list, &w.primary_msgs, None);
    rep.b2 = lookup(&w.b_list, &w.primary_msgs, Some("primary"));
    rep.b3 = lookup(&w.b3_list, &w.archive_msgs, None);
    let mut rows = 0;
    rep.c = time_per_op(w.c_list.len(), || {
        for (chat, user) in &w.c_list {
            rows += db.get_chat_messages_by_user(*chat, *user, 100, None).expect("byUser").len();
        }
    });
    let user_chats = |source: Option<&str>, want: usize| {
        time_per_op(w.d_list.len(), || {
            for user in &w.d_list {
                let chats = db.get_user_chats(*user, source).expect("userChats");
                assert_eq!(chats.len(), want, "getUserChats({user}, {source:?})");
            }
        })
    };
    rep.d1 = user_chats(None, 12);
    rep.d2 = user_chats(Some("primary"), 10);
    rows
}

/// Rows (e) and (f).
fn writes_and_routes(db: &Database, w: &Workload, options: Options, rep: &mut Rep) {
    rep.e1 = time_per_op(w.e1_list.len(), || {
        for (chat, key, value) in &w.e1_list {
            db.set_chat_setting(*chat, key, value).expect("setChatSetting");
        }
    });
    rep.e2 = time_per_op(w.e2_list.len(), || {
        for (chat, key) in &w.e2_list {
            let value = db.get_chat_setting(*chat, key, None).expect("getChatSetting");
            // At full size, (e1) has set every key (e2) asks for.
            assert!(value.is_some() || options.scale > 1, "getChatSetting({chat}, {key}) missed");
        }
    });
    let route = |list: &[i64]| {
        time_per_op(list.len(), || {
            for chat in list {
                std::hint::black_box(db.route(Some(*chat), None).expect("route"));
            }
        })
    };
    rep.f0 = time_per_op(w.f_mixed.len(), || {
        for chat in &w.f_mixed {
            std::hint::black_box(noop(Some(*chat), None));
        }
    });
    rep.f_mixed = route(&w.f_mixed);
    rep.f_mapped = route(&w.f_mapped);
    rep.f_unmapped = route(&w.f_unmapped);
}

/// Prints the table: each row's median against the Python layer's figures.
fn report(
    reps: &[Rep],
    checked: &Checked,
    options: Options,
    archive_bytes: u64,
    baseline_rss: u64,
) {
    let median_of = |f: fn(&Rep) -> f64| {
        let mut values: Vec<f64> = reps.iter().map(f).collect();
        median(&mut values)
    };
    header(reps.len(), checked, options, archive_bytes);
    println!(
        "{:<6} {:<44} {:>12} {:>18} {:>10}",
        "row", "operation", "multisource", "Python (peer)", "faster by"
    );
    let row = |name: &str, op: &str, ours: f64, python: (f64, f64)| {
        println!(
            "{name:<6} {op:<44} {:>12} {:>18} {:>9.1}x",
            duration(ours),
            format!("{}-{}", duration(python.0), duration(python.1)),
            python.0 / ours
        );
    };
    let ours_only = |name: &str, op: &str, value: String| {
        println!("{name:<6} {op:<44} {value:>12}");
    };
    row("(a)", "save_chat_message", median_of(|r| r.a), PYTHON_SAVE);
    ours_only(
        "",
        "construction (open + migrate two files)",
        duration(median_of(|r| r.construction)),
    );
    row("(b1)", "get_chat_message_by_message_id, routed", median_of(|r| r.b1), (63e3, 66e3));
    row("(b2)", "get_chat_message_by_message_id, explicit", median_of(|r| r.b2), (63e3, 66e3));
    ours_only("(b3)", "get_chat_message_by_message_id, archive", duration(median_of(|r| r.b3)));
    row("(c)", "get_chat_messages_by_user (limit 100)", median_of(|r| r.c), (686e3, 794e3));
    row("(d1)", "get_user_chats, all 3 sources", median_of(|r| r.d1), (563e3, 598e3));
    row("(d2)", "get_user_chats, primary only", median_of(|r| r.d2), (440e3, 506e3));
    row("(e1)", "set_chat_setting", median_of(|r| r.e1), PYTHON_SET);
    row("(e2)", "get_chat_setting", median_of(|r| r.e2), (8.2e3, 8.5e3));
    ours_only("(f0)", "loop and call, no routing", duration(median_of(|r| r.f0)));
    row("(f)", "route, mixed70", median_of(|r| r.f_mixed), (205.0, 327.0));
    row("(f)", "route, mapped", median_of(|r| r.f_mapped), (205.0, 327.0));
    row("(f)", "route, unmapped", median_of(|r| r.f_unmapped), (205.0, 327.0));
    let g = median_of(|r| r.g);
    println!(
        "{:<6} {:<44} {:>12} {:>18} {:>9.1}x",
        "(g)",
        "mixed, 8 threads (operations per second)",
        format!("{g:.0}/s"),
        "1,554-2,337/s",
        g / 2337.0
    );
    let unchanged = if checked.archive_unchanged { "yes" } else { "NO" };
    ours_only("(h)", "writes to the archive: refused, file unchanged", unchanged.to_owned());
    let rss = peak_rss_kib() as f64 / 1024.0;
    println!(
        "{:<6} {:<44} {:>12} {:>18} {:>9.1}x",
        "",
        "peak RSS of the process",
        format!("{rss:.1} MiB"),
        "about 115 MiB",
        115.0 / rss
    );
    let above = peak_rss_kib().saturating_sub(baseline_rss) as f64 / 1024.0;
    ours_only("", "  of which above the workload's lists", format!("{above:.1} MiB"));
    println!(
        "\n\"faster by\" divides the faster end of the Python range by ours (for (g), ours by Python's best)."
    );
}

/// What the run was: its durability, its repetitions, and the checks of its results.
fn header(repetitions: usize, checked: &Checked, options: Options, archive_bytes: u64) {
    let durability = match options.durability {
        Durability::Normal => "normal (WAL, synchronous=NORMAL)",
        Durability::Full => "full (WAL, synchronous=FULL)",
    };
    println!("Peer workload, durability {durability}, median of {repetitions} repetition(s)");
    if options.scale > 1 {
        println!("(sizes divided by {}: a check of the harness, not a measurement)", options.scale);
    }
    println!("archive.db: {archive_bytes} bytes");
    for line in &checked.lines {
        println!("{line}");
    }
    println!();
}

#[inline(never)]
fn noop(chat: Option<i64>, source: Option<&str>) -> usize {
    std::hint::black_box(chat).map_or(0, |c| c as usize) + source.map_or(0, str::len)
}

/// (g): 8 threads sharing the database, `ops` operations each. Returns operations per second and
/// the number of failed checks.
fn mixed(
    db: &Database,
    world: &World,
    rep: usize,
    ops: usize,
    existing: &[(i64, u64)],
) -> (f64, usize) {
    mixed_with(db, world, rep, ops, existing, 8)
}

/// (g) with `threads` threads.
fn mixed_with(
    db: &Database,
    world: &World,
    rep: usize,
    ops: usize,
    existing: &[(i64, u64)],
    threads: usize,
) -> (f64, usize) {
    let ps: Vec<i64> = [&world.primary[..], &world.secondary[..]].concat();
    let ps_members: Vec<&Vec<i64>> =
        world.primary_members.iter().chain(&world.secondary_members).collect();
    let all70 = world.all70();
    let barrier = Barrier::new(threads + 1);
    let failures = std::sync::atomic::AtomicUsize::new(0);
    let elapsed = std::thread::scope(|scope| {
        for t in 0..threads {
            let (barrier, ps, ps_members, all70, failures) =
                (&barrier, &ps, &ps_members, &all70, &failures);
            scope.spawn(move || {
                let mut rng = SplitMix64::new(SEED + 100 + 10 * rep as u64 + t as u64);
                // The operations are drawn before the barrier, so that the timed part only runs them.
                let plan: Vec<Op> = (0..ops)
                    .map(|k| Op::draw(&mut rng, t, k, rep, world, ps, ps_members, all70, existing))
                    .collect();
                let mut text = Text::default();
                barrier.wait();
                for op in plan {
                    if !op.run(db, &mut text) {
                        failures.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
        barrier.wait();
        let started = Instant::now();
        // The scope joins every thread before returning.
        started
    })
    .elapsed();
    let failures = failures.into_inner();
    assert_eq!(failures, 0, "(g) had failed operations");
    ((threads * ops) as f64 / elapsed.as_secs_f64(), failures)
}

/// One operation of the mixed workload.
enum Op {
    Save(Message),
    Set(i64, u8, String),
    Get(i64, u64),
    Setting(i64, u8),
    ByUser(i64, i64),
    UserChats(i64),
}

/// `f"k{n:02d}"`, the keys of the settings.
fn key(n: u8) -> String {
    format!("k{n:02}")
}

impl Op {
    #[allow(clippy::too_many_arguments)]
    fn draw(
        rng: &mut SplitMix64,
        t: usize,
        k: usize,
        rep: usize,
        world: &World,
        ps: &[i64],
        ps_members: &[&Vec<i64>],
        all70: &[i64],
        existing: &[(i64, u64)],
    ) -> Op {
        let x = rng.below(100);
        if x < 20 {
            let ci = rng.below(60);
            let user = ps_members[ci][rng.below(ps_members[ci].len())];
            let id = 10_000_000 + rep * 1_000_000 + t * 10_000 + k;
            Op::Save(Message {
                chat: ps[ci],
                user,
                id: id as u64,
                n: id as u64,
                date: epoch() + TimeDelta::seconds(id as i64),
            })
        } else if x < 30 {
            let chat = ps[rng.below(60)];
            Op::Set(chat, rng.below(20) as u8, format!("t{t}-{k}"))
        } else if x < 70 {
            let (chat, id) = existing[rng.below(existing.len())];
            Op::Get(chat, id)
        } else if x < 85 {
            let chat = all70[rng.below(70)];
            Op::Setting(chat, rng.below(20) as u8)
        } else if x < 95 {
            let ci = rng.below(50);
            Op::ByUser(world.primary[ci], world.primary_members[ci][rng.below(40)])
        } else {
            Op::UserChats(world.users[rng.below(200)])
        }
    }

    /// Runs the operation; false when a check fails.
    fn run(self, db: &Database, text: &mut Text) -> bool {
        match self {
            Op::Save(m) => save(db, &m, text).is_ok(),
            Op::Set(chat, k, value) => db.set_chat_setting(chat, &key(k), &value).is_ok(),
            Op::Get(chat, id) => {
                matches!(db.get_chat_message_by_message_id(chat, text.id(id), None), Ok(Some(_)))
            }
            Op::Setting(chat, k) => db.get_chat_setting(chat, &key(k), None).is_ok(),
            Op::ByUser(chat, user) => db.get_chat_messages_by_user(chat, user, 100, None).is_ok(),
            Op::UserChats(user) => {
                matches!(db.get_user_chats(user, None), Ok(chats) if chats.len() == 12)
            }
        }
    }
}

fn archive_state(path: &Path) -> (String, Option<std::time::SystemTime>) {
    // Hashed as it is read, a block at a time: the check adds nothing to the peak memory.
    let mut hasher = Sha256::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let mut block = [0u8; 64 * 1024];
        while let Ok(n @ 1..) = std::io::Read::read(&mut file, &mut block) {
            hasher.update(&block[..n]);
        }
    }
    let hash: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    (hash, std::fs::metadata(path).and_then(|m| m.modified()).ok())
}

/// (g) with 1 to 128 threads on the workload's three sources, as they are after (a), with
/// `durability`: operations per second, the median of `reps` runs each. Every run starts from a
/// copy of the same files, as every repetition of the workload starts afresh. The total of
/// operations stays 16,000 (divided by `scale`).
pub(crate) fn mixed_by_threads(
    dir: &Path,
    scale: usize,
    reps: usize,
    durability: Durability,
) -> Vec<(usize, f64)> {
    let world = World::new();
    let n = |count: usize| (count / scale).max(1);
    let archive_msgs = gen_messages(SEED + 3, &world.archive, &world.archive_members, n(5_000), 1);
    let secondary_msgs =
        gen_messages(SEED + 2, &world.secondary, &world.secondary_members, n(2_000), 1);
    let primary_msgs = gen_messages(SEED + 1, &world.primary, &world.primary_members, n(20_000), 1);
    build_archive(&dir.join("archive.db"), &world, &archive_msgs);
    let options = Options { durability, reps, scale };
    for name in ["primary.db", "secondary.db"] {
        remove(&dir.join(name));
    }
    {
        let db = Database::open(config(dir, &world, options)).expect("open the three sources");
        fill_chats(&db, &world.primary, &world.primary_members);
        fill_chats(&db, &world.secondary, &world.secondary_members);
        let mut text = Text::default();
        for m in secondary_msgs.iter().chain(&primary_msgs) {
            save(&db, m, &mut text).expect("saveChatMessage");
        }
    }
    // Closed, the files are whole (the last connection checkpointed the log): keep them.
    for name in ["primary.db", "secondary.db"] {
        std::fs::copy(dir.join(name), dir.join(format!("{name}.template"))).expect("copy");
    }
    let existing: Vec<(i64, u64)> = primary_msgs
        .iter()
        .chain(&secondary_msgs)
        .chain(&archive_msgs)
        .map(|m| (m.chat, m.id))
        .collect();
    let mut rep = 0;
    [1, 2, 4, 8, 32, 128]
        .into_iter()
        .map(|threads| {
            let mut runs: Vec<f64> = (0..reps)
                .map(|_| {
                    rep += 1;
                    for name in ["primary.db", "secondary.db"] {
                        remove(&dir.join(name));
                        std::fs::copy(dir.join(format!("{name}.template")), dir.join(name))
                            .expect("copy");
                    }
                    let db = Database::open(config(dir, &world, options))
                        .expect("open the three sources");
                    mixed_with(&db, &world, rep, n(16_000) / threads, &existing, threads).0
                })
                .collect();
            (threads, median(&mut runs))
        })
        .collect()
}

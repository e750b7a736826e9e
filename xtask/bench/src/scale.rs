//! How costs grow: opening and calling with 1, 8 and 64 sources; loading and routing with chat
//! mappings of 10 to 1,000,000 entries; `multisource archive` beside a large mapping; fan-out over
//! 1 to 8 sources; the mixed workload over 1 to 128 threads, with each durability; file
//! descriptors per source.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use multisource::{Config, Database, Durability, SourceConfig};

use crate::util::{SplitMix64, duration, median, open_fds, per_call};

/// How much work each measurement does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Size {
    pub(crate) calls: usize,
    pub(crate) reps: usize,
    /// The peer workload's sizes are divided by this for the thread scaling (1: real size).
    pub(crate) scale: usize,
    /// The largest chat mapping measured.
    pub(crate) max_mapping: usize,
}

fn chat(i: usize) -> i64 {
    -1_001_000_000_000 - i as i64
}

fn sources_config(dir: &Path, count: usize, prefix: &str) -> Config {
    let mut builder = Config::builder().default_source(format!("{prefix}0"));
    for i in 0..count {
        builder = builder
            .source(SourceConfig::new(format!("{prefix}{i}"), dir.join(format!("{prefix}{i}.db"))));
        builder = builder.map_chat(chat(i), format!("{prefix}{i}"));
    }
    builder.build().expect("configuration")
}

/// Runs the scale benchmark and prints its tables.
pub(crate) fn run(dir: &Path, size: Size) {
    sources(dir, size);
    loading(size);
    archive(dir, size);
    mapping(dir, size);
    fan_out(dir, size);
    threads(dir, size);
}

fn sources(dir: &Path, size: Size) {
    println!("Sources: opening, a routed read on the last source, file descriptors");
    println!(
        "{:>8} {:>16} {:>16} {:>16} {:>16}",
        "sources", "open (new files)", "open (existing)", "get_chat_setting", "fds per source"
    );
    for count in [1, 8, 64] {
        let prefix = format!("s{count}-");
        let started = Instant::now();
        let db = Database::open(sources_config(dir, count, &prefix)).expect("open");
        let fresh = started.elapsed().as_nanos() as f64;
        drop(db);
        let started = Instant::now();
        let db = Database::open(sources_config(dir, count, &prefix)).expect("open");
        let existing = started.elapsed().as_nanos() as f64;
        let last = chat(count - 1);
        // Connections open on demand: an opened database holds none yet.
        let fds_before = open_fds();
        // One write and one read on every source: each opens its writer and a reader.
        for i in 0..count {
            db.set_chat_setting(chat(i), "k", "v").expect("write");
            black_box(db.get_chat_setting(chat(i), "k", None).expect("read"));
        }
        let fds = (open_fds().saturating_sub(fds_before)) as f64 / count as f64;
        let mut times: Vec<f64> = (0..size.reps)
            .map(|_| per_call(size.calls, |_| db.get_chat_setting(last, "k", None).expect("read")))
            .collect();
        println!(
            "{count:>8} {:>16} {:>16} {:>16} {:>16.1}",
            duration(fresh),
            duration(existing),
            duration(median(&mut times)),
            fds
        );
    }
    println!(
        "(a source used for a read and a write holds its writer and one reader: the database file and its\n\
         log each, and the shared-memory index; more readers open as calls overlap)\n"
    );
}

/// The text of a configuration with two sources and a chat mapping of `entries` chats.
fn mapping_text(entries: usize, chats: impl Fn(usize) -> i64) -> String {
    let mut text = String::from(
        "[database]\ndefault = \"a\"\n[database.sources.a]\npath = \"a.db\"\n\
         [database.sources.b]\npath = \"b.db\"\n\n[database.chatMapping]\n",
    );
    for i in 0..entries {
        text.push_str(&format!("{} = \"{}\"\n", chats(i), if i % 2 == 0 { "a" } else { "b" }));
    }
    text
}

fn loading(size: Size) {
    println!("Loading a configuration with a chat mapping of N entries (Config::from_toml_str)");
    println!("{:>10} {:>14} {:>14}", "entries", "load", "per entry");
    let sizes: Vec<usize> = [5_000, 10_000, 20_000, 40_000, 50_000, 1_000_000]
        .into_iter()
        .filter(|n| *n <= size.max_mapping)
        .collect();
    for entries in sizes {
        let text = mapping_text(entries, chat);
        let reps = if entries >= 1_000_000 { size.reps.min(3) } else { size.reps };
        let mut times: Vec<f64> = (0..reps)
            .map(|_| {
                let started = Instant::now();
                let config = Config::from_toml_str(&text).expect("configuration");
                assert_eq!(config.chat_mapping().len(), entries);
                black_box(config);
                started.elapsed().as_nanos() as f64
            })
            .collect();
        let load = median(&mut times);
        println!("{entries:>10} {:>14} {:>14}", duration(load), duration(load / entries as f64));
    }
    println!("(linear: the duplicate check is a hash lookup per entry)\n");
}

/// `multisource archive` of 14 quiet chats, beside a chat mapping of 10 and of 20,000 entries:
/// the cost follows the chats moved, not the mapping.
fn archive(dir: &Path, size: Size) {
    println!("multisource archive: 14 quiet chats moved, beside a mapping of N other chats");
    println!("{:>10} {:>14} {:>14}", "entries", "archive", "per chat");
    let quiet: Vec<i64> = (0..14).map(|i| -1_009_000_000_000 - i).collect();
    for entries in [10, 20_000].into_iter().filter(|n| *n <= size.max_mapping) {
        let folder = dir.join(format!("archive-{entries}"));
        std::fs::create_dir_all(&folder).expect("a folder");
        let config = folder.join("bot.toml");
        std::fs::write(&config, mapping_text(entries, chat)).expect("write the configuration");
        let db = Database::from_config_file(&config).expect("open");
        let long_ago = chrono::Utc::now().naive_utc() - chrono::TimeDelta::days(400);
        for chat in &quiet {
            db.update_chat_user(*chat, 7, "@u", "U").expect("write");
            for m in 0..20 {
                let message = multisource::NewMessage::default();
                db.save_chat_message(long_ago, *chat, 7, &m.to_string(), &message).expect("write");
            }
        }
        drop(db);
        let started = Instant::now();
        let config_arg = config.to_string_lossy().into_owned();
        let args = [
            "multisource",
            "archive",
            "--config",
            &config_arg,
            "--inactive-days",
            "30",
            "--to",
            "b",
            "--json",
        ];
        let ran = multisource_cli::run_captured(args);
        let took = started.elapsed().as_nanos() as f64;
        assert_eq!(ran.status, 0, "archive failed: {}", ran.stderr);
        println!(
            "{entries:>10} {:>14} {:>14}",
            duration(took),
            duration(took / quiet.len() as f64)
        );
    }
    println!("(the mapping is read once and rewritten once for every chat moved)\n");
}

fn mapping(dir: &Path, size: Size) {
    println!("Route resolution with a chat mapping of N entries");
    println!(
        "{:>10} {:>22} {:>22} {:>14}",
        "entries", "70 chats, over again", "random mapped chats", "unmapped"
    );
    let sizes: Vec<usize> =
        [10, 10_000, 1_000_000].into_iter().filter(|n| *n <= size.max_mapping).collect();
    for entries in sizes {
        let mut builder = Config::builder()
            .source(SourceConfig::new("a", dir.join(format!("map-{entries}-a.db"))))
            .source(SourceConfig::new("b", dir.join(format!("map-{entries}-b.db"))))
            .default_source("a");
        for i in 0..entries {
            builder = builder.map_chat(chat(i), if i % 2 == 0 { "a" } else { "b" });
        }
        let db = Database::open(builder.build().expect("configuration")).expect("open");
        let mut rng = SplitMix64::new(7);
        let working: Vec<i64> = (0..size.calls).map(|i| chat(i % 70.min(entries))).collect();
        let random: Vec<i64> = (0..size.calls).map(|_| chat(rng.below(entries))).collect();
        let unmapped: Vec<i64> = (0..size.calls).map(|i| chat(entries + i % 40)).collect();
        let time = |list: &[i64]| {
            let mut times: Vec<f64> = (0..size.reps)
                .map(|_| {
                    per_call(list.len(), |i| db.route(Some(list[i]), None).expect("route").tier())
                })
                .collect();
            median(&mut times)
        };
        println!(
            "{entries:>10} {:>22} {:>22} {:>14}",
            duration(time(&working)),
            duration(time(&random)),
            duration(time(&unmapped))
        );
    }
    println!(
        "(the mapping is a hash map: the lookup does not depend on its size; a random chat among a million\n\
         costs a cache miss, which is memory, not routing)\n"
    );
}

fn fan_out(dir: &Path, size: Size) {
    println!(
        "Reads of every source: get_user_chats (a few chats per source) and get_all_group_chats"
    );
    println!("(20,000 groups per source, a part slow enough to go to a helper thread)");
    println!(
        "{:>8} {:>18} {:>18} {:>22}",
        "sources", "get_user_chats", "one source alone", "get_all_group_chats"
    );
    for count in [1, 2, 4, 8] {
        let prefix = format!("f{count}-");
        let db = Database::open(sources_config(dir, count, &prefix)).expect("open");
        let groups = (20_000 / size.scale).max(10);
        for i in 0..count {
            // Each source holds the user's chats and many groups; fill through its mapped chat.
            db.write(Some(chat(i)), |conn| {
                use diesel::connection::SimpleConnection;
                conn.batch_execute(&format!(
                    "WITH RECURSIVE n(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM n WHERE x < {groups})
                     INSERT INTO chat_info (chat_id, title, type) SELECT -{i}000000 - x, 'group ' || x, 'group' FROM n;
                     INSERT INTO chat_users (chat_id, user_id, username, full_name)
                     SELECT chat_id, 42, '@u', 'U' FROM chat_info ORDER BY chat_id DESC LIMIT 5;"
                ))
            })
            .expect("fill");
        }
        let user = |source: Option<&str>| {
            // Warm: readers opened, statements prepared, the helpers' estimates made.
            per_call(20, |_| db.get_user_chats(42, source).expect("fan-out").len());
            let mut times: Vec<f64> = (0..size.reps)
                .map(|_| {
                    per_call(size.calls / 10 + 1, |_| {
                        db.get_user_chats(42, source).expect("fan-out").len()
                    })
                })
                .collect();
            median(&mut times)
        };
        let all = user(None);
        let one = user(Some(&format!("{prefix}0")));
        per_call(10, |_| db.get_all_group_chats(None).expect("fan-out").len());
        let mut times: Vec<f64> = (0..size.reps)
            .map(|_| per_call(10, |_| db.get_all_group_chats(None).expect("fan-out").len()))
            .collect();
        println!(
            "{count:>8} {:>18} {:>18} {:>22}",
            duration(all),
            duration(one),
            duration(median(&mut times))
        );
    }
    println!(
        "(parts that take less than a hand-off to a helper run on the calling thread, one after the other;\n\
         slower parts run on helper threads; 2 cores here)\n"
    );
}

fn threads(dir: &Path, size: Size) {
    println!("The mixed workload (g) by threads, on the peer workload's three sources");
    println!("(operations per second, and against 1 thread)");
    println!("{:>8} {:>22} {:>22}", "threads", "durability normal", "durability full");
    let normal = crate::peer::mixed_by_threads(dir, size.scale, size.reps, Durability::Normal);
    let full = crate::peer::mixed_by_threads(dir, size.scale, size.reps, Durability::Full);
    let cell = |ops: f64, one: f64| format!("{ops:.0} ({:.2})", ops / one);
    for ((threads, n), (_, f)) in normal.iter().zip(&full) {
        println!("{threads:>8} {:>22} {:>22}", cell(*n, normal[0].1), cell(*f, full[0].1));
    }
}

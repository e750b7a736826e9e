//! How costs grow: opening and calling with 1, 8 and 64 sources; route resolution with chat
//! mappings of 10 to 1,000,000 entries; fan-out over 1 to 8 sources; the mixed workload over 1 to
//! 8 threads; file descriptors per source.

use std::hint::black_box;
use std::path::Path;
use std::time::Instant;

use multisource::{Config, Database, SourceConfig};

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
    println!("{:>8} {:>22}", "threads", "operations per second");
    for (threads, ops) in crate::peer::mixed_by_threads(dir, size.scale, size.reps) {
        println!("{threads:>8} {:>22.0}", ops);
    }
}

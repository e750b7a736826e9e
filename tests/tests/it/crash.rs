//! Crash safety: a process that writes messages is killed with SIGKILL at arbitrary moments; every
//! write it acknowledged is found afterwards, and the file passes `PRAGMA integrity_check`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::common::{Scratch, raw};

/// SplitMix64, for kill moments that differ from round to round but repeat from run to run.
struct Moments(u64);

impl Moments {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below
    }
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs `rounds` rounds of write-then-kill on one file with `durability`; checks the file after
/// each.
fn kill_rounds(durability: &str, threads: u64, rounds: u64, seed: u64) {
    let scratch = Scratch::new();
    let path = scratch.path("crash.db");
    let mut moments = Moments(seed);
    let mut acknowledged: Vec<u64> = Vec::new();
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_multisource-child"))
            .args([
                "write-messages",
                &path.to_string_lossy(),
                &(round * 1_000_000).to_string(),
                durability,
                &threads.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the writer");
        let mut lines = BufReader::new(child.stdout.take().expect("the writer's output"));
        // Let it acknowledge a few dozen to a few hundred writes, then kill it mid-flight.
        let before_kill = 20 + moments.next(300);
        let mut line = String::new();
        for _ in 0..before_kill {
            line.clear();
            if lines.read_line(&mut line).expect("read the writer") == 0 {
                break;
            }
            acknowledged.push(line.trim().parse().expect("an id"));
        }
        std::thread::sleep(Duration::from_micros(moments.next(2_000)));
        child.kill().expect("SIGKILL the writer");
        // What it printed before dying was acknowledged too.
        for line in lines.lines() {
            acknowledged.push(line.expect("read the writer").trim().parse().expect("an id"));
        }
        let status = child.wait().expect("reap the writer");
        assert!(!status.success(), "the writer was killed, round {round}");

        let mut conn = raw(&path);
        let check: Vec<Line> =
            diesel::sql_query("SELECT integrity_check AS line FROM pragma_integrity_check")
                .load(&mut conn)
                .expect("integrity_check");
        assert_eq!(check.len(), 1, "round {round}");
        assert_eq!(check[0].line, "ok", "round {round}");
        let stored: std::collections::BTreeSet<u64> =
            diesel::sql_query("SELECT message_id AS line FROM chat_messages")
                .load::<Line>(&mut conn)
                .expect("messages")
                .into_iter()
                .map(|l| l.line.parse().expect("an id"))
                .collect();
        let missing: Vec<&u64> = acknowledged.iter().filter(|id| !stored.contains(id)).collect();
        assert!(missing.is_empty(), "round {round}: acknowledged and lost: {missing:?}");
        // Each save is one transaction: the author's counter matches the messages exactly.
        let counted = diesel::sql_query("SELECT sum(messages_count) AS n FROM chat_users")
            .get_result::<Count>(&mut conn)
            .expect("counter")
            .n;
        assert_eq!(counted as usize, stored.len(), "round {round}");
    }
    assert!(acknowledged.len() as u64 >= rounds * 20);
}

#[test]
fn acknowledged_writes_survive_sigkill_with_the_default_durability() {
    kill_rounds("normal", 1, 6, 20251203);
}

#[test]
fn acknowledged_batched_writes_of_eight_threads_survive_sigkill_with_the_default_durability() {
    kill_rounds("normal", 8, 4, 7);
}

#[test]
fn acknowledged_batched_writes_of_eight_threads_survive_sigkill_with_full_durability() {
    kill_rounds("full", 8, 3, 11);
}

#[test]
fn acknowledged_writes_survive_sigkill_with_full_durability() {
    kill_rounds("full", 1, 3, 42);
}

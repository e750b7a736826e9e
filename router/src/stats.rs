//! Per-source counters: calls per tier, refused writes, pool checkouts and time waited, fan-out
//! failures. Counting is a relaxed atomic add; reading them is [`crate::Router::stats`].

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::route::Tier;

/// A snapshot of every source's counters, in configuration order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Stats {
    /// One entry per source.
    pub sources: Vec<SourceStats>,
}

impl Stats {
    /// The counters of the source named `name`.
    pub fn source(&self, name: &str) -> Option<&SourceStats> {
        self.sources.iter().find(|s| s.name == name)
    }
}

/// Calls counted by the tier that resolved them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TierCounts {
    /// Calls that named the source explicitly.
    pub explicit: u64,
    /// Calls routed by the chat mapping.
    pub chat_mapping: u64,
    /// Calls that fell back to the default source.
    pub default: u64,
    /// Calls of chats that moved here from the source the other tiers chose.
    pub moved: u64,
}

impl TierCounts {
    /// All calls, whatever their tier.
    pub fn total(&self) -> u64 {
        self.explicit + self.chat_mapping + self.default + self.moved
    }
}

/// The counters of one source since the database was opened.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceStats {
    /// The source's name.
    pub name: String,
    /// Reads resolved to this source, by tier.
    pub reads: TierCounts,
    /// Writes resolved to this source, by tier (never explicit), including refused ones.
    pub writes: TierCounts,
    /// Visits of this source by reads that fanned out to every source.
    pub fan_out_reads: u64,
    /// Writes refused because the source is read-only.
    pub refused_writes: u64,
    /// Calls that returned an error, refused writes included.
    pub errors: u64,
    /// Fan-out visits of this source that failed.
    pub fan_out_failures: u64,
    /// Connections checked out of the source's pools.
    pub checkouts: u64,
    /// Time spent waiting for those checkouts, in total.
    pub checkout_wait: Duration,
    /// Checkouts that gave up after the source's timeout.
    pub checkout_timeouts: u64,
    /// Connections the source holds open now: its pools', and the background checkpointer's.
    pub open_connections: u32,
    /// Background checkpoints run on the source (writable sources with `pool-size` 3 or more).
    pub background_checkpoints: u64,
    /// Transactions the source's writers began for writes: one per write with
    /// `group-commit = false`, one per batch of writes otherwise.
    pub write_transactions: u64,
    /// Writes waiting now for the writer, to join the next batch.
    pub writes_waiting: u32,
    /// Cached reads answered from memory, nothing having committed to the file since their
    /// answer was read (counted in `reads` too).
    pub cache_hits: u64,
    /// Cached reads that read the file: the first of their kind, or after a commit (counted in
    /// `reads` too). Both stay 0 on a source without a cache.
    pub cache_misses: u64,
    /// Calls that came here for a chat that had left this source, and were sent on to where it
    /// went (counted there, under `moved`).
    pub moved_away: u64,
}

/// The live counters of one source.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    reads: [AtomicU64; 4],
    writes: [AtomicU64; 4],
    moved_away: AtomicU64,
    fan_out_reads: AtomicU64,
    refused_writes: AtomicU64,
    errors: AtomicU64,
    fan_out_failures: AtomicU64,
    // Checkouts are not counted on their own: every call that resolved to the source and was not
    // refused or timed out got one (see `snapshot`).
    wait_nanos: AtomicU64,
    timeouts: AtomicU64,
    transactions: AtomicU64,
    // A moving average of how long this source's parts of fan-out reads take, in nanoseconds.
    fan_out_nanos: AtomicU64,
}

impl Counters {
    pub(crate) fn read(&self, tier: Tier) {
        self.reads[tier as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn write(&self, tier: Tier) {
        self.writes[tier as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn fan_out_read(&self) {
        self.fan_out_reads.fetch_add(1, Relaxed);
    }

    /// A call found its chat gone from this source.
    pub(crate) fn moved_away(&self) {
        self.moved_away.fetch_add(1, Relaxed);
    }

    pub(crate) fn refused_write(&self) {
        self.refused_writes.fetch_add(1, Relaxed);
    }

    pub(crate) fn error(&self) {
        self.errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn fan_out_failure(&self) {
        self.fan_out_failures.fetch_add(1, Relaxed);
    }

    /// A connection was leased after waiting `waited`, none being free.
    pub(crate) fn waited(&self, waited: Duration) {
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.wait_nanos.fetch_add(nanos, Relaxed);
    }

    /// Records how long a part of a fan-out read took on this source.
    pub(crate) fn fan_out_took(&self, took: Duration) {
        let sample = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        let old = self.fan_out_nanos.load(Relaxed);
        // A moving average over about the last eight parts; races only lose a sample.
        let new = match old {
            0 => sample,
            old => old - old / 8 + sample / 8,
        };
        self.fan_out_nanos.store(new, Relaxed);
    }

    /// How long this source's parts of fan-out reads take lately.
    pub(crate) fn fan_out_cost(&self) -> Duration {
        Duration::from_nanos(self.fan_out_nanos.load(Relaxed))
    }

    /// The writer began a transaction.
    pub(crate) fn began_transaction(&self) {
        self.transactions.fetch_add(1, Relaxed);
    }

    pub(crate) fn checkout_timeout(&self) {
        self.timeouts.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self, name: &str, open_connections: u32) -> SourceStats {
        let tiers = |a: &[AtomicU64; 4]| TierCounts {
            explicit: a[Tier::Explicit as usize].load(Relaxed),
            chat_mapping: a[Tier::ChatMapping as usize].load(Relaxed),
            default: a[Tier::Default as usize].load(Relaxed),
            moved: a[Tier::Moved as usize].load(Relaxed),
        };
        let (reads, writes) = (tiers(&self.reads), tiers(&self.writes));
        let fan_out_reads = self.fan_out_reads.load(Relaxed);
        let refused_writes = self.refused_writes.load(Relaxed);
        let timeouts = self.timeouts.load(Relaxed);
        let moved_away = self.moved_away.load(Relaxed);
        SourceStats {
            name: name.to_owned(),
            reads,
            writes,
            fan_out_reads,
            refused_writes,
            errors: self.errors.load(Relaxed),
            fan_out_failures: self.fan_out_failures.load(Relaxed),
            // A call sent on found its chat gone on a connection of this source.
            checkouts: (reads.total() + writes.total() + fan_out_reads + moved_away)
                .saturating_sub(refused_writes + timeouts),
            checkout_wait: Duration::from_nanos(self.wait_nanos.load(Relaxed)),
            checkout_timeouts: timeouts,
            open_connections,
            background_checkpoints: 0,
            write_transactions: self.transactions.load(Relaxed),
            writes_waiting: 0,
            cache_hits: 0,
            cache_misses: 0,
            moved_away,
        }
    }
}

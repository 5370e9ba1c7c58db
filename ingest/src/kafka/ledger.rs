//! The offsets `listen` keeps per partition: where the broker has the group,
//! what is in hand, what is settled and what is still to commit. Plain data
//! with no Kafka client in it, so "never lose or double an alert" is tested
//! here without a broker; `consumer.rs` does the I/O and tells this what
//! happened (see docs/architecture.md, "Kafka offsets follow the same rule").
//!
//! The one rule: what may be committed is the offset after the last settled
//! one (written, unchanged, skipped or rejected) that has nothing unsettled
//! before it. A gap is an offset received and not settled yet (in hand, or
//! held for a retry after a failure of ours); Kafka's own holes in the
//! numbering (compaction, transaction markers, retention) are not gaps, since
//! no message is there to lose.

use std::collections::{BTreeMap, BTreeSet};

use super::context::PartitionKey;
use crate::alert::Outcome;

/// Rounds of failed commits before pending ones are left to redelivery.
pub const COMMIT_TRIES: u32 = 5;

/// What an offset just received is to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Not seen before: in hand now.
    New,
    /// Already in hand: another try of an alert that failed.
    Retry,
    /// Settled before (committed, or waiting for its commit): delivered again,
    /// which the pipeline finds unchanged; the commit point does not move.
    Again,
}

/// What a failed commit means, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitFailure {
    /// The first failure since the last confirmation (the one worth a line).
    pub first: bool,
    /// Set when the pending commits were given up after `COMMIT_TRIES` rounds:
    /// how many partitions' last alerts will be delivered again.
    pub gave_up: Option<usize>,
}

/// One partition's offsets.
#[derive(Debug, Default)]
struct Partition {
    /// The next offset to read as the broker has it: found at the start,
    /// raised by each confirmed commit.
    committed: Option<i64>,
    /// Received and not settled: each one is a gap the commit cannot pass.
    open: BTreeSet<i64>,
    /// Settled offsets waiting behind an open one.
    settled_behind: BTreeSet<i64>,
    /// The offset after the last settled one with no gap before it.
    settled_to: Option<i64>,
    /// Wanted committed, not yet confirmed by the broker.
    pending: Option<i64>,
    /// The highest offset the broker confirmed as committed.
    confirmed: Option<i64>,
}

impl Partition {
    fn is_settled(&self, offset: i64) -> bool {
        self.settled_to.is_some_and(|to| offset < to) || self.settled_behind.contains(&offset)
    }

    /// Moves the commit point over every settled offset before the first gap.
    fn advance(&mut self) {
        let first_gap = self.open.first().copied().unwrap_or(i64::MAX);
        let behind = self.settled_behind.split_off(&first_gap);
        if let Some(last) = self.settled_behind.last() {
            let to = last + 1;
            if self.settled_to.is_none_or(|now| to > now) {
                self.settled_to = Some(to);
                if self.confirmed.is_none_or(|done| done < to) {
                    self.pending = Some(to);
                }
            }
        }
        self.settled_behind = behind;
    }

    fn confirm(&mut self, next: i64) -> bool {
        let done = self.confirmed.map_or(next, |done| done.max(next));
        self.confirmed = Some(done);
        // Only a partition with a starting offset shows one (a topic that
        // appeared after the start is shown by its end alone).
        self.committed = self.committed.map(|c| c.max(done));
        let dropped = self.pending.is_some_and(|p| p <= done);
        if dropped {
            self.pending = None;
        }
        dropped
    }
}

/// Every partition's offsets, and the run of failed commits.
#[derive(Debug, Default)]
pub struct Ledger {
    partitions: BTreeMap<PartitionKey, Partition>,
    /// Rounds of commits that failed since the last confirmation.
    failures: u32,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Where a partition starts: `next` is the first offset to read. With
    /// `commit` it is also committed at once (a first run starting at the
    /// end, or our own record when the broker forgot the group).
    pub fn start(&mut self, key: &PartitionKey, next: i64, commit: bool) {
        let part = self.partitions.entry(key.clone()).or_default();
        part.committed = Some(next);
        part.settled_to = Some(next);
        if commit && part.confirmed.is_none_or(|done| done < next) {
            part.pending = Some(next);
        }
    }

    /// An offset the consumer delivered.
    pub fn receive(&mut self, key: &PartitionKey, offset: i64) -> Receipt {
        let part = self.partitions.entry(key.clone()).or_default();
        if part.open.contains(&offset) {
            Receipt::Retry
        } else if part.is_settled(offset) {
            Receipt::Again
        } else {
            part.open.insert(offset);
            Receipt::New
        }
    }

    /// What the pipeline made of a received offset; true if it is settled
    /// (it may be committed once nothing before it is open). A failure of
    /// ours leaves it open: held, and a gap until it is written.
    pub fn record(&mut self, key: &PartitionKey, offset: i64, outcome: &Outcome) -> bool {
        if outcome.is_settled() {
            self.settle(key, offset);
        }
        outcome.is_settled()
    }

    /// A received offset needs nothing more (an alert settled, a heartbeat).
    pub fn settle(&mut self, key: &PartitionKey, offset: i64) {
        let part = self.partitions.entry(key.clone()).or_default();
        part.open.remove(&offset);
        if !part.is_settled(offset) {
            part.settled_behind.insert(offset);
        }
        part.advance();
    }

    /// The offsets to send in the next commit.
    pub fn to_commit(&self) -> Vec<(PartitionKey, i64)> {
        self.partitions
            .iter()
            .filter_map(|(key, part)| part.pending.map(|next| (key.clone(), next)))
            .collect()
    }

    pub fn has_pending(&self) -> bool {
        self.partitions.values().any(|p| p.pending.is_some())
    }

    /// The broker confirmed these commits: pending ones up to them are done,
    /// and a confirmation ends a run of failures.
    pub fn confirm(&mut self, offsets: &[(PartitionKey, i64)]) {
        let mut dropped = false;
        for (key, next) in offsets {
            dropped |= self
                .partitions
                .entry(key.clone())
                .or_default()
                .confirm(*next);
        }
        if dropped {
            self.failures = 0;
        }
    }

    /// A commit failed; after `COMMIT_TRIES` rounds the pending commits are
    /// given up (their alerts are on disk and will be found unchanged).
    pub fn commit_failed(&mut self) -> CommitFailure {
        self.failures += 1;
        let first = self.failures == 1;
        if self.failures <= COMMIT_TRIES {
            return CommitFailure {
                first,
                gave_up: None,
            };
        }
        let mut given_up = 0;
        for part in self.partitions.values_mut() {
            given_up += usize::from(part.pending.take().is_some());
        }
        self.failures = 0;
        CommitFailure {
            first,
            gave_up: Some(given_up),
        }
    }

    /// Each partition's committed offset (the next to read), where known.
    pub fn committed(&self) -> impl Iterator<Item = (&PartitionKey, i64)> {
        self.partitions
            .iter()
            .filter_map(|(key, part)| part.committed.map(|c| (key, c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn key(partition: i32) -> PartitionKey {
        ("igwn.gwalert".to_string(), partition)
    }

    fn written() -> Outcome {
        Outcome::Written(PathBuf::from("S1"))
    }

    fn disk_full() -> Outcome {
        Outcome::Failed("No space left on device".into())
    }

    /// Commits what is pending and has the broker confirm all of it.
    fn commit(ledger: &mut Ledger) -> Vec<(PartitionKey, i64)> {
        let sent = ledger.to_commit();
        ledger.confirm(&sent);
        sent
    }

    fn committed(ledger: &Ledger, k: &PartitionKey) -> Option<i64> {
        ledger.committed().find(|(c, _)| *c == k).map(|(_, n)| n)
    }

    #[test]
    fn an_offset_is_committed_only_once_written_skipped_or_rejected() {
        let settled = [
            written(),
            Outcome::Replaced(PathBuf::from("S1")),
            Outcome::Unchanged(PathBuf::from("S1")),
            Outcome::Skipped("a mock alert".into()),
            Outcome::Rejected {
                reason: "not JSON".into(),
                kept: PathBuf::from(".rejected/x"),
            },
        ];
        for outcome in settled {
            let mut ledger = Ledger::new();
            ledger.start(&key(0), 7, false);
            assert_eq!(ledger.receive(&key(0), 7), Receipt::New);
            assert!(ledger.to_commit().is_empty(), "in hand is not settled");
            assert!(ledger.record(&key(0), 7, &outcome));
            assert_eq!(ledger.to_commit(), vec![(key(0), 8)], "{outcome:?}");
        }
        let mut ledger = Ledger::new();
        ledger.start(&key(0), 7, false);
        ledger.receive(&key(0), 7);
        assert!(!ledger.record(&key(0), 7, &disk_full()));
        assert!(
            ledger.to_commit().is_empty(),
            "a failure of ours is never committed"
        );
    }

    #[test]
    fn the_commit_never_passes_an_offset_still_open() {
        let mut ledger = Ledger::new();
        ledger.start(&key(0), 10, false);
        for offset in 10..14 {
            ledger.receive(&key(0), offset);
        }
        // Settled out of order: 11 and 13 first, then 10, then 12.
        ledger.settle(&key(0), 11);
        ledger.settle(&key(0), 13);
        assert!(ledger.to_commit().is_empty(), "10 is open");
        ledger.settle(&key(0), 10);
        assert_eq!(commit(&mut ledger), vec![(key(0), 12)], "12 is open");
        ledger.settle(&key(0), 12);
        assert_eq!(commit(&mut ledger), vec![(key(0), 14)]);
        assert_eq!(committed(&ledger, &key(0)), Some(14));
    }

    #[test]
    fn holes_in_kafka_numbering_are_not_gaps() {
        // Offsets 5 and 6 hold no message (compaction, transaction markers).
        let mut ledger = Ledger::new();
        ledger.start(&key(0), 5, false);
        ledger.receive(&key(0), 7);
        ledger.settle(&key(0), 7);
        assert_eq!(ledger.to_commit(), vec![(key(0), 8)]);
    }

    #[test]
    fn partitions_are_independent() {
        let mut ledger = Ledger::new();
        ledger.start(&key(0), 0, false);
        ledger.start(&key(1), 40, false);
        ledger.receive(&key(0), 0);
        ledger.receive(&key(1), 40);
        ledger.receive(&key(1), 41);
        assert!(!ledger.record(&key(0), 0, &disk_full()));
        ledger.record(&key(1), 40, &written());
        ledger.record(&key(1), 41, &written());
        assert_eq!(
            commit(&mut ledger),
            vec![(key(1), 42)],
            "0 holds only itself"
        );
        ledger.record(&key(0), 0, &written());
        assert_eq!(commit(&mut ledger), vec![(key(0), 1)]);
        assert_eq!(committed(&ledger, &key(1)), Some(42));
    }

    #[test]
    fn a_redelivery_after_a_crash_is_recognised_and_nothing_is_doubled() {
        // Before the crash: 3 and 4 committed, 5 written but its commit lost.
        let mut before = Ledger::new();
        before.start(&key(0), 3, false);
        for offset in 3..6 {
            before.receive(&key(0), offset);
            before.record(&key(0), offset, &written());
            if offset < 5 {
                commit(&mut before);
            }
        }
        let resume_at = committed(&before, &key(0));
        assert_eq!(resume_at, Some(5));
        // The restart resumes at the broker's offset: 5 again, as new.
        let mut after = Ledger::new();
        after.start(&key(0), 5, false);
        assert_eq!(after.receive(&key(0), 5), Receipt::New);
        after.record(&key(0), 5, &Outcome::Unchanged(PathBuf::from("S1")));
        assert_eq!(commit(&mut after), vec![(key(0), 6)]);
        // An offset already committed, or settled and waiting for its
        // commit, delivered once more: known, and the commit stays put.
        assert_eq!(after.receive(&key(0), 4), Receipt::Again);
        after.record(&key(0), 4, &Outcome::Unchanged(PathBuf::from("S1")));
        assert!(after.to_commit().is_empty(), "never back to 5");
        after.receive(&key(0), 6);
        after.record(&key(0), 6, &written());
        assert_eq!(after.receive(&key(0), 6), Receipt::Again);
        after.settle(&key(0), 6);
        assert_eq!(commit(&mut after), vec![(key(0), 7)]);
        assert_eq!(committed(&after, &key(0)), Some(7));
    }

    #[test]
    fn a_held_alert_is_in_hand_when_tried_again() {
        let mut ledger = Ledger::new();
        ledger.start(&key(0), 0, false);
        ledger.receive(&key(0), 0);
        ledger.record(&key(0), 0, &disk_full());
        assert_eq!(ledger.receive(&key(0), 0), Receipt::Retry);
        ledger.record(&key(0), 0, &written());
        assert_eq!(ledger.to_commit(), vec![(key(0), 1)]);
    }

    #[test]
    fn a_stop_commits_up_to_the_alert_in_hand_which_comes_again() {
        let mut ledger = Ledger::new();
        ledger.start(&key(0), 3, false);
        ledger.receive(&key(0), 3);
        ledger.record(&key(0), 3, &written());
        ledger.receive(&key(0), 4);
        ledger.record(&key(0), 4, &disk_full());
        // Another partition: 7 written, 8 received with no outcome yet.
        ledger.start(&key(1), 7, false);
        ledger.receive(&key(1), 7);
        ledger.record(&key(1), 7, &written());
        ledger.receive(&key(1), 8);
        // The stop: what is pending is committed, 4 and 8 are left where
        // they are.
        assert_eq!(commit(&mut ledger), vec![(key(0), 4), (key(1), 8)]);
        assert!(!ledger.has_pending());
        // The next run resumes at 4 and 8: the alerts in hand come again.
        let mut next_run = Ledger::new();
        for (k, at) in [(key(0), 4), (key(1), 8)] {
            next_run.start(&k, committed(&ledger, &k).unwrap(), false);
            assert_eq!(next_run.receive(&k, at), Receipt::New);
        }
    }

    #[test]
    fn a_starting_offset_to_commit_is_pending_until_confirmed() {
        let mut ledger = Ledger::new();
        ledger.start(&key(0), 9, true);
        ledger.start(&key(1), 2, false);
        assert_eq!(ledger.to_commit(), vec![(key(0), 9)]);
        assert_eq!(committed(&ledger, &key(1)), Some(2));
        ledger.confirm(&[(key(0), 9)]);
        assert!(!ledger.has_pending());
    }

    #[test]
    fn a_commit_stays_pending_until_the_broker_confirms_it() {
        let mut ledger = Ledger::new();
        ledger.start(&key(0), 0, false);
        ledger.receive(&key(0), 0);
        ledger.settle(&key(0), 0);
        ledger.receive(&key(0), 1);
        ledger.settle(&key(0), 1);
        // An older commit's confirmation does not settle the newer one.
        ledger.confirm(&[(key(0), 1)]);
        assert_eq!(ledger.to_commit(), vec![(key(0), 2)]);
        assert_eq!(committed(&ledger, &key(0)), Some(1));
        ledger.confirm(&[(key(0), 2)]);
        assert!(!ledger.has_pending());
        assert_eq!(committed(&ledger, &key(0)), Some(2));
    }

    #[test]
    fn a_partition_found_after_the_start_is_committed_but_shows_no_start() {
        // A topic that did not exist at the start has no starting offset: its
        // alerts are committed, and the status file shows its end alone.
        let mut ledger = Ledger::new();
        ledger.receive(&key(0), 0);
        ledger.settle(&key(0), 0);
        assert_eq!(commit(&mut ledger), vec![(key(0), 1)]);
        assert!(!ledger.has_pending());
        assert_eq!(committed(&ledger, &key(0)), None);
    }

    #[test]
    fn a_start_already_confirmed_is_not_sent_again() {
        // A start-up retried after its commit was confirmed late.
        let mut ledger = Ledger::new();
        ledger.start(&key(0), 9, true);
        ledger.confirm(&[(key(0), 9)]);
        ledger.start(&key(0), 9, true);
        assert!(!ledger.has_pending());
        ledger.start(&key(0), 12, true);
        assert_eq!(ledger.to_commit(), vec![(key(0), 12)]);
    }

    #[test]
    fn a_partition_taken_back_after_a_rebalance_never_commits_backwards() {
        // 0..3 settled; the commit of 3 is sent but not confirmed when the
        // partition is revoked and assigned again: 1 and 2 come again.
        let mut ledger = Ledger::new();
        ledger.start(&key(0), 0, false);
        for offset in 0..3 {
            ledger.receive(&key(0), offset);
            ledger.settle(&key(0), offset);
        }
        ledger.confirm(&[(key(0), 1)]);
        for offset in 1..3 {
            assert_eq!(ledger.receive(&key(0), offset), Receipt::Again);
            assert!(ledger.record(&key(0), offset, &Outcome::Unchanged(PathBuf::from("S1"))));
            assert_eq!(
                ledger.to_commit(),
                vec![(key(0), 3)],
                "never back to {}",
                offset + 1
            );
        }
        assert_eq!(ledger.receive(&key(0), 3), Receipt::New);
    }

    #[test]
    fn failed_commits_are_told_once_and_given_up_after_a_few_rounds() {
        let mut ledger = Ledger::new();
        ledger.start(&key(0), 0, true);
        ledger.start(&key(1), 0, true);
        let failures: Vec<CommitFailure> =
            (0..=COMMIT_TRIES).map(|_| ledger.commit_failed()).collect();
        assert!(failures[0].first);
        assert!(failures[1..].iter().all(|f| !f.first));
        assert!(failures[..COMMIT_TRIES as usize]
            .iter()
            .all(|f| f.gave_up.is_none()));
        assert_eq!(failures[COMMIT_TRIES as usize].gave_up, Some(2));
        assert!(!ledger.has_pending(), "left to redelivery");
        // A new run of failures starts over.
        assert!(ledger.commit_failed().first);
    }

    #[test]
    fn a_confirmation_ends_a_run_of_failures() {
        let mut ledger = Ledger::new();
        ledger.start(&key(0), 0, true);
        ledger.commit_failed();
        ledger.commit_failed();
        commit(&mut ledger);
        ledger.start(&key(0), 0, true);
        assert!(ledger.commit_failed().first);
    }
}

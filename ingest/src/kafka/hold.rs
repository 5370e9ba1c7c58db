//! The retry rule for an alert that failed for a reason of ours (a full disk,
//! a permission): it is held in place, its partition paused at its offset, and
//! tried again after a backoff (1 s doubling to a minute, reset by any alert
//! settled), while nothing later in that partition is taken. Plain data with
//! no Kafka client in it: `consumer.rs` pauses, seeks and resumes, and the
//! held offset stays open in the `Ledger`, so no commit passes it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::context::PartitionKey;
use super::Backoff;

/// Longest wait between retries of an alert we failed to write.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// An alert we could not write: its partition waits at `offset` until `due`.
#[derive(Debug, Clone, Copy)]
struct Held {
    offset: i64,
    due: Instant,
    /// The partition was resumed for the retry (the alert comes again).
    resumed: bool,
    /// Failed tries so far: only the first is logged (one line per outage).
    tries: u32,
}

/// A new or renewed hold: which try failed and when the next one is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub tries: u32,
    pub delay: Duration,
}

/// Every held alert, and the backoff they share.
#[derive(Debug)]
pub struct Holds {
    held: BTreeMap<PartitionKey, Held>,
    backoff: Backoff,
}

impl Default for Holds {
    fn default() -> Holds {
        Holds::new()
    }
}

impl Holds {
    pub fn new() -> Holds {
        Holds {
            held: BTreeMap::new(),
            backoff: Backoff::new(MAX_RETRY_WAIT),
        }
    }

    /// Failed tries so far of the alert held on this partition (0: none held).
    pub fn tries(&self, key: &PartitionKey) -> u32 {
        self.held.get(key).map_or(0, |h| h.tries)
    }

    /// The held offset, if a message at `offset` must not be taken: one
    /// fetched past the held alert before the pause took hold. The consumer
    /// goes back to the held offset, never past it.
    pub fn blocked_by(&self, key: &PartitionKey, offset: i64) -> Option<i64> {
        self.held
            .get(key)
            .filter(|h| h.offset != offset)
            .map(|h| h.offset)
    }

    /// The alert at `offset` failed (again): held until its next try is due.
    pub fn hold(&mut self, key: &PartitionKey, offset: i64, now: Instant) -> Hold {
        let tries = self.tries(key) + 1;
        let delay = self.backoff.next_delay();
        self.held.insert(
            key.clone(),
            Held {
                offset,
                due: now + delay,
                resumed: false,
                tries,
            },
        );
        Hold { tries, delay }
    }

    /// An alert on this partition was settled: its hold, if any, ends, and
    /// the backoff starts over.
    pub fn settled(&mut self, key: &PartitionKey) {
        self.held.remove(key);
        self.backoff.reset();
    }

    /// The partitions whose retry is due at `now`, each given once: the
    /// consumer resumes them and the held alert is delivered again.
    pub fn due(&mut self, now: Instant) -> Vec<PartitionKey> {
        let mut due = Vec::new();
        for (key, held) in &mut self.held {
            if !held.resumed && held.due <= now {
                held.resumed = true;
                due.push(key.clone());
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::super::ledger::{Ledger, Receipt};
    use super::*;
    use crate::alert::Outcome;
    use std::path::PathBuf;

    fn key(partition: i32) -> PartitionKey {
        ("igwn.gwalert".to_string(), partition)
    }

    fn disk_full() -> Outcome {
        Outcome::Failed("No space left on device".into())
    }

    /// What the consumer does with a delivered message; false if not taken.
    fn deliver(
        ledger: &mut Ledger,
        holds: &mut Holds,
        k: &PartitionKey,
        offset: i64,
        outcome: &Outcome,
        now: Instant,
    ) -> bool {
        if holds.blocked_by(k, offset).is_some() {
            return false;
        }
        ledger.receive(k, offset);
        if ledger.record(k, offset, outcome) {
            holds.settled(k);
        } else {
            holds.hold(k, offset, now);
        }
        true
    }

    #[test]
    fn a_disk_full_alert_is_held_retried_and_committed_once_written() {
        let (mut ledger, mut holds) = (Ledger::new(), Holds::new());
        let t0 = Instant::now();
        ledger.start(&key(0), 0, false);
        assert!(deliver(
            &mut ledger,
            &mut holds,
            &key(0),
            0,
            &disk_full(),
            t0
        ));
        // 1 was fetched before the pause: not taken, and nothing committed.
        let written = Outcome::Written(PathBuf::from("S1"));
        assert!(!deliver(&mut ledger, &mut holds, &key(0), 1, &written, t0));
        assert_eq!(holds.blocked_by(&key(0), 1), Some(0));
        assert!(ledger.to_commit().is_empty());
        // The retry is due after the backoff, and given once.
        assert!(holds.due(t0 + Duration::from_millis(999)).is_empty());
        assert_eq!(holds.due(t0 + Duration::from_secs(1)), vec![key(0)]);
        assert!(holds.due(t0 + Duration::from_secs(2)).is_empty());
        // It fails again: held for longer, told as the second try.
        assert_eq!(ledger.receive(&key(0), 0), Receipt::Retry);
        assert_eq!(
            holds.hold(&key(0), 0, t0),
            Hold {
                tries: 2,
                delay: Duration::from_secs(2)
            }
        );
        assert!(holds.due(t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(holds.due(t0 + Duration::from_secs(2)), vec![key(0)]);
        // Written at last: committed, and the partition goes on.
        assert!(deliver(&mut ledger, &mut holds, &key(0), 0, &written, t0));
        assert_eq!(ledger.to_commit(), vec![(key(0), 1)]);
        assert_eq!(holds.tries(&key(0)), 0);
        assert!(deliver(&mut ledger, &mut holds, &key(0), 1, &written, t0));
        assert_eq!(ledger.to_commit(), vec![(key(0), 2)]);
    }

    #[test]
    fn retries_back_off_to_a_minute_and_start_over_after_a_success() {
        let mut holds = Holds::new();
        let now = Instant::now();
        let waits: Vec<u64> = (0..8)
            .map(|_| holds.hold(&key(0), 5, now).delay.as_secs())
            .collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(holds.tries(&key(0)), 8);
        // Any settled alert resets the shared backoff.
        holds.settled(&key(1));
        assert_eq!(holds.hold(&key(0), 5, now).delay, Duration::from_secs(1));
        assert_eq!(holds.tries(&key(0)), 9, "still the same alert");
    }

    #[test]
    fn a_hold_pauses_only_its_own_partition() {
        let mut holds = Holds::new();
        holds.hold(&key(0), 3, Instant::now());
        assert_eq!(holds.blocked_by(&key(0), 4), Some(3));
        assert_eq!(holds.blocked_by(&key(0), 3), None, "the held alert itself");
        assert_eq!(holds.blocked_by(&key(1), 4), None);
        assert_eq!(holds.tries(&key(1)), 0);
    }
}

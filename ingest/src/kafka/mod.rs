//! The Kafka side of gocart-ingest: `listen` (a persistent consumer group that
//! never loses an alert), `echo` (replay the last days without touching the
//! group) and the status file `listen` keeps for `status`.
//!
//! Why it is shaped this way: an alert is only worth anything once its directory
//! is complete, so offsets are committed by hand, one alert at a time, after the
//! pipeline has settled it (written, skipped or rejected). A crash anywhere
//! before that commit means the alert is delivered again, and the pipeline's
//! idempotence turns that redelivery into "unchanged". librdkafka retries lost
//! connections by itself; we only make its noise readable (one line per outage).

pub mod commit;
pub mod config;
pub mod consumer;
pub mod context;
pub mod echo;
pub mod group_id;
pub mod hold;
pub mod ledger;
pub mod silence;
pub mod status;
pub mod topics;

use std::time::Duration;

pub use config::{ConfigError, KafkaSettings, HEARTBEAT_TOPIC};

/// Exponential backoff for retrying our own failures (a full disk, a broker
/// that is not there yet): 1 s doubling to `max`, reset after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(max: Duration) -> Backoff {
        Backoff {
            next: Duration::from_secs(1),
            max,
        }
    }

    /// The wait before the next try; each call doubles the one after.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    pub fn reset(&mut self) {
        self.next = Duration::from_secs(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(5));
        let waits: Vec<u64> = (0..5).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 5, 5]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }
}

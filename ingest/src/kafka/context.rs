//! The librdkafka callbacks gocart installs. librdkafka retries a lost broker
//! by itself, forever, and reports every failed attempt; a user wants one line
//! when the connection goes and one when it is back. Its statistics (every few
//! seconds) also give each partition's end offset, so the status file can show
//! lag without a blocking call in the consumer loop.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaErrorCode;

use super::config::Redactor;

/// A partition, as (topic, partition).
pub type PartitionKey = (String, i32);

/// The state of the connection as the callbacks see it.
#[derive(Debug, Default)]
struct Link {
    /// Set at the first error of an outage; cleared when the broker is back.
    down_since: Option<Instant>,
    last_error: Option<(DateTime<Utc>, String)>,
}

/// The callbacks' shared state (librdkafka calls them from `poll`).
pub struct Context {
    redactor: Redactor,
    link: Mutex<Link>,
    ends: Mutex<BTreeMap<PartitionKey, i64>>,
    /// Set while the client shuts down: its last complaints are not news.
    closing: AtomicBool,
}

impl Context {
    pub fn new(redactor: Redactor) -> Context {
        Context {
            redactor,
            link: Mutex::new(Link::default()),
            ends: Mutex::new(BTreeMap::new()),
            closing: AtomicBool::new(false),
        }
    }

    /// Something went wrong with the connection: logged at the start of an
    /// outage, then only at debug level until it is over.
    pub fn trouble(&self, what: &str) {
        let what = self.redactor.clean(what);
        let mut link = lock(&self.link);
        link.last_error = Some((Utc::now(), what.clone()));
        if self.closing.load(Ordering::Relaxed) {
            tracing::debug!("Kafka (closing): {what}");
        } else if link.down_since.is_none() {
            link.down_since = Some(Instant::now());
            tracing::warn!("Kafka: {what}; retrying until the broker is back");
        } else {
            tracing::debug!("Kafka (still down): {what}");
        }
    }

    /// Evidence the broker is reachable (a message, a commit, a broker "UP").
    pub fn healthy(&self) {
        let mut link = lock(&self.link);
        if let Some(since) = link.down_since.take() {
            tracing::info!(
                "Kafka: connection is back after {:.0} s",
                since.elapsed().as_secs_f64()
            );
        }
    }

    /// From now on errors are only logged at debug level (we are leaving).
    pub fn closing(&self) {
        self.closing.store(true, Ordering::Relaxed);
    }

    pub fn is_down(&self) -> bool {
        lock(&self.link).down_since.is_some()
    }

    /// The last error, for the status file (already redacted).
    pub fn last_error(&self) -> Option<(DateTime<Utc>, String)> {
        lock(&self.link).last_error.clone()
    }

    /// Records an error that is not about the connection (for the status file).
    pub fn note_error(&self, what: &str) {
        lock(&self.link).last_error = Some((Utc::now(), self.redactor.clean(what)));
    }

    /// Each partition's end offset (high watermark) as last reported.
    pub fn ends(&self) -> BTreeMap<PartitionKey, i64> {
        lock(&self.ends).clone()
    }

    fn record_stats(&self, stats: &Statistics) {
        let mut ends = lock(&self.ends);
        for (name, topic) in &stats.topics {
            for part in topic.partitions.values() {
                // Partition -1 is librdkafka's internal "unassigned" one.
                if part.partition >= 0 && part.hi_offset >= 0 {
                    ends.insert((name.clone(), part.partition), part.hi_offset);
                }
            }
        }
        drop(ends);
        let any_up = stats
            .brokers
            .values()
            .any(|b| b.nodeid >= 0 && b.state == "UP");
        if any_up {
            self.healthy();
        }
    }
}

/// A poisoned lock only means a callback panicked; the data is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ClientContext for Context {
    /// librdkafka's own log lines are detail: the errors that matter arrive
    /// as error events. Shown with `GOCART_LOG=debug`.
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let text = self.redactor.clean(log_message);
        tracing::debug!("librdkafka {level:?} {fac}: {text}");
    }

    fn stats_raw(&self, statistics: &[u8]) {
        match serde_json::from_slice::<Statistics>(statistics) {
            Ok(stats) => self.record_stats(&stats),
            Err(e) => tracing::debug!("unreadable librdkafka statistics: {e}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        // The end of a partition is news, not trouble (echo asks to be told).
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF) {
            tracing::debug!("Kafka: {error} ({reason})");
            return;
        }
        self.trouble(&format!("{error} ({reason})"));
    }
}

impl ConsumerContext for Context {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outage_is_remembered_until_the_broker_is_back() {
        let c = Context::new(Redactor::new("topsecret"));
        assert!(!c.is_down());
        c.trouble("1/1 brokers are down");
        c.trouble("connect failed: topsecret");
        assert!(c.is_down());
        let (_, last) = c.last_error().unwrap();
        assert_eq!(last, "connect failed: <hidden>");
        c.healthy();
        assert!(!c.is_down());
    }

    #[test]
    fn the_end_of_a_partition_is_not_an_outage() {
        let c = Context::new(Redactor::new("topsecret"));
        c.error(
            KafkaError::Global(RDKafkaErrorCode::PartitionEOF),
            "end at 60",
        );
        assert!(!c.is_down());
        assert!(c.last_error().is_none());
        c.error(
            KafkaError::Global(RDKafkaErrorCode::AllBrokersDown),
            "1/1 down",
        );
        assert!(c.is_down());
    }
}

//! `echo DAYS`: replays every partition of every alert topic from `now - DAYS`
//! to the end as it was when echo started, then stops. It reads by assigned
//! partitions with no consumer group, so it never commits and cannot move the
//! offsets `listen` resumes from; the pipeline's idempotence makes replaying
//! alerts already on disk harmless ("unchanged"). Alerts of different events
//! are written side by side (`alert::pool`), one thread per core.
//!
//! echo is one-shot: a broker it cannot reach within its timeout is an error
//! naming the host and the cause, not a retry loop without end.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gocart_shared::marker::Source;
use indicatif::{ProgressBar, ProgressStyle};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message as _, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};

use super::config::KafkaSettings;
use super::context::{Context, PartitionKey};
use super::topics::{self, TopicError, PATIENCE, REQUEST_TIMEOUT};
use super::Backoff;
use crate::alert::pool::{default_threads, with_event_pool, EventPool};
use crate::alert::tally::Tally;
use crate::alert::{Message, Outcome, Pipeline};
use gocart_shared::shutdown::Shutdown;

/// An alert we fail to write (our disk) is tried this many times, then counted.
const TRIES: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    #[error("DAYS must be a positive number, not {0}")]
    Days(f64),
    #[error("cannot create the Kafka consumer: {0}")]
    Create(String),
    #[error("{0}")]
    Topic(#[from] TopicError),
    #[error("cannot find the offsets of {days} days ago: {message}")]
    Times { days: f64, message: String },
    #[error("cannot assign the partitions: {0}")]
    Assign(String),
    #[error("cannot reach the Kafka broker {servers} within {secs} s: {cause}")]
    Unreachable {
        servers: String,
        secs: u64,
        cause: String,
    },
}

/// Where each partition's replay starts and stops.
#[derive(Debug, Clone, Copy)]
struct Range {
    next: i64,
    end: i64,
}

/// What to replay, and how long to try reaching the broker.
#[derive(Debug, Clone, Copy)]
pub struct EchoRequest {
    pub days: f64,
    pub timeout: Duration,
}

/// Replays the last `days` days; returns the outcomes' tally.
pub fn echo(
    pipeline: &Pipeline,
    kafka: &KafkaSettings,
    request: EchoRequest,
    shutdown: &Shutdown,
) -> Result<Tally, EchoError> {
    let days = request.days;
    if !(days.is_finite() && days > 0.0) {
        return Err(EchoError::Days(days));
    }
    tracing::info!("echo: connecting to {}", kafka.describe(&kafka.topics));
    let consumer: BaseConsumer<Context> = kafka
        .echo_config()
        .create_with_context(Context::new(kafka.redactor.clone(), &kafka.servers))
        .map_err(|e| EchoError::Create(kafka.redactor.clean(&e.to_string())))?;
    let since_ms = chrono::Utc::now().timestamp_millis() - (days * 86_400_000.0) as i64;
    let window = Window { since_ms, days };
    let Some(mut ranges) = plan_with_retries(&consumer, kafka, window, request.timeout, shutdown)?
    else {
        return Ok(Tally::default());
    };
    let total: i64 = ranges.values().map(|r| r.end - r.next).sum();
    tracing::info!(
        "echo: {} from the last {days} {} in {} of {}",
        gocart_shared::cli::count(total, "message", "messages"),
        if days == 1.0 { "day" } else { "days" },
        gocart_shared::cli::count(ranges.len(), "partition", "partitions"),
        kafka.topics.join(", ")
    );
    let mut assignment = TopicPartitionList::new();
    for ((topic, partition), r) in ranges.iter().filter(|(_, r)| r.next < r.end) {
        assignment
            .add_partition_offset(topic, *partition, Offset::Offset(r.next))
            .map_err(|e| EchoError::Assign(e.to_string()))?;
    }
    ranges.retain(|_, r| r.next < r.end);
    let tally = Tally::default();
    if ranges.is_empty() {
        return Ok(tally);
    }
    consumer
        .assign(&assignment)
        .map_err(|e| EchoError::Assign(e.to_string()))?;
    let bar = progress_bar(total);
    let mut replay = Replay {
        consumer: &consumer,
        shutdown,
        bar: &bar,
        since_ms,
    };
    let writer = Writer {
        pipeline,
        shutdown,
        bar: &bar,
        tally: Mutex::new(tally),
    };
    with_event_pool(
        default_threads(),
        |message| writer.write(message),
        |pool| replay.run(&mut ranges, pool),
    );
    bar.finish_and_clear();
    Ok(writer
        .tally
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner()))
}

/// The replay's time window.
#[derive(Debug, Clone, Copy)]
struct Window {
    since_ms: i64,
    days: f64,
}

/// `plan`, retried while the broker is unreachable, for at most `timeout`;
/// None if stopped meanwhile.
fn plan_with_retries(
    consumer: &BaseConsumer<Context>,
    kafka: &KafkaSettings,
    window: Window,
    timeout: Duration,
    shutdown: &Shutdown,
) -> Result<Option<BTreeMap<PartitionKey, Range>>, EchoError> {
    let mut backoff = Backoff::new(Duration::from_secs(30));
    let started = Instant::now();
    // An outage met now is told with the deadline, not as a wait without end.
    consumer.context().give_up_at(Some(started + timeout));
    loop {
        match plan(consumer, kafka, window.since_ms, window.days) {
            Ok(ranges) => {
                consumer.context().healthy();
                consumer.context().give_up_at(None);
                return Ok(Some(ranges));
            }
            Err(e @ EchoError::Topic(TopicError::Missing { .. })) => return Err(e),
            // Another try could not end within the timeout: wait out the
            // rest (librdkafka's reports arrive meanwhile) and say why.
            Err(e) if started.elapsed() + REQUEST_TIMEOUT > timeout => {
                let left = timeout.saturating_sub(started.elapsed());
                if serve_until(consumer, Instant::now() + left, shutdown) {
                    return Ok(None);
                }
                consumer.context().probe_servers(Duration::from_secs(2));
                let cause = consumer
                    .context()
                    .cause()
                    .map_or_else(|| e.to_string(), |c| c.to_string());
                return Err(EchoError::Unreachable {
                    servers: kafka.servers.clone(),
                    secs: timeout.as_secs(),
                    cause,
                });
            }
            Err(e) if started.elapsed() > PATIENCE => consumer.context().trouble(&e.to_string()),
            Err(e) => tracing::debug!("start-up: {e}"),
        }
        let left = timeout.saturating_sub(started.elapsed() + REQUEST_TIMEOUT);
        let wait = backoff.next_delay().min(left);
        if serve_until(consumer, Instant::now() + wait, shutdown) {
            return Ok(None);
        }
    }
}

/// Serves the consumer until `until`; true if a stop was requested.
fn serve_until(consumer: &BaseConsumer<Context>, until: Instant, shutdown: &Shutdown) -> bool {
    loop {
        if shutdown.is_stopping() {
            return true;
        }
        if Instant::now() >= until {
            serve(consumer, Duration::ZERO);
            return false;
        }
        serve(consumer, Duration::from_millis(100));
    }
}

/// Serves the consumer's events (librdkafka's reports of failed connections
/// among them) for up to `wait`; with zero, only those already queued.
fn serve(consumer: &BaseConsumer<Context>, wait: Duration) {
    let until = Instant::now() + wait;
    loop {
        match consumer.poll(Duration::ZERO) {
            Some(Err(KafkaError::PartitionEOF(_))) | Some(Ok(_)) => {}
            Some(Err(e)) => consumer.context().trouble(&e.to_string()),
            None if Instant::now() >= until => return,
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// For every partition: the first offset at or after `now - days` and the end now.
fn plan(
    consumer: &BaseConsumer<Context>,
    kafka: &KafkaSettings,
    since_ms: i64,
    days: f64,
) -> Result<BTreeMap<PartitionKey, Range>, EchoError> {
    let mut ends = BTreeMap::new();
    let mut query = TopicPartitionList::new();
    for topic in &kafka.topics {
        for partition in topics::partitions(consumer, topic)? {
            let (_, high) = topics::watermarks(consumer, topic, partition)?;
            ends.insert((topic.clone(), partition), high);
            query
                .add_partition_offset(topic, partition, Offset::Offset(since_ms))
                .map_err(|e| times_error(days, &e))?;
        }
    }
    let found = consumer
        .offsets_for_times(query, REQUEST_TIMEOUT)
        .map_err(|e| times_error(days, &e))?;
    let mut ranges = BTreeMap::new();
    for ((topic, partition), end) in ends {
        // No message at or after the time: the offset is the end (or "End").
        let next = match found.find_partition(&topic, partition).map(|e| e.offset()) {
            Some(Offset::Offset(n)) if n >= 0 => n.min(end),
            _ => end,
        };
        ranges.insert((topic, partition), Range { next, end });
    }
    Ok(ranges)
}

fn times_error(days: f64, e: &KafkaError) -> EchoError {
    EchoError::Times {
        days,
        message: e.to_string(),
    }
}

/// A bar on a terminal only: indicatif draws nothing when stderr is not one.
fn progress_bar(total: i64) -> ProgressBar {
    let bar = ProgressBar::new(total.max(0) as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} alerts ({per_sec}, {eta} left)")
    {
        bar.set_style(style);
    }
    bar
}

/// The reading side: polls the assigned partitions and hands each alert of
/// the window to the pool.
struct Replay<'a> {
    consumer: &'a BaseConsumer<Context>,
    shutdown: &'a Shutdown,
    bar: &'a ProgressBar,
    /// Messages stamped before this are out of the window.
    since_ms: i64,
}

impl Replay<'_> {
    /// Reads until every partition reached its end (or a stop is requested).
    fn run(&mut self, ranges: &mut BTreeMap<PartitionKey, Range>, pool: &EventPool) {
        let mut last_error = None;
        while !ranges.is_empty() && !self.shutdown.is_stopping() {
            match self.consumer.poll(Duration::from_millis(100)) {
                None => {}
                Some(Ok(m)) => {
                    let m = m.detach();
                    self.consumer.context().healthy();
                    let key = (m.topic().to_string(), m.partition());
                    let Some(range) = ranges.get_mut(&key) else {
                        continue;
                    };
                    let offset = m.offset();
                    range.next = offset + 1;
                    if offset < range.end {
                        if self.in_window(&m) {
                            pool.submit(message_of(m));
                        } else {
                            self.bar.inc(1);
                        }
                    }
                    if range.next >= range.end {
                        ranges.remove(&key);
                    }
                }
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    // At the end as it is now. Ends only grow, so normally our
                    // fixed end was met first; this catches a range whose last
                    // messages were deleted (retention) before we read them.
                    self.drop_finished(ranges);
                }
                Some(Err(e)) => {
                    let text = e.to_string();
                    if last_error.as_ref() != Some(&text) {
                        tracing::warn!("Kafka: {text}");
                        last_error = Some(text);
                    }
                }
            }
        }
    }

    /// Some brokers answer offsets_for_times coarsely (Tansu gives the start
    /// of the partition); the message's own timestamp has the last word.
    fn in_window(&self, m: &OwnedMessage) -> bool {
        m.timestamp()
            .to_millis()
            .is_none_or(|ts| ts >= self.since_ms)
    }

    fn drop_finished(&self, ranges: &mut BTreeMap<PartitionKey, Range>) {
        let Ok(positions) = self.consumer.position() else {
            return;
        };
        ranges.retain(|(topic, partition), r| {
            match positions
                .find_partition(topic, *partition)
                .map(|e| e.offset())
            {
                Some(Offset::Offset(n)) => n < r.end,
                _ => true,
            }
        });
    }
}

fn message_of(m: OwnedMessage) -> Message {
    let source = Source::Kafka {
        topic: m.topic().to_string(),
        partition: m.partition(),
        offset: m.offset(),
    };
    Message {
        bytes: m.payload().unwrap_or_default().to_vec(),
        source,
    }
}

/// The writing side, shared by the pool's threads.
struct Writer<'a> {
    pipeline: &'a Pipeline,
    shutdown: &'a Shutdown,
    bar: &'a ProgressBar,
    tally: Mutex<Tally>,
}

impl Writer<'_> {
    /// One alert, retried a few times if the failure is ours. After a stop
    /// request the alerts still queued are left (echo commits nothing, so
    /// they are simply not replayed this time).
    fn write(&self, message: Message) {
        if self.shutdown.is_stopping() {
            return;
        }
        let mut backoff = Backoff::new(Duration::from_secs(10));
        for attempt in 1..=TRIES {
            let outcome = self.ingest(&message);
            if outcome.is_settled() || attempt == TRIES || self.shutdown.is_stopping() {
                return self.count(&outcome);
            }
            if self.shutdown.sleep(backoff.next_delay()) {
                return self.count(&outcome);
            }
        }
    }

    /// The pipeline, its report printed whole so that threads do not interleave.
    fn ingest(&self, message: &Message) -> Outcome {
        let mut report = Vec::new();
        let outcome = self.pipeline.ingest(message, &mut report);
        self.bar.suspend(|| {
            let _ = std::io::stdout().lock().write_all(&report);
        });
        outcome
    }

    fn count(&self, outcome: &Outcome) {
        self.tally
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .add(outcome);
        self.bar.inc(1);
    }
}

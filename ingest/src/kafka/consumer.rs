//! `listen`: the consumer-group loop. Each alert is run through the pipeline
//! and its offset (offset + 1) committed only once the pipeline has settled
//! it; we wait for the broker to confirm that commit before the next alert
//! (serving the consumer meanwhile, so a commit during an outage delays us but
//! never blocks a stop request). A failure of ours (disk full) pauses that
//! partition at that very offset and retries after a backoff while the
//! consumer keeps polling, so the group never throws us out and nothing later
//! in the partition is committed past it.
//!
//! Where to start: a partition with a committed offset resumes there. One
//! without (the very first run of a new group) starts at its end, and the old
//! alerts skipped are counted and reported; we commit that end at once, so a
//! later run resumes from it even if no alert came in between.
//!
//! The status file is rewritten every few seconds whatever the loop is doing
//! (starting up against a broker that is not there, waiting for a commit,
//! holding a partition), so a stale file means a stuck or dead process.
//!
//! `listen` is a static group member (`group.instance.id`): restarted after
//! a crash it takes its partitions back at once. A second listener with the
//! same id fences the first, which then stops with a clear message.
//!
//! The rules about offsets live in plain types this loop drives: `Ledger`
//! (what may be committed) and `Holds` (when a failed alert is tried again).
//! This file keeps the I/O: the rdkafka calls and the status file.

use std::collections::{BTreeMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::Utc;
use gocart_shared::marker::Source;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Message as _, OwnedMessage};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};

use super::commit::{CommitQueue, CommitResult};
use super::config::KafkaSettings;
use super::context::{Context, PartitionKey};
use super::hold::{Hold, Holds};
use super::ledger::{Ledger, Receipt};
use super::silence::{Change, Silence};
use super::status::{LastAlert, LastError, Status, REFRESH_SECS};
use super::topics::{self, TopicError, PATIENCE, REQUEST_TIMEOUT};
use super::{Backoff, HEARTBEAT_TOPIC};
use crate::alert::notice::Notice;
use crate::alert::write_report;
use crate::alert::{clip_text, Message, Outcome, Pipeline};
use gocart_shared::shutdown::Shutdown;
use gocart_shared::text::escape_control;

/// How long one `poll` waits: short, so a stop request is seen quickly.
const POLL: Duration = Duration::from_millis(100);

/// How long one wait for a commit result lasts before the consumer is served.
const COMMIT_POLL: Duration = Duration::from_millis(10);

/// How long we wait for the broker to confirm an alert's commit before going
/// on (the commit stays pending and is confirmed or re-sent later).
const COMMIT_WAIT: Duration = Duration::from_secs(10);

/// After a stop request, how long we still wait for the last confirmations.
const STOP_WAIT: Duration = Duration::from_secs(3);

/// How long closing the client may take after that.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot create the Kafka consumer: {0}")]
    Create(String),
    #[error("cannot subscribe to {topics}: {message}")]
    Subscribe { topics: String, message: String },
    #[error(
        "stopped: another listener joined group {group_id} with the same instance id \
         {instance_id} and took over (FENCED_INSTANCE_ID: {message}); run only one \
         `listen` per settings file and machine"
    )]
    Fenced {
        group_id: String,
        instance_id: String,
        message: String,
    },
}

/// What `listen` needs besides the pipeline.
pub struct ListenSetup {
    pub kafka: KafkaSettings,
    pub group_id: String,
    pub state_dir: PathBuf,
    pub shutdown: Shutdown,
}

struct Listener {
    /// Declared before the consumer: it must be dropped first.
    commits: CommitQueue,
    consumer: BaseConsumer<Context>,
    pipeline: Pipeline,
    setup: ListenSetup,
    status: Status,
    /// Offsets received, settled and committed (heartbeats: lazily).
    ledger: Ledger,
    /// Alerts we failed to write, waiting in place for their retry.
    holds: Holds,
    /// Messages polled while waiting for a commit confirmation.
    buffer: VecDeque<OwnedMessage>,
    last_saved: Instant,
    last_consumer_error: Option<String>,
    status_write_failed: bool,
    /// Told once that the group hands us no partition (see `warn_if_holding_none`).
    holding_none_warned: bool,
    /// Set when the broker fenced us (another member with our instance id).
    fenced: Option<String>,
    /// When a commit wait first saw the stop request.
    stop_seen: Option<Instant>,
    /// Whether the heartbeat went silent (when it is followed).
    silence: Option<Silence>,
    /// Where the last heartbeat was (the heartbeat directories' source).
    last_heartbeat_at: (i32, i64),
}

/// Runs until SIGINT/SIGTERM; returns after the alert in hand is committed.
pub fn listen(pipeline: Pipeline, setup: ListenSetup) -> Result<(), ListenError> {
    let context = Context::new(setup.kafka.redactor.clone(), &setup.kafka.servers);
    let config = setup.kafka.listen_config(&setup.group_id);
    let instance_id = config
        .get("group.instance.id")
        .unwrap_or_default()
        .to_string();
    tracing::info!(
        "listen: connecting to {}, group {} (instance {instance_id})",
        setup.kafka.describe(&setup.kafka.listen_topics()),
        setup.group_id
    );
    let consumer: BaseConsumer<Context> = config
        .create_with_context(context)
        .map_err(|e| ListenError::Create(setup.kafka.redactor.clean(&e.to_string())))?;
    let previous = Status::load(&setup.state_dir).ok();
    let status = Status {
        pid: std::process::id(),
        group_id: setup.group_id.clone(),
        servers: setup.kafka.servers.clone(),
        started: Some(Utc::now()),
        heartbeat_followed: setup.kafka.heartbeat,
        ..Status::default()
    };
    let mut listener = Listener {
        commits: CommitQueue::new(&consumer),
        consumer,
        pipeline,
        status,
        ledger: Ledger::new(),
        holds: Holds::new(),
        buffer: VecDeque::new(),
        last_saved: Instant::now(),
        last_consumer_error: None,
        status_write_failed: false,
        holding_none_warned: false,
        fenced: None,
        stop_seen: None,
        silence: setup
            .kafka
            .heartbeat
            .then(|| Silence::new(setup.kafka.heartbeat_alarm, Utc::now())),
        last_heartbeat_at: (0, -1),
        setup,
    };
    listener.save_status();
    if !listener.start_positions(previous.as_ref()) {
        listener.finish();
        let outcome = listener.outcome(&instance_id);
        listener.close();
        return outcome;
    }
    listener.subscribe()?;
    tracing::info!(
        "listening to {} on {} as group {}",
        listener.setup.kafka.listen_topics().join(", "),
        listener.setup.kafka.servers,
        listener.setup.group_id
    );
    listener.run();
    listener.finish();
    let outcome = listener.outcome(&instance_id);
    listener.close();
    outcome
}

impl Listener {
    fn context(&self) -> &Context {
        self.consumer.context()
    }

    /// How the run ended: fine, or fenced by another listener.
    fn outcome(&self, instance_id: &str) -> Result<(), ListenError> {
        match &self.fenced {
            None => Ok(()),
            Some(message) => Err(ListenError::Fenced {
                group_id: self.setup.group_id.clone(),
                instance_id: instance_id.to_string(),
                message: message.clone(),
            }),
        }
    }

    /// Whether to stop: a stop request, or fenced.
    fn stopping(&self) -> bool {
        self.setup.shutdown.is_stopping() || self.fenced.is_some()
    }

    /// Waits `delay` while serving the consumer (its log and error events
    /// name the cause of an outage) and keeping the status file fresh;
    /// true if a stop was requested meanwhile.
    fn wait_serving(&mut self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if self.stopping() {
                return true;
            }
            if let Some(message) = self.poll_once(POLL) {
                self.buffer.push_back(message);
            }
            self.save_if_due();
        }
        self.stopping()
    }

    fn save_if_due(&mut self) {
        if self.last_saved.elapsed() >= Duration::from_secs(REFRESH_SECS as u64) {
            self.save_status();
        }
    }

    /// Sets each partition's starting offset (see the module comment); retried
    /// until the broker answers. False if a stop was requested meanwhile.
    fn start_positions(&mut self, previous: Option<&Status>) -> bool {
        let mut backoff = Backoff::new(Duration::from_secs(30));
        let started = Instant::now();
        let mut skipped = 0;
        let mut first_run = Vec::new();
        for topic in self.setup.kafka.listen_topics() {
            loop {
                self.save_if_due();
                let result = self.start_topic(&topic, previous);
                if result.is_ok() {
                    self.context().healthy();
                }
                match result {
                    Ok(Some(n)) => {
                        skipped += n;
                        first_run.push(topic.clone());
                        break;
                    }
                    Ok(None) => break,
                    Err(TopicError::Missing { topic }) => {
                        tracing::warn!(
                            "topic {topic} does not exist on {}; reading it from its start once it does",
                            self.setup.kafka.servers
                        );
                        break;
                    }
                    Err(e) => {
                        if started.elapsed() > PATIENCE {
                            self.context().trouble(&e.to_string());
                        } else {
                            tracing::debug!("start-up: {e}");
                        }
                        if self.wait_serving(backoff.next_delay()) {
                            return false;
                        }
                    }
                }
            }
        }
        self.context().healthy();
        if !first_run.is_empty() {
            tracing::info!(
                "first run of group {}: starting at the end of {}; skipped {} \
                 (`gocart-ingest echo DAYS` writes recent ones)",
                self.setup.group_id,
                first_run.join(", "),
                gocart_shared::cli::count(skipped, "older alert", "older alerts")
            );
        }
        self.status.skipped_at_start = skipped;
        self.save_status();
        true
    }

    /// One topic's starting offsets; Some(skipped) if any partition started
    /// at the end for lack of a committed offset (heartbeats do not count).
    fn start_topic(
        &mut self,
        topic: &str,
        previous: Option<&Status>,
    ) -> Result<Option<i64>, TopicError> {
        let is_heartbeat = self.is_heartbeat(topic);
        let parts = topics::partitions(&self.consumer, topic)?;
        self.save_if_due();
        let found = self.committed_offsets(topic, &parts)?;
        let mut starts = Vec::new();
        let mut skipped = None;
        for (partition, committed) in parts.iter().zip(found) {
            let key = (topic.to_string(), *partition);
            let start = match committed {
                Some(offset) if !is_heartbeat => (key, offset, false),
                _ => match previous_offset(previous, &self.setup.group_id, topic, *partition) {
                    Some(offset) if !is_heartbeat => {
                        tracing::warn!(
                            "the broker has no committed offset for {topic}/{partition}; \
                             resuming from our own record ({offset})"
                        );
                        (key, offset, true)
                    }
                    _ => {
                        self.save_if_due();
                        let (low, high) = topics::watermarks(&self.consumer, topic, *partition)?;
                        if !is_heartbeat {
                            *skipped.get_or_insert(0) += (high - low).max(0);
                        }
                        (key, high, true)
                    }
                },
            };
            starts.push(start);
        }
        let any_to_commit = starts.iter().any(|(_, _, commit)| *commit);
        for (key, next, commit) in starts {
            self.ledger.start(&key, next, commit);
        }
        if any_to_commit && !self.commit_pending(REQUEST_TIMEOUT) {
            return Err(TopicError::Request {
                topic: topic.to_string(),
                message: "cannot commit the starting offsets".into(),
            });
        }
        Ok(skipped)
    }

    /// The group's committed offset for each partition (None: none yet).
    fn committed_offsets(
        &self,
        topic: &str,
        parts: &[i32],
    ) -> Result<Vec<Option<i64>>, TopicError> {
        let mut tpl = TopicPartitionList::new();
        for p in parts {
            tpl.add_partition(topic, *p);
        }
        let found = self
            .consumer
            .committed_offsets(tpl, REQUEST_TIMEOUT)
            .map_err(|e| TopicError::Request {
                topic: topic.to_string(),
                message: e.to_string(),
            })?;
        let offsets = parts
            .iter()
            .map(
                |p| match found.find_partition(topic, *p).map(|e| e.offset()) {
                    Some(Offset::Offset(n)) if n >= 0 => Some(n),
                    _ => None,
                },
            )
            .collect();
        Ok(offsets)
    }

    fn subscribe(&self) -> Result<(), ListenError> {
        let topics = self.setup.kafka.listen_topics();
        let names: Vec<&str> = topics.iter().map(String::as_str).collect();
        self.consumer
            .subscribe(&names)
            .map_err(|e| ListenError::Subscribe {
                topics: topics.join(", "),
                message: e.to_string(),
            })
    }

    fn run(&mut self) {
        while !self.stopping() {
            if let Some(message) = self.next_message() {
                self.handle(message);
            }
            self.housekeeping();
        }
    }

    /// A message polled earlier (while waiting for a commit), else one poll.
    fn next_message(&mut self) -> Option<OwnedMessage> {
        if let Some(message) = self.buffer.pop_front() {
            return Some(message);
        }
        self.poll_once(POLL)
    }

    /// One poll: serves callbacks, logs error events, returns a message.
    fn poll_once(&mut self, timeout: Duration) -> Option<OwnedMessage> {
        match self.consumer.poll(timeout) {
            None => None,
            Some(Ok(message)) => {
                self.context().healthy();
                self.last_consumer_error = None;
                Some(message.detach())
            }
            Some(Err(KafkaError::MessageConsumptionFatal(_))) => {
                self.fatal();
                None
            }
            Some(Err(e)) => {
                self.consumer_error(&e);
                None
            }
        }
    }

    /// librdkafka gave up on this client; the only fatal error a consumer
    /// meets is being fenced by a member with the same instance id.
    fn fatal(&mut self) {
        let (code, text) = self
            .consumer
            .client()
            .fatal_error()
            .unwrap_or((RDKafkaErrorCode::Fatal, "fatal error".into()));
        let text = self
            .setup
            .kafka
            .redactor
            .clean(&format!("{code:?}: {text}"));
        if self.fenced.is_none() {
            tracing::error!("Kafka: {text}");
            self.context().note_error(&text);
            self.status.fenced = Some(text.clone());
            self.fenced = Some(text);
        }
    }

    /// Kafka error events ("Unknown topic or partition" and the like) are
    /// logged once per kind, never taken for alerts.
    fn consumer_error(&mut self, e: &KafkaError) {
        let text = self.setup.kafka.redactor.clean(&e.to_string());
        if is_connection_error(e) {
            // Part of an outage: one line for all of it (see Context).
            self.context().trouble(&text);
            return;
        }
        self.context().note_error(&text);
        if self.context().is_down() {
            tracing::debug!("Kafka (while down): {text}");
        } else if self.last_consumer_error.as_deref() != Some(text.as_str()) {
            tracing::warn!("Kafka: {text}");
            self.last_consumer_error = Some(text);
        } else {
            tracing::debug!("Kafka (again): {text}");
        }
    }

    fn is_heartbeat(&self, topic: &str) -> bool {
        topic == HEARTBEAT_TOPIC && !self.setup.kafka.topics.iter().any(|t| t == topic)
    }

    fn handle(&mut self, m: OwnedMessage) {
        let key = (m.topic().to_string(), m.partition());
        let now = Utc::now();
        self.status.last_message = Some(now);
        if self.is_heartbeat(m.topic()) {
            // Proof of a live connection; never an alert, never in the tree
            // (but the end of a silence is).
            self.status.last_heartbeat = Some(now);
            self.ledger.receive(&key, m.offset());
            self.ledger.settle(&key, m.offset());
            self.last_heartbeat_at = (key.1, m.offset());
            if let Some(change) = self.silence.as_mut().and_then(|s| s.heard(now)) {
                self.write_silence(change);
            }
            return;
        }
        if let Some(held) = self.holds.blocked_by(&key, m.offset()) {
            // Fetched before the pause took hold: go back, never past it.
            self.rewind(&key, held);
            return;
        }
        if self.ledger.receive(&key, m.offset()) == Receipt::Again {
            tracing::debug!(
                "{}/{}@{}: delivered again (settled before)",
                key.0,
                key.1,
                m.offset()
            );
        }
        let message = Message {
            bytes: m.payload().unwrap_or_default().to_vec(),
            source: Source::Kafka {
                topic: key.0.clone(),
                partition: key.1,
                offset: m.offset(),
            },
        };
        let received = Instant::now();
        if let Some(ts) = m.timestamp().to_millis() {
            let age = Utc::now().timestamp_millis() - ts;
            tracing::debug!(
                "{}/{}@{}: received {age} ms after its timestamp",
                key.0,
                key.1,
                m.offset()
            );
        }
        let tries = self.holds.tries(&key);
        let outcome = self.ingest(&message, tries);
        tracing::debug!("settled in {} ms", received.elapsed().as_millis());
        self.record(&message.bytes, &outcome);
        if self.ledger.record(&key, m.offset(), &outcome) {
            if tries > 0 {
                tracing::info!(
                    "alert at {}/{} offset {}: {} (after {tries} failed tries)",
                    key.0,
                    key.1,
                    m.offset(),
                    outcome.describe()
                );
            }
            self.holds.settled(&key);
            if self.ledger.has_pending() {
                self.commit_pending(COMMIT_WAIT);
            }
        } else {
            self.hold(&key, m.offset());
        }
        self.save_status();
    }

    /// Sends every pending commit and waits up to `limit` (less after a stop
    /// request) for the broker to confirm them all; true if it did. Messages
    /// polled meanwhile are kept for later, in order.
    fn commit_pending(&mut self, limit: Duration) -> bool {
        if !self.send_pending() {
            return false;
        }
        let start = Instant::now();
        loop {
            let failure = self.take_commit_results(COMMIT_POLL);
            if !self.ledger.has_pending() {
                return true;
            }
            if let Some(why) = failure {
                self.commit_failed(&why);
                return false;
            }
            self.save_if_due();
            if self.stopping() {
                // One budget from the first sight of the stop, however many
                // waits follow (the alert in hand, then the last commits).
                let seen = *self.stop_seen.get_or_insert_with(Instant::now);
                if seen.elapsed() >= STOP_WAIT {
                    return false;
                }
            }
            if start.elapsed() >= limit {
                tracing::debug!("commit not confirmed within {limit:?}; kept pending");
                return false;
            }
            // Keep the consumer served (events, the group's heartbeats).
            if let Some(message) = self.poll_once(Duration::ZERO) {
                self.buffer.push_back(message);
            }
        }
    }

    /// Sends the pending offsets asynchronously; the results arrive on our
    /// commit queue (see `commit.rs`).
    fn send_pending(&mut self) -> bool {
        let mut tpl = TopicPartitionList::new();
        for ((topic, partition), next) in self.ledger.to_commit() {
            add(&mut tpl, &topic, partition, next);
        }
        match self.commits.send(&self.consumer, &tpl) {
            Ok(()) => true,
            Err(why) => {
                self.commit_failed(&why);
                false
            }
        }
    }

    /// Reads the commit results that arrive within `wait` (and any queued
    /// behind them) into the ledger; the last failure, if any.
    fn take_commit_results(&mut self, wait: Duration) -> Option<String> {
        let mut failure = None;
        let mut wait = wait;
        while let Some(result) = self.commits.poll(wait) {
            wait = Duration::ZERO;
            match result {
                CommitResult::Done(offsets) => self.ledger.confirm(&offsets),
                CommitResult::Failed(why) => failure = Some(why),
            }
        }
        failure
    }

    /// A commit failed: logged once per run of failures; after a few rounds
    /// the pending offsets are left to redelivery (the alerts are on disk and
    /// will be found unchanged).
    fn commit_failed(&mut self, why: &str) {
        let failure = self.ledger.commit_failed();
        self.context().note_error(&format!("commit failed: {why}"));
        if failure.first {
            tracing::warn!("cannot commit yet ({why}); the alerts are safe on disk, retrying");
        }
        if let Some(partitions) = failure.gave_up {
            tracing::info!(
                "giving up committing {}; their last alerts will be delivered \
                 again and found unchanged",
                gocart_shared::cli::count(partitions, "partition", "partitions")
            );
        }
    }

    /// Runs the pipeline; another try of a failed alert prints its report
    /// and logs only once it is settled, so an outage (a full disk) is told
    /// once, not once per try.
    fn ingest(&self, message: &Message, tries: u32) -> Outcome {
        let mut report = Vec::new();
        let outcome = self
            .pipeline
            .ingest_unlogged(message, &mut report, tries == 0);
        if tries == 0 || outcome.is_settled() {
            let _ = std::io::stdout().lock().write_all(&report);
        }
        if tries == 0 || !matches!(outcome, Outcome::Failed(_)) {
            self.pipeline.log_outcome(message, &outcome);
        }
        outcome
    }

    /// Pauses the partition at the failed alert and schedules a retry.
    fn hold(&mut self, key: &PartitionKey, offset: i64) {
        let Hold { tries, delay } = self.holds.hold(key, offset, Instant::now());
        if tries == 1 {
            tracing::warn!(
                "alert at {}/{} offset {offset} not written; trying again in {} s, then less \
                 often, until it is written (the partition waits for it)",
                key.0,
                key.1,
                delay.as_secs()
            );
        } else {
            tracing::debug!(
                "alert at {}/{} offset {offset} still not written (try {tries}); again in {} s",
                key.0,
                key.1,
                delay.as_secs()
            );
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(&key.0, key.1);
        if let Err(e) = self.consumer.pause(&tpl) {
            tracing::debug!("pause {}/{}: {e}", key.0, key.1);
        }
        self.rewind(key, offset);
    }

    fn rewind(&self, key: &PartitionKey, offset: i64) {
        if let Err(e) = self.consumer.seek(
            &key.0,
            key.1,
            Offset::Offset(offset),
            Duration::from_secs(5),
        ) {
            tracing::debug!("seek {}/{} to {offset}: {e}", key.0, key.1);
        }
    }

    fn record(&mut self, bytes: &[u8], outcome: &Outcome) {
        let label = self.status.counts.add(outcome);
        let (id, kind) = alert_names(bytes);
        self.status.last_alert = Some(LastAlert {
            superevent_id: id,
            alert_type: kind,
            outcome: label.to_string(),
            at: Some(Utc::now()),
        });
        if let Outcome::Failed(why) | Outcome::Rejected { reason: why, .. } = outcome {
            self.context().note_error(why);
        }
    }

    /// Retries, lazy commits and the status file, every few seconds.
    fn housekeeping(&mut self) {
        if let Some(change) = self.silence.as_mut().and_then(|s| s.check(Utc::now())) {
            self.write_silence(change);
        }
        for key in self.holds.due(Instant::now()) {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition(&key.0, key.1);
            if let Err(e) = self.consumer.resume(&tpl) {
                tracing::debug!("resume {}/{}: {e}", key.0, key.1);
            }
        }
        if self.last_saved.elapsed() >= Duration::from_secs(REFRESH_SECS as u64) {
            if let Some(why) = self.take_commit_results(Duration::ZERO) {
                self.commit_failed(&why);
            }
            if self.ledger.has_pending() && !self.context().is_down() {
                self.send_pending();
            }
            self.save_status();
        }
    }

    /// Once per stretch: the connection is up but the group has handed us no
    /// partition for longer than a group join takes, so new alerts wait in
    /// the broker; `status` says the same.
    fn warn_if_holding_none(&mut self) {
        let since = self.status.holding_none_since;
        let stalled = self.status.holding_none_for(Utc::now()).is_some();
        if stalled && !self.holding_none_warned {
            tracing::warn!(
                "the group {} has handed this listener no partition since {}: new alerts \
                 wait in the broker (another member of the group holds them, or the group \
                 is stuck rebuilding: restarting listen rejoins it)",
                self.setup.group_id,
                since.map_or_else(String::new, |t| t.format("%H:%M:%S UTC").to_string())
            );
        }
        self.holding_none_warned = stalled || (self.holding_none_warned && since.is_some());
    }

    /// Writes the heartbeat directory of a silence or of its end.
    fn write_silence(&mut self, change: Change) {
        let notice = match change {
            Change::WentSilent { since } => {
                tracing::warn!(
                    "{HEARTBEAT_TOPIC} silent since {since} (gcn-kafka.heartbeat_alarm {:?})",
                    self.setup.kafka.heartbeat_alarm
                );
                Notice::heartbeat(since, None)
            }
            Change::CameBack { since, at } => {
                tracing::info!("{HEARTBEAT_TOPIC} back at {at} after a silence since {since}");
                Notice::heartbeat(since, Some(at))
            }
        };
        let message = Message {
            bytes: serde_json::to_vec_pretty(&notice.document).unwrap_or_default(),
            source: Source::Kafka {
                topic: HEARTBEAT_TOPIC.to_string(),
                partition: self.last_heartbeat_at.0,
                offset: self.last_heartbeat_at.1,
            },
        };
        let mut lines = Vec::new();
        let outcome = self.pipeline.write_notice(&notice, &message, &mut lines);
        lines.push(outcome.describe_for(&message.source, self.pipeline.reason_logged()));
        write_report(&mut std::io::stdout().lock(), &lines);
        self.pipeline.log_outcome(&message, &outcome);
    }

    fn save_status(&mut self) {
        let ends = self.context().ends();
        let committed: BTreeMap<&PartitionKey, i64> = self.ledger.committed().collect();
        let mut keys: Vec<PartitionKey> = committed.keys().map(|k| (*k).clone()).collect();
        keys.extend(ends.keys().cloned());
        keys.sort();
        keys.dedup();
        self.status.partitions = keys
            .into_iter()
            .map(|key| super::status::PartitionStatus {
                committed: committed.get(&key).copied(),
                end: ends.get(&key).copied(),
                topic: key.0,
                partition: key.1,
            })
            .collect();
        self.status.connection = Some(self.context().connection());
        self.status.holding_none_since = self.context().holding_none_since();
        self.warn_if_holding_none();
        self.status.last_error = self.context().last_error().map(|(at, message)| LastError {
            at: Some(at),
            message,
        });
        self.status.updated = Some(Utc::now());
        self.last_saved = Instant::now();
        match self.status.save(&self.setup.state_dir) {
            Ok(()) => self.status_write_failed = false,
            Err(e) if !self.status_write_failed => {
                tracing::warn!("{e}");
                self.status_write_failed = true;
            }
            Err(_) => {}
        }
    }

    /// The alert in hand is done: commit what is pending, record the stop.
    fn finish(&mut self) {
        if self.ledger.has_pending() {
            self.commit_pending(STOP_WAIT);
        }
        self.status.stopped = Some(Utc::now());
        self.save_status();
        self.context().closing();
        self.consumer.unsubscribe();
        tracing::info!("stopped");
    }

    /// Closes the consumer, waiting at most `CLOSE_WAIT`. A static member's
    /// close can wait without end for a group coordinator that is gone; by
    /// now every commit is confirmed or left to redelivery, so nothing is
    /// lost by not waiting: the client is then left to the process's exit.
    fn close(self) {
        let Listener {
            commits, consumer, ..
        } = self;
        drop(commits);
        if consumer.close_queue().is_ok() {
            let until = Instant::now() + CLOSE_WAIT;
            while !consumer.closed() && Instant::now() < until {
                let _ = consumer.poll(POLL);
            }
        }
        if !consumer.closed() {
            tracing::debug!(
                "the Kafka client did not close within {CLOSE_WAIT:?}; left to the exit"
            );
        }
        // Not dropped even when closed: rdkafka's drop closes the queue once
        // more and logs the refusal ("Failed to close consumer queue on drop:
        // BrokerDestroy") as an ERROR on every clean stop. The process exits
        // next, which frees the client.
        std::mem::forget(consumer);
    }
}

/// Errors that mean "the broker is not reachable (yet)", not "this is wrong".
fn is_connection_error(e: &KafkaError) -> bool {
    use rdkafka::types::RDKafkaErrorCode as C;
    matches!(
        e.rdkafka_error_code(),
        Some(
            C::BrokerTransportFailure
                | C::AllBrokersDown
                | C::Resolve
                | C::NetworkException
                | C::RequestTimedOut
                | C::OperationTimedOut
                | C::Authentication
                | C::SaslAuthenticationFailed
                | C::CoordinatorNotAvailable
                | C::NotCoordinator
                | C::LeaderNotAvailable
                | C::NotLeaderForPartition
        )
    )
}

fn add(tpl: &mut TopicPartitionList, topic: &str, partition: i32, offset: i64) {
    if let Err(e) = tpl.add_partition_offset(topic, partition, Offset::Offset(offset)) {
        tracing::debug!("offset list {topic}/{partition}: {e}");
    }
}

/// Our own record of where the same group stood, if the broker forgot it
/// (a group's offsets expire after days without a member).
fn previous_offset(
    previous: Option<&Status>,
    group_id: &str,
    topic: &str,
    partition: i32,
) -> Option<i64> {
    previous
        .filter(|s| s.group_id == group_id)
        .and_then(|s| s.committed(topic, partition))
}

/// The superevent id and alert type, for the status file; "?" if unreadable.
fn alert_names(bytes: &[u8]) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct Names {
        superevent_id: Option<String>,
        alert_type: Option<String>,
    }
    // A rejected message's names are as sent: short and escaped for `status`.
    let shown =
        |name: Option<String>| name.map_or_else(|| "?".into(), |n| clip_text(&escape_control(&n)));
    match serde_json::from_slice::<Names>(bytes) {
        Ok(n) => (shown(n.superevent_id), shown(n.alert_type)),
        Err(_) => ("?".into(), "?".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_kept_for_status_are_short_and_escaped() {
        let long = "M".repeat(100_000);
        let message = serde_json::json!({"superevent_id": long, "alert_type": "\u{1b}[2J\r\nFAKE"});
        let (id, kind) = alert_names(message.to_string().as_bytes());
        assert!(id.chars().count() < 300, "{} characters", id.len());
        assert_eq!(kind, "\\x1b[2J\\r\\nFAKE");
        assert_eq!(alert_names(b"not json"), ("?".into(), "?".into()));
    }
}

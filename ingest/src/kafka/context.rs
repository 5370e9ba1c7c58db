//! The librdkafka callbacks gocart installs. librdkafka retries a lost broker
//! by itself, forever, and reports every failed attempt; a user wants one line
//! when the connection goes and one when it is back. Its statistics (every few
//! seconds) also give each partition's end offset, so the status file can show
//! lag without a blocking call in the consumer loop.
//!
//! The connection is one of connecting / up / down (with a cause), never a
//! guess: it starts as connecting and is up only once the broker answered.
//! librdkafka's log lines about failed connections carry the host and the
//! operating system's words ("Connection refused", "Failed to resolve ..."),
//! which its error events often lack; both feed the cause.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::TopicPartitionList;

use super::config::Redactor;
use super::status::{Cause, CauseKind, Connection};

/// A partition, as (topic, partition).
pub type PartitionKey = (String, i32);

/// The state of the connection as the callbacks see it.
#[derive(Debug)]
struct Link {
    state: Connection,
    /// Set at the first error of an outage; cleared when the broker is back.
    down_since: Option<Instant>,
    last_error: Option<(DateTime<Utc>, String)>,
    /// The most telling cause heard since the broker last answered (also
    /// while closing: `check` asks for it after its request failed).
    heard: Option<Cause>,
}

/// librdkafka log facilities that report a failed connection or login.
const FAILURE_FACILITIES: &[&str] = &["FAIL", "ERROR", "OIDC", "SASL", "SSL", "AUTH", "SASLMECHS"];

/// The callbacks' shared state (librdkafka calls them from `poll`).
pub struct Context {
    redactor: Redactor,
    /// The configured bootstrap servers, named when a message has no host.
    servers: String,
    link: Mutex<Link>,
    ends: Mutex<BTreeMap<PartitionKey, i64>>,
    /// Set while the client shuts down: its last complaints are not news.
    closing: AtomicBool,
    /// Since when the group has handed `listen` no partition (from the
    /// start until the first assignment, and after partitions are taken back
    /// until they are handed again). None while it holds some.
    holding_none_since: Mutex<Option<DateTime<Utc>>>,
    /// When the caller stops trying (echo's `--timeout`); None: never
    /// (listen retries until the broker is back).
    give_up_at: Mutex<Option<Instant>>,
}

impl Context {
    pub fn new(redactor: Redactor, servers: &str) -> Context {
        Context {
            redactor,
            servers: servers.to_string(),
            link: Mutex::new(Link {
                state: Connection::Connecting {
                    host: servers.to_string(),
                    since: Utc::now(),
                },
                down_since: None,
                last_error: None,
                heard: None,
            }),
            ends: Mutex::new(BTreeMap::new()),
            closing: AtomicBool::new(false),
            holding_none_since: Mutex::new(Some(Utc::now())),
            give_up_at: Mutex::new(None),
        }
    }

    /// The caller gives up on the broker at `deadline` (None: never), so
    /// that the log says so rather than promising to retry forever.
    pub fn give_up_at(&self, deadline: Option<Instant>) {
        *lock(&self.give_up_at) = deadline;
    }

    /// What happens next, for the line that starts an outage.
    fn next_step(&self) -> String {
        match *lock(&self.give_up_at) {
            None => "retrying until the broker is back".into(),
            Some(deadline) => format!(
                "trying again for at most {} s (--timeout), then giving up",
                deadline
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64()
                    .ceil()
            ),
        }
    }

    /// Something went wrong with the connection: logged at the start of an
    /// outage, then only at debug level until it is over.
    pub fn trouble(&self, what: &str) {
        let what = self.redactor.clean(what);
        let cause = classify(&what, &self.servers);
        let mut link = lock(&self.link);
        if link
            .heard
            .as_ref()
            .is_some_and(|known| follows_from(&cause, known))
        {
            // Not news: the login failed because the network did.
            tracing::debug!("Kafka (following from the cause): {what}");
            return;
        }
        link.last_error = Some((Utc::now(), what.clone()));
        if link
            .heard
            .as_ref()
            .is_none_or(|known| telling(cause.kind) > telling(known.kind))
        {
            link.heard = Some(cause.clone());
        }
        if self.closing.load(Ordering::Relaxed) {
            tracing::debug!("Kafka (closing): {what}");
        } else if link.down_since.is_none() {
            link.down_since = Some(Instant::now());
            let next = self.next_step();
            tracing::warn!("Kafka: cannot connect to {cause}; {next}");
            link.state = Connection::Down {
                since: Utc::now(),
                cause,
            };
        } else {
            tracing::debug!("Kafka (still down): {what}");
            // A vague first report ("transport failure") gives way to the
            // first one that says why, and a failed login to the network
            // failure it followed from.
            if let Connection::Down { cause: known, .. } = &mut link.state {
                if telling(cause.kind) > telling(known.kind) {
                    tracing::warn!("Kafka: the cause: {cause}");
                    *known = cause;
                }
            }
        }
    }

    /// When the cause so far is vague (librdkafka said "transport failure" or
    /// nothing yet, which happens when it has not retried within a short
    /// `echo --timeout`, or when a loaded machine delays its report), tries
    /// the configured servers ourselves, each for at most `limit`: a name that
    /// does not exist is reported as the DNS failure it is, a port nobody
    /// listens on as refused, rather than as "connection failed".
    pub fn probe_servers(&self, limit: std::time::Duration) {
        let vague = match &lock(&self.link).state {
            Connection::Down { cause, .. } => cause.kind == CauseKind::Other,
            Connection::Up { .. } => false,
            _ => true,
        };
        if !vague {
            return;
        }
        for server in self.servers.split(',').map(str::trim) {
            if let Some(failure) = reach_failure(server, limit) {
                self.trouble(&failure);
                return;
            }
        }
    }

    /// Evidence the broker is reachable (a message, a commit, an answer to a
    /// request, a broker "UP").
    pub fn healthy(&self) {
        let mut link = lock(&self.link);
        link.heard = None;
        if let Some(since) = link.down_since.take() {
            tracing::info!(
                "Kafka: connection is back after {:.0} s",
                since.elapsed().as_secs_f64()
            );
        }
        if !link.state.is_up() {
            link.state = Connection::Up { since: Utc::now() };
        }
    }

    /// The connection as it is now, for the status file.
    pub fn connection(&self) -> Connection {
        lock(&self.link).state.clone()
    }

    /// The most telling cause of trouble heard since the broker last
    /// answered, even while closing (what `check` reports).
    pub fn heard_cause(&self) -> Option<Cause> {
        lock(&self.link).heard.clone()
    }

    /// Why the connection is down, if it is.
    pub fn cause(&self) -> Option<Cause> {
        match &lock(&self.link).state {
            Connection::Down { cause, .. } => Some(cause.clone()),
            _ => None,
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

    /// The group handed us partitions (`count` of them) or took them back
    /// (0): what `since_holding_none` tells.
    pub fn holding(&self, count: usize) {
        let mut since = lock(&self.holding_none_since);
        match (count, *since) {
            (0, None) => *since = Some(Utc::now()),
            (0, Some(_)) => {}
            _ => *since = None,
        }
    }

    /// Since when the group has handed this consumer no partition, if it
    /// holds none: after a group rebuild that never hands them back (seen
    /// with a test broker after a restart), alerts wait in the broker while
    /// the connection is up, which only this tells.
    pub fn holding_none_since(&self) -> Option<DateTime<Utc>> {
        *lock(&self.holding_none_since)
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
    /// librdkafka's own log lines are detail (shown with `GOCART_LOG=debug`),
    /// except its reports of failed connections and logins: they name the
    /// host and the cause, and start (or explain) an outage.
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        let text = self.redactor.clean(log_message);
        tracing::debug!("librdkafka {level:?} {fac}: {text}");
        if (level as i32) <= (RDKafkaLogLevel::Warning as i32) && FAILURE_FACILITIES.contains(&fac)
        {
            self.trouble(&text);
        }
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

impl ConsumerContext for Context {
    /// The moment `listen` really receives: the group handed it these
    /// partitions (messages sent before are not lost, they wait until now).
    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) if list.count() > 0 => {
                self.holding(list.count());
                tracing::info!("receiving from {}", partition_names(list));
            }
            Rebalance::Assign(_) => {}
            Rebalance::Revoke(list) if list.count() > 0 => {
                self.holding(0);
                tracing::info!(
                    "partitions taken back by the group: {}",
                    partition_names(list)
                );
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => self.trouble(&format!("rebalance: {e}")),
        }
    }
}

/// "igwn.gwalert/0, igwn.gwalert/1", for the log.
fn partition_names(list: &TopicPartitionList) -> String {
    list.elements()
        .iter()
        .map(|e| format!("{}/{}", e.topic(), e.partition()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "Failed to resolve 'HOST:PORT': why" when `server` does not resolve
/// within `limit`; `None` when it does, or when the answer takes longer (a
/// slow resolver is not proof of a missing name).
fn reach_failure(server: &str, limit: std::time::Duration) -> Option<String> {
    use std::net::{TcpStream, ToSocketAddrs};
    let (tx, rx) = std::sync::mpsc::channel();
    let name = server.to_string();
    // Neither step can be cancelled; a thread left behind on a hung resolver
    // or connect ends with the process.
    std::thread::spawn(move || {
        let answer = match name.to_socket_addrs().map(|mut a| a.next()) {
            Err(e) => Some(format!("Failed to resolve '{name}': {e}")),
            Ok(None) => Some(format!("Failed to resolve '{name}': no address")),
            Ok(Some(addr)) => match TcpStream::connect_timeout(&addr, limit) {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(format!(
                    "{name}: Connect to {addr} failed: Connection refused"
                )),
                _ => None,
            },
        };
        let _ = tx.send(answer);
    });
    rx.recv_timeout(limit).ok().flatten()
}

/// Sorts a failure report into a cause and finds the host it is about:
/// librdkafka starts its lines with the broker ("host:port/id: ..."), curl
/// names the host it could not resolve.
pub fn classify(text: &str, servers: &str) -> Cause {
    let lower = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    let kind = if has(&[
        "resolve",
        "name or service not known",
        "nodename nor servname",
        "name resolution",
    ]) {
        CauseKind::Dns
    } else if has(&["connection refused"]) {
        CauseKind::Refused
    } else if has(&[
        "sasl",
        "authenticat",
        "oauthbearer",
        "oidc",
        "token",
        "unauthorized",
        "invalid_client",
    ]) {
        CauseKind::Authentication
    } else if has(&["ssl", "tls", "certificate", "handshake"]) {
        CauseKind::Tls
    } else if has(&["timed out", "timeout"]) {
        CauseKind::Timeout
    } else {
        CauseKind::Other
    };
    let text = without_thread(text);
    Cause {
        kind,
        host: host_of(text).unwrap_or_else(|| servers.to_string()),
        detail: text.to_string(),
    }
}

/// How much a cause tells: a vague one least, then a timeout (an effect of
/// many things), a failed login, and a network failure (no name, refused,
/// no TLS), which a failed login may follow from, most.
fn telling(kind: CauseKind) -> u8 {
    match kind {
        CauseKind::Other => 0,
        CauseKind::Timeout => 1,
        CauseKind::Authentication => 2,
        CauseKind::Dns | CauseKind::Refused | CauseKind::Tls => 3,
    }
}

/// Whether `new` is only a consequence of `known`: without the network (no
/// name, no connection, no TLS) no login can succeed, and librdkafka then
/// also reports "Authentication (Local: Authentication failure)". Said
/// beside the real cause, it sends users to check their client secret.
fn follows_from(new: &Cause, known: &Cause) -> bool {
    new.kind == CauseKind::Authentication && telling(known.kind) > telling(new.kind)
}

/// librdkafka's "[thrd:...]: " prefix names its thread, nothing a user needs.
fn without_thread(text: &str) -> &str {
    match text.strip_prefix("[thrd:") {
        Some(rest) => rest.split_once("]: ").map_or(text, |(_, after)| after),
        None => text,
    }
}

/// The host a failure report is about, if it says.
fn host_of(text: &str) -> Option<String> {
    if let Some((_, rest)) = text.split_once("Could not resolve host: ") {
        // curl's words may close librdkafka's parenthesis: "...host: h)".
        return rest
            .split_whitespace()
            .next()
            .map(|host| host.trim_end_matches([')', ',', ';', '.']).to_string())
            .filter(|host| !host.is_empty());
    }
    if let Some((_, rest)) = text.split_once("Failed to resolve '") {
        return rest.split('\'').next().map(String::from);
    }
    // "host:port/bootstrap: Connect to ..." or "host:port/1: ..."
    let (first, _) = text.split_once(": ")?;
    // "sasl_ssl://host:port/1" when the protocol is part of the name.
    let first = first.split_once("://").map_or(first, |(_, rest)| rest);
    let (broker, _) = first.split_once('/')?;
    (!broker.is_empty() && !broker.contains(' ')).then(|| broker.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vague_cause_gives_way_to_our_own_lookup_of_the_host_name() {
        let limit = std::time::Duration::from_secs(5);
        let c = Context::new(Redactor::new("s"), "nothing.invalid:9092");
        c.trouble("1/1 brokers are down");
        assert_eq!(c.cause().unwrap().kind, CauseKind::Other);
        c.probe_servers(limit);
        let cause = c.cause().unwrap();
        assert_eq!(cause.kind, CauseKind::Dns, "{cause}");
        assert_eq!(cause.host, "nothing.invalid:9092");

        // A port nobody listens on is named refused, whether or not
        // librdkafka said so in time (a loaded machine delays its reports).
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap().to_string();
        drop(closed);
        let c = Context::new(Redactor::new("s"), &addr);
        c.trouble("1/1 brokers are down");
        c.probe_servers(limit);
        let cause = c.cause().unwrap();
        assert_eq!(cause.kind, CauseKind::Refused, "{cause}");
        assert_eq!(cause.host, addr);

        // A server that answers leaves the vague cause as it was, and a
        // specific cause is never second-guessed.
        let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = open.local_addr().unwrap().to_string();
        let c = Context::new(Redactor::new("s"), &addr);
        c.trouble("1/1 brokers are down");
        c.probe_servers(limit);
        assert_eq!(c.cause().unwrap().kind, CauseKind::Other);
        c.trouble(&format!(
            "{addr}/bootstrap: Connect to ipv4#{addr} failed: Connection refused"
        ));
        c.probe_servers(limit);
        assert_eq!(c.cause().unwrap().kind, CauseKind::Refused);
    }

    #[test]
    fn holding_no_partition_is_dated_from_the_start_or_from_the_taking_back() {
        let c = Context::new(Redactor::new("s"), "b:9092");
        let start = c.holding_none_since().expect("none held at the start");
        c.holding(2);
        assert_eq!(c.holding_none_since(), None);
        c.holding(0);
        let taken = c.holding_none_since().expect("none held once taken back");
        assert!(taken >= start);
        c.holding(0);
        assert_eq!(c.holding_none_since(), Some(taken), "dated from the first");
        c.holding(1);
        assert_eq!(c.holding_none_since(), None);
    }

    #[test]
    fn a_login_failed_for_want_of_network_is_not_the_cause() {
        let dns =
            "Failed to retrieve OIDC token from \"https://auth.nothing.invalid/oauth2/token\": \
                   Could not resolve host: auth.nothing.invalid (-1)";
        let login = "Global error: Authentication (Local: Authentication failure) (Failed to acquire SASL OAUTHBEARER token)";
        for order in [[dns, login], [login, dns]] {
            let c = Context::new(Redactor::new("s"), "kafka.nothing.invalid:9092");
            for report in order {
                c.trouble(report);
            }
            assert_eq!(c.cause().unwrap().kind, CauseKind::Dns, "{order:?}");
            assert_eq!(c.heard_cause().unwrap().kind, CauseKind::Dns);
            let (_, last) = c.last_error().unwrap();
            assert!(
                !last.contains("Authentication failure"),
                "{order:?}: {last}"
            );
        }
        // `check` hears while closing: the same cause, told once.
        let c = Context::new(Redactor::new("s"), "kafka.nothing.invalid:9092");
        c.closing();
        c.trouble(dns);
        c.trouble(login);
        assert_eq!(c.heard_cause().unwrap().kind, CauseKind::Dns);
        // A login refused by a reachable endpoint is the cause, even after
        // a timeout (which says less).
        let c = Context::new(Redactor::new("s"), "b:9092");
        c.trouble("Connection timed out");
        c.trouble("b:9092/bootstrap: SASL authentication error: Authentication failed");
        assert_eq!(c.cause().unwrap().kind, CauseKind::Authentication);
        let (_, last) = c.last_error().unwrap();
        assert!(last.contains("Authentication failed"), "{last}");
    }

    #[test]
    fn an_outage_with_a_deadline_says_when_it_gives_up() {
        let c = Context::new(Redactor::new("s"), "b:9092");
        assert_eq!(c.next_step(), "retrying until the broker is back");
        c.give_up_at(Some(Instant::now() + std::time::Duration::from_secs(3)));
        assert_eq!(
            c.next_step(),
            "trying again for at most 3 s (--timeout), then giving up"
        );
    }

    #[test]
    fn an_outage_is_remembered_until_the_broker_is_back() {
        let c = Context::new(Redactor::new("topsecret"), "b:9092");
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
    fn the_connection_is_connecting_until_the_broker_answers() {
        let c = Context::new(Redactor::new("topsecret"), "b:9092");
        assert!(matches!(c.connection(), Connection::Connecting { host, .. } if host == "b:9092"));
        c.trouble("BrokerTransportFailure (Local: Broker transport failure)");
        assert_eq!(c.cause().unwrap().kind, CauseKind::Other);
        // The first report that says why replaces a vague one.
        c.trouble("b:9092/bootstrap: Connect to ipv4#10.0.0.1:9092 failed: Connection refused");
        assert_eq!(c.cause().unwrap().kind, CauseKind::Refused);
        c.healthy();
        assert!(c.connection().is_up());
    }

    #[test]
    fn causes_are_sorted_and_name_the_host() {
        let cases = [
            (
                "[thrd:nothing.invalid:9092/bootstrap]: nothing.invalid:9092/bootstrap: Failed to resolve 'nothing.invalid:9092': Name or service not known (after 3ms in state CONNECT)",
                CauseKind::Dns,
                "nothing.invalid:9092",
            ),
            (
                "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused (after 0ms in state CONNECT)",
                CauseKind::Refused,
                "127.0.0.1:1",
            ),
            (
                "Failed to retrieve OIDC token: Could not resolve host: auth.gcn.nasa.gov",
                CauseKind::Dns,
                "auth.gcn.nasa.gov",
            ),
            (
                "kafka.gcn.nasa.gov:9092/bootstrap: SASL authentication error: Authentication failed",
                CauseKind::Authentication,
                "kafka.gcn.nasa.gov:9092",
            ),
            (
                "kafka.gcn.nasa.gov:9092/bootstrap: SSL handshake failed: wrong version number",
                CauseKind::Tls,
                "kafka.gcn.nasa.gov:9092",
            ),
            (
                "sasl_plaintext://127.0.0.1:37871/bootstrap: SASL OAUTHBEARER mechanism handshake failed: Broker: Unsupported SASL mechanism",
                CauseKind::Authentication,
                "127.0.0.1:37871",
            ),
            (
                "Global error: Authentication (Local: Authentication failure) (Failed to acquire SASL OAUTHBEARER token: Could not resolve host: auth.nothing.invalid)",
                CauseKind::Dns,
                "auth.nothing.invalid",
            ),
            (
                "Connection timed out",
                CauseKind::Timeout,
                "b:9092",
            ),
        ];
        for (text, kind, host) in cases {
            let cause = classify(text, "b:9092");
            assert_eq!((cause.kind, cause.host.as_str()), (kind, host), "{text}");
        }
    }

    #[test]
    fn the_end_of_a_partition_is_not_an_outage() {
        let c = Context::new(Redactor::new("topsecret"), "b:9092");
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

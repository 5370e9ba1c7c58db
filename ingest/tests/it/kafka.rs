//! `listen`, `echo` and `status` against a real Kafka-protocol broker process
//! (Tansu on 127.0.0.1, started and killed by the tests): nothing lost, nothing
//! written twice, through crashes and broker restarts. Skipped (with a note)
//! when tansu is not installed, except on CI.

use crate::common;
use gocart_tests::kafka;

use std::path::{Path, PathBuf};
use std::time::Duration;

use gocart_tests::process::Signal;
use gocart_tests::wait_until;
use kafka::{
    all_alert_dirs, complete_dirs, settings_text, wait_for_dirs, written_ids, Broker, Ingest,
    Storage,
};

const TOPIC: &str = "igwn.gwalert";
const LONG: Duration = Duration::from_secs(60);

/// A scratch directory with a settings file for `broker`.
struct Scratch {
    dir: tempfile::TempDir,
    settings: PathBuf,
}

impl Scratch {
    fn new(broker: &Broker, partitions_topics: &[&str], extra_kafka: &str) -> Scratch {
        Scratch::at(&broker.addr(), partitions_topics, extra_kafka)
    }

    /// Settings for a broker address that may have no broker at all.
    fn at(addr: &str, partitions_topics: &[&str], extra_kafka: &str) -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let settings = dir.path().join("gocart.yaml");
        std::fs::write(
            &settings,
            settings_text(addr, dir.path(), partitions_topics, extra_kafka),
        )
        .unwrap();
        Scratch { dir, settings }
    }

    fn tree(&self) -> PathBuf {
        self.dir.path().join("tree")
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn group_id(&self) -> String {
        kafka::group_id(&self.settings)
    }

    fn status(&self) -> serde_json::Value {
        kafka::listen_status(&self.state())
    }
}

fn alert(id: &str) -> Vec<u8> {
    common::synthetic_alert(id, "PRELIMINARY", "2024-05-01T12:00:00Z")
}

fn context(ingest: &Ingest) -> impl Fn() -> String + '_ {
    move || {
        format!(
            "--- stderr\n{}\n--- stdout\n{}",
            ingest.stderr_text(),
            ingest.stdout_text()
        )
    }
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn first_run_skips_the_backlog_then_writes_new_alerts() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let producer = broker.producer();
    for i in 0..3 {
        producer.send(TOPIC, 0, &alert(&format!("S240501old{i}")), None);
    }
    let s = Scratch::new(&broker, &[TOPIC], "");
    let original = std::fs::read_to_string(&s.settings).unwrap();
    let mut listen = Ingest::listen(&s.settings);
    assert!(
        listen.stderr_text().contains("skipped 3 older alerts"),
        "{}",
        listen.stderr_text()
    );
    // The new group id went into the file; nothing else changed.
    let group = s.group_id();
    assert!(group.starts_with("gocart-"), "{group}");
    let now = std::fs::read_to_string(&s.settings).unwrap();
    assert_eq!(
        now.replace(&format!("  group_id: {group}\n"), ""),
        original,
        "only the group_id line was added"
    );

    producer.send(TOPIC, 0, &alert("S240501new0"), None);
    producer.send(TOPIC, 0, &alert("S240501new1"), None);
    wait_for_dirs(&s.tree(), 2, LONG, &context(&listen));
    assert_eq!(written_ids(&s.tree()), vec!["S240501new0", "S240501new1"]);
    // Offsets are committed after each alert: 3 backlog + 2 = 5.
    assert!(
        wait_until(LONG, || broker.committed(&group, TOPIC, 1) == vec![5]),
        "{:?}",
        broker.committed(&group, TOPIC, 1)
    );
    assert!(listen.stop().success());
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn three_partitions_and_alerts_sent_while_down_arrive_after_restart() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 3);
    let producer = broker.producer();
    let s = Scratch::new(&broker, &[TOPIC], "");
    let mut listen = Ingest::listen(&s.settings);
    for i in 0..6 {
        producer.send(TOPIC, i % 3, &alert(&format!("S240502a{i}")), None);
    }
    wait_for_dirs(&s.tree(), 6, LONG, &context(&listen));
    assert!(listen.stop().success());

    // Down: alerts to every partition, one of which got nothing before.
    for i in 0..3 {
        producer.send(TOPIC, i, &alert(&format!("S240502b{i}")), None);
    }
    let mut again = Ingest::listen(&s.settings);
    wait_for_dirs(&s.tree(), 9, LONG, &context(&again));
    assert!(!again.stderr_text().contains("first run"));
    assert_eq!(all_alert_dirs(&s.tree()).len(), 9, "nothing twice");
    let group = s.group_id();
    assert!(wait_until(LONG, || broker.committed(&group, TOPIC, 3) == vec![3, 3, 3]));
    assert!(again.stop().success());
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn a_partition_without_alerts_on_the_first_run_still_resumes() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 2);
    let producer = broker.producer();
    producer.send(TOPIC, 1, &alert("S240503old"), None);
    let s = Scratch::new(&broker, &[TOPIC], "");
    let mut listen = Ingest::listen(&s.settings);
    assert!(listen.stop().success());
    // Sent while down, to a partition the first run never read from.
    producer.send(TOPIC, 1, &alert("S240503new"), None);
    let mut again = Ingest::listen(&s.settings);
    wait_for_dirs(&s.tree(), 1, LONG, &context(&again));
    assert_eq!(written_ids(&s.tree()), vec!["S240503new"]);
    assert!(again.stop().success());
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn kill_9_in_the_middle_of_an_alert_then_restart_writes_it_once() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let producer = broker.producer();
    let s = Scratch::new(&broker, &[TOPIC], "");
    // The picture on: the alert takes long enough to be caught half done.
    let text = std::fs::read_to_string(&s.settings)
        .unwrap()
        .replace("aitoff: {convert: false}", "aitoff: {convert: true}");
    std::fs::write(&s.settings, text).unwrap();
    let mut listen = Ingest::listen(&s.settings);
    let staging = s.tree().join(".staging");
    producer.send(TOPIC, 0, &alert("S240504a"), None);
    let caught = wait_until(LONG, || {
        std::fs::read_dir(&staging).is_ok_and(|mut d| d.next().is_some())
    });
    listen.signal(Signal::KILL);
    listen.wait_exit(Duration::from_secs(5)).unwrap();
    assert!(
        caught,
        "the alert was never staged: {}",
        listen.stderr_text()
    );
    assert!(
        complete_dirs(&s.tree()).is_empty(),
        "killed too late: the alert was already complete"
    );
    producer.send(TOPIC, 0, &alert("S240504b"), None);

    let mut again = Ingest::listen(&s.settings);
    wait_for_dirs(&s.tree(), 2, LONG, &context(&again));
    assert_eq!(written_ids(&s.tree()), vec!["S240504a", "S240504b"]);
    assert_eq!(all_alert_dirs(&s.tree()).len(), 2, "nothing twice");
    assert!(again.stop().success());
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn a_broker_restart_while_listening_loses_nothing() {
    let Some((mut broker, s, mut listen)) = listening_then_outage(Storage::Sqlite, "S240505a")
    else {
        return;
    };
    broker.restart();
    broker.producer().send(TOPIC, 0, &alert("S240505b"), None);
    wait_for_dirs(&s.tree(), 2, Duration::from_secs(90), &context(&listen));
    assert_outage_logged_once(&listen);
    assert_eq!(all_alert_dirs(&s.tree()).len(), 2);
    assert!(listen.stop().success());
}

/// A broker fault: alerts sent just before the broker goes, a minute
/// without it (longer than the session timeout: the group is rebuilt), more
/// alerts after. Every alert once; one warning and one recovery line.
#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn the_broker_stopped_for_60_s_mid_stream_loses_nothing() {
    let Some(mut broker) = Broker::start(Storage::Sqlite) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let s = Scratch::new(&broker, &[TOPIC], "");
    // Debug: a failure under load shows the group's rebuild, the commits and
    // any redelivery after the restart, where the cause would be.
    let mut listen = Ingest::listen_with(&s.settings, &["-v"]);
    let producer = broker.producer();
    for i in 0..4 {
        producer.send(TOPIC, 0, &alert(&format!("S240509a{i}")), None);
    }
    // Mid-stream: the listener may be inside any of these alerts right now.
    broker.kill();
    std::thread::sleep(Duration::from_secs(60));
    assert!(
        listen.child.try_wait().unwrap().is_none(),
        "listen died while the broker was away:\n{}",
        context(&listen)()
    );
    broker.restart();
    let producer = broker.producer();
    for i in 0..4 {
        producer.send(TOPIC, 0, &alert(&format!("S240509b{i}")), None);
    }
    let with_broker = || format!("{}\n--- broker\n{}", context(&listen)(), broker.log());
    wait_for_dirs(&s.tree(), 8, Duration::from_secs(90), &with_broker);
    assert_outage_logged_once(&listen);
    assert_each_written_once(&s, "S240509", 8);
    assert!(wait_until(LONG, || broker.committed(
        &s.group_id(),
        TOPIC,
        1
    ) == vec![8]));
    assert!(listen.stop().success());
}

/// A network cut: the broker stays up, but the port the listener
/// talks to closes and every connection through it drops, for 10 s; an alert
/// sent during the cut waits in the producer and arrives after it.
#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn a_network_cut_while_listening_loses_nothing() {
    let Some((broker, relay)) = kafka::broker_behind_relay(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let s = Scratch::new(&broker, &[TOPIC], "");
    let mut listen = Ingest::listen(&s.settings);
    broker.producer().send(TOPIC, 0, &alert("S240510a"), None);
    wait_for_dirs(&s.tree(), 1, LONG, &context(&listen));
    relay.cut();
    wait_until_outage_noticed(&listen);
    let during = std::thread::spawn({
        let producer = broker.producer();
        move || producer.send(TOPIC, 0, &alert("S240510b"), None)
    });
    std::thread::sleep(Duration::from_secs(10));
    relay.restore();
    during
        .join()
        .expect("the alert sent during the cut is delivered");
    broker.producer().send(TOPIC, 0, &alert("S240510c"), None);
    wait_for_dirs(&s.tree(), 3, Duration::from_secs(90), &context(&listen));
    assert_outage_logged_once(&listen);
    assert_each_written_once(&s, "S240510", 3);
    assert!(listen.stop().success());
}

/// Waits until the listener has said the broker is gone.
fn wait_until_outage_noticed(listen: &Ingest) {
    assert!(
        wait_until(LONG, || listen
            .stderr_text()
            .contains("retrying until the broker is back")),
        "{}",
        context(listen)()
    );
}

/// One warning when the broker went and one line when it came back.
fn assert_outage_logged_once(listen: &Ingest) {
    assert!(wait_until(LONG, || listen
        .stderr_text()
        .contains("connection is back")));
    let err = listen.stderr_text();
    assert_eq!(
        err.matches("retrying until the broker is back").count(),
        1,
        "one line per outage:\n{err}"
    );
    assert_eq!(err.matches("connection is back").count(), 1, "{err}");
}

/// `n` alerts of ids starting with `prefix`, each in exactly one directory.
fn assert_each_written_once(s: &Scratch, prefix: &str, n: usize) {
    let ids = written_ids(&s.tree());
    let mut unique = ids.clone();
    unique.dedup();
    assert_eq!(ids, unique, "an alert written twice");
    assert_eq!(ids.iter().filter(|id| id.starts_with(prefix)).count(), n);
    assert_eq!(all_alert_dirs(&s.tree()).len(), n);
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn echo_replays_the_last_day_from_every_partition_and_leaves_the_group_alone() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 3);
    let producer = broker.producer();
    let now_ms = chrono::Utc::now().timestamp_millis();
    let two_days_ago = now_ms - 2 * 86_400_000;
    for p in 0..3 {
        producer.send(
            TOPIC,
            p,
            &alert(&format!("S240506old{p}")),
            Some(two_days_ago),
        );
    }
    for i in 0..5 {
        producer.send(TOPIC, i % 3, &alert(&format!("S240506new{i}")), None);
    }
    // A listener's group, at the end of every partition.
    let s = Scratch::new(&broker, &[TOPIC], "");
    let mut listen = Ingest::listen(&s.settings);
    assert!(listen.stop().success());
    let group = s.group_id();
    let before = broker.committed(&group, TOPIC, 3);
    assert_eq!(before, vec![3, 3, 2]);

    // echo into a fresh tree with the same group id in its settings.
    let fresh = Scratch::new(&broker, &[TOPIC], &format!("  group_id: {group}\n"));
    let mut echo = Ingest::spawn(&fresh.settings, &["echo", "1"]);
    let status = echo.wait_exit(LONG).expect("echo finishes");
    assert!(status.success(), "{}", context(&echo)());
    let mut expected: Vec<String> = (0..5).map(|i| format!("S240506new{i}")).collect();
    expected.sort();
    assert_eq!(written_ids(&fresh.tree()), expected);
    assert!(
        echo.stdout_text()
            .contains("5 alerts: 5 written, 0 unchanged, 0 skipped, 0 rejected, 0 failed"),
        "{}",
        echo.stdout_text()
    );
    assert_eq!(broker.committed(&group, TOPIC, 3), before);

    // Fractional days: 0.5 still covers the new ones and they are unchanged now.
    let mut again = Ingest::spawn(&fresh.settings, &["echo", "0.5"]);
    assert!(again.wait_exit(LONG).expect("echo finishes").success());
    assert!(
        again.stdout_text().contains("5 unchanged"),
        "{}",
        again.stdout_text()
    );
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn a_malformed_message_is_rejected_and_the_next_one_written() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let producer = broker.producer();
    let s = Scratch::new(&broker, &[TOPIC], "");
    let mut listen = Ingest::listen(&s.settings);
    producer.send(TOPIC, 0, b"this is not JSON", None);
    producer.send(TOPIC, 0, &[], None);
    producer.send(TOPIC, 0, &alert("S240507a"), None);
    wait_for_dirs(&s.tree(), 1, LONG, &context(&listen));
    let rejected: Vec<_> = std::fs::read_dir(s.tree().join(".rejected"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(wait_until(LONG, || s.status()["counts"]["rejected"] == 2));
    let group = s.group_id();
    assert!(wait_until(LONG, || broker.committed(&group, TOPIC, 1) == vec![3]));
    assert!(listen.stop().success());
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn sigterm_exits_0_within_5_s_and_status_tells_running_from_stopped() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    // A secret in a world-readable file earns a warning; it is never shown.
    let s = Scratch::new(&broker, &[TOPIC], "  client_secret: sup3r-s3cret-value\n");
    let mut perms = std::fs::metadata(&s.settings).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(&s.settings, perms).unwrap();
    let mut listen = Ingest::listen(&s.settings);
    assert!(listen.stderr_text().contains("chmod 600"));
    // The lag is known once an alert was fetched and statistics came in.
    broker.producer().send(TOPIC, 0, &alert("S240507a"), None);
    wait_for_dirs(&s.tree(), 1, LONG, &context(&listen));
    assert!(
        wait_until(LONG, || s.status()["partitions"][0]["end"] == 1),
        "{}",
        s.status()
    );

    let status = run_status(&s.settings);
    assert!(status.0, "{}", status.1);
    assert!(status.1.contains("running and keeping up"), "{}", status.1);
    assert!(status.1.contains("connection: up since"), "{}", status.1);
    let (code, json) = run_status_json(&s.settings);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!(json["healthy"], true);
    assert_eq!(json["connection"]["state"], "up");
    assert_eq!(json["lag"], 0);
    assert_eq!(json["partitions"][0]["lag"], 0);
    // Every field the --help text documents is there.
    for key in [
        "healthy",
        "problems",
        "running",
        "pid",
        "group_id",
        "servers",
        "started",
        "updated",
        "updated_age_s",
        "fresh",
        "connection",
        "fenced",
        "heartbeat_followed",
        "last_heartbeat_age_s",
        "last_alert_age_s",
        "last_alert",
        "lag",
        "partitions",
        "counts",
        "skipped_at_start",
        "last_error",
        "never_ran",
    ] {
        assert!(json.get(key).is_some(), "no `{key}` in {json}");
    }
    assert_eq!(json["last_alert"]["superevent_id"], "S240507a");
    assert!(
        json["last_alert_age_s"].as_i64().is_some_and(|a| a < 60),
        "{json}"
    );

    let started = std::time::Instant::now();
    let exit = listen.stop();
    assert!(exit.success(), "{exit:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // A clean stop is not an error: no ERROR line (rdkafka's drop used to
    // log "Failed to close consumer queue on drop" at every stop).
    let log = listen.stderr_text();
    assert!(!log.contains("ERROR"), "{log}");
    let status = run_status(&s.settings);
    assert!(!status.0);
    assert!(status.1.contains("NOT running"), "{}", status.1);
    let all = format!("{}{}", listen.stderr_text(), listen.stdout_text());
    assert!(!all.contains("sup3r-s3cret"), "{all}");
}

fn run_status(settings: &Path) -> (bool, String) {
    let out = gocart_tests::with_settings(env!("CARGO_BIN_EXE_gocart-ingest"), settings)
        .arg("status")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `status --json`: its exit code and the object it printed.
fn run_status_json(settings: &Path) -> (Option<i32>, serde_json::Value) {
    let out = gocart_tests::with_settings(env!("CARGO_BIN_EXE_gocart-ingest"), settings)
        .args(["status", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("status --json printed no JSON ({e}): {text}"));
    (out.status.code(), value)
}

/// `gocart-ingest ARGS` run to its end: exit code and stderr.
fn run_ingest(settings: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = gocart_tests::with_settings(env!("CARGO_BIN_EXE_gocart-ingest"), settings)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn with_no_broker_status_says_connecting_or_down_with_the_cause_and_stays_fresh() {
    // Nothing listens on this port: no broker needed for this test.
    let addr = format!("127.0.0.1:{}", kafka::free_port());
    let s = Scratch::at(&addr, &[TOPIC], "");
    let mut listen = Ingest::spawn(&s.settings, &["listen"]);
    let started = std::time::Instant::now();
    // One line first saying where it connects to.
    assert!(wait_until(Duration::from_secs(10), || listen
        .stderr_text()
        .contains(&format!(
            "connecting to broker {addr}, topics {TOPIC}, group gocart-"
        ))));
    // The first failure, named with host and cause, promptly.
    let refused = format!("cannot connect to {addr}: connection refused");
    assert!(
        wait_until(Duration::from_secs(8), || listen
            .stderr_text()
            .contains(&refused)),
        "no '{refused}' within {:?}: {}",
        started.elapsed(),
        listen.stderr_text()
    );
    let first = s.status();
    let state = first["connection"]["state"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(state == "connecting" || state == "down", "{first}");
    assert!(wait_until(Duration::from_secs(10), || s.status()
        ["connection"]["state"]
        == "down"));
    let down = s.status();
    assert_eq!(down["connection"]["cause"]["kind"], "refused", "{down}");
    assert_eq!(down["connection"]["cause"]["host"], addr.as_str(), "{down}");
    // The file keeps being rewritten while the start-up retries.
    let updated = |v: &serde_json::Value| v["updated"].as_str().unwrap_or_default().to_string();
    let before = updated(&down);
    assert!(
        wait_until(Duration::from_secs(8), || updated(&s.status()) > before),
        "status file not refreshed during the start-up retries: {}",
        s.status()
    );
    let (ok, text) = run_status(&s.settings);
    assert!(!ok, "{text}");
    assert!(text.contains("connection: DOWN since"), "{text}");
    assert!(
        text.contains(&format!("{addr}: connection refused")),
        "{text}"
    );
    let (code, json) = run_status_json(&s.settings);
    assert_eq!(code, Some(1));
    assert_eq!(json["healthy"], false);
    assert_eq!(json["running"], true);
    assert_eq!(json["fresh"], true);
    assert_eq!(json["connection"]["state"], "down", "{json}");
    // Said once for the whole outage.
    assert_eq!(
        listen.stderr_text().matches("cannot connect to").count(),
        1,
        "{}",
        listen.stderr_text()
    );

    listen.signal(Signal::KILL);
    listen.wait_exit(Duration::from_secs(5)).unwrap();
    let (code, json) = run_status_json(&s.settings);
    assert_eq!(code, Some(1));
    assert_eq!(json["running"], false, "{json}");
    assert!(
        json["problems"][0]
            .as_str()
            .unwrap()
            .contains("not running"),
        "{json}"
    );
}

#[test]
fn status_before_listen_ever_ran_says_so_and_exits_1() {
    let s = Scratch::at("127.0.0.1:9", &[TOPIC], "");
    let (code, json) = run_status_json(&s.settings);
    assert_eq!(code, Some(1));
    assert_eq!(json["never_ran"], true);
    assert_eq!(json["healthy"], false);
    let (ok, text) = run_status(&s.settings);
    assert!(!ok && text.contains("has never run here"), "{text}");
}

#[test]
fn a_host_that_does_not_resolve_is_named_as_dns() {
    let s = Scratch::at("nothing.invalid:9092", &[TOPIC], "");
    let listen = Ingest::spawn(&s.settings, &["listen"]);
    let said = "cannot connect to nothing.invalid:9092: the host name does not resolve (DNS)";
    assert!(
        wait_until(Duration::from_secs(8), || listen
            .stderr_text()
            .contains(said)),
        "{}",
        listen.stderr_text()
    );
    assert!(wait_until(Duration::from_secs(8), || s.status()
        ["connection"]["cause"]["kind"]
        == "dns"));
}

/// GCN settings on a domain that does not exist: what `listen` meets on a
/// machine without network (the token endpoint and the broker unresolvable).
fn gcn_without_network(dir: &Path) -> PathBuf {
    let settings = dir.join("gocart.yaml");
    std::fs::write(
        &settings,
        format!(
            "lvk:\n  download_dir: {tree}\n  aitoff: {{convert: false}}\n\
             gcn-kafka:\n  client_id: my-client-id\n  client_secret: sup3r-s3cret-value\n  \
             domain: nothing.invalid\n  config:\n    reconnect.backoff.max.ms: 500\n\
             trigger:\n  state_dir: {state}\n",
            tree = dir.join("tree").display(),
            state = dir.join("state").display(),
        ),
    )
    .unwrap();
    settings
}

/// Without network librdkafka also reports "Authentication (Local:
/// Authentication failure)": a consequence, not a cause. Said beside the
/// DNS failure it sends users to check their secret.
#[test]
fn without_network_status_names_dns_and_not_a_failed_login() {
    let dir = tempfile::tempdir().unwrap();
    let settings = gcn_without_network(dir.path());
    let mut listen = Ingest::spawn(&settings, &["listen"]);
    let state = dir.path().join("state");
    assert!(
        wait_until(Duration::from_secs(15), || kafka::listen_status(&state)
            ["connection"]["cause"]["kind"]
            == "dns"),
        "{}",
        listen.stderr_text()
    );
    // librdkafka's login failure follows within a retry or two.
    std::thread::sleep(Duration::from_secs(6));
    let (_, text) = run_status(&settings);
    let err = listen.stderr_text();
    assert!(listen.stop().success(), "{err}");
    assert!(
        text.contains("the host name does not resolve (DNS)"),
        "{text}"
    );
    for said in [&text, &err] {
        assert!(!said.contains("Authentication failure"), "{said}");
        assert!(!said.contains("authentication failed"), "{said}");
    }
}

#[test]
fn echo_gives_up_after_its_timeout_naming_host_and_cause() {
    let addr = format!("127.0.0.1:{}", kafka::free_port());
    for (broker, cause) in [
        (addr.as_str(), "connection refused"),
        ("nothing.invalid:9092", "does not resolve (DNS)"),
    ] {
        let s = Scratch::at(broker, &[TOPIC], "");
        let started = std::time::Instant::now();
        let (code, err) = run_ingest(&s.settings, &["echo", "1", "--timeout", "3"]);
        let took = started.elapsed();
        assert_eq!(code, Some(1), "{err}");
        assert!(took < Duration::from_secs(8), "took {took:?}: {err}");
        assert!(
            err.contains(&format!(
                "echo: connecting to broker {broker}, topics {TOPIC}"
            )),
            "{err}"
        );
        assert!(
            err.contains(&format!(
                "cannot reach the Kafka broker {broker} within 3 s"
            )),
            "{err}"
        );
        assert!(err.contains(cause), "{err}");
        // One-shot: it says it will give up, never that it retries forever.
        assert!(!err.contains("retrying until the broker is back"), "{err}");
        assert!(err.contains("(--timeout), then giving up"), "{err}");
    }
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn heartbeats_are_followed_but_never_written() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    broker.create_topic("gcn.heartbeat", 1);
    let producer = broker.producer();
    let s = Scratch::new(&broker, &[TOPIC], "  heartbeat: true\n");
    let mut listen = Ingest::listen(&s.settings);
    for _ in 0..3 {
        producer.send(
            "gcn.heartbeat",
            0,
            br#"{"alert_datetime": "2024-05-01T00:00:00Z"}"#,
            None,
        );
    }
    assert!(wait_until(LONG, || !s.status()["last_heartbeat"].is_null()));
    producer.send(TOPIC, 0, &alert("S240508a"), None);
    wait_for_dirs(&s.tree(), 1, LONG, &context(&listen));
    assert!(
        !s.tree().join(".rejected").exists(),
        "heartbeats are no alerts"
    );
    assert_eq!(written_ids(&s.tree()), vec!["S240508a"]);
    let status = run_status(&s.settings);
    assert!(status.1.contains("last heartbeat: 20"), "{}", status.1);
    assert!(listen.stop().success());
}

/// "listening to" comes when the start positions are fixed; the moment the
/// group hands the partitions over is said too, since until then nothing
/// arrives (an operator watching a fresh start sees why).
#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn listen_says_which_partitions_it_receives_from() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 2);
    let s = Scratch::new(&broker, &[TOPIC], "");
    let mut listen = Ingest::listen(&s.settings);
    let said = format!("receiving from {TOPIC}/0, {TOPIC}/1");
    assert!(
        wait_until(LONG, || listen.stderr_text().contains(&said)),
        "no '{said}':\n{}",
        listen.stderr_text()
    );
    let log = listen.stderr_text();
    assert!(
        log.find("listening to") < log.find("receiving from"),
        "{log}"
    );
    assert!(listen.stop().success());
}

/// A listener the group hands no partition receives nothing while its
/// connection is up: after a minute its log and `status` say so (a group
/// rebuild that never hands the partitions back looks the same). Here a
/// second member of the group, on a topic of one partition, is left without.
#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn a_listener_the_group_hands_no_partition_says_so_after_a_minute() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let first = Scratch::new(&broker, &[TOPIC], "");
    let mut a = Ingest::listen(&first.settings);
    assert!(wait_until(LONG, || a
        .stderr_text()
        .contains("receiving from")));
    let group = format!(
        "    group.instance.id: standby\n  group_id: {}\n",
        first.group_id()
    );
    let second = Scratch::new(&broker, &[TOPIC], &group);
    let mut b = Ingest::listen(&second.settings);
    let warned = |i: &Ingest| i.stderr_text().contains("no partition since");
    assert!(
        wait_until(Duration::from_secs(100), || warned(&a) || warned(&b)),
        "neither listener said it holds no partition:\n{}\n{}",
        context(&a)(),
        context(&b)()
    );
    let (idle, busy) = if warned(&b) {
        (&second, &first)
    } else {
        (&first, &second)
    };
    let status = |s: &Scratch| {
        let out = gocart_tests::with_settings(env!("CARGO_BIN_EXE_gocart-ingest"), &s.settings)
            .arg("status")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, text) = status(idle);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("no partition for"), "{text}");
    let (code, text) = status(busy);
    assert_eq!(
        code,
        Some(0),
        "the member holding the partition is well: {text}"
    );
    assert!(a.stop().success());
    assert!(b.stop().success());
}

#[test]
fn gcn_credentials_still_xxxx_are_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("gocart.yaml");
    std::fs::write(
        &settings,
        "gcn-kafka:\n  client_id: XXXX\n  client_secret: XXXX\n",
    )
    .unwrap();
    for args in [&["listen"][..], &["echo", "1"][..]] {
        let out = gocart_tests::with_settings(env!("CARGO_BIN_EXE_gocart-ingest"), &settings)
            .args(args)
            .env_remove("GCN_KAFKA_CLIENT_ID")
            .env_remove("GCN_KAFKA_CLIENT_SECRET")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&settings.display().to_string()), "{err}");
        assert!(err.contains("client_secret"), "{err}");
    }
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn sigterm_while_the_broker_is_down_still_exits_0_within_5_s() {
    let Some((_broker, s, mut listen)) = listening_then_outage(Storage::Memory, "S240509a") else {
        return;
    };
    let started = std::time::Instant::now();
    assert!(listen.stop().success());
    assert!(started.elapsed() < Duration::from_secs(5));
    let status = run_status(&s.settings);
    assert!(status.1.contains("NOT running"), "{}", status.1);
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn a_missing_topic_is_logged_and_never_taken_for_an_alert() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let s = Scratch::new(&broker, &[TOPIC, "no.such.topic"], "");
    let mut listen = Ingest::listen(&s.settings);
    broker.producer().send(TOPIC, 0, &alert("S240510a"), None);
    wait_for_dirs(&s.tree(), 1, LONG, &context(&listen));
    let err = listen.stderr_text();
    assert!(err.contains("no.such.topic"), "{err}");
    assert!(!s.tree().join(".rejected").exists(), "{err}");
    assert_eq!(written_ids(&s.tree()), vec!["S240510a"]);
    assert!(listen.stop().success());
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn an_alert_we_fail_to_write_is_retried_in_place_and_nothing_passes_it() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let producer = broker.producer();
    let s = Scratch::new(&broker, &[TOPIC], "");
    let mut listen = Ingest::listen(&s.settings);
    // Our own I/O fails (a file where the staging directory must go), as on
    // a full disk: not the alert's fault, so it must not be committed.
    std::fs::create_dir_all(s.tree()).unwrap();
    let blocker = s.tree().join(".staging");
    let _ = std::fs::remove_dir_all(&blocker);
    std::fs::write(&blocker, b"in the way").unwrap();
    producer.send(TOPIC, 0, &alert("S240511a"), None);
    producer.send(TOPIC, 0, &alert("S240511b"), None);
    assert!(
        wait_until(LONG, || listen.stderr_text().contains("trying again in")),
        "{}",
        context(&listen)()
    );
    assert!(complete_dirs(&s.tree()).is_empty());
    let group = s.group_id();
    assert_eq!(
        broker.committed(&group, TOPIC, 1),
        vec![0],
        "nothing committed past it"
    );
    std::fs::remove_file(&blocker).unwrap();
    wait_for_dirs(&s.tree(), 2, LONG, &context(&listen));
    assert_eq!(written_ids(&s.tree()), vec!["S240511a", "S240511b"]);
    assert!(wait_until(LONG, || broker.committed(&group, TOPIC, 1) == vec![2]));
    assert!(listen.stop().success());
}

/// `mock --publish` sends realistic alerts to the local broker and `listen`
/// writes them: the whole pipeline with no GCN account.
#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn mock_alerts_published_to_the_local_broker_are_written_by_listen() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let s = Scratch::new(&broker, &[TOPIC], "");
    let mut listen = Ingest::listen(&s.settings);
    let mut publish = Ingest::spawn(
        &s.settings,
        &["mock", "--count", "3", "--seed", "5", "--publish"],
    );
    let status = publish.wait_exit(LONG).expect("mock --publish finishes");
    assert!(status.success(), "{}", publish.stderr_text());
    assert_eq!(publish.stdout_text().matches("PUBLISHED: ").count(), 3);
    wait_for_dirs(&s.tree(), 3, LONG, &context(&listen));
    assert!(listen.stop().success());
}

/// A listener that has written one alert (`id`), then a broker killed and the
/// listener seen noticing it. `None` when tansu is not installed.
fn listening_then_outage(storage: Storage, id: &str) -> Option<(Broker, Scratch, Ingest)> {
    let mut broker = Broker::start(storage)?;
    broker.create_topic(TOPIC, 1);
    let s = Scratch::new(&broker, &[TOPIC], "");
    let listen = Ingest::listen(&s.settings);
    broker.producer().send(TOPIC, 0, &alert(id), None);
    wait_for_dirs(&s.tree(), 1, LONG, &context(&listen));
    broker.kill();
    wait_until_outage_noticed(&listen);
    Some((broker, s, listen))
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn kill_9_then_status_says_not_running() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let s = Scratch::new(&broker, &[TOPIC], "");
    let mut listen = Ingest::listen(&s.settings);
    assert_eq!(run_status_json(&s.settings).0, Some(0));
    listen.signal(Signal::KILL);
    listen.wait_exit(Duration::from_secs(5)).unwrap();
    let (code, json) = run_status_json(&s.settings);
    assert_eq!(code, Some(1));
    assert_eq!(json["running"], false, "{json}");
    let (ok, text) = run_status(&s.settings);
    assert!(!ok && text.contains("NOT running"), "{text}");
}

/// Settings as for GCN (client id and secret, OIDC) but the broker, the
/// token endpoint and the protocol pointed at local ones.
fn gcn_style(broker: &str, token_url: &str, dir: &Path) -> String {
    format!(
        "lvk:\n  download_dir: {tree}\n  aitoff: {{convert: false}}\n\
         gcn-kafka:\n  client_id: my-client-id\n  client_secret: sup3r-s3cret-value\n  \
         heartbeat: false\n  config:\n    bootstrap.servers: {broker}\n    \
         security.protocol: sasl_plaintext\n    \
         sasl.oauthbearer.token.endpoint.url: {token_url}\n    \
         reconnect.backoff.max.ms: 500\n\
         trigger:\n  state_dir: {state}\n",
        tree = dir.join("tree").display(),
        state = dir.join("state").display(),
    )
}

/// A token endpoint: a Python http.server answering every POST with a
/// well-formed (unsigned) JWT access token. Killed on drop.
struct TokenEndpoint {
    child: std::process::Child,
    url: String,
}

impl TokenEndpoint {
    fn start() -> TokenEndpoint {
        let port = kafka::free_port();
        let script = r#"
import base64, http.server, json, sys, time
def b64(d): return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        tok = b64({"alg": "none", "typ": "JWT"}) + "." + b64({"sub": "test", "exp": int(time.time()) + 3600}) + ".sig"
        body = json.dumps({"access_token": tok, "token_type": "bearer", "expires_in": 3600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;
        let child = std::process::Command::new("python3")
            .args(["-c", script, &port.to_string()])
            .spawn()
            .expect("python3");
        assert!(wait_until(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        }));
        TokenEndpoint {
            child,
            url: format!("http://127.0.0.1:{port}/oauth2/token"),
        }
    }
}

impl Drop for TokenEndpoint {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn an_oidc_login_the_broker_refuses_is_named_authentication_and_the_secret_never_shown() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let token = TokenEndpoint::start();
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("gocart.yaml");
    std::fs::write(&settings, gcn_style(&broker.addr(), &token.url, dir.path())).unwrap();
    let mut perms = std::fs::metadata(&settings).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(&settings, perms).unwrap();
    let mut listen = Ingest::spawn(&settings, &["listen"]);
    let said = format!("cannot connect to {}: authentication failed", broker.addr());
    let found = wait_until(Duration::from_secs(15), || {
        listen.stderr_text().contains(&said)
    });
    let err = listen.stderr_text();
    assert!(found, "no '{said}':\n{err}");
    assert!(
        err.contains(&format!(
            "connecting to broker {}, topics {TOPIC}, client id my-client-id, group gocart-",
            broker.addr()
        )),
        "{err}"
    );
    let status = std::fs::read_to_string(dir.path().join("state/ingest-listen.json")).unwrap();
    let (_, text) = run_status(&settings);
    listen.signal(Signal::KILL);
    listen.wait_exit(Duration::from_secs(5));
    let all = format!(
        "{}{}{status}{text}",
        listen.stderr_text(),
        listen.stdout_text()
    );
    assert!(!all.contains("sup3r-s3cret"), "{all}");
    // echo says where it connects too, and gives up with the same cause.
    let (code, err) = run_ingest(&settings, &["echo", "1", "--timeout", "3"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("client id my-client-id") && err.contains("authentication"),
        "{err}"
    );
    assert!(!err.contains("sup3r-s3cret"), "{err}");
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn a_listener_killed_and_restarted_is_back_within_10_s_and_writes_each_alert_once() {
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let producer = broker.producer();
    // librdkafka's default session (45 s): a dynamic member that died would
    // hold the partition that long; a static one is taken back at once.
    let s = Scratch::new(&broker, &[TOPIC], "");
    assert!(!std::fs::read_to_string(&s.settings)
        .unwrap()
        .contains("session.timeout"));
    let listen = Ingest::listen(&s.settings);
    producer.send(TOPIC, 0, &alert("S240520a"), None);
    wait_for_dirs(&s.tree(), 1, LONG, &context(&listen));
    producer.send(TOPIC, 0, &alert("S240520b"), None);
    listen.signal(Signal::KILL);
    drop(listen);
    let restarted = std::time::Instant::now();
    let again = Ingest::spawn(&s.settings, &["listen"]);
    producer.send(TOPIC, 0, &alert("S240520c"), None);
    let before = complete_dirs(&s.tree()).len();
    let back = wait_until(Duration::from_secs(10), || {
        complete_dirs(&s.tree()).len() > before
    });
    let took = restarted.elapsed();
    eprintln!(
        "restart -> first alert directory: {:.1} s",
        took.as_secs_f64()
    );
    assert!(
        back,
        "no alert within 10 s of the restart\n{}",
        context(&again)()
    );
    producer.send(TOPIC, 0, &alert("S240520d"), None);
    wait_for_dirs(&s.tree(), 4, LONG, &context(&again));
    assert_each_written_once(&s, "S240520", 4);
}

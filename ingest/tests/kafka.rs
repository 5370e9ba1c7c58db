//! `listen`, `echo` and `status` against a real Kafka-protocol broker process
//! (Tansu on 127.0.0.1, started and killed by the tests): nothing lost, nothing
//! written twice, through crashes and broker restarts. Skipped (with a note)
//! when tansu is not installed, except on CI.

mod common;
mod kafka_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use kafka_support::{
    all_alert_dirs, complete_dirs, settings_text, wait_for, wait_for_dirs, written_ids, Broker,
    Ingest, Storage,
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
        let dir = tempfile::tempdir().unwrap();
        let settings = dir.path().join("gocart.yaml");
        std::fs::write(
            &settings,
            settings_text(&broker.addr(), dir.path(), partitions_topics, extra_kafka),
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
        kafka_support::group_id(&self.settings)
    }

    fn status(&self) -> serde_json::Value {
        kafka_support::listen_status(&self.state())
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
        wait_for(LONG, || broker.committed(&group, TOPIC, 1) == vec![5]),
        "{:?}",
        broker.committed(&group, TOPIC, 1)
    );
    assert!(listen.stop().success());
}

#[test]
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
    assert!(wait_for(LONG, || broker.committed(&group, TOPIC, 3) == vec![3, 3, 3]));
    assert!(again.stop().success());
}

#[test]
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
    let caught = wait_for(LONG, || {
        std::fs::read_dir(&staging).is_ok_and(|mut d| d.next().is_some())
    });
    listen.signal(libc::SIGKILL);
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

/// Issue 7's broker fault: alerts sent just before the broker goes, a minute
/// without it (longer than the session timeout: the group is rebuilt), more
/// alerts after. Every alert once; one warning and one recovery line.
#[test]
fn the_broker_stopped_for_60_s_mid_stream_loses_nothing() {
    let Some(mut broker) = Broker::start(Storage::Sqlite) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let s = Scratch::new(&broker, &[TOPIC], "");
    let mut listen = Ingest::listen(&s.settings);
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
    wait_for_dirs(&s.tree(), 8, Duration::from_secs(90), &context(&listen));
    assert_outage_logged_once(&listen);
    assert_each_written_once(&s, "S240509", 8);
    assert!(wait_for(LONG, || broker.committed(&s.group_id(), TOPIC, 1)
        == vec![8]));
    assert!(listen.stop().success());
}

/// Issue 7's network cut: the broker stays up, but the port the listener
/// talks to closes and every connection through it drops, for 10 s; an alert
/// sent during the cut waits in the producer and arrives after it.
#[test]
fn a_network_cut_while_listening_loses_nothing() {
    let Some((broker, relay)) = kafka_support::broker_behind_relay(Storage::Memory) else {
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
        wait_for(LONG, || listen
            .stderr_text()
            .contains("retrying until the broker is back")),
        "{}",
        context(listen)()
    );
}

/// One warning when the broker went and one line when it came back.
fn assert_outage_logged_once(listen: &Ingest) {
    assert!(wait_for(LONG, || listen
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
    assert!(wait_for(LONG, || s.status()["counts"]["rejected"] == 2));
    let group = s.group_id();
    assert!(wait_for(LONG, || broker.committed(&group, TOPIC, 1) == vec![3]));
    assert!(listen.stop().success());
}

#[test]
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

    let status = run_status(&s.settings);
    assert!(status.0, "{}", status.1);
    assert!(status.1.contains("running and keeping up"), "{}", status.1);

    let started = std::time::Instant::now();
    let exit = listen.stop();
    assert!(exit.success(), "{exit:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let status = run_status(&s.settings);
    assert!(!status.0);
    assert!(status.1.contains("NOT running"), "{}", status.1);
    let all = format!("{}{}", listen.stderr_text(), listen.stdout_text());
    assert!(!all.contains("sup3r-s3cret"), "{all}");
}

fn run_status(settings: &Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gocart-ingest"))
        .arg("-s")
        .arg(settings)
        .arg("status")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
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
    assert!(wait_for(LONG, || !s.status()["last_heartbeat"].is_null()));
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
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gocart-ingest"))
            .arg("-s")
            .arg(&settings)
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
        wait_for(LONG, || listen.stderr_text().contains("trying again in")),
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
    assert!(wait_for(LONG, || broker.committed(&group, TOPIC, 1) == vec![2]));
    assert!(listen.stop().success());
}

/// `mock --publish` sends realistic alerts to the local broker and `listen`
/// writes them: the whole pipeline with no GCN account.
#[test]
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

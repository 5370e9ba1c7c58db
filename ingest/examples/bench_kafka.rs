//! Benchmark of the Kafka path (not a timed test): a local
//! Tansu broker, `gocart-ingest listen` as a real process, and N one-megabyte
//! alerts produced one after another while it listens. Reports the latency from
//! the Kafka message timestamp (set by this producer at send time) to the
//! marker's `written_at` (the directory complete), p50 and p99, then the
//! throughput of `gocart-ingest echo 1` replaying them all into a fresh tree.
//! The picture is off (aitoff.convert false), as the targets assume.
//!
//! Tansu 0.6's fetch handler sleeps after every read, found data or not (half
//! of the remaining `fetch.wait.max.ms` above 250 ms, else all of it), so with
//! librdkafka's default of 500 ms a message waits ~375 ms on average before
//! the consumer has it. Kafka itself answers a fetch as soon as data arrives.
//! `--config fetch.wait.max.ms=10` takes that sleep out of the measurement.
//!
//! Usage (release build of the binary and the example, from the checkout):
//!   cargo build --release -p gocart-ingest --bins --example bench_kafka
//!   target/release/examples/bench_kafka [--alerts N] [--gap-ms MS] [--config K=V]...
//!       [--sqlite] [ALERT.json]
//! ALERT.json defaults to ../shared/alerts/lvk/MS181101ab-preliminary.json (1.04 MB);
//! each copy gets its own superevent id so every one is a new directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use gocart_tests::kafka::{complete_dirs, settings_text, Broker, Ingest, Storage};
use gocart_tests::wait_until;

const TOPIC: &str = "igwn.gwalert";

struct Args {
    /// Extra librdkafka properties for gocart-ingest (`--config KEY=VALUE`).
    config: Vec<String>,
    /// Tansu's sqlite storage instead of its memory one.
    sqlite: bool,
    alerts: usize,
    gap: Duration,
    alert: PathBuf,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        config: Vec::new(),
        sqlite: false,
        alerts: 200,
        gap: Duration::from_millis(250),
        alert: Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/alerts/lvk/MS181101ab-preliminary.json"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--config" => a.config.push(it.next().context("--config KEY=VALUE")?),
            "--sqlite" => a.sqlite = true,
            "--alerts" => a.alerts = it.next().context("--alerts N")?.parse()?,
            "--gap-ms" => a.gap = Duration::from_millis(it.next().context("--gap-ms MS")?.parse()?),
            path => a.alert = PathBuf::from(path),
        }
    }
    Ok(a)
}

/// `n` copies of the alert, each with its own superevent id.
fn alerts(template: &Path, n: usize) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let text = std::fs::read(template).with_context(|| template.display().to_string())?;
    let mut value: serde_json::Value = serde_json::from_slice(&text)?;
    let mock = value["superevent_id"]
        .as_str()
        .unwrap_or("MS")
        .starts_with('M');
    (0..n)
        .map(|i| {
            let id = format!("{}S240601{}", if mock { "M" } else { "" }, letters(i));
            value["superevent_id"] = serde_json::Value::String(id.clone());
            Ok((id, serde_json::to_vec(&value)?))
        })
        .collect()
}

/// 0 -> "a", 25 -> "z", 26 -> "ba", ... (superevent-id style suffixes).
fn letters(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (i % 26) as u8);
        i /= 26;
        if i == 0 {
            break;
        }
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let storage = if args.sqlite {
        Storage::Sqlite
    } else {
        Storage::Memory
    };
    let broker = Broker::start(storage).context("tansu is not installed (scripts/setup.sh)")?;
    broker.create_topic(TOPIC, 1);
    let messages = alerts(&args.alert, args.alerts)?;
    let size = messages.first().map_or(0, |m| m.1.len());
    let scratch = tempfile::tempdir()?;
    let settings = scratch.path().join("gocart.yaml");
    std::fs::write(
        &settings,
        settings_text(
            &broker.addr(),
            scratch.path(),
            &[TOPIC],
            &extra_config(&args.config)?,
        ),
    )?;
    let tree = scratch.path().join("tree");

    // The listener's own timings (receive delay, time to settle) are logged
    // at debug level by the consumer module.
    if std::env::var_os("GOCART_LOG").is_none() {
        std::env::set_var("GOCART_LOG", "info,gocart_ingest::kafka::consumer=debug");
    }
    let mut listen = Ingest::listen(&settings);
    // Its start position (the end of the topic) is fixed once it says so;
    // alerts sent before that would be skipped as the backlog.
    let ready = wait_until(Duration::from_secs(60), || {
        listen.stderr_text().contains("listening to")
    });
    anyhow::ensure!(ready, "listen did not start: {}", listen.stderr_text());
    let producer = broker.producer();
    let mut sent = HashMap::new();
    let mut produce_ms = Vec::new();
    for (i, (id, bytes)) in messages.iter().enumerate() {
        let now = chrono::Utc::now().timestamp_millis();
        let t = Instant::now();
        producer.send(TOPIC, 0, bytes, Some(now));
        produce_ms.push(t.elapsed().as_secs_f64() * 1e3);
        sent.insert(id.clone(), now);
        // Alerts come minutes apart; the gap keeps this a latency measure,
        // not a queue. Waiting for each directory would hide queueing.
        std::thread::sleep(args.gap);
        if i % 50 == 49 {
            eprintln!("sent {}", i + 1);
        }
    }
    let done = wait_until(Duration::from_secs(300), || {
        complete_dirs(&tree).len() >= messages.len()
    });
    anyhow::ensure!(done, "not all written: {}", listen.stderr_text());
    let mut latencies = latencies(&tree, &sent)?;
    latencies.sort_by(f64::total_cmp);
    listen.stop();
    let log = listen.stderr_text();
    let mut received = numbers_after(&log, "received ");
    let mut settled = numbers_after(&log, "settled in ");

    let fresh = tempfile::tempdir()?;
    let echo_settings = fresh.path().join("gocart.yaml");
    std::fs::write(
        &echo_settings,
        settings_text(
            &broker.addr(),
            fresh.path(),
            &[TOPIC],
            &extra_config(&args.config)?,
        ),
    )?;
    let start = Instant::now();
    let mut echo = Ingest::spawn(&echo_settings, &["echo", "1"]);
    let status = echo
        .wait_exit(Duration::from_secs(600))
        .context("echo did not finish")?;
    let echo_secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(status.success(), "echo failed: {}", echo.stderr_text());
    let echoed = complete_dirs(&fresh.path().join("tree")).len();

    println!(
        "alerts: {} of {size} bytes, one every {} ms",
        messages.len(),
        args.gap.as_millis()
    );
    println!(
        "listen latency (message timestamp -> marker written_at): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    produce_ms.sort_by(f64::total_cmp);
    println!(
        "  produce (send until acknowledged by the broker): p50 {:.0} ms, p99 {:.0} ms",
        percentile(&produce_ms, 0.5),
        percentile(&produce_ms, 0.99)
    );
    if !received.is_empty() && !settled.is_empty() {
        received.sort_by(f64::total_cmp);
        settled.sort_by(f64::total_cmp);
        println!(
            "  of which: timestamp -> received by listen p50 {:.0} ms, p99 {:.0} ms; \
             pipeline (received -> settled) p50 {:.0} ms, p99 {:.0} ms",
            percentile(&received, 0.5),
            percentile(&received, 0.99),
            percentile(&settled, 0.5),
            percentile(&settled, 0.99)
        );
    }
    println!(
        "echo 1: {echoed} alerts in {echo_secs:.2} s = {:.1} alerts/s (process start to exit)",
        echoed as f64 / echo_secs
    );
    println!(
        "figure: kafka.latency_p50_ms {:.0}",
        percentile(&latencies, 0.5)
    );
    println!(
        "figure: kafka.latency_p99_ms {:.0}",
        percentile(&latencies, 0.99)
    );
    if !received.is_empty() {
        println!(
            "figure: kafka.received_p50_ms {:.0}",
            percentile(&received, 0.5)
        );
        println!(
            "figure: kafka.pipeline_p50_ms {:.0}",
            percentile(&settled, 0.5)
        );
    }
    println!(
        "figure: kafka.echo_alerts_per_s {:.1}",
        echoed as f64 / echo_secs
    );
    Ok(())
}

/// `KEY=VALUE` options as lines of the settings' `gcn-kafka.config` block.
fn extra_config(options: &[String]) -> anyhow::Result<String> {
    options
        .iter()
        .map(|o| {
            let (key, value) = o
                .split_once('=')
                .with_context(|| format!("--config {o}: KEY=VALUE"))?;
            Ok(format!("    {key}: \"{value}\"\n"))
        })
        .collect()
}

/// The numbers that follow `marker` in each log line holding it.
fn numbers_after(log: &str, marker: &str) -> Vec<f64> {
    log.lines()
        .filter_map(|l| l.split_once(marker))
        .filter_map(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .collect()
}

/// written_at minus the send time (the message's Kafka timestamp), in ms.
fn latencies(tree: &Path, sent: &HashMap<String, i64>) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::new();
    for dir in complete_dirs(tree) {
        let marker: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(".gocart-complete"))?)?;
        let written = marker["written_at"].as_str().context("written_at")?;
        let written = chrono::DateTime::parse_from_rfc3339(written)?.timestamp_millis();
        let id = marker["superevent_id"].as_str().context("superevent_id")?;
        let sent = sent
            .get(id)
            .with_context(|| format!("no send time for {id}"))?;
        out.push((written - sent) as f64);
    }
    Ok(out)
}

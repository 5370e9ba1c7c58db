//! Load benchmark (a benchmark, not a timed test: these
//! machines are noisy). A local Tansu broker, `gocart-ingest listen` and
//! `gocart-trigger watch` running as release processes with three plugins, and
//! a burst of N realistic mock alerts (`gocart_ingest::mock`, generated before
//! the clock starts) produced as fast as the broker takes them.
//!
//! Checks that none is lost or duplicated: every alert that should be written
//! is one complete directory holding its message (marker `message_sha256`),
//! `listen` wrote each once, every (directory, plugin) ran once by the plugin
//! log and once, ok, by the record. Reports the time from the first send to
//! the last complete directory and to the end of the last plugin run, and both
//! processes' resident memory (sampled every 100 ms, and VmHWM before they
//! stop). Exit status 1 when a check fails (the scratch directory is kept).
//!
//! Usage (from the checkout):
//!   cargo run --release -p gocart-tests --example bench_load -- [--alerts N]
//!       [--seed S] [--png] [--config KEY=VALUE]... [--timeout-s S]
//! `--png` renders skymap.png too (off, as in bench_kafka); `--config` adds a
//! librdkafka property to listen's settings. Every number is one line
//! `figure: load.<name> <value>`, for the script that fills BENCHMARKS.md.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use gocart_ingest::mock::{self, MockAlert};
use gocart_shared::Marker;
use gocart_tests::kafka::{all_alert_dirs, complete_dirs, settings_text, Broker, Ingest, Storage};
use gocart_tests::process::terminate;
use gocart_tests::{binaries, wait_until, Status};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use sha2::{Digest, Sha256};

const TOPIC: &str = "igwn.gwalert";
/// The plugins' file names, as the record and the plugin log name them.
const PLUGINS: [&str; 3] = ["gp_append.sh", "gp_meta.py", "gp_sleep.sh"];

struct Args {
    alerts: usize,
    seed: u64,
    png: bool,
    config: Vec<String>,
    timeout: Duration,
}

fn args() -> anyhow::Result<Args> {
    let mut a = Args {
        alerts: 1000,
        seed: 7,
        png: false,
        config: Vec::new(),
        timeout: Duration::from_secs(1800),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--alerts" => a.alerts = value("--alerts")?.parse()?,
            "--seed" => a.seed = value("--seed")?.parse()?,
            "--png" => a.png = true,
            "--config" => a.config.push(value("--config")?),
            "--timeout-s" => a.timeout = Duration::from_secs(value("--timeout-s")?.parse()?),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    Ok(a)
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let bins = binaries();
    let scene = Scene::new(&args)?;
    let started = Instant::now();
    let alerts = mock::generate(
        &mock::Options {
            count: args.alerts,
            group: None,
            seed: args.seed,
            now: chrono::Utc::now(),
        },
        &scene.base.join("fits"),
    )?;
    let generate_s = started.elapsed().as_secs_f64();
    let expected = should_be_written(&alerts);

    let broker =
        Broker::start(Storage::Memory).context("tansu is not installed (scripts/setup.sh)")?;
    broker.create_topic(TOPIC, 1);
    scene.write_settings(&broker.addr(), &args)?;
    let mut trigger = scene.start_trigger(&bins.trigger)?;
    // Positioned at the end of the topic once it says so: what is sent
    // before would be skipped as the backlog.
    let mut listen = Ingest::listen(&scene.settings);
    let sampler = Sampler::start(listen.child.id(), trigger.id());

    let burst = publish(&broker.addr(), &alerts)?;
    let waited = scene.wait_until_done(&expected, &mut listen, &mut trigger, args.timeout);
    let hwm = [
        vm_kb(listen.child.id(), "VmHWM"),
        vm_kb(trigger.id(), "VmHWM"),
    ];
    let samples = sampler.stop();
    let listen_exit = listen.stop();
    let trigger_exit = stop(&mut trigger);

    let mut problems = Vec::new();
    if let Err(e) = waited {
        problems.push(format!("{e:#}"));
    }
    problems.extend(exits(listen_exit, trigger_exit));
    let dirs = scene.check_tree(&expected, &mut problems);
    problems.extend(check_listen_output(&listen.stdout_text(), expected.len()));
    problems.extend(scene.check_runs(&dirs));

    let times = Times::measure(&scene, &dirs, burst.first_send)?;
    report(&args, &alerts, &expected, generate_s, &burst, &times);
    report_memory(&samples, hwm);
    finish(problems, scene)
}

/// Exit 0 when every check held; else each problem and exit 1, keeping the
/// scratch directory (tree, record, logs) to look at.
fn finish(problems: Vec<String>, scene: Scene) -> anyhow::Result<()> {
    if problems.is_empty() {
        println!("checks: all passed");
        return Ok(());
    }
    for p in problems.iter().take(50) {
        println!("check failed: {p}");
    }
    println!("checks: {} failed", problems.len());
    println!("kept: {}", scene.dir.keep().display());
    std::process::exit(1);
}

/// The alerts `listen` must write: all but a retraction of an event with no
/// earlier alert in the burst (there are no filters in these settings).
fn should_be_written(alerts: &[MockAlert]) -> Vec<&MockAlert> {
    let mut seen = std::collections::HashSet::new();
    alerts
        .iter()
        .filter(|a| {
            let first = seen.insert(a.superevent_id.clone());
            !(first && a.alert_type == "RETRACTION")
        })
        .collect()
}

/// The settings, tree, record, plugins and plugin log of one run.
struct Scene {
    dir: tempfile::TempDir,
    /// `dir` resolved: the trigger names directories by their real path.
    base: PathBuf,
    settings: PathBuf,
    tree: PathBuf,
    plugins: PathBuf,
    log: PathBuf,
}

impl Scene {
    fn new(args: &Args) -> anyhow::Result<Scene> {
        let dir = tempfile::tempdir()?;
        let base = dir.path().canonicalize()?;
        let scene = Scene {
            settings: base.join("gocart.yaml"),
            tree: base.join("tree"),
            plugins: base.join("plugins"),
            log: base.join("plugins.log"),
            base,
            dir,
        };
        std::fs::create_dir_all(&scene.plugins)?;
        std::fs::create_dir_all(scene.base.join("fits"))?;
        std::fs::write(&scene.log, "")?;
        scene.write_plugins()?;
        eprintln!(
            "bench_load: {} alerts, seed {}, scratch {}",
            args.alerts,
            args.seed,
            scene.base.display()
        );
        Ok(scene)
    }

    /// Three plugins, each ending with one line `<plugin> <dir> <epoch s>`
    /// appended (O_APPEND, one write) to the log: a shell one that only
    /// appends, a Python one that reads meta.yaml with PyYAML as a real
    /// plugin does, and one that sleeps 50 ms.
    fn write_plugins(&self) -> anyhow::Result<()> {
        let log = self.log.display();
        let line = |name: &str| format!("echo \"{name} $1 $(date +%s.%N)\" >> '{log}'\n");
        let texts = [
            format!("#!/bin/sh\n{}", line(PLUGINS[0])),
            format!(
                "import os, sys, time\nimport yaml\n\n\
                 with open(os.path.join(sys.argv[1], 'meta.yaml')) as f:\n    meta = yaml.safe_load(f)\n\
                 if meta['ALERT']['superevent_id'] != os.environ['GOCART_SUPEREVENT_ID']:\n    \
                 sys.exit('meta.yaml is not the alert of GOCART_SUPEREVENT_ID')\n\
                 fd = os.open('{log}', os.O_WRONLY | os.O_APPEND)\n\
                 os.write(fd, f'{name} {{sys.argv[1]}} {{time.time():.6f}}\\n'.encode())\n",
                name = PLUGINS[1]
            ),
            format!("#!/bin/sh\nsleep 0.05\n{}", line(PLUGINS[2])),
        ];
        for (name, text) in PLUGINS.iter().zip(texts) {
            let path = self.plugins.join(name);
            std::fs::write(&path, text)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
        }
        Ok(())
    }

    /// The Kafka test settings (tree, record, broker) plus the plugins; the
    /// trigger's other settings are the defaults (concurrency 2).
    fn write_settings(&self, addr: &str, args: &Args) -> anyhow::Result<()> {
        let extra: String = args
            .config
            .iter()
            .map(|o| {
                let (key, value) = o.split_once('=').context("--config KEY=VALUE")?;
                Ok(format!("    {key}: \"{value}\"\n"))
            })
            .collect::<anyhow::Result<_>>()?;
        let mut text = settings_text(addr, &self.base, &[TOPIC], &extra);
        if args.png {
            let off = "aitoff: {convert: false}";
            anyhow::ensure!(text.contains(off), "settings_text changed: {text}");
            text = text.replace(off, "aitoff: {convert: true}");
        }
        text.push_str(&format!("  plugins_dir: {}\n", self.plugins.display()));
        std::fs::write(&self.settings, text)?;
        Ok(())
    }

    /// `gocart-trigger watch`, waited for until it watches the tree.
    fn start_trigger(&self, exe: &Path) -> anyhow::Result<Child> {
        let stderr = self.base.join("trigger.err");
        let child = gocart_tests::with_settings(exe, &self.settings)
            .arg("watch")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr)?)
            .spawn()?;
        let ready = wait_until(Duration::from_secs(60), || {
            let text = std::fs::read_to_string(&stderr).unwrap_or_default();
            text.contains("watching ") || text.contains("polling ")
        });
        anyhow::ensure!(ready, "the trigger did not start: {}", self.trigger_log());
        Ok(child)
    }

    fn trigger_log(&self) -> String {
        std::fs::read_to_string(self.base.join("trigger.err")).unwrap_or_default()
    }

    /// Polls until every expected directory is complete and every plugin
    /// has logged a run on each, then until the record agrees; fails early
    /// when either process exits.
    fn wait_until_done(
        &self,
        expected: &[&MockAlert],
        listen: &mut Ingest,
        trigger: &mut Child,
        limit: Duration,
    ) -> anyhow::Result<()> {
        let (dirs, runs) = (expected.len(), expected.len() * PLUGINS.len());
        let start = Instant::now();
        let mut shown = Instant::now();
        loop {
            let (d, r) = (complete_dirs(&self.tree).len(), self.log_lines());
            if d >= dirs && r >= runs {
                break;
            }
            if let Some(s) = listen.child.try_wait()? {
                anyhow::bail!("listen exited ({s}): {}", listen.stderr_text());
            }
            if let Some(s) = trigger.try_wait()? {
                anyhow::bail!("the trigger exited ({s}): {}", self.trigger_log());
            }
            anyhow::ensure!(
                start.elapsed() < limit,
                "timed out: {d} of {dirs} directories, {r} of {runs} plugin runs"
            );
            if shown.elapsed() > Duration::from_secs(10) {
                eprintln!(
                    "  {:.0} s: {d}/{dirs} directories, {r}/{runs} plugin runs",
                    start.elapsed().as_secs_f64()
                );
                shown = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        // A plugin logs before it exits; the record says ok a moment later.
        let want = format!("ok {runs}, failed 0");
        let recorded = wait_until(Duration::from_secs(60), || {
            self.status(1)
                .is_some_and(|s| s.count("ok") == runs as u64 && s.count("failed") == 0)
        });
        anyhow::ensure!(recorded, "the record never showed {want}");
        Ok(())
    }

    fn log_lines(&self) -> usize {
        std::fs::read(&self.log).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
    }

    /// `gocart-trigger status --json --last N`; `None` if it failed.
    fn status(&self, last: usize) -> Option<Status> {
        let out = gocart_tests::with_settings(&binaries().trigger, &self.settings)
            .args(["status", "--json", "--last", &last.to_string()])
            .output()
            .ok()?;
        Status::parse(&out.stdout)
    }

    /// Every expected alert is exactly one complete directory holding its
    /// message, and nothing else is in the tree; returns the directories.
    fn check_tree(&self, expected: &[&MockAlert], problems: &mut Vec<String>) -> Vec<PathBuf> {
        let dirs = complete_dirs(&self.tree);
        let all = all_alert_dirs(&self.tree);
        if all.len() != dirs.len() {
            problems.push(format!(
                "{} alert directories without a marker",
                all.len() - dirs.len()
            ));
        }
        let mut held: HashMap<String, Vec<&Path>> = HashMap::new();
        for dir in &dirs {
            match Marker::read_checked(dir) {
                Ok(m) => held.entry(m.message_sha256).or_default().push(dir),
                Err(e) => problems.push(e.to_string()),
            }
        }
        for alert in expected {
            let sha = hex_sha256(&alert.message);
            match held.remove(&sha).as_deref() {
                Some([_]) => {}
                None => problems.push(format!(
                    "lost: {} {}",
                    alert.superevent_id, alert.alert_type
                )),
                Some(many) => problems.push(format!("duplicated: {many:?}")),
            }
        }
        problems.extend(
            held.values()
                .flatten()
                .map(|d| format!("unexpected directory {}", d.display())),
        );
        dirs
    }

    /// Each (directory, plugin) ran once by the plugin log, and is one ok run
    /// at its first attempt in the record, which holds nothing else.
    fn check_runs(&self, dirs: &[PathBuf]) -> Vec<String> {
        let mut problems = Vec::new();
        let mut logged: HashMap<(String, String), usize> = HashMap::new();
        for line in std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
        {
            let fields: Vec<&str> = line.split(' ').collect();
            let [plugin, dir, _ended] = fields[..] else {
                problems.push(format!("torn plugin log line {line:?}"));
                continue;
            };
            *logged
                .entry((dir.to_string(), plugin.to_string()))
                .or_default() += 1;
        }
        // A few more than expected, so that extra runs would show.
        let record = self
            .status(dirs.len() * PLUGINS.len() + 10)
            .unwrap_or_default()
            .last_runs;
        for dir in dirs {
            for plugin in PLUGINS {
                let pair = (dir.display().to_string(), plugin.to_string());
                match logged.remove(&pair) {
                    Some(1) => {}
                    n => problems.push(format!("{pair:?} ran {} times", n.unwrap_or(0))),
                }
                if record.get(&pair) != Some(&("ok".to_string(), 1)) {
                    problems.push(format!("{pair:?} in the record: {:?}", record.get(&pair)));
                }
            }
        }
        problems.extend(
            logged
                .keys()
                .map(|p| format!("run of an unknown directory {p:?}")),
        );
        if record.len() != dirs.len() * PLUGINS.len() {
            problems.push(format!(
                "the record has {} runs, not {}",
                record.len(),
                dirs.len() * PLUGINS.len()
            ));
        }
        problems
    }
}

/// What `listen` printed: one WRITTEN per alert and no other outcome.
fn check_listen_output(stdout: &str, expected: usize) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for line in stdout.lines() {
        let verb = line.split(':').next().unwrap_or_default();
        if [
            "WRITTEN",
            "UNCHANGED",
            "REPLACED",
            "SKIPPED",
            "REJECTED",
            "FAILED",
        ]
        .contains(&verb)
        {
            *counts.entry(verb).or_default() += 1;
        }
    }
    let written = counts.remove("WRITTEN").unwrap_or(0);
    let mut problems = Vec::new();
    if written != expected {
        problems.push(format!("listen wrote {written} alerts, not {expected}"));
    }
    problems.extend(counts.iter().map(|(verb, n)| format!("listen: {n} {verb}")));
    problems
}

/// Both programs stopped cleanly on SIGTERM.
fn exits(listen: ExitStatus, trigger: anyhow::Result<ExitStatus>) -> Vec<String> {
    let mut problems = Vec::new();
    if !listen.success() {
        problems.push(format!("listen exited with {listen}"));
    }
    match trigger {
        Ok(s) if s.success() => {}
        Ok(s) => problems.push(format!("the trigger exited with {s}")),
        Err(e) => problems.push(format!("{e:#}")),
    }
    problems
}

/// SIGTERM, and the exit status within 60 s.
fn stop(child: &mut Child) -> anyhow::Result<ExitStatus> {
    terminate(child, Duration::from_secs(60))
        .context("the trigger did not exit within 60 s of SIGTERM")
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The burst as sent.
struct Burst {
    first_send: SystemTime,
    /// First send until the broker acknowledged the last message.
    elapsed: Duration,
    bytes: usize,
}

/// Sends every alert without waiting for each acknowledgement, as fast as
/// librdkafka queues them, then waits for all (the harness's producer waits
/// for each, which would pace the burst by round trips).
fn publish(addr: &str, alerts: &[MockAlert]) -> anyhow::Result<Burst> {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", addr)
        // Some mock alerts are over 5 MB (a fine arc map, base64 in JSON).
        .set("message.max.bytes", "64000000")
        .create()?;
    let first_send = SystemTime::now();
    let start = Instant::now();
    for alert in alerts {
        let mut record = BaseRecord::to(TOPIC)
            .key(&alert.superevent_id)
            .payload(&alert.message);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => anyhow::bail!("send {}: {e}", alert.superevent_id),
            }
        }
        producer.poll(Duration::ZERO);
    }
    producer.flush(Duration::from_secs(300))?;
    Ok(Burst {
        first_send,
        elapsed: start.elapsed(),
        bytes: alerts.iter().map(|a| a.message.len()).sum(),
    })
}

/// Seconds from the first send to the first and last complete directory
/// (the markers' `written_at`) and to the end of the last plugin run (the
/// plugin log's times).
struct Times {
    first_dir_s: f64,
    last_dir_s: f64,
    last_plugin_s: f64,
}

impl Times {
    fn measure(scene: &Scene, dirs: &[PathBuf], first_send: SystemTime) -> anyhow::Result<Times> {
        let t0 = first_send.duration_since(UNIX_EPOCH)?.as_secs_f64();
        let mut written = Vec::new();
        for dir in dirs {
            let marker = Marker::read(dir)?;
            let at = chrono::DateTime::parse_from_rfc3339(&marker.written_at)?;
            written.push(at.timestamp_micros() as f64 / 1e6 - t0);
        }
        let ended = std::fs::read_to_string(&scene.log)?
            .lines()
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .fold(f64::NAN, f64::max);
        Ok(Times {
            first_dir_s: written.iter().copied().fold(f64::NAN, f64::min),
            last_dir_s: written.iter().copied().fold(f64::NAN, f64::max),
            last_plugin_s: ended - t0,
        })
    }
}

fn figure(name: &str, value: f64) {
    println!("figure: load.{name} {value:.3}");
}

fn report(
    args: &Args,
    alerts: &[MockAlert],
    expected: &[&MockAlert],
    generate_s: f64,
    burst: &Burst,
    t: &Times,
) {
    println!(
        "load: {} mock alerts (seed {}) generated beforehand in {generate_s:.1} s (not timed), \
         produced in one burst by this program; {} to be written; plugins {}; png {}",
        alerts.len(),
        args.seed,
        expected.len(),
        PLUGINS.join(", "),
        if args.png { "on" } else { "off" }
    );
    if !args.config.is_empty() {
        println!("listen config: {}", args.config.join(" "));
    }
    let runs = expected.len() * PLUGINS.len();
    figure("alerts", alerts.len() as f64);
    figure("expected_dirs", expected.len() as f64);
    figure("plugin_runs", runs as f64);
    let mut sizes: Vec<usize> = alerts.iter().map(|a| a.message.len()).collect();
    sizes.sort_unstable();
    figure("message_median_kb", sizes[sizes.len() / 2] as f64 / 1e3);
    figure(
        "message_max_kb",
        sizes.last().copied().unwrap_or(0) as f64 / 1e3,
    );
    figure("publish_mb", burst.bytes as f64 / 1e6);
    figure("publish_s", burst.elapsed.as_secs_f64());
    figure("first_dir_s", t.first_dir_s);
    figure("last_dir_s", t.last_dir_s);
    figure("last_plugin_s", t.last_plugin_s);
    figure("alerts_per_s", expected.len() as f64 / t.last_dir_s);
    figure("runs_per_s", runs as f64 / t.last_plugin_s);
}

/// Peak, start and end RSS of both processes, VmHWM, and the RSS at each
/// tenth of the run (to see growth rather than a peak).
fn report_memory(samples: &[Sample], hwm: [Option<u64>; 2]) {
    for (i, name) in ["listen", "trigger"].iter().enumerate() {
        let rss: Vec<u64> = samples.iter().map(|s| s.rss[i]).collect();
        let mb = |kb: u64| kb as f64 / 1024.0;
        figure(
            &format!("{name}_rss_start_mb"),
            mb(rss.first().copied().unwrap_or(0)),
        );
        figure(
            &format!("{name}_rss_peak_mb"),
            mb(rss.iter().copied().max().unwrap_or(0)),
        );
        figure(
            &format!("{name}_rss_end_mb"),
            mb(rss.last().copied().unwrap_or(0)),
        );
        figure(&format!("{name}_vmhwm_mb"), mb(hwm[i].unwrap_or(0)));
        let trace: Vec<String> = (0..=10)
            .filter_map(|k| samples.get((samples.len().saturating_sub(1)) * k / 10))
            .map(|s| format!("{:.0}s:{:.0}", s.at, mb(s.rss[i])))
            .collect();
        println!("{name} rss MB over the run: {}", trace.join(" "));
    }
}

/// One sample of both processes' RSS (kB), `at` seconds after the start.
struct Sample {
    at: f64,
    rss: [u64; 2],
}

/// Samples the RSS of two processes every 100 ms on a thread.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<Vec<Sample>>,
}

impl Sampler {
    fn start(a: u32, b: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let start = Instant::now();
            let mut samples = Vec::new();
            while !flag.load(Ordering::Relaxed) {
                samples.push(Sample {
                    at: start.elapsed().as_secs_f64(),
                    rss: [a, b].map(|pid| vm_kb(pid, "VmRSS").unwrap_or(0)),
                });
                std::thread::sleep(Duration::from_millis(100));
            }
            samples
        });
        Sampler { stop, thread }
    }

    fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the sampler does not panic")
    }
}

/// A `Vm*` line of /proc/PID/status, in kB.
fn vm_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

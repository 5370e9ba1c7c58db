//! Benchmark of gocart-trigger; not a test, figures go to
//! trigger/BENCHMARKS.md.
//!
//! 1. Latency from an alert directory's rename into place to the plugin process
//!    starting, p50/p99: single directories one at a time, then a burst of 1000
//!    renamed as fast as possible. The plugin is this very executable (linked as
//!    `gp_noop`): started with GOCART_BENCH_LOG set, it only appends
//!    `<alert dir> <realtime ns>` to that file and exits.
//! 2. Start-up scan of a tree of 100,000 already-handled directories: time from
//!    spawn to the start-up message, and the trigger's peak RSS (VmHWM) then.
//! 3. The floor (`--part floor`): what the machine can do at all. 1000 starts of
//!    the same no-op plugin are queued at once and `concurrency` threads spawn
//!    and reap them in a tight loop (no trigger, no record, no marker): the
//!    latency from the queueing to each plugin's start is what a perfect trigger
//!    would get for the burst.
//!
//! Run (the trigger binary must be built in the same profile first):
//!
//! ```text
//! cargo build --release -p gocart-trigger && \
//!   cargo run --release -p gocart-trigger --example bench -- [--concurrency N] [--dirs N] [--work DIR] [--part latency|startup|floor|all]
//! ```

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use gocart_shared::marker::{sha256_hex, FileEntry};
use gocart_shared::{Marker, Source, MARKER_NAME};
use gocart_tests::process::{send_signal, Signal};

fn main() -> anyhow::Result<()> {
    if let Some(log) = std::env::var_os("GOCART_BENCH_LOG") {
        return be_the_plugin(Path::new(&log));
    }
    let opts = Opts::parse()?;
    let work = tempfile::Builder::new()
        .prefix("gocart-bench-")
        .tempdir_in(&opts.work)?;
    println!(
        "work dir: {} (on {})",
        work.path().display(),
        opts.work.display()
    );
    if opts.part == "floor" {
        return floor(work.path(), opts.concurrency);
    }
    if opts.part != "startup" {
        latency(work.path(), opts.concurrency)?;
    }
    if opts.part != "latency" {
        startup(work.path(), opts.dirs)?;
    }
    Ok(())
}

/// The no-op plugin: one line with the time it started.
fn be_the_plugin(log: &Path) -> anyhow::Result<()> {
    let now = now_ns();
    let dir = std::env::args().nth(1).unwrap_or_default();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log)?;
    file.write_all(format!("{dir} {now}\n").as_bytes())?;
    Ok(())
}

struct Opts {
    concurrency: usize,
    dirs: usize,
    work: PathBuf,
    part: String,
}

impl Opts {
    fn parse() -> anyhow::Result<Opts> {
        let mut opts = Opts {
            concurrency: 2,
            dirs: 100_000,
            work: std::env::temp_dir(),
            part: "all".into(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let value = args.next().context("every option takes a value")?;
            match arg.as_str() {
                "--concurrency" => opts.concurrency = value.parse()?,
                "--dirs" => opts.dirs = value.parse()?,
                "--work" => opts.work = value.into(),
                "--part" => opts.part = value,
                _ => bail!("unknown option {arg}"),
            }
        }
        Ok(opts)
    }
}

fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

struct Setup {
    root: PathBuf,
    settings: PathBuf,
    log: PathBuf,
    base: PathBuf,
}

fn setup(base: &Path, concurrency: usize) -> anyhow::Result<Setup> {
    let root = base.join("lvk_events");
    let plugins = base.join("plugins");
    let state = base.join("state");
    std::fs::create_dir_all(root.join(".staging"))?;
    std::fs::create_dir_all(&plugins)?;
    std::fs::set_permissions(&plugins, std::fs::Permissions::from_mode(0o755))?;
    std::os::unix::fs::symlink(std::env::current_exe()?, plugins.join("gp_noop"))?;
    let settings = base.join("gocart.yaml");
    std::fs::write(
        &settings,
        format!(
            // The one plugin's lane is as wide as the runs at once measured.
            "lvk: {{download_dir: {}}}\ntrigger: {{plugins_dir: {}, state_dir: {}, timeout: 60, concurrency: {concurrency}, plugins: {{gp_noop: {{concurrency: {concurrency}}}}}}}\n",
            root.display(),
            plugins.display(),
            state.display()
        ),
    )?;
    Ok(Setup {
        root,
        settings,
        log: base.join("starts.log"),
        base: base.into(),
    })
}

fn trigger_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot find the target directory")?;
    let bin = dir.join("gocart-trigger");
    if !bin.exists() {
        bail!(
            "{} is missing: build it first (cargo build --release -p gocart-trigger)",
            bin.display()
        );
    }
    Ok(bin)
}

fn start(s: &Setup, name: &str) -> anyhow::Result<(Child, PathBuf)> {
    let stderr = s.base.join(format!("{name}.stderr"));
    let log = if name.starts_with("again") {
        "gocart_trigger=debug"
    } else {
        "info"
    };
    let child = gocart_tests::with_settings(trigger_binary()?, &s.settings)
        .env("RUST_LOG", log)
        .env("GOCART_BENCH_LOG", &s.log)
        .stderr(std::fs::File::create(&stderr)?)
        .spawn()?;
    Ok((child, stderr))
}

fn wait_for(what: &str, within: Duration, mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while !done() {
        if Instant::now() > deadline {
            bail!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(())
}

fn started(stderr: &Path) -> bool {
    std::fs::read_to_string(stderr).is_ok_and(|t| t.contains("complete director"))
}

fn stop(mut child: Child) -> anyhow::Result<()> {
    send_signal(child.id(), Signal::TERM);
    child.wait()?;
    Ok(())
}

/// Builds an alert directory under `.staging`; returns (staging, final path).
fn build(
    root: &Path,
    event: &str,
    name: &str,
    written_at: &str,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let staging = root.join(".staging").join(format!("{event}_{name}"));
    std::fs::create_dir_all(&staging)?;
    let meta = format!("ALERT: {{superevent_id: {event}, alert_type: INITIAL}}\n");
    std::fs::write(staging.join("meta.yaml"), &meta)?;
    let marker = Marker {
        kind: gocart_shared::Kind::Lvk,
        superevent_id: event.into(),
        alert_type: "INITIAL".into(),
        time_created: written_at.into(),
        source: Source::Mock { mock: 0 },
        written_at: written_at.into(),
        message_sha256: sha256_hex(name.as_bytes()),
        files: vec![FileEntry {
            name: "meta.yaml".into(),
            size: meta.len() as u64,
            sha256: sha256_hex(meta.as_bytes()),
        }],
    };
    std::fs::write(staging.join(MARKER_NAME), marker.to_json())?;
    let target = root.join("mockevents").join(event).join(name);
    Ok((staging, target))
}

fn line_count(log: &Path) -> usize {
    std::fs::read(log)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

fn plugin_starts(log: &Path) -> HashMap<String, i128> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(dir, ns)| Some((dir.to_string(), ns.parse().ok()?)))
        .collect()
}

fn latency(base: &Path, concurrency: usize) -> anyhow::Result<()> {
    let s = setup(&base.join("latency"), concurrency)?;
    std::fs::create_dir_all(s.root.join("mockevents/MS1"))?;
    std::fs::create_dir_all(s.root.join("mockevents/MS2"))?;
    let (child, stderr) = start(&s, "latency")?;
    wait_for("the start-up message", Duration::from_secs(30), || {
        started(&stderr)
    })?;
    let now = chrono::Utc::now().to_rfc3339();

    let mut single = Vec::new();
    for i in 0..200 {
        let (staging, target) = build(&s.root, "MS1", &format!("20230101T{i:06}_initial"), &now)?;
        let t0 = now_ns();
        std::fs::rename(&staging, &target)?;
        wait_for("a single run", Duration::from_secs(10), || {
            line_count(&s.log) > i
        })?;
        single.push((target, t0));
        std::thread::sleep(Duration::from_millis(5));
    }

    let mut burst = Vec::new();
    let mut built = Vec::new();
    for i in 0..1000 {
        built.push(build(
            &s.root,
            "MS2",
            &format!("20230101T{i:06}_initial"),
            &now,
        )?);
    }
    let cpu_before = cpu_ms(child.id());
    for (staging, target) in built {
        let t0 = now_ns();
        std::fs::rename(&staging, &target)?;
        burst.push((target, t0));
    }
    let renamed = Instant::now();
    wait_for("the burst", Duration::from_secs(300), || {
        line_count(&s.log) >= 1200
    })?;
    let burst_total = renamed.elapsed();
    let burst_cpu = cpu_ms(child.id()) - cpu_before;
    stop(child)?;

    let starts = plugin_starts(&s.log);
    report(
        "single directories (200, one at a time)",
        "single",
        &single,
        &starts,
    );
    report(
        &format!("burst of 1000 (concurrency {concurrency})"),
        "burst",
        &burst,
        &starts,
    );
    println!(
        "  burst: all 1000 plugins started {:.0} ms after the last rename",
        burst_total.as_secs_f64() * 1e3
    );
    println!(
        "  burst: the trigger's own CPU time {burst_cpu:.0} ms ({:.2} ms per run; plugins not counted)",
        burst_cpu / 1000.0
    );
    Ok(())
}

/// CPU time (user + system) used so far by a process, in ms.
fn cpu_ms(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which is in parentheses).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ")".
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    let hz = rustix::param::clock_ticks_per_second() as f64;
    ticks * 1000.0 / hz
}

/// Prints the latencies' percentiles, and as `figure: trigger.KEY_*` lines
/// for `scripts/bench.sh`.
fn report(title: &str, key: &str, renames: &[(PathBuf, i128)], starts: &HashMap<String, i128>) {
    let mut ms: Vec<f64> = renames
        .iter()
        .filter_map(|(dir, t0)| {
            starts
                .get(&dir.to_string_lossy().into_owned())
                .map(|t| (*t - t0) as f64 / 1e6)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        ms.get(((ms.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "{title}: n={} p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        ms.last().copied().unwrap_or(f64::NAN)
    );
    println!("figure: trigger.{key}_p50_ms {:.2}", pct(0.5));
    println!("figure: trigger.{key}_p99_ms {:.2}", pct(0.99));
}

fn startup(base: &Path, dirs: usize) -> anyhow::Result<()> {
    let s = setup(&base.join("startup"), 2)?;
    let old = (chrono::Utc::now() - chrono::Duration::days(30)).to_rfc3339();
    let t = Instant::now();
    for i in 0..dirs {
        let event = format!("MS{:05}", i / 10);
        let (staging, target) = build(
            &s.root,
            &event,
            &format!("20230101T{:06}_initial", i % 10),
            &old,
        )?;
        if i % 10 == 0 {
            std::fs::create_dir_all(target.parent().context("no parent")?)?;
        }
        std::fs::rename(&staging, &target)?;
    }
    println!(
        "built {dirs} alert directories in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // First start: an empty record, every directory older than catch_up is
    // recorded as skipped (and settled).
    let t = Instant::now();
    let (child, stderr) = start(&s, "first")?;
    wait_for("the first start", Duration::from_secs(600), || {
        started(&stderr)
    })?;
    println!(
        "first start (records {dirs} directories as skipped): {:.2} s",
        t.elapsed().as_secs_f64()
    );
    stop(child)?;

    for round in 1..=3 {
        let t = Instant::now();
        let (child, stderr) = start(&s, &format!("again{round}"))?;
        let pid = child.id();
        wait_for("the start-up scan", Duration::from_secs(600), || {
            started(&stderr)
        })?;
        let took = t.elapsed();
        let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))?
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
            .unwrap_or_default();
        let message = std::fs::read_to_string(&stderr)?;
        let line = message
            .lines()
            .find(|l| l.contains("complete director"))
            .unwrap_or("");
        println!(
            "start-up with {dirs} handled directories, run {round}: {:.3} s to the start-up message, peak RSS {} MiB",
            took.as_secs_f64(),
            hwm.parse::<f64>().map(|kb| format!("{:.1}", kb / 1024.0)).unwrap_or_else(|_| hwm.clone())
        );
        if round == 1 {
            println!("  {}", line.split("INFO").last().unwrap_or(line).trim());
        }
        // The last round's figures (the first ones warm the page cache).
        if round == 3 {
            println!("figure: trigger.startup_s {:.3}", took.as_secs_f64());
            if let Ok(kb) = hwm.parse::<f64>() {
                println!("figure: trigger.startup_rss_mb {:.1}", kb / 1024.0);
            }
        }
        for l in message.lines().filter(|l| l.contains("DEBUG")) {
            println!("    {}", l.split("DEBUG").last().unwrap_or(l).trim());
        }
        stop(child)?;
    }
    Ok(())
}

/// The floor: 1000 no-op plugin starts queued at one instant, run `concurrency`
/// at a time by threads that only spawn (posix_spawn, as the trigger does: own
/// process group, stdin from /dev/null, output to a pipe) and reap.
fn floor(base: &Path, concurrency: usize) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const RUNS: usize = 1000;
    std::fs::create_dir_all(base)?;
    let log = base.join("floor.log");
    let exe = std::env::current_exe()?;
    let next = AtomicUsize::new(0);
    let t0 = now_ns();
    let wall = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency.max(1) {
            s.spawn(|| -> anyhow::Result<()> {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= RUNS {
                        return Ok(());
                    }
                    let (reader, writer) = std::io::pipe()?;
                    let mut child = Command::new(&exe)
                        .arg(format!("run{i}"))
                        .env("GOCART_BENCH_LOG", &log)
                        .stdin(Stdio::null())
                        .stdout(writer.try_clone()?)
                        .stderr(writer)
                        .process_group(0)
                        .spawn()?;
                    child.wait()?;
                    drop(reader);
                }
            });
        }
    });
    let took = wall.elapsed();
    let starts = plugin_starts(&log);
    let queued: Vec<(PathBuf, i128)> = (0..RUNS)
        .map(|i| (PathBuf::from(format!("run{i}")), t0))
        .collect();
    report(
        &format!("floor: {RUNS} no-op plugin starts queued at once, {concurrency} at a time"),
        "floor",
        &queued,
        &starts,
    );
    println!(
        "  floor: {:.0} ms for all, {:.0} runs/s, {:.2} ms per run per slot",
        took.as_secs_f64() * 1e3,
        RUNS as f64 / took.as_secs_f64(),
        took.as_secs_f64() * 1e3 * concurrency.max(1) as f64 / RUNS as f64
    );
    Ok(())
}

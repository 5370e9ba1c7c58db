//! Benchmark of `gocart-trigger serve` (a benchmark, not a timed test: these
//! machines are noisy). A tree of 1,000 complete alert directories (the real
//! `gocart-ingest mock` writes a few; each of the 1,000 gets its own marker
//! and meta.yaml and hard links to their sky-map files, so the tree costs no
//! 7 GB), a record with one plugin run per directory (a real `replay`), then
//! the real server on a free port, asked over loopback.
//!
//! Reports the list page's first answer (every meta.yaml read), the median
//! and 90th percentile of the next ones, an alert page's median, and a
//! thumbnail made and then cached. Then what "safe to leave running" asks
//! (DESIGN.md): a small request's time while 1,000 idle connections are
//! opened against the server, and the list's once they are open; the server's memory (VmRSS)
//! with 100 live pages that do not read while 200 directories complete, and
//! with 100 slow downloads of an 8 MiB file. Every number is one line
//! `figure: serve.<name> <value>`, for scripts/bench.sh.
//!
//! Usage (from the checkout):
//!   cargo run --release -p gocart-trigger --example bench_serve -- [--alerts N] [--runs R]

use gocart_tests::http;

use std::io::{BufRead as _, Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use gocart_shared::MARKER_NAME;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let number = |flag: &str, default: usize| -> anyhow::Result<usize> {
        match args.iter().position(|a| a == flag) {
            Some(i) => Ok(args
                .get(i + 1)
                .context("a number after the flag")?
                .parse()?),
            None => Ok(default),
        }
    };
    let alerts = number("--alerts", 1000)?;
    let runs = number("--runs", 21)?;
    let tmp = tempfile::tempdir()?;
    let base = tmp.path().canonicalize()?;
    let settings = write_settings(&base)?;
    let root = base.join("lvk_events");
    let bins = gocart_tests::binaries();

    run(gocart_tests::with_settings(&bins.ingest, &settings)
        .args(["mock", "--count", "4", "--seed", "11"]))?;
    let samples = gocart_tests::alert_dirs(&root);
    let started = Instant::now();
    for i in 0..alerts {
        copy_alert(&samples[i % samples.len()], &root, i)?;
    }
    // Only the 1,000 stay (their files are links, they outlive the samples).
    let events: std::collections::BTreeSet<&Path> =
        samples.iter().filter_map(|s| s.parent()).collect();
    for event in events {
        std::fs::remove_dir_all(event)?;
    }
    println!(
        "{alerts} alert directories made in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    run(gocart_tests::with_settings(&bins.trigger, &settings).arg("replay"))?;
    println!(
        "record: {alerts} plugin runs by replay in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let server = Server::start(&bins.trigger, &settings)?;
    let (first, list) = timed(|| server.get("/"))?;
    if list.status != 200 || list.text().matches("<tr id=").count() != alerts {
        bail!(
            "the list does not show {alerts} alerts (status {})",
            list.status
        );
    }
    let warm = repeat(runs, || server.get("/"))?;
    let dir = gocart_tests::alert_dirs(&root)
        .first()
        .map(|d| {
            d.strip_prefix(&root)
                .map(|p| p.to_string_lossy().into_owned())
        })
        .context("an alert dir")??;
    let alert = repeat(runs, || server.get(&format!("/alerts/{dir}")))?;
    let (thumb_cold, _) = timed(|| server.get(&format!("/thumbs/{dir}")))?;
    let thumb_warm = repeat(runs, || server.get(&format!("/thumbs/{dir}")))?;

    println!("list of {alerts}: first {first:.1} ms (reads every meta.yaml), then median {:.1} ms, p90 {:.1} ms, {} KiB",
        median(&warm), percentile(&warm, 0.9), list.body.len() / 1024);
    println!("alert page: median {:.1} ms", median(&alert));
    println!(
        "thumbnail: made in {thumb_cold:.1} ms, then median {:.1} ms from the cache",
        median(&thumb_warm)
    );
    println!("figure: serve.alerts {alerts}");
    println!("figure: serve.list_first_ms {first:.1}");
    println!("figure: serve.list_median_ms {:.1}", median(&warm));
    println!("figure: serve.list_p90_ms {:.1}", percentile(&warm, 0.9));
    println!("figure: serve.list_kib {}", list.body.len() / 1024);
    println!("figure: serve.alert_median_ms {:.1}", median(&alert));
    println!("figure: serve.thumb_first_ms {thumb_cold:.1}");
    println!("figure: serve.thumb_cached_ms {:.1}", median(&thumb_warm));

    idle_flood(&server, runs)?;
    live_pages(&server, &root, &dir)?;
    downloads(&server, &root, &dir)?;
    Ok(())
}

/// A small request's time while 1,000 idle connections are opened (the
/// list takes longer than the flood: too few samples), then the list's with
/// them open.
fn idle_flood(server: &Server, runs: usize) -> anyhow::Result<()> {
    const IDLE: usize = 1000;
    raise_file_limit(IDLE as u64 + 256);
    let addr = server.addr.clone();
    let flood = std::thread::spawn(move || {
        let target: std::net::SocketAddr = addr.parse().ok()?;
        let open: Vec<TcpStream> = (0..IDLE)
            .filter_map(|_| TcpStream::connect_timeout(&target, Duration::from_secs(3)).ok())
            .collect();
        Some(open)
    });
    let mut during = Vec::new();
    while !flood.is_finished() {
        during.push(timed(|| server.get("/static/style.css"))?.0);
    }
    let open = flood.join().ok().flatten().context("the flood")?;
    let after = repeat(runs, || server.get("/"))?;
    during.sort_by(f64::total_cmp);
    println!(
        "style.css while {} idle connections were opened: {} requests, max {:.1} ms; the list with them open: median {:.1} ms, max {:.1} ms",
        open.len(),
        during.len(),
        during.last().copied().unwrap_or(f64::NAN),
        median(&after),
        after.last().copied().unwrap_or(f64::NAN)
    );
    println!("figure: serve.idle_opened {}", open.len());
    println!(
        "figure: serve.idle_flood_css_max_ms {:.1}",
        during.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "figure: serve.idle_open_list_median_ms {:.1}",
        median(&after)
    );
    println!(
        "figure: serve.idle_open_list_max_ms {:.1}",
        after.last().copied().unwrap_or(f64::NAN)
    );
    println!("figure: serve.idle_server_files {}", server.open_files());
    Ok(())
}

/// The server's memory with 100 live pages that never read while 200 new
/// directories complete, and /status's time meanwhile.
fn live_pages(server: &Server, root: &Path, sample_rel: &str) -> anyhow::Result<()> {
    const PAGES: usize = 100;
    const BURST: usize = 200;
    let mut pages = Vec::with_capacity(PAGES);
    for _ in 0..PAGES {
        let mut stream = TcpStream::connect(&server.addr)?;
        write!(
            stream,
            "GET /live HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
            server.addr
        )?;
        pages.push(stream);
    }
    std::thread::sleep(Duration::from_millis(500));
    let before = server.rss_mib()?;
    let sample = root.join(sample_rel);
    let started = Instant::now();
    let mut status = Vec::new();
    for i in 0..BURST {
        copy_alert(&sample, root, 100_000 + i)?;
        if i % 20 == 0 {
            status.push(timed(|| server.get("/status"))?.0);
        }
    }
    // Let every announcement go out.
    while started.elapsed() < Duration::from_secs(3) {
        status.push(timed(|| server.get("/status"))?.0);
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = server.rss_mib()?;
    status.sort_by(f64::total_cmp);
    println!(
        "{PAGES} live pages not reading, {BURST} new directories: memory {before:.1} -> {after:.1} MiB, /status median {:.1} ms, max {:.1} ms",
        median(&status),
        status.last().copied().unwrap_or(f64::NAN)
    );
    println!("figure: serve.live100_rss_before_mib {before:.1}");
    println!("figure: serve.live100_rss_after_mib {after:.1}");
    println!(
        "figure: serve.live100_status_median_ms {:.1}",
        median(&status)
    );
    println!(
        "figure: serve.live100_status_max_ms {:.1}",
        status.last().copied().unwrap_or(f64::NAN)
    );
    drop(pages);
    Ok(())
}

/// The server's memory with 100 slow downloads of an 8 MiB file at once.
fn downloads(server: &Server, root: &Path, dir: &str) -> anyhow::Result<()> {
    const CLIENTS: usize = 100;
    const MIB: usize = 8;
    let big: Vec<u8> = (0..MIB << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join(dir).join("bench-big.bin"), &big)?;
    let path = format!("/files/{dir}/bench-big.bin");
    std::thread::sleep(Duration::from_millis(300));
    let before = server.rss_mib()?;
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        let mut stream = TcpStream::connect(&server.addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.addr
        )?;
        let mut first = [0u8; 64 * 1024];
        stream.read_exact(&mut first)?;
        clients.push(stream);
    }
    std::thread::sleep(Duration::from_millis(500));
    let during = server.rss_mib()?;
    let (status_ms, _) = timed(|| server.get("/status"))?;
    println!(
        "{CLIENTS} slow downloads of {MIB} MiB: memory {before:.1} -> {during:.1} MiB, /status meanwhile {status_ms:.1} ms"
    );
    println!("figure: serve.downloads100_rss_before_mib {before:.1}");
    println!("figure: serve.downloads100_rss_during_mib {during:.1}");
    println!("figure: serve.downloads100_status_ms {status_ms:.1}");
    drop(clients);
    Ok(())
}

/// The client side of the flood needs a descriptor per connection.
fn raise_file_limit(wanted: u64) {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current.is_some_and(|soft| soft < wanted) {
        limit.current = Some(limit.maximum.map_or(wanted, |hard| hard.min(wanted)));
        let _ = setrlimit(Resource::Nofile, limit);
    }
}

fn write_settings(base: &Path) -> anyhow::Result<PathBuf> {
    let plugins = base.join("plugins");
    std::fs::create_dir_all(&plugins)?;
    let plugin = plugins.join("gp_ok.sh");
    std::fs::write(&plugin, "#!/bin/sh\necho \"seen $1\"\n")?;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755))?;
    let settings = base.join("gocart.yaml");
    std::fs::write(
        &settings,
        format!(
            "lvk:\n  parse_mock_events: true\n  download_dir: {}\ntrigger:\n  plugins_dir: {}\n  state_dir: {}\n",
            base.join("lvk_events").display(),
            plugins.display(),
            base.join("state").display()
        ),
    )?;
    Ok(settings)
}

/// Alert number `i`: its own event, time and marker; the big files linked.
fn copy_alert(sample: &Path, root: &Path, i: usize) -> anyhow::Result<()> {
    let event = format!("MS99{i:05}a");
    let (h, m, sec) = ((i / 3600) % 24, (i / 60) % 60, i % 60);
    let name = format!("20260101T{h:02}{m:02}{sec:02}_initial");
    let dir = root.join("mockevents").join(&event).join(name);
    std::fs::create_dir_all(&dir)?;
    for entry in std::fs::read_dir(sample)? {
        let entry = entry?;
        let file = entry.file_name();
        match file.to_str() {
            Some(MARKER_NAME) => {}
            Some("meta.yaml") => {
                std::fs::copy(entry.path(), dir.join(&file))?;
            }
            _ => std::fs::hard_link(entry.path(), dir.join(&file))?,
        }
    }
    let mut marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(sample.join(MARKER_NAME))?)?;
    marker["superevent_id"] = event.into();
    marker["time_created"] = format!("2026-01-01T{h:02}:{m:02}:{sec:02}Z").into();
    std::fs::write(dir.join(MARKER_NAME), serde_json::to_vec_pretty(&marker)?)?;
    Ok(())
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let out = command.stdin(Stdio::null()).output()?;
    if !out.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(trigger: &Path, settings: &Path) -> anyhow::Result<Server> {
        let mut child = gocart_tests::with_settings(trigger, settings)
            .args(["-q", "serve", "--addr", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        let stdout = child.stdout.take().context("serve's stdout")?;
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("serving http://")
            .and_then(|rest| rest.strip_suffix('/'))
            .with_context(|| format!("no `serving` line: {line:?}"))?
            .to_string();
        Ok(Server { child, addr })
    }

    fn get(&self, path: &str) -> http::Reply {
        http::request(&self.addr, "GET", path, &[])
    }

    /// The server's resident memory (VmRSS), in MiB.
    fn rss_mib(&self) -> anyhow::Result<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS")?;
        Ok(kib / 1024.0)
    }

    fn open_files(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Milliseconds one request took, and its reply (which must be a 200).
fn timed(ask: impl Fn() -> http::Reply) -> anyhow::Result<(f64, http::Reply)> {
    let started = Instant::now();
    let reply = ask();
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    if reply.status != 200 {
        bail!("answered {}", reply.status);
    }
    Ok((ms, reply))
}

fn repeat(times: usize, ask: impl Fn() -> http::Reply) -> anyhow::Result<Vec<f64>> {
    let mut all = Vec::with_capacity(times);
    for _ in 0..times {
        all.push(timed(&ask)?.0);
        std::thread::sleep(Duration::from_millis(5));
    }
    all.sort_by(f64::total_cmp);
    Ok(all)
}

fn median(sorted: &[f64]) -> f64 {
    percentile(sorted, 0.5)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

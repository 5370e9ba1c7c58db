//! Benchmark of `gocart-trigger serve` (a benchmark, not a timed test: these
//! machines are noisy). A tree of 1,000 complete alert directories (the real
//! `gocart-ingest mock` writes a few; each of the 1,000 gets its own marker
//! and meta.yaml and hard links to their sky-map files, so the tree costs no
//! 7 GB), a record with one plugin run per directory (a real `replay`), then
//! the real server on a free port, asked over loopback.
//!
//! Reports the list page's first answer (every meta.yaml read), the median
//! and 90th percentile of the next ones, an alert page's median, and a
//! thumbnail made and then cached. Every number is one line
//! `figure: serve.<name> <value>`, for scripts/bench.sh.
//!
//! Usage (from the checkout):
//!   cargo run --release -p gocart-trigger --example bench_serve -- [--alerts N] [--runs R]

use gocart_tests::http;

use std::io::BufRead as _;
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
    Ok(())
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

//! Benchmark of the whole import path for one alert, all outputs but the PNG:
//! parse, decode, FITS read, statistics, CSV, meta.yaml, fsyncs, marker, rename.
//! Any kind of message (the dossier's notices too: each makes its directories);
//! `--png` draws the pictures as well.
//!
//! Usage: bench_ingest [--runs N] [--png] MESSAGE.json...
//! Prints the median and 90th percentile per alert, and the peak RSS (VmHWM);
//! `figure:` lines repeat them for `scripts/bench.sh`.

use std::path::Path;
use std::time::Instant;

use gocart_ingest::alert::{Message, Outcome, Pipeline};
use gocart_shared::{Settings, Source};

fn main() -> anyhow::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 30;
    if args.first().is_some_and(|a| a == "--runs") {
        runs = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(30);
        args.drain(..2);
    }
    let png = args.first().is_some_and(|a| a == "--png");
    if png {
        args.remove(0);
    }
    let scratch = tempfile::tempdir()?;
    let yaml = format!(
        "lvk:\n  parse_real_events: true\n  download_dir: {}\n  aitoff: {{convert: {png}}}\n",
        scratch.path().join("tree").display()
    );
    let settings = Settings::parse(&yaml, Path::new("bench.yaml"))?;
    let pipeline = Pipeline::new(settings);
    println!(
        "{:<40} {:>10} {:>10} {:>6}",
        "alert", "median ms", "p90 ms", "runs"
    );
    for path in &args {
        let message = Message {
            bytes: std::fs::read(path)?,
            source: Source::File { file: path.into() },
        };
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            let outcome = pipeline.ingest(&message, &mut std::io::sink());
            times.push(start.elapsed().as_secs_f64() * 1e3);
            match outcome {
                // A message of several directories: all of them go.
                Outcome::Written(_) => remove_written(scratch.path())?,
                other => anyhow::bail!("{path}: {}", other.describe()),
            }
        }
        times.sort_by(f64::total_cmp);
        let name = Path::new(path)
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        let (median, p90) = (times[runs / 2], times[runs * 9 / 10]);
        println!("{name:<40} {median:>10.1} {p90:>10.1} {runs:>6}");
        let stem = name.trim_end_matches(".json").trim_end_matches(".example");
        let what = if png { "ingest_png" } else { "ingest" };
        println!("figure: {what}.{stem}.median_ms {median:.1}");
        println!("figure: {what}.{stem}.p90_ms {p90:.1}");
    }
    match peak_rss_kb() {
        Some(kb) => {
            println!("peak RSS (VmHWM): {kb} kB");
            println!("figure: ingest.peak_rss_mb {:.1}", kb as f64 / 1024.0);
        }
        None => println!("peak RSS (VmHWM): unknown"),
    }
    Ok(())
}

/// Empties the tree but for its hidden folders (`.staging`, `.rejected`).
fn remove_written(scratch: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(scratch.join("tree"))? {
        let entry = entry?;
        if !entry.file_name().to_string_lossy().starts_with('.') {
            std::fs::remove_dir_all(entry.path())?;
        }
    }
    Ok(())
}

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

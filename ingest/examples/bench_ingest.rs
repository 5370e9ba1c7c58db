//! Benchmark of the whole import path for one alert, all outputs but the PNG:
//! parse, decode, FITS read, statistics, CSV, meta.yaml, fsyncs, marker, rename.
//!
//! Usage: bench_ingest [--runs N] ALERT.json...
//! Prints the median and 90th percentile per alert, and the peak RSS (VmHWM).

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
    let scratch = tempfile::tempdir()?;
    let yaml = format!(
        "lvk:\n  parse_real_events: true\n  download_dir: {}\n  aitoff: {{convert: false}}\n",
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
                Outcome::Written(dir) => std::fs::remove_dir_all(dir)?,
                other => anyhow::bail!("{path}: {}", other.describe()),
            }
        }
        times.sort_by(f64::total_cmp);
        let name = Path::new(path)
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        println!(
            "{name:<40} {:>10.1} {:>10.1} {runs:>6}",
            times[runs / 2],
            times[runs * 9 / 10]
        );
    }
    println!("peak RSS (VmHWM): {}", peak_rss());
    Ok(())
}

fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l[6..].trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

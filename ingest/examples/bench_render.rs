//! Benchmark of `skymap.png`: how long the picture of each alert takes.
//!
//! `cargo run --release -p gocart-ingest --example bench_render -- [--runs N] [--out DIR] ALERT.json...`
//!
//! For each alert it reads the sky map once (as the pipeline does), then draws
//! the picture N times and prints the median and 90th percentile of the whole
//! `render_png` (drawing and PNG encoding), of the drawing alone, and of the
//! alert's other sky-map steps (base64, FITS, statistics), so the figure for
//! "the whole alert" can be put together. With `--out` it also writes each
//! picture there, to look at.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine;
use gocart_ingest::alert::Alert;
use gocart_ingest::render;
use gocart_ingest::skymap::{read_skymap, SkyMap, Stats};
use gocart_shared::settings::Aitoff;

struct Args {
    runs: usize,
    out: Option<PathBuf>,
    alerts: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        runs: 21,
        out: None,
        alerts: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--runs" => {
                let n = it.next().ok_or("--runs needs a number")?;
                args.runs = n.parse().map_err(|e| format!("--runs {n}: {e}"))?;
            }
            "--out" => args.out = Some(it.next().ok_or("--out needs a directory")?.into()),
            _ => args.alerts.push(arg.into()),
        }
    }
    if args.alerts.is_empty() || args.runs == 0 {
        return Err("usage: bench_render [--runs N] [--out DIR] ALERT.json...".into());
    }
    Ok(args)
}

/// The alert, its map and statistics, and how long getting them took.
fn load(path: &Path, scratch: &Path) -> Result<(Alert, SkyMap, Stats, Duration), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let alert = Alert::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let start = Instant::now();
    let encoded = alert
        .skymap()
        .ok_or_else(|| format!("{}: no sky map", path.display()))?;
    let fits = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let fits_path = scratch.join("map.fits");
    std::fs::write(&fits_path, fits).map_err(|e| e.to_string())?;
    let map = read_skymap(&fits_path).map_err(|e| format!("{}: {e}", path.display()))?;
    let stats = Stats::compute(&map);
    Ok((alert, map, stats, start.elapsed()))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

/// CPU time of the whole process (all threads) so far: on a machine shared
/// with other work, wall-clock times depend on the load, CPU time much less.
fn cpu_time() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Median and 90th percentile wall-clock times, and the median CPU time, ms.
fn time(runs: usize, mut f: impl FnMut()) -> (f64, f64, f64) {
    let mut times = Vec::with_capacity(runs);
    let mut cpu = Vec::with_capacity(runs);
    for _ in 0..runs {
        let (start, start_cpu) = (Instant::now(), cpu_time());
        f();
        times.push(start.elapsed());
        cpu.push(cpu_time().saturating_sub(start_cpu));
    }
    times.sort();
    cpu.sort();
    (
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        percentile(&cpu, 0.5),
    )
}

fn main() -> Result<(), String> {
    let args = parse_args()?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let options = Aitoff::default();
    println!(
        "{:<28} {:>7} {:>20} {:>9} {:>20} {:>8} {:>7}",
        "alert", "pixels", "render_png med/p90", "(cpu)", "draw only med/p90", "map", "PNG KB"
    );
    for path in &args.alerts {
        let (alert, map, stats, load_time) = load(path, scratch.path())?;
        let png =
            render::render_png(&alert, &map, &stats, &options, &[]).map_err(|e| e.to_string())?;
        let (med, p90, cpu) = time(args.runs, || {
            let _ = render::render_png(&alert, &map, &stats, &options, &[]);
        });
        let (draw_med, draw_p90, _) = time(args.runs, || {
            let _ = render::render(&alert, &map, &stats, &options, &[]);
        });
        let name = path
            .file_stem()
            .map_or_else(String::new, |s| s.to_string_lossy().into_owned());
        println!(
            "{name:<28} {:>7} {:>20} {:>9} {:>20} {:>8.1} {:>7.0}",
            map.pixels().len(),
            format!("{med:.1} / {p90:.1} ms"),
            format!("{cpu:.0} ms"),
            format!("{draw_med:.1} / {draw_p90:.1} ms"),
            load_time.as_secs_f64() * 1e3,
            png.len() as f64 / 1024.0
        );
        println!("figure: render.{name}.median_ms {med:.1}");
        println!("figure: render.{name}.p90_ms {p90:.1}");
        println!(
            "figure: render.{name}.png_kb {:.0}",
            png.len() as f64 / 1024.0
        );
        if let Some(dir) = &args.out {
            let file = dir.join(format!("{name}.png"));
            std::fs::write(&file, &png).map_err(|e| format!("{}: {e}", file.display()))?;
        }
    }
    Ok(())
}

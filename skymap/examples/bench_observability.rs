//! Times the observability (docs/contracts.md, `EXTRA.observability`) on real
//! maps for three sites (La Palma, Cerro Pachón, Ny-Ålesund): what ingest adds
//! per map when `sites:` lists them. One tab-separated line per map.
//!
//! Usage: bench_observability [--runs N] MAP.fits...
//! The day starts at each map's DATE-OBS. The map's ranking is made before
//! the clock starts: ingest has it already, for the areas. On a shared
//! machine the fastest run is the cost and the median what a busy core gives. `figure:` lines give the median and
//! worst per-map time in ms.

use std::time::Instant;

use gocart_skymap::products::credible::Ranking;
use gocart_skymap::products::observability::{observe, Site};
use gocart_skymap::{read_skymap, CardValue};

fn site(name: &str, lat_deg: f64, lon_deg: f64) -> Site {
    Site {
        name: name.into(),
        lat_deg,
        lon_deg,
        max_airmass: 2.0,
        sun_alt_deg: -12.0,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 5;
    if args.first().is_some_and(|a| a == "--runs") {
        runs = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(5);
        args.drain(..2);
    }
    let sites = [
        site("La Palma", 28.7606, -17.8816),
        site("Cerro Pachón", -30.2406, -70.7366),
        site("Ny-Ålesund", 78.92, 11.93),
    ];
    println!("map\tpixels\tprobabilities\tmedian_ms\tfastest_ms");
    let mut medians = Vec::new();
    let mut fastest = Vec::new();
    for path in &args {
        let map = read_skymap(std::path::Path::new(path))?;
        let from = match map.card("DATE-OBS") {
            Some(CardValue::Text(text)) => chrono::NaiveDateTime::parse_from_str(
                text.trim_end_matches('Z'),
                "%Y-%m-%dT%H:%M:%S%.f",
            )?
            .and_utc(),
            _ => chrono::Utc::now(),
        };
        let ranking = Ranking::new(&map);
        let mut times = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..runs {
            let start = Instant::now();
            seen = observe(&map, &ranking, from, &sites);
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        medians.push(median);
        fastest.push(times[0]);
        let probabilities: Vec<String> = seen
            .iter()
            .map(|s| format!("{:.3}", s.probability))
            .collect();
        println!(
            "{path}\t{}\t{}\t{median:.2}\t{:.2}",
            map.pixels().len(),
            probabilities.join(","),
            times[0]
        );
    }
    medians.sort_by(f64::total_cmp);
    fastest.sort_by(f64::total_cmp);
    if let (Some(mid), Some(worst)) = (fastest.get(fastest.len() / 2), fastest.last()) {
        println!("figure: observability_3_sites_fastest_median_ms {mid:.2}");
        println!("figure: observability_3_sites_fastest_worst_ms {worst:.2}");
    }
    if let (Some(mid), Some(worst)) = (medians.get(medians.len() / 2), medians.last()) {
        println!("figure: observability_3_sites_median_ms {mid:.2}");
        println!("figure: observability_3_sites_worst_ms {worst:.2}");
    }
    Ok(())
}

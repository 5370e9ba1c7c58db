//! Times the sky-map products on real maps (the MOCs and the contours written
//! to memory, the volumes, the modes) and prints what they found, one tab-separated line per
//! map, for comparing with `ligo-skymap-stats --contour 50 90 --modes`.
//!
//! Usage: bench_products [--runs N] MAP.fits...
//! `figure:` lines give the median and worst per-map time in ms.

use std::time::Instant;

use gocart_skymap::products::credible::Ranking;
use gocart_skymap::products::{contours, moc, Products};
use gocart_skymap::read_skymap;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 5;
    if args.first().is_some_and(|a| a == "--runs") {
        runs = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(5);
        args.drain(..2);
    }
    println!("map\tvol50\tvol90\tmodes90\tpolygons90\tmedian_ms");
    let mut medians = Vec::new();
    for path in &args {
        let map = read_skymap(std::path::Path::new(path))?;
        let mut times = Vec::new();
        let mut products = None;
        for _ in 0..runs {
            let start = Instant::now();
            let ranking = Ranking::new(&map);
            let p = Products::compute(&map, &ranking);
            for region in [&p.moc50, &p.moc90] {
                let mut bytes = Vec::new();
                moc::write_fits(region, &mut bytes)?;
            }
            contours::write_geojson(&p.contours, &mut Vec::new())?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
            products = Some(p);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        medians.push(median);
        let p = products.ok_or("no runs")?;
        let show = |v: Option<f64>| v.map_or("nan".to_string(), |v| format!("{v:.6e}"));
        println!(
            "{path}\t{}\t{}\t{}\t{}\t{median:.2}",
            show(p.vol50),
            show(p.vol90),
            p.modes90,
            p.contours[1].polygons.len()
        );
    }
    medians.sort_by(f64::total_cmp);
    if let (Some(mid), Some(worst)) = (medians.get(medians.len() / 2), medians.last()) {
        println!("figure: products_median_ms {mid:.2}");
        println!("figure: products_worst_ms {worst:.2}");
    }
    Ok(())
}

//! `skymap.csv` exactly: a coarse pixel's probability spread by area over its
//! rows with its distance; fine pixels summed into their row with the
//! probability-weighted mean of their finite distances; every NSIDE to 1024.

use gocart_ingest::skymap::flatten::write_csv;
use gocart_ingest::skymap::{pixel_area_sr, Pixel, SkyMap};

fn px(depth: u8, ipix: u64, probdensity: f64, distmu: f64, distsigma: f64) -> Pixel {
    Pixel {
        depth,
        ipix,
        probdensity,
        distmu,
        distsigma,
    }
}

/// Base pixel 0 refined to level 2 (16 children with chosen values); base
/// pixels 1..12 coarse with distance 100 ± 10; normalised.
fn mixed_map() -> SkyMap {
    let mut pixels = Vec::new();
    for i in 0..16u64 {
        let mu = if i % 4 == 3 {
            f64::INFINITY
        } else {
            10.0 + i as f64
        };
        pixels.push(px(2, i, 1.0 + i as f64, mu, 1.0 + i as f64 / 2.0));
    }
    for i in 1..12u64 {
        pixels.push(px(0, i, 0.5, 100.0, 10.0));
    }
    let total: f64 = pixels.iter().map(Pixel::prob).sum();
    for p in &mut pixels {
        p.probdensity /= total;
    }
    SkyMap::new(pixels, true, vec![]).unwrap()
}

fn rows(map: &SkyMap, nside: u32) -> Vec<Vec<f64>> {
    let mut out = Vec::new();
    write_csv(map, nside, "MS1", &mut out).unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .skip(3)
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect()
}

#[test]
fn coarse_pixels_spread_by_area_and_keep_their_distance() {
    let map = mixed_map();
    let rows = rows(&map, 4); // level 2: base pixels 1..12 cover 16 rows each
    let coarse = map.pixels().iter().find(|p| p.depth == 0).unwrap();
    for row in &rows[16..] {
        assert!((row[1] - coarse.probdensity * pixel_area_sr(2)).abs() < 1e-15);
        assert_eq!((row[2], row[3]), (100.0, 10.0));
    }
    // Pixel 0's children are at the output level: one row each, values as given.
    assert_eq!(rows[3][2], f64::INFINITY);
    assert_eq!(rows[2][2], 12.0);
}

#[test]
fn fine_pixels_are_summed_with_weighted_distances() {
    let map = mixed_map();
    let rows = rows(&map, 2); // level 1: row r of base 0 sums children 4r..4r+4
    for (r, row) in rows.iter().enumerate().take(4) {
        let children: Vec<&Pixel> = map
            .pixels()
            .iter()
            .filter(|p| p.depth == 2 && p.ipix / 4 == r as u64)
            .collect();
        let prob: f64 = children.iter().map(|p| p.prob()).sum();
        assert!((row[1] - prob).abs() < 1e-15, "row {r}");
        let finite: Vec<&&Pixel> = children.iter().filter(|p| p.distmu.is_finite()).collect();
        let weight: f64 = finite.iter().map(|p| p.prob()).sum();
        let mu = finite.iter().map(|p| p.prob() * p.distmu).sum::<f64>() / weight;
        assert!(
            (rows[r][2] - mu).abs() < 1e-12,
            "row {r}: {} vs {mu}",
            rows[r][2]
        );
        let sigma = children.iter().map(|p| p.prob() * p.distsigma).sum::<f64>()
            / children.iter().map(|p| p.prob()).sum::<f64>();
        assert!((row[3] - sigma).abs() < 1e-12, "row {r}");
    }
}

#[test]
fn inf_only_where_the_map_has_no_distance() {
    let pixels: Vec<Pixel> = (0..48u64)
        .map(|i| {
            px(
                1,
                i,
                1.0 / (4.0 * std::f64::consts::PI),
                if i < 4 { f64::INFINITY } else { 50.0 },
                5.0,
            )
        })
        .collect();
    let map = SkyMap::new(pixels, true, vec![]).unwrap();
    let rows = rows(&map, 1); // base pixel 0 holds only children without distance
    assert_eq!(rows[0][2], f64::INFINITY);
    assert!(rows[1..].iter().all(|r| r[2] == 50.0));
}

#[test]
fn every_nside_up_to_1024_conserves_probability() {
    let map = mixed_map();
    for depth in 0..=10u32 {
        let nside = 1u32 << depth;
        let mut out = Vec::new();
        write_csv(&map, nside, "MS1", &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut count = 0u64;
        let mut total = 0.0;
        for (i, line) in text.lines().skip(3).enumerate() {
            let mut fields = line.split(',');
            assert_eq!(fields.next().unwrap().parse::<u64>().unwrap(), i as u64);
            total += fields.next().unwrap().parse::<f64>().unwrap();
            count += 1;
        }
        assert_eq!(count, 12 * (nside as u64).pow(2), "nside {nside}");
        assert!(
            (total - map.total_prob()).abs() < 1e-9,
            "nside {nside}: {total}"
        );
    }
}

#[test]
fn rows_are_at_pixel_centres() {
    let map = mixed_map();
    let rows = rows(&map, 1);
    // Nested pixel 4 of NSIDE 1 is centred on RA 0, Dec 0; astropy puts that at
    // galactic l 96.337283, b -60.188552.
    assert_eq!((rows[4][4], rows[4][5]), (0.0, 0.0));
    assert!(
        (rows[4][6] - 96.337283).abs() < 2e-6 && (rows[4][7] + 60.188552).abs() < 2e-6,
        "{:?}",
        rows[4]
    );
}

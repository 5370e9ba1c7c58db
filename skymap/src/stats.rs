//! The numbers users rely on: credible areas and the most probable position,
//! computed exactly as the LVK user guide does.
//!
//! Sort the pixels by probability density, highest first; the area of the X%
//! credible region is the summed area of the pixels whose cumulative probability
//! is still below X%. (The original sorted by pixel probability instead, which
//! ranks a large low-density pixel above a small dense one.) The most probable
//! position is the centre of the densest pixel. The ranking is
//! `products::credible`'s, shared with the MOCs and the modes.

use serde_json::{json, Value};

use super::products::credible::Ranking;
use super::sky::{galactic_deg, pixel_center_deg};
use super::{SkyMap, DEG2_PER_SR};

/// Credible areas (deg²) and the most probable position (degrees).
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    pub area90: f64,
    pub area50: f64,
    pub area10: f64,
    pub ra: f64,
    pub dec: f64,
    pub glon: f64,
    pub glat: f64,
}

impl Stats {
    pub fn compute(map: &SkyMap) -> Stats {
        Stats::from_ranking(map, &Ranking::new(map))
    }

    /// As `compute`, with the ranking already made (the products share it).
    pub fn from_ranking(map: &SkyMap, ranking: &Ranking) -> Stats {
        let pixels = map.pixels();
        let area = |level: f64| -> f64 {
            let steradians: f64 = ranking
                .region(level)
                .iter()
                .map(|&i| pixels[i].area_sr())
                .sum();
            steradians * DEG2_PER_SR
        };
        let densest = pixels[ranking.densest()];
        let (ra, dec) = pixel_center_deg(densest.depth, densest.ipix);
        let (glon, glat) = galactic_deg(ra, dec);
        Stats {
            area90: area(0.9),
            area50: area(0.5),
            area10: area(0.1),
            ra,
            dec,
            glon,
            glat,
        }
    }

    /// The `EXTRA` mapping of `meta.yaml`, with the original's rounding
    /// (areas to 3 decimals, coordinates to 6).
    pub fn to_json(&self) -> Value {
        json!({
            "area90": round_area(self.area90),
            "area50": round_area(self.area50),
            "area10": round_area(self.area10),
            "central coordinate": {
                "equatorial": format!("{:.6} {:.6}", self.ra, self.dec),
                "galactic": format!("{:.6} {:.6}", self.glon, self.glat),
            },
        })
    }
}

/// An area as meta.yaml writes it (3 decimals, as the original did); the
/// filters compare this value, not the raw one.
pub fn round_area(x: f64) -> f64 {
    format!("{x:.3}").parse().unwrap_or(x)
}

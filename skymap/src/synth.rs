//! Multi-order sky maps made by our own code, adaptive like BAYESTAR's: coarse
//! pixels over the empty sky, fine pixels only where the probability is.
//!
//! They serve the tests (every behaviour is checked on maps we generate, so a
//! clone without the real alerts still tests everything) and mock alerts. The
//! FITS file written is laid out as LVK's: a NUNIQ binary table with UNIQ,
//! PROBDENSITY and, for CBC maps, DISTMU/DISTSIGMA/DISTNORM, and LVK's cards.

use std::path::Path;

use fitsio::tables::{ColumnDataType, ColumnDescription};
use fitsio::FitsFile;

use super::sky::pixel_center_deg;
use super::{pixel_area_sr, Pixel};

/// A distance ansatz for every pixel (Mpc), as in a CBC map; `None` for bursts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distance {
    pub mu: f64,
    pub sigma: f64,
}

/// How to lay out a map: the starting level, the finest level, how much of
/// the probability is refined at each step, and the most pixels the map may
/// have (a wide localisation stops refining earlier, as BAYESTAR's maps do,
/// instead of growing to tens of megabytes).
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    pub base_depth: u8,
    pub max_depth: u8,
    /// Pixels inside this credible level are split at each step.
    pub refine_level: f64,
    pub max_pixels: usize,
}

impl Default for Layout {
    fn default() -> Self {
        Layout {
            base_depth: 4,
            max_depth: 9,
            refine_level: 0.99,
            max_pixels: usize::MAX,
        }
    }
}

/// Builds a normalised multi-order map of `density(ra_deg, dec_deg)` (any
/// non-negative function; it is normalised here).
pub fn build(
    density: impl Fn(f64, f64) -> f64,
    layout: Layout,
    distance: Option<Distance>,
) -> Vec<Pixel> {
    let at = |depth: u8, ipix: u64| {
        let (ra, dec) = pixel_center_deg(depth, ipix);
        let d = density(ra, dec);
        Pixel {
            depth,
            ipix,
            probdensity: if d.is_finite() && d > 0.0 { d } else { 0.0 },
            distmu: distance.map_or(f64::INFINITY, |x| x.mu),
            distsigma: distance.map_or(1.0, |x| x.sigma),
        }
    };
    let mut pixels: Vec<Pixel> = (0..12u64 << (2 * layout.base_depth))
        .map(|ipix| at(layout.base_depth, ipix))
        .collect();
    for depth in layout.base_depth..layout.max_depth {
        let split = pixels_to_split(&pixels, depth, layout.refine_level);
        // Each split pixel becomes four.
        let splits = split.iter().filter(|&&s| s).count();
        if pixels.len() + 3 * splits > layout.max_pixels {
            break;
        }
        pixels = pixels
            .into_iter()
            .zip(split)
            .flat_map(|(pixel, split)| {
                if split {
                    (0..4)
                        .map(|child| at(depth + 1, pixel.ipix * 4 + child))
                        .collect()
                } else {
                    vec![pixel]
                }
            })
            .collect();
    }
    normalise(&mut pixels);
    pixels
}

/// Which pixels of level `depth` lie in the `level` credible region.
fn pixels_to_split(pixels: &[Pixel], depth: u8, level: f64) -> Vec<bool> {
    let total: f64 = pixels.iter().map(Pixel::prob).sum();
    let mut order: Vec<usize> = (0..pixels.len()).collect();
    order.sort_by(|&a, &b| pixels[b].probdensity.total_cmp(&pixels[a].probdensity));
    let mut split = vec![false; pixels.len()];
    let mut cumulative = 0.0;
    for i in order {
        if total <= 0.0 || cumulative >= level * total {
            break;
        }
        cumulative += pixels[i].prob();
        split[i] = pixels[i].depth == depth && pixels[i].probdensity > 0.0;
    }
    split
}

fn normalise(pixels: &mut [Pixel]) {
    let total: f64 = pixels.iter().map(Pixel::prob).sum();
    if total > 0.0 {
        for p in pixels {
            p.probdensity /= total;
        }
    }
}

/// A Gaussian blob on the sphere: `exp(-θ²/2σ²)`, θ the angle from (ra, dec).
pub fn gaussian(ra: f64, dec: f64, sigma_deg: f64) -> impl Fn(f64, f64) -> f64 {
    move |r, d| {
        let theta = angular_distance_deg(ra, dec, r, d);
        (-0.5 * (theta / sigma_deg).powi(2)).exp()
    }
}

/// The angle between two directions, in degrees.
pub fn angular_distance_deg(ra1: f64, dec1: f64, ra2: f64, dec2: f64) -> f64 {
    let (ra1, dec1, ra2, dec2) = (
        ra1.to_radians(),
        dec1.to_radians(),
        ra2.to_radians(),
        dec2.to_radians(),
    );
    let cos = dec1.sin() * dec2.sin() + dec1.cos() * dec2.cos() * (ra1 - ra2).cos();
    cos.clamp(-1.0, 1.0).acos().to_degrees()
}

/// A header card to write: text or a number.
#[derive(Debug, Clone)]
pub enum CardText {
    Text(String),
    Real(f64),
    Integer(i64),
}

/// Writes `pixels` as an LVK-style multi-order FITS file.
pub fn write_fits(
    path: &Path,
    pixels: &[Pixel],
    with_distance: bool,
    cards: &[(&str, CardText)],
) -> Result<(), fitsio::errors::Error> {
    let mut file = FitsFile::create(path).overwrite().open()?;
    let mut columns = vec![
        ("UNIQ", ColumnDataType::LongLong),
        ("PROBDENSITY", ColumnDataType::Double),
    ];
    if with_distance {
        for name in ["DISTMU", "DISTSIGMA", "DISTNORM"] {
            columns.push((name, ColumnDataType::Double));
        }
    }
    let descriptions = columns
        .iter()
        .map(|(name, kind)| ColumnDescription::new(*name).with_type(*kind).create())
        .collect::<Result<Vec<_>, _>>()?;
    let hdu = file.create_table("", &descriptions)?;
    let uniq: Vec<i64> = pixels
        .iter()
        .map(|p| cdshealpix::nested::to_uniq_ivoa(p.depth, p.ipix) as i64)
        .collect();
    hdu.write_col(&mut file, "UNIQ", &uniq)?;
    let column = |f: fn(&Pixel) -> f64| pixels.iter().map(f).collect::<Vec<f64>>();
    hdu.write_col(&mut file, "PROBDENSITY", &column(|p| p.probdensity))?;
    if with_distance {
        hdu.write_col(&mut file, "DISTMU", &column(|p| p.distmu))?;
        hdu.write_col(&mut file, "DISTSIGMA", &column(|p| p.distsigma))?;
        hdu.write_col(
            &mut file,
            "DISTNORM",
            &column(|p| distnorm(p.distmu, p.distsigma)),
        )?;
    }
    for (name, value) in standard_cards(pixels).iter().chain(cards) {
        match value {
            CardText::Text(s) => hdu.write_key(&mut file, name, s.as_str())?,
            CardText::Real(x) => hdu.write_key(&mut file, name, *x)?,
            CardText::Integer(i) => hdu.write_key(&mut file, name, *i)?,
        }
    }
    Ok(())
}

/// The cards every LVK multi-order map carries.
fn standard_cards(pixels: &[Pixel]) -> Vec<(&'static str, CardText)> {
    let order = pixels.iter().map(|p| p.depth).max().unwrap_or(0);
    vec![
        ("PIXTYPE", CardText::Text("HEALPIX".into())),
        ("ORDERING", CardText::Text("NUNIQ".into())),
        ("COORDSYS", CardText::Text("C".into())),
        ("MOCORDER", CardText::Integer(order as i64)),
        ("INDXSCHM", CardText::Text("EXPLICIT".into())),
    ]
}

/// The normalisation of the distance ansatz for a pixel; only its presence
/// matters to us, so a plain Gaussian normalisation is written.
fn distnorm(mu: f64, sigma: f64) -> f64 {
    if mu.is_finite() && sigma > 0.0 {
        1.0 / (mu * mu + sigma * sigma)
    } else {
        0.0
    }
}

/// The area of a pixel list in deg² (for tests of the generator).
pub fn area_deg2(pixels: &[Pixel]) -> f64 {
    pixels.iter().map(|p| pixel_area_sr(p.depth)).sum::<f64>() * super::DEG2_PER_SR
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SkyMap, Stats};

    /// Finer layouts converge on the analytic areas of a Gaussian blob
    /// (X% region: a disc of area -2πσ² ln(1-X)).
    #[test]
    fn generated_maps_have_the_intended_areas_and_peak() {
        let disc90 = -2.0 * std::f64::consts::PI * 9.0 * (0.1f64).ln();
        let mut errors = Vec::new();
        for (base, max) in [(3, 7), (4, 8), (5, 9)] {
            let layout = Layout {
                base_depth: base,
                max_depth: max,
                refine_level: 0.99,
                ..Layout::default()
            };
            let pixels = build(gaussian(210.0, 35.0, 3.0), layout, None);
            let map = SkyMap::new(pixels, false, vec![]).unwrap();
            assert!((map.total_prob() - 1.0).abs() < 1e-12);
            let stats = Stats::compute(&map);
            assert!(angular_distance_deg(stats.ra, stats.dec, 210.0, 35.0) < 0.5);
            errors.push((stats.area90 / disc90 - 1.0).abs());
        }
        assert!(errors[0] > errors[1] && errors[1] > errors[2], "{errors:?}");
        assert!(errors[2] < 0.01, "{errors:?}");
    }

    #[test]
    fn a_wide_map_stops_refining_at_its_pixel_budget() {
        let wide = Layout {
            max_pixels: 20_000,
            ..Layout::default()
        };
        let pixels = build(gaussian(100.0, 20.0, 25.0), wide, None);
        assert!(pixels.len() <= 20_000, "{} pixels", pixels.len());
        let map = SkyMap::new(pixels, false, vec![]).unwrap();
        assert!((map.total_prob() - 1.0).abs() < 1e-12);
        assert!(map.max_depth() > 4, "it still refines where it can");
        let unbounded = build(gaussian(100.0, 20.0, 25.0), Layout::default(), None);
        assert!(unbounded.len() > 20_000, "the budget made a difference");
    }

    #[test]
    fn fine_pixels_only_where_the_probability_is() {
        let layout = Layout {
            base_depth: 4,
            max_depth: 8,
            refine_level: 0.99,
            ..Layout::default()
        };
        let pixels = build(gaussian(10.0, -60.0, 2.0), layout, None);
        for p in pixels.iter().filter(|p| p.depth == 8) {
            let (ra, dec) = pixel_center_deg(p.depth, p.ipix);
            assert!(angular_distance_deg(ra, dec, 10.0, -60.0) < 12.0);
        }
        assert!(pixels.len() < 12 * 4usize.pow(5), "{}", pixels.len());
    }
}

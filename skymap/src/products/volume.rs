//! The 3D credible volumes (Mpc³), as `ligo-skymap-stats --contour 50 90`
//! computes them without `--cosmology` (ligo.skymap's `crossmatch`): the sky
//! is cut into voxels, each pixel times 999 distance shells out to six times
//! the mean distance; voxels are ranked by probability per volume, densest
//! first, and the X% volume is the volume of the densest voxels holding X% of
//! the probability (interpolated within the voxel that crosses it).
//!
//! ligo.skymap sorts all ~20 million voxels; we bin them by density instead
//! (256 bins per factor of two, so a bin's densities differ by < 0.4 %) and
//! interpolate within the bin that crosses the level. Voxels far below the
//! 90 % density cannot matter: a first pass on every 32nd shell, one bin per
//! factor of two, finds that density roughly; the exact pass skips voxels
//! four times thinner than its bin, and checks that the voxels it kept hold
//! at least 90 % (else it counts them all).

use crate::{Pixel, SkyMap};

/// ligo.skymap's distance grid: shells 1..N_SHELLS of width max_r / 1000.
const N_SHELLS: usize = 999;
/// Bits of an f64 dropped to make a density bin: 8 mantissa bits are kept
/// (the exact pass), or none (the first pass: one bin per factor of two).
const FINE_SHIFT: u32 = 44;
const COARSE_SHIFT: u32 = 52;
/// Shells the first pass samples.
const COARSE_STRIDE: usize = 32;
/// How much thinner than the first pass's level a voxel may be and still be kept.
const KEEP_BELOW: f64 = 4.0;

/// One pixel's distance ansatz, as the voxels need it.
struct Column {
    /// Probability per volume at the ansatz's peak (Mpc⁻³ per unit Gaussian).
    peak: f64,
    mu: f64,
    sigma: f64,
    area_sr: f64,
    /// The pixel's probability and the ansatz's mean distance (for the grid).
    prob: f64,
    mean: f64,
}

/// The distance grid: shell radii and the volume factor of each shell.
struct Grid {
    step: f64,
    /// `(r² + step²/12)·step` for r = step·(k + 1): a shell's volume per steradian.
    shell: Vec<f64>,
}

/// The volumes of the credible `levels` (ascending, each in (0, 1]), in Mpc³;
/// `None` for a map without distances, or a level its voxels never reach.
pub fn credible_volumes(map: &SkyMap, levels: &[f64]) -> Vec<Option<f64>> {
    let nothing = vec![None; levels.len()];
    if !map.has_distance {
        return nothing;
    }
    let columns: Vec<Column> = map.pixels().iter().filter_map(column).collect();
    let Some(grid) = grid(&columns) else {
        return nothing;
    };
    let top = levels.iter().copied().fold(0.0, f64::max);
    let coarse = Histogram::fill(&columns, &grid, 0.0, COARSE_STRIDE, COARSE_SHIFT);
    let floor = coarse
        .crossing_density(top)
        .map_or(0.0, |density| density / KEEP_BELOW);
    let mut fine = Histogram::fill(&columns, &grid, floor, 1, FINE_SHIFT);
    if floor > 0.0 && fine.total_prob() < top {
        fine = Histogram::fill(&columns, &grid, 0.0, 1, FINE_SHIFT);
    }
    levels.iter().map(|&level| fine.volume_at(level)).collect()
}

/// ligo.skymap's grid: out to six times the marginal mean distance.
fn grid(columns: &[Column]) -> Option<Grid> {
    let mean: f64 = columns.iter().map(|c| c.prob * c.mean).sum();
    let step = 6.0 * mean / 1000.0;
    if !(step.is_finite() && step > 0.0) {
        return None;
    }
    let shell = (1..=N_SHELLS)
        .map(|k| {
            let r = step * k as f64;
            (r * r + step * step / 12.0) * step
        })
        .collect();
    Some(Grid { step, shell })
}

fn column(pixel: &Pixel) -> Option<Column> {
    let (mu, sigma) = (pixel.distmu, pixel.distsigma);
    let (mean, norm) = ansatz_moments(mu, sigma)?;
    let peak = pixel.probdensity * norm / (sigma * (2.0 * std::f64::consts::PI).sqrt());
    (peak.is_finite() && peak > 0.0).then_some(Column {
        peak,
        mu,
        sigma,
        area_sr: pixel.area_sr(),
        prob: pixel.prob(),
        mean,
    })
}

/// The mean distance and the normalisation (DISTNORM, Mpc⁻²) of the ansatz
/// `r² N(r; mu, sigma)` on r > 0, as ligo.skymap's `parameters_to_moments`.
pub fn ansatz_moments(mu: f64, sigma: f64) -> Option<(f64, f64)> {
    if !(mu.is_finite() && sigma.is_finite() && sigma > 0.0) {
        return None;
    }
    let x = mu / sigma;
    let cdf = 0.5 * libm::erfc(-x / std::f64::consts::SQRT_2);
    let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let m2 = (mu * mu + sigma * sigma) * cdf + mu * sigma * pdf;
    let m3 =
        mu * (mu * mu + 3.0 * sigma * sigma) * cdf + sigma * (mu * mu + 2.0 * sigma * sigma) * pdf;
    let (mean, norm) = (m3 / m2, 1.0 / m2);
    (mean.is_finite() && norm.is_finite() && m2 > 0.0).then_some((mean, norm))
}

/// Probability and volume summed per density bin.
struct Histogram {
    /// Probability then volume of each bin, indexed by the density's top
    /// bits (`key`) less those of the floor.
    bins: Vec<f64>,
    shift: u32,
    floor_key: u64,
}

impl Histogram {
    /// Bins every voxel of density >= `floor`, on every `stride`-th shell
    /// (each standing for `stride` shells).
    fn fill(columns: &[Column], grid: &Grid, floor: f64, stride: usize, shift: u32) -> Histogram {
        let densest = columns.iter().map(|c| c.peak).fold(0.0, f64::max);
        let floor_key = floor.to_bits() >> shift;
        let n_bins = ((densest.to_bits() >> shift) - floor_key + 1) as usize;
        let mut hist = Histogram {
            bins: vec![0.0; 2 * n_bins],
            shift,
            floor_key,
        };
        let weight = stride as f64;
        for c in columns.iter().filter(|c| c.peak >= floor) {
            walk_gaussian(c, grid, stride, |shell, gauss| {
                let density = c.peak * gauss;
                let kept = density >= floor && density > 0.0;
                if kept {
                    hist.add(density, grid.shell[shell] * c.area_sr * weight);
                }
                kept
            });
        }
        hist
    }

    fn add(&mut self, density: f64, volume: f64) {
        // Rounding may put a voxel a hair above its column's peak: the top bin.
        let top = self.bins.len() / 2 - 1;
        let key = (((density.to_bits() >> self.shift) - self.floor_key) as usize).min(top);
        self.bins[2 * key] += density * volume;
        self.bins[2 * key + 1] += volume;
    }

    /// `(bin, probability, volume)` of every bin, densest first.
    fn densest_first(&self) -> impl Iterator<Item = (usize, f64, f64)> + '_ {
        let pairs = self.bins.chunks_exact(2).enumerate().rev();
        pairs.map(|(key, bin)| (key, bin[0], bin[1]))
    }

    fn total_prob(&self) -> f64 {
        self.densest_first().map(|(_, p, _)| p).sum()
    }

    /// The lower edge of the density bin where the densest voxels reach `level`.
    fn crossing_density(&self, level: f64) -> Option<f64> {
        let mut prob = 0.0;
        self.densest_first().find_map(|(key, p, _)| {
            prob += p;
            let bits = (key as u64 + self.floor_key) << self.shift;
            (prob >= level).then(|| f64::from_bits(bits))
        })
    }

    /// The volume of the densest voxels holding `level`, interpolated within
    /// the bin that crosses it.
    fn volume_at(&self, level: f64) -> Option<f64> {
        let (mut prob, mut volume) = (0.0, 0.0);
        for (_, p, v) in self.densest_first() {
            if p > 0.0 && prob + p >= level {
                return Some(volume + (level - prob) / p * v);
            }
            prob += p;
            volume += v;
        }
        None
    }
}

/// Calls `add(shell, gaussian)` for the sampled shells of one column, from
/// the shell nearest its peak outwards, each way until `add` says the voxels
/// got too thin. The Gaussian is stepped by two multiplications a shell
/// (exp(-z²/2) on an even grid), exact to rounding.
fn walk_gaussian(c: &Column, grid: &Grid, stride: usize, mut add: impl FnMut(usize, f64) -> bool) {
    let first = stride / 2;
    let count = (N_SHELLS - first).div_ceil(stride);
    let radius = |i: usize| grid.step * (first + i * stride + 1) as f64;
    // The sample nearest the peak.
    let nearest = ((c.mu / grid.step - 1.0 - first as f64) / stride as f64).round();
    let start = nearest.clamp(0.0, (count - 1) as f64) as usize;
    let h = grid.step * stride as f64 / c.sigma;
    let decay = (-h * h).exp();
    let z0 = (radius(start) - c.mu) / c.sigma;
    let g0 = (-0.5 * z0 * z0).exp();
    // Outwards: g(z + h) = g(z)·exp(-(z·h + h²/2)), and that ratio shrinks by exp(-h²).
    let mut gauss = g0;
    let mut ratio = (-(z0 * h + 0.5 * h * h)).exp();
    for i in start..count {
        if !add(first + i * stride, gauss) {
            break;
        }
        gauss *= ratio;
        ratio *= decay;
    }
    let mut gauss = g0;
    let mut ratio = (z0 * h - 0.5 * h * h).exp();
    for i in (0..start).rev() {
        gauss *= ratio;
        ratio *= decay;
        if !add(first + i * stride, gauss) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, Distance, Layout};

    fn uniform_sky(mu: f64, sigma: f64) -> SkyMap {
        let uniform = 1.0 / (4.0 * std::f64::consts::PI);
        let pixels = (0..192)
            .map(|i| Pixel {
                distmu: mu,
                distsigma: sigma,
                ..Pixel::without_distance(2, i, uniform)
            })
            .collect();
        SkyMap::new(pixels, true, vec![]).unwrap()
    }

    /// The X% volume of a map whose every pixel has the same ansatz: the
    /// shell |r - mu| < w holding X%, found by bisection on a fine integral.
    fn shell_volume(mu: f64, sigma: f64, level: f64) -> f64 {
        let (_, norm) = ansatz_moments(mu, sigma).unwrap();
        let mass = |w: f64| {
            let (a, b) = ((mu - w).max(0.0), mu + w);
            let n = 20_000;
            let h = (b - a) / n as f64;
            (0..n)
                .map(|k| {
                    let r = a + (k as f64 + 0.5) * h;
                    let z = (r - mu) / sigma;
                    norm * r * r * (-0.5 * z * z).exp()
                        / (sigma * (2.0 * std::f64::consts::PI).sqrt())
                        * h
                })
                .sum::<f64>()
        };
        let (mut lo, mut hi) = (0.0, 10.0 * sigma);
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if mass(mid) < level {
                lo = mid
            } else {
                hi = mid
            }
        }
        let (a, b) = ((mu - lo).max(0.0), mu + lo);
        4.0 / 3.0 * std::f64::consts::PI * (b.powi(3) - a.powi(3))
    }

    #[test]
    fn a_uniform_sky_has_the_volume_of_its_distance_shell() {
        let (mu, sigma) = (200.0, 30.0);
        let vols = credible_volumes(&uniform_sky(mu, sigma), &[0.5, 0.9]);
        for (vol, level) in vols.iter().zip([0.5, 0.9]) {
            let expected = shell_volume(mu, sigma, level);
            let vol = vol.unwrap();
            assert!(
                (vol / expected - 1.0).abs() < 2e-3,
                "{level}: {vol} vs {expected}"
            );
        }
    }

    #[test]
    fn a_map_without_distances_has_no_volumes() {
        let pixels = synth::build(synth::gaussian(10.0, 10.0, 5.0), Layout::default(), None);
        let map = SkyMap::new(pixels, false, vec![]).unwrap();
        assert_eq!(credible_volumes(&map, &[0.5, 0.9]), vec![None, None]);
    }

    #[test]
    fn a_tighter_localisation_has_a_smaller_volume() {
        let volumes = |sigma_deg, dist_sigma| {
            let distance = Some(Distance {
                mu: 150.0,
                sigma: dist_sigma,
            });
            let pixels = synth::build(
                synth::gaussian(10.0, 10.0, sigma_deg),
                Layout::default(),
                distance,
            );
            credible_volumes(&SkyMap::new(pixels, true, vec![]).unwrap(), &[0.5, 0.9])
        };
        let wide = volumes(8.0, 40.0);
        let narrow = volumes(3.0, 40.0);
        let near = volumes(3.0, 10.0);
        assert!(wide[0].unwrap() < wide[1].unwrap());
        assert!(narrow[1].unwrap() < wide[1].unwrap());
        assert!(near[1].unwrap() < narrow[1].unwrap());
    }

    #[test]
    fn one_pixel_and_hostile_ansatz_values_give_no_panic() {
        let density = 1.0 / crate::pixel_area_sr(0);
        let one = |mu, sigma| {
            let pixel = Pixel {
                distmu: mu,
                distsigma: sigma,
                ..Pixel::without_distance(0, 5, density)
            };
            credible_volumes(
                &SkyMap::new(vec![pixel], true, vec![]).unwrap(),
                &[0.5, 0.9],
            )
        };
        let vols = one(100.0, 20.0);
        assert!(vols[0].unwrap() < vols[1].unwrap());
        for (mu, sigma) in [
            (f64::INFINITY, 1.0),
            (100.0, 0.0),
            (100.0, -5.0),
            (-1e6, 1.0),
            (1e300, 1e300),
        ] {
            let vols = one(mu, sigma);
            assert!(
                vols.iter().all(|v| v.is_none_or(|v| v.is_finite())),
                "{mu} {sigma}: {vols:?}"
            );
        }
    }

    #[test]
    fn the_normalisation_matches_ligo_skymap() {
        // ligo.skymap.distance.parameters_to_moments(0, 1): mean 2·sqrt(2/π), norm 2.
        let (mean, norm) = ansatz_moments(0.0, 1.0).unwrap();
        assert!((mean - 2.0 * (2.0 / std::f64::consts::PI).sqrt()).abs() < 1e-12);
        assert!((norm - 2.0).abs() < 1e-12);
    }
}

//! The one ranking of a map's pixels behind every credible region: the areas
//! of `stats.rs`, the MOCs, the modes. Each product takes its pixels from here,
//! so a MOC holds exactly the pixels counted in `area90`.
//!
//! Pixels are ranked by probability density, densest first; equal densities
//! keep nested order (the sort is stable), so the result is reproducible. The
//! X% credible region is the ranked pixels whose cumulative probability is
//! still below X% (the LVK user guide's rule: the pixel that crosses the level
//! is left out). See docs/contracts.md, "The sky-map products".

use crate::SkyMap;

/// The map's pixels, densest first, with their cumulative probability.
#[derive(Debug, Clone)]
pub struct Ranking {
    /// Indexes into `SkyMap::pixels()`, densest first.
    order: Vec<usize>,
    /// `cumulative[k]`: the probability of the `k + 1` densest pixels.
    cumulative: Vec<f64>,
}

impl Ranking {
    pub fn new(map: &SkyMap) -> Ranking {
        let pixels = map.pixels();
        let mut order: Vec<usize> = (0..pixels.len()).collect();
        order.sort_by(|&a, &b| pixels[b].probdensity.total_cmp(&pixels[a].probdensity));
        let mut sum = 0.0;
        let cumulative = order
            .iter()
            .map(|&i| {
                sum += pixels[i].prob();
                sum
            })
            .collect();
        Ranking { order, cumulative }
    }

    /// Every pixel, densest first (indexes into `SkyMap::pixels()`).
    pub fn ranked(&self) -> &[usize] {
        &self.order
    }

    /// The densest pixel (a map has at least one).
    pub fn densest(&self) -> usize {
        self.order[0]
    }

    /// The pixels of the `level` credible region, densest first: those whose
    /// cumulative probability is still below `level`.
    pub fn region(&self, level: f64) -> &[usize] {
        // Probabilities are non-negative, so the cumulative sum only grows and
        // the region is a prefix of the ranking.
        let len = self.cumulative.partition_point(|&c| c < level);
        &self.order[..len]
    }

    /// Each pixel's credible level (indexed as `SkyMap::pixels()`): the
    /// probability of the pixels ranked up to it, itself included. A pixel
    /// is in the X% region when its level is below X%.
    pub fn levels(&self) -> Vec<f64> {
        let mut levels = vec![0.0; self.order.len()];
        for (&i, &c) in self.order.iter().zip(&self.cumulative) {
            levels[i] = c;
        }
        levels
    }

    /// The region's pixels in nested order (as a MOC and a neighbour search want them).
    pub fn region_nested(&self, level: f64) -> Vec<usize> {
        let mut region = self.region(level).to_vec();
        region.sort_unstable();
        region
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{self, Layout};
    use crate::Pixel;

    #[test]
    fn the_region_stops_before_the_pixel_that_crosses_the_level() {
        let uniform = 1.0 / (4.0 * std::f64::consts::PI);
        // Pixel 3 is the densest; the others share the rest equally.
        let pixels: Vec<Pixel> = (0..12)
            .map(|i| {
                let density = if i == 3 {
                    6.0 * uniform
                } else {
                    6.0 / 11.0 * uniform
                };
                Pixel::without_distance(0, i, density)
            })
            .collect();
        let map = SkyMap::new(pixels, false, vec![]).unwrap();
        let ranking = Ranking::new(&map);
        assert_eq!(ranking.densest(), 3);
        // The densest pixel holds 0.5: it crosses 0.499, so it is out.
        assert!(ranking.region(0.499).is_empty());
        assert_eq!(ranking.region(0.51), &[3]);
        // Equal densities keep nested order.
        assert_eq!(&ranking.region(0.7)[..3], &[3, 0, 1]);
    }

    #[test]
    fn regions_grow_with_the_level_and_never_hold_the_whole_sky() {
        let density = synth::gaussian(120.0, -30.0, 5.0);
        let map = SkyMap::new(
            synth::build(density, Layout::default(), None),
            false,
            vec![],
        )
        .unwrap();
        let ranking = Ranking::new(&map);
        let (r50, r90) = (ranking.region(0.5), ranking.region(0.9));
        assert!(!r50.is_empty() && r50.len() < r90.len());
        assert_eq!(r50, &r90[..r50.len()]);
        assert!(ranking.region(1.0 + 1e-9).len() <= map.pixels().len());
        let levels = ranking.levels();
        assert!(r90.iter().all(|&i| levels[i] < 0.9));
        assert_eq!(
            levels.iter().filter(|&&l| l < 0.9).count(),
            r90.len(),
            "the levels say what the region holds"
        );
        let nested = ranking.region_nested(0.9);
        assert!(nested.windows(2).all(|w| w[0] < w[1]));
    }
}

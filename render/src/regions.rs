//! Which credible region (90%, 50%, 10%) each point of the sky is in, looked up
//! in the multi-order map itself.
//!
//! Every map pixel gets its level from the same ranking that gives the areas in
//! meta.yaml (`skymap::stats`: densest first, cumulative probability below the
//! level), so the picture and the legend can never disagree. A point is found by
//! its depth-29 nested index and a binary search over the pixels' nested ranges;
//! neighbouring picture pixels mostly fall in the same map pixel, so the last
//! hit is tried first.

use gocart_skymap::{SkyMap, MAX_DEPTH};

/// The credible regions, from the outside in. Its discriminant is what the
/// per-pixel pass stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Outside = 0,
    P90 = 1,
    P50 = 2,
    P10 = 3,
}

impl Level {
    /// The regions drawn, as (level, credible probability), outermost first.
    pub const DRAWN: [(Level, f64); 3] = [(Level::P90, 0.9), (Level::P50, 0.5), (Level::P10, 0.1)];

    fn of_cumulative(cumulative: f64) -> Level {
        // As in stats.rs: a pixel is in the X% region while the probability
        // summed up to and including it is still below X.
        Level::DRAWN
            .iter()
            .rev()
            .find(|(_, p)| cumulative < *p)
            .map_or(Level::Outside, |(level, _)| *level)
    }
}

/// The map's pixels as nested ranges at depth 29, each with its level.
#[derive(Debug, Clone)]
pub struct Regions {
    starts: Vec<u64>,
    ends: Vec<u64>,
    levels: Vec<Level>,
}

impl Regions {
    pub fn new(map: &SkyMap) -> Regions {
        let pixels = map.pixels();
        let mut order: Vec<usize> = (0..pixels.len()).collect();
        // Stable, as stats.rs: equal densities keep nested order.
        order.sort_by(|&a, &b| pixels[b].probdensity.total_cmp(&pixels[a].probdensity));
        let mut levels = vec![Level::Outside; pixels.len()];
        let mut cumulative = 0.0;
        for index in order {
            cumulative += pixels[index].prob();
            levels[index] = Level::of_cumulative(cumulative);
        }
        let shift = |depth: u8| 2 * u32::from(MAX_DEPTH - depth.min(MAX_DEPTH));
        Regions {
            starts: pixels.iter().map(|p| p.ipix << shift(p.depth)).collect(),
            ends: pixels
                .iter()
                .map(|p| (p.ipix + 1) << shift(p.depth))
                .collect(),
            levels,
        }
    }

    /// The level at RA/Dec in radians. `hint` is the index of the previous hit.
    pub fn level_at(&self, ra: f64, dec: f64, hint: &mut usize) -> Level {
        self.level_of_cell(cdshealpix::nested::hash(MAX_DEPTH, ra, dec), hint)
    }

    /// The level of a depth-29 nested cell.
    pub fn level_of_cell(&self, cell: u64, hint: &mut usize) -> Level {
        if let (Some(&start), Some(&end)) = (self.starts.get(*hint), self.ends.get(*hint)) {
            if start <= cell && cell < end {
                return self.levels[*hint];
            }
        }
        // The last pixel starting at or before the cell, if it reaches it.
        let after = self.starts.partition_point(|&s| s <= cell);
        let Some(index) = after.checked_sub(1) else {
            return Level::Outside;
        };
        if cell < self.ends[index] {
            *hint = index;
            self.levels[index]
        } else {
            Level::Outside
        }
    }

    /// The pixels inside the 90% region, as (depth, nested index).
    pub fn credible_pixels(&self) -> impl Iterator<Item = (u8, u64)> + '_ {
        self.starts
            .iter()
            .zip(&self.ends)
            .zip(&self.levels)
            .filter(|(_, level)| **level != Level::Outside)
            .map(|((&start, &end), _)| {
                // A pixel of depth d spans 4^(29 - d) cells of depth 29.
                let span_log4 = (end - start).trailing_zeros() / 2;
                let depth = MAX_DEPTH - span_log4 as u8;
                (depth, start >> (2 * span_log4))
            })
    }

    /// The level at RA/Dec in degrees (for checks and tests).
    pub fn level_at_deg(&self, ra: f64, dec: f64) -> Level {
        self.level_at(ra.to_radians(), dec.to_radians(), &mut 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gocart_skymap::{pixel_area_sr, Stats, DEG2_PER_SR};

    use gocart_skymap::Pixel;

    fn pixel(depth: u8, ipix: u64, probdensity: f64) -> Pixel {
        Pixel::without_distance(depth, ipix, probdensity)
    }

    /// All 48 pixels of depth 2: four dense ones in a corner, the rest flat.
    fn map() -> SkyMap {
        let weight = |ipix: u64| match ipix {
            0 => 400.0,
            1 => 200.0,
            2 => 100.0,
            3 => 50.0,
            _ => 1.0,
        };
        let total: f64 = (0..48).map(weight).sum::<f64>() * pixel_area_sr(2);
        let pixels = (0..48).map(|i| pixel(2, i, weight(i) / total)).collect();
        SkyMap::new(pixels, false, vec![]).expect("a valid map")
    }

    #[test]
    fn levels_follow_the_stats_ranking() {
        let map = map();
        let regions = Regions::new(&map);
        let stats = Stats::compute(&map);
        // Sum the area of each level from the lookup table and compare.
        let area = |min: Level| -> f64 {
            regions
                .levels
                .iter()
                .zip(map.pixels())
                .filter(|(l, _)| **l >= min)
                .map(|(_, p)| p.area_sr() * DEG2_PER_SR)
                .sum()
        };
        assert!((area(Level::P90) - stats.area90).abs() < 1e-9);
        assert!((area(Level::P50) - stats.area50).abs() < 1e-9);
        assert!((area(Level::P10) - stats.area10).abs() < 1e-9);
    }

    #[test]
    fn points_are_found_in_their_pixels() {
        let map = map();
        let regions = Regions::new(&map);
        let mut hint = 0;
        for p in map.pixels() {
            let (ra, dec) = cdshealpix::nested::center(p.depth, p.ipix);
            let index = map.pixels().iter().position(|q| q == p).expect("present");
            assert_eq!(regions.level_at(ra, dec, &mut hint), regions.levels[index]);
        }
        let credible: Vec<_> = regions.credible_pixels().collect();
        let expected: Vec<_> = map
            .pixels()
            .iter()
            .zip(&regions.levels)
            .filter(|(_, l)| **l != Level::Outside)
            .map(|(p, _)| (p.depth, p.ipix))
            .collect();
        assert_eq!(credible, expected);
        // The densest pixel holds 400/794 of the probability: inside 90%, not 50%.
        assert_eq!(regions.levels[0], Level::P90);
        assert_eq!(regions.levels[47], Level::Outside);
    }

    #[test]
    fn a_cell_in_no_pixel_is_outside() {
        let regions = Regions {
            starts: vec![10, 30],
            ends: vec![20, 40],
            levels: vec![Level::P10, Level::P50],
        };
        let mut hint = 0;
        assert_eq!(regions.level_of_cell(5, &mut hint), Level::Outside);
        assert_eq!(regions.level_of_cell(25, &mut hint), Level::Outside);
        assert_eq!(regions.level_of_cell(45, &mut hint), Level::Outside);
        assert_eq!(regions.level_of_cell(35, &mut hint), Level::P50);
        assert_eq!(hint, 1);
        assert_eq!(regions.level_of_cell(15, &mut hint), Level::P10);
    }
}

//! Multi-order (NUNIQ) HEALPix sky maps, as LVK sends them: reading, checking,
//! and what we compute from them (credible areas, the flattened table).
//!
//! A map is checked once, when it is read, so that the statistics and the CSV
//! can rely on it: every UNIQ is a valid pixel, no two pixels overlap, and every
//! probability density is finite and non-negative. Pixels are kept sorted in
//! nested order at the deepest level, which is the order the CSV is written in.

pub mod ephemeris;
pub mod fits;
pub mod flatten;
pub mod header;
pub mod prescan;
pub mod products;
pub mod sky;
pub mod stats;
pub mod synth;

pub use fits::{read_any_skymap, read_skymap};
pub use header::{Card, CardValue};
pub use stats::Stats;

/// The deepest HEALPix level a UNIQ may encode (cdshealpix's limit).
pub const MAX_DEPTH: u8 = 29;

/// One pixel of a multi-order map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pixel {
    pub depth: u8,
    pub ipix: u64,
    /// Probability per steradian.
    pub probdensity: f64,
    /// Distance location parameter (Mpc); `inf` where the map has none.
    pub distmu: f64,
    /// Distance scale parameter (Mpc).
    pub distsigma: f64,
}

impl Pixel {
    /// A pixel of a map without distances (`distmu` infinite).
    pub fn without_distance(depth: u8, ipix: u64, probdensity: f64) -> Pixel {
        Pixel {
            depth,
            ipix,
            probdensity,
            distmu: f64::INFINITY,
            distsigma: 1.0,
        }
    }

    /// Solid angle in steradians.
    pub fn area_sr(&self) -> f64 {
        pixel_area_sr(self.depth)
    }

    /// Probability contained in the pixel.
    pub fn prob(&self) -> f64 {
        self.probdensity * self.area_sr()
    }

    /// The first deepest-level pixel this pixel covers: its place in nested order.
    fn nested_start(&self) -> u64 {
        self.ipix << (2 * (MAX_DEPTH - self.depth))
    }

    /// How many deepest-level pixels it covers.
    fn nested_len(&self) -> u64 {
        1u64 << (2 * (MAX_DEPTH - self.depth))
    }
}

/// Solid angle of one pixel at `depth`, in steradians.
pub fn pixel_area_sr(depth: u8) -> f64 {
    4.0 * std::f64::consts::PI / (12.0 * 4f64.powi(depth as i32))
}

/// Square degrees per steradian.
pub const DEG2_PER_SR: f64 = (180.0 / std::f64::consts::PI) * (180.0 / std::f64::consts::PI);

/// A checked multi-order sky map.
#[derive(Debug, Clone)]
pub struct SkyMap {
    /// Sorted in nested order; non-overlapping.
    pixels: Vec<Pixel>,
    /// Whether the map has DISTMU/DISTSIGMA columns (CBC maps do, burst maps not).
    pub has_distance: bool,
    /// The table's header cards (structural and column keywords left out).
    pub header: Vec<Card>,
}

/// Why a table is not a usable multi-order sky map.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SkyMapError {
    #[error("not a readable FITS file: {0}")]
    Fits(String),
    #[error("not a FITS file: {0}")]
    NotFits(String),
    #[error("not a multi-order sky map: {0}")]
    NotMultiOrder(String),
    #[error("the sky map has no pixels")]
    Empty,
    #[error("row {row}: UNIQ {uniq} is not a valid pixel (NUNIQ = 4·4^depth + ipix, depth <= {MAX_DEPTH})")]
    BadUniq { row: usize, uniq: i64 },
    // `{:?}`: Display writes 1e300 with all its 301 digits.
    #[error("row {row}: PROBDENSITY {value:?} is not a finite, non-negative number")]
    BadDensity { row: usize, value: f64 },
    #[error(
        "pixels overlap (UNIQ {a} and UNIQ {b}): each part of the sky must be in one pixel only"
    )]
    Overlap { a: u64, b: u64 },
    #[error("the total probability is {0:?}, not a probability map")]
    BadTotal(f64),
}

/// Decodes a NUNIQ value (IVOA convention: 4·4^depth + ipix), refusing the
/// values that would make cdshealpix's decoder overflow.
pub fn decode_uniq(uniq: i64) -> Option<(u8, u64)> {
    let uniq = u64::try_from(uniq).ok()?;
    if !(4..16u64 << (2 * MAX_DEPTH)).contains(&uniq) {
        return None;
    }
    Some(cdshealpix::nested::from_uniq_ivoa(uniq))
}

impl SkyMap {
    /// Checks and sorts the pixels of a table.
    pub fn new(
        mut pixels: Vec<Pixel>,
        has_distance: bool,
        header: Vec<Card>,
    ) -> Result<SkyMap, SkyMapError> {
        if pixels.is_empty() {
            return Err(SkyMapError::Empty);
        }
        pixels.sort_by_key(Pixel::nested_start);
        for pair in pixels.windows(2) {
            if pair[0].nested_start() + pair[0].nested_len() > pair[1].nested_start() {
                let uniq = |p: &Pixel| cdshealpix::nested::to_uniq_ivoa(p.depth, p.ipix);
                return Err(SkyMapError::Overlap {
                    a: uniq(&pair[0]),
                    b: uniq(&pair[1]),
                });
            }
        }
        let map = SkyMap {
            pixels,
            has_distance,
            header,
        };
        let total = map.total_prob();
        // Real maps sum to 1 within rounding; anything far off is not a probability map.
        if !(total.is_finite() && total > 0.0 && total < 1.5) {
            return Err(SkyMapError::BadTotal(total));
        }
        Ok(map)
    }

    /// The pixels in nested order.
    pub fn pixels(&self) -> &[Pixel] {
        &self.pixels
    }

    /// The pixel holding a direction (degrees), if the map covers it.
    pub fn pixel_at(&self, ra: f64, dec: f64) -> Option<usize> {
        let cell = cdshealpix::nested::hash(MAX_DEPTH, ra.to_radians(), dec.to_radians());
        let i = self
            .pixels
            .partition_point(|p| p.nested_start() <= cell)
            .checked_sub(1)?;
        let p = &self.pixels[i];
        (cell < p.nested_start() + p.nested_len()).then_some(i)
    }

    /// The total probability (1 for a normalised map).
    pub fn total_prob(&self) -> f64 {
        self.pixels.iter().map(Pixel::prob).sum()
    }

    /// The deepest level in the map.
    pub fn max_depth(&self) -> u8 {
        self.pixels.iter().map(|p| p.depth).max().unwrap_or(0)
    }

    /// The value of a header card, if present.
    pub fn card(&self, name: &str) -> Option<&CardValue> {
        self.header
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.value)
    }

    /// `CREATOR` from the header, if it is a string.
    pub fn creator(&self) -> Option<&str> {
        match self.card("CREATOR") {
            Some(CardValue::Text(s)) => Some(s.as_str()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(depth: u8, ipix: u64, probdensity: f64) -> Pixel {
        Pixel::without_distance(depth, ipix, probdensity)
    }

    #[test]
    fn uniq_decoding_refuses_out_of_range_values() {
        assert_eq!(decode_uniq(4), Some((0, 0)));
        assert_eq!(decode_uniq(15), Some((0, 11)));
        assert_eq!(decode_uniq(16), Some((1, 0)));
        for bad in [-1, 0, 3, i64::MAX] {
            assert_eq!(decode_uniq(bad), None, "{bad}");
        }
    }

    #[test]
    fn overlapping_pixels_are_refused() {
        let uniform = 1.0 / (4.0 * std::f64::consts::PI);
        let mut pixels: Vec<_> = (0..12).map(|i| px(0, i, uniform)).collect();
        assert!(SkyMap::new(pixels.clone(), false, vec![]).is_ok());
        pixels.push(px(1, 5, uniform));
        assert!(matches!(
            SkyMap::new(pixels, false, vec![]),
            Err(SkyMapError::Overlap { .. })
        ));
    }

    #[test]
    fn a_direction_is_found_in_the_pixel_that_holds_it() {
        let uniform = 1.0 / (4.0 * std::f64::consts::PI);
        // Base pixel 4 split in four; base pixel 7 missing.
        let mut pixels: Vec<_> = (0..12)
            .filter(|&i| i != 4 && i != 7)
            .map(|i| px(0, i, uniform))
            .collect();
        pixels.extend((16..20).map(|i| px(1, i, uniform)));
        let map = SkyMap::new(pixels, false, vec![]).unwrap();
        for (depth, ipix) in [(0, 0), (0, 11), (1, 18), (0, 5)] {
            let (ra, dec) = crate::sky::pixel_center_deg(depth, ipix);
            let found = map.pixel_at(ra, dec).map(|i| map.pixels()[i]);
            assert_eq!(found.map(|p| (p.depth, p.ipix)), Some((depth, ipix)));
        }
        let (ra, dec) = crate::sky::pixel_center_deg(0, 7);
        assert_eq!(map.pixel_at(ra, dec), None);
    }

    #[test]
    fn empty_and_unnormalised_maps_are_refused() {
        assert_eq!(
            SkyMap::new(vec![], false, vec![]).unwrap_err(),
            SkyMapError::Empty
        );
        let zero: Vec<_> = (0..12).map(|i| px(0, i, 0.0)).collect();
        assert!(matches!(
            SkyMap::new(zero, false, vec![]),
            Err(SkyMapError::BadTotal(_))
        ));
    }
}

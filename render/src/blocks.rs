//! Which parts of the picture need the per-pixel work, and which can be
//! filled at once.
//!
//! Most of the sky is far from every credible region and from the edges of the
//! Sun and Moon zones, so the picture is cut into 16x16-pixel blocks and only
//! the blocks that may hold a region pixel, a zone edge or the edge of the sky
//! are done pixel by pixel; every other block is one colour, known from its
//! centre. This takes the per-pixel pass from about a hundred milliseconds of
//! CPU to a few, and the result is identical (a test compares the two).
//!
//! A block may hold a region pixel if a sample of the region falls in it or in
//! a neighbouring block: every credible map pixel is sampled at least once per
//! depth-8 cell (under 0.5° across; this projection stretches the sky by at
//! most 15.4 pixels per degree on this picture, so a cell spans under 8 pixels,
//! half a block). Blocks that reach past the edge of the sky, or that a zone's
//! edge may cross, are always done pixel by pixel.

use super::projection::Frame;
use super::regions::Regions;
use super::zone::Zone;

/// Block side, pixels.
pub const BLOCK: usize = 16;
/// Credible pixels coarser than this are sampled at this depth.
const SAMPLE_DEPTH: u8 = 8;

/// The plan: for each block, `Some(zone bits)` when it is one colour, `None`
/// when it needs the per-pixel work.
#[derive(Debug, Clone)]
pub struct Blocks {
    cols: usize,
    fast: Vec<Option<u8>>,
}

impl Blocks {
    /// Every block done pixel by pixel (the reference the plan is tested against).
    pub fn exact(width: usize, height: usize) -> Blocks {
        let cols = width.div_ceil(BLOCK);
        Blocks {
            cols,
            fast: vec![None; cols * height.div_ceil(BLOCK)],
        }
    }

    pub fn plan(
        width: usize,
        height: usize,
        frame: &Frame,
        regions: &Regions,
        zones: &[Zone],
    ) -> Blocks {
        let cols = width.div_ceil(BLOCK);
        let rows = height.div_ceil(BLOCK);
        let mut busy = vec![false; cols * rows];
        mark_regions(&mut busy, cols, rows, frame, regions);
        let fast = (0..cols * rows)
            .map(|i| {
                let (bx, by) = (i % cols, i / cols);
                if busy[i] {
                    None
                } else {
                    one_colour(frame, bx, by, zones)
                }
            })
            .collect();
        Blocks { cols, fast }
    }

    /// The zone bits of the pixel's block if that block is one colour.
    pub fn fast(&self, row: usize, col: usize) -> Option<u8> {
        self.fast
            .get((row / BLOCK) * self.cols + col / BLOCK)
            .copied()
            .flatten()
    }

    /// How many blocks need the per-pixel work (for the benchmark's curiosity).
    pub fn exact_count(&self) -> usize {
        self.fast.iter().filter(|f| f.is_none()).count()
    }
}

/// Marks the blocks around every sample of the credible regions.
fn mark_regions(busy: &mut [bool], cols: usize, rows: usize, frame: &Frame, regions: &Regions) {
    let mut mark = |ra: f64, dec: f64| {
        let (x, y) = frame.project(ra.to_degrees(), dec.to_degrees());
        let (bx, by) = (
            (x / BLOCK as f64).floor() as i64,
            (y / BLOCK as f64).floor() as i64,
        );
        for ny in by - 1..=by + 1 {
            for nx in bx - 1..=bx + 1 {
                if (0..cols as i64).contains(&nx) && (0..rows as i64).contains(&ny) {
                    busy[ny as usize * cols + nx as usize] = true;
                }
            }
        }
    };
    let mut last = None;
    for (depth, ipix) in regions.credible_pixels() {
        if depth >= SAMPLE_DEPTH {
            // Consecutive fine pixels mostly share their depth-8 cell.
            let cell = ipix >> (2 * (depth - SAMPLE_DEPTH));
            if last != Some(cell) {
                last = Some(cell);
                let (ra, dec) = cdshealpix::nested::center(SAMPLE_DEPTH, cell);
                mark(ra, dec);
            }
        } else {
            let shift = 2 * (SAMPLE_DEPTH - depth);
            for cell in (ipix << shift)..((ipix + 1) << shift) {
                let (ra, dec) = cdshealpix::nested::center(SAMPLE_DEPTH, cell);
                mark(ra, dec);
            }
        }
    }
}

/// The zone bits of a block that is one colour, or `None` when it reaches the
/// edge of the sky or a zone's edge may cross it.
fn one_colour(frame: &Frame, bx: usize, by: usize, zones: &[Zone]) -> Option<u8> {
    let (x0, y0) = ((bx * BLOCK) as f64, (by * BLOCK) as f64);
    let side = BLOCK as f64;
    let centre = frame.unproject(x0 + side / 2.0, y0 + side / 2.0)?;
    let mut radius: f64 = 0.0;
    for (cx, cy) in [
        (x0, y0),
        (x0 + side, y0),
        (x0, y0 + side),
        (x0 + side, y0 + side),
    ] {
        let corner = frame.unproject(cx, cy)?;
        radius = radius.max(angle(&centre.xyz, &corner.xyz));
    }
    // The sides of a block bulge a little on the sky: keep a margin.
    let radius = radius * 1.25 + 1e-4;
    let mut bits = 0;
    for (i, zone) in zones.iter().enumerate() {
        let separation = angle(&centre.xyz, &zone.centre);
        let zone_radius = zone.cos_radius.clamp(-1.0, 1.0).acos();
        if (separation - zone_radius).abs() <= radius {
            return None;
        }
        if separation < zone_radius {
            bits |= 1 << i;
        }
    }
    Some(bits)
}

/// Angle between two unit vectors, radians.
fn angle(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let cross = [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ];
    let sin = (cross[0] * cross[0] + cross[1] * cross[1] + cross[2] * cross[2]).sqrt();
    let cos = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    sin.atan2(cos)
}

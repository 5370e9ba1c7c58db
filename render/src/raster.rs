//! The per-pixel pass: every picture pixel inside the sky ellipse is
//! inverse-projected, looked up in the multi-order map, and painted in the
//! colour of its credible region, or in the background tinted by the Sun and
//! Moon exclusion zones it falls in.
//!
//! Working per output pixel is what makes small islands, regions across RA
//! 0/360 and regions over a pole come out right, where contour tracing (the
//! original's) tangles. Zones are tested the same way (angle to the Sun or
//! Moon), so a zone over a pole or across the edge is exact too. Pixels just
//! outside the edge of a region are sampled four times more and averaged,
//! which smooths the staircase without fading small islands. Blocks of the picture that
//! are one colour are filled without the per-pixel work (`blocks`). Rows are
//! independent, so rayon spreads them over the cores; the output does not
//! depend on how.

use rayon::prelude::*;

use super::blocks::Blocks;
use super::canvas::Canvas;
use super::projection::Frame;
use super::regions::{Level, Regions};
use super::style::{self, Rgb};
use super::zone::Zone;

/// Marks pixels outside the ellipse in the pixel map.
const NO_SKY: u8 = u8::MAX;
/// Each pixel's byte in the pixel map: its level in the low two bits, then one
/// bit per zone that contains it.
const LEVEL_BITS: u8 = 0b11;
/// At most this many zones (the Sun and the Moon need two).
pub const MAX_ZONES: usize = 4;

/// Paints the sky into `canvas`.
pub fn paint_sky(canvas: &mut Canvas, frame: &Frame, regions: &Regions, zones: &[Zone]) {
    let zones = &zones[..zones.len().min(MAX_ZONES)];
    let (width, height) = (canvas.width() as usize, canvas.height() as usize);
    let blocks = Blocks::plan(width, height, frame, regions, zones);
    let cells = pixel_map(width, height, frame, regions, zones, &blocks);
    let regions_colors = RegionColors::default();
    let grounds = zone_grounds(zones);
    canvas
        .data_mut()
        .par_chunks_mut(width * 4)
        .enumerate()
        .for_each(|(row, bytes)| {
            let mut hint = 0;
            for col in 0..width {
                let cell = cells[row * width + col];
                if cell == NO_SKY {
                    continue;
                }
                let ground = grounds[usize::from(cell >> 2)];
                let color = if on_border(&cells, width, row, col) {
                    let (px, py) = (col as f64 + 0.5, row as f64 + 0.5);
                    supersample(frame, regions, &regions_colors, ground, px, py, &mut hint)
                } else {
                    regions_colors.get(cell & LEVEL_BITS).unwrap_or(ground)
                };
                bytes[col * 4..col * 4 + 3].copy_from_slice(&[color.0, color.1, color.2]);
            }
        });
}

/// The level and zones of every pixel centre (`NO_SKY` outside the ellipse),
/// worked out pixel by pixel only in the blocks that need it.
pub fn pixel_map(
    width: usize,
    height: usize,
    frame: &Frame,
    regions: &Regions,
    zones: &[Zone],
    blocks: &Blocks,
) -> Vec<u8> {
    let mut cells = vec![NO_SKY; width * height];
    cells
        .par_chunks_mut(width)
        .enumerate()
        .for_each(|(row, out)| {
            let py = row as f64 + 0.5;
            let half = frame.half_width_at(py);
            if half <= 0.0 {
                return;
            }
            let first = (frame.cx - half - 0.5).ceil().max(0.0) as usize;
            let last = ((frame.cx + half - 0.5).floor().max(0.0) as usize).min(width - 1);
            let mut hint = 0;
            for (col, cell) in out.iter_mut().enumerate().take(last + 1).skip(first) {
                if let Some(bits) = blocks.fast(row, col) {
                    *cell = bits << 2;
                } else if let Some(p) = frame.unproject(col as f64 + 0.5, py) {
                    let level = regions.level_at(p.ra, p.dec, &mut hint) as u8;
                    *cell = level | (zone_bits(zones, &p.xyz) << 2);
                }
            }
        });
    cells
}

/// One bit per zone containing the point.
fn zone_bits(zones: &[Zone], xyz: &[f64; 3]) -> u8 {
    zones.iter().enumerate().fold(0, |bits, (i, zone)| {
        let dot = zone.centre[0] * xyz[0] + zone.centre[1] * xyz[1] + zone.centre[2] * xyz[2];
        if dot >= zone.cos_radius {
            bits | (1 << i)
        } else {
            bits
        }
    })
}

/// The background tinted by each combination of zones, indexed by zone bits.
fn zone_grounds(zones: &[Zone]) -> Vec<Rgb> {
    (0..1usize << zones.len())
        .map(|bits| {
            zones
                .iter()
                .enumerate()
                .filter(|(i, _)| bits & (1 << i) != 0)
                .fold(style::BACKGROUND, |color, (_, zone)| {
                    zone.color.over(color, style::ZONE_ALPHA)
                })
        })
        .collect()
}

/// Whether a neighbour (4-connected) of the pixel is in a more probable
/// region: the pixel is on the outer side of an edge. Only those are blended,
/// so every pixel whose centre is in a region keeps the region's exact colour
/// and a region as thin as one pixel never fades away.
fn on_border(levels: &[u8], width: usize, row: usize, col: usize) -> bool {
    let here = levels[row * width + col] & LEVEL_BITS;
    let higher = |r: usize, c: usize| {
        levels
            .get(r * width + c)
            .is_some_and(|&l| l != NO_SKY && l & LEVEL_BITS > here)
    };
    (col > 0 && higher(row, col - 1))
        || (col + 1 < width && higher(row, col + 1))
        || (row > 0 && higher(row - 1, col))
        || higher(row + 1, col)
}

/// The mean colour of four points inside the pixel.
fn supersample(
    frame: &Frame,
    regions: &Regions,
    colors: &RegionColors,
    ground: Rgb,
    px: f64,
    py: f64,
    hint: &mut usize,
) -> Rgb {
    let mut sum = [0u32; 3];
    for (dx, dy) in [(-0.25, -0.25), (0.25, -0.25), (-0.25, 0.25), (0.25, 0.25)] {
        let color = frame
            .unproject(px + dx, py + dy)
            .and_then(|p| colors.get(regions.level_at(p.ra, p.dec, hint) as u8))
            .unwrap_or(ground);
        sum[0] += u32::from(color.0);
        sum[1] += u32::from(color.1);
        sum[2] += u32::from(color.2);
    }
    let mean = |s: u32| ((s + 2) / 4) as u8;
    Rgb(mean(sum[0]), mean(sum[1]), mean(sum[2]))
}

/// The fill of each level (`None` outside the regions).
struct RegionColors([Option<Rgb>; 4]);

impl Default for RegionColors {
    fn default() -> Self {
        let mut colors = [None; 4];
        colors[Level::P90 as usize] = Some(style::REGION_90);
        colors[Level::P50 as usize] = Some(style::REGION_50);
        colors[Level::P10 as usize] = Some(style::REGION_10);
        RegionColors(colors)
    }
}

impl RegionColors {
    fn get(&self, level: u8) -> Option<Rgb> {
        self.0.get(usize::from(level)).copied().flatten()
    }
}

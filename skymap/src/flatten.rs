//! `skymap.csv`: the multi-order map flattened to one fixed NSIDE, one row per
//! nested pixel, for plugins that want a plain table.
//!
//! A map pixel coarser than the output spreads its probability over the rows it
//! covers by area, and each of those rows takes its distance; finer map pixels
//! add their probabilities into their parent row, whose distance is the
//! probability-weighted mean of the children's finite values (the plain mean when
//! every child has zero probability; `inf` only where no child has a distance).
//! The original lost the distance of most coarse rows and was wrong for any NSIDE
//! other than 64.
//!
//! The rows are written as they are computed, in nested order, so even NSIDE 1024
//! (12.6 million rows) needs memory only for the map itself.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, OnceLock};

use super::sky::{galactic_deg, pixel_center_deg};
use super::{pixel_area_sr, Pixel, SkyMap};

/// The distance columns of one output row, accumulated from the map pixels in it.
#[derive(Default)]
struct RowDistance {
    mu: Mean,
    sigma: Mean,
}

/// Weights below this are treated as zero.
const MIN_WEIGHT: f64 = 1e-290;

/// A probability-weighted mean of finite values, falling back to the plain mean.
///
/// Sums are kept relative to the first value, so one value, or several equal
/// ones, come back exactly (a coarse pixel's rows take its very values).
#[derive(Default)]
struct Mean {
    first: Option<f64>,
    weighted_offsets: f64,
    weight: f64,
    offsets: f64,
    count: u32,
}

impl Mean {
    fn add(&mut self, value: f64, weight: f64) {
        if value.is_finite() {
            let first = *self.first.get_or_insert(value);
            self.weighted_offsets += (value - first) * weight;
            self.weight += weight;
            self.offsets += value - first;
            self.count += 1;
        }
    }

    fn value(&self) -> f64 {
        let Some(first) = self.first else {
            return f64::INFINITY;
        };
        // Far from the signal, probabilities underflow towards subnormal numbers,
        // where a weighted mean loses its precision: use the plain mean there.
        if self.weight > MIN_WEIGHT {
            first + self.weighted_offsets / self.weight
        } else {
            first + self.offsets / self.count as f64
        }
    }
}

/// One output row: its nested index, probability and distances.
struct Row {
    ipix: u64,
    prob: f64,
    distance: RowDistance,
}

impl Row {
    fn empty(ipix: u64) -> Row {
        Row {
            ipix,
            prob: 0.0,
            distance: RowDistance::default(),
        }
    }

    fn add(&mut self, pixel: &Pixel, prob: f64) {
        self.prob += prob;
        self.distance.mu.add(pixel.distmu, prob);
        self.distance.sigma.add(pixel.distsigma, prob);
    }
}

/// Writes the flattened map. `nside` must be a power of two (the settings check it).
pub fn write_csv(map: &SkyMap, nside: u32, event_id: &str, out: impl Write) -> io::Result<()> {
    let depth = nside.trailing_zeros() as u8;
    let mut writer = CsvWriter::new(out, map.has_distance, depth);
    writer.header(event_id, nside)?;
    let mut pending: Option<Row> = None;
    for pixel in map.pixels() {
        if pixel.depth <= depth {
            if let Some(row) = pending.take() {
                writer.row(&row)?;
            }
            let shift = 2 * (depth - pixel.depth);
            let first = pixel.ipix << shift;
            writer.empty_rows_until(first)?;
            let share = pixel.probdensity * pixel_area_sr(depth);
            for ipix in first..first + (1u64 << shift) {
                let mut row = Row::empty(ipix);
                row.add(pixel, share);
                writer.row(&row)?;
            }
        } else {
            let parent = pixel.ipix >> (2 * (pixel.depth - depth));
            if pending.as_ref().is_some_and(|row| row.ipix != parent) {
                if let Some(row) = pending.take() {
                    writer.row(&row)?;
                }
            }
            let row = match &mut pending {
                Some(row) => row,
                None => {
                    writer.empty_rows_until(parent)?;
                    pending.insert(Row::empty(parent))
                }
            };
            row.add(pixel, pixel.prob());
        }
    }
    if let Some(row) = pending.take() {
        writer.row(&row)?;
    }
    writer.empty_rows_until(12u64 << (2 * depth))?;
    writer.finish()
}

/// Formats rows; tracks the next row index so gaps (a map that does not cover
/// the whole sky) are filled with empty rows and the table is always complete.
/// Rows are formatted by hand into one reused buffer: with `write!` the float
/// formatting took half of the whole alert's ingest time.
struct CsvWriter<W: Write> {
    out: io::BufWriter<W>,
    with_distance: bool,
    depth: u8,
    next: u64,
    line: Vec<u8>,
    positions: Option<Arc<Positions>>,
}

impl<W: Write> CsvWriter<W> {
    fn new(out: W, with_distance: bool, depth: u8) -> Self {
        CsvWriter {
            out: io::BufWriter::with_capacity(1 << 16, out),
            with_distance,
            depth,
            next: 0,
            line: Vec::with_capacity(128),
            positions: Positions::cached(depth),
        }
    }

    fn header(&mut self, event_id: &str, nside: u32) -> io::Result<()> {
        writeln!(self.out, "# EVENT:{event_id}")?;
        writeln!(self.out, "# NSIDE:{nside}")?;
        if self.with_distance {
            writeln!(self.out, "IPIX,PROB,DISTMU,DISTSIGMA,RA,DEC,GLON,GLAT")
        } else {
            writeln!(self.out, "IPIX,PROB,RA,DEC,GLON,GLAT")
        }
    }

    fn empty_rows_until(&mut self, end: u64) -> io::Result<()> {
        while self.next < end {
            self.row(&Row::empty(self.next))?;
        }
        Ok(())
    }

    fn row(&mut self, row: &Row) -> io::Result<()> {
        let line = &mut self.line;
        line.clear();
        line.extend_from_slice(itoa::Buffer::new().format(row.ipix).as_bytes());
        push_number(line, row.prob);
        if self.with_distance {
            push_number(line, row.distance.mu.value());
            push_number(line, row.distance.sigma.value());
        }
        match &self.positions {
            Some(positions) => line.extend_from_slice(positions.row(row.ipix)),
            None => push_position(line, self.depth, row.ipix),
        }
        line.push(b'\n');
        self.out.write_all(line)?;
        self.next = row.ipix + 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// `,RA,DEC,GLON,GLAT` of a row's pixel centre.
fn push_position(line: &mut Vec<u8>, depth: u8, ipix: u64) {
    let (ra, dec) = pixel_center_deg(depth, ipix);
    let (glon, glat) = galactic_deg(ra, dec);
    for x in [ra, dec, glon, glat] {
        push_fixed6(line, x);
    }
}

/// The deepest level whose position columns are cached: NSIDE 128, 196,608
/// rows, about 9 MB. Deeper tables compute them row by row.
const CACHED_MAX_DEPTH: u8 = 7;

/// The position columns of every row at one level, formatted once per process:
/// they are the same for every alert, and computing them (trigonometry and
/// formatting) was a third of the time of an alert.
struct Positions {
    text: Vec<u8>,
    ends: Vec<u32>,
}

impl Positions {
    fn cached(depth: u8) -> Option<Arc<Positions>> {
        static CACHE: OnceLock<Mutex<HashMap<u8, Arc<Positions>>>> = OnceLock::new();
        if depth > CACHED_MAX_DEPTH {
            return None;
        }
        let mut cache = CACHE.get_or_init(Default::default).lock().ok()?;
        Some(
            cache
                .entry(depth)
                .or_insert_with(|| Arc::new(Positions::compute(depth)))
                .clone(),
        )
    }

    fn compute(depth: u8) -> Positions {
        let rows = 12u64 << (2 * depth);
        let mut text = Vec::with_capacity(rows as usize * 44);
        let mut ends = Vec::with_capacity(rows as usize);
        for ipix in 0..rows {
            push_position(&mut text, depth, ipix);
            ends.push(text.len() as u32);
        }
        Positions { text, ends }
    }

    fn row(&self, ipix: u64) -> &[u8] {
        let i = ipix as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }
}

/// `,` then the shortest text that reads back as the same double (`inf` for
/// infinity, as Python writes it).
fn push_number(line: &mut Vec<u8>, x: f64) {
    line.push(b',');
    if x.is_finite() {
        let mut buf = ryu::Buffer::new();
        let text = buf.format_finite(x);
        line.extend_from_slice(text.strip_suffix(".0").unwrap_or(text).as_bytes());
    } else if x.is_nan() {
        line.extend_from_slice(b"nan");
    } else {
        line.extend_from_slice(if x > 0.0 { b"inf" } else { b"-inf" });
    }
}

/// `,` then `x` with exactly six decimals (a micro-degree: far below any pixel).
fn push_fixed6(line: &mut Vec<u8>, x: f64) {
    line.push(b',');
    let micro = (x * 1e6).round() as i64;
    if micro < 0 {
        line.push(b'-');
    }
    let micro = micro.unsigned_abs();
    line.extend_from_slice(itoa::Buffer::new().format(micro / 1_000_000).as_bytes());
    let frac = micro % 1_000_000;
    let mut digits = [b'0'; 6];
    let text = itoa::Buffer::new().format(frac).as_bytes().to_vec();
    digits[6 - text.len()..].copy_from_slice(&text);
    line.push(b'.');
    line.extend_from_slice(&digits);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(push: fn(&mut Vec<u8>, f64), x: f64) -> String {
        let mut line = Vec::new();
        push(&mut line, x);
        String::from_utf8(line[1..].to_vec()).unwrap()
    }

    #[test]
    fn numbers_read_back_exactly() {
        for x in [0.0, 1.0, 0.123456789012345, 1.234e-12, 3.0e20, 42.5, 5e-324] {
            assert_eq!(text(push_number, x).parse::<f64>().unwrap(), x);
        }
        assert_eq!(text(push_number, f64::INFINITY), "inf");
        assert_eq!(text(push_number, 12.0), "12");
    }

    #[test]
    fn fixed_six_decimals() {
        assert_eq!(text(push_fixed6, 0.0), "0.000000");
        assert_eq!(text(push_fixed6, 194.3041992), "194.304199");
        assert_eq!(text(push_fixed6, -17.8568954), "-17.856895");
        assert_eq!(text(push_fixed6, -0.0000004), "0.000000");
        assert_eq!(text(push_fixed6, -0.5), "-0.500000");
        assert_eq!(text(push_fixed6, 359.9999999), "360.000000");
    }
}

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

use std::io::{self, Write};

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
struct CsvWriter<W: Write> {
    out: io::BufWriter<W>,
    with_distance: bool,
    depth: u8,
    next: u64,
}

impl<W: Write> CsvWriter<W> {
    fn new(out: W, with_distance: bool, depth: u8) -> Self {
        CsvWriter {
            out: io::BufWriter::with_capacity(1 << 16, out),
            with_distance,
            depth,
            next: 0,
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
        let (ra, dec) = pixel_center_deg(self.depth, row.ipix);
        let (glon, glat) = galactic_deg(ra, dec);
        write!(self.out, "{},{}", row.ipix, number(row.prob))?;
        if self.with_distance {
            write!(
                self.out,
                ",{},{}",
                number(row.distance.mu.value()),
                number(row.distance.sigma.value())
            )?;
        }
        writeln!(self.out, ",{ra:.6},{dec:.6},{glon:.6},{glat:.6}")?;
        self.next = row.ipix + 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Shortest text that reads back as the same double; exponent form for very
/// small or large values so that rows stay short. `inf` as Python writes it.
fn number(x: f64) -> String {
    if x == 0.0 || (1e-4..1e15).contains(&x.abs()) || !x.is_finite() {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_back_exactly() {
        for x in [0.0, 1.0, 0.123456789012345, 1.234e-12, 3.0e20, 42.5] {
            assert_eq!(number(x).parse::<f64>().unwrap(), x);
        }
        assert_eq!(number(f64::INFINITY), "inf");
    }
}

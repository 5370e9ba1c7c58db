//! The 50 % and 90 % credible regions as GeoJSON polygons in RA/Dec degrees
//! (`contours.geojson`), for schedulers and web maps that test points against
//! polygons on a plane. The file's layout is in docs/contracts.md, "The sky-map products".
//!
//! A region is drawn on an equirectangular grid of `GRID_STEP_DEG` cells: a
//! cell is in when the map's pixel at the cell's centre is in the region's MOC
//! (the credible ranking's pixels). Its outline is traced along the cell edges
//! between in and out cells, so a planar even-odd test in RA/Dec answers as the
//! grid does everywhere: RA runs over [0, 360], a region across RA 0 is cut
//! there into two polygons, and one around a pole is closed along dec ±90.
//! Rings keep the region on their left (outer rings counter-clockwise, holes
//! clockwise, as RFC 7946 asks); cells that touch only at a corner belong to
//! separate polygons.

pub mod check;

use std::f64::consts::FRAC_PI_2;
use std::io::Write;

use moc::moc::{RangeMOCIntoIterator, RangeMOCIterator};

use super::moc::{area_deg2, Region};
use crate::stats::round_area;

/// The side of a grid cell, in degrees of RA and of Dec.
pub const GRID_STEP_DEG: f64 = 0.25;
const COLUMNS: usize = 1440;
const ROWS: usize = 720;

/// A position in degrees: (RA, Dec).
pub type Point = (f64, f64);

/// One connected part of a region: its outline (counter-clockwise) and its
/// holes (clockwise). Rings are not closed: the last point joins the first.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    pub outer: Vec<Point>,
    pub holes: Vec<Vec<Point>>,
}

impl Polygon {
    /// Every ring, the outline first.
    pub fn rings(&self) -> impl Iterator<Item = &[Point]> {
        std::iter::once(self.outer.as_slice()).chain(self.holes.iter().map(Vec::as_slice))
    }
}

/// One credible level's contour.
#[derive(Debug, Clone, PartialEq)]
pub struct Contour {
    /// 0.5 or 0.9.
    pub level: f64,
    /// The region's area (deg², as `area50`/`area90`).
    pub area_deg2: f64,
    pub polygons: Vec<Polygon>,
}

impl Contour {
    /// The contour of the region `region` (a credible region's MOC).
    pub fn of(level: f64, region: &Region) -> Contour {
        let grid = Grid::of(region);
        Contour {
            level,
            area_deg2: round_area(area_deg2(region)),
            polygons: grid.polygons(),
        }
    }
}

/// Writes the contours as one GeoJSON FeatureCollection, one Feature (a
/// MultiPolygon, empty for an empty region) per level.
pub fn write_geojson(contours: &[Contour], out: &mut dyn Write) -> std::io::Result<()> {
    out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[")?;
    for (k, contour) in contours.iter().enumerate() {
        if k > 0 {
            out.write_all(b",")?;
        }
        write!(
            out,
            "\n{{\"type\":\"Feature\",\"properties\":{{\"credible_level\":{},\"area_deg2\":{}}},\
             \"geometry\":{{\"type\":\"MultiPolygon\",\"coordinates\":[",
            contour.level, contour.area_deg2
        )?;
        for (p, polygon) in contour.polygons.iter().enumerate() {
            out.write_all(if p > 0 { b",[" } else { b"[" })?;
            for (r, ring) in polygon.rings().enumerate() {
                out.write_all(if r > 0 { b",[" } else { b"[" })?;
                // GeoJSON rings repeat their first position last.
                for (v, (ra, dec)) in ring.iter().chain(ring.first()).enumerate() {
                    let comma = if v > 0 { "," } else { "" };
                    write!(out, "{comma}[{ra},{dec}]")?;
                }
                out.write_all(b"]")?;
            }
            out.write_all(b"]")?;
        }
        out.write_all(b"]}}")?;
    }
    out.write_all(b"\n]}\n")
}

/// Whether a point is inside a ring, by the planar even-odd rule.
pub fn ring_contains(ring: &[Point], (x, y): Point) -> bool {
    let mut inside = false;
    let mut previous = ring.last().copied().unwrap_or((x, y));
    for &(xi, yi) in ring {
        let (xj, yj) = previous;
        if (yi > y) != (yj > y) && x < xi + (y - yi) * (xj - xi) / (yj - yi) {
            inside = !inside;
        }
        previous = (xi, yi);
    }
    inside
}

/// The ring's signed area in deg² of the plane (positive when counter-clockwise).
fn signed_area(ring: &[Point]) -> f64 {
    let mut twice = 0.0;
    let mut previous = ring.last().copied().unwrap_or((0.0, 0.0));
    for &(x, y) in ring {
        twice += previous.0 * y - x * previous.1;
        previous = (x, y);
    }
    twice / 2.0
}

/// The centre of the grid cell holding a point: where the contour looked at the map.
pub fn cell_centre((ra, dec): Point) -> Point {
    let column = ((ra.rem_euclid(360.0) / GRID_STEP_DEG) as usize).min(COLUMNS - 1);
    let row = (((dec + 90.0) / GRID_STEP_DEG).max(0.0) as usize).min(ROWS - 1);
    (centre_deg(column), centre_deg(row) - 90.0)
}

fn centre_deg(index: usize) -> f64 {
    (index as f64 + 0.5) * GRID_STEP_DEG
}

/// Which grid cells are in the region; row 0 is the southernmost.
struct Grid {
    cells: Vec<bool>,
}

impl Grid {
    fn of(region: &Region) -> Grid {
        let mut grid = Grid {
            cells: vec![false; COLUMNS * ROWS],
        };
        let lon: Vec<f64> = (0..COLUMNS).map(|c| centre_deg(c).to_radians()).collect();
        let lat: Vec<f64> = (0..ROWS)
            .map(|r| (centre_deg(r) - 90.0).to_radians())
            .collect();
        for cell in region.into_range_moc_iter().cells() {
            grid.paint(cell.depth, cell.idx, &lon, &lat);
        }
        grid
    }

    /// Marks the grid cells whose centre is in the HEALPix cell. Each grid
    /// row meets the cell in one run of columns (HEALPix cells are diamonds
    /// between their north and south vertices): found from one column inside
    /// by bisection at both ends, within a box around the circle that holds
    /// the cell.
    fn paint(&mut self, depth: u8, idx: u64, lon: &[f64], lat: &[f64]) {
        let (lon0, lat0) = cdshealpix::nested::center(depth, idx);
        let vertices = cdshealpix::nested::vertices(depth, idx);
        let (south, north) = vertices.iter().fold((FRAC_PI_2, -FRAC_PI_2), |(s, n), v| {
            (s.min(v.1), n.max(v.1))
        });
        let (first, last) = centres_within(south - 1e-12, north + 1e-12, -FRAC_PI_2);
        let rows = first.max(0) as usize..(last + 1).clamp(0, ROWS as isize) as usize;
        if rows.is_empty() {
            return;
        }
        // The cell's farthest points from its centre are vertices; a little
        // wider, for rounding.
        let radius = vertices
            .iter()
            .map(|&(lon, lat)| angle(lon0, lat0, lon, lat))
            .fold(0.0, f64::max)
            * 1.02
            + 1e-9;
        let half_width = if lat0.abs() + radius >= FRAC_PI_2 {
            None
        } else {
            let sin = radius.sin() / lat0.cos();
            (sin < 1.0).then(|| sin.asin())
        };
        // Columns past either end of the grid wrap around RA 0.
        let columns = match half_width.map(|half| centres_within(lon0 - half, lon0 + half, 0.0)) {
            Some((first, last)) if last - first + 1 < COLUMNS as isize => first..last + 1,
            _ => 0..COLUMNS as isize,
        };
        if columns.is_empty() {
            return;
        }
        let centre_column = {
            let c = ((lon0 / GRID_STEP_DEG.to_radians()) - 0.5).round() as isize;
            let c = if c >= columns.end {
                c - COLUMNS as isize
            } else {
                c
            };
            let c = if c < columns.start {
                c + COLUMNS as isize
            } else {
                c
            };
            c.clamp(columns.start, columns.end - 1)
        };
        for row in rows {
            let inside = |column: isize| {
                let column = column.rem_euclid(COLUMNS as isize) as usize;
                cdshealpix::nested::hash(depth, lon[column], lat[row]) == idx
            };
            let seed = if inside(centre_column) {
                Some(centre_column)
            } else {
                columns.clone().find(|&c| inside(c))
            };
            let Some(seed) = seed else {
                continue;
            };
            let (west, east) = (
                first_inside(columns.start, seed, inside),
                last_inside(seed, columns.end - 1, inside),
            );
            for column in west..=east {
                self.cells[row * COLUMNS + column.rem_euclid(COLUMNS as isize) as usize] = true;
            }
        }
    }

    /// Whether the cell is in; cells off the grid are out.
    fn is_in(&self, column: isize, row: isize) -> bool {
        (0..COLUMNS as isize).contains(&column)
            && (0..ROWS as isize).contains(&row)
            && self.cells[row as usize * COLUMNS + column as usize]
    }

    /// Whether the boundary runs from `vertex` in direction `step`: the cell
    /// on its left is in and the one on its right out.
    fn has_edge(&self, (x, y): (isize, isize), step: Step) -> bool {
        let (left, right) = match step {
            Step::East => ((x, y), (x, y - 1)),
            Step::North => ((x - 1, y), (x, y)),
            Step::West => ((x - 1, y - 1), (x - 1, y)),
            Step::South => ((x, y - 1), (x - 1, y - 1)),
        };
        self.is_in(left.0, left.1) && !self.is_in(right.0, right.1)
    }

    /// Every ring, grouped into polygons.
    fn polygons(&self) -> Vec<Polygon> {
        // Every ring has an eastward edge along the bottom of an in-cell (an
        // outline's lowest edge, a hole's highest); each is traced from the
        // first such edge met, and its other ones are marked as done.
        let mut done = vec![false; COLUMNS * ROWS];
        let mut outlines = Vec::new();
        let mut holes = Vec::new();
        for row in 0..ROWS {
            for column in 0..COLUMNS {
                let start = (column as isize, row as isize);
                let index = row * COLUMNS + column;
                if !self.cells[index] || done[index] || !self.has_edge(start, Step::East) {
                    continue;
                }
                let ring = self.trace(start, &mut done);
                let area = signed_area(&ring);
                if area > 0.0 {
                    outlines.push((ring, area));
                } else {
                    // The in-cell above the starting edge: inside the polygon this hole belongs to.
                    holes.push((ring, (centre_deg(column), centre_deg(row) - 90.0)));
                }
            }
        }
        group(outlines, holes)
    }

    /// Follows the boundary from an eastward edge until it comes back to it,
    /// keeping the corners. At a vertex where two in-cells touch by a corner
    /// it turns left, which keeps them in separate rings.
    fn trace(&self, start: (isize, isize), done: &mut [bool]) -> Vec<Point> {
        let mut ring = Vec::new();
        let (mut vertex, mut step) = (start, Step::East);
        // A ring uses each of the grid's edges at most once.
        for _ in 0..2 * (COLUMNS + 1) * (ROWS + 1) {
            if step == Step::East {
                done[vertex.1 as usize * COLUMNS + vertex.0 as usize] = true;
            }
            vertex = step.from(vertex);
            let next = [step.left(), step, step.left().left().left()]
                .into_iter()
                .find(|&s| self.has_edge(vertex, s))
                // A boundary always goes on; this only keeps the loop total.
                .unwrap_or(Step::East);
            if next != step {
                ring.push((
                    vertex.0 as f64 * GRID_STEP_DEG,
                    vertex.1 as f64 * GRID_STEP_DEG - 90.0,
                ));
            }
            if vertex == start && next == Step::East {
                break;
            }
            step = next;
        }
        ring
    }
}

/// The first column of `lo..=hi` inside, given that `hi` is and the inside
/// ones are a run.
fn first_inside(mut lo: isize, mut hi: isize, inside: impl Fn(isize) -> bool) -> isize {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if inside(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    hi
}

/// The last column of `lo..=hi` inside, given that `lo` is and the inside
/// ones are a run.
fn last_inside(mut lo: isize, mut hi: isize, inside: impl Fn(isize) -> bool) -> isize {
    while lo < hi {
        let mid = lo + (hi - lo + 1) / 2;
        if inside(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// The angle between two directions (radians), by the haversine formula.
fn angle(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * h.sqrt().min(1.0).asin()
}

/// The first and last grid index whose cell centre lies in [lo, hi]
/// (radians; the grid starts at `origin`), unclamped: `last < first` when none.
fn centres_within(lo: f64, hi: f64, origin: f64) -> (isize, isize) {
    let step = GRID_STEP_DEG.to_radians();
    let first = ((lo - origin) / step - 0.5).ceil();
    let last = ((hi - origin) / step - 0.5).floor();
    (first as isize, last as isize)
}

/// Gives each hole to the smallest outline around its inner point (the
/// innermost: an island inside a hole of another is smaller than it).
fn group(outlines: Vec<(Vec<Point>, f64)>, holes: Vec<(Vec<Point>, Point)>) -> Vec<Polygon> {
    let mut polygons: Vec<Polygon> = outlines
        .iter()
        .map(|(ring, _)| Polygon {
            outer: ring.clone(),
            holes: Vec::new(),
        })
        .collect();
    for (hole, inner) in holes {
        let owner = outlines
            .iter()
            .enumerate()
            .filter(|(_, (ring, _))| ring_contains(ring, inner))
            .min_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
            .map(|(k, _)| k);
        if let Some(k) = owner {
            polygons[k].holes.push(hole);
        }
    }
    polygons
}

/// A direction along the grid's edges.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    East,
    North,
    West,
    South,
}

impl Step {
    fn left(self) -> Step {
        match self {
            Step::East => Step::North,
            Step::North => Step::West,
            Step::West => Step::South,
            Step::South => Step::East,
        }
    }

    fn from(self, (x, y): (isize, isize)) -> (isize, isize) {
        match self {
            Step::East => (x + 1, y),
            Step::North => (x, y + 1),
            Step::West => (x - 1, y),
            Step::South => (x, y - 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check::{compare, read_geojson};
    use super::*;
    use crate::products::credible::Ranking;
    use crate::products::moc::region_moc;
    use crate::synth::{self, Layout};
    use crate::{Pixel, SkyMap};

    fn map_of(density: impl Fn(f64, f64) -> f64) -> SkyMap {
        SkyMap::new(
            synth::build(density, Layout::default(), None),
            false,
            vec![],
        )
        .unwrap()
    }

    /// The 50 % and 90 % contours, checked against the map on a grid of
    /// points, and their number of polygons and holes.
    fn contours_agree(map: &SkyMap) -> Vec<Contour> {
        let ranking = Ranking::new(map);
        let contours: Vec<Contour> = [0.5, 0.9]
            .iter()
            .map(|&level| Contour::of(level, &region_moc(map, &ranking.region_nested(level))))
            .collect();
        for contour in &contours {
            let found = compare(map, contour.level, &contour.polygons, 0.3);
            assert_eq!(
                found.far_count, 0,
                "level {}: {found:?} disagree away from the edge",
                contour.level
            );
            // Only the edge's cells may disagree: a small part of the region.
            assert!(
                found.near_edge * 5 <= found.inside.max(5),
                "level {}: {found:?}",
                contour.level
            );
        }
        contours
    }

    fn holes(contour: &Contour) -> usize {
        contour.polygons.iter().map(|p| p.holes.len()).sum()
    }

    #[test]
    fn islands_are_separate_polygons() {
        let (a, b, c) = (
            synth::gaussian(40.0, 20.0, 4.0),
            synth::gaussian(250.0, -50.0, 5.0),
            synth::gaussian(160.0, 60.0, 3.0),
        );
        let contours = contours_agree(&map_of(move |ra, dec| a(ra, dec) + b(ra, dec) + c(ra, dec)));
        assert_eq!(contours[1].polygons.len(), 3);
        assert_eq!(holes(&contours[1]), 0);
    }

    #[test]
    fn a_region_across_ra_zero_is_cut_at_the_seam() {
        let contours = contours_agree(&map_of(synth::gaussian(359.0, 10.0, 5.0)));
        let polygons = &contours[1].polygons;
        assert_eq!(polygons.len(), 2, "one each side of RA 0");
        let touches = |ra: f64| polygons.iter().any(|p| p.outer.iter().any(|v| v.0 == ra));
        assert!(touches(0.0) && touches(360.0));
    }

    #[test]
    fn a_region_around_a_pole_is_closed_along_the_pole() {
        let contours = contours_agree(&map_of(synth::gaussian(30.0, 87.0, 5.0)));
        let polygons = &contours[1].polygons;
        assert_eq!(polygons.len(), 1);
        assert!(polygons[0].outer.iter().any(|v| v.1 == 90.0));
        assert_eq!(holes(&contours[1]), 0);
    }

    #[test]
    fn a_long_arc_and_a_ring_with_its_hole() {
        // Blobs along a great circle tilted 40° to the equator, over 150° of it.
        let blobs: Vec<_> = (0..31)
            .map(|k| {
                let t = (k as f64 * 5.0).to_radians();
                let dec = (40f64.to_radians().sin() * t.sin()).asin().to_degrees();
                let ra = (t.sin() * 40f64.to_radians().cos())
                    .atan2(t.cos())
                    .to_degrees();
                synth::gaussian((ra + 300.0).rem_euclid(360.0), dec, 3.0)
            })
            .collect();
        let arc = contours_agree(&map_of(move |ra, dec| {
            blobs.iter().map(|b| b(ra, dec)).sum()
        }));
        assert!(arc[1].area_deg2 > 1000.0, "{}", arc[1].area_deg2);
        // A ring 20° from its centre: the 90 % region has a hole in the middle.
        let ring = contours_agree(&map_of(|ra, dec| {
            let theta = synth::angular_distance_deg(120.0, -20.0, ra, dec);
            (-0.5 * ((theta - 20.0) / 3.0).powi(2)).exp()
        }));
        assert_eq!(ring[1].polygons.len(), 1);
        assert_eq!(holes(&ring[1]), 1);
    }

    #[test]
    fn the_whole_sky_and_a_one_pixel_map() {
        let uniform = 1.0 / (4.0 * std::f64::consts::PI);
        let sky: Vec<Pixel> = (0..768)
            .map(|i| Pixel::without_distance(3, i, uniform))
            .collect();
        let sky = SkyMap::new(sky, false, vec![]).unwrap();
        let contours = contours_agree(&sky);
        assert!(
            (contours[1].area_deg2 / (360.0 * 360.0 / std::f64::consts::PI) - 0.9).abs() < 0.01
        );
        // All the probability in one pixel: empty regions, empty MultiPolygons.
        let one = [Pixel::without_distance(0, 4, 1.0 / crate::pixel_area_sr(0))];
        let one = SkyMap::new(one.to_vec(), false, vec![]).unwrap();
        let contours = contours_agree(&one);
        assert!(contours
            .iter()
            .all(|c| c.polygons.is_empty() && c.area_deg2 == 0.0));
        let mut text = Vec::new();
        write_geojson(&contours, &mut text).unwrap();
        let features = read_geojson(std::str::from_utf8(&text).unwrap()).unwrap();
        assert_eq!(features.len(), 2);
        assert!(features.iter().all(|f| f.polygons.is_empty()));
    }

    #[test]
    fn the_geojson_reads_back_as_the_polygons() {
        let (a, b) = (
            synth::gaussian(359.0, -30.0, 4.0),
            synth::gaussian(100.0, 70.0, 6.0),
        );
        let contours = contours_agree(&map_of(move |ra, dec| a(ra, dec) + b(ra, dec)));
        let mut text = Vec::new();
        write_geojson(&contours, &mut text).unwrap();
        let features = read_geojson(std::str::from_utf8(&text).unwrap()).unwrap();
        for (feature, contour) in features.iter().zip(&contours) {
            assert_eq!(feature.level, contour.level);
            assert_eq!(feature.area_deg2, contour.area_deg2);
            assert_eq!(feature.polygons, contour.polygons);
        }
    }

    #[test]
    fn corners_touching_cells_are_separate_and_rings_are_oriented() {
        let mut grid = Grid {
            cells: vec![false; COLUMNS * ROWS],
        };
        // Two cells touching at a corner, and a 3x3 block with its centre out.
        for (c, r) in [(10, 10), (11, 11)] {
            grid.cells[r * COLUMNS + c] = true;
        }
        for c in 20..23 {
            for r in 20..23 {
                grid.cells[r * COLUMNS + c] = (c, r) != (21, 21);
            }
        }
        let polygons = grid.polygons();
        assert_eq!(polygons.len(), 3);
        assert!(polygons.iter().all(|p| signed_area(&p.outer) > 0.0));
        let block = polygons.iter().find(|p| !p.holes.is_empty()).unwrap();
        assert_eq!(block.outer.len(), 4, "collinear points are dropped");
        assert_eq!(block.holes.len(), 1);
        assert!(signed_area(&block.holes[0]) < 0.0);
        assert!(ring_contains(&block.outer, (5.1, -84.9)));
        assert!(!ring_contains(&block.holes[0], (5.1, -84.9)));
        assert!(ring_contains(&block.holes[0], (5.375, -84.625)));
    }
}

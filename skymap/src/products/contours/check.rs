//! The check the tests make of a contour against the map it was drawn from
//! (the unit tests on generated maps, the ingest tests on `contours.geojson`
//! read back): on a grid of points, a planar even-odd test in RA/Dec against
//! the polygons must say "inside" exactly where the map's credible level is
//! below the contour's, except for points within one grid cell of the
//! region's edge, where the grid the contour was drawn on may differ.

use serde_json::Value;

use super::{cell_centre, signed_area, Point, Polygon, GRID_STEP_DEG};
use crate::products::credible::Ranking;
use crate::SkyMap;

/// What the check found at one level.
#[derive(Debug, Clone, Default)]
pub struct Agreement {
    pub points: usize,
    /// Points inside the polygons.
    pub inside: usize,
    /// Points where polygons and map disagree, near the region's edge.
    pub near_edge: usize,
    /// Points where they disagree away from it (a few of them): none is allowed.
    pub far: Vec<Point>,
    pub far_count: usize,
}

/// Compares the polygons of the `level` contour with the map on a grid of
/// points `spacing` degrees apart (offset from the contour's grid lines).
pub fn compare(map: &SkyMap, level: f64, polygons: &[Polygon], spacing: f64) -> Agreement {
    let levels = Ranking::new(map).levels();
    let is_in = |(ra, dec): Point| {
        map.pixel_at(ra.rem_euclid(360.0), dec.clamp(-90.0, 90.0))
            .is_some_and(|i| levels[i] < level)
    };
    let mut found = Agreement::default();
    let rows = (180.0 / spacing) as usize;
    let columns = (360.0 / spacing) as usize;
    for row in 0..rows {
        let dec = -90.0 + (row as f64 + 0.37) * spacing;
        let crossings = crossings(polygons, dec);
        for column in 0..columns {
            let ra = (column as f64 + 0.41) * spacing;
            let claimed = crossings.partition_point(|&x| x < ra) % 2 == 1;
            found.points += 1;
            found.inside += usize::from(claimed);
            let truth = is_in((ra, dec));
            if claimed == truth {
                continue;
            }
            let d = GRID_STEP_DEG;
            let near = [-d, 0.0, d]
                .iter()
                .flat_map(|&x| [-d, 0.0, d].map(|y| (ra + x, dec + y)))
                .chain([cell_centre((ra, dec))])
                .any(|p| is_in(p) != truth);
            if near {
                found.near_edge += 1;
            } else {
                found.far_count += 1;
                if found.far.len() < 10 {
                    found.far.push((ra, dec));
                }
            }
        }
    }
    found
}

/// Where the line of declination `dec` crosses the polygons' rings, sorted:
/// a point of that line is inside when an odd number lie west of it.
fn crossings(polygons: &[Polygon], dec: f64) -> Vec<f64> {
    let mut xs = Vec::new();
    for ring in polygons.iter().flat_map(Polygon::rings) {
        let mut previous = ring.last().copied().unwrap_or_default();
        for &(x, y) in ring {
            let (px, py) = previous;
            if (y > dec) != (py > dec) {
                xs.push(x + (dec - y) * (px - x) / (py - y));
            }
            previous = (x, y);
        }
    }
    xs.sort_by(f64::total_cmp);
    xs
}

/// One Feature of a `contours.geojson` read back.
#[derive(Debug, Clone)]
pub struct Feature {
    pub level: f64,
    pub area_deg2: f64,
    pub polygons: Vec<Polygon>,
}

/// Reads `contours.geojson` as the tests see it, checking what a GeoJSON
/// reader relies on: closed rings, outlines counter-clockwise, holes
/// clockwise, positions within RA [0, 360] and Dec [-90, 90].
pub fn read_geojson(text: &str) -> Result<Vec<Feature>, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    if value["type"] != "FeatureCollection" {
        return Err("not a FeatureCollection".into());
    }
    let features = value["features"].as_array().ok_or("no features")?;
    features.iter().map(read_feature).collect()
}

fn read_feature(feature: &Value) -> Result<Feature, String> {
    let number = |v: &Value, what: &str| v.as_f64().ok_or(format!("{what} is not a number"));
    let level = number(&feature["properties"]["credible_level"], "credible_level")?;
    let area_deg2 = number(&feature["properties"]["area_deg2"], "area_deg2")?;
    let geometry = &feature["geometry"];
    if geometry["type"] != "MultiPolygon" {
        return Err("the geometry is not a MultiPolygon".into());
    }
    let polygons = geometry["coordinates"]
        .as_array()
        .ok_or("no coordinates")?
        .iter()
        .map(read_polygon)
        .collect::<Result<_, _>>()?;
    Ok(Feature {
        level,
        area_deg2,
        polygons,
    })
}

fn read_polygon(polygon: &Value) -> Result<Polygon, String> {
    let mut rings = polygon
        .as_array()
        .ok_or("a polygon is not an array")?
        .iter()
        .map(read_ring);
    let outer = rings.next().ok_or("a polygon without rings")??;
    if signed_area(&outer) <= 0.0 {
        return Err("an outline is not counter-clockwise".into());
    }
    let holes: Vec<Vec<Point>> = rings.collect::<Result<_, _>>()?;
    if holes.iter().any(|h| signed_area(h) >= 0.0) {
        return Err("a hole is not clockwise".into());
    }
    Ok(Polygon { outer, holes })
}

/// A ring's positions, the closing repeat dropped.
fn read_ring(ring: &Value) -> Result<Vec<Point>, String> {
    let mut points: Vec<Point> = ring
        .as_array()
        .ok_or("a ring is not an array")?
        .iter()
        .map(|p| match (p[0].as_f64(), p[1].as_f64()) {
            (Some(ra), Some(dec))
                if (0.0..=360.0).contains(&ra) && (-90.0..=90.0).contains(&dec) =>
            {
                Ok((ra, dec))
            }
            _ => Err(format!("{p} is not an RA/Dec position")),
        })
        .collect::<Result<_, _>>()?;
    if points.len() < 4 || points.first() != points.last() {
        return Err("a ring is not closed".into());
    }
    points.pop();
    Ok(points)
}

//! Everything drawn over the sky as lines and symbols: the coordinate grid and
//! its labels, the edge of the sky, the galactic plane, the outlines of the Sun
//! and Moon exclusion zones, and the Sun and Moon themselves.
//!
//! Each is generated as a dense path of points on the sphere and projected
//! point by point (so a circle of 33° comes out as the distorted ellipse it
//! really is on this projection), then cut where it crosses the edge of the map.

use super::canvas::{Canvas, Pen};
use super::projection::{unit_vector, Frame};
use super::style::{self, Rgb};
use super::text::{Align, Fonts, TextStyle};
use gocart_skymap::ephemeris::RaDec;
use gocart_skymap::sky::equatorial_deg;

/// Grid spacing, degrees.
const RA_STEP: u32 = 30;
const DEC_STEP: i32 = 15;
/// RA just inside the edges of the map (RA 0 is the right edge, 360 the left).
const RA_MIN: f64 = 1e-6;
const RA_MAX: f64 = 360.0 - 1e-6;

/// Meridians every 30° and parallels every 15°, thin and translucent so the
/// regions under them stay readable.
pub fn draw_graticule(canvas: &mut Canvas, frame: &Frame) {
    let mut lines = Vec::new();
    for ra in (RA_STEP..360).step_by(RA_STEP as usize) {
        let meridian: Vec<_> = (-90..=90)
            .map(|dec| (f64::from(ra), f64::from(dec)))
            .collect();
        lines.extend(frame.project_path(&meridian));
    }
    for dec in (-90 + DEC_STEP..90).step_by(DEC_STEP as usize) {
        let parallel: Vec<_> = (0..=360)
            .map(|i| {
                (
                    RA_MIN + (RA_MAX - RA_MIN) * f64::from(i) / 360.0,
                    f64::from(dec),
                )
            })
            .collect();
        lines.extend(frame.project_path(&parallel));
    }
    let pen = Pen {
        alpha: style::GRID_ALPHA,
        ..Pen::solid(style::GRID, 1.3)
    };
    canvas.stroke_lines(&lines, pen);
}

/// The edge of the sky, drawn just outside it so that it hides no region
/// pixel along the edge.
pub fn draw_border(canvas: &mut Canvas, frame: &Frame) {
    let width = 4.0;
    canvas.stroke_oval(
        frame.cx as f32,
        frame.cy as f32,
        frame.semi_major() as f32 + width / 2.0,
        frame.semi_minor() as f32 + width / 2.0,
        Pen::solid(style::BORDER, width),
    );
}

/// A ring around the most probable position, so that a localisation of a few
/// square degrees (a few pixels here) is found at a glance. The ring leaves
/// the position itself uncovered.
pub fn draw_peak(canvas: &mut Canvas, frame: &Frame, ra: f64, dec: f64) {
    let (x, y) = frame.project(ra, dec);
    let ring = |radius: f32| -> Vec<(f32, f32)> {
        (0..=64)
            .map(|i| {
                let t = i as f32 / 64.0 * std::f32::consts::TAU;
                (x as f32 + radius * t.cos(), y as f32 + radius * t.sin())
            })
            .collect()
    };
    let points = ring(style::PEAK_RADIUS);
    canvas.stroke_lines(
        std::slice::from_ref(&points),
        Pen::solid(style::BACKGROUND, 5.0),
    );
    canvas.stroke_lines(&[points], Pen::solid(style::PEAK, 2.5));
}

/// RA along the equator, Dec left of the sky's edge.
pub fn draw_axis_labels(canvas: &mut Canvas, frame: &Frame, fonts: &Fonts) {
    let text = TextStyle {
        bold: false,
        size: style::AXIS_FONT,
        color: style::TEXT,
    };
    let cap = fonts.cap_height(text);
    for ra in (RA_STEP..360).step_by(RA_STEP as usize) {
        let (x, y) = frame.project(f64::from(ra), 0.0);
        let label = format!("{ra}°");
        fonts.draw(
            canvas,
            &label,
            x as f32,
            y as f32 + cap + 10.0,
            Align::Centre,
            text,
        );
    }
    for dec in (-90 + DEC_STEP..90).step_by(DEC_STEP as usize) {
        let (x, y) = frame.project(RA_MAX, f64::from(dec));
        let label = format!("{}°", signed(dec));
        fonts.draw(
            canvas,
            &label,
            x as f32 - 12.0,
            y as f32 + cap / 2.0,
            Align::Right,
            text,
        );
    }
}

/// A Dec with a true minus sign.
fn signed(dec: i32) -> String {
    if dec < 0 {
        format!("−{}", -dec)
    } else {
        dec.to_string()
    }
}

/// The galactic plane (b = 0).
pub fn draw_galactic_plane(canvas: &mut Canvas, frame: &Frame) {
    let plane: Vec<_> = (0..=720)
        .map(|i| equatorial_deg(f64::from(i) * 0.5, 0.0))
        .collect();
    canvas.stroke_lines(
        &frame.project_path(&plane),
        Pen::solid(style::GALACTIC_PLANE, 3.5),
    );
}

/// The points of a small circle of `radius_deg` around `centre`, as RA/Dec.
pub fn small_circle(centre: RaDec, radius_deg: f64) -> Vec<(f64, f64)> {
    let c = unit_vector(centre.ra, centre.dec);
    // Two unit vectors perpendicular to the centre: east and north of it.
    let (sr, cr) = centre.ra.to_radians().sin_cos();
    let (sd, cd) = centre.dec.to_radians().sin_cos();
    let east = [-sr, cr, 0.0];
    let north = [-sd * cr, -sd * sr, cd];
    let (s, k) = radius_deg.to_radians().sin_cos();
    (0..=360)
        .map(|i| {
            let (st, ct) = f64::from(i).to_radians().sin_cos();
            let v: [f64; 3] =
                std::array::from_fn(|j| k * c[j] + s * (ct * east[j] + st * north[j]));
            let ra = v[1].atan2(v[0]).to_degrees().rem_euclid(360.0);
            let dec = v[2].clamp(-1.0, 1.0).asin().to_degrees();
            (ra, dec)
        })
        .collect()
}

/// The outline of an exclusion zone.
pub fn draw_zone_outline(
    canvas: &mut Canvas,
    frame: &Frame,
    centre: RaDec,
    radius_deg: f64,
    color: Rgb,
) {
    let lines = frame.project_path(&small_circle(centre, radius_deg));
    let pen = Pen {
        alpha: 0.85,
        dash: Some((10.0, 6.0)),
        ..Pen::solid(color, 2.0)
    };
    canvas.stroke_lines(&lines, pen);
}

/// The Sun or the Moon as a disc with a dark rim.
pub fn draw_body(canvas: &mut Canvas, frame: &Frame, at: RaDec, fill: Rgb, edge: Rgb) {
    let (x, y) = frame.project(at.ra, at.dec);
    canvas.fill_disc(
        x as f32,
        y as f32,
        style::MARKER_RADIUS,
        fill,
        Pen::solid(edge, 2.5),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use gocart_skymap::ephemeris::separation_deg;

    #[test]
    fn small_circles_are_at_the_right_distance() {
        for (ra, dec) in [(0.0, 0.0), (33.0, 13.3), (200.0, -80.0), (10.0, 89.0)] {
            let centre = RaDec { ra, dec };
            for (pra, pdec) in small_circle(centre, 33.0) {
                let sep = separation_deg(centre, RaDec { ra: pra, dec: pdec });
                assert!((sep - 33.0).abs() < 1e-9, "{ra} {dec}: {sep}");
            }
        }
    }
}

//! The Hammer-Aitoff equal-area projection of the equatorial sky, placed on
//! the picture: RA increases to the left with 180° at the centre, as
//! astronomers draw the sky (and as the original's matplotlib "hammer" did).
//!
//! Forward and inverse are closed forms, written out here rather than taken
//! from mapproj so the per-pixel pass can get the unit vector of a pixel
//! without any trigonometric call beyond the one `atan2` and `asin` it needs
//! anyway for the HEALPix lookup. Paths on the sky (grid lines, the galactic
//! plane, circles) are split where they cross the RA 0/360 edge of the map.

use std::f64::consts::{PI, SQRT_2};

/// A position on the sky in the forms the per-pixel pass needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkyPoint {
    /// Right ascension in radians, [0, 2π].
    pub ra: f64,
    /// Declination in radians.
    pub dec: f64,
    /// Unit vector (x towards RA 0, z towards the north pole).
    pub xyz: [f64; 3],
}

/// Where the projected sky sits on the picture, in pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Frame {
    /// Centre of the ellipse (RA 180°, Dec 0°).
    pub cx: f64,
    pub cy: f64,
    /// Pixels per unit of the Hammer plane (the ellipse is 4√2 units wide).
    pub scale: f64,
}

impl Frame {
    /// Half the width of the ellipse, in pixels.
    pub fn semi_major(&self) -> f64 {
        2.0 * SQRT_2 * self.scale
    }

    /// Half the height of the ellipse, in pixels.
    pub fn semi_minor(&self) -> f64 {
        SQRT_2 * self.scale
    }

    /// The picture coordinates (x right, y down; pixel (i, j) covers
    /// [i, i+1) × [j, j+1)) of RA/Dec in degrees.
    pub fn project(&self, ra_deg: f64, dec_deg: f64) -> (f64, f64) {
        let (x, y) = hammer(longitude_of_ra(ra_deg), dec_deg.to_radians());
        (self.cx + self.scale * x, self.cy - self.scale * y)
    }

    /// The pixel holding RA/Dec in degrees.
    pub fn pixel_of(&self, ra_deg: f64, dec_deg: f64) -> (i64, i64) {
        let (x, y) = self.project(ra_deg, dec_deg);
        (x.floor() as i64, y.floor() as i64)
    }

    /// The sky at picture coordinates, or `None` outside the ellipse.
    pub fn unproject(&self, px: f64, py: f64) -> Option<SkyPoint> {
        inverse_hammer((px - self.cx) / self.scale, (self.cy - py) / self.scale)
    }

    /// RA/Dec in degrees at picture coordinates, or `None` outside the ellipse.
    pub fn unproject_deg(&self, px: f64, py: f64) -> Option<(f64, f64)> {
        self.unproject(px, py)
            .map(|p| (p.ra.to_degrees(), p.dec.to_degrees()))
    }

    /// The half-width in pixels of the ellipse at picture row `py` (0 outside).
    pub fn half_width_at(&self, py: f64) -> f64 {
        let y = (self.cy - py) / self.scale;
        let inside = 1.0 - y * y / 2.0;
        if inside > 0.0 {
            self.semi_major() * inside.sqrt()
        } else {
            0.0
        }
    }

    /// A path on the sky (RA/Dec degrees, dense enough to draw as straight
    /// segments) as picture polylines, cut where it crosses the RA 0/360 edge.
    pub fn project_path(&self, points: &[(f64, f64)]) -> Vec<Vec<(f32, f32)>> {
        let mut lines = Vec::new();
        let mut current: Vec<(f32, f32)> = Vec::new();
        for pair in points.windows(2) {
            let ((ra0, dec0), (ra1, dec1)) = (pair[0], pair[1]);
            if current.is_empty() {
                current.push(self.point_f32(ra0, dec0));
            }
            match seam_crossing(ra0, ra1) {
                None => current.push(self.point_f32(ra1, dec1)),
                Some((t, ra_before, ra_after)) => {
                    let dec = dec0 + t * (dec1 - dec0);
                    current.push(self.point_f32(ra_before, dec));
                    lines.push(std::mem::take(&mut current));
                    current.push(self.point_f32(ra_after, dec));
                    current.push(self.point_f32(ra1, dec1));
                }
            }
        }
        if current.len() > 1 {
            lines.push(current);
        }
        lines.retain(|line| line.len() > 1);
        lines
    }

    fn point_f32(&self, ra: f64, dec: f64) -> (f32, f32) {
        let (x, y) = self.project(ra, dec);
        (x as f32, y as f32)
    }
}

/// Where a step from `ra0` to `ra1` (the short way round) crosses RA 0/360:
/// the fraction of the step, and the RA to draw on each side of the edge.
fn seam_crossing(ra0: f64, ra1: f64) -> Option<(f64, f64, f64)> {
    let (a, b) = (ra0.rem_euclid(360.0), ra1.rem_euclid(360.0));
    let step = (b - a + 540.0).rem_euclid(360.0) - 180.0;
    let unwrapped = a + step;
    if unwrapped >= 360.0 {
        // Going east past 360: leave on the left edge, come back on the right.
        Some(((360.0 - a) / step, 360.0 - 1e-9, 0.0))
    } else if unwrapped < 0.0 {
        Some(((a - 0.0) / -step, 0.0, 360.0 - 1e-9))
    } else {
        None
    }
}

/// Projection longitude (radians, positive to the right) of an RA in degrees:
/// 180° sits at the centre and RA grows to the left; RA 0 is the right edge.
fn longitude_of_ra(ra_deg: f64) -> f64 {
    let ra = ra_deg.rem_euclid(360.0);
    // RA exactly 0 (or 360) is drawn on the right edge, just inside it.
    (180.0 - ra).to_radians()
}

/// Hammer forward: longitude/latitude (radians) to the plane, |x| <= 2√2, |y| <= √2.
pub fn hammer(lon: f64, lat: f64) -> (f64, f64) {
    let (sin_lat, cos_lat) = lat.sin_cos();
    let (sin_half, cos_half) = (lon / 2.0).sin_cos();
    let d = (1.0 + cos_lat * cos_half).max(1e-12).sqrt();
    (2.0 * SQRT_2 * cos_lat * sin_half / d, SQRT_2 * sin_lat / d)
}

/// Hammer inverse, with the unit vector built from the half-angle of the
/// longitude rather than from further sines and cosines.
pub fn inverse_hammer(x: f64, y: f64) -> Option<SkyPoint> {
    if x * x / 8.0 + y * y / 2.0 > 1.0 {
        return None;
    }
    let z = (1.0 - x * x / 16.0 - y * y / 4.0).max(0.0).sqrt();
    // lon / 2 = atan2(zx, 2(2z² - 1)); inside the ellipse z² > 1/2, so the
    // denominator is positive and a plain arctangent does.
    let (num, den) = (z * x, 2.0 * (2.0 * z * z - 1.0));
    let lon = if den > 0.0 {
        2.0 * fast_atan(num / den)
    } else {
        2.0 * num.atan2(den)
    };
    let sin_dec = (z * y).clamp(-1.0, 1.0);
    let dec = sin_dec.asin();
    let cos_dec = (1.0 - sin_dec * sin_dec).max(0.0).sqrt();
    let r2 = num * num + den * den;
    let (cos_lon, sin_lon) = if r2 > 1e-24 {
        ((den * den - num * num) / r2, 2.0 * num * den / r2)
    } else {
        (1.0, 0.0)
    };
    // RA = π - lon: cos RA = -cos lon, sin RA = sin lon.
    let ra = (PI - lon).clamp(0.0, 2.0 * PI);
    Some(SkyPoint {
        ra,
        dec,
        xyz: [-cos_dec * cos_lon, cos_dec * sin_lon, sin_dec],
    })
}

/// Arctangent to full double precision, several times faster than libm's
/// `atan2`, which took a quarter of the picture's time (Cephes' `atan`: range
/// reduction to |t| <= 0.66 and a rational approximation).
pub fn fast_atan(t: f64) -> f64 {
    const P: [f64; 5] = [
        -8.750_608_600_031_904e-1,
        -1.615_753_718_733_365e1,
        -7.500_855_792_314_705e1,
        -1.228_866_684_490_136e2,
        -6.485_021_904_942_025e1,
    ];
    const Q: [f64; 5] = [
        2.485_846_490_142_306e1,
        1.650_270_098_316_988_5e2,
        4.328_810_604_912_903e2,
        4.853_903_996_359_137e2,
        1.945_506_571_482_614e2,
    ];
    const TAN_3PI_8: f64 = 2.414_213_562_373_095;
    const MORE_BITS: f64 = 6.123_233_995_736_766e-17;
    let a = t.abs();
    let (base, x, extra) = if a > TAN_3PI_8 {
        (PI / 2.0, -1.0 / a, MORE_BITS)
    } else if a > 0.66 {
        (PI / 4.0, (a - 1.0) / (a + 1.0), 0.5 * MORE_BITS)
    } else {
        (0.0, a, 0.0)
    };
    let z = x * x;
    let p = (((P[0] * z + P[1]) * z + P[2]) * z + P[3]) * z + P[4];
    let q = ((((z + Q[0]) * z + Q[1]) * z + Q[2]) * z + Q[3]) * z + Q[4];
    let result = base + (x * z * p / q + x + extra);
    result.copysign(t)
}

/// The unit vector of RA/Dec in degrees.
pub fn unit_vector(ra_deg: f64, dec_deg: f64) -> [f64; 3] {
    let (sr, cr) = ra_deg.to_radians().sin_cos();
    let (sd, cd) = dec_deg.to_radians().sin_cos();
    [cd * cr, cd * sr, sd]
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: Frame = Frame {
        cx: 1000.0,
        cy: 500.0,
        scale: 300.0,
    };

    #[test]
    fn centre_edges_and_poles_land_where_expected() {
        let (x, y) = FRAME.project(180.0, 0.0);
        assert!((x - 1000.0).abs() < 1e-9 && (y - 500.0).abs() < 1e-9);
        // RA grows to the left.
        assert!(FRAME.project(200.0, 0.0).0 < 1000.0);
        let right = FRAME.project(0.0, 0.0).0;
        assert!(
            (right - (1000.0 + FRAME.semi_major())).abs() < 1e-6,
            "{right}"
        );
        let left = FRAME.project(359.999_999, 0.0).0;
        assert!(
            (left - (1000.0 - FRAME.semi_major())).abs() < 1e-3,
            "{left}"
        );
        let top = FRAME.project(123.0, 90.0).1;
        assert!((top - (500.0 - FRAME.semi_minor())).abs() < 1e-6, "{top}");
    }

    #[test]
    fn inverse_undoes_forward_everywhere() {
        for ra in (1..360).step_by(7) {
            for dec in (-89..=89).step_by(4) {
                let (x, y) = FRAME.project(f64::from(ra), f64::from(dec));
                let p = FRAME.unproject(x, y).expect("inside");
                assert!(
                    (p.ra.to_degrees() - f64::from(ra)).abs() < 1e-7,
                    "{ra} {dec} {p:?}"
                );
                assert!(
                    (p.dec.to_degrees() - f64::from(dec)).abs() < 1e-7,
                    "{ra} {dec} {p:?}"
                );
                let v = unit_vector(f64::from(ra), f64::from(dec));
                for k in 0..3 {
                    assert!((p.xyz[k] - v[k]).abs() < 1e-9, "{ra} {dec} {p:?} {v:?}");
                }
            }
        }
    }

    #[test]
    fn fast_atan_matches_libm() {
        let mut t = -1e6;
        while t < 1e6 {
            for x in [t, 1.0 / t, t * 1e-3] {
                let (ours, libm) = (fast_atan(x), x.atan());
                assert!(
                    (ours - libm).abs() <= 4.0 * f64::EPSILON * libm.abs().max(1e-300),
                    "{x}: {ours} {libm}"
                );
            }
            t += 0.037 * t.abs().max(1.0);
        }
        assert_eq!(fast_atan(0.0), 0.0);
        assert!((fast_atan(f64::INFINITY) - PI / 2.0).abs() < 1e-15);
    }

    #[test]
    fn outside_the_ellipse_is_no_sky() {
        assert!(FRAME.unproject(0.0, 0.0).is_none());
        assert!(FRAME
            .unproject(1000.0, 500.0 - FRAME.semi_minor() - 1.0)
            .is_none());
        assert_eq!(FRAME.half_width_at(500.0 - FRAME.semi_minor() - 1.0), 0.0);
        assert!((FRAME.half_width_at(500.0) - FRAME.semi_major()).abs() < 1e-9);
    }

    #[test]
    fn paths_are_cut_at_the_edge_of_the_map() {
        // A parallel from RA 350 to RA 10 crosses the edge once.
        let points: Vec<_> = (0..=20)
            .map(|i| ((350.0 + f64::from(i)) % 360.0, 20.0))
            .collect();
        let lines = FRAME.project_path(&points);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let left_end = lines[0].last().expect("a point").0;
        let right_start = lines[1][0].0;
        assert!(
            left_end < 1000.0 - 790.0 && right_start > 1000.0 + 790.0,
            "{lines:?}"
        );
        // A parallel that stays on one side is one line.
        let points: Vec<_> = (10..=350).map(|ra| (f64::from(ra), -30.0)).collect();
        assert_eq!(FRAME.project_path(&points).len(), 1);
    }
}

//! Where the Sun and the Moon are at a time, as geocentric RA/Dec in the
//! J2000/GCRS frame the sky map uses, and where an observer's zenith is: the
//! one ephemeris of the picture (Sun and Moon exclusion zones) and of the
//! observability per site (dark windows, altitudes).
//!
//! No maintained crate gives this simply, and observers only need it to a
//! fraction of a degree (the exclusion zones are 33° and 20°), so we use the
//! classic low-precision series: Meeus' solar longitude with the equation of
//! centre (about 0.01°), and the principal terms of Meeus' lunar theory (ELP
//! 2000 truncated; a few hundredths of a degree). Both give ecliptic
//! coordinates of the mean equinox of date; we rotate them to equatorial of
//! date and precess that back to J2000 (IAU 1976), which is what astropy's
//! GCRS is to well below our accuracy. Tested against astropy's `get_body`.
//! The zenith is the mean sidereal time (IAU 1982, UT1 taken as UTC: under a
//! second) precessed back to J2000 the same way; nutation (< 20") is left out.

use chrono::{DateTime, Utc};

/// Geocentric position of a body, degrees: RA in [0, 360), Dec in [-90, 90].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RaDec {
    pub ra: f64,
    pub dec: f64,
}

/// TT - UTC since 2017 (37 leap seconds + 32.184 s). Earlier dates are off by
/// a few seconds of time, which moves the Moon by a few arcseconds: negligible.
const TT_MINUS_UTC_S: f64 = 69.184;

/// Julian centuries of TT since J2000.0.
fn centuries_tt(time: DateTime<Utc>) -> f64 {
    let jd_tt = (unix_seconds(time) + TT_MINUS_UTC_S) / 86400.0 + 2_440_587.5;
    (jd_tt - 2_451_545.0) / 36_525.0
}

/// Seconds since 1970 (UTC, leap seconds aside), with the fraction.
fn unix_seconds(time: DateTime<Utc>) -> f64 {
    time.timestamp() as f64 + f64::from(time.timestamp_subsec_nanos()) * 1e-9
}

/// The Sun at `time` (Meeus, Astronomical Algorithms ch. 25, low accuracy).
pub fn sun(time: DateTime<Utc>) -> RaDec {
    let t = centuries_tt(time);
    let l0 = 280.466_46 + 36_000.769_83 * t + 0.000_303_2 * t * t;
    let m = (357.529_11 + 35_999.050_29 * t - 0.000_153_7 * t * t).to_radians();
    let centre = (1.914_602 - 0.004_817 * t - 0.000_014 * t * t) * m.sin()
        + (0.019_993 - 0.000_101 * t) * (2.0 * m).sin()
        + 0.000_289 * (3.0 * m).sin();
    // Annual aberration (-20.5"): GCRS directions are apparent ones.
    let longitude = l0 + centre - 0.005_69;
    of_date_to_j2000(longitude, 0.0, t)
}

/// One periodic term of the lunar series: multiples of D, M, M', F and the
/// coefficient in 1e-6 degrees.
type Term = (i8, i8, i8, i8, f64);

/// Meeus table 47.A, longitude: the terms above 0.001°.
const LONGITUDE_TERMS: [Term; 30] = [
    (0, 0, 1, 0, 6_288_774.0),
    (2, 0, -1, 0, 1_274_027.0),
    (2, 0, 0, 0, 658_314.0),
    (0, 0, 2, 0, 213_618.0),
    (0, 1, 0, 0, -185_116.0),
    (0, 0, 0, 2, -114_332.0),
    (2, 0, -2, 0, 58_793.0),
    (2, -1, -1, 0, 57_066.0),
    (2, 0, 1, 0, 53_322.0),
    (2, -1, 0, 0, 45_758.0),
    (0, 1, -1, 0, -40_923.0),
    (1, 0, 0, 0, -34_720.0),
    (0, 1, 1, 0, -30_383.0),
    (2, 0, 0, -2, 15_327.0),
    (0, 0, 1, 2, -12_528.0),
    (0, 0, 1, -2, 10_980.0),
    (4, 0, -1, 0, 10_675.0),
    (0, 0, 3, 0, 10_034.0),
    (4, 0, -2, 0, 8_548.0),
    (2, 1, -1, 0, -7_888.0),
    (2, 1, 0, 0, -6_766.0),
    (1, 0, -1, 0, -5_163.0),
    (1, 1, 0, 0, 4_987.0),
    (2, -1, 1, 0, 4_036.0),
    (2, 0, 2, 0, 3_994.0),
    (4, 0, 0, 0, 3_861.0),
    (2, 0, -3, 0, 3_665.0),
    (0, 1, -2, 0, -2_689.0),
    (2, 0, -1, 2, -2_602.0),
    (2, -1, -2, 0, 2_390.0),
];

/// Meeus table 47.B, latitude: the terms above 0.001°.
const LATITUDE_TERMS: [Term; 13] = [
    (0, 0, 0, 1, 5_128_122.0),
    (0, 0, 1, 1, 280_602.0),
    (0, 0, 1, -1, 277_693.0),
    (2, 0, 0, -1, 173_237.0),
    (2, 0, -1, 1, 55_413.0),
    (2, 0, -1, -1, 46_271.0),
    (2, 0, 0, 1, 32_573.0),
    (0, 0, 2, 1, 17_198.0),
    (2, 0, 1, -1, 9_266.0),
    (0, 0, 2, -1, 8_822.0),
    (2, -1, 0, -1, 8_216.0),
    (2, 0, -2, -1, 4_324.0),
    (2, 0, 1, 1, 4_200.0),
];

/// The Moon at `time` (Meeus ch. 47, principal terms), geocentric.
pub fn moon(time: DateTime<Utc>) -> RaDec {
    let t = centuries_tt(time);
    let l1 = 218.316_447_7 + 481_267.881_234_21 * t;
    let d = 297.850_192_1 + 445_267.111_403_4 * t;
    let m = 357.529_109_2 + 35_999.050_290_9 * t;
    let m1 = 134.963_396_4 + 477_198.867_505_5 * t;
    let f = 93.272_095_0 + 483_202.017_523_3 * t;
    // The eccentricity of the Earth's orbit weakens the terms in M.
    let e = 1.0 - 0.002_516 * t;
    let series = |terms: &[Term], trig: fn(f64) -> f64| -> f64 {
        terms
            .iter()
            .map(|&(kd, km, km1, kf, coeff)| {
                let arg =
                    f64::from(kd) * d + f64::from(km) * m + f64::from(km1) * m1 + f64::from(kf) * f;
                coeff * e.powi(i32::from(km.abs())) * trig(arg.to_radians())
            })
            .sum()
    };
    let a1 = (119.75 + 131.849 * t).to_radians();
    let a2 = (53.09 + 479_264.290 * t).to_radians();
    let a3 = (313.45 + 481_266.484 * t).to_radians();
    let (l1r, m1r, fr) = (l1.to_radians(), m1.to_radians(), f.to_radians());
    let sum_l = series(&LONGITUDE_TERMS, f64::sin)
        + 3958.0 * a1.sin()
        + 1962.0 * (l1r - fr).sin()
        + 318.0 * a2.sin();
    let sum_b = series(&LATITUDE_TERMS, f64::sin) - 2235.0 * l1r.sin()
        + 382.0 * a3.sin()
        + 175.0 * (a1 - fr).sin()
        + 175.0 * (a1 + fr).sin()
        + 127.0 * (l1r - m1r).sin()
        - 115.0 * (l1r + m1r).sin();
    of_date_to_j2000(l1 + sum_l * 1e-6, sum_b * 1e-6, t)
}

/// Ecliptic (longitude, latitude) of the mean equinox of date, degrees, to
/// J2000 equatorial RA/Dec.
fn of_date_to_j2000(longitude: f64, latitude: f64, t: f64) -> RaDec {
    let obliquity = (23.439_291_1 - 0.013_004_2 * t).to_radians();
    let (sl, cl) = longitude.to_radians().sin_cos();
    let (sb, cb) = latitude.to_radians().sin_cos();
    let (se, ce) = obliquity.sin_cos();
    let ecliptic = [cb * cl, cb * sl, sb];
    let of_date = [
        ecliptic[0],
        ce * ecliptic[1] - se * ecliptic[2],
        se * ecliptic[1] + ce * ecliptic[2],
    ];
    let j2000 = unprecess(of_date, t);
    let ra = j2000[1].atan2(j2000[0]).to_degrees().rem_euclid(360.0);
    let dec = j2000[2].clamp(-1.0, 1.0).asin().to_degrees();
    RaDec { ra, dec }
}

/// Mean equator and equinox of date to J2000: the transpose of the IAU 1976
/// precession matrix P = Rz(-z) Ry(theta) Rz(-zeta).
fn unprecess(v: [f64; 3], t: f64) -> [f64; 3] {
    let arcsec = |x: f64| (x / 3600.0).to_radians();
    let zeta = arcsec(2306.2181 * t + 0.30188 * t * t + 0.017_998 * t * t * t);
    let z = arcsec(2306.2181 * t + 1.09468 * t * t + 0.018_203 * t * t * t);
    let theta = arcsec(2004.3109 * t - 0.42665 * t * t - 0.041_833 * t * t * t);
    let (sz, cz) = zeta.sin_cos();
    let (s_z, c_z) = z.sin_cos();
    let (st, ct) = theta.sin_cos();
    let p = [
        [
            cz * ct * c_z - sz * s_z,
            -sz * ct * c_z - cz * s_z,
            -st * c_z,
        ],
        [
            cz * ct * s_z + sz * c_z,
            -sz * ct * s_z + cz * c_z,
            -st * s_z,
        ],
        [cz * st, -sz * st, ct],
    ];
    // P maps J2000 to date, so its transpose maps date back to J2000.
    std::array::from_fn(|i| (0..3).map(|k| p[k][i] * v[k]).sum())
}

/// The unit vector of `(ra, dec)` in degrees.
pub fn unit_vector(at: RaDec) -> [f64; 3] {
    let (sr, cr) = at.ra.to_radians().sin_cos();
    let (sd, cd) = at.dec.to_radians().sin_cos();
    [cd * cr, cd * sr, sd]
}

/// The observer's zenith at `time`, as a J2000 unit vector: latitude and
/// east longitude in degrees, on the mean equator of date turned by the local
/// mean sidereal time, then precessed back. Height does not matter without
/// refraction (the Sun's parallax is 9").
pub fn zenith(time: DateTime<Utc>, lat_deg: f64, lon_deg: f64) -> [f64; 3] {
    let local_sidereal = gmst_deg(time) + lon_deg;
    let of_date = unit_vector(RaDec {
        ra: local_sidereal,
        dec: lat_deg,
    });
    unprecess(of_date, centuries_tt(time))
}

/// The celestial pole of date as a J2000 unit vector: the axis the zenith
/// turns around during a day.
pub fn pole_of_date(time: DateTime<Utc>) -> [f64; 3] {
    unprecess([0.0, 0.0, 1.0], centuries_tt(time))
}

/// Greenwich mean sidereal time at `time`, degrees in [0, 360) (IAU 1982, as
/// Meeus eq. 12.4; UT1 - UTC is below a second, 0.004°, and left out).
pub fn gmst_deg(time: DateTime<Utc>) -> f64 {
    let days = unix_seconds(time) / 86400.0 + 2_440_587.5 - 2_451_545.0;
    let t = days / 36_525.0;
    (280.460_618_37 + 360.985_647_366_29 * days + 0.000_387_933 * t * t - t * t * t / 38_710_000.0)
        .rem_euclid(360.0)
}

/// The sidereal day over the solar day: how much faster than the clock the
/// sky turns.
pub const SIDEREAL_RATE: f64 = 1.002_737_909_35;

/// Angle between two positions on the sky, degrees.
pub fn separation_deg(a: RaDec, b: RaDec) -> f64 {
    let (ra1, dec1, ra2, dec2) = (
        a.ra.to_radians(),
        a.dec.to_radians(),
        b.ra.to_radians(),
        b.dec.to_radians(),
    );
    // The haversine form stays accurate for small angles.
    let h = ((dec2 - dec1) / 2.0).sin().powi(2)
        + dec1.cos() * dec2.cos() * ((ra2 - ra1) / 2.0).sin().powi(2);
    2.0 * h.sqrt().min(1.0).asin().to_degrees()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn reference_file() -> Option<serde_json::Value> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/reference/sun_moon_astropy.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).ok(),
            Err(_) => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "{} is absent and CI=true",
                    path.display()
                );
                println!("skipped: {} absent", path.display());
                None
            }
        }
    }

    fn parse_utc(text: &str) -> DateTime<Utc> {
        chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .unwrap_or_else(|e| panic!("{text} is not a time: {e}"))
            .and_utc()
    }

    #[test]
    fn sun_and_moon_agree_with_astropy() {
        let Some(reference) = reference_file() else {
            return;
        };
        let positions = reference["positions"]
            .as_array()
            .expect("a list of positions");
        assert!(!positions.is_empty());
        for entry in positions {
            let utc = entry["utc"].as_str().expect("utc");
            let time = parse_utc(utc);
            let at = |ra: &str, dec: &str| RaDec {
                ra: entry[ra].as_f64().expect("ra"),
                dec: entry[dec].as_f64().expect("dec"),
            };
            let sun_off = separation_deg(sun(time), at("sun_ra", "sun_dec"));
            let moon_off = separation_deg(moon(time), at("moon_ra", "moon_dec"));
            println!("{utc}: Sun off by {sun_off:.4}°, Moon by {moon_off:.4}°");
            assert!(sun_off < 0.1, "{utc}: the Sun is {sun_off}° from astropy's");
            assert!(
                moon_off < 0.3,
                "{utc}: the Moon is {moon_off}° from astropy's"
            );
        }
    }

    #[test]
    fn sidereal_time_of_meeus_example_12a() {
        // 1987 April 10, 0h UT: 13h10m46.3668s.
        let gmst = gmst_deg(parse_utc("1987-04-10T00:00:00"));
        let expected = (13.0 + 10.0 / 60.0 + 46.3668 / 3600.0) * 15.0;
        assert!((gmst - expected).abs() < 1e-5, "{gmst} vs {expected}");
    }

    #[test]
    fn the_suns_altitude_from_our_position_and_astropys_agree() {
        // The zenith is ours in both: what differs is the Sun, within 0.1°.
        let Some(reference) = reference_file() else {
            return;
        };
        for entry in reference["positions"].as_array().expect("positions") {
            let time = parse_utc(entry["utc"].as_str().expect("utc"));
            let theirs = RaDec {
                ra: entry["sun_ra"].as_f64().expect("ra"),
                dec: entry["sun_dec"].as_f64().expect("dec"),
            };
            for (lat, lon) in [(28.76, -17.88), (-30.24, -70.74), (78.0, 15.0)] {
                let zenith = zenith(time, lat, lon);
                let alt = |at: RaDec| {
                    let v = unit_vector(at);
                    (v[0] * zenith[0] + v[1] * zenith[1] + v[2] * zenith[2])
                        .asin()
                        .to_degrees()
                };
                let off = (alt(sun(time)) - alt(theirs)).abs();
                assert!(off < 0.1, "{time} at {lat},{lon}: {off}°");
            }
        }
    }

    #[test]
    fn the_zenith_is_at_the_latitude_of_date() {
        let time = parse_utc("2024-03-20T03:06:00");
        let z = zenith(time, 28.76, -17.88);
        let pole = pole_of_date(time);
        let sin_lat: f64 = (0..3).map(|i| z[i] * pole[i]).sum();
        assert!((sin_lat.asin().to_degrees() - 28.76).abs() < 1e-9);
    }

    #[test]
    fn sun_is_at_the_equinox_in_march() {
        // The March equinox of 2024 was at 03:06 UTC on 20 March: RA 0, Dec 0
        // in the equinox of date, which J2000 puts ~0.33° west.
        let sun = sun(parse_utc("2024-03-20T03:06:00"));
        assert!(sun.dec.abs() < 0.2, "{sun:?}");
        assert!(sun.ra > 359.0 || sun.ra < 1.0, "{sun:?}");
    }

    #[test]
    fn separation_of_known_points() {
        let a = RaDec { ra: 0.0, dec: 0.0 };
        assert!((separation_deg(a, RaDec { ra: 90.0, dec: 0.0 }) - 90.0).abs() < 1e-9);
        assert!(
            (separation_deg(
                a,
                RaDec {
                    ra: 10.0,
                    dec: 90.0
                }
            ) - 90.0)
                .abs()
                < 1e-9
        );
        assert!(
            (separation_deg(
                a,
                RaDec {
                    ra: 180.0,
                    dec: 0.0
                }
            ) - 180.0)
                .abs()
                < 1e-9
        );
    }
}

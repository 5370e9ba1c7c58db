//! What each observer's site can see of the map in the day after the alert:
//! its dark windows, the probability that rises above its airmass limit at
//! some time in one of them, and the best moment to look with what is up then
//! (`EXTRA.observability`, docs/contracts.md).
//!
//! The map is taken pixel by pixel (its multi-order pixels, at their centres),
//! never row by row of the CSV. Within a day precession is nothing (0.1"), so
//! each pixel keeps one declination of date and one hour angle that grows at
//! the sidereal rate: its highest altitude in a window is at transit when the
//! window's hour angles cross 0, else at one of the window's ends, which makes
//! "observable at some time" exact per window. Only the best moment is found
//! by sampling (every 10 minutes on the clock, and the window edges), over the
//! pixels that rise at all. No refraction: astropy's `AltAz` at pressure 0.

use chrono::{DateTime, Duration, DurationRound, TimeDelta, Utc};
use serde_json::{json, Map, Value};

use crate::ephemeris::{self, RaDec, SIDEREAL_RATE};
use crate::sky::pixel_center_deg;
use crate::SkyMap;

/// How long after the alert we look.
pub const SPAN: TimeDelta = TimeDelta::hours(24);

/// The step at which the Sun's altitude is sampled before the edges are
/// bisected, and the step of the best-moment search.
const STEP: TimeDelta = TimeDelta::minutes(10);

/// Bisections of a 10-minute step: edges to 600 s / 2^8, about 2 s.
const BISECTIONS: u32 = 8;

/// An observer's site and its limits (the settings' `sites:` entries).
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub name: String,
    /// Geodetic latitude, degrees north.
    pub lat_deg: f64,
    /// Longitude, degrees east.
    pub lon_deg: f64,
    /// Highest airmass (plain sec z) worth observing at.
    pub max_airmass: f64,
    /// Dark when the Sun is below this altitude, degrees.
    pub sun_alt_deg: f64,
}

impl Site {
    /// The lowest altitude worth observing at, degrees: sec z = `max_airmass`.
    pub fn min_alt_deg(&self) -> f64 {
        (1.0 / self.max_airmass).clamp(-1.0, 1.0).asin().to_degrees()
    }
}

/// One dark interval, clipped to the day after the alert.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// What one site can see of the map.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteObservability {
    pub site: String,
    /// In time order; empty when it never gets dark.
    pub windows: Vec<Window>,
    /// The probability above the airmass limit at some time in a window.
    pub probability: f64,
    /// The sampled moment with the most probability above the limit, and
    /// that probability; `None` without a dark window.
    pub best: Option<(DateTime<Utc>, f64)>,
}

/// A pixel as the observability needs it: where it is and what it holds.
struct Point {
    /// J2000 unit vector of the pixel's centre.
    at: [f64; 3],
    prob: f64,
}

/// Observability of `map` from every site over [`from`, `from` + 24 h];
/// nothing is computed for no site.
pub fn observe(map: &SkyMap, from: DateTime<Utc>, sites: &[Site]) -> Vec<SiteObservability> {
    if sites.is_empty() {
        return Vec::new();
    }
    let points: Vec<Point> = map
        .pixels()
        .iter()
        .filter(|p| p.probdensity > 0.0)
        .map(|p| {
            let (ra, dec) = pixel_center_deg(p.depth, p.ipix);
            Point {
                at: ephemeris::unit_vector(RaDec { ra, dec }),
                prob: p.prob(),
            }
        })
        .collect();
    sites
        .iter()
        .map(|site| observe_site(&points, from, site))
        .collect()
}

fn observe_site(points: &[Point], from: DateTime<Utc>, site: &Site) -> SiteObservability {
    let windows = dark_windows(site, from, from + SPAN);
    let sin_min_alt = site.min_alt_deg().to_radians().sin();
    let pole = ephemeris::pole_of_date(from);
    let risers: Vec<&Point> = points
        .iter()
        .filter(|p| {
            windows
                .iter()
                .any(|w| highest_sin_alt(p.at, pole, site, w) > sin_min_alt)
        })
        .collect();
    let probability = risers.iter().map(|p| p.prob).sum();
    let best = sample_times(&windows)
        .map(|t| {
            let zenith = ephemeris::zenith(t, site.lat_deg, site.lon_deg);
            let up: f64 = risers
                .iter()
                .filter(|p| dot(p.at, zenith) > sin_min_alt)
                .map(|p| p.prob)
                .sum();
            (t, up)
        })
        .fold(None, |best: Option<(DateTime<Utc>, f64)>, (t, up)| match best {
            Some((_, most)) if most >= up => best,
            _ => Some((t, up)),
        });
    SiteObservability {
        site: site.name.clone(),
        windows,
        probability,
        best,
    }
}

/// The sine of the highest altitude the direction `at` reaches from `site`
/// during `window`: at transit if the window's hour angles cross 0, else at
/// the nearer end.
fn highest_sin_alt(at: [f64; 3], pole: [f64; 3], site: &Site, window: &Window) -> f64 {
    let (sin_lat, cos_lat) = site.lat_deg.to_radians().sin_cos();
    let zenith = ephemeris::zenith(window.start, site.lat_deg, site.lon_deg);
    let sin_dec = dot(at, pole);
    let cos_dec = (1.0 - sin_dec * sin_dec).max(0.0).sqrt();
    if cos_lat < 1e-9 || cos_dec < 1e-12 {
        // At a pole, or the direction is on the axis: no daily motion.
        return dot(at, zenith);
    }
    // The meridian's direction on the equator of date, and the east point.
    let meridian = scale(sub(zenith, scale(pole, sin_lat)), 1.0 / cos_lat);
    let east = cross(pole, meridian);
    // Hour angle grows westward: HA = LST - RA.
    let start_ha = (-dot(at, east)).atan2(dot(at, meridian));
    let span_ha = seconds(window.end - window.start) / 86_400.0
        * SIDEREAL_RATE
        * std::f64::consts::TAU;
    let start_ha = start_ha.rem_euclid(std::f64::consts::TAU);
    let highest_cos_ha = if start_ha == 0.0 || start_ha + span_ha >= std::f64::consts::TAU {
        1.0
    } else {
        start_ha.cos().max((start_ha + span_ha).cos())
    };
    sin_lat * sin_dec + cos_lat * cos_dec * highest_cos_ha
}

/// The Sun's altitude at `site`, degrees.
pub fn sun_alt_deg(site: &Site, time: DateTime<Utc>) -> f64 {
    let sun = ephemeris::unit_vector(ephemeris::sun(time));
    let zenith = ephemeris::zenith(time, site.lat_deg, site.lon_deg);
    dot(sun, zenith).clamp(-1.0, 1.0).asin().to_degrees()
}

/// The intervals of [`from`, `to`] when the Sun is below `site.sun_alt_deg`:
/// sampled every 10 minutes, each change of state bisected to seconds.
pub fn dark_windows(site: &Site, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Window> {
    let dark = |t| sun_alt_deg(site, t) < site.sun_alt_deg;
    let mut windows = Vec::new();
    let mut open = dark(from).then_some(from);
    let mut t = from;
    let mut was_dark = open.is_some();
    while t < to {
        let next = (t + STEP).min(to);
        let is_dark = dark(next);
        if is_dark != was_dark {
            let edge = bisect(t, next, was_dark, &dark);
            match open.take() {
                Some(start) => windows.push(Window { start, end: edge }),
                None => open = Some(edge),
            }
        }
        was_dark = is_dark;
        t = next;
    }
    if let Some(start) = open {
        windows.push(Window { start, end: to });
    }
    windows
}

/// The moment between `a` (where `dark` is `at_a`) and `b` where it changes.
fn bisect(
    mut a: DateTime<Utc>,
    mut b: DateTime<Utc>,
    at_a: bool,
    dark: &dyn Fn(DateTime<Utc>) -> bool,
) -> DateTime<Utc> {
    for _ in 0..BISECTIONS {
        let mid = a + (b - a) / 2;
        if dark(mid) == at_a {
            a = mid;
        } else {
            b = mid;
        }
    }
    a + (b - a) / 2
}

/// The moments the best time is chosen from: each window's edges and every
/// 10 minutes on the clock between them.
fn sample_times(windows: &[Window]) -> impl Iterator<Item = DateTime<Utc>> + '_ {
    windows.iter().flat_map(|w| {
        let first = w
            .start
            .duration_trunc(Duration::minutes(10))
            .unwrap_or(w.start)
            + STEP;
        let ticks = std::iter::successors(Some(first), |t| Some(*t + STEP))
            .take_while(move |t| *t < w.end);
        std::iter::once(w.start)
            .chain(ticks)
            .chain(std::iter::once(w.end))
    })
}

/// `time` to the nearest minute, as every time of the observability is shown.
pub fn nearest_minute(time: DateTime<Utc>) -> DateTime<Utc> {
    time.duration_round(Duration::minutes(1)).unwrap_or(time)
}

/// `YYYY-MM-DDTHH:MMZ`, to the nearest minute.
pub fn minute_text(time: DateTime<Utc>) -> String {
    nearest_minute(time).format("%Y-%m-%dT%H:%MZ").to_string()
}

/// `EXTRA.observability`: per site name, its windows, probability, best time
/// and best probability (probabilities to 3 decimals).
pub fn to_json(sites: &[SiteObservability]) -> Value {
    let mut by_name = Map::new();
    for site in sites {
        let windows: Vec<Value> = site
            .windows
            .iter()
            .map(|w| json!([minute_text(w.start), minute_text(w.end)]))
            .collect();
        let (best_time, best_probability) = match site.best {
            Some((t, p)) => (Value::from(minute_text(t)), p),
            None => (Value::Null, 0.0),
        };
        by_name.insert(
            site.site.clone(),
            json!({
                "windows": windows,
                "probability": round3(site.probability),
                "best_time": best_time,
                "best_probability": round3(best_probability),
            }),
        );
    }
    Value::Object(by_name)
}

/// To 3 decimals; an empty sum's -0 becomes 0.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0 + 0.0
}

fn seconds(d: TimeDelta) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn scale(a: [f64; 3], k: f64) -> [f64; 3] {
    [a[0] * k, a[1] * k, a[2] * k]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Pixel;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .with_timezone(&Utc)
    }

    fn site(lat_deg: f64, lon_deg: f64) -> Site {
        Site {
            name: "here".into(),
            lat_deg,
            lon_deg,
            max_airmass: 2.0,
            sun_alt_deg: -12.0,
        }
    }

    fn whole_sky(depth: u8) -> SkyMap {
        let density = 1.0 / (4.0 * std::f64::consts::PI);
        let pixels = (0..12 * 4u64.pow(u32::from(depth)))
            .map(|i| Pixel::without_distance(depth, i, density))
            .collect();
        SkyMap::new(pixels, false, vec![]).expect("a map")
    }

    #[test]
    fn airmass_two_is_thirty_degrees() {
        assert!((site(0.0, 0.0).min_alt_deg() - 30.0).abs() < 1e-9);
    }

    #[test]
    fn polar_day_has_no_window_and_polar_night_one_clipped_to_the_day() {
        let june = utc("2024-06-21T00:00:00Z");
        let north = dark_windows(&site(78.0, 15.0), june, june + SPAN);
        assert!(north.is_empty(), "{north:?}");
        let south = dark_windows(&site(-85.0, 0.0), june, june + SPAN);
        assert_eq!(
            south,
            [Window {
                start: june,
                end: june + SPAN
            }]
        );
    }

    #[test]
    fn an_alert_at_night_opens_its_first_window_at_once_and_edges_are_sharp() {
        // La Palma at 01:00 UTC in April: dark from the alert until dawn,
        // then one whole night, and the next night clipped by the day's end.
        let site = Site {
            name: "La Palma".into(),
            ..site(28.7606, -17.8816)
        };
        let from = utc("2023-04-25T01:00:00Z");
        let windows = dark_windows(&site, from, from + SPAN);
        assert_eq!(windows.len(), 2, "{windows:?}");
        assert_eq!(windows[0].start, from);
        assert_eq!(windows[1].end, from + SPAN);
        for edge in [windows[0].end, windows[1].start] {
            let before = sun_alt_deg(&site, edge - TimeDelta::seconds(30));
            let after = sun_alt_deg(&site, edge + TimeDelta::seconds(30));
            let (low, high) = (before.min(after), before.max(after));
            assert!(low < -12.0 && high > -12.0, "{edge}: {before} {after}");
        }
    }

    #[test]
    fn a_whole_sky_map_gives_the_fraction_of_sky_that_rises() {
        // A whole day of night at 85° S: everything within 60° of the pole
        // of that hemisphere's sky passes above 30° at transit.
        let map = whole_sky(6);
        let from = utc("2024-06-21T00:00:00Z");
        let sites = [site(-85.0, 0.0)];
        let seen = &observe(&map, from, &sites)[0];
        let lat = -85f64;
        let (lowest, highest) = ((lat - 60.0).max(-90.0), lat + 60.0);
        let expected = (highest.to_radians().sin() - lowest.to_radians().sin()) / 2.0;
        assert!(
            (seen.probability - expected).abs() < 0.003,
            "{} vs {expected}",
            seen.probability
        );
        // At any one moment the sky above 30°: (1 - sin 30°) / 2.
        let (_, best) = seen.best.expect("a best time");
        assert!((best - 0.25).abs() < 0.003, "{best}");
    }

    #[test]
    fn a_map_never_rising_and_no_site_at_all() {
        // The sky south of -75°, from La Palma (its highest is -14°).
        let depth = 4;
        let south: Vec<u64> = (0..12 * 4u64.pow(depth))
            .filter(|&i| crate::sky::pixel_center_deg(depth as u8, i).1 < -75.0)
            .collect();
        let density = 1.0 / (south.len() as f64 * crate::pixel_area_sr(depth as u8));
        let pixels = south
            .iter()
            .map(|&i| Pixel::without_distance(depth as u8, i, density))
            .collect();
        let map = SkyMap::new(pixels, false, vec![]).expect("a map");
        let from = utc("2023-04-25T01:00:00Z");
        let seen = &observe(&map, from, &[site(28.76, -17.88)])[0];
        assert!(!seen.windows.is_empty());
        assert_eq!(seen.probability, 0.0);
        assert_eq!(seen.best.map(|b| b.1), Some(0.0));
        assert!(observe(&map, from, &[]).is_empty());
    }

    #[test]
    fn the_json_rounds_to_minutes_and_three_decimals() {
        let seen = SiteObservability {
            site: "La Palma".into(),
            windows: vec![Window {
                start: utc("2023-04-24T20:41:31Z"),
                end: utc("2023-04-25T05:58:10Z"),
            }],
            probability: 0.623_456,
            best: Some((utc("2023-04-24T23:00:00Z"), 0.41)),
        };
        let polar = SiteObservability {
            site: "Ny-Ålesund".into(),
            windows: vec![],
            probability: 0.0,
            best: None,
        };
        assert_eq!(
            to_json(&[seen, polar]),
            json!({
                "La Palma": {
                    "windows": [["2023-04-24T20:42Z", "2023-04-25T05:58Z"]],
                    "probability": 0.623,
                    "best_time": "2023-04-24T23:00Z",
                    "best_probability": 0.41,
                },
                "Ny-Ålesund": {
                    "windows": [],
                    "probability": 0.0,
                    "best_time": null,
                    "best_probability": 0.0,
                },
            })
        );
    }
}

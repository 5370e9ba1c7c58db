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

use super::credible::Ranking;
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
        (1.0 / self.max_airmass)
            .clamp(-1.0, 1.0)
            .asin()
            .to_degrees()
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

/// Probability the observability may leave out: the least dense pixels
/// holding this much, which cannot move a probability by more.
const NEGLIGIBLE: f64 = 1e-4;

/// A pixel as the observability needs it: where it is and what it holds.
struct Point {
    /// J2000 unit vector of the pixel's centre.
    at: [f64; 3],
    /// Sine and cosine of its declination of date.
    sin_dec: f64,
    cos_dec: f64,
    prob: f64,
}

/// Observability of `map` from every site over [`from`, `from` + 24 h];
/// nothing is computed for no site. `ranking` is the map's: its least dense
/// pixels holding 1e-4 of the probability are left out.
pub fn observe(
    map: &SkyMap,
    ranking: &Ranking,
    from: DateTime<Utc>,
    sites: &[Site],
) -> Vec<SiteObservability> {
    if sites.is_empty() {
        return Vec::new();
    }
    let pole = ephemeris::pole_of_date(from);
    let pixels = map.pixels();
    // The region stops before the pixel crossing the level: that one is kept.
    let kept = ranking.region(map.total_prob() - NEGLIGIBLE).len() + 1;
    let ranked = ranking.ranked();
    let points: Vec<Point> = ranked[..kept.min(ranked.len())]
        .iter()
        .map(|&i| {
            let (ra, dec) = pixel_center_deg(pixels[i].depth, pixels[i].ipix);
            let at = ephemeris::unit_vector(RaDec { ra, dec });
            let sin_dec = dot(at, pole);
            Point {
                at,
                sin_dec,
                cos_dec: (1.0 - sin_dec * sin_dec).max(0.0).sqrt(),
                prob: pixels[i].prob(),
            }
        })
        .collect();
    sites
        .iter()
        .map(|site| observe_site(&points, pole, from, site))
        .collect()
}

fn observe_site(
    points: &[Point],
    pole: [f64; 3],
    from: DateTime<Utc>,
    site: &Site,
) -> SiteObservability {
    let windows = dark_windows(site, from, from + SPAN);
    let sin_min_alt = site.min_alt_deg().to_radians().sin();
    let turns: Vec<Turn> = windows.iter().map(|w| Turn::new(w, pole, site)).collect();
    let risers: Vec<&Point> = points
        .iter()
        .filter(|p| rises(p, &turns, sin_min_alt))
        .collect();
    let probability = risers.iter().fold(0.0, |sum, p| sum + p.prob);
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
        .fold(
            None,
            |best: Option<(DateTime<Utc>, f64)>, (t, up)| match best {
                Some((_, most)) if most >= up => best,
                _ => Some((t, up)),
            },
        );
    SiteObservability {
        site: site.name.clone(),
        windows,
        probability,
        best,
    }
}

/// Whether `point` is above the limit at some time in one of the windows:
/// never if even its transit is too low, always (given a window) if even its
/// lowest point is high enough, else as each window's hour angles say.
fn rises(point: &Point, turns: &[Turn], sin_min_alt: f64) -> bool {
    let Some(first) = turns.first() else {
        return false;
    };
    let (along, across) = (first.sin_lat * point.sin_dec, first.cos_lat * point.cos_dec);
    if along + across <= sin_min_alt {
        return false;
    }
    if along - across > sin_min_alt {
        return true;
    }
    turns.iter().any(|t| t.highest_sin_alt(point) > sin_min_alt)
}

/// How the sky turns over a site during one window: the meridian and the
/// east point on the equator of date at its start, and the hour angle it
/// sweeps.
struct Turn {
    sin_lat: f64,
    cos_lat: f64,
    /// The zenith at the window's start (what a pole-sitter sees all along).
    zenith: [f64; 3],
    meridian: [f64; 3],
    east: [f64; 3],
    /// The hour angle swept, radians, and its cosine and sine.
    span_ha: f64,
    cos_span: f64,
    sin_span: f64,
}

impl Turn {
    fn new(window: &Window, pole: [f64; 3], site: &Site) -> Turn {
        let (sin_lat, cos_lat) = site.lat_deg.to_radians().sin_cos();
        let zenith = ephemeris::zenith(window.start, site.lat_deg, site.lon_deg);
        let meridian = if cos_lat < 1e-9 {
            [0.0; 3]
        } else {
            scale(sub(zenith, scale(pole, sin_lat)), 1.0 / cos_lat)
        };
        let span_ha =
            seconds(window.end - window.start) / 86_400.0 * SIDEREAL_RATE * std::f64::consts::TAU;
        let (sin_span, cos_span) = span_ha.sin_cos();
        Turn {
            sin_lat,
            cos_lat,
            zenith,
            meridian,
            east: cross(pole, meridian),
            span_ha,
            cos_span,
            sin_span,
        }
    }

    /// The sine of the highest altitude `point` reaches in the window: at
    /// transit if the window's hour angles cross 0, else at the higher end.
    fn highest_sin_alt(&self, point: &Point) -> f64 {
        if self.cos_lat < 1e-9 {
            // At a pole: no daily motion.
            return dot(point.at, self.zenith);
        }
        // cos δ (cos H, sin H) at the window's start and end (HA = LST - RA,
        // growing westward), by rotating the start through the span.
        let (x0, y0) = (dot(point.at, self.meridian), -dot(point.at, self.east));
        let x1 = x0 * self.cos_span - y0 * self.sin_span;
        let y1 = y0 * self.cos_span + x0 * self.sin_span;
        // The arc from H0 to H1 holds H = 0 where sin H turns from - to +;
        // an arc longer than half a turn misses it only inside its complement.
        let transits = if self.span_ha >= std::f64::consts::TAU {
            true
        } else if self.span_ha <= std::f64::consts::PI {
            y0 <= 0.0 && y1 >= 0.0
        } else {
            !(y1 < 0.0 && y0 > 0.0)
        };
        let highest_x = if transits { point.cos_dec } else { x0.max(x1) };
        self.sin_lat * point.sin_dec + self.cos_lat * highest_x
    }
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
        let ticks =
            std::iter::successors(Some(first), |t| Some(*t + STEP)).take_while(move |t| *t < w.end);
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
        let seen = &observe(&map, &Ranking::new(&map), from, &sites)[0];
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
        let ranking = Ranking::new(&map);
        let seen = &observe(&map, &ranking, from, &[site(28.76, -17.88)])[0];
        assert!(!seen.windows.is_empty());
        assert_eq!(seen.probability, 0.0);
        assert_eq!(seen.best.map(|b| b.1), Some(0.0));
        assert!(observe(&map, &ranking, from, &[]).is_empty());
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

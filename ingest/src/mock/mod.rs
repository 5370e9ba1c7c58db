//! Realistic mock LVK alerts, with no GCN account and no network: what a new
//! user or a plugin author needs to see the pipeline work in a second.
//!
//! Each mock event lives the life of a real one (PRELIMINARY, sometimes a second
//! PRELIMINARY, then INITIAL or a RETRACTION, sometimes an UPDATE), with current
//! times, `MS<yymmdd><letters>` ids, FAR, significance, instruments,
//! classification and properties, and a multi-order sky map built by
//! `skymap::synth`: a compact blob when three detectors saw it, a long arc when
//! two did; distance layers for CBC, none for bursts. The same seed gives the
//! same alerts, byte for byte, for the same `now`.
//!
//! `dossier` adds the other kinds of message a real event gathers.

pub mod dossier;

use std::path::Path;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use crate::skymap::synth::{self, angular_distance_deg, CardText, Distance, Layout};
use crate::skymap::{pixel_area_sr, DEG2_PER_SR};

/// The kind of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Cbc,
    Burst,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many alerts (events are generated until there are this many).
    pub count: usize,
    /// Only this group; both when `None`.
    pub group: Option<Group>,
    pub seed: u64,
    /// The time the alerts are generated at: every alert is in the 4 hours before.
    pub now: DateTime<Utc>,
}

/// What the generator meant the sky map to be, to check it against what the
/// import path computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Intended {
    pub ra: f64,
    pub dec: f64,
    /// The 90% area of the continuous density, integrated on a fine grid (deg²).
    pub area90: f64,
}

/// One generated alert message.
#[derive(Debug, Clone)]
pub struct MockAlert {
    pub superevent_id: String,
    pub alert_type: String,
    pub created: DateTime<Utc>,
    pub message: Vec<u8>,
    /// The map's shape; `None` for a retraction (it has no map).
    shape: Option<Shape>,
}

impl MockAlert {
    /// What the map was meant to be (an integral over 3 million pixels: only
    /// computed when asked for).
    pub fn intended(&self) -> Option<Intended> {
        self.shape.map(|s| s.intended())
    }

    /// Where the map is brightest (cheap, unlike `intended`).
    pub fn peak(&self) -> Option<(f64, f64)> {
        self.shape.map(|s| s.peak())
    }
}

/// The most rows a mock sky map has. LVK's maps have 10^4 to 10^5 (the
/// shared examples 17-19 thousand, 1 MB); a wide two-detector arc refined to
/// 0.1 deg would have 300 thousand and make a 14 MB message.
const MAX_PIXELS: usize = 40_000;

/// Generates the alerts, in the order they would arrive. FITS files are built
/// in `scratch` (a directory of ours: the tree's staging directory).
pub fn generate(options: &Options, scratch: &Path) -> std::io::Result<Vec<MockAlert>> {
    let mut rng = SplitMix64(options.seed);
    let mut alerts = Vec::new();
    let mut index = (options.seed.wrapping_mul(7919) % 17_576) as usize;
    while alerts.len() < options.count {
        let event = Event::random(&mut rng, options, index);
        for (alert_type, created, sharpness) in event.life(&mut rng) {
            if alerts.len() == options.count {
                break;
            }
            alerts.push(event.alert(alert_type, created, sharpness, scratch)?);
        }
        index += 1;
    }
    alerts.sort_by_key(|a| a.created);
    Ok(alerts)
}

/// The fixed parts of one mock event.
struct Event {
    id: String,
    group: Group,
    time: DateTime<Utc>,
    instruments: Vec<&'static str>,
    shape: Shape,
    distance: Option<Distance>,
    far: f64,
    classification: Value,
    properties: Value,
    retracted: bool,
    updated: bool,
    second_preliminary: bool,
}

/// The sky localisation: a blob (three detectors) or an arc (two).
#[derive(Debug, Clone, Copy)]
enum Shape {
    Blob {
        ra: f64,
        dec: f64,
        sigma: f64,
    },
    /// A ring of `radius` degrees around the axis (`ra`, `dec`), `width` wide,
    /// brightest towards the azimuth `phase` (radians).
    Arc {
        ra: f64,
        dec: f64,
        radius: f64,
        width: f64,
        phase: f64,
    },
}

impl Event {
    fn random(rng: &mut SplitMix64, options: &Options, index: usize) -> Event {
        let group = options.group.unwrap_or(if rng.uniform() < 0.8 {
            Group::Cbc
        } else {
            Group::Burst
        });
        let time = options.now - Duration::seconds(rng.range(3.0 * 3600.0, 4.0 * 3600.0) as i64);
        let three = rng.uniform() < 0.6;
        let (ra, dec) = rng.direction();
        let shape = if three {
            Shape::Blob {
                ra,
                dec,
                sigma: rng.range(1.5, 6.0),
            }
        } else {
            Shape::Arc {
                ra,
                dec,
                radius: rng.range(40.0, 80.0),
                width: rng.range(2.0, 5.0),
                phase: rng.range(0.0, std::f64::consts::TAU),
            }
        };
        let distance = (group == Group::Cbc).then(|| {
            let mu = rng.range(40.0, 400.0);
            Distance {
                mu,
                sigma: mu * rng.range(0.2, 0.35),
            }
        });
        let far = 10f64.powf(rng.range(-14.0, -7.0));
        let (classification, properties) = match group {
            Group::Cbc => (rng.classification(), rng.properties()),
            Group::Burst => (json!({}), json!({})),
        };
        Event {
            id: format!("MS{}{}", time.format("%y%m%d"), letters(index)),
            group,
            time,
            instruments: if three {
                vec!["H1", "L1", "V1"]
            } else {
                vec!["H1", "L1"]
            },
            shape,
            distance,
            far,
            classification,
            properties,
            retracted: rng.uniform() < 0.15,
            updated: rng.uniform() < 0.3,
            second_preliminary: rng.uniform() < 0.5,
        }
    }

    /// The alerts of the event's life: type, creation time, and how sharp its map
    /// is (preliminary maps are broader than later ones).
    fn life(&self, rng: &mut SplitMix64) -> Vec<(&'static str, DateTime<Utc>, f64)> {
        let after = |seconds: f64| self.time + Duration::milliseconds((seconds * 1000.0) as i64);
        let mut life = vec![("PRELIMINARY", after(rng.range(20.0, 60.0)), 1.5)];
        if self.second_preliminary {
            life.push(("PRELIMINARY", after(rng.range(120.0, 400.0)), 1.3));
        }
        if self.retracted {
            life.push(("RETRACTION", after(rng.range(900.0, 3600.0)), 1.0));
            return life;
        }
        life.push(("INITIAL", after(rng.range(900.0, 3600.0)), 1.0));
        if self.updated {
            life.push(("UPDATE", after(rng.range(4000.0, 10000.0)), 0.8));
        }
        life
    }

    fn significant(&self) -> bool {
        // LVK's thresholds: 1 per month for CBC, 1 per year for bursts.
        let per_year = 1.0 / (365.25 * 86400.0);
        match self.group {
            Group::Cbc => self.far < 12.0 * per_year,
            Group::Burst => self.far < per_year,
        }
    }

    fn alert(
        &self,
        alert_type: &str,
        created: DateTime<Utc>,
        sharpness: f64,
        scratch: &Path,
    ) -> std::io::Result<MockAlert> {
        let (event, shape) = if alert_type == "RETRACTION" {
            (Value::Null, None)
        } else {
            let shape = self.shape.scaled(sharpness);
            let fits = self.fits(shape, scratch)?;
            (self.event_json(&fits), Some(shape))
        };
        let message = json!({
            "alert_type": alert_type,
            "time_created": created.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "superevent_id": self.id,
            "urls": {"gracedb": format!("https://gracedb.ligo.org/superevents/{}/view/", self.id)},
            "event": event,
            "external_coinc": null,
        });
        Ok(MockAlert {
            superevent_id: self.id.clone(),
            alert_type: alert_type.to_string(),
            created,
            message: serde_json::to_vec_pretty(&message).map_err(std::io::Error::other)?,
            shape,
        })
    }

    fn event_json(&self, fits: &[u8]) -> Value {
        let (pipeline, search) = match self.group {
            Group::Cbc => ("gstlal", "AllSky"),
            Group::Burst => ("cWB", "AllSky"),
        };
        let mut event = json!({
            "significant": self.significant(),
            "time": self.time.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            "far": self.far,
            "instruments": self.instruments,
            "group": if self.group == Group::Cbc { "CBC" } else { "Burst" },
            "pipeline": pipeline,
            "search": search,
            "properties": self.properties,
            "classification": self.classification,
        });
        if self.group == Group::Burst {
            event["duration"] = json!(0.012);
            event["central_frequency"] = json!(240.5);
        }
        event["skymap"] = json!(base64::engine::general_purpose::STANDARD.encode(fits));
        event
    }

    fn fits(&self, shape: Shape, scratch: &Path) -> std::io::Result<Vec<u8>> {
        let layout = Layout {
            base_depth: 4,
            max_depth: shape.finest_depth(),
            refine_level: 0.99,
            max_pixels: MAX_PIXELS,
        };
        let pixels = synth::build(|ra, dec| shape.density(ra, dec), layout, self.distance);
        let creator = match self.group {
            Group::Cbc => "BAYESTAR",
            Group::Burst => "cWB_AllSky",
        };
        let mut cards = vec![
            ("OBJECT", CardText::Text(self.id.clone())),
            ("INSTRUME", CardText::Text(self.instruments.join(","))),
            (
                "DATE-OBS",
                CardText::Text(self.time.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
            ),
            ("CREATOR", CardText::Text(creator.into())),
            ("ORIGIN", CardText::Text("LIGO/Virgo/KAGRA".into())),
        ];
        if let Some(d) = self.distance {
            cards.push(("DISTMEAN", CardText::Real(d.mu)));
            cards.push(("DISTSTD", CardText::Real(d.sigma)));
        }
        std::fs::create_dir_all(scratch)?;
        let path = scratch.join(format!(".mock-{}-{}.fits", std::process::id(), self.id));
        let written = synth::write_fits(&path, &pixels, self.distance.is_some(), &cards);
        let bytes = written
            .map_err(std::io::Error::other)
            .and_then(|()| std::fs::read(&path));
        let _ = std::fs::remove_file(&path);
        bytes
    }
}

impl Shape {
    fn scaled(self, factor: f64) -> Shape {
        match self {
            Shape::Blob { ra, dec, sigma } => Shape::Blob {
                ra,
                dec,
                sigma: sigma * factor,
            },
            Shape::Arc {
                ra,
                dec,
                radius,
                width,
                phase,
            } => Shape::Arc {
                ra,
                dec,
                radius,
                width: width * factor,
                phase,
            },
        }
    }

    fn density(&self, ra: f64, dec: f64) -> f64 {
        match *self {
            Shape::Blob {
                ra: r0,
                dec: d0,
                sigma,
            } => synth::gaussian(r0, d0, sigma)(ra, dec),
            Shape::Arc {
                ra: r0,
                dec: d0,
                radius,
                width,
                phase,
            } => {
                let theta = angular_distance_deg(r0, d0, ra, dec);
                let azimuth = position_angle(r0, d0, ra, dec);
                (-0.5 * ((theta - radius) / width).powi(2)).exp()
                    * (1.5 * (azimuth - phase).cos()).exp()
            }
        }
    }

    /// Fine enough that the narrowest feature spans several pixels.
    fn finest_depth(&self) -> u8 {
        let scale = match *self {
            Shape::Blob { sigma, .. } => sigma,
            Shape::Arc { width, .. } => width,
        };
        // Level 8 pixels are 0.23° across, level 9 0.11°.
        if scale < 2.5 {
            9
        } else {
            8
        }
    }

    /// The most probable position and the 90% area of the continuous density,
    /// integrated on a uniform level-9 grid (3 million pixels of 0.013 deg²).
    fn peak(&self) -> (f64, f64) {
        match *self {
            Shape::Blob { ra, dec, .. } => (ra, dec),
            Shape::Arc {
                ra,
                dec,
                radius,
                phase,
                ..
            } => destination(ra, dec, radius, phase),
        }
    }

    fn intended(&self) -> Intended {
        let (ra, dec) = self.peak();
        let depth = 9;
        let mut densities: Vec<f64> = (0..12u64 << (2 * depth))
            .map(|ipix| {
                let (r, d) = crate::skymap::sky::pixel_center_deg(depth, ipix);
                self.density(r, d)
            })
            .collect();
        densities.sort_by(|a, b| b.total_cmp(a));
        let total: f64 = densities.iter().sum();
        let mut cumulative = 0.0;
        let inside = densities
            .iter()
            .take_while(|&&d| {
                cumulative += d;
                cumulative < 0.9 * total
            })
            .count();
        Intended {
            ra,
            dec,
            area90: inside as f64 * pixel_area_sr(depth) * DEG2_PER_SR,
        }
    }
}

/// The position angle (radians, east of north) of (ra, dec) seen from (ra0, dec0).
fn position_angle(ra0: f64, dec0: f64, ra: f64, dec: f64) -> f64 {
    let (ra0, dec0, ra, dec) = (
        ra0.to_radians(),
        dec0.to_radians(),
        ra.to_radians(),
        dec.to_radians(),
    );
    let y = (ra - ra0).sin() * dec.cos();
    let x = dec0.cos() * dec.sin() - dec0.sin() * dec.cos() * (ra - ra0).cos();
    y.atan2(x)
}

/// The point `distance` degrees from (ra, dec) at position angle `angle` (radians).
fn destination(ra: f64, dec: f64, distance: f64, angle: f64) -> (f64, f64) {
    let (ra, dec, d) = (ra.to_radians(), dec.to_radians(), distance.to_radians());
    let dec2 = (dec.sin() * d.cos() + dec.cos() * d.sin() * angle.cos()).asin();
    let ra2 = ra + (angle.sin() * d.sin() * dec.cos()).atan2(d.cos() - dec.sin() * dec2.sin());
    (ra2.to_degrees().rem_euclid(360.0), dec2.to_degrees())
}

/// `a`..`z`, `aa`..`zz`, `aaa`...: the letters GraceDB appends to the date.
fn letters(mut index: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A small, fixed pseudo-random generator: the same seed must give the same
/// alerts on every machine and every version, which `rand`'s StdRng does not promise.
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.uniform()
    }

    /// A direction uniform on the sphere, (RA, Dec) in degrees.
    fn direction(&mut self) -> (f64, f64) {
        let ra = self.range(0.0, 360.0);
        let dec = self.range(-1.0, 1.0).asin().to_degrees();
        (ra, dec)
    }

    fn classification(&mut self) -> Value {
        let weights: Vec<f64> = (0..4).map(|_| -self.uniform().max(1e-12).ln()).collect();
        let total: f64 = weights.iter().sum();
        let p: Vec<f64> = weights
            .iter()
            .map(|w| (w / total * 100.0).round() / 100.0)
            .collect();
        json!({"BNS": p[0], "NSBH": p[1], "BBH": p[2], "Terrestrial": p[3]})
    }

    fn properties(&mut self) -> Value {
        let has_ns = (self.uniform() * 100.0).round() / 100.0;
        json!({
            "HasNS": has_ns,
            "HasRemnant": (has_ns * self.uniform() * 100.0).round() / 100.0,
            "HasMassGap": (self.uniform() * 0.2 * 100.0).round() / 100.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(seed: u64, count: usize) -> Options {
        Options {
            count,
            group: None,
            seed,
            now: DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn ids_look_like_gracedbs() {
        assert_eq!(letters(0), "a");
        assert_eq!(letters(25), "z");
        assert_eq!(letters(26), "aa");
        assert_eq!(letters(27), "ab");
        assert_eq!(letters(26 + 26 * 26), "aaa");
    }

    #[test]
    fn the_same_seed_gives_the_same_alerts() {
        let dir = tempfile::tempdir().unwrap();
        let a = generate(&options(7, 4), dir.path()).unwrap();
        let b = generate(&options(7, 4), dir.path()).unwrap();
        let c = generate(&options(8, 4), dir.path()).unwrap();
        assert_eq!(a.len(), 4);
        assert!(a.iter().zip(&b).all(|(x, y)| x.message == y.message));
        assert!(a.iter().zip(&c).any(|(x, y)| x.message != y.message));
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "scratch files are removed"
        );
    }

    #[test]
    fn alerts_are_valid_lvk_alerts_of_an_events_life() {
        let dir = tempfile::tempdir().unwrap();
        let alerts = generate(&options(3, 12), dir.path()).unwrap();
        for alert in &alerts {
            let parsed = crate::alert::Alert::parse(&alert.message).unwrap();
            assert!(parsed.is_mock() && parsed.superevent_id.starts_with("MS261124"));
            assert_eq!(parsed.skymap().is_some(), !parsed.is_retraction());
            assert!(parsed.time_created < options(3, 1).now);
        }
        assert_eq!(alerts[0].alert_type, "PRELIMINARY");
    }

    #[test]
    fn arcs_point_where_they_are_brightest() {
        let shape = Shape::Arc {
            ra: 100.0,
            dec: 10.0,
            radius: 60.0,
            width: 3.0,
            phase: 1.0,
        };
        let peak = shape.intended();
        let at_peak = shape.density(peak.ra, peak.dec);
        let (r, d) = destination(100.0, 10.0, 60.0, 1.0 + 0.3);
        assert!(at_peak > shape.density(r, d));
        assert!((at_peak - 1.5f64.exp()).abs() < 1e-9);
    }
}

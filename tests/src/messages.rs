//! Synthetic LVK alert messages for tests and benchmarks: sky maps made by
//! `skymap::synth` (a Gaussian spot, a chosen layout and distance), wrapped
//! in the alert JSON of docs/contracts.md.

use base64::Engine;
use gocart_ingest::skymap::synth::{self, CardText, Distance, Layout};
use serde_json::{json, Value};

/// How to make a synthetic sky map.
#[derive(Clone)]
pub struct MapSpec {
    pub ra: f64,
    pub dec: f64,
    pub sigma: f64,
    pub distance: Option<Distance>,
    pub creator: String,
    pub layout: Layout,
}

impl Default for MapSpec {
    fn default() -> Self {
        MapSpec {
            ra: 120.0,
            dec: -30.0,
            sigma: 4.0,
            distance: Some(Distance {
                mu: 250.0,
                sigma: 60.0,
            }),
            creator: "BAYESTAR".into(),
            layout: Layout {
                base_depth: 4,
                max_depth: 8,
                refine_level: 0.99,
                ..Layout::default()
            },
        }
    }
}

/// FITS bytes of a synthetic map.
pub fn fits_bytes(spec: &MapSpec) -> Vec<u8> {
    let pixels = synth::build(
        synth::gaussian(spec.ra, spec.dec, spec.sigma),
        spec.layout,
        spec.distance,
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("map.fits");
    let mut cards = vec![
        ("CREATOR", CardText::Text(spec.creator.clone())),
        (
            "DATE-OBS",
            CardText::Text("2023-04-24T00:01:00.500000".into()),
        ),
    ];
    if let Some(d) = spec.distance {
        cards.push(("DISTMEAN", CardText::Real(d.mu)));
        cards.push(("DISTSTD", CardText::Real(d.sigma)));
    }
    synth::write_fits(&path, &pixels, spec.distance.is_some(), &cards).unwrap();
    std::fs::read(path).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An LVK-format alert as a JSON value; `map` is the base64 sky map or null.
pub fn alert_json(id: &str, alert_type: &str, created: &str, map: Option<&[u8]>) -> Value {
    json!({
        "alert_type": alert_type,
        "time_created": created,
        "superevent_id": id,
        "urls": {"gracedb": format!("https://example.org/superevents/{id}/view/")},
        "event": if alert_type == "RETRACTION" { Value::Null } else { json!({
            "significant": true,
            "time": "2023-04-24T00:01:00.5Z",
            "far": 3.2e-10,
            "instruments": ["H1", "L1", "V1"],
            "group": "CBC",
            "pipeline": "gstlal",
            "search": "AllSky",
            "properties": {"HasNS": 0.8, "HasRemnant": 0.4, "HasMassGap": 0.0},
            "classification": {"BNS": 0.7, "NSBH": 0.1, "BBH": 0.15, "Terrestrial": 0.05},
            "skymap": map.map(b64),
        })},
        "external_coinc": null,
    })
}

pub fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap()
}

/// A synthetic CBC alert with a default map.
pub fn synthetic_alert(id: &str, alert_type: &str, created: &str) -> Vec<u8> {
    to_bytes(&alert_json(
        id,
        alert_type,
        created,
        Some(&fits_bytes(&MapSpec::default())),
    ))
}

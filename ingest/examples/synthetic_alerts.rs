//! Writes a handful of LVK-format alert messages, with sky maps made by the
//! project's own code, into a directory: the input of the README's demo.
//!
//! Usage: synthetic_alerts OUT_DIR

use base64::Engine;
use chrono::{Duration, Utc};
use gocart_ingest::skymap::synth::{self, CardText, Distance, Layout};
use serde_json::json;

fn main() -> anyhow::Result<()> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "alerts".into()));
    std::fs::create_dir_all(&out)?;
    let now = Utc::now();
    let day = now.format("%y%m%d");
    let events = [
        // A well-localised BNS seen by three detectors.
        (
            format!("MS{day}a"),
            "CBC",
            201.4,
            -43.0,
            2.5,
            Some(Distance {
                mu: 180.0,
                sigma: 40.0,
            }),
        ),
        // A burst with a broad two-detector localisation and no distance.
        (format!("MS{day}b"), "Burst", 75.0, 20.0, 12.0, None),
    ];
    let mut n = 0;
    for (id, group, ra, dec, sigma, distance) in events {
        let detected = now - Duration::minutes(30);
        for (k, alert_type) in ["PRELIMINARY", "INITIAL"].iter().enumerate() {
            let created = detected + Duration::minutes(1 + 10 * k as i64);
            let pixels = synth::build(synth::gaussian(ra, dec, sigma), Layout::default(), distance);
            let map_path = out.join(".map.fits");
            let mut cards = vec![
                (
                    "CREATOR",
                    CardText::Text(
                        if group == "CBC" {
                            "BAYESTAR"
                        } else {
                            "ligo-skymap-from-samples"
                        }
                        .into(),
                    ),
                ),
                ("OBJECT", CardText::Text(id.clone())),
                (
                    "DATE-OBS",
                    CardText::Text(detected.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()),
                ),
                ("INSTRUME", CardText::Text("H1,L1,V1".into())),
            ];
            if let Some(d) = distance {
                cards.push(("DISTMEAN", CardText::Real(d.mu)));
                cards.push(("DISTSTD", CardText::Real(d.sigma)));
            }
            synth::write_fits(&map_path, &pixels, distance.is_some(), &cards)?;
            let skymap =
                base64::engine::general_purpose::STANDARD.encode(std::fs::read(&map_path)?);
            std::fs::remove_file(&map_path)?;
            let message = json!({
                "alert_type": alert_type,
                "time_created": created.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "superevent_id": id,
                "urls": {"gracedb": format!("https://example.org/superevents/{id}/view/")},
                "event": {
                    "significant": group == "CBC",
                    "time": detected.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
                    "far": if group == "CBC" { 2.1e-11 } else { 4.5e-8 },
                    "instruments": ["H1", "L1", "V1"],
                    "group": group,
                    "pipeline": if group == "CBC" { "gstlal" } else { "oLIB" },
                    "search": "AllSky",
                    "properties": if group == "CBC" { json!({"HasNS": 0.97, "HasRemnant": 0.86, "HasMassGap": 0.02}) } else { json!({}) },
                    "classification": if group == "CBC" { json!({"BNS": 0.92, "NSBH": 0.05, "BBH": 0.0, "Terrestrial": 0.03}) } else { json!({}) },
                    "skymap": skymap,
                },
                "external_coinc": null,
            });
            n += 1;
            std::fs::write(
                out.join(format!("{n:02}-{id}-{}.json", alert_type.to_lowercase())),
                serde_json::to_vec_pretty(&message)?,
            )?;
        }
    }
    println!("wrote {n} alerts to {}", out.display());
    Ok(())
}

//! Synthetic GCN messages of the dossier's kinds (icecube, circular, boom,
//! einstein_probe, swift_guano), shaped as the gcn-schema examples are, with
//! the fields a test varies as arguments; and the examples themselves.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::messages::b64;

const SCHEMA: &str = "https://gcn.nasa.gov/schema/main/gcn";

/// The gcn-schema examples beside the checkout (`<alerts>/gcn/*.json`), in
/// name order; `None` when the shared alerts are absent (see `shared_alerts`).
pub fn examples(test: &str) -> Option<Vec<PathBuf>> {
    let dir = crate::shared_alerts(test)?.join("gcn");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Some(files)
}

/// IceCube's search around `superevent`: `hits` coincident neutrinos around
/// (ra, dec), the first the most significant.
pub fn icecube(superevent: &str, created: &str, pvals: (f64, f64), hits: usize) -> Value {
    let (ra, dec) = (17.49, 16.18);
    let events: Vec<Value> = (0..hits)
        .map(|i| {
            json!({
                "event_dt": 12.9 + 100.0 * i as f64,
                "localization": {"ra": ra + i as f64, "dec": dec - i as f64, "ra_dec_error": 0.5 + i as f64,
                                 "containment_probability": 0.9, "systematic_included": false},
                "id": [format!("138590_{}", 39138551 + i)],
                "event_pval_generic": pvals.0 * (1.0 + i as f64),
                "event_pval_bayesian": null,
            })
        })
        .collect();
    let mut message = json!({
        "$schema": format!("{SCHEMA}/notices/icecube/lvk_nu_track_search.schema.json"),
        "type": "IceCube LVK Alert Nu Track Search",
        "reference": {"gcn.notices.LVK.alert": format!("{superevent}-2-Preliminary")},
        "ref_ID": superevent,
        "alert_datetime": created,
        "trigger_time": created,
        "observation_livetime": 1000,
        "pval_generic": pvals.0,
        "pval_bayesian": pvals.1,
        "n_events_coincident": hits,
        "coincident_events": events,
        "neutrino_flux_sensitivity_range": {"flux_sensitivity": [0.0277, 0.647], "sensitive_energy_range": [542, 23000000]},
    });
    if hits > 0 {
        message["most_probable_direction"] = json!({"ra": ra, "dec": dec});
    }
    message
}

/// A circular with `subject` (and `eventId` if given), created at `created_ms`.
pub fn circular(id: u64, subject: &str, event_id: Option<&str>, created_ms: i64) -> Value {
    let mut message = json!({
        "$schema": format!("{SCHEMA}/circulars.schema.json"),
        "subject": subject,
        "submitter": "A. Astronomer at Somewhere <a@example.org>",
        "submittedHow": "web",
        "circularId": id,
        "format": "text/plain",
        "body": format!("{subject}\n\nWe report observations of the field."),
        "createdOn": created_ms,
    });
    if let Some(event) = event_id {
        message["eventId"] = json!(event);
    }
    message
}

/// A BOOM alert; each target is (event_name, ra, dec, crossmatched ids).
pub fn boom(created: &str, targets: &[(&str, f64, f64, &[&str])]) -> Value {
    let targets: Vec<Value> = targets
        .iter()
        .map(|(name, ra, dec, refs)| {
            let matches: Vec<Value> = refs
                .iter()
                .map(|r| json!({"ref_type": "GW", "ref_instrument": "LVK", "ref_ID": r}))
                .collect();
            json!({"event_name": name, "ra": ra, "dec": dec,
                   "classification_scores": {"Type II": 0.9, "Type Ia": 0.1},
                   "gcn_crossmatch": matches})
        })
        .collect();
    json!({
        "$schema": format!("{SCHEMA}/notices/boom/alert.schema.json"),
        "alert_datetime": created,
        "mission": "Boom",
        "data": {"targets": targets, "photometry": []},
    })
}

/// An Einstein Probe WXT alert at (ra, dec) with an error radius.
pub fn einstein_probe(id: &str, trigger_time: &str, ra: f64, dec: f64, error: f64) -> Value {
    json!({
        "$schema": format!("{SCHEMA}/notices/einstein_probe/wxt/alert.schema.json"),
        "instrument": "WXT",
        "trigger_time": trigger_time,
        "id": [id],
        "ra": ra,
        "dec": dec,
        "ra_dec_error": error,
        "image_energy_range": [0.5, 4],
        "net_count_rate": 1.5,
        "image_snr": 9.2,
    })
}

/// A Swift BAT-GUANO notice: an error circle, a HEALPix FITS file, or neither.
pub fn swift_guano(
    id: &str,
    alert_type: &str,
    created: &str,
    circle: Option<(f64, f64, f64)>,
    healpix: Option<&[u8]>,
) -> Value {
    let mut message = json!({
        "$schema": format!("{SCHEMA}/notices/swift/bat/Guano.schema.json"),
        "mission": "Swift",
        "instrument": "BAT-GUANO",
        "messenger": "EM",
        "record_number": 1,
        "alert_datetime": created,
        "alert_tense": "current",
        "alert_type": alert_type,
        "trigger_time": created,
        "rate_snr": 15.8,
        "rate_duration": 0.256,
        "classification": {"GRB": 1},
        "far": 0.00001,
        "follow_up_event": "S230518h",
        "follow_up_type": "GW",
        "id": [id],
    });
    if let Some((ra, dec, error)) = circle {
        message["ra"] = json!(ra);
        message["dec"] = json!(dec);
        message["ra_dec_error"] = json!(error);
    }
    if let Some(fits) = healpix {
        message["healpix_file"] = json!(b64(fits));
    }
    message
}

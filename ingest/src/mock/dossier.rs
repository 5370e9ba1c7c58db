//! The rest of a mock event's dossier: what GCN publishes around a real
//! event, linked to the mock superevents `mock` makes. Each event gets an
//! IceCube search a few minutes after its first alert and a circular within
//! the hour, sometimes a BOOM candidate near the map's peak; some events are
//! followed by a Swift GUANO notice or have an Einstein Probe transient
//! nearby. The message builders are those of the tests too (gocart-tests).

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::{MockAlert, SplitMix64};
use gocart_shared::Kind;

const SCHEMA: &str = "https://gcn.nasa.gov/schema/main/gcn";

/// One generated notice.
#[derive(Debug, Clone)]
pub struct MockNotice {
    pub kind: Kind,
    /// The superevent or transient it is about (its Kafka key).
    pub key: String,
    pub created: DateTime<Utc>,
    pub message: Vec<u8>,
}

/// The notices of the events of `alerts` (the same seed, the same notices).
pub fn generate(alerts: &[MockAlert], seed: u64) -> Vec<MockNotice> {
    let mut rng = SplitMix64(seed ^ 0x5eed_d055_1e55);
    let mut notices = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for alert in alerts {
        if seen.contains(&alert.superevent_id.as_str()) {
            continue;
        }
        seen.push(&alert.superevent_id);
        let Some((ra, dec)) = alert.peak() else {
            continue;
        };
        event_notices(alert, ra, dec, &mut rng, &mut notices);
    }
    notices.sort_by_key(|n| n.created);
    notices
}

fn event_notices(
    alert: &MockAlert,
    ra: f64,
    dec: f64,
    rng: &mut SplitMix64,
    out: &mut Vec<MockNotice>,
) {
    let id = alert.superevent_id.as_str();
    let at = |minutes: f64| alert.created + Duration::seconds((minutes * 60.0) as i64);
    let text = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let mut push = |kind, key: &str, created, message: Value| {
        out.push(MockNotice {
            kind,
            key: key.to_string(),
            created,
            message: serde_json::to_vec_pretty(&message).unwrap_or_default(),
        })
    };
    let searched = at(rng.range(3.0, 10.0));
    let hits = (rng.next() % 3) as usize;
    let pvals = (rng.range(0.005, 1.0), rng.range(0.01, 1.0));
    push(
        Kind::Icecube,
        id,
        searched,
        icecube_near(id, &text(searched), pvals, hits, (ra, dec)),
    );
    let written = at(rng.range(20.0, 60.0));
    let number = 40_000 + rng.next() % 10_000;
    let subject =
        format!("LIGO/Virgo/KAGRA {id}: Identification of a GW compact binary merger candidate");
    push(
        Kind::Circular,
        id,
        written,
        circular(number, &subject, Some(id), written.timestamp_millis()),
    );
    if rng.uniform() < 0.4 {
        let found = at(rng.range(120.0, 600.0));
        let name = format!("ZTF{}{}", found.format("%y"), letters(rng.next(), 7));
        let (tra, tdec) = (ra + rng.range(-1.0, 1.0), dec + rng.range(-1.0, 1.0));
        push(
            Kind::Boom,
            id,
            found,
            boom(
                &text(found),
                &[(&name, tra, tdec.clamp(-90.0, 90.0), &[id])],
            ),
        );
    }
    if rng.uniform() < 0.3 {
        let trigger = (rng.next() % 1_000_000_000).to_string();
        let sent = at(rng.range(30.0, 90.0));
        let circle = (ra, dec, rng.range(0.05, 0.5));
        push(
            Kind::SwiftGuano,
            &trigger,
            sent,
            swift_guano(&trigger, "initial", &text(sent), Some(circle), None),
        );
    }
    if rng.uniform() < 0.2 {
        let trigger = format!("0{}", 1_700_000_000 + rng.next() % 99_999_999);
        let seen = at(rng.range(60.0, 180.0));
        let (era, edec) = (ra + rng.range(-2.0, 2.0), dec + rng.range(-2.0, 2.0));
        push(
            Kind::EinsteinProbe,
            &trigger,
            seen,
            einstein_probe(
                &trigger,
                &text(seen),
                era.rem_euclid(360.0),
                edec.clamp(-90.0, 90.0),
                0.05,
            ),
        );
    }
}

fn letters(mut n: u64, len: usize) -> String {
    (0..len)
        .map(|_| {
            let c = (b'a' + (n % 26) as u8) as char;
            n /= 26;
            c
        })
        .collect()
}

/// IceCube's search around `superevent`: `hits` coincident neutrinos around
/// (ra, dec), the first the most significant.
pub fn icecube(superevent: &str, created: &str, pvals: (f64, f64), hits: usize) -> Value {
    icecube_near(superevent, created, pvals, hits, (17.49, 16.18))
}

fn icecube_near(
    superevent: &str,
    created: &str,
    pvals: (f64, f64),
    hits: usize,
    (ra, dec): (f64, f64),
) -> Value {
    let events: Vec<Value> = (0..hits)
        .map(|i| {
            let step = i as f64;
            json!({
                "event_dt": 12.9 + 100.0 * step,
                "localization": {"ra": (ra + step).rem_euclid(360.0), "dec": (dec - step).clamp(-90.0, 90.0),
                                 "ra_dec_error": 0.5 + step, "containment_probability": 0.9,
                                 "systematic_included": false},
                "id": [format!("138590_{}", 39_138_551 + i)],
                "event_pval_generic": pvals.0 * (1.0 + step),
                "event_pval_bayesian": null,
            })
        })
        .collect();
    let mut message = json!({
        "$schema": format!("{SCHEMA}/notices/icecube/lvk_nu_track_search.schema.json"),
        "type": "IceCube LVK Alert Nu Track Search",
        "reference": {"gcn.notices.LVK.alert": format!("{superevent}-1-Preliminary")},
        "ref_ID": superevent,
        "alert_datetime": created,
        "trigger_time": created,
        "observation_livetime": 1000,
        "pval_generic": pvals.0,
        "pval_bayesian": pvals.1,
        "n_events_coincident": hits,
        "coincident_events": events,
        "neutrino_flux_sensitivity_range": {"flux_sensitivity": [0.0277, 0.647],
                                            "sensitive_energy_range": [542, 23_000_000]},
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

/// A Swift BAT-GUANO notice: an error circle, a HEALPix FITS file (its
/// bytes, base64-encoded here), or neither.
pub fn swift_guano(
    id: &str,
    alert_type: &str,
    created: &str,
    circle: Option<(f64, f64, f64)>,
    healpix: Option<&[u8]>,
) -> Value {
    use base64::Engine;
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
        message["healpix_file"] = json!(base64::engine::general_purpose::STANDARD.encode(fits));
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::notice::{recognise, Notice};

    #[test]
    fn every_event_gets_a_search_and_a_circular_and_all_parse() {
        let options = super::super::Options {
            count: 12,
            group: None,
            seed: 9,
            now: Utc::now(),
        };
        let scratch = tempfile::tempdir().unwrap();
        let alerts = super::super::generate(&options, scratch.path()).unwrap();
        let events: std::collections::BTreeSet<&str> =
            alerts.iter().map(|a| a.superevent_id.as_str()).collect();
        let notices = generate(&alerts, 9);
        for kind in [Kind::Icecube, Kind::Circular] {
            assert_eq!(
                notices.iter().filter(|n| n.kind == kind).count(),
                events.len()
            );
        }
        for n in &notices {
            assert_eq!(recognise(&n.message).unwrap(), n.kind);
            let notice = Notice::parse(n.kind, &n.message).unwrap();
            assert!(
                notice.missing.is_empty(),
                "{:?}: {:?}",
                n.kind,
                notice.missing
            );
        }
        let again = generate(&alerts, 9);
        assert!(again
            .iter()
            .zip(&notices)
            .all(|(a, b)| a.message == b.message));
    }
}

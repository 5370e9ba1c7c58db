//! What the trigger reads of an alert directory's `meta.yaml`: the document
//! itself (for `serve`), and the facts a plugin's filters judge
//! (docs/contracts.md, "Per-plugin settings"). The ingester wrote the file;
//! the trigger never parses the message itself.
//!
//! An LVK directory's facts come from the keys the original wrote (`ALERT`,
//! `HEADER`, `EXTRA.area90`); every other kind's from its `EXTRA`. A fact
//! the file lacks (or a file that cannot be read) is absent, and a criterion
//! on an absent fact does not fail.

use std::path::Path;

use gocart_shared::filter::Facts;
use gocart_shared::{Kind, Marker, MARKER_NAME};
use serde_json::Value;

/// `meta.yaml` of an alert directory, as a JSON value.
pub fn read_meta(dir: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(dir.join("meta.yaml"))
        .map_err(|e| format!("cannot read meta.yaml: {e}"))?;
    serde_saphyr::from_str(&text).map_err(|e| format!("meta.yaml is not valid YAML: {e}"))
}

/// The facts of the directory `dir`, whose marker is `marker`.
pub fn facts(dir: &Path, marker: &Marker) -> Facts {
    let meta = read_meta(dir).unwrap_or_else(|problem| {
        tracing::warn!(
            "{}: {problem}; its plugins' filters judge it without it",
            dir.display()
        );
        Value::Null
    });
    match marker.kind {
        Kind::Lvk => lvk_facts(&meta, dir, marker),
        _ => extra_facts(&meta["EXTRA"]),
    }
}

/// An LVK alert: the message under `ALERT`, the map header, area90.
fn lvk_facts(meta: &Value, dir: &Path, marker: &Marker) -> Facts {
    let alert = &meta["ALERT"];
    let event = alert.get("event").filter(|e| e.is_object());
    let number = |value: &Value| value.as_f64();
    let of_event = |key: &str| event.and_then(|e| e.get(key));
    let classification = of_event("classification").and_then(Value::as_object);
    let properties = of_event("properties");
    Facts {
        alert_type: Some(
            alert["alert_type"]
                .as_str()
                .unwrap_or(&marker.alert_type)
                .to_string(),
        ),
        ns: classification.filter(|c| !c.is_empty()).map(|c| {
            ["BNS", "NSBH"]
                .iter()
                .filter_map(|k| c.get(*k).and_then(number))
                .sum()
        }),
        far: of_event("far").and_then(number),
        dist: number(&meta["HEADER"]["DISTMEAN"]),
        area90: number(&meta["EXTRA"]["area90"]),
        hasns: properties.and_then(|p| number(&p["HasNS"])),
        hasremnant: properties.and_then(|p| number(&p["HasRemnant"])),
        event_dir_exists: Some(earlier_lvk_dir_exists(dir)),
        burst: event.map(|e| {
            e["group"]
                .as_str()
                .is_some_and(|g| g.eq_ignore_ascii_case("burst"))
        }),
        significant: of_event("significant").and_then(Value::as_bool),
        pval_bayesian: None,
        pval_generic: None,
    }
}

/// Any other kind: what its `EXTRA` says (docs/contracts.md, "Kinds").
fn extra_facts(extra: &Value) -> Facts {
    Facts {
        alert_type: extra["alert_type"].as_str().map(str::to_string),
        far: extra["far"].as_f64(),
        event_dir_exists: extra["superevent_dir_exists"].as_bool(),
        pval_bayesian: extra["pval_bayesian"].as_f64(),
        pval_generic: extra["pval_generic"].as_f64(),
        ..Facts::default()
    }
}

/// Whether the event's folder holds a complete LVK directory written before
/// this one (directory names begin with the alert's time, so they sort by it).
fn earlier_lvk_dir_exists(dir: &Path) -> bool {
    let (Some(folder), Some(own)) = (dir.parent(), dir.file_name()) else {
        return false;
    };
    gocart_shared::tree::visible_subdirs(folder)
        .iter()
        .filter(|other| other.file_name().is_some_and(|name| name < own))
        .filter(|other| other.join(MARKER_NAME).is_file())
        .any(|other| Marker::read(other).is_ok_and(|m| m.kind == Kind::Lvk))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(kind: Kind) -> Marker {
        Marker {
            kind,
            superevent_id: "MS1".into(),
            alert_type: "INITIAL".into(),
            time_created: String::new(),
            source: gocart_shared::Source::Mock { mock: 1 },
            written_at: String::new(),
            message_sha256: String::new(),
            files: Vec::new(),
        }
    }

    fn dir_with(meta: &str, name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("MS1").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("meta.yaml"), meta).unwrap();
        (tmp, dir)
    }

    #[test]
    fn an_lvk_directory_is_judged_by_the_original_keys() {
        let meta = "HEADER: {DISTMEAN: 151.6}\nALERT:\n  alert_type: INITIAL\n  event:\n    significant: true\n    far: 9.1e-14\n    group: Burst\n    properties: {HasNS: 1.0, HasRemnant: 0.5}\n    classification: {BNS: 0.7, NSBH: 0.1, BBH: 0.2}\nEXTRA: {area90: 728.087}\n";
        let (_tmp, dir) = dir_with(meta, "20230425T220212_initial");
        let facts = facts(&dir, &marker(Kind::Lvk));
        assert_eq!(
            facts,
            Facts {
                alert_type: Some("INITIAL".into()),
                ns: Some(0.7 + 0.1),
                far: Some(9.1e-14),
                dist: Some(151.6),
                area90: Some(728.087),
                hasns: Some(1.0),
                hasremnant: Some(0.5),
                event_dir_exists: Some(false),
                burst: Some(true),
                significant: Some(true),
                pval_bayesian: None,
                pval_generic: None,
            }
        );
    }

    #[test]
    fn an_earlier_lvk_directory_of_the_event_counts_and_other_kinds_do_not() {
        let (tmp, dir) = dir_with("ALERT: {alert_type: UPDATE}\n", "20230425T230000_update");
        let folder = tmp.path().join("MS1");
        let earlier = |name: &str, kind: Kind| {
            let d = folder.join(name);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(MARKER_NAME), marker(kind).to_json()).unwrap();
        };
        earlier("20230425T220000_icecube", Kind::Icecube);
        earlier("20230426T000000_update", Kind::Lvk);
        assert_eq!(
            facts(&dir, &marker(Kind::Lvk)).event_dir_exists,
            Some(false)
        );
        earlier("20230425T215000_preliminary", Kind::Lvk);
        assert_eq!(facts(&dir, &marker(Kind::Lvk)).event_dir_exists, Some(true));
    }

    #[test]
    fn other_kinds_are_judged_by_their_extra_and_missing_is_absent() {
        let meta = "KIND: icecube\nNOTICE: {}\nEXTRA:\n  superevent_id: S230914ak\n  superevent_dir_exists: true\n  pval_generic: 0.0335\n  pval_bayesian: 0.0\n";
        let (_tmp, dir) = dir_with(meta, "20230914T120000_icecube");
        let facts = facts(&dir, &marker(Kind::Icecube));
        assert_eq!(
            facts,
            Facts {
                event_dir_exists: Some(true),
                pval_generic: Some(0.0335),
                pval_bayesian: Some(0.0),
                ..Facts::default()
            }
        );
        let guano = "KIND: swift_guano\nEXTRA: {alert_type: subthreshold, far: 0.001}\n";
        let (_tmp, dir) = dir_with(guano, "x_subthreshold");
        let facts = super::facts(&dir, &marker(Kind::SwiftGuano));
        assert_eq!(facts.alert_type.as_deref(), Some("subthreshold"));
        assert_eq!(facts.far, Some(0.001));
        let (_tmp, dir) = dir_with("{{{ not yaml", "y_icecube");
        assert_eq!(super::facts(&dir, &marker(Kind::Icecube)), Facts::default());
    }
}

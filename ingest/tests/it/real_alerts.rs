//! The 53 real LVK alerts of `../shared/alerts/lvk`, imported as a user would:
//! the directories, the numbers of the LVK user guide, the tables, the saved JSON.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use common::{Csv, Env};
use gocart_ingest::skymap::{read_skymap, SkyMap};
use serde_json::Value;

fn meta(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("meta.yaml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// The event's own map in an alert directory (not the combined one).
pub(crate) fn map_file(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.to_string_lossy().ends_with(".multiorder.fits")
                && !p.ends_with("combined.multiorder.fits")
        })
}

/// Imports every shared alert once; the directories keyed by `<id>/<dir name>`.
fn import_all(test: &str) -> Option<(Env, BTreeMap<String, PathBuf>)> {
    let files = gocart_tests::shared_alert_files(test)?;
    let env = Env::new("  json: true\n");
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    env.import(&paths)
        .assert_status(0)
        .assert_says("53 alerts: 53 written");
    let dirs = env
        .alert_dirs()
        .into_iter()
        .map(|d| {
            let key = format!(
                "{}/{}",
                d.parent().unwrap().file_name().unwrap().to_string_lossy(),
                d.file_name().unwrap().to_string_lossy()
            );
            (key, d)
        })
        .collect();
    Some((env, dirs))
}

#[test]
fn every_real_alert_becomes_a_complete_directory() {
    let Some((_env, dirs)) = import_all("every_real_alert_becomes_a_complete_directory") else {
        return;
    };
    assert_eq!(dirs.len(), 53);
    let with_map = dirs.values().filter(|d| map_file(d).is_some()).count();
    let retractions = dirs.keys().filter(|k| k.ends_with("_retraction")).count();
    // The shared set holds 15 RETRACTION messages (each after an earlier alert of
    // its event, so all are written) and 38 alerts with a sky map.
    assert_eq!((with_map, retractions), (38, 15));
    for dir in dirs.values() {
        let marker = gocart_shared::Marker::read_checked(dir).unwrap();
        let meta = meta(dir);
        assert_eq!(
            meta["ALERT"]["superevent_id"],
            marker.superevent_id.as_str()
        );
        if map_file(dir).is_some() {
            assert!(dir.join("skymap.csv").is_file(), "{}", dir.display());
            assert!(meta["EXTRA"]["area90"].as_f64().unwrap() > 0.0);
        } else {
            assert_eq!(meta["HEADER"], serde_json::json!({}));
        }
    }
}

/// The values of the issue, from the LVK user guide's method (astropy/healpy).
#[test]
fn areas_and_central_coordinates_match_the_lvk_user_guide() {
    let Some((_env, dirs)) = import_all("areas_and_central_coordinates_match_the_lvk_user_guide")
    else {
        return;
    };
    let expected = [
        (
            "MS181101ab/20181101T223449_preliminary",
            [30.975, 8.898, 1.367],
            "194.304199 -17.856895",
            Some("304.876573 44.993031"),
        ),
        (
            "MS230426e/",
            [150.968, 9.806, 1.047],
            "66.577381 -54.916333",
            Some("263.982316 -42.519996"),
        ),
        (
            "MS230426b/",
            [1322.727, 446.871, 75.851],
            "1.536585 -51.836417",
            None,
        ),
        (
            "S230528ay/",
            [96.624, 29.624, 4.629],
            "358.945312 -31.957960",
            None,
        ),
        (
            "MS230425j/20230425T100212_initial",
            [737.319, 242.608, 33.939],
            "118.084337 -51.352647",
            None,
        ),
    ];
    for (key, areas, equatorial, galactic) in expected {
        let dir = dirs
            .iter()
            .find(|(k, _)| k.starts_with(key) && (key.contains('_') || k.ends_with("_preliminary")))
            .unwrap_or_else(|| panic!("no directory {key}"))
            .1;
        let extra = &meta(dir)["EXTRA"];
        for (name, value) in ["area90", "area50", "area10"].iter().zip(areas) {
            assert_eq!(extra[name].as_f64().unwrap(), value, "{key} {name}");
        }
        assert_eq!(
            extra["central coordinate"]["equatorial"], equatorial,
            "{key}"
        );
        if let Some(g) = galactic {
            assert_eq!(extra["central coordinate"]["galactic"], g, "{key}");
        }
    }
}

/// Every real map's CSV: complete, probability conserved, a distance on every
/// row a map pixel with a distance covers.
#[test]
fn every_real_skymap_csv_is_complete_and_keeps_distances() {
    let Some((_env, dirs)) = import_all("every_real_skymap_csv_is_complete_and_keeps_distances")
    else {
        return;
    };
    for dir in dirs.values() {
        let Some(fits) = map_file(dir) else { continue };
        let map = read_skymap(&fits).unwrap();
        let csv = Csv::read(&dir.join("skymap.csv"));
        assert_eq!(csv.rows.len(), 12 * 64 * 64, "{}", dir.display());
        let total: f64 = csv.column("PROB").iter().sum();
        assert!(
            (total - map.total_prob()).abs() < 1e-9,
            "{}: {total}",
            dir.display()
        );
        if map.has_distance {
            let covered = rows_with_distance(&map, 6);
            let finite: Vec<bool> = csv.column("DISTMU").iter().map(|x| x.is_finite()).collect();
            assert_eq!(finite, covered, "{}", dir.display());
        } else {
            assert!(!csv.columns.contains(&"DISTMU".to_string()));
        }
    }
}

/// Which rows at `depth` contain a map pixel with a finite DISTMU.
fn rows_with_distance(map: &SkyMap, depth: u8) -> Vec<bool> {
    let mut covered = vec![false; 12 << (2 * depth)];
    for p in map.pixels().iter().filter(|p| p.distmu.is_finite()) {
        if p.depth <= depth {
            let shift = 2 * (depth - p.depth);
            for r in (p.ipix << shift)..((p.ipix + 1) << shift) {
                covered[r as usize] = true;
            }
        } else {
            covered[(p.ipix >> (2 * (p.depth - depth))) as usize] = true;
        }
    }
    covered
}

#[test]
fn the_saved_json_is_the_message_as_received_and_external_coinc_is_kept() {
    let Some((_env, dirs)) = import_all("the_saved_json_is_the_message_as_received") else {
        return;
    };
    let data = gocart_tests::shared_alerts("the_saved_json")
        .unwrap()
        .join("lvk");
    let original = std::fs::read(data.join("MSBURST-initial.json")).unwrap();
    let dir = &dirs["MS230425j/20230425T100212_initial"];
    assert_eq!(
        std::fs::read(dir.join("MS230425j-initial.json")).unwrap(),
        original
    );
    let message: Value = serde_json::from_slice(&original).unwrap();
    let combined = base64::engine::general_purpose::STANDARD
        .decode(
            message["external_coinc"]["combined_skymap"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(
        std::fs::read(dir.join("combined.multiorder.fits")).unwrap(),
        combined
    );
    let meta = meta(dir);
    assert_eq!(meta["ALERT"]["external_coinc"]["observatory"], "Fermi");
    assert!(meta["ALERT"]["external_coinc"]
        .get("combined_skymap")
        .is_none());
    // No rounding: the classification keeps every digit it was sent with.
    assert_eq!(meta["ALERT"]["event"]["far"], message["event"]["far"]);
}

#[test]
fn an_olib_burst_map_is_named_after_its_pipeline_and_has_no_distance() {
    let Some((_env, dirs)) = import_all("an_olib_burst_map_is_named_after_its_pipeline") else {
        return;
    };
    let dir = dirs
        .iter()
        .find(|(k, _)| k.starts_with("S230528ay/"))
        .unwrap()
        .1;
    assert!(dir.join("olib.multiorder.fits").is_file());
    let csv = Csv::read(&dir.join("skymap.csv"));
    assert_eq!(csv.columns, ["IPIX", "PROB", "RA", "DEC", "GLON", "GLAT"]);
}

/// What a Python plugin reads from meta.yaml is what was sent.
#[test]
fn pyyaml_reads_meta_yaml_back_unchanged() {
    let Some((_env, dirs)) = import_all("pyyaml_reads_meta_yaml_back_unchanged") else {
        return;
    };
    for dir in dirs.values().step_by(5) {
        let seen = common::pyyaml_as_json(&dir.join("meta.yaml"));
        assert_eq!(seen, meta(dir), "{}", dir.display());
        let json = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .unwrap();
        let mut message: Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
        if let Some(event) = message["event"].as_object_mut() {
            event.shift_remove("skymap");
        }
        if let Some(ext) = message["external_coinc"].as_object_mut() {
            ext.shift_remove("combined_skymap");
        }
        assert_eq!(seen["ALERT"], message, "{}", dir.display());
    }
}

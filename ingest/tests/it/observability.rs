//! `EXTRA.observability` as the settings' `sites:` ask for it: checked against
//! astropy's `AltAz` (tests/products/check_observability.py) on real alerts
//! and on maps made to be hard (one that never rises from La Palma, one that
//! never rises from Cerro Pachón, the whole sky), from both hemispheres and
//! from a polar site with no dark time in April and a short day in November;
//! present only when sites are configured; and a bad site refused naming its
//! key.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{self, alert_json, fits_bytes, to_bytes, Env, MapSpec};
use serde_json::Value;

/// Real alerts whose maps lie all over the sky, in April, May and November.
const REAL: [&str; 5] = [
    "MS181101ab-preliminary.json",
    "MS230425j-preliminary.json",
    "MS230425s-preliminary.json",
    "MS230426e-preliminary.json",
    "S230528ay-preliminary.json",
];

/// La Palma (N), Cerro Pachón (S), and Ny-Ålesund at 78.9° N.
const SITES_YAML: &str = "sites:\n  - {name: La Palma, lat: 28.7606, lon: -17.8816, height: 2396}\n  - {name: Cerro Pachón, lat: -30.2406, lon: -70.7366, height: 2715}\n  - {name: Ny-Ålesund, lat: 78.92, lon: 11.93, height: 10}\n";

/// The same sites as the python side reads them.
const SITES_JSON: &str = r#"[{"name": "La Palma", "lat": 28.7606, "lon": -17.8816, "height": 2396},
 {"name": "Cerro Pachón", "lat": -30.2406, "lon": -70.7366, "height": 2715},
 {"name": "Ny-Ålesund", "lat": 78.92, "lon": 11.93, "height": 10}]"#;

fn env_with_sites() -> Env {
    Env::with_settings(&format!(
        "lvk:\n  parse_real_events: true\n  ascii_map: {{convert: false}}\n  aitoff: {{convert: false}}\n{SITES_YAML}"
    ))
}

fn extra(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("meta.yaml")).unwrap();
    serde_saphyr::from_str::<Value>(&text).unwrap()["EXTRA"].clone()
}

/// A map of one Gaussian spot, without distances, sent at `created`.
fn spot(id: &str, created: &str, ra: f64, dec: f64, sigma: f64) -> Vec<u8> {
    let spec = MapSpec {
        ra,
        dec,
        sigma,
        distance: None,
        ..MapSpec::default()
    };
    to_bytes(&alert_json(
        id,
        "PRELIMINARY",
        created,
        Some(&fits_bytes(&spec)),
    ))
}

/// The whole sky, evenly, sent at `created`.
fn whole_sky(id: &str, created: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sky.fits");
    let uniform = 1.0 / (4.0 * std::f64::consts::PI);
    let pixels: Vec<_> = (0..3072)
        .map(|i| gocart_ingest::skymap::Pixel::without_distance(4, i, uniform))
        .collect();
    gocart_ingest::skymap::synth::write_fits(&path, &pixels, false, &[]).unwrap();
    to_bytes(&alert_json(
        id,
        "PRELIMINARY",
        created,
        Some(&std::fs::read(path).unwrap()),
    ))
}

fn dir_of(env: &Env, id: &str) -> PathBuf {
    env.alert_dirs()
        .into_iter()
        .find(|d| d.to_string_lossy().contains(id))
        .unwrap_or_else(|| panic!("no directory for {id}"))
}

#[test]
#[ignore = "needs the python test env: scripts/test.sh runs it"]
fn observability_agrees_with_astropy_altaz() {
    let test = "observability_agrees_with_astropy_altaz";
    let (Some(python), Some(alerts)) = (
        gocart_tests::python_env(test),
        gocart_tests::shared_alerts(test),
    ) else {
        return;
    };
    let env = env_with_sites();
    let real: Vec<PathBuf> = REAL.iter().map(|f| alerts.join("lvk").join(f)).collect();
    let paths: Vec<&Path> = real.iter().map(PathBuf::as_path).collect();
    env.import(&paths).assert_status(0);
    env.import_messages(&[
        // Around the south celestial pole: below La Palma's horizon, and
        // rising and setting through 30° at Cerro Pachón.
        spot("MS230424s", "2023-04-24T00:02:04Z", 60.0, -78.0, 3.0),
        // Near the north celestial pole: never up at Cerro Pachón,
        // circumpolar at Ny-Ålesund (which has no dark time in April).
        spot("MS230424n", "2023-04-24T12:30:00Z", 200.0, 72.0, 4.0),
        whole_sky("MS230424w", "2023-04-24T18:00:00Z"),
    ])
    .assert_status(0);
    let dirs = env.alert_dirs();
    assert_eq!(dirs.len(), REAL.len() + 3, "{dirs:?}");

    let south = extra(&dir_of(&env, "MS230424s"))["observability"].clone();
    assert_eq!(south["La Palma"]["probability"], 0.0);
    assert!(south["Cerro Pachón"]["probability"].as_f64().unwrap() > 0.9);
    let north = extra(&dir_of(&env, "MS230424n"))["observability"].clone();
    assert_eq!(north["Cerro Pachón"]["probability"], 0.0);
    assert_eq!(north["Ny-Ålesund"]["windows"], serde_json::json!([]));
    assert_eq!(north["Ny-Ålesund"]["best_time"], Value::Null);

    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/products/check_observability.py");
    let out = Command::new(python)
        .arg(script)
        .arg(SITES_JSON)
        .args(&dirs)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "astropy disagrees");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("ok obs")).count(),
        3 * dirs.len()
    );
}

#[test]
fn observability_is_written_only_when_sites_are_configured() {
    let message = spot("MS230424a", "2023-04-24T00:02:04Z", 120.0, -30.0, 4.0);
    let without = Env::new("");
    without
        .import_messages(std::slice::from_ref(&message))
        .assert_status(0);
    let extra_without = extra(&without.alert_dirs()[0]);
    assert!(extra_without.get("observability").is_none());

    let with = env_with_sites();
    with.import_messages(&[message]).assert_status(0);
    let observability = extra(&with.alert_dirs()[0])["observability"].clone();
    let names: Vec<&str> = observability
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(names, ["La Palma", "Cerro Pachón", "Ny-Ålesund"]);
    let la_palma = &observability["La Palma"];
    for key in ["windows", "probability", "best_time", "best_probability"] {
        assert!(la_palma.get(key).is_some(), "{key}: {la_palma}");
    }
    // A time to the minute, which PyYAML reads as the string it is.
    let window = &la_palma["windows"][0];
    assert_eq!(window[0].as_str().unwrap().len(), "2023-04-24T20:41Z".len());
    let yaml = common::pyyaml_as_json(&with.alert_dirs()[0].join("meta.yaml"));
    assert_eq!(yaml["EXTRA"]["observability"], observability);
}

#[test]
fn a_site_out_of_range_or_not_a_number_is_a_settings_error_naming_its_key() {
    for (site, key) in [
        ("{name: La Palma, lat: 91, lon: -17.88}", "sites[0].lat"),
        (
            "{name: La Palma, lat: 28.76, lon: -17.88, height: high}",
            "sites[0].height",
        ),
    ] {
        let env = Env::with_settings(&format!("lvk:\n  download_dir: TREE\nsites:\n  - {site}\n"));
        // import stops with the settings error (2); check lists it as a
        // failed check (1), as it does every settings error.
        for (command, status) in [
            (&["import", "/nonexistent.json"][..], 2),
            (&["check"][..], 1),
        ] {
            let output = env.command().args(command).output().unwrap();
            let run = common::Run::from(output);
            run.assert_status(status);
            let said = format!("{}{}", run.stdout, run.stderr);
            assert!(said.contains(&format!("`{key}`")), "{command:?}: {said}");
        }
    }
}

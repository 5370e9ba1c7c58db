//! The import pipeline on alerts and sky maps generated here: what is written,
//! what is skipped and why, and the original gocart's defects, each fixed.

use crate::common;

use common::{alert_json, fits_bytes, to_bytes, Csv, Env, MapSpec};
use gocart_ingest::skymap::synth::Distance;
use gocart_shared::Marker;
use serde_json::{json, Value};

const CREATED: &str = "2023-04-24T00:02:04Z";

#[test]
fn a_synthetic_alert_becomes_a_complete_directory() {
    let env = Env::new("  json: true\n");
    let message = common::synthetic_alert("MS230424a", "PRELIMINARY", CREATED);
    env.import_messages(std::slice::from_ref(&message))
        .assert_status(0)
        .assert_says("WRITTEN");
    let dir = env
        .tree
        .join("mockevents/MS230424a/20230424T000204_preliminary");
    let marker = Marker::read_checked(&dir).unwrap();
    let names: Vec<&str> = marker.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "bayestar.multiorder.fits",
            "skymap.csv",
            "moc50.fits",
            "moc90.fits",
            "contours.geojson",
            "meta.yaml",
            "MS230424a-preliminary.json"
        ]
    );
    for f in &marker.files {
        let bytes = std::fs::read(dir.join(&f.name)).unwrap();
        assert_eq!(
            gocart_shared::marker::sha256_hex(&bytes),
            f.sha256,
            "{}",
            f.name
        );
    }
    assert_eq!(
        marker.message_sha256,
        gocart_shared::marker::sha256_hex(&message)
    );
    assert!(matches!(marker.source, gocart_shared::Source::File { .. }));
    let csv = Csv::read(&dir.join("skymap.csv"));
    assert_eq!(csv.comments, ["EVENT:MS230424a", "NSIDE:64"]);
    let total: f64 = csv.column("PROB").iter().sum();
    assert!((total - 1.0).abs() < 1e-9, "{total}");
    // Nothing is left in staging.
    assert_eq!(
        std::fs::read_dir(env.tree.join(".staging"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn the_central_coordinate_and_areas_are_those_the_map_was_made_with() {
    let env = Env::new("");
    let spec = MapSpec {
        ra: 210.0,
        dec: 35.0,
        sigma: 3.0,
        ..MapSpec::default()
    };
    let message = to_bytes(&alert_json(
        "MS230424a",
        "PRELIMINARY",
        CREATED,
        Some(&fits_bytes(&spec)),
    ));
    env.import_messages(&[message]).assert_status(0);
    let meta = common::pyyaml_as_json(&env.alert_dirs()[0].join("meta.yaml"));
    let coords: Vec<f64> = meta["EXTRA"]["central coordinate"]["equatorial"]
        .as_str()
        .unwrap()
        .split(' ')
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(
        (coords[0] - 210.0).abs() < 0.5 && (coords[1] - 35.0).abs() < 0.5,
        "{coords:?}"
    );
    // A 2-D Gaussian's X% region is a disc of radius σ·sqrt(-2 ln(1-X)).
    let disc = |x: f64| std::f64::consts::PI * 3.0f64.powi(2) * -2.0 * (1.0 - x).ln();
    for (name, level) in [("area90", 0.9), ("area50", 0.5)] {
        let area = meta["EXTRA"][name].as_f64().unwrap();
        assert!(
            (area / disc(level) - 1.0).abs() < 0.05,
            "{name} {area} vs {}",
            disc(level)
        );
    }
}

#[test]
fn mock_and_real_alerts_are_selected_by_the_settings() {
    let env = Env::with_settings("lvk:\n  parse_mock_events: false\n  parse_real_events: false\n");
    let mock = common::synthetic_alert("MS230424a", "PRELIMINARY", CREATED);
    let real = common::synthetic_alert("S230424a", "PRELIMINARY", CREATED);
    let run = env.import_messages(&[mock, real]);
    run.assert_status(0)
        .assert_says("SKIPPED: mock alerts are not wanted (lvk.parse_mock_events is false)")
        .assert_says("SKIPPED: real alerts are not wanted (lvk.parse_real_events is false)");
    assert!(env.alert_dirs().is_empty());
}

#[test]
fn a_retraction_is_written_only_after_an_alert_of_its_event() {
    let env = Env::new("");
    let retraction = to_bytes(&alert_json(
        "MS230424a",
        "RETRACTION",
        "2023-04-24T01:00:00Z",
        None,
    ));
    env.import_messages(std::slice::from_ref(&retraction))
        .assert_status(0)
        .assert_says("SKIPPED: RETRACTION of MS230424a, of which no alert was written before");
    assert!(env.alert_dirs().is_empty());
    let first = common::synthetic_alert("MS230424a", "PRELIMINARY", CREATED);
    env.import_messages(&[first, retraction]).assert_status(0);
    let dirs = env.alert_dirs();
    assert_eq!(dirs.len(), 2);
    assert!(dirs[1].ends_with("20230424T010000_retraction"));
    let meta = common::pyyaml_as_json(&dirs[1].join("meta.yaml"));
    assert_eq!(meta["HEADER"], json!({}));
    assert_eq!(meta["ALERT"]["event"], Value::Null);
}

#[test]
fn reimporting_a_complete_alert_leaves_the_tree_untouched() {
    let env = Env::new("");
    let message = common::synthetic_alert("MS230424a", "PRELIMINARY", CREATED);
    env.import_messages(std::slice::from_ref(&message))
        .assert_status(0);
    let before = env.snapshot();
    env.import_messages(&[message])
        .assert_status(0)
        .assert_says("UNCHANGED: ")
        .assert_says("is already complete");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn a_changed_alert_with_the_same_name_replaces_the_old_one_atomically() {
    let env = Env::new("");
    env.import_messages(&[common::synthetic_alert("MS230424a", "PRELIMINARY", CREATED)])
        .assert_status(0);
    let mut changed = alert_json(
        "MS230424a",
        "PRELIMINARY",
        CREATED,
        Some(&fits_bytes(&MapSpec::default())),
    );
    changed["event"]["far"] = json!(1e-3);
    env.import_messages(&[to_bytes(&changed)])
        .assert_status(0)
        .assert_says("REPLACED: ");
    let dirs = env.alert_dirs();
    assert_eq!(dirs.len(), 1);
    let meta = common::pyyaml_as_json(&dirs[0].join("meta.yaml"));
    assert_eq!(meta["ALERT"]["event"]["far"], json!(1e-3));
    Marker::read_checked(&dirs[0]).unwrap();
}

#[test]
fn far_zero_does_not_crash() {
    let env = Env::new("");
    let mut v = alert_json(
        "MS230424a",
        "PRELIMINARY",
        CREATED,
        Some(&fits_bytes(&MapSpec::default())),
    );
    v["event"]["far"] = json!(0);
    env.import_messages(&[to_bytes(&v)])
        .assert_status(0)
        .assert_says("FAR: 0 Hz")
        .assert_says("WRITTEN");
}

#[test]
fn time_created_with_fraction_or_offset_gives_the_utc_stamp() {
    let env = Env::new("");
    let messages: Vec<Vec<u8>> = ["2023-04-24T00:02:04.999Z", "2023-04-24T02:12:04+02:00"]
        .iter()
        .enumerate()
        .map(|(i, t)| to_bytes(&alert_json(&format!("MS23042{i}a"), "INITIAL", t, None)))
        .collect();
    env.import_messages(&messages).assert_status(0);
    let names: Vec<String> = env
        .alert_dirs()
        .iter()
        .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["20230424T000204_initial", "20230424T001204_initial"]
    );
}

#[test]
fn tilde_in_download_dir_is_the_home_directory() {
    let env = Env::with_settings("lvk:\n  download_dir: ~/my_events\n  aitoff: {convert: false}\n");
    let home = env.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let inbox = env.dir.path().join("a.json");
    std::fs::write(
        &inbox,
        common::synthetic_alert("MS230424a", "PRELIMINARY", CREATED),
    )
    .unwrap();
    let run: common::Run = env
        .command()
        .env("HOME", &home)
        .arg("import")
        .arg(&inbox)
        .output()
        .unwrap()
        .into();
    run.assert_status(0);
    assert!(home
        .join("my_events/mockevents/MS230424a/20230424T000204_preliminary/meta.yaml")
        .is_file());
    assert!(!env.dir.path().join("~").exists());
}

#[test]
fn a_burst_map_without_distances_gives_a_table_without_distance_columns() {
    let env = Env::new("");
    let spec = MapSpec {
        distance: None,
        creator: "ligo-skymap-from-samples".into(),
        ..MapSpec::default()
    };
    let mut v = alert_json(
        "MS230424a",
        "PRELIMINARY",
        CREATED,
        Some(&fits_bytes(&spec)),
    );
    v["event"]["group"] = json!("Burst");
    v["event"]["pipeline"] = json!("oLIB");
    env.import_messages(&[to_bytes(&v)]).assert_status(0);
    let dir = &env.alert_dirs()[0];
    assert!(
        dir.join("olib.multiorder.fits").is_file(),
        "an oLIB map is not bilby"
    );
    let csv = Csv::read(&dir.join("skymap.csv"));
    assert_eq!(csv.columns, ["IPIX", "PROB", "RA", "DEC", "GLON", "GLAT"]);
}

#[test]
fn samples_maps_of_cbc_events_are_named_bilby() {
    let env = Env::new("");
    let spec = MapSpec {
        creator: "ligo-skymap-from-samples".into(),
        ..MapSpec::default()
    };
    env.import_messages(&[to_bytes(&alert_json(
        "MS230424a",
        "UPDATE",
        CREATED,
        Some(&fits_bytes(&spec)),
    ))])
    .assert_status(0);
    assert!(env.alert_dirs()[0].join("bilby.multiorder.fits").is_file());
}

#[test]
fn outputs_follow_the_settings() {
    let env = Env::with_settings(
        "lvk:\n  json: false\n  ascii_map: {convert: false}\n  aitoff: {convert: false}\n",
    );
    env.import_messages(&[common::synthetic_alert("MS230424a", "PRELIMINARY", CREATED)])
        .assert_status(0);
    let dir = &env.alert_dirs()[0];
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            ".gocart-complete",
            "bayestar.multiorder.fits",
            "contours.geojson",
            "meta.yaml",
            "moc50.fits",
            "moc90.fits"
        ]
    );
}

#[test]
fn every_nside_gives_a_complete_table() {
    for nside in [1, 2, 16, 256] {
        let env = Env::new(&format!("  ascii_map: {{nside: {nside}}}\n"));
        env.import_messages(&[common::synthetic_alert("MS230424a", "PRELIMINARY", CREATED)])
            .assert_status(0);
        let csv = Csv::read(&env.alert_dirs()[0].join("skymap.csv"));
        assert_eq!(csv.rows.len(), 12 * nside * nside, "nside {nside}");
        assert_eq!(csv.comments[1], format!("NSIDE:{nside}"));
        let total: f64 = csv.column("PROB").iter().sum();
        assert!((total - 1.0).abs() < 1e-9, "nside {nside}: {total}");
    }
}

/// Strings that PyYAML (YAML 1.1) would turn into booleans, numbers, dates or
/// null if written bare: a plugin must read back what was sent.
#[test]
fn pyyaml_reads_tricky_values_back_unchanged() {
    let env = Env::new("");
    let mut v = alert_json("MS230424a", "PRELIMINARY", CREATED, None);
    let tricky = [
        "yes",
        "NO",
        "on",
        "Off",
        "y",
        "n",
        "~",
        "null",
        "1e3",
        "0x10",
        "0o17",
        "012",
        "12:30:00",
        "2023-01-01",
        "1_000",
        ".inf",
        "-.NaN",
        "",
        " padded ",
        "a: b",
        "#hash",
        "'quote",
        "multi\nline",
        "ünïcode",
    ];
    v["tricky"] = json!(tricky);
    v["event"]["far"] = json!(1e-13);
    v["event"]["classification"] =
        json!({"BNS": 1e-20, "NSBH": 5e+20, "BBH": 0.1, "Terrestrial": 1});
    env.import_messages(&[to_bytes(&v)]).assert_status(0);
    let meta = common::pyyaml_as_json(&env.alert_dirs()[0].join("meta.yaml"));
    assert_eq!(meta["ALERT"]["tricky"], json!(tricky));
    assert_eq!(meta["ALERT"]["event"]["far"], json!(1e-13));
    assert_eq!(
        meta["ALERT"]["event"]["classification"],
        v["event"]["classification"]
    );
}

#[test]
fn a_message_on_standard_input_is_imported() {
    use std::io::Write;
    let env = Env::new("");
    let mut child = env
        .command()
        .args(["import", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&common::synthetic_alert("MS230424a", "INITIAL", CREATED))
        .unwrap();
    let run: common::Run = child.wait_with_output().unwrap().into();
    run.assert_status(0).assert_says("WRITTEN");
    let marker = Marker::read(&env.alert_dirs()[0]).unwrap();
    assert_eq!(
        marker.source,
        gocart_shared::Source::File { file: "-".into() }
    );
}

#[test]
fn a_map_with_distances_keeps_them_in_the_table() {
    let env = Env::new("");
    let spec = MapSpec {
        distance: Some(Distance {
            mu: 123.5,
            sigma: 20.25,
        }),
        ..MapSpec::default()
    };
    env.import_messages(&[to_bytes(&alert_json(
        "MS230424a",
        "PRELIMINARY",
        CREATED,
        Some(&fits_bytes(&spec)),
    ))])
    .assert_status(0);
    let csv = Csv::read(&env.alert_dirs()[0].join("skymap.csv"));
    assert!(csv
        .column("DISTMU")
        .iter()
        .all(|&x| (x - 123.5).abs() < 1e-9));
    assert!(csv
        .column("DISTSIGMA")
        .iter()
        .all(|&x| (x - 20.25).abs() < 1e-9));
}

//! The sky-map products checked against the reference libraries, as a user
//! would check them: mocpy reads moc50/moc90.fits back and finds exactly the
//! map's credible pixels; `ligo-skymap-stats --contour 50 90 --modes` agrees
//! with EXTRA's volumes (1 %) and modes (exactly) on the real alerts. Also maps
//! we generate: several islands, the whole sky, one pixel. And
//! contours.geojson: on a grid of points, a planar point-in-polygon test gives
//! the map's credible region on every real alert (the burst S230528ay's long
//! arc among them), away from the region's edge.
//!
//! The Python side lives in a venv that scripts/setup.sh makes
//! (`${XDG_CACHE_HOME:-~/.cache}/gocart/pyenv`, or `$GOCART_PYENV`): without it
//! these tests say they were skipped, and fail on CI (`CI=true`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{alert_json, fits_bytes, to_bytes, Env, MapSpec};
use gocart_ingest::skymap::products::contours::check::{compare, read_geojson};
use gocart_ingest::skymap::synth::{self, Layout};
use gocart_ingest::skymap::{read_skymap, Pixel};
use serde_json::Value;

fn check(python: &Path, args: &[&str], dirs: &[PathBuf]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/products/check_products.py");
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .args(dirs)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the reference check failed");
    assert!(text.lines().filter(|l| l.starts_with("ok moc")).count() >= dirs.len());
}

fn extra(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("meta.yaml")).unwrap();
    serde_saphyr::from_str::<Value>(&text).unwrap()["EXTRA"].clone()
}

#[test]
#[ignore = "needs the python test env"]
fn real_alerts_match_mocpy_and_ligo_skymap_stats() {
    let test = "real_alerts_match_mocpy_and_ligo_skymap_stats";
    let (Some(python), Some(files)) = (
        gocart_tests::python_env(test),
        gocart_tests::shared_alert_files(test),
    ) else {
        return;
    };
    let env = Env::new("  ascii_map: {convert: false}\n");
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    env.import(&paths).assert_status(0);
    let dirs: Vec<PathBuf> = env
        .alert_dirs()
        .into_iter()
        .filter(|d| d.join("moc90.fits").is_file())
        .collect();
    assert!(
        dirs.len() >= 38,
        "only {} directories with products",
        dirs.len()
    );
    let combined = dirs
        .iter()
        .filter(|d| d.join("combined.moc90.fits").is_file())
        .count();
    assert!(combined > 0, "no combined map's products");
    check(&python, &["--ligo"], &dirs);
}

/// Imports one alert carrying `pixels` as its map; its directory.
fn import_map(env: &Env, id: &str, pixels: &[Pixel], distance: bool) -> PathBuf {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("map.fits");
    synth::write_fits(&path, pixels, distance, &[]).unwrap();
    let message = to_bytes(&alert_json(
        id,
        "PRELIMINARY",
        "2023-04-24T00:02:04Z",
        Some(&std::fs::read(path).unwrap()),
    ));
    env.import_messages(&[message])
        .assert_status(0)
        .assert_says("WRITTEN");
    env.alert_dirs()
        .into_iter()
        .find(|d| d.to_string_lossy().contains(id))
        .unwrap()
}

#[test]
#[ignore = "needs the python test env"]
fn generated_maps_match_mocpy_and_bad_shapes_keep_what_makes_sense() {
    let test = "generated_maps_match_mocpy_and_bad_shapes_keep_what_makes_sense";
    let Some(python) = gocart_tests::python_env(test) else {
        return;
    };
    let env = Env::new("");
    // Several islands, with distances.
    let islands = {
        let (a, b, c) = (
            synth::gaussian(40.0, 20.0, 4.0),
            synth::gaussian(250.0, -50.0, 5.0),
            synth::gaussian(160.0, 60.0, 3.0),
        );
        let distance = Some(synth::Distance {
            mu: 120.0,
            sigma: 30.0,
        });
        synth::build(
            move |ra, dec| a(ra, dec) + b(ra, dec) + c(ra, dec),
            Layout::default(),
            distance,
        )
    };
    let islands_dir = import_map(&env, "MS230424a", &islands, true);
    // The whole sky, evenly: the 90 % region is 90 % of the sky, ties broken in nested order.
    let uniform = 1.0 / (4.0 * std::f64::consts::PI);
    let sky: Vec<Pixel> = (0..768)
        .map(|i| Pixel::without_distance(3, i, uniform))
        .collect();
    let sky_dir = import_map(&env, "MS230424b", &sky, false);
    // One pixel holding everything: empty credible regions.
    let one = [Pixel::without_distance(
        0,
        4,
        1.0 / gocart_ingest::skymap::pixel_area_sr(0),
    )];
    let one_dir = import_map(&env, "MS230424c", &one, false);
    check(
        &python,
        &[],
        &[islands_dir.clone(), sky_dir.clone(), one_dir.clone()],
    );

    let islands = extra(&islands_dir);
    assert_eq!(islands["modes90"], 3);
    assert!(islands["vol50"].as_f64().unwrap() < islands["vol90"].as_f64().unwrap());
    let sky = extra(&sky_dir);
    assert_eq!(sky["modes90"], 1);
    assert!(
        sky.get("vol90").is_none(),
        "a map without distances has no volumes"
    );
    let one = extra(&one_dir);
    assert_eq!(one["modes90"], 0);
    assert_eq!(one["area90"], 0.0);
}

#[test]
fn every_written_map_gets_its_mocs_and_extra_keys() {
    // Without python: the files are listed in the marker and the keys are there.
    let env = Env::new("");
    let message = to_bytes(&alert_json(
        "MS230424d",
        "PRELIMINARY",
        "2023-04-24T00:02:04Z",
        Some(&fits_bytes(&MapSpec::default())),
    ));
    env.import_messages(&[message]).assert_status(0);
    let dir = &env.alert_dirs()[0];
    let marker = gocart_shared::Marker::read_checked(dir).unwrap();
    let names: Vec<&str> = marker.files.iter().map(|f| f.name.as_str()).collect();
    assert!(
        names.contains(&"moc50.fits")
            && names.contains(&"moc90.fits")
            && names.contains(&"contours.geojson"),
        "{names:?}"
    );
    let features =
        read_geojson(&std::fs::read_to_string(dir.join("contours.geojson")).unwrap()).unwrap();
    let levels: Vec<f64> = features.iter().map(|f| f.level).collect();
    assert_eq!(levels, [0.5, 0.9]);
    assert!(features.iter().all(|f| f.polygons.len() == 1));
    let extra = extra(dir);
    assert_eq!(extra["distance"]["mean"], 250.0);
    assert_eq!(extra["distance"]["std"], 60.0);
    assert!(extra["vol90"].as_f64().unwrap() > extra["vol50"].as_f64().unwrap());
    assert_eq!(extra["modes90"], 1);
}

#[test]
fn real_alerts_contours_hold_their_credible_regions() {
    let test = "real_alerts_contours_hold_their_credible_regions";
    let Some(files) = gocart_tests::shared_alert_files(test) else {
        return;
    };
    let env = Env::new("  ascii_map: {convert: false}\n");
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    env.import(&paths).assert_status(0);
    let mut maps = 0;
    let mut checked_the_arc = false;
    for dir in env.alert_dirs() {
        let extra = extra(&dir);
        let event = crate::real_alerts::map_file(&dir).map(|map| (map, "", &extra));
        let combined = Some(dir.join("combined.multiorder.fits"))
            .filter(|p| p.is_file())
            .map(|map| (map, "combined.", &extra["combined"]));
        for (map_path, prefix, extra) in event.into_iter().chain(combined) {
            let map = read_skymap(&map_path).unwrap();
            let geojson = dir.join(format!("{prefix}contours.geojson"));
            let features = read_geojson(&std::fs::read_to_string(&geojson).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", geojson.display()));
            assert_eq!(features.len(), 2);
            for feature in &features {
                let area = &extra[format!("area{}", (feature.level * 100.0).round())];
                assert_eq!(
                    feature.area_deg2,
                    area.as_f64().unwrap(),
                    "{}",
                    geojson.display()
                );
                let found = compare(&map, feature.level, &feature.polygons, 0.4);
                eprintln!(
                    "{} {}: {} polygons, {} of {} points inside, {} disagree near the edge",
                    geojson.display(),
                    feature.level,
                    feature.polygons.len(),
                    found.inside,
                    found.points,
                    found.near_edge
                );
                assert_eq!(found.far_count, 0, "{}: {found:?}", geojson.display());
                assert!(found.inside > 0, "{}: empty", geojson.display());
            }
            maps += 1;
            checked_the_arc |= dir.to_string_lossy().contains("S230528ay");
        }
    }
    assert!(maps >= 38, "only {maps} maps checked");
    assert!(checked_the_arc, "the burst S230528ay was not checked");
}

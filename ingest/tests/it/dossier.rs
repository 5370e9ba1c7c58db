//! The superevent dossier through `import`: every kind's messages (the
//! gcn-schema examples and generated variants) become their directories,
//! laid out as docs/contracts.md says, with the same guarantees as LVK
//! alerts (marker, unchanged redelivery, atomic replacement, rejections kept).

use std::path::{Path, PathBuf};

use gocart_shared::{Kind, Marker};
use gocart_tests::notices;
use serde_json::Value;

use crate::common::{synthetic_alert, to_bytes, Env};

/// Every complete directory under the tree's folders of any kind.
fn complete_dirs(tree: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    collect_complete(tree, &mut found);
    found.sort();
    found
}

fn collect_complete(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !path.is_dir() {
            continue;
        }
        if path.join(".gocart-complete").is_file() {
            found.push(path);
        } else {
            collect_complete(&path, found);
        }
    }
}

fn relative(env: &Env, dirs: &[PathBuf]) -> Vec<String> {
    dirs.iter()
        .map(|d| d.strip_prefix(&env.tree).unwrap().display().to_string())
        .collect()
}

fn meta(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("meta.yaml")).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

/// Checks a directory's layout: notice.json as received, meta.yaml of the
/// kind, the marker with the kind, listing every file.
fn assert_layout(dir: &Path, kind: Kind, message: &[u8]) -> Value {
    assert_eq!(
        std::fs::read(dir.join("notice.json")).unwrap(),
        message,
        "{}",
        dir.display()
    );
    let marker = Marker::read_checked(dir).unwrap();
    assert_eq!(marker.kind, kind);
    let listed: Vec<&str> = marker.files.iter().map(|f| f.name.as_str()).collect();
    assert!(
        listed.contains(&"notice.json") && listed.contains(&"meta.yaml"),
        "{listed:?}"
    );
    let meta = meta(dir);
    assert_eq!(meta["KIND"], kind.as_str());
    assert!(meta["NOTICE"].is_object());
    meta
}

#[test]
fn every_gcn_example_becomes_its_directory() {
    let Some(examples) = notices::examples("every_gcn_example_becomes_its_directory") else {
        return;
    };
    let env = Env::new("");
    let run = env.import(&examples.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    // The loc_map example's healpix_file is a placeholder, not base64.
    run.assert_status(1)
        .assert_says("7 written, 0 unchanged, 0 skipped, 1 rejected");
    let dirs = complete_dirs(&env.tree);
    assert_eq!(
        relative(&env, &dirs),
        [
            "circulars/33603/20240612T171629_circular",
            "superevents/S230914ak/20230914T114916_icecube",
            "superevents/S251117bs/20251130T102857_boom-ZTF25acffkdr",
            "transients/einstein_probe/01708973486/20240301T214605_alert",
            "transients/swift_guano/694215995/20230101T032436_initial",
            "transients/swift_guano/694215995/20230101T032436_retraction",
            "transients/swift_guano/694215995/20230101T053301_update",
        ]
    );
    let by_name = |ending: &str| {
        dirs.iter()
            .find(|d| d.to_string_lossy().ends_with(ending))
            .unwrap()
    };
    let example =
        |name: &str| std::fs::read(examples.iter().find(|p| p.ends_with(name)).unwrap()).unwrap();
    let icecube = assert_layout(
        by_name("20230914T114916_icecube"),
        Kind::Icecube,
        &example("icecube_lvk_nu_track_search.example.json"),
    );
    assert_eq!(icecube["EXTRA"]["pval_bayesian"], 0.0549);
    assert_eq!(icecube["EXTRA"]["superevent_dir_exists"], false);
    let marker = Marker::read(by_name("20230914T114916_icecube")).unwrap();
    assert_eq!(
        (
            marker.superevent_id.as_str(),
            marker.alert_type.as_str(),
            marker.time_created.as_str()
        ),
        ("S230914ak", "icecube", "2023-09-14T11:49:16.526Z")
    );
    let boom = assert_layout(
        by_name("boom-ZTF25acffkdr"),
        Kind::Boom,
        &example("boom_alert.example.json"),
    );
    assert_eq!(boom["EXTRA"]["event_name"], "ZTF25acffkdr");
    let circular = assert_layout(
        by_name("20240612T171629_circular"),
        Kind::Circular,
        &example("circulars.example.json"),
    );
    assert_eq!(circular["EXTRA"]["circular_id"], "33603");
    let update = assert_layout(
        by_name("20230101T053301_update"),
        Kind::SwiftGuano,
        &example("swift_bat_guano.loc_arc_min.example.json"),
    );
    assert_eq!(update["EXTRA"]["error"], 0.5);
    let ep = Marker::read(by_name("20240301T214605_alert")).unwrap();
    assert_eq!(
        (ep.kind, ep.superevent_id.as_str()),
        (Kind::EinsteinProbe, "01708973486")
    );
    let rejected = std::fs::read_dir(env.tree.join(".rejected"))
        .unwrap()
        .count();
    assert!(rejected >= 1);
    assert!(run.stdout.contains("healpix_file"), "{}", run.stdout);
}

#[test]
fn generated_messages_of_every_kind_land_in_the_dossier() {
    let env = Env::new("  parse_mock_events: true\n");
    let lvk = synthetic_alert("S230518h", "PRELIMINARY", "2023-05-18T12:59:08Z");
    let messages = [
        lvk,
        to_bytes(&notices::icecube(
            "S230518h",
            "2023-05-18T13:10:00Z",
            (0.02, 0.05),
            2,
        )),
        to_bytes(&notices::icecube(
            "MS230519a",
            "2023-05-19T01:00:00Z",
            (0.9, 0.8),
            0,
        )),
        to_bytes(&notices::circular(
            33810,
            "LIGO/Virgo/KAGRA S230518h and MS230519a: optical follow-up",
            None,
            1_684_454_400_000,
        )),
        to_bytes(&notices::boom(
            "2023-05-19T10:00:00Z",
            &[
                ("ZTF23aaa", 150.1, 15.2, &["S230518h"]),
                ("ZTF23bbb", 151.0, 14.0, &["S230518h", "MS230519a"]),
            ],
        )),
        to_bytes(&notices::einstein_probe(
            "01708973999",
            "2023-05-20T00:00:00Z",
            120.0,
            40.0,
            0.05,
        )),
        to_bytes(&notices::swift_guano(
            "700000001",
            "initial",
            "2023-05-18T13:00:00Z",
            Some((336.3, 25.1, 0.5)),
            None,
        )),
    ];
    let run = env.import_messages(&messages);
    run.assert_status(0)
        .assert_says("7 alerts: 7 written, 0 unchanged, 0 skipped, 0 rejected, 0 failed");
    let dirs = complete_dirs(&env.tree);
    assert_eq!(
        relative(&env, &dirs),
        [
            "mockevents/MS230519a/20230519T000000_circular-33810",
            "mockevents/MS230519a/20230519T010000_icecube",
            "mockevents/MS230519a/20230519T100000_boom-ZTF23bbb",
            "superevents/S230518h/20230518T125908_preliminary",
            "superevents/S230518h/20230518T131000_icecube",
            "superevents/S230518h/20230519T000000_circular-33810",
            "superevents/S230518h/20230519T100000_boom-ZTF23aaa",
            "superevents/S230518h/20230519T100000_boom-ZTF23bbb",
            "transients/einstein_probe/01708973999/20230520T000000_alert",
            "transients/swift_guano/700000001/20230518T130000_initial",
        ]
    );
    let icecube = meta(&dirs[4]);
    assert_eq!(
        icecube["EXTRA"]["superevent_dir_exists"], true,
        "the LVK alert came first"
    );
    let no_hits = meta(&dirs[1]);
    assert_eq!(no_hits["EXTRA"]["superevent_dir_exists"], false);
    assert!(
        no_hits["EXTRA"].get("ra").is_none(),
        "no neutrino, no direction"
    );
    assert!(
        no_hits["EXTRA"].get("missing").is_none(),
        "{:?}",
        no_hits["EXTRA"]
    );
    let boom = meta(&dirs[7]);
    assert_eq!(
        (
            boom["EXTRA"]["event_name"].as_str(),
            boom["EXTRA"]["ra"].as_f64()
        ),
        (Some("ZTF23bbb"), Some(151.0))
    );
    let circular = Marker::read(&dirs[0]).unwrap();
    assert_eq!(
        (
            circular.superevent_id.as_str(),
            circular.alert_type.as_str()
        ),
        ("MS230519a", "circular-33810")
    );

    // A redelivery leaves the tree as it was.
    let before = env.snapshot();
    env.import_messages(&messages)
        .assert_status(0)
        .assert_says("7 unchanged");
    assert_eq!(env.snapshot(), before);
}

#[test]
fn a_changed_notice_replaces_its_directory_and_a_lacking_one_says_what_is_missing() {
    let env = Env::new("");
    let first = notices::icecube("S230601x", "2023-06-01T00:00:00Z", (0.5, 0.4), 1);
    env.import_messages(&[to_bytes(&first)]).assert_status(0);
    let mut changed = first.clone();
    changed["pval_generic"] = serde_json::json!(0.01);
    changed.as_object_mut().unwrap().remove("pval_bayesian");
    let run = env.import_messages(&[to_bytes(&changed)]);
    run.assert_status(0).assert_says("REPLACED:");
    let dirs = complete_dirs(&env.tree);
    assert_eq!(dirs.len(), 1);
    let extra = &meta(&dirs[0])["EXTRA"];
    assert_eq!(extra["pval_generic"], 0.01);
    assert_eq!(extra["missing"], serde_json::json!(["pval_bayesian"]));
    assert!(
        run.stdout.contains("missing: pval_bayesian"),
        "{}",
        run.stdout
    );
}

#[test]
fn hostile_notices_are_rejected_and_kept_with_their_reason() {
    let env = Env::new("");
    let mut traversal = notices::icecube("S230601x", "2023-06-01T00:00:00Z", (0.5, 0.4), 1);
    traversal["ref_ID"] = serde_json::json!("../../etc");
    let mut circular = notices::circular(1, "x", None, 0);
    circular["circularId"] = serde_json::json!("1/../../x");
    let ep = notices::einstein_probe("a b", "2023-01-01T00:00:00Z", 1.0, 2.0, 0.1);
    let unknown =
        br#"{"$schema":"https://gcn.nasa.gov/schema/main/gcn/notices/other/x.schema.json"}"#
            .to_vec();
    let run = env.import_messages(&[
        to_bytes(&traversal),
        to_bytes(&circular),
        to_bytes(&ep),
        unknown,
    ]);
    run.assert_status(1).assert_says("4 rejected");
    assert!(complete_dirs(&env.tree).is_empty());
    for field in ["ref_ID", "circularId", "id[0]", "$schema"] {
        assert!(
            run.stdout.contains(&format!("field `{field}`")),
            "{field}:\n{}",
            run.stdout
        );
    }
    let kept = std::fs::read_dir(env.tree.join(".rejected"))
        .unwrap()
        .count();
    assert!(kept >= 4, "{kept}");
}

#[test]
fn a_retraction_after_only_a_neutrino_search_is_not_an_alert_of_the_event() {
    let env = Env::new("");
    let icecube = to_bytes(&notices::icecube(
        "S230701a",
        "2023-07-01T00:00:00Z",
        (0.5, 0.4),
        1,
    ));
    let retraction = synthetic_alert("S230701a", "RETRACTION", "2023-07-01T01:00:00Z");
    let run = env.import_messages(&[icecube, retraction]);
    run.assert_status(0)
        .assert_says("1 written, 0 unchanged, 1 skipped");
}

#[test]
fn mock_and_real_selection_applies_to_linked_notices() {
    let env = Env::new("  parse_mock_events: false\n");
    let circular = notices::circular(
        40000,
        "S230801a and MS230801b: observations",
        None,
        1_690_848_000_000,
    );
    let mock_only = notices::icecube("MS230801b", "2023-08-01T00:00:00Z", (0.5, 0.4), 1);
    let run = env.import_messages(&[to_bytes(&circular), to_bytes(&mock_only)]);
    run.assert_status(0)
        .assert_says("1 written, 0 unchanged, 1 skipped");
    assert_eq!(
        relative(&env, &complete_dirs(&env.tree)),
        ["superevents/S230801a/20230801T000000_circular-40000"]
    );
}

/// Several messages of every kind, each on its kind's topic, and the
/// directories they make (relative to the tree).
fn kafka_messages() -> (Vec<(Kind, Vec<u8>)>, Vec<&'static str>) {
    let messages = vec![
        (
            Kind::Icecube,
            notices::icecube("S240601a", "2024-06-01T01:00:00Z", (0.02, 0.05), 2),
        ),
        (
            Kind::Icecube,
            notices::icecube("S240601b", "2024-06-01T02:00:00Z", (0.6, 0.7), 0),
        ),
        (
            Kind::Circular,
            notices::circular(
                36000,
                "LIGO/Virgo/KAGRA S240601a: identification",
                Some("S240601a"),
                1_717_203_600_000,
            ),
        ),
        (
            Kind::Circular,
            notices::circular(
                36001,
                "GRB 240601A: Swift detection",
                Some("GRB 240601A"),
                1_717_207_200_000,
            ),
        ),
        (
            Kind::Boom,
            notices::boom(
                "2024-06-01T05:00:00Z",
                &[("ZTF24aaa", 10.0, 20.0, &["S240601a", "S240601b"])],
            ),
        ),
        (
            Kind::EinsteinProbe,
            notices::einstein_probe("01709000001", "2024-06-01T06:00:00Z", 120.0, 40.0, 0.05),
        ),
        (
            Kind::EinsteinProbe,
            notices::einstein_probe("01709000002", "2024-06-01T07:00:00Z", 121.0, -40.0, 0.05),
        ),
        (
            Kind::SwiftGuano,
            notices::swift_guano("700000010", "initial", "2024-06-01T08:00:00Z", None, None),
        ),
        (
            Kind::SwiftGuano,
            notices::swift_guano(
                "700000010",
                "update",
                "2024-06-01T09:00:00Z",
                Some((30.0, 10.0, 0.3)),
                None,
            ),
        ),
    ];
    let dirs = vec![
        "circulars/36001/20240601T020000_circular",
        "superevents/S240601a/20240601T010000_icecube",
        "superevents/S240601a/20240601T010000_circular-36000",
        "superevents/S240601a/20240601T050000_boom-ZTF24aaa",
        "superevents/S240601b/20240601T020000_icecube",
        "superevents/S240601b/20240601T050000_boom-ZTF24aaa",
        "transients/einstein_probe/01709000001/20240601T060000_alert",
        "transients/einstein_probe/01709000002/20240601T070000_alert",
        "transients/swift_guano/700000010/20240601T080000_initial",
        "transients/swift_guano/700000010/20240601T090000_update",
    ];
    let messages = messages
        .into_iter()
        .map(|(k, m)| (k, to_bytes(&m)))
        .collect();
    let mut dirs = dirs;
    dirs.sort();
    (messages, dirs)
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn listen_and_echo_write_every_kind_from_its_topic() {
    use gocart_tests::kafka::{settings_text, Broker, Ingest, Storage};
    use gocart_tests::wait_until;
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    let kinds = [
        Kind::Icecube,
        Kind::Circular,
        Kind::Boom,
        Kind::EinsteinProbe,
        Kind::SwiftGuano,
    ];
    let topics: Vec<&str> = kinds.iter().filter_map(|k| k.topic()).collect();
    for topic in &topics {
        broker.create_topic(topic, 1);
    }
    let scratch = tempfile::tempdir().unwrap();
    let settings = scratch.path().join("gocart.yaml");
    std::fs::write(
        &settings,
        settings_text(&broker.addr(), scratch.path(), &topics, ""),
    )
    .unwrap();
    let tree = scratch.path().join("tree");
    let mut listen = Ingest::listen(&settings);
    let (messages, expected) = kafka_messages();
    let producer = broker.producer();
    for (kind, bytes) in &messages {
        producer.send(kind.topic().unwrap(), 0, bytes, None);
    }
    let found = |tree: &Path| {
        complete_dirs(tree)
            .iter()
            .map(|d| d.strip_prefix(tree).unwrap().display().to_string())
            .collect::<Vec<_>>()
    };
    let all_there = wait_until(std::time::Duration::from_secs(60), || {
        found(&tree).len() >= expected.len()
    });
    assert!(all_there, "{:?}\n{}", found(&tree), listen.stderr_text());
    assert_eq!(found(&tree), expected);
    for dir in complete_dirs(&tree) {
        let marker = Marker::read_checked(&dir).unwrap();
        let gocart_shared::marker::Source::Kafka { topic, .. } = &marker.source else {
            panic!("{marker:?}");
        };
        assert_eq!(
            Kind::of_topic(topic),
            Some(marker.kind),
            "{}",
            dir.display()
        );
        let (_, bytes) = messages
            .iter()
            .find(|(_, m)| gocart_shared::marker::sha256_hex(m) == marker.message_sha256)
            .expect("the message of the directory");
        assert_layout(&dir, marker.kind, bytes);
    }
    // Offsets are committed once each message's directories are complete.
    let group = gocart_tests::kafka::group_id(&settings);
    for kind in kinds {
        let sent = messages.iter().filter(|(k, _)| *k == kind).count() as i64;
        let topic = kind.topic().unwrap();
        assert!(
            wait_until(std::time::Duration::from_secs(30), || broker
                .committed(&group, topic, 1)
                == vec![sent]),
            "{topic}: {:?}",
            broker.committed(&group, topic, 1)
        );
    }
    assert!(listen.stop().success());

    // echo into a fresh tree writes the same directories.
    let fresh = tempfile::tempdir().unwrap();
    let fresh_settings = fresh.path().join("gocart.yaml");
    std::fs::write(
        &fresh_settings,
        settings_text(&broker.addr(), fresh.path(), &topics, ""),
    )
    .unwrap();
    let mut echo = Ingest::spawn(&fresh_settings, &["echo", "1"]);
    let status = echo
        .wait_exit(std::time::Duration::from_secs(60))
        .expect("echo finishes");
    assert!(status.success(), "{}", echo.stderr_text());
    assert_eq!(found(&fresh.path().join("tree")), expected);
    assert!(
        echo.stdout_text().contains("9 alerts: 9 written"),
        "{}",
        echo.stdout_text()
    );
}

#[test]
fn mock_dossier_writes_each_events_search_and_circular_linked_to_it() {
    let env = Env::new("");
    let run: crate::common::Run = env
        .command()
        .args(["mock", "--count", "8", "--seed", "21", "--dossier"])
        .output()
        .unwrap()
        .into();
    run.assert_status(0);
    let dirs = complete_dirs(&env.tree);
    let events: std::collections::BTreeSet<PathBuf> = env
        .alert_dirs()
        .iter()
        .filter(|d| Marker::read(d).is_ok_and(|m| m.kind == Kind::Lvk))
        .map(|d| d.parent().unwrap().to_path_buf())
        .collect();
    assert!(!events.is_empty());
    for event in &events {
        for kind in [Kind::Icecube, Kind::Circular] {
            let found = dirs
                .iter()
                .filter(|d| d.parent() == Some(event.as_path()))
                .filter(|d| Marker::read(d).unwrap().kind == kind)
                .count();
            assert_eq!(found, 1, "{kind} in {}", event.display());
        }
    }
    let mut kinds = std::collections::BTreeSet::new();
    for dir in &dirs {
        let marker = Marker::read_checked(dir).unwrap();
        kinds.insert(marker.kind);
        if marker.kind == Kind::Lvk {
            continue;
        }
        let meta = meta(dir);
        assert_eq!(meta["KIND"], marker.kind.as_str());
        assert!(
            meta["EXTRA"].get("missing").is_none(),
            "{}: {:?}",
            dir.display(),
            meta["EXTRA"]
        );
    }
    assert!(kinds.len() >= 4, "{kinds:?}");
}

/// The peak of a PNG's sky is not checked here (render's own tests do):
/// only that a notice with a position has a picture and one without has none.
fn is_png(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| b.starts_with(b"\x89PNG\r\n\x1a\n"))
}

#[test]
fn notices_with_a_position_have_a_picture_and_guano_maps_are_decoded() {
    let env = Env::with_settings("lvk:\n  parse_real_events: true\n  aitoff: {convert: true}\n");
    let ring = notices::flat_healpix_fits(32, true, (200.0, -30.0), 3.0);
    let nested = notices::flat_healpix_fits(16, false, (20.0, 60.0), 5.0);
    let messages = [
        to_bytes(&notices::icecube(
            "S240701a",
            "2024-07-01T00:00:00Z",
            (0.1, 0.2),
            1,
        )),
        to_bytes(&notices::circular(
            37000,
            "LIGO/Virgo/KAGRA S240701a: no counterpart",
            None,
            1_719_792_000_000,
        )),
        to_bytes(&notices::einstein_probe(
            "01709100000",
            "2024-07-01T01:00:00Z",
            120.0,
            40.0,
            0.02,
        )),
        to_bytes(&notices::swift_guano(
            "700000100",
            "update",
            "2024-07-01T02:00:00Z",
            None,
            Some(&ring),
        )),
        to_bytes(&notices::swift_guano(
            "700000101",
            "update",
            "2024-07-01T03:00:00Z",
            None,
            Some(&nested),
        )),
        to_bytes(&notices::swift_guano(
            "700000102",
            "initial",
            "2024-07-01T04:00:00Z",
            None,
            None,
        )),
    ];
    let run = env.import_messages(&messages);
    run.assert_status(0).assert_says("6 written");
    let dirs = complete_dirs(&env.tree);
    let dir = |ending: &str| {
        dirs.iter()
            .find(|d| d.to_string_lossy().ends_with(ending))
            .unwrap()
            .clone()
    };
    assert!(is_png(
        &dir("S240701a/20240701T000000_icecube").join("skymap.png")
    ));
    assert!(!dir("20240701T000000_circular-37000")
        .join("skymap.png")
        .exists());
    assert!(is_png(&dir("20240701T010000_alert").join("skymap.png")));
    assert!(!dir("700000102/20240701T040000_initial")
        .join("skymap.png")
        .exists());
    for (id, fits, peak) in [
        ("700000100", &ring, (200.0, -30.0)),
        ("700000101", &nested, (20.0, 60.0)),
    ] {
        let d = dirs
            .iter()
            .find(|d| d.to_string_lossy().contains(id))
            .unwrap();
        assert_eq!(&std::fs::read(d.join("skymap.fits")).unwrap(), fits);
        assert!(is_png(&d.join("skymap.png")));
        let notice = &meta(d)["NOTICE"];
        assert_eq!(
            notice["healpix_file"],
            format!("<decoded to skymap.fits, {} bytes>", fits.len())
        );
        // The map read back peaks where it was made (within a pixel of nside 16).
        let map = gocart_ingest::skymap::read_any_skymap(&d.join("skymap.fits")).unwrap();
        let stats = gocart_ingest::skymap::Stats::compute(&map);
        let off =
            gocart_ingest::skymap::synth::angular_distance_deg(stats.ra, stats.dec, peak.0, peak.1);
        assert!(
            off < 4.0,
            "{id}: peak ({}, {}) is {off}° off",
            stats.ra,
            stats.dec
        );
    }
    let marker = Marker::read_checked(&dir("700000100/20240701T020000_update")).unwrap();
    let names: Vec<&str> = marker.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["notice.json", "skymap.fits", "meta.yaml", "skymap.png"]
    );
    // A map that is not a sky map is the message's fault.
    let broken = to_bytes(&notices::swift_guano(
        "700000103",
        "update",
        "2024-07-01T05:00:00Z",
        None,
        Some(b"SIMPLE  = T"),
    ));
    env.import_messages(&[broken])
        .assert_status(1)
        .assert_says("healpix_file");
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn a_silent_heartbeat_is_written_to_the_feed_and_so_is_its_return() {
    use gocart_tests::kafka::{settings_text, Broker, Ingest, Storage};
    use gocart_tests::wait_until;
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic("igwn.gwalert", 1);
    broker.create_topic("gcn.heartbeat", 1);
    let scratch = tempfile::tempdir().unwrap();
    let settings = scratch.path().join("gocart.yaml");
    let extra = "  heartbeat: true\n  heartbeat_alarm: 2s\n";
    std::fs::write(
        &settings,
        settings_text(&broker.addr(), scratch.path(), &["igwn.gwalert"], extra),
    )
    .unwrap();
    let tree = scratch.path().join("tree");
    let mut listen = Ingest::listen(&settings);
    let feed = |ending: &str| {
        complete_dirs(&tree)
            .into_iter()
            .filter(|d| d.starts_with(tree.join("feed")) && d.to_string_lossy().ends_with(ending))
            .collect::<Vec<_>>()
    };
    let limit = std::time::Duration::from_secs(30);
    assert!(
        wait_until(limit, || feed("_silent").len() == 1),
        "{}",
        listen.stderr_text()
    );
    let silent = &feed("_silent")[0];
    let marker = Marker::read_checked(silent).unwrap();
    assert_eq!(
        (
            marker.kind,
            marker.superevent_id.as_str(),
            marker.alert_type.as_str()
        ),
        (Kind::Heartbeat, "feed", "silent")
    );
    let extra = &meta(silent)["EXTRA"];
    assert!(
        extra["silent_since"]
            .as_str()
            .is_some_and(|t| t.starts_with("20")),
        "{extra:?}"
    );
    assert!(extra.get("back_at").is_none());

    broker.producer().send(
        "gcn.heartbeat",
        0,
        br#"{"alert_datetime": "2024-05-01T00:00:00Z"}"#,
        None,
    );
    assert!(
        wait_until(limit, || feed("_back").len() == 1),
        "{}",
        listen.stderr_text()
    );
    let back = meta(&feed("_back")[0]);
    assert_eq!(back["KIND"], "heartbeat");
    assert_eq!(back["EXTRA"]["silent_since"], extra["silent_since"]);
    assert!(back["EXTRA"]["back_at"].is_string());
    assert!(
        listen.stderr_text().contains("gcn.heartbeat silent since"),
        "{}",
        listen.stderr_text()
    );
    assert!(listen.stop().success());
}

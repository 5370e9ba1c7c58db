//! The notice model on the gcn-schema examples and on what they may lack.

use super::*;

fn example(name: &str) -> Vec<u8> {
    let root = std::env::var("GOCART_TEST_DATA").unwrap_or_else(|_| "../../shared/alerts".into());
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(root)
        .join("gcn")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(name: &str) -> Notice {
    let bytes = example(name);
    let kind = recognise(&bytes).unwrap();
    Notice::parse(kind, &bytes).unwrap()
}

#[test]
fn every_example_is_recognised_by_its_schema() {
    for (name, kind) in [
        ("icecube_lvk_nu_track_search.example.json", Kind::Icecube),
        ("circulars.example.json", Kind::Circular),
        ("boom_alert.example.json", Kind::Boom),
        ("einstein_probe_wxt_alert.example.json", Kind::EinsteinProbe),
        ("swift_bat_Guano.example.json", Kind::SwiftGuano),
        ("swift_bat_Guano.Retraction.example.json", Kind::SwiftGuano),
        ("swift_bat_guano.loc_arc_min.example.json", Kind::SwiftGuano),
    ] {
        assert_eq!(recognise(&example(name)).unwrap(), kind, "{name}");
    }
    assert_eq!(recognise(br#"{"superevent_id":"S1"}"#).unwrap(), Kind::Lvk);
    assert_eq!(recognise(b"not json").unwrap(), Kind::Lvk);
    assert_eq!(
        recognise(br#"{"circularId":1,"subject":"x"}"#).unwrap(),
        Kind::Circular
    );
    let unknown = recognise(br#"{"$schema":"https://x/gcn/notices/other.schema.json"}"#);
    assert!(unknown.unwrap_err().to_string().contains("$schema"));
}

#[test]
fn icecube_goes_to_its_superevent_with_p_values_and_direction() {
    let n = parse("icecube_lvk_nu_track_search.example.json");
    assert_eq!(n.stamp(), "20230914T114916");
    assert_eq!(n.targets.len(), 1);
    let t = &n.targets[0];
    assert_eq!(t.folder, Folder::Event("S230914ak".into()));
    assert_eq!(n.dir_name(t), "20230914T114916_icecube");
    let meta = n.meta(t, Some(false));
    let extra = &meta["EXTRA"];
    assert_eq!(meta["KIND"], "icecube");
    assert_eq!(extra["superevent_id"], "S230914ak");
    assert_eq!(extra["superevent_dir_exists"], false);
    assert_eq!(extra["ra"], 17.49);
    assert_eq!(extra["dec"], 16.18);
    assert_eq!(extra["error"], 0.5);
    assert_eq!(extra["pval_generic"], 0.0191);
    assert_eq!(extra["pval_bayesian"], 0.0549);
    assert_eq!(extra["n_events_coincident"], 2.0);
    assert!(extra.get("missing").is_none(), "{extra}");
    assert_eq!(meta["NOTICE"]["ref_ID"], "S230914ak");
}

#[test]
fn what_a_notice_lacks_is_named_not_refused() {
    let bytes = br#"{"$schema":"https://gcn.nasa.gov/schema/main/gcn/notices/icecube/lvk_nu_track_search.schema.json",
        "ref_ID":"MS230914ak","alert_datetime":"2023-09-14T11:49:16Z","pval_generic":"high"}"#;
    let n = Notice::parse(Kind::Icecube, bytes).unwrap();
    assert_eq!(n.targets[0].folder, Folder::Event("MS230914ak".into()));
    assert_eq!(
        n.missing,
        [
            "pval_generic",
            "pval_bayesian",
            "n_events_coincident",
            "most_probable_direction"
        ]
    );
    assert_eq!(
        n.meta(&n.targets[0], None)["EXTRA"]["missing"][1],
        "pval_bayesian"
    );
}

#[test]
fn names_that_become_paths_must_be_plain() {
    let cases: [(Kind, &str, &str); 6] = [
        (
            Kind::Icecube,
            r#"{"ref_ID":"../x","alert_datetime":"2023-01-01T00:00:00Z"}"#,
            "ref_ID",
        ),
        (
            Kind::Icecube,
            r#"{"ref_ID":"GRB230101A","alert_datetime":"2023-01-01T00:00:00Z"}"#,
            "ref_ID",
        ),
        (
            Kind::EinsteinProbe,
            r#"{"id":["a/b"],"trigger_time":"2023-01-01T00:00:00Z"}"#,
            "id[0]",
        ),
        (
            Kind::SwiftGuano,
            r#"{"id":["1"],"alert_type":"../up","alert_datetime":"2023-01-01T00:00:00Z"}"#,
            "alert_type",
        ),
        (
            Kind::Circular,
            r#"{"circularId":-1,"createdOn":0}"#,
            "circularId",
        ),
        (
            Kind::Boom,
            r#"{"alert_datetime":"2023-01-01T00:00:00Z","data":{"targets":[{"event_name":".hidden","gcn_crossmatch":[{"ref_ID":"S230101a"}]}]}}"#,
            "event_name",
        ),
    ];
    for (kind, json, field) in cases {
        let err = Notice::parse(kind, json.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains(field), "{kind} {json}: {err}");
    }
    let no_time = Notice::parse(Kind::Icecube, br#"{"ref_ID":"S230101a"}"#).unwrap_err();
    assert!(
        no_time
            .to_string()
            .contains("alert_datetime or trigger_time"),
        "{no_time}"
    );
}

#[test]
fn dashes_far_times_and_long_lists_are_refused_naming_the_field() {
    let ids: Vec<String> = (0..200)
        .map(|i| {
            format!(
                "S2301{:02}{}",
                i % 28 + 1,
                ["a", "b", "c", "d", "e", "f", "g", "h"][i / 28]
            )
        })
        .collect();
    let many = format!(
        r#"{{"circularId":1,"createdOn":1684454400000,"subject":"{}"}}"#,
        ids.join(" ")
    );
    let cases: Vec<(Kind, String, &str)> = vec![
        (
            Kind::Circular,
            r#"{"circularId":"-rf","createdOn":1684454400000}"#.into(),
            "field `circularId`: \"-rf\" begins with `-`",
        ),
        (
            Kind::Circular,
            r#"{"circularId":7,"createdOn":8210266876799999}"#.into(),
            "field `createdOn`: +262142-12-31T23:59:59Z is not a time between",
        ),
        (
            Kind::Circular,
            r#"{"circularId":7,"createdOn":"1970-01-01T00:00:00Z"}"#.into(),
            "field `createdOn`",
        ),
        (
            Kind::Icecube,
            r#"{"ref_ID":"S230101a","alert_datetime":"2101-01-01T00:00:00Z"}"#.into(),
            "field `alert_datetime`",
        ),
        (
            Kind::EinsteinProbe,
            r#"{"id":["--help"],"trigger_time":"2023-01-01T00:00:00Z"}"#.into(),
            "field `id[0]`",
        ),
        (
            Kind::SwiftGuano,
            r#"{"id":["1"],"alert_type":"-x","alert_datetime":"2023-01-01T00:00:00Z"}"#.into(),
            "field `alert_type`",
        ),
        (
            Kind::Boom,
            r#"{"alert_datetime":"2023-01-01T00:00:00Z","data":{"targets":[{"event_name":"-ZTF1","gcn_crossmatch":[{"ref_ID":"S230101a"}]}]}}"#.into(),
            "event_name",
        ),
        (
            Kind::Circular,
            many,
            "field `eventId/subject`: 200 superevents named: more than the 32",
        ),
    ];
    for (kind, json, reason) in cases {
        let err = Notice::parse(kind, json.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains(reason), "{kind} {json}: {err}");
    }
}

#[test]
fn circulars_go_to_every_superevent_they_name() {
    let n = parse("circulars.example.json");
    assert_eq!(n.targets.len(), 1);
    assert_eq!(n.targets[0].folder, Folder::Circular("33603".into()));
    assert_eq!(n.dir_name(&n.targets[0]), "20240612T171629_circular");
    let bytes = br#"{"$schema":"https://gcn.nasa.gov/schema/main/gcn/circulars.schema.json",
        "eventId":"LIGO/Virgo/KAGRA S230518h","subject":"LIGO/Virgo/KAGRA S230518h and MS230519a: SN 2023ixf S1234567a",
        "circularId":33810,"createdOn":1684454400000,"body":"x","submitter":"y"}"#;
    let n = Notice::parse(Kind::Circular, bytes).unwrap();
    let folders: Vec<_> = n.targets.iter().map(|t| t.folder.clone()).collect();
    assert_eq!(
        folders,
        [
            Folder::Event("S230518h".into()),
            Folder::Event("MS230519a".into())
        ]
    );
    assert_eq!(n.targets[0].alert_type, "circular-33810");
    let extra = &n.meta(&n.targets[1], Some(true))["EXTRA"];
    assert_eq!(extra["circular_id"], "33810");
    assert_eq!(extra["superevent_id"], "MS230519a");
    assert_eq!(extra["event_id"], "LIGO/Virgo/KAGRA S230518h");
}

#[test]
fn boom_makes_one_directory_per_crossmatched_target() {
    let n = parse("boom_alert.example.json");
    assert_eq!(n.targets.len(), 1);
    let t = &n.targets[0];
    assert_eq!(t.folder, Folder::Event("S251117bs".into()));
    assert_eq!(n.dir_name(t), "20251130T102857_boom-ZTF25acffkdr");
    let extra = &n.meta(t, Some(true))["EXTRA"];
    assert_eq!(extra["event_name"], "ZTF25acffkdr");
    assert_eq!(extra["classification"], "Type II");
    assert_eq!(extra["ra"], 150.175649);
    let none = br#"{"alert_datetime":"2023-01-01T00:00:00Z","data":{"targets":[{"event_name":"ZTF1","gcn_crossmatch":[]}]}}"#;
    assert!(Notice::parse(Kind::Boom, none).is_err());
}

#[test]
fn transients_go_under_their_kind_and_id() {
    let ep = parse("einstein_probe_wxt_alert.example.json");
    let t = &ep.targets[0];
    assert_eq!(
        t.folder,
        Folder::Transient(Kind::EinsteinProbe, "01708973486".into())
    );
    assert_eq!(ep.dir_name(t), "20240301T214605_alert");
    let extra = &ep.meta(t, None)["EXTRA"];
    assert_eq!(extra["error"], 0.02);
    assert_eq!(extra["image_snr"], 1.0);
    assert!(extra.get("superevent_id").is_none());

    let guano = parse("swift_bat_guano.loc_arc_min.example.json");
    let t = &guano.targets[0];
    assert_eq!(
        t.folder,
        Folder::Transient(Kind::SwiftGuano, "694215995".into())
    );
    assert_eq!(guano.dir_name(t), "20230101T053301_update");
    let extra = &guano.meta(t, None)["EXTRA"];
    assert_eq!(extra["far"], 0.00001);
    assert_eq!(extra["rate_snr"], 15.8);
    assert_eq!(extra["error"], 0.5);

    let retraction = parse("swift_bat_Guano.Retraction.example.json");
    assert_eq!(retraction.targets[0].alert_type, "retraction");
    assert!(retraction.missing.is_empty());
    assert!(retraction.targets[0].position.is_none());
}

#[test]
fn guano_maps_are_decoded_and_left_out_of_the_notice() {
    let bad = example("swift_bat_guano.loc_map.example.json");
    let err = Notice::parse(Kind::SwiftGuano, &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("healpix_file"), "{err}");
    let good = String::from_utf8(bad)
        .unwrap()
        .replace("hhhh...", "U0lNUExFICA9");
    let n = Notice::parse(Kind::SwiftGuano, good.as_bytes()).unwrap();
    assert_eq!(n.healpix.as_deref(), Some(&b"SIMPLE  ="[..]));
    assert_eq!(
        n.document["healpix_file"],
        "<decoded to skymap.fits, 9 bytes>"
    );
}

#[test]
fn heartbeat_directories_say_since_when() {
    let since = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    let silent = Notice::heartbeat(since, None);
    assert_eq!(silent.targets[0].folder, Folder::Feed);
    assert_eq!(
        silent.dir_name(&silent.targets[0]),
        "20231114T221320_silent"
    );
    let back = Notice::heartbeat(since, Some(since + chrono::Duration::minutes(7)));
    let extra = &back.meta(&back.targets[0], None)["EXTRA"];
    assert_eq!(extra["silent_since"], "2023-11-14T22:13:20Z");
    assert_eq!(extra["back_at"], "2023-11-14T22:20:20Z");
    assert_eq!(back.dir_name(&back.targets[0]), "20231114T222020_back");
}

#[test]
fn superevent_ids_are_whole_words() {
    assert_eq!(
        superevent_ids_in("LIGO/Virgo/KAGRA S230518h: x"),
        ["S230518h"]
    );
    assert_eq!(
        superevent_ids_in("MS240101abc, S240101a S240101a"),
        ["MS240101abc", "S240101a"]
    );
    assert!(
        superevent_ids_in("SN 2023ixf, GRB 230410A, S2305181h, XS230518h, S230518H").is_empty()
    );
}

//! Mock alerts through the import path: the credible area and the most
//! probable position that the pipeline computes are what the generator meant.

use chrono::Utc;
use gocart_ingest::alert::{Message, Outcome, Pipeline};
use gocart_ingest::mock::{self, Group, Options};
use gocart_shared::{Settings, Source};

fn pipeline(tree: &std::path::Path) -> Pipeline {
    let yaml = format!(
        "lvk:\n  download_dir: {}\n  aitoff: {{convert: false}}\n  ascii_map: {{convert: false}}\n",
        tree.display()
    );
    Pipeline::new(Settings::parse(&yaml, std::path::Path::new("test.yaml")).unwrap())
}

#[test]
fn mock_maps_are_what_the_generator_intended() {
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(&dir.path().join("tree"));
    let mut checked = 0;
    for (seed, group) in [
        (1, Group::Cbc),
        (2, Group::Burst),
        (5, Group::Cbc),
        (11, Group::Cbc),
    ] {
        let options = Options {
            count: 3,
            group: Some(group),
            seed,
            now: Utc::now(),
        };
        for alert in mock::generate(&options, &dir.path().join("scratch")).unwrap() {
            let message = Message {
                bytes: alert.message.clone(),
                source: Source::Mock { mock: seed },
            };
            let outcome = pipeline.ingest(&message, &mut std::io::sink());
            let Outcome::Written(dir) = outcome else {
                panic!("{}", outcome.describe())
            };
            let Some(intended) = alert.intended() else {
                continue;
            };
            let meta: serde_json::Value =
                serde_saphyr::from_str(&std::fs::read_to_string(dir.join("meta.yaml")).unwrap())
                    .unwrap();
            let extra = &meta["EXTRA"];
            let area90 = extra["area90"].as_f64().unwrap();
            assert!(
                (area90 / intended.area90 - 1.0).abs() < 0.05,
                "{}: area90 {area90} vs intended {}",
                alert.superevent_id,
                intended.area90
            );
            let coords: Vec<f64> = extra["central coordinate"]["equatorial"]
                .as_str()
                .unwrap()
                .split(' ')
                .map(|x| x.parse().unwrap())
                .collect();
            let off = gocart_ingest::skymap::synth::angular_distance_deg(
                coords[0],
                coords[1],
                intended.ra,
                intended.dec,
            );
            // A wide arc's maximum is flat along it and its pixels coarser
            // (mock maps have a pixel budget, as BAYESTAR's): 2% of the
            // region's size, at least 1°.
            let tolerance = (0.02 * intended.area90.sqrt()).max(1.0);
            assert!(
                off < tolerance,
                "{}: peak {coords:?} is {off}° from {intended:?}",
                alert.superevent_id
            );
            let has_distance = meta["HEADER"].get("DISTMEAN").is_some();
            assert_eq!(has_distance, group == Group::Cbc);
            checked += 1;
        }
    }
    assert!(checked >= 8, "{checked}");
}

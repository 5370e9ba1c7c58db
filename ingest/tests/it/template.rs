//! The plugin template users copy (`plugins/gp_template.py`), run with real
//! Python on a directory of every kind gocart-ingest writes: LVK alerts and
//! the dossier from `mock --dossier`, the gcn-schema examples through
//! `import`, and a heartbeat directory through the pipeline `listen` uses.
//! Users copy it to start a plugin of any kind: it must not crash on one.

use std::path::{Path, PathBuf};
use std::process::Command;

use gocart_ingest::alert::notice::Notice;
use gocart_ingest::alert::{Message, Pipeline};
use gocart_shared::marker::Source;
use gocart_shared::{Kind, Marker, Settings};
use gocart_tests::notices;

use crate::common::Env;

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/gp_template.py")
}

/// Every complete directory of the tree, with its marker.
fn complete(dir: &Path, found: &mut Vec<(PathBuf, Marker)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|e| e.path()) {
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden || !path.is_dir() {
            continue;
        }
        match Marker::read(&path) {
            Ok(marker) => found.push((path, marker)),
            Err(_) => complete(&path, found),
        }
    }
}

/// A heartbeat directory, written as `listen` writes one when GCN's
/// heartbeat goes silent (no broker needed).
fn write_heartbeat(settings: &Path) {
    let settings = Settings::load(settings).unwrap();
    let pipeline = Pipeline::new(settings);
    let since = chrono::DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let notice = Notice::heartbeat(since, None);
    let message = Message {
        bytes: serde_json::to_vec_pretty(&notice.document).unwrap(),
        source: Source::Kafka {
            topic: "gcn.heartbeat".into(),
            partition: 0,
            offset: 0,
        },
    };
    let outcome = pipeline.write_notice(&notice, &message, &mut Vec::new());
    assert!(outcome.describe().starts_with("WRITTEN"), "{outcome:?}");
}

#[test]
fn the_template_runs_on_a_directory_of_every_kind() {
    let Some(examples) = notices::examples("the_template_runs_on_a_directory_of_every_kind") else {
        return;
    };
    let env = Env::new("  json: true\n");
    env.command()
        .args(["mock", "--count", "3", "--seed", "21", "--dossier"])
        .output()
        .map(crate::common::Run::from)
        .unwrap()
        .assert_status(0);
    env.import(&examples.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    write_heartbeat(&env.settings);
    let mut dirs = Vec::new();
    complete(&env.tree, &mut dirs);

    let mut seen = std::collections::BTreeSet::new();
    for (dir, marker) in &dirs {
        let out = Command::new("python3")
            .arg(template())
            .arg(dir)
            .env("GOCART_SETTINGS", &env.settings)
            .env_remove("GOCART_ALERT_DIR")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: exit {:?}\n{stdout}{}",
            dir.display(),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut lines = stdout.lines();
        let first = lines.next().unwrap_or_default();
        let name = dir.file_name().unwrap().to_string_lossy();
        let folder = dir.parent().unwrap().file_name().unwrap().to_string_lossy();
        let expected = if marker.kind == Kind::Lvk {
            // Exactly the original's line (DESIGN.md, "Plugins").
            format!(
                "Here are the alert files generated from {} alert of event {}:",
                marker.alert_type, marker.superevent_id
            )
        } else {
            format!(
                "Here are the files generated from the {} message {name} of {folder}:",
                marker.kind
            )
        };
        assert_eq!(first, expected, "{}", dir.display());
        // Then the visible files, the marker never among them.
        let listed: Vec<&str> = lines.collect();
        assert!(listed.contains(&"meta.yaml"), "{listed:?}");
        assert!(!listed.contains(&".gocart-complete"), "{listed:?}");
        seen.insert(marker.kind);
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        Kind::ALL.to_vec(),
        "a directory of every kind"
    );
}

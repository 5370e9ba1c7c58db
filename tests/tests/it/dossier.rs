//! The dossier end to end: messages of the kinds that live outside a
//! superevent's folder (`circulars/`, `transients/<kind>/`) imported by
//! `gocart-ingest`, and a `gocart-trigger` plugin with those `kinds` run on
//! each directory once; a plugin with no entry (LVK only) on none of them.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use gocart_tests::notices::{circular, einstein_probe, swift_guano};
use gocart_tests::process::Trigger;
use gocart_tests::{binaries, wait_until, with_settings};

/// The messages are from 2023-2024: `catch_up` is set wide, or the first
/// start would skip them as old alerts (it judges the alert's own time).
fn settings(dir: &Path) -> String {
    format!(
        "lvk:\n  parse_mock_events: true\n  download_dir: {d}/tree\n  aitoff: {{convert: false}}\n  ascii_map: {{convert: false}}\n\
         trigger:\n  plugins_dir: {d}/plugins\n  state_dir: {d}/state\n  timeout: 30\n  catch_up: 36500d\n  concurrency: 2\n  plugins:\n    gp_gcn.sh:\n      kinds: [circular, einstein_probe, swift_guano]\n",
        d = dir.display()
    )
}

fn plugin(dir: &Path, name: &str) {
    let path = dir.join("plugins").join(name);
    let log = dir.join("runs.log");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"{name} $GOCART_KIND $1\" >> '{}'\n",
            log.display()
        ),
    )
    .unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
}

#[test]
fn directories_outside_superevents_are_run_by_the_plugins_of_their_kind() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(base.join("plugins")).unwrap();
    let config = base.join("gocart.yaml");
    std::fs::write(&config, settings(&base)).unwrap();
    plugin(&base, "gp_gcn.sh");
    plugin(&base, "gp_lvk_only.sh");

    let messages = [
        circular(
            40001,
            "GRB 240101A: Swift detection",
            Some("GRB 240101A"),
            1_704_067_200_000,
        ),
        einstein_probe("01708973486", "2024-03-01T21:46:05.13Z", 120.0, 40.0, 0.02),
        swift_guano(
            "694215995",
            "initial",
            "2023-01-01T03:24:36Z",
            Some((336.26, 25.139, 0.5)),
            None,
        ),
    ];
    let files: Vec<String> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let file = base.join(format!("message-{i}.json"));
            std::fs::write(&file, serde_json::to_vec(m).unwrap()).unwrap();
            file.display().to_string()
        })
        .collect();
    let out = with_settings(&binaries().ingest, &config)
        .arg("import")
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let tree = gocart_shared::Tree::new(base.join("tree"));
    let dirs = tree.complete_alert_dirs();
    let under = |folder: &str| {
        dirs.iter()
            .filter(|d| d.starts_with(base.join("tree").join(folder)))
            .count()
    };
    assert_eq!(dirs.len(), 3, "{dirs:?}");
    assert_eq!(
        (under("circulars"), under("transients")),
        (1, 2),
        "{dirs:?}"
    );

    let stderr = base.join("trigger.err");
    let mut command = with_settings(&binaries().trigger, &config);
    command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
    let trigger = Trigger::spawn(&mut command, stderr);
    let log = base.join("runs.log");
    let lines = || std::fs::read_to_string(&log).unwrap_or_default();
    let ran = wait_until(Duration::from_secs(30), || lines().lines().count() >= 3);
    // A moment more, so that a run that should not happen would show.
    std::thread::sleep(Duration::from_secs(2));
    let mut got: Vec<String> = lines().lines().map(str::to_string).collect();
    got.sort();
    let mut want: Vec<String> = dirs
        .iter()
        .map(|d| {
            let kind = gocart_shared::Marker::read(d).unwrap().kind;
            format!("gp_gcn.sh {kind} {}", d.display())
        })
        .collect();
    want.sort();
    assert!(
        ran && got == want,
        "ran:\n{got:#?}\nwanted:\n{want:#?}\n{}",
        trigger.log()
    );
    assert!(trigger.stop(), "the trigger did not stop cleanly");
}

//! `import` says what happened to every path it was given: each outcome line
//! names its file, a missing path is reported without stopping the others,
//! and a folder's entries that are not alerts, or an empty folder, are said.

use crate::common;

use common::{synthetic_alert, Env};

const CREATED: &str = "2023-04-24T00:02:04Z";

/// The outcome line (`WRITTEN: `, `REJECTED: `...) printed for `file`.
fn outcome_line<'a>(stdout: &'a str, verdict: &str, file: &std::path::Path) -> Option<&'a str> {
    let from = format!(
        "(from {})",
        file.canonicalize().unwrap_or(file.into()).display()
    );
    stdout
        .lines()
        .find(|l| l.starts_with(verdict) && l.ends_with(&from))
}

#[test]
fn every_outcome_line_names_its_file() {
    let env = Env::new("  parse_mock_events: false\n");
    let inbox = env.dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    let written = inbox.join("a-real.json");
    std::fs::write(
        &written,
        synthetic_alert("S230424a", "PRELIMINARY", CREATED),
    )
    .unwrap();
    let rejected = inbox.join("b-broken.json");
    std::fs::write(&rejected, b"{\"superevent_id\": ").unwrap();
    let skipped = inbox.join("c-mock.json");
    std::fs::write(
        &skipped,
        synthetic_alert("MS230424b", "PRELIMINARY", CREATED),
    )
    .unwrap();
    let run = env.import(&[&inbox, &written]);
    run.assert_status(1);
    for (verdict, file) in [
        ("WRITTEN: ", &written),
        ("REJECTED: ", &rejected),
        ("SKIPPED: ", &skipped),
        ("UNCHANGED: ", &written),
    ] {
        assert!(
            outcome_line(&run.stdout, verdict, file).is_some(),
            "no {verdict} line naming {}:\n{}",
            file.display(),
            run.stdout
        );
    }
}

#[test]
fn a_missing_path_is_reported_and_the_others_are_imported() {
    let env = Env::new("");
    let missing = env.dir.path().join("missing.json");
    let good = env.dir.path().join("good.json");
    std::fs::write(&good, synthetic_alert("S230424c", "INITIAL", CREATED)).unwrap();
    let run = env.import(&[&missing, &good]);
    run.assert_status(1)
        .assert_says("2 alerts: 1 written, 0 unchanged, 0 skipped, 0 rejected, 1 failed");
    let line = outcome_line(&run.stdout, "FAILED: ", &missing)
        .unwrap_or_else(|| panic!("no FAILED line for the missing path:\n{}", run.stdout));
    assert!(line.contains("no such file or folder"), "{line}");
    assert!(
        outcome_line(&run.stdout, "WRITTEN: ", &good).is_some(),
        "{}",
        run.stdout
    );
    assert_eq!(env.alert_dirs().len(), 1);
}

#[test]
fn a_folder_says_what_it_skipped_and_an_empty_one_is_warned_about() {
    let env = Env::new("");
    let inbox = env.dir.path().join("inbox");
    std::fs::create_dir_all(inbox.join("older")).unwrap();
    std::fs::write(inbox.join("notes.txt"), "not an alert").unwrap();
    let good = inbox.join("good.json");
    std::fs::write(&good, synthetic_alert("S230424d", "INITIAL", CREATED)).unwrap();
    let empty = env.dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let only_other = env.dir.path().join("other");
    std::fs::create_dir(&only_other).unwrap();
    std::fs::write(only_other.join("map.fits"), "SIMPLE").unwrap();

    let run = env.import(&[&inbox, &empty, &only_other]);
    run.assert_status(0)
        .assert_says("1 alert: 1 written, 0 unchanged, 0 skipped, 0 rejected, 0 failed");
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("gocart-ingest: warning: "))
        .collect();
    let says = |parts: &[&str]| warnings.iter().any(|w| parts.iter().all(|p| w.contains(p)));
    assert!(
        says(&[
            &format!("{}/", inbox.display()),
            "skipped 2 entries: notes.txt, older/"
        ]),
        "{warnings:?}"
    );
    assert!(
        says(&[&format!("{}/ is empty", empty.display())]),
        "{warnings:?}"
    );
    assert!(
        says(&[
            &format!("{}/ holds no *.json file", only_other.display()),
            "1 entry: map.fits"
        ]),
        "{warnings:?}"
    );
}

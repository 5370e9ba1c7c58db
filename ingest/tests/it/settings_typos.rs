//! A typo in the settings file is warned about, naming the file, the line and
//! the key meant, and the file is still accepted: a `downlaod_dir` used to
//! send alerts silently into the default `~/lvk_events`.

use crate::common;

use common::{synthetic_alert, Env};

#[test]
fn import_with_a_mistyped_download_dir_names_file_line_and_suggestion() {
    let env = Env::with_settings(
        "lvk:\n  download_dir: TREE\n  parse_real_events: true\n  aitoff: {convert: false}\n  downlaod_dir: /elsewhere\n  parse_mock_event: true\n",
    );
    let home = env.dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let inbox = env.dir.path().join("a.json");
    std::fs::write(
        &inbox,
        synthetic_alert("S230424a", "PRELIMINARY", "2023-04-24T00:02:04Z"),
    )
    .unwrap();
    let output = env
        .command()
        .env("HOME", &home)
        .arg("import")
        .arg(&inbox)
        .output()
        .unwrap();
    let run = common::Run::from(output);
    run.assert_status(0);
    let file = env.settings.display();
    let expected = [
        format!("gocart-ingest: warning: {file}:5: lvk.downlaod_dir is not a setting; did you mean download_dir?"),
        format!("gocart-ingest: warning: {file}:6: lvk.parse_mock_event is not a setting; did you mean parse_mock_events?"),
    ];
    for line in &expected {
        assert_eq!(
            run.stderr.matches(line.as_str()).count(),
            1,
            "once: {line}\nstderr:\n{}",
            run.stderr
        );
    }
    // Still a warning, not a refusal: the alert went where download_dir says.
    assert_eq!(env.alert_dirs().len(), 1, "{}", run.stdout);
    assert!(!home.join("lvk_events").exists());
}

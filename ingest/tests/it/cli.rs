//! The command line: `init`, settings errors, usage errors, exit statuses.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

fn ingest() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gocart-ingest"));
    c.env_remove("GOCART_SETTINGS");
    c
}

#[test]
fn init_writes_a_private_commented_settings_file_and_never_overwrites_it() {
    let home = tempfile::tempdir().unwrap();
    let init = || -> common::Run {
        ingest()
            .env("HOME", home.path())
            .arg("init")
            .output()
            .unwrap()
            .into()
    };
    let run = init();
    run.assert_status(0);
    let path = home.path().join(".config/gocart/gocart.yaml");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("# DOWNLOAD MOCK EVENT ALERTS?") && text.contains("client_secret: XXXX"));
    let template = home.path().join(".config/gocart/plugins/gp_template.py");
    assert!(std::fs::read_to_string(&template)
        .unwrap()
        .contains("def plugin("));
    std::fs::write(&template, "# my own edits\n").unwrap();

    std::fs::write(&path, "lvk: {json: true}\n").unwrap();
    let run = init();
    run.assert_status(0).assert_says("never overwrites");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "lvk: {json: true}\n"
    );
}

#[test]
fn a_settings_error_names_the_key_and_the_file_and_exits_2() {
    let env = common::Env::with_settings("lvk:\n  ascii_map: {nside: 100}\n");
    let a = env.dir.path().join("a.json");
    std::fs::write(&a, "{}").unwrap();
    let run = env.import(&[&a]);
    run.assert_status(2);
    assert!(
        run.stderr.contains("lvk.ascii_map.nside")
            && run.stderr.contains(&env.settings.display().to_string()),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_settings_file_says_to_run_init() {
    let run: common::Run = ingest()
        .args(["-s", "/nonexistent/gocart.yaml", "import", "-"])
        .output()
        .unwrap()
        .into();
    run.assert_status(2);
    assert!(run.stderr.contains("gocart-ingest init"), "{}", run.stderr);
}

#[test]
fn import_without_a_path_is_a_usage_error() {
    let env = common::Env::new("");
    let run: common::Run = env.command().arg("import").output().unwrap().into();
    run.assert_status(2);
}

#[test]
fn help_explains_the_commands() {
    let run: common::Run = ingest().arg("--help").output().unwrap().into();
    run.assert_status(0)
        .assert_says("import")
        .assert_says("init");
    let run: common::Run = ingest().args(["import", "--help"]).output().unwrap().into();
    run.assert_status(0).assert_says("Exit status");
}

#[test]
fn mock_writes_realistic_alerts_reproducibly() {
    let ids = |seed: &str| {
        let env = common::Env::new("");
        let run: common::Run = env
            .command()
            .args(["mock", "--count", "5", "--seed", seed])
            .output()
            .unwrap()
            .into();
        run.assert_status(0).assert_says("5 alerts: 5 written");
        let dirs = env.alert_dirs();
        assert_eq!(dirs.len(), 5);
        let marker = gocart_shared::Marker::read_checked(&dirs[0]).unwrap();
        assert_eq!(
            marker.source,
            gocart_shared::Source::Mock {
                mock: seed.parse().unwrap()
            }
        );
        dirs.iter()
            .map(|d| {
                d.strip_prefix(&env.tree)
                    .unwrap()
                    .parent()
                    .unwrap()
                    .to_path_buf()
            })
            .collect::<Vec<_>>()
    };
    let first = ids("3");
    assert!(first.iter().all(|p| p.starts_with("mockevents")));
    assert_eq!(ids("3"), first, "the same seed gives the same events");
}

#[test]
fn mock_never_publishes_to_gcn() {
    let env = common::Env::new("");
    let run: common::Run = env
        .command()
        .args(["mock", "--publish"])
        .output()
        .unwrap()
        .into();
    run.assert_status(2);
    assert!(
        run.stderr.contains("refusing to publish to GCN"),
        "{}",
        run.stderr
    );
}

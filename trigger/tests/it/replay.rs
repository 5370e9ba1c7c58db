//! The first start's `catch_up`, `replay` and `status`.

use crate::common;

use std::time::Duration;

use chrono::Utc;
use common::{expected, quiet_period, Env};

const WITHIN: Duration = Duration::from_secs(20);

#[test]
fn the_first_start_skips_old_alerts_and_replay_runs_them() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    env.logging_plugin("gp_b");
    let old = env.alert_written_at(
        "MS1",
        "20230101T000000_initial",
        Utc::now() - chrono::Duration::days(3),
    );
    let recent = env.alert_written_at(
        "MS2",
        "20230101T000000_initial",
        Utc::now() - chrono::Duration::hours(1),
    );
    let trigger = env.start(&[]);
    assert!(env.wait_runs(2, WITHIN), "{}", trigger.log());
    quiet_period();
    let log = trigger.log();
    assert!(trigger.stop());
    assert!(
        log.contains("1 skipped as older than trigger.catch_up"),
        "{log}"
    );
    assert_eq!(
        env.runs(),
        expected(&[("gp_a", &recent), ("gp_b", &recent)])
    );
    let status = env.status();
    assert!(status.contains("skipped 2"), "{status}");
    assert!(status.contains("1 skipped at the first start"), "{status}");

    // A restart is not a first start: nothing more runs.
    let trigger = env.start(&[]);
    assert!(common::wait_until(WITHIN, || trigger
        .log()
        .contains("to run")));
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(env.runs().len(), 2);

    let dry = env.command(&["replay", "--dry-run"]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains(&format!("would run gp_a on {}", old.display())),
        "{text}"
    );
    assert_eq!(env.runs().len(), 2, "a dry run runs nothing");

    let out = env.command(&["replay", "--plugin", "gp_a"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.runs(),
        expected(&[("gp_a", &recent), ("gp_b", &recent), ("gp_a", &old)])
    );
    // Replay again: everything due has run; only gp_b on the old one is left.
    let out = env.command(&["replay"]);
    assert!(out.status.success());
    assert_eq!(env.runs().len(), 4);
    let out = env.command(&["replay"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 runs"));
    // --force with filters runs again what already ran.
    let out = env.command(&[
        "replay",
        "--force",
        "--event",
        "ms2",
        "--alert-type",
        "initial",
    ]);
    assert!(out.status.success());
    assert_eq!(env.runs().len(), 6);
    let status = env.status();
    assert!(status.contains("ok 4"), "{status}");
    assert!(status.contains("skipped 0"), "{status}");
}

/// `catch_up` goes by the alert's own time: 2018 alerts imported into a new
/// tree today (written now, created in 2018) are old alerts, not due runs.
#[test]
fn the_first_start_judges_age_by_the_alert_not_the_directory() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    let imported = env.alert("MS181101ab", "20181101T222846_initial");
    let marker_path = imported.join(gocart_shared::MARKER_NAME);
    let mut marker: gocart_shared::Marker =
        serde_json::from_slice(&std::fs::read(&marker_path).unwrap()).unwrap();
    marker.time_created = "2018-11-01T22:28:46Z".into();
    std::fs::write(&marker_path, marker.to_json()).unwrap();
    let fresh = env.alert("MS2", "20230101T000000_initial");
    let trigger = env.start(&[]);
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    quiet_period();
    let log = trigger.log();
    assert!(trigger.stop());
    assert!(
        log.contains("1 skipped as older than trigger.catch_up"),
        "{log}"
    );
    assert_eq!(env.runs(), expected(&[("gp_a", &fresh)]));
}

#[test]
fn replay_of_a_path_and_since() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    let a = env.alert_written_at(
        "MS1",
        "20230101T000000_initial",
        Utc::now() - chrono::Duration::days(10),
    );
    let b = env.alert_written_at(
        "MS2",
        "20230101T000000_initial",
        Utc::now() - chrono::Duration::days(2),
    );
    let out = env.command(&["replay", a.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(env.runs(), expected(&[("gp_a", &a)]));
    let out = env.command(&["replay", "--since", "5d"]);
    assert!(out.status.success());
    assert_eq!(env.runs(), expected(&[("gp_a", &a), ("gp_a", &b)]));
    let out = env.command(&["replay", "/nonexistent/dir"]);
    assert!(!out.status.success());
}

#[test]
fn a_failed_replay_run_exits_1_and_status_shows_its_output() {
    let env = Env::new();
    env.plugin("gp_fail", "echo 'something went wrong here' >&2\nexit 3");
    env.alert("MS1", "20230101T000000_initial");
    let out = env.command(&["replay"]);
    assert_eq!(out.status.code(), Some(1));
    let status = env.status();
    assert!(status.contains("failed 1"), "{status}");
    assert!(status.contains("exit 3"), "{status}");
    assert!(status.contains("| something went wrong here"), "{status}");
}

/// A mistyped `--plugin` or an event without a directory used to run
/// nothing and exit 0: now a usage error naming what was not found, with
/// the closest plugin name.
#[test]
fn replay_of_a_plugin_or_event_that_does_not_exist_is_an_error() {
    let env = Env::new();
    env.logging_plugin("gp_template.py");
    env.logging_plugin("gp_other.sh");
    env.alert("MS1", "20230101T000000_initial");
    let out = env.command(&["replay", "--plugin", "gp_tempate.py"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--plugin gp_tempate.py matches none of the plugins")
            && stderr.contains("did you mean gp_template.py?"),
        "{stderr}"
    );
    let out = env.command(&["replay", "--event", "MS999999zz"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no directory matches --event MS999999zz"),
        "{stderr}"
    );
    assert!(env.runs().is_empty(), "nothing ran");
}

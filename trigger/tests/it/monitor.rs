//! `gocart-trigger status` as a monitor: whether a trigger runs and is
//! fresh (the status file `watch` keeps), queued runs apart from running
//! ones, failures of the last 24 h, refused plugins, runs of plugins gone
//! from the folder (`orphaned`), and an exit status a monitor can use.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{wait_until, Env};
use serde_json::Value;

const WITHIN: Duration = Duration::from_secs(20);

fn problems(json: &Value) -> String {
    json["problems"].to_string()
}

#[test]
fn status_exits_1_when_no_trigger_runs() {
    let env = Env::new();
    let (json, code) = env.status_json();
    assert_eq!(code, 1);
    assert_eq!(json["healthy"], false);
    assert_eq!(json["trigger"]["running"], false);
    assert!(problems(&json).contains("no trigger is running"), "{json}");
    let text = env.status();
    assert!(
        text.contains("trigger: not running (no trigger has run"),
        "{text}"
    );
    assert!(text.contains("NOT WELL: no trigger is running"), "{text}");

    // One that ran and stopped says so.
    let trigger = env.start(&[]);
    assert!(
        wait_until(WITHIN, || env.status_json().1 == 0),
        "{}",
        trigger.log()
    );
    assert!(trigger.stop());
    let (json, code) = env.status_json();
    assert_eq!(code, 1);
    assert!(problems(&json).contains("it stopped at"), "{json}");
}

#[test]
fn status_exits_0_when_a_trigger_runs_fresh_and_nothing_failed() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    let trigger = env.start(&[]);
    env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    assert!(
        wait_until(WITHIN, || env.status_json().1 == 0),
        "{}",
        env.status()
    );
    let (json, _) = env.status_json();
    assert_eq!(json["healthy"], true);
    assert_eq!(json["trigger"]["running"], true);
    assert_eq!(json["trigger"]["fresh"], true);
    assert_eq!(json["trigger"]["pid"], trigger.pid());
    assert!(json["trigger"]["last_scan"].is_string(), "{json}");
    assert_eq!(json["runs"]["ok"], 1);
    assert_eq!(json["failed_last_24h"], serde_json::json!([]));
    let text = env.status();
    assert!(
        text.contains(&format!("trigger: running (pid {}", trigger.pid())),
        "{text}"
    );
    assert!(text.trim_end().ends_with("all well"), "{text}");
    assert!(trigger.stop());
}

#[test]
fn status_exits_1_with_a_run_failed_in_the_last_24_hours() {
    let env = Env::new();
    env.plugin("gp_fail", "echo oops >&2\nexit 3");
    env.logging_plugin("gp_ok");
    let trigger = env.start(&[]);
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    assert!(wait_until(WITHIN, || env.status().contains("failed 1")));
    let (json, code) = env.status_json();
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["trigger"]["running"], true);
    let failed = &json["failed_last_24h"][0];
    assert_eq!(failed["plugin"], "gp_fail");
    assert_eq!(failed["dir"], dir.display().to_string());
    assert_eq!(failed["exit"], "exit 3");
    assert!(failed["ended_at"].is_string(), "{json}");
    assert!(
        problems(&json).contains("1 run failed in the last 24 h"),
        "{json}"
    );
    let text = env.status();
    assert!(text.contains("failed in the last 24 h:"), "{text}");
    assert!(
        text.contains(&format!("gp_fail on {}: exit 3 at ", dir.display())),
        "{text}"
    );
    assert!(trigger.stop());
}

#[test]
fn status_exits_1_when_the_status_file_is_stale_under_a_live_pid() {
    let env = Env::new();
    std::fs::create_dir_all(&env.state).unwrap();
    // A live process (this test) that stopped writing a minute ago: stuck.
    let stale = serde_json::json!({
        "pid": std::process::id(),
        "since": "2026-01-01T00:00:00Z",
        "updated": (chrono::Utc::now() - chrono::Duration::seconds(60)).to_rfc3339(),
    });
    std::fs::write(env.state.join("trigger-watch.json"), stale.to_string()).unwrap();
    let (json, code) = env.status_json();
    assert_eq!(code, 1);
    assert_eq!(json["trigger"]["running"], true);
    assert_eq!(json["trigger"]["fresh"], false);
    assert!(problems(&json).contains("not updated for 6"), "{json}");
}

/// A plugin that hangs, in a lane of one: one run runs, the others are
/// queued, and `status` tells them apart (the record was stamping every
/// claim `running` with its queueing time).
#[test]
fn status_tells_running_runs_from_queued_ones() {
    let env = Env::with_trigger_settings("timeout: 30");
    env.plugin("gp_hang", "echo \"gp_hang $1\" >> \"$LOG\"\nsleep 30");
    let trigger = env.start(&["--stop-wait", "0.2"]);
    let first = env.alert("MS1", "20230101T000000_initial");
    env.alert("MS2", "20230101T000000_initial");
    env.alert("MS3", "20230101T000000_initial");
    let counted = wait_until(WITHIN, || {
        let (json, _) = env.status_json();
        json["runs"]["running"] == 1
            && json["runs"]["queued"] == 2
            && json["trigger"]["queued"] == 2
    });
    assert!(counted, "{}\n{}", env.status(), trigger.log());
    let (json, _) = env.status_json();
    let now = &json["trigger"]["running_now"];
    assert_eq!(now.as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(now[0]["plugin"], "gp_hang");
    assert_eq!(now[0]["dir"], first.display().to_string());
    assert!(now[0]["started"].is_string(), "{json}");
    let text = env.status();
    assert!(text.contains("running 1, queued 2"), "{text}");
    assert!(
        text.contains(&format!("  running gp_hang on {} since ", first.display())),
        "{text}"
    );
    // Only the run that started has a start time in the record; the queued
    // claims come after it, shown queued, with their attempts.
    let last = json["last_runs"].as_array().unwrap();
    let shown: Vec<(&str, bool, u64)> = last
        .iter()
        .map(|r| {
            (
                r["state"].as_str().unwrap(),
                r["started_at"].is_string(),
                r["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            ("running", true, 1),
            ("queued", false, 1),
            ("queued", false, 1)
        ],
        "{json}"
    );
    assert!(trigger.stop());
}

#[test]
fn a_plugin_without_its_execute_bit_is_shown_refused() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    let noexec = env.logging_plugin("gp_noexec");
    std::fs::set_permissions(&noexec, std::fs::Permissions::from_mode(0o644)).unwrap();
    let trigger = env.start(&[]);
    let refused_in_file = wait_until(WITHIN, || {
        std::fs::read_to_string(env.state.join("trigger-watch.json"))
            .is_ok_and(|t| t.contains("gp_noexec") && t.contains("not executable"))
    });
    assert!(refused_in_file, "{}", trigger.log());
    let (json, _) = env.status_json();
    let refused = &json["plugins_refused"];
    assert_eq!(refused.as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(refused[0]["plugin"], "gp_noexec");
    assert!(
        refused[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not executable")),
        "{json}"
    );
    let text = env.status();
    assert!(
        text.contains("plugins refused:\n  gp_noexec: plugin "),
        "{text}"
    );
    assert!(trigger.stop());
}

/// A run interrupted by a stop, whose plugin is then removed, is pending
/// for a plugin that no longer exists: `orphaned`, not `pending`. When the
/// plugin comes back, `replay` runs it.
#[test]
fn runs_of_a_removed_plugin_are_orphaned_and_replay_runs_them_when_it_returns() {
    let env = Env::new();
    let plugin = env.plugin("gp_x", "echo \"gp_x $1\" >> \"$LOG\"\nsleep 30");
    env.logging_plugin("gp_y");
    let trigger = env.start(&["--stop-wait", "0.2"]);
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(2, WITHIN), "{}", trigger.log());
    assert!(
        trigger.stop(),
        "the hung run is killed and left to run again"
    );
    std::fs::remove_file(&plugin).unwrap();
    // The next start makes the interrupted run due again: pending for a
    // plugin that is gone.
    let trigger = env.start(&[]);
    assert!(wait_until(WITHIN, || trigger.log().contains("to run")));
    assert!(trigger.stop());
    let (json, _) = env.status_json();
    assert_eq!(json["runs"]["orphaned"], 1, "{json}");
    assert_eq!(json["runs"]["pending"], 0, "{json}");
    assert_eq!(json["orphaned"][0]["plugin"], "gp_x");
    let text = env.status();
    assert!(text.contains("orphaned: 1 pending run of gp_x"), "{text}");

    env.logging_plugin("gp_x");
    let out = env.command(&["replay", "--plugin", "gp_x"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = std::fs::read_to_string(&env.runlog).unwrap();
    assert_eq!(
        runs.matches(&format!("gp_x {}", dir.display())).count(),
        2,
        "{runs}"
    );
    let (json, _) = env.status_json();
    assert_eq!(json["runs"]["orphaned"], 0, "{json}");
    assert_eq!(json["runs"]["ok"], 2, "{json}");
}

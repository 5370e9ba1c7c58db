//! When runs happen: directories that found no plugin wait for the first one
//! (nothing is recorded as done that did not run), every (directory, plugin)
//! run is independent of the others, and the per-plugin `timeout` and `after`
//! settings. Also what the terminal log and `status --json` say about it.

use crate::common;

use std::time::{Duration, Instant};

use common::{expected, quiet_period, Env};

const WITHIN: Duration = Duration::from_secs(20);

/// `status --json`, parsed.
fn status_json(env: &Env) -> serde_json::Value {
    env.status_json().0
}

fn waiting_in_json(env: &Env) -> u64 {
    status_json(env)["directories"]["waiting"]
        .as_array()
        .map(|w| w.iter().filter_map(|e| e["directories"].as_u64()).sum())
        .unwrap_or(0)
}

/// Three complete directories with no plugin to run wait (in `status`, text
/// and JSON); the first plugin to appear runs on all three without a restart.
fn directories_wait_then_run(env: &Env, make_plugins_folder: impl FnOnce()) {
    let trigger = env.start(&[]);
    assert!(common::wait_until(WITHIN, || trigger
        .log()
        .contains("to run")));
    let dirs: Vec<_> = (0..3)
        .map(|i| env.alert("MS1", &format!("20230101T00000{i}_initial")))
        .collect();
    let want = format!(
        "3 directories waiting: no plugins in {}",
        env.plugins.display()
    );
    assert!(
        common::wait_until(WITHIN, || env.status().contains(&want)),
        "{}\n{}",
        env.status(),
        trigger.log()
    );
    assert_eq!(waiting_in_json(env), 3);
    let status = env.status();
    assert!(status.contains("ok 0"), "{status}");
    // Written before the plugin appeared, and still run: nothing ran on them.
    std::thread::sleep(Duration::from_millis(50));
    make_plugins_folder();
    assert!(env.wait_runs(3, WITHIN), "{}", trigger.log());
    quiet_period();
    let stderr = trigger.stderr.clone();
    assert!(trigger.stop());
    let log = std::fs::read_to_string(stderr).unwrap();
    let want: Vec<(&str, &std::path::Path)> = dirs.iter().map(|d| ("gp_a", d.as_path())).collect();
    assert_eq!(env.runs(), expected(&want), "{log}");
    assert_eq!(waiting_in_json(env), 0);
    let said = format!("no plugins in {}", env.plugins.display());
    assert_eq!(log.matches(&said).count(), 1, "said once:\n{log}");
}

#[test]
fn a_missing_plugin_folder_leaves_directories_waiting_until_a_plugin_appears() {
    let env = Env::new();
    std::fs::remove_dir(&env.plugins).unwrap();
    directories_wait_then_run(&env, || {
        std::fs::create_dir(&env.plugins).unwrap();
        env.logging_plugin("gp_a");
    });
}

#[test]
fn an_empty_plugin_folder_leaves_directories_waiting_until_a_plugin_appears() {
    let env = Env::new();
    directories_wait_then_run(&env, || {
        env.logging_plugin("gp_a");
    });
}

#[test]
fn a_directory_still_waits_after_a_restart_and_runs_on_the_first_plugin() {
    let env = Env::new();
    let trigger = env.start(&[]);
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(
        common::wait_until(WITHIN, || waiting_in_json(&env) == 1),
        "{}",
        trigger.log()
    );
    assert!(trigger.stop());
    // The plugin appears while the trigger is down, after the alert was written.
    std::thread::sleep(Duration::from_millis(50));
    env.logging_plugin("gp_a");
    let trigger = env.start(&[]);
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(env.runs(), expected(&[("gp_a", &dir)]));
}

#[test]
fn a_plugin_added_beside_others_still_runs_only_on_later_directories() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    let trigger = env.start(&[]);
    let first = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    std::thread::sleep(Duration::from_millis(50));
    env.logging_plugin("gp_b");
    quiet_period();
    let second = env.alert("MS1", "20230101T000001_initial");
    assert!(env.wait_runs(3, WITHIN), "{}", trigger.log());
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(
        env.runs(),
        expected(&[("gp_a", &first), ("gp_a", &second), ("gp_b", &second)])
    );
}

#[test]
fn a_hung_plugin_does_not_hold_up_a_quick_one_on_the_same_directory() {
    // Name order puts the hanging one first; the global timeout is long.
    let env = Env::with_trigger_settings("timeout: 60\n  concurrency: 2");
    env.plugin("gp_a_hang", "echo \"gp_a_hang $1\" >> \"$LOG\"\nsleep 60");
    env.logging_plugin("gp_b_quick");
    let trigger = env.start(&[]);
    let t0 = Instant::now();
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(2, WITHIN), "{}", trigger.log());
    assert!(
        t0.elapsed() < Duration::from_secs(20),
        "the quick run waited for the hung one: {:?}",
        t0.elapsed()
    );
    assert_eq!(
        env.runs(),
        expected(&[("gp_a_hang", &dir), ("gp_b_quick", &dir)])
    );
    // The quick run's end is recorded just after its line is written.
    let ended = common::wait_until(WITHIN, || env.status().contains("ok 1"));
    let status = env.status();
    assert!(ended, "{status}");
    assert!(status.contains("running 1, queued 0"), "{status}");
}

#[test]
fn a_hung_run_holds_only_one_place_of_its_plugins_lane() {
    // A lane of two: the hung run holds one place, the later directories
    // go through the other (with a lane of one they wait, by design).
    let env = Env::with_trigger_settings(
        "timeout: 60\n  concurrency: 2\n  plugins:\n    gp_a:\n      concurrency: 2",
    );
    let flag = env.tmp.path().join("hung-once");
    env.plugin(
        "gp_a",
        &format!(
            "echo \"gp_a $1\" >> \"$LOG\"\n\
             if [ ! -e '{flag}' ]; then touch '{flag}'; sleep 60; fi",
            flag = flag.display()
        ),
    );
    let trigger = env.start(&[]);
    env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    let later: Vec<_> = (1..4)
        .map(|i| env.alert("MS1", &format!("20230101T00000{i}_initial")))
        .collect();
    assert!(env.wait_runs(4, WITHIN), "{}", trigger.log());
    let runs = env.runs();
    for dir in &later {
        assert!(
            runs.contains(&format!("gp_a {}", dir.display())),
            "{runs:?}"
        );
    }
}

#[test]
fn a_plugin_timeout_overrides_the_global_one() {
    let env = Env::with_trigger_settings(
        "timeout: 60\n  concurrency: 2\n  plugins:\n    gp_slow:\n      timeout: 1",
    );
    env.plugin("gp_slow", "echo \"gp_slow $1\" >> \"$LOG\"\nsleep 60");
    let trigger = env.start(&[]);
    let t0 = Instant::now();
    env.alert("MS1", "20230101T000000_initial");
    assert!(
        common::wait_until(WITHIN, || env.status().contains("failed 1")),
        "{}",
        trigger.log()
    );
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(15), "killed after {took:?}");
    let status = env.status();
    assert!(
        status.contains("timed out after 1 s (trigger.plugins.gp_slow.timeout)"),
        "{status}"
    );
}

#[test]
fn after_runs_a_plugin_once_the_one_it_needs_has_ended() {
    // Without `after`, name order and two slots start both at once and
    // gp_a_use looks before gp_z_make has written.
    let env = Env::with_trigger_settings(
        "timeout: 30\n  concurrency: 2\n  plugins:\n    gp_a_use:\n      after: [gp_z_make]",
    );
    let made = env.tmp.path().join("made.txt");
    env.plugin(
        "gp_z_make",
        &format!(
            "sleep 1\necho tiling > '{made}'\necho \"gp_z_make $1\" >> \"$LOG\"",
            made = made.display()
        ),
    );
    env.plugin(
        "gp_a_use",
        &format!(
            "if [ -e '{made}' ]; then echo \"gp_a_use $1 saw\" >> \"$LOG\"; else echo \"gp_a_use $1 missed\" >> \"$LOG\"; fi",
            made = made.display()
        ),
    );
    let trigger = env.start(&[]);
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(2, WITHIN), "{}", trigger.log());
    quiet_period();
    assert!(trigger.stop());
    let d = dir.display();
    let mut want = vec![format!("gp_a_use {d} saw"), format!("gp_z_make {d}")];
    want.sort();
    assert_eq!(env.runs(), want);
}

#[test]
fn after_naming_a_missing_plugin_is_reported_and_does_not_block() {
    let env = Env::with_trigger_settings(
        "timeout: 30\n  concurrency: 2\n  plugins:\n    gp_a:\n      after: [gp_nowhere.py]",
    );
    env.logging_plugin("gp_a");
    let trigger = env.start(&[]);
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    assert_eq!(env.runs(), expected(&[("gp_a", &dir)]));
    let log = trigger.log();
    assert!(
        log.contains("trigger.plugins.gp_a.after names gp_nowhere.py"),
        "{log}"
    );
}

#[test]
fn the_log_has_a_line_per_directory_and_run_with_the_output_indented() {
    let env = Env::new();
    env.plugin(
        "gp_echo",
        "echo \"gp_echo $1\" >> \"$LOG\"\necho first line\necho second line",
    );
    let trigger = env.start(&[]);
    // Written after the start-up scan: noticed (one found by that scan is
    // counted in the start-up line instead).
    assert!(common::wait_until(WITHIN, || trigger
        .log()
        .contains("to run")));
    env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    assert!(common::wait_until(WITHIN, || trigger
        .log()
        .contains("second line")));
    let stderr = trigger.stderr.clone();
    assert!(trigger.stop());
    let log = std::fs::read_to_string(stderr).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let rel = "mockevents/MS1/20230101T000000_initial";
    let noticed: Vec<&&str> = lines
        .iter()
        .filter(|l| l.contains(&format!("{rel}: MS1 INITIAL alert; due: gp_echo")))
        .collect();
    assert_eq!(noticed.len(), 1, "{log}");
    let end = lines
        .iter()
        .position(|l| l.contains(&format!("gp_echo on {rel}: exit 0 in ")) && l.ends_with(" ms"))
        .unwrap_or_else(|| panic!("no run-end line:\n{log}"));
    assert_eq!(lines.get(end + 1), Some(&"    first line"), "{log}");
    assert_eq!(lines.get(end + 2), Some(&"    second line"), "{log}");
    assert_eq!(log.matches("stop requested").count(), 1, "{log}");
}

/// The run-end line of a failed run says its exit once (it said
/// `FAILED, the plugin failed (exit 1) (exit 1 in 4 ms; ...)`).
#[test]
fn a_failed_runs_log_line_says_its_exit_once() {
    let env = Env::new();
    env.plugin("gp_fail", "exit 1");
    let trigger = env.start(&[]);
    env.alert("MS1", "20230101T000000_initial");
    assert!(common::wait_until(WITHIN, || trigger
        .log()
        .contains("FAILED")));
    let log = trigger.log();
    let line = log
        .lines()
        .find(|l| l.contains("FAILED"))
        .unwrap_or_default();
    assert_eq!(line.matches("exit 1").count(), 1, "{line}");
    assert!(line.contains("(exit 1 in "), "{line}");
    assert!(trigger.stop());
}

/// The first start over a tree with directories says how many it runs in one
/// line, not one line per directory before anything ran; each run says when
/// it starts and ends.
#[test]
fn the_first_start_says_one_summary_line_and_then_each_run() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    let dirs: Vec<_> = (0..3)
        .map(|i| env.alert("MS1", &format!("20230101T00000{i}_initial")))
        .collect();
    let trigger = env.start(&[]);
    assert!(env.wait_runs(3, WITHIN), "{}", trigger.log());
    quiet_period();
    let log = trigger.log();
    assert!(trigger.stop());
    assert!(
        log.contains(
            "3 complete directories, 0 already handled, 0 skipped as older than trigger.catch_up"
        ) && log.contains(", 3 to run"),
        "{log}"
    );
    assert_eq!(log.matches("INITIAL alert;").count(), 0, "{log}");
    for dir in &dirs {
        let rel = dir.strip_prefix(&env.root).unwrap().display().to_string();
        assert!(log.contains(&format!("gp_a on {rel}: started")), "{log}");
        assert!(log.contains(&format!("gp_a on {rel}: exit 0 in ")), "{log}");
    }
}

//! The ways such daemons miss or repeat work, reproduced against the real
//! binary: each test asserts the exact multiset of plugin runs.

use crate::common;

use std::time::Duration;

use common::{expected, quiet_period, Env};

const WITHIN: Duration = Duration::from_secs(20);

#[test]
fn a_directory_built_in_place_with_mkdir_p_runs_once() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    env.logging_plugin("gp_b");
    let trigger = env.start(&[]);
    assert!(common::wait_until(WITHIN, || trigger
        .log()
        .contains("to run")));
    // mockevents/, the event and the alert directory do not exist yet: the whole
    // chain and the marker appear in one burst.
    let mock = env.alert_in_place("MS230423x", "20230424T000204_initial");
    let real = env.alert_in_place("S230423x", "20230424T000204_initial");
    assert!(env.wait_runs(4, WITHIN), "{}", trigger.log());
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(
        env.runs(),
        expected(&[
            ("gp_a", &mock),
            ("gp_b", &mock),
            ("gp_a", &real),
            ("gp_b", &real)
        ])
    );
}

#[test]
fn a_complete_directory_renamed_into_the_tree_runs_once() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    std::fs::create_dir_all(env.root.join("mockevents/MS1")).unwrap();
    let trigger = env.start(&[]);
    assert!(common::wait_until(WITHIN, || trigger
        .log()
        .contains("to run")));
    let first = env.alert("MS1", "20230101T000000_preliminary");
    let second = env.alert("MS1", "20230101T000100_initial");
    assert!(env.wait_runs(2, WITHIN), "{}", trigger.log());
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(env.runs(), expected(&[("gp_a", &first), ("gp_a", &second)]));
}

#[test]
fn a_thousand_directories_completed_at_once_each_run_once() {
    let env = Env::with_trigger_settings("timeout: 30\n  concurrency: 4");
    env.logging_plugin("gp_a");
    let trigger = env.start(&[]);
    assert!(common::wait_until(WITHIN, || trigger
        .log()
        .contains("to run")));
    let mut dirs = Vec::new();
    for i in 0..1000 {
        let event = format!("MS{}", i % 10);
        dirs.push(env.alert(&event, &format!("20230101T{:06}_initial", i)));
    }
    assert!(
        env.wait_runs(1000, Duration::from_secs(90)),
        "{} runs\n{}",
        env.runs().len(),
        trigger.log()
    );
    quiet_period();
    assert!(trigger.stop());
    let want: Vec<(&str, &std::path::Path)> = dirs.iter().map(|d| ("gp_a", d.as_path())).collect();
    assert_eq!(env.runs(), expected(&want));
}

#[test]
fn directories_completed_while_stopped_run_at_the_next_start() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    let trigger = env.start(&[]);
    let before = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    assert!(trigger.stop());
    let down: Vec<_> = (0..3)
        .map(|i| env.alert("MS2", &format!("20230101T00000{i}_update")))
        .collect();
    let trigger = env.start(&[]);
    assert!(env.wait_runs(4, WITHIN), "{}", trigger.log());
    quiet_period();
    assert!(trigger.stop());
    let mut want = vec![("gp_a", before.as_path())];
    want.extend(down.iter().map(|d| ("gp_a", d.as_path())));
    assert_eq!(env.runs(), expected(&want));
    // A third start finds everything settled: nothing runs again.
    let trigger = env.start(&[]);
    assert!(
        common::wait_until(WITHIN, || trigger.log().contains("4 already handled")),
        "{}",
        trigger.log()
    );
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(env.runs().len(), 4);
}

#[test]
fn a_plugin_added_while_running_runs_on_later_alerts_only() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    let trigger = env.start(&[]);
    let early = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    env.logging_plugin("gp_b");
    let late = env.alert("MS1", "20230101T000100_update");
    assert!(env.wait_runs(3, WITHIN), "{}", trigger.log());
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(
        env.runs(),
        expected(&[("gp_a", &early), ("gp_a", &late), ("gp_b", &late)])
    );
}

#[test]
fn polling_mode_finds_new_directories() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    let trigger = env.start(&["watch", "--poll", "0.2"]);
    assert!(
        common::wait_until(WITHIN, || trigger.log().contains("polling")),
        "{}",
        trigger.log()
    );
    let a = env.alert_in_place("MS1", "20230101T000000_initial");
    let b = env.alert("MS2", "20230101T000000_initial");
    assert!(env.wait_runs(2, WITHIN), "{}", trigger.log());
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(env.runs(), expected(&[("gp_a", &a), ("gp_a", &b)]));
}

#[test]
fn an_invalid_marker_is_reported_and_not_run() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    let trigger = env.start(&[]);
    let bad = env.alert_in_place("MS1", "20230101T000000_initial");
    // Not what the marker lists: the directory must not be run.
    let good = env.alert("MS1", "20230101T000100_update");
    assert!(env.wait_runs(1, WITHIN));
    std::fs::write(bad.join("meta.yaml"), "changed").unwrap();
    let broken = env.alert_path("MS2", "20230101T000000_initial");
    std::fs::create_dir_all(broken.parent().unwrap()).unwrap();
    let staging = env.root.join(".staging/broken");
    std::fs::create_dir_all(&staging).unwrap();
    common::write_alert_files(&staging, "MS2", chrono::Utc::now());
    std::fs::write(staging.join("meta.yaml"), "not what the marker says").unwrap();
    std::fs::rename(&staging, &broken).unwrap();
    assert!(
        common::wait_until(WITHIN, || trigger.log().contains("lists meta.yaml")),
        "{}",
        trigger.log()
    );
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(env.runs(), expected(&[("gp_a", &bad), ("gp_a", &good)]));
    let status = env.status();
    assert!(status.contains("invalid markers: 1"), "{status}");
    assert!(status.contains(&broken.display().to_string()), "{status}");
}

#[test]
fn a_plugin_gets_argv_environment_null_stdin_and_its_own_process_group() {
    let env = Env::new();
    let out = env.tmp.path().join("env.txt");
    env.plugin(
        "gp_env",
        &format!(
            "{{ echo \"argv=$1\"; echo \"dir=$GOCART_ALERT_DIR\"; echo \"id=$GOCART_SUPEREVENT_ID\"; \
             echo \"type=$GOCART_ALERT_TYPE\"; echo \"settings=$GOCART_SETTINGS\"; \
             echo \"stdin=$(readlink /proc/self/fd/0)\"; \
             echo \"leader=$(( $(ps -o pgid= -p $$) == $$ ))\"; }} > '{}'\n\
             echo \"gp_env $1\" >> \"$LOG\"",
            out.display()
        ),
    );
    let trigger = env.start(&[]);
    let dir = env.alert("MS230423x", "20230424T000204_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    assert!(trigger.stop());
    let d = dir.display();
    let want = format!(
        "argv={d}\ndir={d}\nid=MS230423x\ntype=INITIAL\nsettings={}\nstdin=/dev/null\nleader=1\n",
        env.settings.display()
    );
    assert_eq!(std::fs::read_to_string(out).unwrap(), want);
}

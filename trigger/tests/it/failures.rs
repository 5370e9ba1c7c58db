//! Plugins that misbehave, and a trigger that is killed: none of it may hang
//! the trigger, lose a run, or run one twice.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{expected, quiet_period, Env};

const WITHIN: Duration = Duration::from_secs(20);

#[test]
fn a_killed_trigger_runs_the_interrupted_run_again_at_restart() {
    let env = Env::new();
    let flag = env.tmp.path().join("first-attempt");
    let pidfile = env.tmp.path().join("slow.pid");
    env.plugin(
        "gp_slow",
        &format!(
            "echo \"gp_slow $1 start\" >> \"$LOG\"\n\
             if [ ! -e '{flag}' ]; then touch '{flag}'; echo $$ > '{pid}'; sleep 30; fi\n\
             echo \"gp_slow $1 end\" >> \"$LOG\"",
            flag = flag.display(),
            pid = pidfile.display()
        ),
    );
    let trigger = env.start(&[]);
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    assert!(common::wait_until(WITHIN, || pidfile.exists()));
    trigger.kill9();
    let orphan: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();

    let trigger = env.start(&[]);
    assert!(env.wait_runs(3, WITHIN), "{}", trigger.log());
    quiet_period();
    assert!(trigger.stop());
    common::kill_group(orphan);
    let d = dir.display();
    let mut want = vec![
        format!("gp_slow {d} start"),
        format!("gp_slow {d} start"),
        format!("gp_slow {d} end"),
    ];
    want.sort();
    assert_eq!(env.runs(), want);
    let status = env.status();
    assert!(status.contains("ok 1"), "{status}");
    assert!(status.contains("attempt 2"), "{status}");
}

#[test]
fn a_plugin_ignoring_sigterm_is_killed_and_the_others_still_run() {
    let env = Env::with_trigger_settings("timeout: 1\n  concurrency: 2");
    env.plugin(
        "gp_a_stubborn",
        "trap '' TERM\necho \"gp_a_stubborn $1\" >> \"$LOG\"\nsleep 30",
    );
    env.logging_plugin("gp_b");
    let trigger = env.start(&["--kill-grace", "0.5"]);
    let started = Instant::now();
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(2, WITHIN), "{}", trigger.log());
    assert!(started.elapsed() < Duration::from_secs(10));
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(
        env.runs(),
        expected(&[("gp_a_stubborn", &dir), ("gp_b", &dir)])
    );
    let status = env.status();
    assert!(status.contains("failed 1"), "{status}");
    assert!(status.contains("timed out after 1 s"), "{status}");
    assert!(status.contains("signal 9"), "{status}");
}

#[test]
fn a_grandchild_holding_stdout_does_not_hang_the_run() {
    let env = Env::new();
    let pidfile = env.tmp.path().join("grandchild.pid");
    env.plugin(
        "gp_a_fork",
        &format!(
            "sleep 60 &\necho $! > '{}'\necho forked\necho \"gp_a_fork $1\" >> \"$LOG\"",
            pidfile.display()
        ),
    );
    env.logging_plugin("gp_b");
    let trigger = env.start(&[]);
    let started = Instant::now();
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(2, WITHIN), "{}", trigger.log());
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(env.runs(), expected(&[("gp_a_fork", &dir), ("gp_b", &dir)]));
    let grandchild: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        common::wait_until(Duration::from_secs(5), || !common::alive(grandchild)),
        "the grandchild holding the pipe was not killed"
    );
    let status = env.status();
    assert!(status.contains("ok 2"), "{status}");
}

#[test]
fn a_plugin_writing_100_mb_is_capped_and_does_not_block() {
    let env = Env::new();
    env.plugin(
        "gp_big",
        "head -c 100000000 /dev/zero | tr '\\0' x\necho\necho last line\necho \"gp_big $1\" >> \"$LOG\"",
    );
    let trigger = env.start(&[]);
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(
        env.wait_runs(1, Duration::from_secs(60)),
        "{}",
        trigger.log()
    );
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(env.runs(), expected(&[("gp_big", &dir)]));
    let log = env
        .state
        .join("logs/MS1/20230101T000000_initial/gp_big.1.log");
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size <= 1024 * 1024 + 512, "log of {size} bytes");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("bytes of output dropped"));
    assert!(text.ends_with("last line\n"));
    let status = env.status();
    assert!(status.contains("ok 1"), "{status}");
}

#[test]
fn a_syntax_error_plugin_fails_and_the_others_run() {
    let env = Env::new();
    let bad = env.plugins.join("gp_a_bad.py");
    std::fs::write(&bad, "def broken(:\n    pass\n").unwrap();
    env.logging_plugin("gp_b");
    let trigger = env.start(&[]);
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    assert!(common::wait_until(WITHIN, || env
        .status()
        .contains("failed 1")));
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(env.runs(), expected(&[("gp_b", &dir)]));
    let status = env.status();
    assert!(status.contains("SyntaxError"), "{status}");
    assert!(status.contains("gp_a_bad.py"), "{status}");
}

#[test]
fn only_runnable_safe_plugins_run() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    for backup in ["gp_a~", "gp_a.bak", "gp_a.swp", ".gp_a"] {
        env.plugin(backup, &format!("echo \"{backup} $1\" >> \"$LOG\""));
    }
    let noexec = env.logging_plugin("gp_noexec");
    std::fs::set_permissions(&noexec, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = env.logging_plugin("gp_writable");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let trigger = env.start(&[]);
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    quiet_period();
    let log = trigger.log();
    assert!(trigger.stop());
    assert_eq!(env.runs(), expected(&[("gp_a", &dir)]));
    assert!(log.contains("gp_noexec is not executable"), "{log}");
    assert!(
        log.contains("gp_writable can be written by other users"),
        "{log}"
    );
}

#[test]
fn sigterm_lets_a_short_run_finish_and_records_it() {
    let env = Env::new();
    env.plugin("gp_a", "sleep 0.5\necho \"gp_a $1\" >> \"$LOG\"");
    let trigger = env.start(&["--stop-wait", "5"]);
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(common::wait_until(WITHIN, || env
        .status()
        .contains("running 1")));
    assert!(trigger.stop(), "exit status 0 after SIGTERM");
    assert_eq!(env.runs(), expected(&[("gp_a", &dir)]));
    assert!(env.status().contains("ok 1"));
    // Nothing is left to run at the next start.
    let trigger = env.start(&[]);
    assert!(
        common::wait_until(WITHIN, || trigger.log().contains("1 already handled")),
        "{}",
        trigger.log()
    );
    assert!(trigger.stop());
}

#[test]
fn sigterm_kills_a_long_run_after_the_bound_and_it_runs_again() {
    let env = Env::new();
    let flag = env.tmp.path().join("first-attempt");
    env.plugin(
        "gp_slow",
        &format!(
            "echo \"gp_slow $1 start\" >> \"$LOG\"\n\
             if [ ! -e '{flag}' ]; then touch '{flag}'; sleep 30; fi\n\
             echo \"gp_slow $1 end\" >> \"$LOG\"",
            flag = flag.display()
        ),
    );
    let trigger = env.start(&["--stop-wait", "0.3"]);
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    let stopping = Instant::now();
    assert!(trigger.stop(), "exit status 0 after SIGTERM");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
    assert!(env.status().contains("running 1"), "{}", env.status());
    let trigger = env.start(&[]);
    assert!(env.wait_runs(3, WITHIN), "{}", trigger.log());
    quiet_period();
    assert!(trigger.stop());
    let d = dir.display();
    let mut want = vec![
        format!("gp_slow {d} end"),
        format!("gp_slow {d} start"),
        format!("gp_slow {d} start"),
    ];
    want.sort();
    assert_eq!(env.runs(), want);
}

#[test]
fn an_alert_replaced_by_a_changed_one_runs_again_but_not_a_rewrite() {
    let env = Env::new();
    env.logging_plugin("gp_a");
    let trigger = env.start(&[]);
    let dir = env.alert("MS1", "20230101T000000_initial");
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    // The ingester swaps in a changed alert with renameat2(RENAME_EXCHANGE).
    let staging = env.root.join(".staging/changed");
    std::fs::create_dir_all(&staging).unwrap();
    common::write_alert_files(&staging, "MS1", chrono::Utc::now());
    let marker = staging.join(gocart_shared::MARKER_NAME);
    let text = std::fs::read_to_string(&marker).unwrap();
    let old_sha = gocart_shared::marker::sha256_hex(b"MS1");
    std::fs::write(&marker, text.replace(&old_sha, &"0".repeat(64))).unwrap();
    gocart_shared::tree::exchange_dirs(&staging, &dir).unwrap();
    assert!(env.wait_runs(2, WITHIN), "{}", trigger.log());
    // The same alert written again (a Kafka redelivery) changes nothing.
    let again = env.root.join(".staging/again");
    std::fs::create_dir_all(&again).unwrap();
    common::write_alert_files(&again, "MS1", chrono::Utc::now());
    std::fs::write(
        again.join(gocart_shared::MARKER_NAME),
        std::fs::read(dir.join(gocart_shared::MARKER_NAME)).unwrap(),
    )
    .unwrap();
    gocart_shared::tree::exchange_dirs(&again, &dir).unwrap();
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(env.runs(), expected(&[("gp_a", &dir), ("gp_a", &dir)]));
}

#[test]
fn runs_claimed_ahead_are_given_back_at_stop_and_run_once_after() {
    // One run at a time, so the directories behind the first wait claimed.
    let env = Env::with_trigger_settings("timeout: 30\n  concurrency: 1");
    env.plugin("gp_slow", "echo \"gp_slow $1\" >> \"$LOG\"\nsleep 0.5");
    std::fs::create_dir_all(env.root.join("mockevents/MS1")).unwrap();
    let trigger = env.start(&[]);
    assert!(common::wait_until(WITHIN, || trigger
        .log()
        .contains("to run")));
    let dirs: Vec<_> = (0..4)
        .map(|i| env.alert("MS1", &format!("20230101T00000{i}_initial")))
        .collect();
    assert!(env.wait_runs(1, WITHIN), "{}", trigger.log());
    assert!(trigger.stop());
    let ran = env.runs().len();
    assert!(ran < 4, "the stop came too late to leave claims queued");
    let status = env.status();
    assert!(status.contains("running 0"), "{status}");

    let trigger = env.start(&[]);
    assert!(env.wait_runs(4, WITHIN), "{}", trigger.log());
    quiet_period();
    assert!(trigger.stop());
    assert!(
        !trigger_log_mentions_interrupted(&env),
        "given-back claims are not interrupted runs"
    );
    let want: Vec<(&str, &std::path::Path)> =
        dirs.iter().map(|d| ("gp_slow", d.as_path())).collect();
    assert_eq!(env.runs(), expected(&want));
}

fn trigger_log_mentions_interrupted(env: &Env) -> bool {
    std::fs::read_dir(env.tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("trigger-"))
        .any(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .contains("interrupted run")
        })
}

/// `status` run while the trigger creates its record (a user checking at once
/// after `systemctl start`) used to fail now and then with "database is
/// locked": both processes switched the new file to WAL at the same moment.
#[test]
fn status_beside_a_starting_trigger_never_fails() {
    for _ in 0..20 {
        let env = Env::new();
        let trigger = env.start(&[]);
        for _ in 0..10 {
            // Env::status asserts the exit status and shows stderr.
            env.status();
        }
        assert!(trigger.stop());
    }
}

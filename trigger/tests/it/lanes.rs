//! Plugin lanes: every plugin has its own places (`trigger.plugins.<name>.concurrency`,
//! default 1), so a hung plugin never holds up another plugin's runs; a total
//! cap (`trigger.concurrency`), when set and binding, goes round the plugins
//! in turn. Real trigger, real shell plugins, real waits.

use crate::common;

use std::time::{Duration, Instant};

use common::{wait_until, Env};
use gocart_shared::Kind;

const WITHIN: Duration = Duration::from_secs(20);

/// The run log in the order the runs wrote it (each plugin here writes its
/// line as it starts).
fn starts(env: &Env) -> Vec<String> {
    std::fs::read_to_string(&env.runlog)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn count_of(env: &Env, plugin: &str) -> usize {
    starts(env)
        .iter()
        .filter(|l| l.starts_with(&format!("{plugin} ")))
        .count()
}

/// The scenario: `gp_a_hang.sh` hangs on every alert, two alerts come
/// together and a third 3 s later. `gp_b_quick.sh` ran on 1 of the 3 within
/// 10 s when the hung runs took every worker; in its own lane it runs on
/// all three at once.
#[test]
fn a_hung_plugin_never_holds_up_another_plugins_runs() {
    let env = Env::with_trigger_settings("timeout: 30");
    env.plugin(
        "gp_a_hang.sh",
        "echo \"gp_a_hang.sh $1\" >> \"$LOG\"\nsleep 20",
    );
    env.logging_plugin("gp_b_quick.sh");
    let trigger = env.start(&["--stop-wait", "0.2"]);
    assert!(wait_until(WITHIN, || trigger.log().contains("to run")));
    let started = Instant::now();
    env.alert("MS1", "20230101T000000_initial");
    env.alert("MS2", "20230101T000000_initial");
    std::thread::sleep(Duration::from_secs(3));
    env.alert("MS3", "20230101T000000_initial");
    let quick_on_all = wait_until(Duration::from_secs(4), || {
        count_of(&env, "gp_b_quick.sh") == 3
    });
    assert!(quick_on_all, "{:?}\n{}", starts(&env), trigger.log());
    // The check came while the first hung run still hangs, and its lane of
    // one holds the other two.
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(count_of(&env, "gp_a_hang.sh"), 1, "{:?}", starts(&env));
    assert!(trigger.stop());
}

/// `trigger.concurrency: 1`, three plugins, one of which hangs (until its
/// 1 s timeout) on a backlog of IceCube directories before two LVK alerts
/// come: the single place goes round the plugins in turn, so the other two
/// run on each LVK alert between the hung runs, not after the backlog.
#[test]
fn a_total_cap_goes_round_the_plugins_in_turn() {
    let env = Env::with_trigger_settings(
        "timeout: 1\n  concurrency: 1\n  plugins:\n    gp_a_hang:\n      kinds: [icecube, lvk]",
    );
    env.plugin(
        "gp_a_hang",
        "echo \"gp_a_hang $1\" >> \"$LOG\"\nif [ \"$GOCART_KIND\" = icecube ]; then sleep 30; fi",
    );
    env.logging_plugin("gp_b");
    env.logging_plugin("gp_c");
    let trigger = env.start(&["--kill-grace", "0.2", "--stop-wait", "0.2"]);
    assert!(wait_until(WITHIN, || trigger.log().contains("to run")));
    let nu: Vec<_> = (1..=3)
        .map(|i| {
            let name = format!("2023010{i}T000000_icecube");
            env.kind_dir(Kind::Icecube, "MS1", &name, "{}", &[])
        })
        .collect();
    let l1 = env.alert("MS2", "20230101T000000_initial");
    let l2 = env.alert("MS3", "20230101T000000_initial");
    assert!(
        env.wait_runs(9, WITHIN),
        "{:?}\n{}",
        starts(&env),
        trigger.log()
    );
    common::quiet_period();
    assert!(trigger.stop());
    let line = |plugin: &str, dir: &std::path::Path| format!("{plugin} {}", dir.display());
    let want = vec![
        line("gp_a_hang", &nu[0]),
        line("gp_b", &l1),
        line("gp_c", &l1),
        line("gp_a_hang", &nu[1]),
        line("gp_b", &l2),
        line("gp_c", &l2),
        line("gp_a_hang", &nu[2]),
        line("gp_a_hang", &l1),
        line("gp_a_hang", &l2),
    ];
    assert_eq!(starts(&env), want);
}

/// `trigger.plugins.<name>.concurrency: 2`: two runs of the plugin overlap,
/// and a third waits for one of them, even with places to spare in the total.
#[test]
fn a_plugins_lane_holds_as_many_runs_as_its_concurrency() {
    let env = Env::with_trigger_settings(
        "timeout: 30\n  concurrency: 4\n  plugins:\n    gp_slow:\n      concurrency: 2",
    );
    env.plugin("gp_slow", "echo \"gp_slow $1\" >> \"$LOG\"\nsleep 6");
    let trigger = env.start(&["--stop-wait", "0.2"]);
    assert!(wait_until(WITHIN, || trigger.log().contains("to run")));
    for event in ["MS1", "MS2", "MS3"] {
        env.alert(event, "20230101T000000_initial");
    }
    // Both places are taken at once; the third run waits for one.
    assert!(
        env.wait_runs(2, Duration::from_secs(3)),
        "two runs overlap: {:?}\n{}",
        starts(&env),
        trigger.log()
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(count_of(&env, "gp_slow"), 2, "{:?}", starts(&env));
    assert!(env.wait_runs(3, WITHIN), "{}", trigger.log());
    assert!(trigger.stop());
}

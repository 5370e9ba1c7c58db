//! Directories of every kind (docs/contracts.md, "Per-plugin settings"): a
//! plugin runs only on its `kinds` (default lvk), its own `filters` record
//! the rejected ones `filtered` with the reason, `after` treats filtered as
//! ended, `GOCART_KIND`, `replay --kind`, and `status --json` telling it all.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{quiet_period, Env};
use gocart_shared::Kind;
use serde_json::Value;

const WITHIN: Duration = Duration::from_secs(20);

/// A plugin of icecube with a p-value filter, one that comes after it, and
/// one with no entry (LVK only).
const SETTINGS: &str = "timeout: 5
  concurrency: 2
  plugins:
    gp_nu.sh:
      kinds: [icecube]
      filters:
        - {name: close, pval_bayesian_upper: 0.1}
    gp_later.sh:
      kinds: [icecube, lvk]
      after: [gp_nu.sh]";

/// meta.yaml of an IceCube directory, as the ingester writes it.
fn icecube_meta(pval_bayesian: Option<f64>) -> String {
    let pval = pval_bayesian.map_or(String::new(), |p| format!("  pval_bayesian: {p}\n"));
    format!(
        "KIND: icecube\nNOTICE:\n  ref_ID: MS230914a\nEXTRA:\n  superevent_id: MS230914a\n  superevent_dir_exists: true\n  pval_generic: 0.02\n{pval}"
    )
}

/// Every plugin logs `<name> <kind> <dir>`.
fn plugins(env: &Env) {
    for name in ["gp_nu.sh", "gp_later.sh", "gp_lvk.sh"] {
        env.plugin(
            name,
            &format!("echo \"{name} $GOCART_KIND $1\" >> \"$LOG\""),
        );
    }
}

struct Dirs {
    lvk: PathBuf,
    close: PathBuf,
    far: PathBuf,
    unknown: PathBuf,
}

fn dirs(env: &Env) -> Dirs {
    let event = "MS230914a";
    let lvk = env.alert(event, "20230914T111401_initial");
    let nu = |name: &str, pval| env.kind_dir(Kind::Icecube, event, name, &icecube_meta(pval), &[]);
    Dirs {
        lvk,
        close: nu("20230914T114916_icecube", Some(0.05)),
        far: nu("20230914T120000_icecube", Some(0.3)),
        unknown: nu("20230914T130000_icecube", None),
    }
}

fn line(plugin: &str, kind: &str, dir: &Path) -> String {
    format!("{plugin} {kind} {}", dir.display())
}

fn status_json(env: &Env) -> Value {
    env.status_json().0
}

/// The state of each (directory, plugin) in `status --json`.
fn states(status: &Value) -> Vec<(String, String, String, String)> {
    let mut rows: Vec<_> = status["last_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (text("dir"), text("plugin"), text("state"), text("kind"))
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_plugin_runs_on_its_kinds_its_filters_record_filtered_and_after_treats_that_as_ended() {
    let env = Env::with_trigger_settings(SETTINGS);
    plugins(&env);
    let trigger = env.start(&[]);
    let d = dirs(&env);
    // gp_nu on the two passing icecube dirs (an absent p-value does not
    // fail); gp_later on all three and the lvk one; gp_lvk on the lvk one.
    assert!(
        env.wait_runs(7, WITHIN),
        "{}\n{:?}",
        trigger.log(),
        env.runs()
    );
    quiet_period();
    let log = trigger.log();
    assert!(trigger.stop());
    let mut want = vec![
        line("gp_nu.sh", "icecube", &d.close),
        line("gp_nu.sh", "icecube", &d.unknown),
        line("gp_later.sh", "icecube", &d.close),
        line("gp_later.sh", "icecube", &d.far),
        line("gp_later.sh", "icecube", &d.unknown),
        line("gp_later.sh", "lvk", &d.lvk),
        line("gp_lvk.sh", "lvk", &d.lvk),
    ];
    want.sort();
    assert_eq!(env.runs(), want, "{log}");
    assert!(
        log.contains("gp_nu.sh on") && log.contains("filtered, passes none of its filters"),
        "{log}"
    );

    let status = status_json(&env);
    assert_eq!(status["runs"]["filtered"], 1, "{status:#}");
    assert_eq!(status["runs"]["ok"], 7, "{status:#}");
    assert_eq!(status["directories"]["kinds"]["icecube"], 3, "{status:#}");
    assert_eq!(status["directories"]["kinds"]["lvk"], 1, "{status:#}");
    let rows = states(&status);
    let far = d.far.display().to_string();
    let filtered: Vec<_> = rows.iter().filter(|r| r.2 == "filtered").collect();
    assert_eq!(
        filtered,
        [&(
            far.clone(),
            "gp_nu.sh".into(),
            "filtered".into(),
            "icecube".into()
        )]
    );
    // Not its kind is not its directory: no row at all.
    let lvk = d.lvk.display().to_string();
    assert!(
        !rows.iter().any(|r| r.0 == lvk && r.1 == "gp_nu.sh"),
        "{rows:?}"
    );
    assert!(
        !rows.iter().any(|r| r.1 == "gp_lvk.sh" && r.3 == "icecube"),
        "{rows:?}"
    );
    let reason = status["last_runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["state"] == "filtered")
        .map(|r| r["reason"].as_str().unwrap().to_string())
        .unwrap();
    assert_eq!(
        reason,
        "passes none of its filters: The alert fails the close filter. pval_bayesian = 0.3 (>= 0.1)."
    );
    let human = env.status();
    assert!(human.contains("filtered 1"), "{human}");
    assert!(human.contains("kinds: lvk 1, icecube 3"), "{human}");
    assert!(
        human.contains(&format!("filtered gp_nu.sh {far} [icecube]")),
        "{human}"
    );
    assert!(human.contains("pval_bayesian = 0.3 (>= 0.1)"), "{human}");

    // A restart runs nothing again, filtered included.
    let trigger = env.start(&[]);
    assert!(common::wait_until(WITHIN, || trigger
        .log()
        .contains("to run")));
    quiet_period();
    assert!(trigger.stop());
    assert_eq!(env.runs().len(), 7);
}

#[test]
fn replay_kind_takes_only_that_kind_and_judges_filtered_runs_again() {
    let env = Env::with_trigger_settings(SETTINGS);
    plugins(&env);
    let d = dirs(&env);
    let dry = env.command(&["replay", "--kind", "icecube", "--dry-run"]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(
        text.contains(&format!(
            "would record gp_nu.sh as filtered on {}: passes none",
            d.far.display()
        )),
        "{text}"
    );
    assert!(!text.contains(&d.lvk.display().to_string()), "{text}");
    assert!(!text.contains("gp_lvk.sh"), "{text}");

    let out = env.command(&["replay", "--kind", "icecube"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("replayed 3 directories: 5 runs, 0 failed, 1 filtered"),
        "{text}"
    );
    let mut want = vec![
        line("gp_nu.sh", "icecube", &d.close),
        line("gp_nu.sh", "icecube", &d.unknown),
        line("gp_later.sh", "icecube", &d.close),
        line("gp_later.sh", "icecube", &d.far),
        line("gp_later.sh", "icecube", &d.unknown),
    ];
    want.sort();
    assert_eq!(env.runs(), want);

    // The filter loosened: replay judges the filtered run again, and runs it.
    let settings = std::fs::read_to_string(&env.settings).unwrap();
    std::fs::write(&env.settings, settings.replace("0.1}", "0.5}")).unwrap();
    let out = env.command(&["replay", "--kind", "icecube"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("replayed 3 directories: 1 run, 0 failed"),
        "{text}"
    );
    assert!(env.runs().contains(&line("gp_nu.sh", "icecube", &d.far)));

    // --kind lvk: only the LVK directory.
    let out = env.command(&["replay", "--kind", "lvk"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("replayed 1 directory: 2 runs"), "{text}");
    let bad = env.command(&["replay", "--kind", "neutrino"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("the kinds are"));
}

#[test]
fn a_record_from_before_kinds_opens_migrates_and_records_filtered_runs() {
    let env = Env::with_trigger_settings(SETTINGS);
    plugins(&env);
    std::fs::create_dir_all(&env.state).unwrap();
    {
        // The record as the version before kinds and `filtered` left it.
        let conn = rusqlite::Connection::open(env.state.join("trigger.sqlite")).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE plugins (name TEXT PRIMARY KEY, appeared_at TEXT NOT NULL);
             CREATE TABLE dirs (dir TEXT PRIMARY KEY, marker_ino INTEGER NOT NULL,
                marker_size INTEGER NOT NULL, marker_mtime_ns INTEGER NOT NULL,
                superevent_id TEXT, alert_type TEXT, written_at TEXT, message_sha256 TEXT,
                seen_at TEXT NOT NULL, settled INTEGER NOT NULL DEFAULT 0, problem TEXT,
                catch_up_skipped INTEGER NOT NULL DEFAULT 0, waiting TEXT);
             CREATE TABLE runs (dir TEXT NOT NULL, plugin TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending','running','ok','failed','skipped')),
                attempts INTEGER NOT NULL DEFAULT 0, exit_status TEXT, started_at TEXT,
                ended_at TEXT, log_path TEXT, reason TEXT, owner_pid INTEGER,
                PRIMARY KEY (dir, plugin));
             CREATE INDEX runs_by_state ON runs(state);
             INSERT INTO meta VALUES ('initialised', '2026-01-01T00:00:00.000Z');
             INSERT INTO dirs (dir, marker_ino, marker_size, marker_mtime_ns, seen_at, settled)
                VALUES ('/old/MS1/20260101T000000_initial', 1, 2, 3, '2026-01-01T00:00:00.000Z', 1);
             INSERT INTO runs (dir, plugin, state, attempts, exit_status, started_at, ended_at)
                VALUES ('/old/MS1/20260101T000000_initial', 'gp_lvk.sh', 'ok', 1, 'exit 0',
                        '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:01.000Z');",
        )
        .unwrap();
    }
    let trigger = env.start(&[]);
    let d = dirs(&env);
    assert!(
        env.wait_runs(7, WITHIN),
        "{}\n{:?}",
        trigger.log(),
        env.runs()
    );
    assert!(common::wait_until(WITHIN, || status_json(&env)["runs"]
        ["filtered"]
        == 1));
    assert!(trigger.stop());
    let status = status_json(&env);
    assert_eq!(status["runs"]["ok"], 8, "{status:#}");
    let rows = states(&status);
    assert!(
        rows.contains(&(
            "/old/MS1/20260101T000000_initial".into(),
            "gp_lvk.sh".into(),
            "ok".into(),
            "lvk".into()
        )),
        "{rows:?}"
    );
    assert!(rows.contains(&(
        d.far.display().to_string(),
        "gp_nu.sh".into(),
        "filtered".into(),
        "icecube".into()
    )));
}

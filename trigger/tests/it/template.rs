//! The plugin template users copy: standalone with real python3 and PyYAML, and
//! run by the trigger.

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::Env;

fn template() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/gp_template.py")
}

const ORIGINAL_OUTPUT: &str =
    "Here are the alert files generated from INITIAL alert of event MS230423x:
bayestar.multiorder.fits
skymap.csv
meta.yaml
skymap.png
MS230423x-initial.json
";

fn alert_dir(env: &Env) -> PathBuf {
    let dir = env.alert_path("MS230423x", "20230424T000204_initial");
    std::fs::create_dir_all(&dir).unwrap();
    // Created in an order unlike the listing, to show the order is the template's.
    for name in [
        "skymap.png",
        "MS230423x-initial.json",
        "skymap.csv",
        "bayestar.multiorder.fits",
    ] {
        std::fs::write(dir.join(name), "x").unwrap();
    }
    std::fs::write(
        dir.join("meta.yaml"),
        "HEADER: {CREATOR: BAYESTAR, 'YES': 'yes'}\nALERT:\n  superevent_id: MS230423x\n  alert_type: INITIAL\nEXTRA: {area90: 30.97}\n",
    )
    .unwrap();
    std::fs::write(dir.join(".gocart-complete"), "{}").unwrap();
    dir
}

#[test]
fn the_template_prints_exactly_what_the_original_did() {
    let env = Env::new();
    let dir = alert_dir(&env);
    let out = Command::new("python3")
        .arg(template())
        .arg(&dir)
        .env("GOCART_SETTINGS", &env.settings)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), ORIGINAL_OUTPUT);
}

#[test]
fn the_template_runs_under_the_trigger() {
    let env = Env::new();
    std::fs::copy(template(), env.plugins.join("gp_sound_the_alarm.py")).unwrap();
    let trigger = env.start(&[]);
    let staging = env.root.join(".staging/x");
    std::fs::create_dir_all(staging.parent().unwrap()).unwrap();
    let dir = alert_dir(&env);
    // Rebuild it properly (with a real marker) and rename it into place.
    std::fs::rename(&dir, &staging).unwrap();
    std::fs::remove_file(staging.join(".gocart-complete")).unwrap();
    common::write_marker_for(&staging, "MS230423x");
    std::fs::rename(&staging, &dir).unwrap();
    let log = env
        .state
        .join("logs/MS230423x/20230424T000204_initial/gp_sound_the_alarm.py.1.log");
    assert!(
        common::wait_until(Duration::from_secs(20), || env.status().contains("ok 1")),
        "{}\n{}",
        trigger.log(),
        env.status()
    );
    assert!(trigger.stop());
    assert_eq!(std::fs::read_to_string(log).unwrap(), ORIGINAL_OUTPUT);
}

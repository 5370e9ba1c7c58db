//! The example plugins for the dossier's kinds (plugins/dossier/gp_*_example.py):
//! standalone with real python3 and PyYAML on directories in the dossier's
//! layout (docs/contracts.md), and run by the trigger on their kind only.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::{quiet_period, Env};
use gocart_shared::Kind;

const EVENT: &str = "MS230914a";

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../plugins/dossier/{name}"))
}

/// Runs an example plugin by hand, as its docstring says; its stdout.
fn run_by_hand(env: &Env, name: &str, dir: &Path) -> String {
    let out = Command::new("python3")
        .arg(example(name))
        .arg(dir)
        .env("GOCART_SETTINGS", &env.settings)
        .env_remove("GOCART_KIND")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The LVK alert of the event: area90 and a flattened map of three pixels,
/// the most probable one where IceCube's first neutrino is.
fn lvk_dir(env: &Env) -> PathBuf {
    let csv = "# EVENT:MS230914a\n# NSIDE:1\nIPIX,PROB,DISTMU,DISTSIGMA,RA,DEC,GLON,GLAT\n0,0.8,1,1,17.5,16.0,0,0\n1,0.15,1,1,200.0,-40.0,0,0\n2,0.05,1,1,100.0,60.0,0,0\n";
    env.kind_dir(
        Kind::Lvk,
        EVENT,
        "20230914T111401_preliminary",
        "ALERT: {superevent_id: MS230914a, alert_type: PRELIMINARY}\nEXTRA: {area90: 1234.5}\n",
        &[("skymap.csv", csv.as_bytes())],
    )
}

fn icecube_dir(env: &Env) -> PathBuf {
    let meta = "KIND: icecube
NOTICE:
  ref_ID: MS230914a
  coincident_events:
  - event_dt: 12.91
    localization: {ra: 17.48, dec: 16.15, ra_dec_error: 0.5}
  - event_dt: 222.46
    localization: {ra: 200.1, dec: -40.2, ra_dec_error: 0.5}
EXTRA:
  superevent_id: MS230914a
  superevent_dir_exists: true
  ra: 17.49
  dec: 16.18
  pval_generic: 0.0191
  pval_bayesian: 0.0549
  n_events_coincident: 2
";
    env.kind_dir(Kind::Icecube, EVENT, "20230914T114916_icecube", meta, &[])
}

#[test]
fn the_icecube_example_places_each_neutrino_in_the_lvk_area() {
    let env = Env::new();
    let nu = icecube_dir(&env);
    let alone = run_by_hand(&env, "gp_icecube_example.py", &nu);
    assert!(
        alone.contains("no LVK alert directory of MS230914a yet"),
        "{alone}"
    );
    assert!(alone.contains("neutrino 1: RA 17.48 Dec 16.15"), "{alone}");
    lvk_dir(&env);
    let out = run_by_hand(&env, "gp_icecube_example.py", &nu);
    assert_eq!(
        out,
        "IceCube search around MS230914a: 2 coincident neutrino(s), pval_generic 0.0191, pval_bayesian 0.0549
LVK alert 20230914T111401_preliminary: area90 1234.5 deg2
  neutrino 1: RA 17.48 Dec 16.15 (error 0.5 deg), dt 12.91 s: inside the 90% area (credible level 0.800)
  neutrino 2: RA 200.1 Dec -40.2 (error 0.5 deg), dt 222.46 s: outside the 90% area (credible level 0.950)
"
    );
}

#[test]
fn each_example_reads_its_kind_and_leaves_other_kinds_alone() {
    let env = Env::new();
    let lvk = lvk_dir(&env);
    let boom = env.kind_dir(
        Kind::Boom,
        EVENT,
        "20230914T150000_boom-ZTF23abcdefg",
        "KIND: boom\nNOTICE: {}\nEXTRA: {superevent_id: MS230914a, event_name: ZTF23abcdefg, ra: 200.0, dec: -40.0, classification: {Type II: 0.9}}\n",
        &[],
    );
    let circular = env.kind_dir(
        Kind::Circular,
        EVENT,
        "20230914T160000_circular-34567",
        "KIND: circular\nNOTICE: {submitter: A Person <a@b.c>, circularId: 34567}\nEXTRA: {circular_id: 34567, subject: 'LIGO/Virgo/KAGRA MS230914a: Identification', event_id: MS230914a}\n",
        &[],
    );
    let ep = env.kind_dir(
        Kind::EinsteinProbe,
        EVENT,
        "20230914T170000_alert",
        "KIND: einstein_probe\nNOTICE: {id: EP230914a}\nEXTRA: {ra: 10.5, dec: -3.25, error: 0.05, image_snr: 12.0}\n",
        &[],
    );
    let guano = env.kind_dir(
        Kind::SwiftGuano,
        EVENT,
        "20230914T180000_subthreshold",
        "KIND: swift_guano\nNOTICE: {}\nEXTRA: {alert_type: subthreshold, ra: 33.0, dec: 44.0, error: 0.1, far: 0.001}\n",
        &[],
    );
    let cases = [
        ("gp_boom_example.py", &boom, "BOOM candidate ZTF23abcdefg for MS230914a: RA 200.0 Dec -40.0, classification {'Type II': 0.9}\n  credible level 0.950 in 20230914T111401_preliminary's map\n"),
        ("gp_circular_example.py", &circular, "GCN Circular 34567: LIGO/Virgo/KAGRA MS230914a: Identification\n  from A Person <a@b.c>\n"),
        ("gp_einstein_probe_example.py", &ep, "Einstein Probe transient EP230914a: RA 10.5 Dec -3.25 (error 0.05 deg), image SNR 12.0\n"),
        ("gp_swift_guano_example.py", &guano, "Swift BAT-GUANO subthreshold notice: RA 33.0 Dec 44.0 (error 0.1 deg), FAR 0.001 Hz\n"),
    ];
    for (plugin, dir, said) in cases {
        assert_eq!(run_by_hand(&env, plugin, dir), said, "{plugin}");
        let other = run_by_hand(&env, plugin, &lvk);
        assert!(
            other.contains("is a lvk directory") && other.contains("nothing to do"),
            "{plugin}: {other}"
        );
    }
}

#[test]
fn the_trigger_runs_the_icecube_example_on_icecube_directories_only() {
    let env = Env::with_trigger_settings(
        "timeout: 10\n  plugins:\n    gp_icecube_example.py: {kinds: [icecube]}",
    );
    std::fs::copy(
        example("gp_icecube_example.py"),
        env.plugins.join("gp_icecube_example.py"),
    )
    .unwrap();
    let trigger = env.start(&[]);
    let lvk = lvk_dir(&env);
    let nu = icecube_dir(&env);
    let log = env.state.join(format!(
        "logs/{EVENT}/20230914T114916_icecube/gp_icecube_example.py.1.log"
    ));
    assert!(
        common::wait_until(Duration::from_secs(20), || std::fs::read_to_string(&log)
            .is_ok_and(|t| t.contains("neutrino 2"))),
        "{}",
        trigger.log()
    );
    quiet_period();
    assert!(trigger.stop());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("inside the 90% area (credible level 0.800)"),
        "{text}"
    );
    let lvk_log = env.state.join(format!(
        "logs/{EVENT}/{}",
        lvk.file_name().unwrap().to_string_lossy()
    ));
    assert!(!lvk_log.exists(), "it ran on the LVK directory");
    assert!(nu.exists());
}

//! `kill -9` of `gocart-trigger` while real plugin processes run, each kill
//! followed by a restart. Alerts arrive through `gocart-ingest mock` while the
//! trigger runs. Only the trigger is killed, as a crash or the OOM killer
//! would: its plugins are orphaned and finish on their own.
//!
//! Each plugin appends `<plugin> start|end <dir> <pid>` to a log (O_APPEND).
//! After each kill, once no plugin is left running, the log and the record
//! (`gocart-trigger status --json`) must agree: no run started without a claim, every
//! run recorded ok did finish, and a (directory, plugin) recorded ok never
//! starts again. At the end every (directory, plugin) has finished and is ok.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gocart_tests::process::Trigger;
use gocart_tests::{alert_dirs, binaries, with_settings, Pair, Status};

use super::tree::Verifier;
use super::{output_files, Config, Rng};

const PLUGINS: [&str; 3] = ["gp_a", "gp_b", "gp_c"];
/// Alerts written in each round, while the trigger runs.
const ALERTS_PER_ROUND: usize = 2;
/// The kill comes up to this long after the round's alerts are complete.
const MAX_DELAY_MS: u64 = 500;
const WITHIN: Duration = Duration::from_secs(60);

/// What a run did, for the report.
pub struct Figures {
    kills: usize,
    dirs: usize,
    runs_started: usize,
    runs_repeated: usize,
    elapsed: Duration,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} kills, {} alert directories x {} plugins, {} plugin runs started ({} of them again after a kill), {:.1} s",
            self.kills,
            self.dirs,
            PLUGINS.len(),
            self.runs_started,
            self.runs_repeated,
            self.elapsed.as_secs_f64()
        )
    }
}

pub fn run(config: &Config) -> Figures {
    let started = Instant::now();
    let scene = Scene::new();
    let mut rng = Rng::new(config.seed ^ 0x7269_6767_6572);
    let mut ledger = Ledger::default();
    let mut kills = 0;
    for round in 0..config.trigger_kills {
        let context = format!("seed {}, round {round}", config.seed);
        let mut trigger = scene.start();
        scene.mock_alerts(config.seed * 1000 + round as u64, &context);
        std::thread::sleep(rng.millis(MAX_DELAY_MS));
        let running = trigger.running();
        assert!(
            running,
            "{context}: the trigger had exited\n{}",
            trigger.log()
        );
        trigger.kill9();
        kills += running as usize;
        scene.wait_for_orphans(&context);
        ledger.check(&scene, &context);
    }
    let dirs = scene.drain(config.trigger_kills);
    let runs = ledger.check(&scene, "the end");
    ledger.check_complete(&scene, &dirs);
    Figures {
        kills,
        dirs: dirs.len(),
        runs_started: runs,
        runs_repeated: runs - dirs.len() * PLUGINS.len(),
        elapsed: started.elapsed(),
    }
}

/// The settings, tree, plugins, record and plugin log of one run.
struct Scene {
    dir: tempfile::TempDir,
    settings: PathBuf,
    tree: PathBuf,
    plugins: PathBuf,
    log: PathBuf,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let scene = Scene {
            settings: base.join("gocart.yaml"),
            tree: base.join("lvk_events"),
            plugins: base.join("plugins"),
            log: base.join("plugins.log"),
            dir,
        };
        std::fs::create_dir_all(&scene.plugins).unwrap();
        std::fs::write(&scene.log, "").unwrap();
        for (n, name) in PLUGINS.iter().enumerate() {
            scene.write_plugin(name, n);
        }
        std::fs::write(
            &scene.settings,
            format!(
                "lvk:\n  parse_mock_events: true\n  download_dir: {}\n  aitoff: {{convert: false}}\n  ascii_map: {{convert: false}}\n\
                 trigger:\n  plugins_dir: {}\n  state_dir: {}\n  timeout: 30\n  concurrency: 2\n",
                scene.tree.display(),
                scene.plugins.display(),
                base.join("state").display()
            ),
        )
        .unwrap();
        scene
    }

    /// A plugin that logs its start and end and sleeps 0-199 ms between.
    fn write_plugin(&self, name: &str, n: usize) {
        let path = self.plugins.join(name);
        let log = self.log.display();
        let text = format!(
            "#!/bin/sh\necho \"{name} start $1 $$\" >> '{log}'\n\
             sleep \"$(printf '0.%03d' $(( ($$ * 7919 + {n} * 61) % 200 )))\"\n\
             echo \"{name} end $1 $$\" >> '{log}'\n"
        );
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn command(&self, program: &Path) -> Command {
        with_settings(program, &self.settings)
    }

    fn start(&self) -> Trigger {
        let (_, stderr) = output_files(self.dir.path());
        let mut command = self.command(&binaries().trigger);
        command
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap());
        Trigger::spawn(&mut command, stderr)
    }

    /// `gocart-ingest mock`: new complete alert directories, written while
    /// the trigger runs.
    fn mock_alerts(&self, seed: u64, context: &str) {
        let out = self
            .command(&binaries().ingest)
            .args(["mock", "--count", &ALERTS_PER_ROUND.to_string()])
            .args(["--seed", &seed.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{context}: mock failed\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Waits until no plugin process is left (the killed trigger's orphans
    /// finish on their own, in at most 200 ms of sleep).
    fn wait_for_orphans(&self, context: &str) {
        let deadline = Instant::now() + WITHIN;
        while plugins_running(&self.plugins) > 0 {
            assert!(
                Instant::now() < deadline,
                "{context}: plugins still running"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A last start that runs everything due, then a clean stop; the alert
    /// directories written in `rounds` rounds.
    fn drain(&self, rounds: usize) -> Vec<PathBuf> {
        let dirs = alert_dirs(&self.tree);
        assert_eq!(dirs.len(), rounds * ALERTS_PER_ROUND, "{dirs:?}");
        let want = (dirs.len() * PLUGINS.len()) as u64;
        let all_ok = |status: &Status| {
            let others = ["pending", "running", "failed"].map(|state| status.count(state));
            status.count("ok") == want && others == [0; 3]
        };
        let trigger = self.start();
        let deadline = Instant::now() + WITHIN;
        while !all_ok(&self.status()) {
            assert!(
                Instant::now() < deadline,
                "{:?}\n{}",
                self.status().runs,
                trigger.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = trigger.log();
        assert!(trigger.stop(), "the trigger did not exit cleanly\n{log}");
        dirs
    }

    /// The record, from `status --json` with every run.
    fn status(&self) -> Status {
        let out = self
            .command(&binaries().trigger)
            .args(["status", "--json", "--last", "1000000"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        // 1 is status's verdict (no trigger running, a failed run), not an error.
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Status::parse(&out.stdout).unwrap_or_else(|| panic!("not the JSON of status: {text}"))
    }
}

/// How many processes run one of the plugins in `dir` (found in /proc).
fn plugins_running(dir: &Path) -> usize {
    let needle = dir.as_os_str().as_encoded_bytes();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|cmdline| cmdline.windows(needle.len()).any(|w| w == needle))
        .count()
}

/// What the suite has seen so far: how many times each (directory, plugin)
/// recorded ok had started when it was first seen ok.
#[derive(Default)]
struct Ledger {
    ok_at: HashMap<Pair, usize>,
    verifier: Verifier,
}

impl Ledger {
    /// Checks the log against the record; returns how many runs started.
    fn check(&mut self, scene: &Scene, context: &str) -> usize {
        self.verifier.check(&scene.tree, context);
        let log = PluginLog::read(&scene.log);
        let record = scene.status().last_runs;
        for (pair, pids) in &log.starts {
            let ends = log.ends.get(pair).map_or(0, BTreeSet::len);
            assert_eq!(
                ends,
                pids.len(),
                "{context}: {pair:?}: a plugin never ended"
            );
            let attempts = record.get(pair).map_or(0, |(_, attempts)| *attempts);
            assert!(
                pids.len() <= attempts,
                "{context}: {pair:?} started {} times but was claimed {attempts} times",
                pids.len()
            );
        }
        for (pair, (state, _)) in &record {
            if state == "ok" {
                self.check_ok(pair, &log, context);
            }
        }
        log.starts.values().map(BTreeSet::len).sum()
    }

    /// A run recorded ok did finish, and never starts again.
    fn check_ok(&mut self, pair: &Pair, log: &PluginLog, context: &str) {
        let starts = log.starts.get(pair).map_or(0, BTreeSet::len);
        assert!(
            log.ends.contains_key(pair),
            "{context}: {pair:?} is recorded ok but never ended"
        );
        let first_seen = *self.ok_at.entry(pair.clone()).or_insert(starts);
        assert_eq!(
            starts, first_seen,
            "{context}: {pair:?} finished and was recorded ok, then started again"
        );
    }

    /// Every (directory, plugin) ran to its end and is recorded ok.
    fn check_complete(&self, scene: &Scene, dirs: &[PathBuf]) {
        let log = PluginLog::read(&scene.log);
        let record = scene.status().last_runs;
        for dir in dirs {
            for plugin in PLUGINS {
                let pair = (dir.display().to_string(), plugin.to_string());
                assert!(log.ends.contains_key(&pair), "{pair:?} never finished");
                assert_eq!(
                    record.get(&pair).map(|r| r.0.as_str()),
                    Some("ok"),
                    "{pair:?}"
                );
            }
        }
        assert_eq!(
            log.starts.len(),
            dirs.len() * PLUGINS.len(),
            "runs of unknown directories"
        );
    }
}

/// The plugin log: the pids that started and ended each (directory, plugin).
struct PluginLog {
    starts: BTreeMap<Pair, BTreeSet<u32>>,
    ends: BTreeMap<Pair, BTreeSet<u32>>,
}

impl PluginLog {
    fn read(path: &Path) -> PluginLog {
        let mut log = PluginLog {
            starts: BTreeMap::new(),
            ends: BTreeMap::new(),
        };
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let [plugin, what, dir, pid] = fields[..] else {
                panic!("torn plugin log line {line:?}");
            };
            let pair = (dir.to_string(), plugin.to_string());
            let pid: u32 = pid.parse().unwrap();
            let side = if what == "start" {
                &mut log.starts
            } else {
                &mut log.ends
            };
            side.entry(pair).or_default().insert(pid);
        }
        log
    }
}

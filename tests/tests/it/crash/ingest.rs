//! `kill -9` of `gocart-ingest import` at pseudo-random moments while it writes
//! a queue of realistic alerts (mock events' lives with their updates and
//! retractions, plus changed versions of some alerts that replace them), each
//! kill followed by a restart from the first alert the killed run had not
//! reported: the at-least-once delivery of a consumer that commits after
//! writing. When the queue is through, its tree is checked in full and a fresh
//! tree (an "epoch") takes the next kills.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::TimeZone;
use gocart_ingest::alert::Alert;
use gocart_shared::marker::sha256_hex;
use gocart_shared::Tree;
use gocart_tests::{alert_dirs, assert_holds_message, binaries, with_settings};

use super::tree::{assert_leftovers_only_of, staging_leftovers, Verifier};
use super::{run_and_kill, Config, Rng};

/// Alerts in the queue before changed versions are added.
const ALERTS: usize = 24;
/// Kills come up to this long after a start at first; the bound then follows
/// the speed of the machine and build (see `Pace`).
const FIRST_MAX_DELAY_MS: u64 = 700;

/// What a run did, for the report.
pub struct Figures {
    kills: usize,
    runs: usize,
    epochs: usize,
    queue: String,
    dirs_checked: usize,
    elapsed: Duration,
}

impl std::fmt::Display for Figures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} kills in {} runs of import, {} queues of {}, {} alert directories checked complete, {:.1} s",
            self.kills,
            self.runs,
            self.epochs,
            self.queue,
            self.dirs_checked,
            self.elapsed.as_secs_f64()
        )
    }
}

pub fn run(config: &Config) -> Figures {
    let started = Instant::now();
    let mut rng = Rng::new(config.seed);
    let scratch = tempfile::tempdir().unwrap();
    let queue = Queue::build(scratch.path(), config.seed, &mut rng);
    let mut figures = Figures {
        kills: 0,
        runs: 0,
        epochs: 1,
        queue: queue.describe(),
        dirs_checked: 0,
        elapsed: Duration::ZERO,
    };
    let mut epoch = Epoch::new(scratch.path(), 0);
    let mut pace = Pace {
        max_delay_ms: FIRST_MAX_DELAY_MS,
    };
    while figures.kills < config.ingest_kills {
        if epoch.done == queue.files.len() {
            figures.dirs_checked += epoch.finish(&queue);
            epoch = Epoch::new(scratch.path(), figures.epochs);
            figures.epochs += 1;
        }
        let context = format!("seed {}, run {}", config.seed, figures.runs);
        let delay = rng.millis(pace.max_delay_ms);
        let (killed, reported) = epoch.killed_run(&queue, delay, &context);
        pace.adjust(killed, reported);
        figures.kills += killed as usize;
        figures.runs += 1;
    }
    epoch.run_to_end(&queue);
    figures.dirs_checked += epoch.finish(&queue);
    figures.elapsed = started.elapsed();
    figures
}

/// The bound of the kill delays, kept where a run gets through a few alerts:
/// kills then land at every stage of an alert, not mostly between runs.
struct Pace {
    max_delay_ms: u64,
}

impl Pace {
    fn adjust(&mut self, killed: bool, reported: usize) {
        let scale = match (killed, reported) {
            (false, _) => 0.7,
            (true, 0) => 1.2,
            (true, 1..=3) => 1.0,
            (true, _) => 0.85,
        };
        self.max_delay_ms = ((self.max_delay_ms as f64 * scale) as u64).clamp(20, 5000);
    }
}

/// The messages, as files in import order, and what each directory must end as.
struct Queue {
    files: Vec<PathBuf>,
    /// Relative alert directory of each message.
    dirs: Vec<PathBuf>,
    /// SHA-256 of each message.
    shas: Vec<String>,
    retractions: usize,
}

impl Queue {
    fn build(scratch: &Path, seed: u64, rng: &mut Rng) -> Queue {
        let mut messages = mock_messages(scratch, seed);
        add_changed_versions(&mut messages, rng);
        add_retraction(&mut messages);
        let inbox = scratch.join("inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        let mut queue = Queue {
            files: Vec::new(),
            dirs: Vec::new(),
            shas: Vec::new(),
            retractions: 0,
        };
        for (i, bytes) in messages.iter().enumerate() {
            let file = inbox.join(format!("{i:04}.json"));
            std::fs::write(&file, bytes).unwrap();
            let alert = Alert::parse(bytes).expect("mock alerts parse");
            queue.files.push(file);
            queue
                .dirs
                .push(Tree::new("").alert_dir(&alert.superevent_id, &alert.dir_name()));
            queue.shas.push(sha256_hex(bytes));
            queue.retractions += alert.is_retraction() as usize;
        }
        queue
    }

    /// A summary for the figures.
    fn describe(&self) -> String {
        let dirs = self.last_versions(self.files.len()).len();
        format!(
            "{} messages: {dirs} alerts, {} changed versions, {} retractions",
            self.files.len(),
            self.files.len() - dirs,
            self.retractions
        )
    }

    /// Each directory and the index of its last message in `..upto`.
    fn last_versions(&self, upto: usize) -> BTreeMap<&Path, usize> {
        let mut last = BTreeMap::new();
        for (i, dir) in self.dirs[..upto].iter().enumerate() {
            last.insert(dir.as_path(), i);
        }
        last
    }
}

/// Realistic alerts from the `mock` generator; the seed fixes their clock too,
/// so the same seed gives the same bytes.
fn mock_messages(scratch: &Path, seed: u64) -> Vec<Vec<u8>> {
    let now = chrono::Utc.timestamp_opt(1_767_225_600 + (seed % 1_000_000) as i64, 0);
    let options = gocart_ingest::mock::Options {
        count: ALERTS,
        group: None,
        seed,
        now: now.unwrap(),
    };
    let alerts = gocart_ingest::mock::generate(&options, &scratch.join("fits")).unwrap();
    alerts.into_iter().map(|a| a.message).collect()
}

/// A changed version (another FAR) of the first alert and of about one in
/// six others, a few places after it: the same directory name, so it
/// replaces the first version.
fn add_changed_versions(messages: &mut Vec<Vec<u8>>, rng: &mut Rng) {
    for i in (0..messages.len()).rev() {
        if i > 0 && rng.below(6) != 0 {
            continue;
        }
        let mut value: serde_json::Value = serde_json::from_slice(&messages[i]).unwrap();
        let Some(far) = value["event"]["far"].as_f64() else {
            continue;
        };
        value["event"]["far"] = serde_json::json!(far * 0.5);
        let at = (i + 1 + rng.below(3) as usize).min(messages.len());
        messages.insert(at, serde_json::to_vec_pretty(&value).unwrap());
    }
}

/// A RETRACTION of the first event, an hour after its first alert, at the
/// end of the queue, unless the mock lives brought one.
fn add_retraction(messages: &mut Vec<Vec<u8>>) {
    let retraction = |m: &Vec<u8>| Alert::parse(m).is_ok_and(|a| a.is_retraction());
    if messages.iter().any(retraction) {
        return;
    }
    let mut value: serde_json::Value = serde_json::from_slice(&messages[0]).unwrap();
    let first = value["time_created"].as_str().unwrap();
    let created = chrono::DateTime::parse_from_rfc3339(first).unwrap() + chrono::Duration::hours(1);
    value["time_created"] = created.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
    value["alert_type"] = "RETRACTION".into();
    value["event"] = serde_json::Value::Null;
    messages.push(serde_json::to_vec_pretty(&value).unwrap());
}

/// One tree, fed the queue through kills and restarts.
struct Epoch {
    tree: PathBuf,
    settings: PathBuf,
    /// Messages reported written by a run: the next run starts after them.
    done: usize,
    /// Killed runs since the last one that reached an alert (and so had
    /// cleared the leftovers of those before it).
    uncleared: Vec<u32>,
    verifier: Verifier,
}

impl Epoch {
    fn new(scratch: &Path, n: usize) -> Epoch {
        let tree = scratch.join(format!("tree-{n}"));
        let settings = scratch.join(format!("gocart-{n}.yaml"));
        std::fs::write(
            &settings,
            format!(
                "lvk:\n  parse_mock_events: true\n  download_dir: {}\n  json: true\n  aitoff: {{convert: false}}\n",
                tree.display()
            ),
        )
        .unwrap();
        Epoch {
            tree,
            settings,
            done: 0,
            uncleared: Vec::new(),
            verifier: Verifier::default(),
        }
    }

    fn import(&self, queue: &Queue) -> Command {
        let mut command = with_settings(&binaries().ingest, &self.settings);
        command.arg("import").args(&queue.files[self.done..]);
        command
    }

    /// One run of import from `done`, killed after `delay`, then the checks.
    /// Whether the run was still going when killed, and how many messages it
    /// reported settled.
    fn killed_run(&mut self, queue: &Queue, delay: Duration, context: &str) -> (bool, usize) {
        let outputs = self.tree.with_extension("out");
        std::fs::create_dir_all(&outputs).unwrap();
        let run = run_and_kill(self.import(queue), &outputs, delay);
        let reported = reported(&run.stdout, context);
        self.done += reported;
        self.check_round(queue, context);
        if reported > 0 {
            self.uncleared.clear();
        }
        self.uncleared.push(run.pid);
        assert_leftovers_only_of(&self.tree, &self.uncleared, context);
        (run.killed, reported)
    }

    fn run_to_end(&mut self, queue: &Queue) {
        let out = self.import(queue).output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.done += reported(&stdout, "the last run");
    }

    /// Every directory is complete and holds one of its messages, no older
    /// than the last one reported written.
    fn check_round(&mut self, queue: &Queue, context: &str) {
        let index: HashMap<&str, usize> = queue
            .shas
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let found = self.verifier.check(&self.tree, context);
        let in_tree: HashMap<PathBuf, usize> = found
            .iter()
            .map(|(dir, marker)| {
                let i = *index
                    .get(marker.message_sha256.as_str())
                    .unwrap_or_else(|| {
                        panic!("{context}: {} holds no message of the queue", dir.display())
                    });
                let relative = dir.strip_prefix(&self.tree).unwrap();
                assert_eq!(
                    relative, queue.dirs[i],
                    "{context}: a message in the wrong directory"
                );
                (relative.to_path_buf(), i)
            })
            .collect();
        for (dir, reported) in queue.last_versions(self.done) {
            let held = in_tree.get(dir).unwrap_or_else(|| {
                panic!(
                    "{context}: {} was reported written and is gone",
                    dir.display()
                )
            });
            assert!(
                *held >= reported,
                "{context}: {} went back to an older version",
                dir.display()
            );
        }
    }

    /// The whole queue is through: one directory per alert, each holding the
    /// last message for it byte for byte, nothing rejected, nothing left in
    /// staging. Removes the tree; returns how many directories it had.
    fn finish(&mut self, queue: &Queue) -> usize {
        self.check_round(queue, "the end of a queue");
        let last = queue.last_versions(queue.files.len());
        let dirs = alert_dirs(&self.tree);
        let relative: Vec<&Path> = dirs
            .iter()
            .map(|d| d.strip_prefix(&self.tree).unwrap())
            .collect();
        assert_eq!(
            relative,
            last.keys().copied().collect::<Vec<_>>(),
            "one directory per alert"
        );
        for (dir, i) in &last {
            assert_holds_message(
                &self.tree.join(dir),
                &std::fs::read(&queue.files[*i]).unwrap(),
            );
        }
        assert!(
            !self.tree.join(".rejected").exists(),
            "nothing was rejected"
        );
        assert_eq!(staging_leftovers(&self.tree), Vec::<String>::new());
        std::fs::remove_dir_all(&self.tree).unwrap();
        dirs.len()
    }
}

/// How many messages a run reported settled (written, replaced, or found
/// unchanged); anything else is a failure of the suite.
fn reported(stdout: &str, context: &str) -> usize {
    let mut n = 0;
    for line in stdout.lines() {
        if ["WRITTEN: ", "REPLACED: ", "UNCHANGED: "]
            .iter()
            .any(|p| line.starts_with(p))
        {
            n += 1;
        }
        for bad in ["SKIPPED: ", "REJECTED: ", "FAILED: "] {
            assert!(!line.starts_with(bad), "{context}: {line}\n{stdout}");
        }
    }
    n
}

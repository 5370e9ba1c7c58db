//! What both halves of the crash suite (`suite`) share: its size and seed, a
//! seeded pseudo-random sequence, and a program run that ends in `kill -9`.
//!
//! It shares the test binary of gocart-tests: its processes are its own (its
//! scratch trees, its plugins found by their own directory), so the other
//! tests running beside it cannot disturb its checks. `scripts/crash-suite.sh`
//! runs it alone (`crash::`), one test at a time.

pub mod ingest;
mod suite;
pub mod tree;
pub mod trigger;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// How big a run is, and the seed that replays it.
pub struct Config {
    pub ingest_kills: usize,
    pub trigger_kills: usize,
    pub seed: u64,
}

impl Config {
    /// Sizes from `GOCART_CRASH_*_KILLS` (bounded defaults); the seed from
    /// `GOCART_CRASH_SEED`, else the clock. One seed for the whole process,
    /// printed once, so a failure can be replayed.
    pub fn get() -> &'static Config {
        static CONFIG: OnceLock<Config> = OnceLock::new();
        CONFIG.get_or_init(Config::from_env)
    }

    fn from_env() -> Config {
        let clock = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let config = Config {
            ingest_kills: env_number("GOCART_CRASH_INGEST_KILLS", 50) as usize,
            trigger_kills: env_number("GOCART_CRASH_TRIGGER_KILLS", 15) as usize,
            seed: env_number("GOCART_CRASH_SEED", clock % 1_000_000),
        };
        eprintln!(
            "crash suite: seed {} (GOCART_CRASH_SEED={} replays it)",
            config.seed, config.seed
        );
        config
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

/// SplitMix64: a small, seeded, reproducible sequence.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn millis(&mut self, max: u64) -> Duration {
        Duration::from_millis(self.below(max + 1))
    }
}

/// What a killed run left: whether it was still running at the kill (it may
/// have finished first), its pid and its standard output so far.
pub struct Killed {
    pub killed: bool,
    pub pid: u32,
    pub stdout: String,
}

/// Starts `command` (output to files in `dir`), sends SIGKILL after `delay`.
pub fn run_and_kill(mut command: Command, dir: &Path, delay: Duration) -> Killed {
    let (stdout, stderr) = output_files(dir);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("the program starts");
    std::thread::sleep(delay);
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill(); // SIGKILL
    let status = child.wait().unwrap();
    let stdout = std::fs::read_to_string(&stdout).unwrap_or_default();
    if !killed {
        let err = std::fs::read_to_string(&stderr).unwrap_or_default();
        assert!(status.success(), "{status}\n{stdout}\n{err}");
    }
    Killed {
        killed,
        pid: child.id(),
        stdout,
    }
}

/// Fresh stdout and stderr file names in `dir`.
pub fn output_files(dir: &Path) -> (PathBuf, PathBuf) {
    let n = gocart_tests::unique();
    (
        dir.join(format!("out-{n}.txt")),
        dir.join(format!("err-{n}.txt")),
    )
}

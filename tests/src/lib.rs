//! The test support of every crate's tests, and of the benchmarks: where the
//! real LVK alerts are, and the rule for when they are absent; the built
//! binaries (`binaries`); looking at an alert tree (`tree`); reading the
//! trigger's record (`record`); waiting with a deadline (`wait`); the programs
//! as processes (`process`); synthetic alert messages (`messages`), GCN
//! notices of the other kinds (`notices`) and the
//! hostile-input corpus made from them (`hostile`); a Tansu broker and
//! `gocart-ingest listen` for the Kafka tests (`kafka`); a plain HTTP client
//! for the serve tests (`http`); the python env of the tests that compare
//! with the reference libraries (`pyenv`).
//!
//! The real alerts live beside the checkout (`../shared/alerts`), never in the
//! project. A user's clone may not have them: tests that need them say they
//! were skipped. In CI (`CI=true`) their absence is a failure, so a green CI
//! run always means they were checked.

mod binaries;
pub mod hostile;
pub mod http;
pub mod kafka;
pub mod messages;
pub mod notices;
pub mod process;
mod pyenv;
mod record;
mod tree;
mod wait;

pub use binaries::{binaries, profile_dir, with_settings, Binaries};
pub use pyenv::{python_env, python_env_dir};
pub use record::{Pair, Status};
pub use tree::{alert_dirs, assert_holds_message, entries};
pub use wait::{unique, wait_until};

use std::path::{Path, PathBuf};

/// The directory holding `lvk/` and `skymaps/`: `GOCART_TEST_DATA`, else
/// `../shared/alerts` beside the checkout. `None` (after saying so) when absent
/// outside CI; panics when absent in CI.
pub fn shared_alerts(test: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("GOCART_TEST_DATA") {
        Some(dir) => PathBuf::from(dir),
        None => workspace_root().join("../shared/alerts"),
    };
    if dir.join("lvk").is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{test}: the shared alerts are missing at {} and CI=true",
            dir.display()
        );
    }
    eprintln!(
        "{test}: skipped: the shared alerts are absent at {}",
        dir.display()
    );
    None
}

/// Every real alert message, in name order.
pub fn shared_alert_files(test: &str) -> Option<Vec<PathBuf>> {
    Some(json_files_in(&shared_alerts(test)?.join("lvk")))
}

/// The `*.json` files of `dir`, in name order.
pub(crate) fn json_files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

/// The workspace's top directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

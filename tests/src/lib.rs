//! Test data for every crate's tests: where the real LVK alerts are, and the
//! rule for when they are absent; the built binaries, for the end-to-end
//! tests of this crate (`binaries`); looking at an alert tree (`tree`); and
//! reading the trigger's record (`record`).
//!
//! The real alerts live beside the checkout (`../shared/alerts`), never in the
//! project. A user's clone may not have them: tests that need them say they
//! were skipped. In CI (`CI=true`) their absence is a failure, so a green CI
//! run always means they were checked.

mod binaries;
mod record;
mod tree;

pub use binaries::{binaries, Binaries};
pub use record::{record_rows, Pair};
pub use tree::{alert_dirs, assert_holds_message, entries};

use std::path::PathBuf;

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
    let dir = shared_alerts(test)?.join("lvk");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Some(files)
}

/// The workspace's top directory.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

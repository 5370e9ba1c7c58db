//! Looking at an alert tree as the end-to-end tests do: its alert directories,
//! and whether one is complete and holds a given message.

use std::path::{Path, PathBuf};

use gocart_shared::Marker;

/// Every directory two levels under `mockevents/` and `superevents/`, marker
/// or not, sorted.
pub fn alert_dirs(tree: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = ["mockevents", "superevents"]
        .iter()
        .flat_map(|kind| entries(&tree.join(kind)))
        .flat_map(|event| entries(&event))
        .collect();
    dirs.sort();
    dirs
}

/// Everything in `dir` (nothing if it cannot be read).
pub fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

/// `dir` is complete and its copy of the alert (`lvk.json`) is `message`,
/// byte for byte.
pub fn assert_holds_message(dir: &Path, message: &[u8]) {
    let marker = Marker::read_checked(dir).unwrap_or_else(|e| panic!("{e}"));
    let copy = marker
        .files
        .iter()
        .find(|f| f.name.ends_with(".json"))
        .unwrap_or_else(|| panic!("{} has no copy of its message", dir.display()));
    assert!(
        std::fs::read(dir.join(&copy.name)).unwrap() == message,
        "{} does not hold the message it was written from",
        dir.display()
    );
}

//! What must hold of an alert tree after any crash: every directory in it has
//! its marker and exactly the files the marker lists, byte for byte; nothing
//! else lies in the tree but staging leftovers of the writer just killed.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use gocart_shared::marker::sha256_hex;
use gocart_shared::{Marker, MARKER_NAME};
use gocart_tests::{alert_dirs, entries};

/// Checks directories against their markers, hashing each version of a
/// directory once (a tree of large sky maps is checked after every round).
#[derive(Default)]
pub struct Verifier {
    hashed: HashMap<PathBuf, (u64, i64, i64)>,
}

impl Verifier {
    /// Every alert directory with its marker; panics on a torn one, or on a
    /// file in the tree that is neither an alert directory nor hidden.
    pub fn check(&mut self, tree: &Path, context: &str) -> Vec<(PathBuf, Marker)> {
        check_no_stray_files(tree, context);
        alert_dirs(tree)
            .into_iter()
            .map(|dir| {
                let marker = self.check_dir(&dir, context);
                (dir, marker)
            })
            .collect()
    }

    fn check_dir(&mut self, dir: &Path, context: &str) -> Marker {
        let marker =
            Marker::read_checked(dir).unwrap_or_else(|e| panic!("{context}: torn directory: {e}"));
        let meta = std::fs::metadata(dir.join(MARKER_NAME)).unwrap();
        let version = (meta.ino(), meta.mtime(), meta.mtime_nsec());
        if self.hashed.get(dir) != Some(&version) {
            check_contents(dir, &marker, context);
            self.hashed.insert(dir.to_path_buf(), version);
        }
        marker
    }
}

/// The directory holds exactly the marker's files, with their SHA-256.
fn check_contents(dir: &Path, marker: &Marker, context: &str) {
    let mut listed: Vec<&str> = marker.files.iter().map(|f| f.name.as_str()).collect();
    listed.push(MARKER_NAME);
    listed.sort();
    let mut present: Vec<String> = entries(dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    present.sort();
    assert_eq!(
        present,
        listed,
        "{context}: {} holds other files than its marker lists",
        dir.display()
    );
    for file in &marker.files {
        let bytes = std::fs::read(dir.join(&file.name)).unwrap();
        assert_eq!(
            sha256_hex(&bytes),
            file.sha256,
            "{context}: {}/{} differs from its marker",
            dir.display(),
            file.name
        );
    }
}

/// Only directories in the tree's two levels of events, and hidden entries.
fn check_no_stray_files(tree: &Path, context: &str) {
    let kinds = ["mockevents", "superevents"];
    for entry in entries(tree) {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with('.') || kinds.contains(&name.as_str()),
            "{context}: unexpected {} in the tree",
            entry.display()
        );
    }
    for event in kinds.iter().flat_map(|k| entries(&tree.join(k))) {
        assert!(event.is_dir(), "{context}: stray file {}", event.display());
        for alert in entries(&event) {
            assert!(alert.is_dir(), "{context}: stray file {}", alert.display());
        }
    }
}

/// The names in `.staging/`.
pub fn staging_leftovers(tree: &Path) -> Vec<String> {
    let mut names: Vec<String> = entries(&tree.join(".staging"))
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Leftovers in `.staging/` are only those of `writers` (the ones killed since
/// the last run that got as far as its first alert): every start clears those
/// of writers that are gone.
pub fn assert_leftovers_only_of(tree: &Path, writers: &[u32], context: &str) {
    for name in staging_leftovers(tree) {
        assert!(
            writers.iter().any(|pid| name.contains(&format!(".{pid}."))),
            "{context}: .staging/{name} was left by an earlier writer and never cleared"
        );
    }
}

//! Scanning the tree: the truth that kernel events only hint at.
//!
//! Which directories are complete comes from `gocart_shared::Tree`; this adds
//! the marker's identity (from the same `stat`), which lets a scan of 100,000
//! directories skip every one already settled without reading a single marker.

pub use gocart_shared::tree::visible_subdirs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use gocart_shared::{Level, Tree, MARKER_NAME};

use crate::record::Identity;

/// The identity of a directory's marker, if it has one.
pub fn identity_of(dir: &Path) -> Option<Identity> {
    std::fs::metadata(dir.join(MARKER_NAME))
        .ok()
        .map(|meta| identity(&meta))
}

/// The identity of a marker from its metadata.
pub fn identity(meta: &std::fs::Metadata) -> Identity {
    Identity {
        ino: meta.ino(),
        size: meta.size(),
        mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
    }
}

/// The complete alert directories at or below `path` whose marker identity
/// passes `keep` (the dispatcher leaves out the settled ones), in path order.
/// The whole tree is scanned by two threads: a scan is mostly `stat`s.
pub fn complete_in(
    tree: &Tree,
    path: &Path,
    keep: impl Fn(&Path, Identity) -> bool + Sync,
) -> Vec<(PathBuf, Identity)> {
    if tree.level_of(path) != Some(Level::Root) {
        return scan_one(tree, path, &keep);
    }
    let events = tree.event_folders();
    let (first, second) = events.split_at(events.len() / 2);
    let scan_all = |events: &[PathBuf]| -> Vec<(PathBuf, Identity)> {
        events
            .iter()
            .flat_map(|e| scan_one(tree, e, &keep))
            .collect()
    };
    std::thread::scope(|s| {
        let helper = s.spawn(|| scan_all(first));
        let rest = scan_all(second);
        let mut found = helper.join().unwrap_or_else(|_| scan_all(first));
        found.extend(rest);
        found
    })
}

fn scan_one(
    tree: &Tree,
    path: &Path,
    keep: &(impl Fn(&Path, Identity) -> bool + Sync),
) -> Vec<(PathBuf, Identity)> {
    let mut found = Vec::new();
    tree.for_each_complete_alert_in(path, |dir, meta| {
        let id = identity(meta);
        if keep(&dir, id) {
            found.push((dir, id));
        }
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_changes_when_the_marker_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(identity_of(dir.path()), None);
        std::fs::write(dir.path().join(MARKER_NAME), "{}").unwrap();
        let first = identity_of(dir.path()).unwrap();
        let other = dir.path().join("new");
        std::fs::write(&other, "{ }").unwrap();
        std::fs::rename(&other, dir.path().join(MARKER_NAME)).unwrap();
        assert_ne!(identity_of(dir.path()).unwrap(), first);
    }
}

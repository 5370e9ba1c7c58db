//! Scanning the tree: the truth that kernel events only hint at.
//!
//! Which directories are complete comes from `gocart_shared::Tree`; this adds
//! the marker's identity (one `stat`), which lets a scan of 100,000 directories
//! skip every one already settled without reading a single marker.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use gocart_shared::{Tree, MARKER_NAME};

use crate::record::Identity;

/// The identity of a directory's marker, if it has one.
pub fn identity_of(dir: &Path) -> Option<Identity> {
    let meta = std::fs::metadata(dir.join(MARKER_NAME)).ok()?;
    Some(Identity {
        ino: meta.ino(),
        size: meta.size(),
        mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
    })
}

/// The complete alert directories at or below `path`, with their marker identity.
pub fn complete_in(tree: &Tree, path: &Path) -> Vec<(PathBuf, Identity)> {
    tree.complete_alert_dirs_in(path)
        .into_iter()
        .filter_map(|dir| identity_of(&dir).map(|id| (dir, id)))
        .collect()
}

/// The visible subdirectories of `dir` (names not starting with `.`).
pub fn visible_subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| !gocart_shared::tree::is_hidden(&e.file_name().to_string_lossy()))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
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

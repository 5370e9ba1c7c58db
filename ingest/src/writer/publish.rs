//! Putting a complete staging directory into the tree in one atomic step.

use std::path::{Path, PathBuf};

use gocart_shared::tree::exchange_dirs;
use gocart_shared::Marker;

use super::sync_dir;

/// What publishing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// A new alert directory.
    Written(PathBuf),
    /// The same message was already there, complete: nothing changed.
    Unchanged(PathBuf),
    /// A different message with the same directory name replaced the old one.
    Replaced(PathBuf),
}

/// Moves the complete directory `staged` to `target`. If `target` already holds
/// the same message (same SHA-256), `staged` is discarded; if it holds anything
/// else, the two are swapped atomically and the old one removed.
pub fn publish(staged: &Path, target: &Path, message_sha256: &str) -> std::io::Result<Published> {
    let parent = target
        .parent()
        .ok_or_else(|| std::io::Error::other("an alert directory has a parent"))?;
    create_dirs_durably(parent)?;
    if let Ok(existing) = Marker::read(target) {
        if existing.message_sha256 == message_sha256 {
            std::fs::remove_dir_all(staged)?;
            return Ok(Published::Unchanged(target.to_path_buf()));
        }
    }
    match std::fs::rename(staged, target) {
        Ok(()) => {
            sync_dir(parent)?;
            Ok(Published::Written(target.to_path_buf()))
        }
        // rename(2) refuses to replace a non-empty directory: swap instead.
        Err(e) if target.is_dir() && is_not_empty(&e) => {
            exchange_dirs(staged, target)?;
            sync_dir(parent)?;
            if let Some(staging_parent) = staged.parent() {
                sync_dir(staging_parent)?;
            }
            // `staged` now holds the old version.
            std::fs::remove_dir_all(staged)?;
            Ok(Published::Replaced(target.to_path_buf()))
        }
        Err(e) => Err(e),
    }
}

fn is_not_empty(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST))
}

/// `create_dir_all`, fsyncing each parent of a directory it creates, so that the
/// event directory cannot vanish in a power cut after its alert was renamed in.
fn create_dirs_durably(dir: &Path) -> std::io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dirs_durably(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use gocart_shared::marker::{Source, MARKER_NAME};

    fn complete_dir(root: &Path, name: &str, sha: &str, content: &str) -> PathBuf {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("meta.yaml"), content).unwrap();
        let marker = Marker {
            kind: gocart_shared::Kind::Lvk,
            superevent_id: "MS1".into(),
            alert_type: "INITIAL".into(),
            time_created: String::new(),
            source: Source::Mock { mock: 0 },
            written_at: String::new(),
            message_sha256: sha.into(),
            files: vec![],
        };
        std::fs::write(dir.join(MARKER_NAME), marker.to_json()).unwrap();
        dir
    }

    #[test]
    fn new_same_and_changed_messages() {
        let root = tempfile::tempdir().unwrap();
        let target = root
            .path()
            .join("tree/mockevents/MS1/20230101T000000_initial");
        let a = complete_dir(root.path(), "stage-a", "aaa", "first");
        assert_eq!(
            publish(&a, &target, "aaa").unwrap(),
            Published::Written(target.clone())
        );
        assert!(!a.exists());

        let again = complete_dir(root.path(), "stage-b", "aaa", "second");
        assert_eq!(
            publish(&again, &target, "aaa").unwrap(),
            Published::Unchanged(target.clone())
        );
        assert_eq!(
            std::fs::read_to_string(target.join("meta.yaml")).unwrap(),
            "first"
        );
        assert!(!again.exists());

        let changed = complete_dir(root.path(), "stage-c", "ccc", "third");
        assert_eq!(
            publish(&changed, &target, "ccc").unwrap(),
            Published::Replaced(target.clone())
        );
        assert_eq!(
            std::fs::read_to_string(target.join("meta.yaml")).unwrap(),
            "third"
        );
        assert!(!changed.exists());
    }
}

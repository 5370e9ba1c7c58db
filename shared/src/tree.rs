//! The layout of the alert tree under `download_dir`:
//!
//! ```text
//! <download_dir>/mockevents/<superevent_id>/<stamp>_<alert_type>/    MS... alerts
//! <download_dir>/superevents/<superevent_id>/<stamp>_<alert_type>/   S... alerts
//! <download_dir>/circulars/<circularId>/<stamp>_circular/   circulars naming no superevent
//! <download_dir>/transients/<kind>/<id>/<stamp>_<alert_type>/   Einstein Probe, Swift GUANO
//! <download_dir>/feed/<stamp>_silent/, feed/<stamp>_back/   the GCN heartbeat's silences
//! <download_dir>/.staging/    alert directories being built (never alerts)
//! <download_dir>/.rejected/   malformed messages kept with their reason
//! ```
//!
//! Names starting with `.` are never alert directories, at any level.
//!
//! A directory is replaced by a newer copy of the same alert in one step
//! (`exchange_dirs`): the trigger never sees the name missing or half-filled.

use std::path::{Path, PathBuf};

use crate::marker::MARKER_NAME;
use crate::Kind;

pub const MOCK_EVENTS: &str = "mockevents";
pub const REAL_EVENTS: &str = "superevents";
pub const CIRCULARS: &str = "circulars";
pub const TRANSIENTS: &str = "transients";
pub const FEED: &str = "feed";
pub const STAGING: &str = ".staging";
pub const REJECTED: &str = ".rejected";

/// Swaps two directories in one step (Linux `renameat2(RENAME_EXCHANGE)`).
pub fn exchange_dirs(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

/// The alert tree rooted at `download_dir`.
#[derive(Debug, Clone)]
pub struct Tree {
    root: PathBuf,
}

impl Tree {
    pub fn new(root: impl Into<PathBuf>) -> Tree {
        Tree { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where alert directories are built before they are renamed into place.
    pub fn staging_dir(&self) -> PathBuf {
        self.root.join(STAGING)
    }

    /// Where malformed messages are kept.
    pub fn rejected_dir(&self) -> PathBuf {
        self.root.join(REJECTED)
    }

    /// `mockevents/<id>` or `superevents/<id>`.
    pub fn event_dir(&self, superevent_id: &str) -> PathBuf {
        let kind = if superevent_id.starts_with('M') {
            MOCK_EVENTS
        } else {
            REAL_EVENTS
        };
        self.root.join(kind).join(superevent_id)
    }

    /// `circulars/<circular_id>`: a circular that names no superevent.
    pub fn circular_dir(&self, circular_id: &str) -> PathBuf {
        self.root.join(CIRCULARS).join(circular_id)
    }

    /// `transients/<kind>/<id>`: a transient not linked to a superevent.
    pub fn transient_dir(&self, kind: Kind, id: &str) -> PathBuf {
        self.root.join(TRANSIENTS).join(kind.as_str()).join(id)
    }

    /// `feed`: the heartbeat directories.
    pub fn feed_dir(&self) -> PathBuf {
        self.root.join(FEED)
    }

    /// The directory an alert of this event is written to, under its
    /// directory name (`<stamp>_<alert type>`, which the alert itself makes).
    pub fn alert_dir(&self, superevent_id: &str, dir_name: &str) -> PathBuf {
        self.event_dir(superevent_id).join(dir_name)
    }

    /// Whether an earlier alert of this event was written: its event directory
    /// holds at least one complete LVK alert directory (an empty event directory,
    /// left by a crash before the rename, does not count; nor do the other
    /// kinds of its dossier, an IceCube search or a circular).
    pub fn event_has_complete_alert(&self, superevent_id: &str) -> bool {
        self.event_has_complete_alert_besides(superevent_id, None)
    }

    /// As [`Tree::event_has_complete_alert`], not counting the alert's own
    /// directory `dir_name`: an alert delivered again is not an earlier alert of
    /// itself.
    pub fn event_has_other_complete_alert(&self, superevent_id: &str, dir_name: &str) -> bool {
        self.event_has_complete_alert_besides(superevent_id, Some(dir_name))
    }

    fn event_has_complete_alert_besides(&self, superevent_id: &str, own: Option<&str>) -> bool {
        let Ok(entries) = std::fs::read_dir(self.event_dir(superevent_id)) else {
            return false;
        };
        entries.flatten().any(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            !is_hidden(&name)
                && own != Some(name.as_str())
                && holds_complete_lvk_alert(&entry.path())
        })
    }

    /// Every complete alert directory in the tree, in path order.
    pub fn complete_alert_dirs(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for event in self.event_folders() {
            for alert in visible_subdirs(&event) {
                if alert.join(MARKER_NAME).is_file() {
                    found.push(alert);
                }
            }
        }
        found.sort();
        found
    }

    /// Every folder whose subdirectories are alert directories, in path
    /// order: `mockevents/<id>`, `superevents/<id>`, `circulars/<id>`,
    /// `transients/<kind>/<id>` and `feed`.
    pub fn event_folders(&self) -> Vec<PathBuf> {
        self.event_folders_in(&self.root, Level::Root)
    }

    /// The event folders at or below `path`, which is at `level`.
    fn event_folders_in(&self, path: &Path, level: Level) -> Vec<PathBuf> {
        match level {
            Level::Alert => Vec::new(),
            Level::Event => vec![path.to_path_buf()],
            Level::Kind if path == self.root.join(TRANSIENTS) => sorted_subdirs(path)
                .iter()
                .flat_map(|kind| sorted_subdirs(kind))
                .collect(),
            Level::Kind => sorted_subdirs(path),
            Level::Root => {
                let mut events: Vec<PathBuf> = [MOCK_EVENTS, REAL_EVENTS, CIRCULARS, TRANSIENTS]
                    .iter()
                    .flat_map(|kind| {
                        let dir = self.root.join(kind);
                        self.event_folders_in(&dir, Level::Kind)
                    })
                    .collect();
                let feed = self.feed_dir();
                if feed.is_dir() {
                    events.push(feed);
                }
                events.sort();
                events
            }
        }
    }

    /// Where `path` sits in the tree, or `None` if it is outside it, hidden at
    /// some level, below an alert directory, or under a folder the tree does
    /// not have. Lets a watcher decide what a new path can be.
    pub fn level_of(&self, path: &Path) -> Option<Level> {
        let rest = path.strip_prefix(&self.root).ok()?;
        let names: Vec<&str> = rest
            .components()
            .map(|c| c.as_os_str().to_str())
            .collect::<Option<_>>()?;
        if names.iter().any(|n| is_hidden(n) || *n == "..") {
            return None;
        }
        // `transients/<kind>` is one more folder level than the others, and
        // `feed` one less: both end in the same event and alert levels.
        let below_kind = match names.as_slice() {
            [] => return Some(Level::Root),
            [TRANSIENTS] => return Some(Level::Kind),
            [TRANSIENTS, _, rest @ ..] => rest,
            [FEED, rest @ ..] => return [Level::Event, Level::Alert].get(rest.len()).copied(),
            [kind, rest @ ..] if [MOCK_EVENTS, REAL_EVENTS, CIRCULARS].contains(kind) => rest,
            _ => return None,
        };
        [Level::Kind, Level::Event, Level::Alert]
            .get(below_kind.len())
            .copied()
    }

    /// The complete alert directories at or below `path` (any level of the tree),
    /// in path order: what a watcher scans when `path` appears.
    pub fn complete_alert_dirs_in(&self, path: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        self.for_each_complete_alert_in(path, |dir, _| found.push(dir));
        found
    }

    /// Calls `f` with each complete alert directory at or below `path` (any
    /// level of the tree), in path order, and the metadata of its marker from
    /// the one `stat` that found it: a scan of 100,000 directories can tell a
    /// changed marker without a second `stat` or a list of them all.
    pub fn for_each_complete_alert_in(
        &self,
        path: &Path,
        mut f: impl FnMut(PathBuf, &std::fs::Metadata),
    ) {
        let events = match self.level_of(path) {
            None => return,
            Some(Level::Alert) => return visit_alert(path.to_path_buf(), &mut f),
            Some(level) => self.event_folders_in(path, level),
        };
        for event in events {
            for alert in sorted_subdirs(&event) {
                visit_alert(alert, &mut f);
            }
        }
    }
}

/// Whether `dir` is complete and its marker says it holds an LVK alert (a
/// marker without a kind, from before kinds existed, does).
fn holds_complete_lvk_alert(dir: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct KindOnly {
        #[serde(default)]
        kind: Kind,
    }
    let Ok(bytes) = std::fs::read(dir.join(MARKER_NAME)) else {
        return false;
    };
    serde_json::from_slice::<KindOnly>(&bytes).map_or(true, |m| m.kind == Kind::Lvk)
}

fn visit_alert(alert: PathBuf, f: &mut impl FnMut(PathBuf, &std::fs::Metadata)) {
    if let Ok(meta) = std::fs::metadata(alert.join(MARKER_NAME)) {
        if meta.is_file() {
            f(alert, &meta);
        }
    }
}

fn sorted_subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs = visible_subdirs(dir);
    dirs.sort();
    dirs
}

/// The levels of the alert tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `download_dir` itself.
    Root,
    /// `mockevents`, `superevents`, `circulars`, `transients` or
    /// `transients/<kind>`: folders of event folders.
    Kind,
    /// `<kind>/<superevent_id>` (`transients/<kind>/<id>`, or `feed`).
    Event,
    /// `<kind>/<superevent_id>/<stamp>_<alert_type>`, or any directory in an
    /// event folder.
    Alert,
}

/// Whether a file or directory name is hidden (and so never an alert directory).
pub fn is_hidden(name: &str) -> bool {
    name.starts_with('.')
}

/// The subdirectories of `dir` whose names are not hidden (unsorted).
pub fn visible_subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| !is_hidden(&e.file_name().to_string_lossy()))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mock_and_real_events_go_to_their_own_trees() {
        let tree = Tree::new("/data");
        assert_eq!(
            tree.event_dir("MS230423x"),
            Path::new("/data/mockevents/MS230423x")
        );
        assert_eq!(
            tree.event_dir("S230528ay"),
            Path::new("/data/superevents/S230528ay")
        );
        assert_eq!(
            tree.circular_dir("33603"),
            Path::new("/data/circulars/33603")
        );
        assert_eq!(
            tree.transient_dir(Kind::SwiftGuano, "694215995"),
            Path::new("/data/transients/swift_guano/694215995")
        );
        assert_eq!(tree.feed_dir(), Path::new("/data/feed"));
    }

    #[test]
    fn only_directories_with_a_marker_count() {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::new(dir.path());
        let event = tree.event_dir("MS1");
        std::fs::create_dir_all(event.join("20230101T000000_preliminary")).unwrap();
        assert!(!tree.event_has_complete_alert("MS1"));
        std::fs::create_dir_all(event.join(".20230101T000000_initial")).unwrap();
        std::fs::write(
            event.join(".20230101T000000_initial").join(MARKER_NAME),
            "{}",
        )
        .unwrap();
        assert!(!tree.event_has_complete_alert("MS1"));
        std::fs::write(
            event.join("20230101T000000_preliminary").join(MARKER_NAME),
            "{}",
        )
        .unwrap();
        assert!(tree.event_has_complete_alert("MS1"));
        assert_eq!(
            tree.complete_alert_dirs(),
            vec![event.join("20230101T000000_preliminary")]
        );
        std::fs::create_dir_all(tree.event_dir("MS2").join("20230101T000000_icecube")).unwrap();
        std::fs::write(
            tree.event_dir("MS2")
                .join("20230101T000000_icecube")
                .join(MARKER_NAME),
            r#"{"kind":"icecube"}"#,
        )
        .unwrap();
        assert!(
            !tree.event_has_complete_alert("MS2"),
            "an IceCube search is not an alert of the event"
        );
    }

    #[test]
    fn levels_and_subtree_scans() {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::new(dir.path());
        let event = tree.event_dir("MS1");
        let alert = event.join("20230101T000000_initial");
        std::fs::create_dir_all(&alert).unwrap();
        assert_eq!(tree.level_of(dir.path()), Some(Level::Root));
        assert_eq!(
            tree.level_of(&dir.path().join(MOCK_EVENTS)),
            Some(Level::Kind)
        );
        assert_eq!(tree.level_of(&event), Some(Level::Event));
        assert_eq!(tree.level_of(&alert), Some(Level::Alert));
        assert_eq!(tree.level_of(&alert.join("x")), None);
        assert_eq!(tree.level_of(&dir.path().join("other/MS1")), None);
        assert_eq!(tree.level_of(&tree.staging_dir().join("x")), None);
        assert_eq!(tree.level_of(&event.join(".hidden")), None);
        assert_eq!(tree.level_of(Path::new("/elsewhere")), None);
        assert!(tree.complete_alert_dirs_in(&event).is_empty());
        std::fs::write(alert.join(MARKER_NAME), "{}").unwrap();
        for path in [
            dir.path().to_path_buf(),
            dir.path().join(MOCK_EVENTS),
            event.clone(),
            alert.clone(),
        ] {
            assert_eq!(
                tree.complete_alert_dirs_in(&path),
                vec![alert.clone()],
                "{path:?}"
            );
        }
        assert!(tree
            .complete_alert_dirs_in(&dir.path().join(REAL_EVENTS))
            .is_empty());
        let mut sizes = Vec::new();
        tree.for_each_complete_alert_in(dir.path(), |d, meta| sizes.push((d, meta.len())));
        assert_eq!(sizes, vec![(alert.clone(), 2)], "the marker's metadata");
    }

    #[test]
    fn the_dossier_folders_are_levels_of_the_tree_and_scanned() {
        let dir = tempfile::tempdir().unwrap();
        let tree = Tree::new(dir.path());
        let circular = tree.circular_dir("33603").join("20240101T000000_circular");
        let transient = tree
            .transient_dir(Kind::SwiftGuano, "694215995")
            .join("20230101T032436_initial");
        let feed = tree.feed_dir().join("20240101T000000_silent");
        let lvk = tree.event_dir("S1").join("20240101T000000_preliminary");
        for alert in [&circular, &transient, &feed, &lvk] {
            std::fs::create_dir_all(alert).unwrap();
            std::fs::write(alert.join(MARKER_NAME), "{}").unwrap();
        }
        let root = dir.path();
        let level = |rel: &str| tree.level_of(&root.join(rel));
        assert_eq!(level("circulars"), Some(Level::Kind));
        assert_eq!(level("circulars/33603"), Some(Level::Event));
        assert_eq!(level("transients"), Some(Level::Kind));
        assert_eq!(level("transients/swift_guano"), Some(Level::Kind));
        assert_eq!(
            level("transients/swift_guano/694215995"),
            Some(Level::Event)
        );
        assert_eq!(tree.level_of(&transient), Some(Level::Alert));
        assert_eq!(level("feed"), Some(Level::Event));
        assert_eq!(tree.level_of(&feed), Some(Level::Alert));
        assert_eq!(tree.level_of(&feed.join("x")), None);
        assert_eq!(tree.level_of(&transient.join("x")), None);

        let mut all = vec![
            circular.clone(),
            transient.clone(),
            feed.clone(),
            lvk.clone(),
        ];
        all.sort();
        assert_eq!(tree.complete_alert_dirs(), all);
        assert_eq!(tree.complete_alert_dirs_in(root), all);
        for (from, found) in [
            ("transients", &transient),
            ("transients/swift_guano", &transient),
            ("circulars", &circular),
            ("feed", &feed),
        ] {
            assert_eq!(
                tree.complete_alert_dirs_in(&root.join(from)),
                vec![found.clone()],
                "{from}"
            );
        }
    }
}

//! What the pages say about each alert directory, read from its marker and
//! `meta.yaml` and kept in memory keyed by the marker's identity: the list of
//! 1,000 alerts costs 1,000 `stat`s, not 1,000 YAML parses, and a replaced
//! directory (a new marker) is read again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use gocart_shared::marker::{sha256_hex, FileEntry};
use gocart_shared::{Marker, Tree, MARKER_NAME};
use serde_json::Value;

use crate::record::Identity;
use crate::watch::scan::identity;

use super::files::relative;

/// One complete alert directory, as the list shows it.
#[derive(Debug, Clone)]
pub struct AlertSummary {
    /// `<kind>/<superevent_id>/<dir>`, as URLs carry it.
    pub rel: String,
    /// The directory, canonical (the record's key).
    pub dir: PathBuf,
    pub superevent_id: String,
    pub alert_type: String,
    pub time_created: String,
    /// SHA-256 of the marker's bytes: names this version's thumbnail.
    pub marker_sha256: String,
    pub files: Vec<FileEntry>,
    pub significant: Option<bool>,
    /// False alarm rate in Hz.
    pub far: Option<f64>,
    /// Classification probabilities, most probable first.
    pub classification: Vec<(String, f64)>,
    pub area90: Option<f64>,
    /// Why meta.yaml could not be read, if it could not.
    pub problem: Option<String>,
}

impl AlertSummary {
    pub fn has_file(&self, name: &str) -> bool {
        self.files.iter().any(|f| f.name == name)
    }

    /// The event directory, relative (`<kind>/<superevent_id>`).
    pub fn event_rel(&self) -> &str {
        self.rel
            .rsplit_once('/')
            .map_or(&self.rel, |(event, _)| event)
    }
}

/// The cache of summaries.
#[derive(Default)]
pub struct Catalog {
    known: Mutex<HashMap<PathBuf, (Identity, Arc<AlertSummary>)>>,
}

impl Catalog {
    /// Every complete alert directory at or below `path`, newest first.
    pub fn alerts_in(&self, tree: &Tree, path: &Path) -> Vec<Arc<AlertSummary>> {
        let mut seen = Vec::new();
        tree.for_each_complete_alert_in(path, |dir, meta| seen.push((dir, identity(meta))));
        if path == tree.root() {
            // Directories gone from the tree leave the cache too.
            let present: std::collections::HashSet<&PathBuf> =
                seen.iter().map(|(d, _)| d).collect();
            self.lock().retain(|dir, _| present.contains(dir));
        }
        let mut alerts: Vec<Arc<AlertSummary>> = seen
            .into_iter()
            .filter_map(|(dir, id)| self.summary_of(tree, &dir, id))
            .collect();
        alerts.sort_by(|a, b| {
            (b.time_created.as_str(), b.rel.as_str())
                .cmp(&(a.time_created.as_str(), a.rel.as_str()))
        });
        alerts
    }

    /// The summary of one complete alert directory (canonical path).
    pub fn summary(&self, tree: &Tree, dir: &Path) -> Option<Arc<AlertSummary>> {
        let meta = std::fs::metadata(dir.join(MARKER_NAME)).ok()?;
        self.summary_of(tree, dir, identity(&meta))
    }

    fn summary_of(&self, tree: &Tree, dir: &Path, id: Identity) -> Option<Arc<AlertSummary>> {
        if let Some((known, summary)) = self.lock().get(dir) {
            if *known == id {
                return Some(summary.clone());
            }
        }
        let summary = Arc::new(read_summary(tree, dir)?);
        self.lock().insert(dir.to_path_buf(), (id, summary.clone()));
        Some(summary)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PathBuf, (Identity, Arc<AlertSummary>)>> {
        // A panic while holding the map leaves it whole: keep using it.
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn read_summary(tree: &Tree, dir: &Path) -> Option<AlertSummary> {
    let marker_bytes = std::fs::read(dir.join(MARKER_NAME)).ok()?;
    let marker = Marker::read(dir).ok()?;
    let (meta, problem) = match read_meta(dir) {
        Ok(meta) => (meta, None),
        Err(problem) => (Value::Null, Some(problem)),
    };
    let event = &meta["ALERT"]["event"];
    let mut classification: Vec<(String, f64)> = event["classification"]
        .as_object()
        .map(|c| {
            c.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                .collect()
        })
        .unwrap_or_default();
    classification.sort_by(|a, b| b.1.total_cmp(&a.1));
    Some(AlertSummary {
        rel: relative(tree, dir)?,
        dir: dir.to_path_buf(),
        superevent_id: marker.superevent_id,
        alert_type: marker.alert_type,
        time_created: marker.time_created,
        marker_sha256: sha256_hex(&marker_bytes),
        files: marker.files,
        significant: event["significant"].as_bool(),
        far: event["far"].as_f64(),
        classification,
        area90: meta["EXTRA"]["area90"].as_f64(),
        problem,
    })
}

pub use crate::meta::read_meta;

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(root: &Path, event: &str, meta: &str) -> PathBuf {
        let dir = root
            .join("mockevents")
            .join(event)
            .join("20260101T000000_initial");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("meta.yaml"), meta).unwrap();
        let marker = serde_json::json!({
            "superevent_id": event, "alert_type": "INITIAL",
            "time_created": "2026-01-01T00:00:00Z", "source": {"mock": 1},
            "written_at": "2026-01-01T00:00:00.000Z", "message_sha256": "x", "files": []
        });
        std::fs::write(dir.join(MARKER_NAME), marker.to_string()).unwrap();
        dir
    }

    #[test]
    fn summaries_follow_the_marker_and_leave_with_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let tree = Tree::new(&root);
        let meta = "ALERT:\n  event:\n    significant: true\n    far: 1.0e-9\n    \
                    classification: {BNS: 0.9, BBH: 0.1}\nEXTRA:\n  area90: 12.5\n";
        let first = alert(&root, "MS1", meta);
        alert(&root, "MS2", "not: [valid");
        let catalog = Catalog::default();
        let alerts = catalog.alerts_in(&tree, &root);
        assert_eq!(alerts.len(), 2);
        let ms1 = alerts.iter().find(|a| a.superevent_id == "MS1").unwrap();
        assert_eq!(ms1.area90, Some(12.5));
        assert_eq!(ms1.classification[0].0, "BNS");
        let ms2 = alerts.iter().find(|a| a.superevent_id == "MS2").unwrap();
        assert!(ms2.problem.is_some());
        // A new marker (a replaced directory) is read again.
        std::fs::write(first.join("meta.yaml"), meta.replace("12.5", "7.0")).unwrap();
        let marker = std::fs::read(first.join(MARKER_NAME)).unwrap();
        std::fs::remove_file(first.join(MARKER_NAME)).unwrap();
        std::fs::write(first.join(MARKER_NAME), [&marker[..], b" "].concat()).unwrap();
        assert_eq!(catalog.summary(&tree, &first).unwrap().area90, Some(7.0));
        std::fs::remove_dir_all(root.join("mockevents/MS2")).unwrap();
        assert_eq!(catalog.alerts_in(&tree, &root).len(), 1);
        assert_eq!(catalog.lock().len(), 1);
    }
}

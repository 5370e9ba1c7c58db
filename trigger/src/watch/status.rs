//! The status file `watch` keeps in the state dir, and how `status` reads it:
//! what the record cannot say, namely whether a trigger runs at all and what
//! it is doing now (the runs whose processes exist, those queued, the
//! directories waiting for plugins, the plugins refused). The same approach
//! as `gocart-ingest listen`'s file: rewritten atomically
//! (`gocart_shared::atomic`) every [`REFRESH_SECS`] whatever happens, so a
//! file older than [`STALE_SECS`] under a live pid means a stuck loop.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use gocart_shared::atomic::write_atomic;
use serde::{Deserialize, Serialize};

use crate::runner::plugins::Refused;

/// The file name inside `trigger.state_dir`.
pub const STATUS_FILE: &str = "trigger-watch.json";

/// How often `watch` rewrites the file, whatever it is doing.
pub const REFRESH_SECS: u64 = 2;

/// A file older than this while its process lives means a stuck trigger.
pub const STALE_SECS: i64 = 15;

#[derive(Debug, thiserror::Error)]
pub enum StatusFileError {
    #[error("cannot write the status file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the status file {path}: {message}")]
    Read { path: PathBuf, message: String },
}

/// What `watch` says of itself. Fields missing from an older file read as
/// unknown (their defaults), never as an error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WatchStatus {
    pub pid: u32,
    /// When this trigger started.
    pub since: Option<DateTime<Utc>>,
    /// When the file was last written.
    pub updated: Option<DateTime<Utc>>,
    /// Set when the trigger stops cleanly.
    pub stopped: Option<DateTime<Utc>>,
    /// When the whole tree was last scanned.
    pub last_scan: Option<DateTime<Utc>>,
    /// The runs whose processes run now, oldest first.
    pub running: Vec<RunningNow>,
    /// Runs claimed and waiting for a place in their plugin's lane.
    pub queued: usize,
    /// Complete directories waiting for plugins to appear.
    pub waiting: usize,
    /// `gp_*` files not run (no execute bit, unreadable, unsafe), with why.
    pub refused: Vec<Refused>,
}

/// One run in flight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningNow {
    pub plugin: String,
    pub dir: PathBuf,
    pub started: DateTime<Utc>,
}

impl WatchStatus {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(STATUS_FILE)
    }

    /// Writes the file atomically and durably.
    pub fn save(&self, state_dir: &Path) -> Result<(), StatusFileError> {
        let path = WatchStatus::path(state_dir);
        let fail = |source| StatusFileError::Write {
            path: path.clone(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| fail(e.into()))?;
        write_atomic(&path, &bytes).map_err(fail)
    }

    /// The file as the last trigger left it; `Ok(None)` if no trigger ever
    /// ran with this state dir.
    pub fn load(state_dir: &Path) -> Result<Option<WatchStatus>, StatusFileError> {
        let path = WatchStatus::path(state_dir);
        let fail = |message: String| StatusFileError::Read {
            path: path.clone(),
            message,
        };
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(fail(e.to_string())),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| fail(e.to_string()))
    }

    /// Whether its process still runs (and did not say it stopped).
    pub fn is_running(&self) -> bool {
        self.stopped.is_none() && gocart_shared::process::is_alive(i64::from(self.pid))
    }

    /// Seconds since the file was written, as of `now`.
    pub fn age_s(&self, now: DateTime<Utc>) -> Option<i64> {
        self.updated.map(|t| (now - t).num_seconds().max(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_and_a_missing_file_is_no_trigger() {
        let dir = tempfile::tempdir().unwrap();
        assert!(WatchStatus::load(dir.path()).unwrap().is_none());
        let status = WatchStatus {
            pid: std::process::id(),
            updated: Some(Utc::now()),
            queued: 3,
            ..WatchStatus::default()
        };
        status.save(dir.path()).unwrap();
        let back = WatchStatus::load(dir.path()).unwrap().unwrap();
        assert_eq!(back.queued, 3);
        assert!(back.is_running());
        assert_eq!(back.age_s(Utc::now()), Some(0));
        std::fs::write(WatchStatus::path(dir.path()), "{}").unwrap();
        let old = WatchStatus::load(dir.path()).unwrap().unwrap();
        assert!(!old.is_running(), "pid 0 is no process");
    }
}

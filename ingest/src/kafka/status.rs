//! The status file `listen` keeps in the state dir, and how `status` reads it.
//! Alerts can be days apart, so "no alert for a day" says nothing; what tells a
//! healthy listener from a stuck one is: is the process alive, is the file
//! fresh, is the connection up (the last heartbeat), and is the lag zero.
//! Written atomically (`gocart_shared::atomic`), so a reader never sees half of it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use gocart_shared::atomic::write_atomic;
use serde::{Deserialize, Serialize};

use crate::alert::tally::Tally;

/// The file name inside `trigger.state_dir`.
pub const STATUS_FILE: &str = "ingest-listen.json";

/// How often `listen` rewrites the file, whatever it is doing.
pub const REFRESH_SECS: i64 = 5;

/// A file older than this while its process lives means a stuck loop.
pub const STALE_SECS: i64 = 3 * REFRESH_SECS;

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("cannot write status file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read status file {path}: {message}")]
    Read { path: PathBuf, message: String },
}

/// Longer than a group join takes (about 6 s with static membership, 45 s
/// at worst when a dead member's session must run out): a listener that has
/// held no partition for this long while connected is not receiving.
const HOLDING_NONE_SECS: i64 = 60;

/// Everything `status` shows. Fields missing from an older file read as
/// unknown (their defaults), never as an error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Status {
    pub pid: u32,
    pub group_id: String,
    pub servers: String,
    pub started: Option<DateTime<Utc>>,
    /// When the file was last written (listen refreshes it every few seconds).
    pub updated: Option<DateTime<Utc>>,
    /// Set when listen exits cleanly.
    pub stopped: Option<DateTime<Utc>>,
    /// None: unknown (a file written before the state was recorded).
    pub connection: Option<Connection>,
    /// Set when another listener with the same group instance id took over.
    pub fenced: Option<String>,
    /// Old alerts skipped on the very first run (the backlog).
    pub skipped_at_start: i64,
    pub last_message: Option<DateTime<Utc>>,
    pub last_alert: Option<LastAlert>,
    /// None when the heartbeat topic is not followed.
    pub last_heartbeat: Option<DateTime<Utc>>,
    pub heartbeat_followed: bool,
    pub last_error: Option<LastError>,
    pub counts: Counts,
    pub partitions: Vec<PartitionStatus>,
    /// Since when the group has handed this listener no partition (None
    /// while it holds some; absent from files of older versions).
    #[serde(default)]
    pub holding_none_since: Option<DateTime<Utc>>,
}

/// The connection to the broker as `listen` last saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Connection {
    /// From the start until the broker first answers.
    Connecting {
        host: String,
        since: DateTime<Utc>,
    },
    Up {
        since: DateTime<Utc>,
    },
    Down {
        since: DateTime<Utc>,
        cause: Cause,
    },
}

impl Connection {
    pub fn is_up(&self) -> bool {
        matches!(self, Connection::Up { .. })
    }

    pub fn since(&self) -> DateTime<Utc> {
        match self {
            Connection::Connecting { since, .. }
            | Connection::Up { since }
            | Connection::Down { since, .. } => *since,
        }
    }
}

/// Why the broker cannot be reached, sorted into the few kinds that tell a
/// user what to fix, with the host it was about and librdkafka's own words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cause {
    pub kind: CauseKind,
    pub host: String,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CauseKind {
    Dns,
    Refused,
    Authentication,
    Tls,
    Timeout,
    Other,
}

impl CauseKind {
    /// What it means, in words.
    pub fn describe(self) -> &'static str {
        match self {
            CauseKind::Dns => "the host name does not resolve (DNS)",
            CauseKind::Refused => "connection refused (nothing listens there)",
            CauseKind::Authentication => {
                "authentication failed (client id/secret, token endpoint or SASL mechanism)"
            }
            CauseKind::Tls => "TLS handshake failed",
            CauseKind::Timeout => "no answer in time (timeout)",
            CauseKind::Other => "connection failed",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} [{}]",
            self.host,
            self.kind.describe(),
            self.detail
        )
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LastAlert {
    pub superevent_id: String,
    pub alert_type: String,
    pub outcome: String,
    pub at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LastError {
    pub at: Option<DateTime<Utc>>,
    pub message: String,
}

/// What became of the alerts since `listen` started, counted as `import` counts.
pub type Counts = Tally;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PartitionStatus {
    pub topic: String,
    pub partition: i32,
    /// The next offset to read, as committed (None: nothing committed yet).
    pub committed: Option<i64>,
    /// The partition's end (high watermark) as last seen.
    pub end: Option<i64>,
}

impl PartitionStatus {
    /// Messages not yet settled; unknown until both ends are known.
    pub fn lag(&self) -> Option<i64> {
        Some((self.end? - self.committed?).max(0))
    }
}

impl Status {
    /// How long a connected listener has been handed no partition, once
    /// that is longer than a group join takes (`HOLDING_NONE_SECS`): it
    /// receives nothing. The listener warns of it and `status` reports it.
    pub fn holding_none_for(&self, now: DateTime<Utc>) -> Option<i64> {
        let secs = (now - self.holding_none_since?).num_seconds();
        let up = matches!(self.connection, Some(Connection::Up { .. }));
        (up && secs > HOLDING_NONE_SECS).then_some(secs)
    }

    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(STATUS_FILE)
    }

    /// Writes the file atomically and durably, creating the state dir if needed.
    pub fn save(&self, state_dir: &Path) -> Result<(), StatusError> {
        let path = Status::path(state_dir);
        let fail = |source| StatusError::Write {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(fail)?;
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| fail(e.into()))?;
        write_atomic(&path, &bytes).map_err(fail)
    }

    pub fn load(state_dir: &Path) -> Result<Status, StatusError> {
        let path = Status::path(state_dir);
        let fail = |message: String| StatusError::Read {
            path: path.clone(),
            message,
        };
        let bytes = std::fs::read(&path).map_err(|e| fail(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))
    }

    /// Total lag over the alert topics' partitions (heartbeats excluded).
    pub fn alert_lag(&self, heartbeat_topic: &str) -> Option<i64> {
        self.partitions
            .iter()
            .filter(|p| p.topic != heartbeat_topic)
            .map(PartitionStatus::lag)
            .sum()
    }

    /// The committed offset recorded for a partition, if any.
    pub fn committed(&self, topic: &str, partition: i32) -> Option<i64> {
        self.partitions
            .iter()
            .find(|p| p.topic == topic && p.partition == partition)
            .and_then(|p| p.committed)
    }
}

/// Whether process `pid` exists (the one rule of `gocart_shared::process`).
pub fn pid_alive(pid: u32) -> bool {
    gocart_shared::process::is_alive(i64::from(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saves_and_loads_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let mut s = Status {
            pid: 42,
            group_id: "g".into(),
            ..Status::default()
        };
        s.partitions.push(PartitionStatus {
            topic: "t".into(),
            partition: 0,
            committed: Some(3),
            end: Some(5),
        });
        s.partitions.push(PartitionStatus {
            topic: "gcn.heartbeat".into(),
            partition: 0,
            committed: Some(3),
            end: Some(9),
        });
        s.save(&state).unwrap();
        let back = Status::load(&state).unwrap();
        assert_eq!(back.pid, 42);
        assert_eq!(back.alert_lag("gcn.heartbeat"), Some(2));
        assert_eq!(back.committed("t", 0), Some(3));
        assert_eq!(std::fs::read_dir(&state).unwrap().count(), 1);
    }

    #[test]
    fn our_own_pid_is_alive() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(0));
    }
}

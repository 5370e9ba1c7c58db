//! The marker `.gocart-complete`: the last file written into an alert directory,
//! and the only sign that the directory is complete.
//!
//! It lists every other file with its size and SHA-256, so that a reader (the
//! trigger, a plugin, a person) can check that what it sees is what was written.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::Kind;

pub const MARKER_NAME: &str = ".gocart-complete";

/// Where the alert came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Source {
    Kafka {
        topic: String,
        partition: i32,
        offset: i64,
    },
    File {
        file: PathBuf,
    },
    Mock {
        mock: u64,
    },
}

/// One file of the alert directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// The content of `.gocart-complete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    /// What the directory holds; a marker from before kinds existed is `lvk`.
    #[serde(default)]
    pub kind: Kind,
    pub superevent_id: String,
    pub alert_type: String,
    pub time_created: String,
    pub source: Source,
    pub written_at: String,
    /// SHA-256 of the message exactly as received: the same message ingested
    /// twice (a Kafka redelivery) is recognised by it.
    pub message_sha256: String,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum MarkerError {
    #[error("{dir}: no marker {MARKER_NAME}: the directory is not complete")]
    Missing { dir: PathBuf },
    #[error("{dir}: cannot read {MARKER_NAME}: {source}")]
    Read {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{dir}: {MARKER_NAME} is not a valid marker: {message}")]
    Invalid { dir: PathBuf, message: String },
    #[error("{dir}: {MARKER_NAME} lists {name} ({expected} bytes) but {found}")]
    FileMismatch {
        dir: PathBuf,
        name: String,
        expected: u64,
        found: String,
    },
}

impl Marker {
    /// When the alert itself was made: its `time_created` (a notice's own
    /// time), else when it was written. The age rules (`trigger.catch_up`,
    /// `replay --since`) go by this, not by when the directory appeared:
    /// 2018 alerts imported today are old alerts.
    pub fn alert_time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        crate::time::parse_utc(&self.time_created)
            .or_else(|| crate::time::parse_utc(&self.written_at))
    }

    /// Reads the marker of an alert directory.
    pub fn read(dir: &Path) -> Result<Marker, MarkerError> {
        let bytes = std::fs::read(dir.join(MARKER_NAME)).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                MarkerError::Missing { dir: dir.into() }
            } else {
                MarkerError::Read {
                    dir: dir.into(),
                    source,
                }
            }
        })?;
        serde_json::from_slice(&bytes).map_err(|e| MarkerError::Invalid {
            dir: dir.into(),
            message: e.to_string(),
        })
    }

    /// Reads the marker and checks that every file it lists exists with its size.
    pub fn read_checked(dir: &Path) -> Result<Marker, MarkerError> {
        let marker = Marker::read(dir)?;
        for entry in &marker.files {
            if !is_plain_file_name(&entry.name) {
                return Err(MarkerError::Invalid {
                    dir: dir.into(),
                    message: format!("file name {:?} is not a plain name", entry.name),
                });
            }
            let found = match std::fs::metadata(dir.join(&entry.name)) {
                Ok(m) if m.len() == entry.size => continue,
                Ok(m) => format!("it is {} bytes", m.len()),
                Err(e) => format!("it cannot be read ({e})"),
            };
            return Err(MarkerError::FileMismatch {
                dir: dir.into(),
                name: entry.name.clone(),
                expected: entry.size,
                found,
            });
        }
        Ok(marker)
    }

    /// The marker as written to disk.
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a marker always serialises");
        bytes.push(b'\n');
        bytes
    }
}

/// Lower-case hex SHA-256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file name inside an alert directory: a plain name with dots, never a path.
pub fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Marker {
        Marker {
            kind: Kind::Lvk,
            superevent_id: "MS230423x".into(),
            alert_type: "INITIAL".into(),
            time_created: "2023-04-24T00:02:04Z".into(),
            source: Source::Kafka {
                topic: "igwn.gwalert".into(),
                partition: 0,
                offset: 1234,
            },
            written_at: "2023-04-24T00:02:04.180Z".into(),
            message_sha256: sha256_hex(b"m"),
            files: vec![FileEntry {
                name: "meta.yaml".into(),
                size: 3,
                sha256: sha256_hex(b"abc"),
            }],
        }
    }

    #[test]
    fn the_marker_format_is_the_designs() {
        let json: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        assert_eq!(json["source"]["topic"], "igwn.gwalert");
        assert_eq!(json["source"]["offset"], 1234);
        assert_eq!(json["files"][0]["size"], 3);
        assert_eq!(json["kind"], "lvk");
        let file = Source::File {
            file: "/a.json".into(),
        };
        assert_eq!(
            serde_json::to_string(&file).unwrap(),
            r#"{"file":"/a.json"}"#
        );
        let mock = Source::Mock { mock: 7 };
        assert_eq!(serde_json::to_string(&mock).unwrap(), r#"{"mock":7}"#);
    }

    #[test]
    fn a_marker_from_before_kinds_is_an_lvk_one() {
        let mut json: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
        json.as_object_mut().unwrap().remove("kind");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MARKER_NAME), json.to_string()).unwrap();
        assert_eq!(Marker::read(dir.path()).unwrap().kind, Kind::Lvk);
    }

    #[test]
    fn a_marker_is_checked_against_its_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MARKER_NAME), sample().to_json()).unwrap();
        assert!(matches!(
            Marker::read_checked(dir.path()),
            Err(MarkerError::FileMismatch { .. })
        ));
        std::fs::write(dir.path().join("meta.yaml"), "abcd").unwrap();
        assert!(Marker::read_checked(dir.path()).is_err());
        std::fs::write(dir.path().join("meta.yaml"), "abc").unwrap();
        assert_eq!(Marker::read_checked(dir.path()).unwrap(), sample());
    }

    #[test]
    fn a_missing_or_broken_marker_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            Marker::read(dir.path()),
            Err(MarkerError::Missing { .. })
        ));
        std::fs::write(dir.path().join(MARKER_NAME), "{").unwrap();
        assert!(matches!(
            Marker::read(dir.path()),
            Err(MarkerError::Invalid { .. })
        ));
    }

    #[test]
    fn sha256_is_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

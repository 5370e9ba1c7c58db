//! Test harness: a temporary alert tree, plugin folder, state folder and
//! settings file; alert directories built by the marker protocol; the real
//! `gocart-trigger` binary started and stopped like a user would.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use gocart_shared::marker::{sha256_hex, FileEntry};
use gocart_shared::{Kind, Marker, Source, MARKER_NAME};
pub use gocart_tests::process::{alive, kill_group, Trigger};
use gocart_tests::unique;
pub use gocart_tests::wait_until;

pub const BIN: &str = env!("CARGO_BIN_EXE_gocart-trigger");

pub struct Env {
    pub tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub plugins: PathBuf,
    pub state: PathBuf,
    pub settings: PathBuf,
    /// Every logging plugin appends `<plugin> <alert dir>` here.
    pub runlog: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        Env::with_trigger_settings("timeout: 5\n  concurrency: 2")
    }

    /// `trigger` holds extra lines of the `trigger:` section (indented by 2).
    pub fn with_trigger_settings(trigger: &str) -> Env {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().canonicalize().unwrap();
        let env = Env {
            root: base.join("lvk_events"),
            plugins: base.join("plugins"),
            state: base.join("state"),
            settings: base.join("gocart.yaml"),
            runlog: base.join("runs.log"),
            tmp,
        };
        std::fs::create_dir_all(&env.root).unwrap();
        std::fs::create_dir_all(&env.plugins).unwrap();
        std::fs::set_permissions(&env.plugins, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(&env.runlog, "").unwrap();
        let yaml = format!(
            "lvk:\n  download_dir: {}\ntrigger:\n  plugins_dir: {}\n  state_dir: {}\n  {trigger}\n",
            env.root.display(),
            env.plugins.display(),
            env.state.display()
        );
        std::fs::write(&env.settings, yaml).unwrap();
        env
    }

    /// Writes an executable shell plugin; `$LOG` is the run log.
    pub fn plugin(&self, name: &str, body: &str) -> PathBuf {
        let path = self.plugins.join(name);
        let text = format!("#!/bin/sh\nLOG='{}'\n{body}\n", self.runlog.display());
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A plugin that appends `<name> <alert dir>` to the run log.
    pub fn logging_plugin(&self, name: &str) -> PathBuf {
        self.plugin(name, &format!("echo \"{name} $1\" >> \"$LOG\""))
    }

    pub fn alert_path(&self, event: &str, name: &str) -> PathBuf {
        let kind = if event.starts_with('M') {
            "mockevents"
        } else {
            "superevents"
        };
        self.root.join(kind).join(event).join(name)
    }

    /// Builds a complete alert directory in `.staging` and renames it into place.
    pub fn alert(&self, event: &str, name: &str) -> PathBuf {
        self.alert_written_at(event, name, Utc::now())
    }

    pub fn alert_written_at(&self, event: &str, name: &str, written_at: DateTime<Utc>) -> PathBuf {
        let staging = self.root.join(".staging").join(format!("{event}-{name}"));
        std::fs::create_dir_all(&staging).unwrap();
        write_alert_files(&staging, event, written_at);
        let target = self.alert_path(event, name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::rename(&staging, &target).unwrap();
        target
    }

    /// Builds a complete directory of `kind` (the dossier's layout: `notice.json`,
    /// `meta.yaml` as given, any `extra` files, the marker of that kind last) in
    /// `.staging`, and renames it into the event's folder.
    pub fn kind_dir(
        &self,
        kind: Kind,
        event: &str,
        name: &str,
        meta: &str,
        extra: &[(&str, &[u8])],
    ) -> PathBuf {
        let staging = self.root.join(".staging").join(format!("{event}-{name}"));
        std::fs::create_dir_all(&staging).unwrap();
        let mut files: Vec<(&str, &[u8])> =
            vec![("notice.json", b"{}"), ("meta.yaml", meta.as_bytes())];
        files.extend_from_slice(extra);
        let alert_type = name.split_once('_').map_or(name, |(_, t)| t);
        let of = MarkerOf {
            kind,
            event,
            alert_type,
            message: meta.as_bytes(),
        };
        write_files_and_marker(&staging, &of, &files, Utc::now());
        let target = self.alert_path(event, name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::rename(&staging, &target).unwrap();
        target
    }

    /// Builds an alert directory in place, `mkdir -p` then files then marker.
    pub fn alert_in_place(&self, event: &str, name: &str) -> PathBuf {
        let target = self.alert_path(event, name);
        std::fs::create_dir_all(&target).unwrap();
        write_alert_files(&target, event, Utc::now());
        target
    }

    pub fn start(&self, args: &[&str]) -> Trigger {
        let stderr = self.tmp.path().join(format!("trigger-{}.log", unique()));
        let mut command = gocart_tests::with_settings(BIN, &self.settings);
        command
            .args(args)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap());
        Trigger::spawn(&mut command, stderr)
    }

    /// Runs the binary to completion (`replay`, `status`).
    pub fn command(&self, args: &[&str]) -> Output {
        gocart_tests::with_settings(BIN, &self.settings)
            .args(args)
            .output()
            .unwrap()
    }

    /// `status --last 50`: its verdict (0 all well, 1 not) is not an error
    /// here; anything else is.
    pub fn status(&self) -> String {
        let out = self.command(&["status", "--last", "50"]);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `status --json`, parsed, and its exit status.
    pub fn status_json(&self) -> (serde_json::Value, i32) {
        let out = self.command(&["status", "--json", "--last", "50"]);
        let code = out.status.code().unwrap_or(-1);
        assert!(
            matches!(code, 0 | 1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (serde_json::from_slice(&out.stdout).unwrap(), code)
    }

    /// The lines of the run log, sorted.
    pub fn runs(&self) -> Vec<String> {
        let mut lines: Vec<String> = std::fs::read_to_string(&self.runlog)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        lines.sort();
        lines
    }

    /// Waits until the run log has `n` lines (or the deadline passes).
    pub fn wait_runs(&self, n: usize, within: Duration) -> bool {
        wait_until(within, || self.runs().len() >= n)
    }
}

/// The expected run-log lines, sorted.
pub fn expected(pairs: &[(&str, &Path)]) -> Vec<String> {
    let mut lines: Vec<String> = pairs
        .iter()
        .map(|(p, d)| format!("{p} {}", d.display()))
        .collect();
    lines.sort();
    lines
}

/// The files of a small alert, then the marker listing them, written last.
pub fn write_alert_files(dir: &Path, event: &str, written_at: DateTime<Utc>) {
    let meta = format!("ALERT:\n  superevent_id: {event}\n  alert_type: INITIAL\n");
    let files: [(&str, &[u8]); 2] = [
        ("bayestar.multiorder.fits", b"SIMPLE"),
        ("meta.yaml", meta.as_bytes()),
    ];
    let of = MarkerOf {
        kind: Kind::Lvk,
        event,
        alert_type: "INITIAL",
        message: event.as_bytes(),
    };
    write_files_and_marker(dir, &of, &files, written_at);
}

/// What a test directory's marker says: its kind, event and alert type, and
/// the message whose SHA-256 it records.
#[derive(Clone, Copy)]
pub struct MarkerOf<'a> {
    pub kind: Kind,
    pub event: &'a str,
    pub alert_type: &'a str,
    pub message: &'a [u8],
}

/// `files`, then the marker listing them, written last.
pub fn write_files_and_marker(
    dir: &Path,
    of: &MarkerOf,
    files: &[(&str, &[u8])],
    written_at: DateTime<Utc>,
) {
    let MarkerOf {
        kind,
        event,
        alert_type,
        message,
    } = *of;
    let mut entries = Vec::new();
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).unwrap();
        entries.push(FileEntry {
            name: name.to_string(),
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
        });
    }
    let marker = Marker {
        kind,
        superevent_id: event.into(),
        alert_type: alert_type.into(),
        time_created: written_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        source: Source::Mock { mock: 1 },
        written_at: written_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        message_sha256: sha256_hex(message),
        files: entries,
    };
    std::fs::write(dir.join(MARKER_NAME), marker.to_json()).unwrap();
}

/// Long enough for a wrong second run (the follow-up scan comes after 200 ms)
/// to show up before the trigger is stopped.
pub fn quiet_period() {
    std::thread::sleep(Duration::from_millis(600));
}

/// Writes a marker listing the files already in `dir`.
pub fn write_marker_for(dir: &Path, event: &str) {
    let mut entries = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    for name in names {
        let bytes = std::fs::read(dir.join(&name)).unwrap();
        entries.push(FileEntry {
            name,
            size: bytes.len() as u64,
            sha256: sha256_hex(&bytes),
        });
    }
    let now = Utc::now();
    let marker = Marker {
        kind: gocart_shared::Kind::Lvk,
        superevent_id: event.into(),
        alert_type: "INITIAL".into(),
        time_created: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        source: Source::Mock { mock: 1 },
        written_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
        message_sha256: sha256_hex(event.as_bytes()),
        files: entries,
    };
    std::fs::write(dir.join(MARKER_NAME), marker.to_json()).unwrap();
}

//! The status page's facts: the trigger's record (the same counts and runs
//! as `gocart-trigger status`) and `gocart-ingest status --json`, asked of the
//! gocart-ingest installed beside this binary, so its verdict is computed in
//! one place only; without it, the raw status file `listen` keeps.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::record::{Record, RecordError, RunRow, Summary};

/// How many of the last runs and failures the page shows.
const LAST: usize = 20;

/// The status file `gocart-ingest listen` keeps in the state dir.
const INGEST_STATUS_FILE: &str = "ingest-listen.json";

pub struct TriggerStatus {
    pub record: PathBuf,
    /// `None`: no record yet.
    pub summary: Option<Summary>,
    pub last: Vec<RunRow>,
    pub failures: Vec<RunRow>,
}

pub enum IngestStatus {
    /// `gocart-ingest status --json`.
    Facts(Value),
    /// The status file as it is, when gocart-ingest is not beside us.
    File(Value),
    /// Why there is nothing to show.
    Missing(String),
}

pub fn trigger(state_dir: &Path) -> Result<TriggerStatus, RecordError> {
    let mut status = TriggerStatus {
        record: state_dir.join(crate::record::RECORD_FILE),
        summary: None,
        last: Vec::new(),
        failures: Vec::new(),
    };
    if let Some(record) = Record::open_read_only(state_dir)? {
        status.summary = Some(record.summary()?);
        status.last = record.last_runs(LAST)?;
        status.failures = record.failures(LAST)?;
    }
    Ok(status)
}

pub fn ingest(state_dir: &Path, settings: &Path) -> IngestStatus {
    let beside = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name("gocart-ingest"))
        .filter(|p| p.is_file());
    if let Some(ingest) = beside {
        let out = Command::new(&ingest)
            .arg("-q")
            .arg("-s")
            .arg(settings)
            .args(["status", "--json"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        match out.map(|o| serde_json::from_slice::<Value>(&o.stdout)) {
            Ok(Ok(facts)) => return IngestStatus::Facts(facts),
            Ok(Err(e)) => tracing::warn!("{} status --json: {e}", ingest.display()),
            Err(e) => tracing::warn!("cannot run {}: {e}", ingest.display()),
        }
    }
    let file = state_dir.join(INGEST_STATUS_FILE);
    match std::fs::read(&file).map(|b| serde_json::from_slice::<Value>(&b)) {
        Ok(Ok(value)) => IngestStatus::File(value),
        Ok(Err(e)) => IngestStatus::Missing(format!("{} is not valid JSON: {e}", file.display())),
        Err(_) => IngestStatus::Missing(format!(
            "`gocart-ingest listen` has never run here (no {})",
            file.display()
        )),
    }
}

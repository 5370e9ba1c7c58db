//! `gocart-ingest import PATH...`: alert JSON messages from files, directories
//! or standard input, each through the same pipeline as a Kafka message.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use gocart_shared::alert::MAX_MESSAGE_BYTES;
use gocart_shared::marker::Source;
use gocart_shared::Settings;

use super::Exit;
use crate::alert::{Message, Outcome, Pipeline};
use crate::writer::staging::clear_stale;

/// Staging leftovers older than this are from crashed runs, not a live writer.
const STALE_STAGING: std::time::Duration = std::time::Duration::from_secs(3600);

/// Counts of outcomes, for the closing line and the exit status.
#[derive(Debug, Default)]
pub struct Tally {
    pub written: usize,
    pub unchanged: usize,
    pub skipped: usize,
    pub rejected: usize,
    pub failed: usize,
}

impl Tally {
    pub fn add(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Written(_) | Outcome::Replaced(_) => self.written += 1,
            Outcome::Unchanged(_) => self.unchanged += 1,
            Outcome::Skipped(_) => self.skipped += 1,
            Outcome::Rejected { .. } => self.rejected += 1,
            Outcome::Failed(_) => self.failed += 1,
        }
    }

    pub fn summary(&self) -> String {
        let total = self.written + self.unchanged + self.skipped + self.rejected + self.failed;
        format!(
            "{total} alerts: {} written, {} unchanged, {} skipped, {} rejected, {} failed",
            self.written, self.unchanged, self.skipped, self.rejected, self.failed
        )
    }
}

pub fn run(settings: Settings, paths: &[PathBuf]) -> anyhow::Result<Exit> {
    let inputs = match expand(paths) {
        Ok(inputs) => inputs,
        Err(e) => {
            eprintln!("gocart-ingest import: {e:#}");
            return Ok(Exit::Usage);
        }
    };
    let pipeline = Pipeline::new(settings);
    let removed = clear_stale(pipeline.tree(), STALE_STAGING);
    if removed > 0 {
        tracing::info!(
            "removed {removed} unfinished directories left in .staging by an earlier crash"
        );
    }
    let mut tally = Tally::default();
    let stdout = std::io::stdout();
    for input in &inputs {
        let outcome = match read_input(input) {
            Ok(message) => pipeline.ingest(&message, &mut stdout.lock()),
            Err(e) => {
                let outcome = Outcome::Failed(format!("{}: {e}", input.display()));
                println!("{}", outcome.describe());
                outcome
            }
        };
        tally.add(&outcome);
    }
    println!("{}", tally.summary());
    Ok(if tally.rejected + tally.failed > 0 {
        Exit::Rejected
    } else {
        Exit::Ok
    })
}

/// The inputs in order: files as given, directories as their `*.json` in name order.
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(path.clone());
        } else if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
                .collect();
            found.sort();
            inputs.extend(found);
        } else if path.is_file() {
            inputs.push(path.clone());
        } else {
            anyhow::bail!("{} is neither a file nor a directory", path.display());
        }
    }
    Ok(inputs)
}

/// Reads one message, at most one byte past the size limit (so the pipeline
/// can refuse it) however large the file is.
fn read_input(path: &Path) -> std::io::Result<Message> {
    let limit = MAX_MESSAGE_BYTES as u64 + 1;
    let mut bytes = Vec::new();
    let source = if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)?;
        Source::File { file: "-".into() }
    } else {
        std::fs::File::open(path)?
            .take(limit)
            .read_to_end(&mut bytes)?;
        let file = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Source::File { file }
    };
    Ok(Message { bytes, source })
}

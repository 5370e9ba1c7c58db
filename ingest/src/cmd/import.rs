//! `gocart-ingest import PATH...`: alert JSON messages from files, directories
//! or standard input, each through the same pipeline as a Kafka message.

use std::io::Read;
use std::path::{Path, PathBuf};

use gocart_shared::cli::{count, INGEST};
use gocart_shared::marker::Source;
use gocart_shared::Settings;

use crate::alert::tally::Tally;
use crate::alert::{write_report, Message, Outcome, Pipeline, MAX_MESSAGE_BYTES};
use crate::writer::staging::clear_stale;
use gocart_shared::cli::ExitStatus;
use gocart_shared::text::Escaped;

/// Staging leftovers older than this are from crashed runs, not a live writer.
const STALE_STAGING: std::time::Duration = std::time::Duration::from_secs(3600);

/// One thing to import, in the order given.
#[derive(Debug, PartialEq)]
enum Input {
    /// A file, or `-` for standard input.
    Message(PathBuf),
    /// A path that cannot be imported: reported as FAILED, the others go on.
    Unusable { path: PathBuf, why: String },
}

pub fn run(settings: Settings, paths: &[PathBuf]) -> anyhow::Result<ExitStatus> {
    let inputs = expand(paths);
    let pipeline = Pipeline::new(settings);
    let removed = clear_stale(pipeline.tree(), STALE_STAGING);
    if removed > 0 {
        tracing::info!(
            "removed {} left in .staging by an earlier crash",
            count(removed, "unfinished directory", "unfinished directories")
        );
    }
    let mut tally = Tally::default();
    let stdout = std::io::stdout();
    for input in &inputs {
        let outcome = match input {
            Input::Message(path) => match read_input(path) {
                Ok(message) => {
                    tracing::debug!(
                        "read {} bytes from {}",
                        message.bytes.len(),
                        Escaped(&path.to_string_lossy())
                    );
                    pipeline.ingest(&message, &mut stdout.lock())
                }
                Err(e) => unusable(path, &e.to_string()),
            },
            Input::Unusable { path, why } => unusable(path, why),
        };
        tally.add(&outcome);
    }
    println!("{}", tally.summary());
    Ok(if tally.rejected + tally.failed > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Ok
    })
}

/// Reports a path that could not be read as an alert, and counts it failed.
fn unusable(path: &Path, why: &str) -> Outcome {
    let outcome = Outcome::Failed(why.to_string());
    let source = Source::File { file: path.into() };
    write_report(
        &mut std::io::stdout().lock(),
        &[outcome.describe_for(&source, false)],
    );
    outcome
}

/// The inputs in order: files as given, directories as their `*.json` in
/// name order (warning about what else they hold, or that they are empty),
/// and each path that cannot be used, to be reported in its place.
fn expand(paths: &[PathBuf]) -> Vec<Input> {
    let mut inputs = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(Input::Message(path.clone()));
            continue;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => match folder_messages(path) {
                Ok(found) => inputs.extend(found.into_iter().map(Input::Message)),
                Err(e) => inputs.push(Input::Unusable {
                    path: path.clone(),
                    why: format!("cannot list the folder: {e}"),
                }),
            },
            Ok(_) => inputs.push(Input::Message(path.clone())),
            Err(e) => inputs.push(Input::Unusable {
                path: path.clone(),
                why: if e.kind() == std::io::ErrorKind::NotFound {
                    "no such file or folder".into()
                } else {
                    e.to_string()
                },
            }),
        }
    }
    inputs
}

/// The `*.json` files of a folder, in name order; what else it holds (or
/// that it holds nothing) is said, since the user may have expected it read.
fn folder_messages(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let (mut messages, mut others) = (Vec::new(), Vec::new());
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "json") && path.is_file() {
            messages.push(path);
        } else {
            others.push(path);
        }
    }
    messages.sort();
    others.sort();
    if let Some(warning) = folder_warning(dir, messages.len(), &others) {
        INGEST.warning(warning);
    }
    Ok(messages)
}

/// At most this many skipped names are listed in a folder's warning.
const NAMES_SHOWN: usize = 10;

fn folder_warning(dir: &Path, messages: usize, others: &[PathBuf]) -> Option<String> {
    let mut dir = dir.display().to_string();
    if !dir.ends_with('/') {
        dir.push('/');
    }
    if others.is_empty() {
        return (messages == 0).then(|| format!("{dir} is empty: nothing imported from it"));
    }
    let mut names: Vec<String> = others
        .iter()
        .take(NAMES_SHOWN)
        .map(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            if p.is_dir() {
                format!("{name}/")
            } else {
                name.into_owned()
            }
        })
        .collect();
    if others.len() > NAMES_SHOWN {
        names.push(format!("and {} more", others.len() - NAMES_SHOWN));
    }
    let skipped = count(others.len(), "entry", "entries");
    let list = names.join(", ");
    Some(if messages == 0 {
        format!("{dir} holds no *.json file: nothing imported from it; skipped {skipped}: {list}")
    } else {
        format!("{dir}: only *.json files are imported; skipped {skipped}: {list}")
    })
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

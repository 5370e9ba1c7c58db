//! Synthetic GCN messages of the dossier's kinds (icecube, circular, boom,
//! einstein_probe, swift_guano), shaped as the gcn-schema examples are: the
//! builders `mock` uses, with the fields a test varies as arguments; and the
//! examples themselves.

use std::path::PathBuf;

pub use gocart_ingest::mock::dossier::{boom, circular, einstein_probe, icecube, swift_guano};

/// The gcn-schema examples beside the checkout (`<alerts>/gcn/*.json`), in
/// name order; `None` when the shared alerts are absent (see `shared_alerts`).
pub fn examples(test: &str) -> Option<Vec<PathBuf>> {
    let dir = crate::shared_alerts(test)?.join("gcn");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    Some(files)
}

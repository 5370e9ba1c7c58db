//! Writes the hostile-input corpus to a directory: every case of
//! `tests/hostile_cases` small enough to commit, and `manifest.json` with
//! every case's expected outcome. The committed copy is `tests/hostile/`;
//! `tests/hostile.rs` fails when it differs from what this writes.
//!
//!   cargo run -p gocart-ingest --example hostile_corpus -- ingest/tests/hostile

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/hostile_cases/mod.rs"]
mod hostile_cases;

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        anyhow::bail!(
            "usage: hostile_corpus OUTDIR (the committed corpus is ingest/tests/hostile)"
        );
    };
    // Files of cases since removed must not linger: the directory is the corpus.
    if dir.exists() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|x| x == "json") {
                std::fs::remove_file(path)?;
            }
        }
    }
    hostile_cases::write_corpus(&dir)?;
    let cases = hostile_cases::cases();
    let committed = cases.iter().filter(|c| c.committed()).count();
    println!(
        "{} cases ({committed} files, {} made at test time) in {}",
        cases.len(),
        cases.len() - committed,
        dir.display()
    );
    Ok(())
}

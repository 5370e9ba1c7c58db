//! Writes the hostile-input corpus to a directory: every case of
//! `gocart_tests::hostile` small enough to commit, and `manifest.json` with
//! every case's expected outcome. The committed copy is `tests/hostile/`;
//! the test `hostile` fails when it differs from what this writes.
//!
//!   cargo run -p gocart-ingest --example hostile_corpus -- ingest/tests/hostile

use std::path::PathBuf;

use gocart_tests::hostile;

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
    hostile::write_corpus(&dir)?;
    let cases = hostile::cases();
    let committed = cases.iter().filter(|c| c.committed()).count();
    println!(
        "{} cases ({committed} files, {} made at test time) in {}",
        cases.len(),
        cases.len() - committed,
        dir.display()
    );
    Ok(())
}

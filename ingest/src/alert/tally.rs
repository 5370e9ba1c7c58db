//! What became of a run of messages, counted one way for every command that
//! reports it: the closing line of `import`, `mock` and `echo`, and the counts
//! `listen` keeps in its status file.

use gocart_shared::cli::count;
use serde::{Deserialize, Serialize};

use super::Outcome;

/// Counts of outcomes (replaced alerts count as written).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub written: u64,
    pub unchanged: u64,
    pub skipped: u64,
    pub rejected: u64,
    pub failed: u64,
}

impl Tally {
    /// Counts `outcome`; returns the word it is counted under ("written",
    /// "unchanged", "skipped", "rejected" or "failed").
    pub fn add(&mut self, outcome: &Outcome) -> &'static str {
        let (slot, word) = match outcome {
            Outcome::Written(_) | Outcome::Replaced(_) => (&mut self.written, "written"),
            Outcome::Unchanged(_) => (&mut self.unchanged, "unchanged"),
            Outcome::Skipped(_) => (&mut self.skipped, "skipped"),
            Outcome::Rejected { .. } => (&mut self.rejected, "rejected"),
            Outcome::Failed(_) => (&mut self.failed, "failed"),
        };
        *slot += 1;
        word
    }

    pub fn summary(&self) -> String {
        let total = self.written + self.unchanged + self.skipped + self.rejected + self.failed;
        format!(
            "{}: {} written, {} unchanged, {} skipped, {} rejected, {} failed",
            count(total, "alert", "alerts"),
            self.written,
            self.unchanged,
            self.skipped,
            self.rejected,
            self.failed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn each_outcome_is_counted_under_its_word() {
        let mut tally = Tally::default();
        let outcomes = [
            (Outcome::Written(PathBuf::from("a")), "written"),
            (Outcome::Replaced(PathBuf::from("a")), "written"),
            (Outcome::Unchanged(PathBuf::from("a")), "unchanged"),
            (Outcome::Skipped("mock".into()), "skipped"),
            (
                Outcome::Rejected {
                    reason: "not JSON".into(),
                    kept: PathBuf::from("k"),
                },
                "rejected",
            ),
            (Outcome::Failed("disk full".into()), "failed"),
        ];
        for (outcome, word) in &outcomes {
            assert_eq!(tally.add(outcome), *word);
        }
        assert_eq!(
            tally.summary(),
            "6 alerts: 2 written, 1 unchanged, 1 skipped, 1 rejected, 1 failed"
        );
    }

    #[test]
    fn the_counts_read_as_the_status_file_writes_them() {
        let json = r#"{"written": 1, "unchanged": 0, "skipped": 2, "rejected": 0, "failed": 3}"#;
        let tally: Tally = serde_json::from_str(json).unwrap();
        assert_eq!((tally.written, tally.skipped, tally.failed), (1, 2, 3));
    }
}

//! Reading the trigger's record as the end-to-end tests and benchmarks do:
//! through `gocart-trigger status --json --last N`, the interface a monitor
//! uses (its fields: docs/contracts.md), never the human text.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

/// One (alert directory, plugin).
pub type Pair = (String, String);

/// What `status --json` says of the record.
#[derive(Debug, Default)]
pub struct Status {
    /// How many runs are in each state (`pending`, `running`, `ok`, `failed`).
    pub runs: BTreeMap<String, u64>,
    /// The state and attempts of each of the last runs.
    pub last_runs: HashMap<Pair, (String, usize)>,
}

impl Status {
    /// Parses the output of `status --json`; `None` if it is not that.
    pub fn parse(stdout: &[u8]) -> Option<Status> {
        let value: Value = serde_json::from_slice(stdout).ok()?;
        let runs = value["runs"]
            .as_object()?
            .iter()
            .map(|(state, n)| Some((state.clone(), n.as_u64()?)))
            .collect::<Option<_>>()?;
        let last_runs = value["last_runs"]
            .as_array()?
            .iter()
            .map(|run| {
                let pair = (run["dir"].as_str()?.into(), run["plugin"].as_str()?.into());
                let state = run["state"].as_str()?.to_string();
                let attempts = usize::try_from(run["attempts"].as_u64()?).ok()?;
                Some((pair, (state, attempts)))
            })
            .collect::<Option<_>>()?;
        Some(Status { runs, last_runs })
    }

    /// Runs in `state` (0 when the record has none).
    pub fn count(&self, state: &str) -> u64 {
        self.runs.get(state).copied().unwrap_or(0)
    }
}

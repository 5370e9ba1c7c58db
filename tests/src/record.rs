//! Reading the trigger's record as the end-to-end tests and benchmarks do:
//! through `gocart-trigger status --last N`, the interface a user sees.

use std::collections::HashMap;

/// One (alert directory, plugin).
pub type Pair = (String, String);

/// The record's state and attempts of every run, from `status --last`:
/// `  <started> <state> <plugin> <dir> (<exit status>, attempt <n>)`.
pub fn record_rows(status: &str) -> HashMap<Pair, (&str, usize)> {
    let rows = status
        .split("\nlast runs:\n")
        .nth(1)
        .unwrap_or_default()
        .split("\nfailures:\n")
        .next()
        .unwrap_or_default();
    rows.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let attempts = fields
                .last()
                .unwrap()
                .trim_end_matches(')')
                .parse()
                .unwrap();
            (
                (fields[3].to_string(), fields[2].to_string()),
                (fields[1], attempts),
            )
        })
        .collect()
}

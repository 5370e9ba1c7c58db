//! The crash suite: `kill -9` of `gocart-ingest` at random moments
//! while it writes alerts, and of `gocart-trigger` while its plugins run, each
//! kill followed by a restart, with the tree and the run record checked after
//! every round.
//!
//! Bounded by default (50 and 15 kills, well under a minute on two cores). `scripts/crash-suite.sh`
//! runs it at full size; `GOCART_CRASH_INGEST_KILLS`,
//! `GOCART_CRASH_TRIGGER_KILLS` set the sizes and `GOCART_CRASH_SEED` replays
//! a failure (every run prints its seed): the same messages and the same
//! random draws; where the kills land also depends on the machine's speed.

use super::Config;

#[test]
fn ingest_killed_at_random_moments_leaves_every_alert_complete_exactly_once() {
    let figures = super::ingest::run(Config::get());
    eprintln!("crash suite, ingest: {figures}");
}

#[test]
fn trigger_killed_while_plugins_run_repeats_no_finished_run_and_misses_none() {
    let figures = super::trigger::run(Config::get());
    eprintln!("crash suite, trigger: {figures}");
}

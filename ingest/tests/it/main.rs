//! gocart-ingest's integration tests, one binary: each module is one concern
//! (`cargo test -p gocart-ingest --test it kafka::` runs the Kafka tests).
//! Their support shared with other crates is in gocart-tests (`gocart_tests`).

mod bad_input;
mod check;
mod cli;
mod common;
mod crash;
mod disk_full;
mod dossier;
mod filters;
mod flatten;
mod hostile;
mod import;
mod kafka;
mod mock;
mod observability;
mod pipeline;
mod products;
mod real_alerts;
mod render;
mod settings_typos;
mod template;

//! gocart-trigger's integration tests, one binary: each module is one concern
//! (`cargo test -p gocart-trigger --test it serve::` runs the serve tests).
//! Their support shared with other crates is in gocart-tests (`gocart_tests`).

mod check;
mod common;
mod dossier_plugins;
mod failures;
mod kinds;
mod lanes;
mod monitor;
mod replay;
mod scheduling;
mod serve;
mod template;
mod watch;

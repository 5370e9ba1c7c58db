//! gocart-trigger: every plugin runs once on every complete alert directory.
//! The binary (`main.rs`) only parses the command line; the work is here, so
//! that tests and other programs can use it, split by concern:
//!
//! - `watch`: noticing complete directories (events, scans, the dispatcher);
//! - `runner`: deciding what is due and running the plugins (jobs, the pool);
//! - `record`: the durable record of runs in `trigger.state_dir`;
//! - `serve`: the alert tree as a read-only web page;
//! - `cli` and `cmd`: the command line and one module per command.

pub mod cli;
pub mod cmd;
pub mod record;
pub mod runner;
pub mod serve;
pub mod watch;

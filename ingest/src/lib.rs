//! gocart-ingest: every LVK alert, from whatever source, becomes one complete
//! alert directory. The binary (`main.rs`) only parses the command line; the
//! work is here, split by concern:
//!
//! - `message`: the alert message, its summary, `meta.yaml` and file names;
//! - `alert`: the pipeline one message takes (checks, filters, outputs);
//! - `skymap`: multi-order sky maps (FITS reading, statistics, flattening);
//! - `render`: the all-sky picture;
//! - `writer`: staging, the marker and the atomic publish;
//! - `kafka`: listen, echo and the status file (the Kafka side);
//! - `cmd`: one module per command.

pub mod alert;
pub mod cli;
pub mod cmd;
pub mod kafka;
pub mod message;
pub mod mock;
pub mod render;
pub mod skymap;
pub mod writer;

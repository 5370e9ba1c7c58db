//! gocart-ingest: every LVK alert, from whatever source, becomes one complete
//! alert directory. The binary (`main.rs`) only parses the command line; the
//! work is here, split by concern:
//!
//! - `alert`: the pipeline one message takes (checks, filters, outputs), over
//!   the message model of `gocart-alert` (re-exported there);
//! - `skymap`: multi-order sky maps (FITS reading, statistics, flattening),
//!   the crate `gocart-skymap`;
//! - `render`: the all-sky picture, the crate `gocart-render`;
//! - `writer`: staging, the marker and the atomic publish;
//! - `kafka`: listen, echo and the status file (the Kafka side);
//! - `cmd`: one module per command.
//!
//! The sky maps, the message and the picture are crates of their own so that
//! each builds and is tested without Kafka, and the fuzz targets need neither
//! Kafka nor the renderer; they keep their old paths here.

pub mod alert;
pub mod cli;
pub mod cmd;
pub mod kafka;
pub mod mock;
pub mod writer;

pub use gocart_render as render;
pub use gocart_skymap as skymap;

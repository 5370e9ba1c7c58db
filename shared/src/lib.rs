//! What `gocart-ingest` and `gocart-trigger` agree on, and nothing else: the
//! settings file, the layout of the alert tree, the marker that says an alert
//! directory is complete and the times written in it (`time`); and, so that a
//! user meets one convention, how both speak at the terminal (`cli`,
//! `logging`), how both word an alert's false-alarm rate (`far`), how
//! both print text that came in a message (`text`) and what the
//! filter language means (`filter`). The two programs never talk to each
//! other; this crate is their whole contract. The alert message itself is read
//! by the ingest side only (the crate `gocart-alert`).

pub mod atomic;
pub mod check;
pub mod cli;
pub mod far;
pub mod filter;
pub mod kind;
pub mod logging;
pub mod marker;
pub mod process;
pub mod settings;
pub mod shutdown;
pub mod text;
pub mod time;
pub mod tree;

pub use kind::Kind;
pub use marker::{Marker, MarkerError, Source, MARKER_NAME};
pub use settings::{Settings, SettingsError};
pub use tree::{Level, Tree};

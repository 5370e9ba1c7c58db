//! What `gocart-ingest` and `gocart-trigger` agree on, and nothing else: the
//! settings file, the alert model, the layout of the alert tree and the marker
//! that says an alert directory is complete; and, so that a user meets one
//! convention, how both speak at the terminal (`cli`, `logging`). The two
//! programs never talk to each other; this crate is their whole contract.

pub mod alert;
pub mod check;
pub mod cli;
pub mod logging;
pub mod marker;
pub mod process;
pub mod settings;
pub mod shutdown;
pub mod tree;

pub use alert::{Alert, AlertError};
pub use marker::{Marker, MarkerError, Source, MARKER_NAME};
pub use settings::{Settings, SettingsError};
pub use tree::{Level, Tree};

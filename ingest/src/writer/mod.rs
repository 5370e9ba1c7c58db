//! Writing alert directories so that a reader never sees a partial one.
//!
//! Every directory is built under `<download_dir>/.staging/`, each file fsynced,
//! the marker written last, and then renamed into the tree in one step (or
//! swapped with an older version of itself with `RENAME_EXCHANGE`). A crash at any
//! point leaves either nothing in the tree or a complete directory; leftovers in
//! `.staging` are never alert directories and are cleared on the next start.

mod publish;
mod rejected;
pub mod staging;

pub use publish::{publish, Published};
pub use rejected::keep_rejected;
pub use staging::Staging;

pub use gocart_shared::atomic::sync_dir;

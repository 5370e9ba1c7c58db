//! The alert message and what is said about it without touching the disk: the
//! message checked once (`model`), the summary printed for it (`report`),
//! `meta.yaml`'s document (`meta`) and the names its sky maps are written under
//! (`names`); and the other GCN messages a superevent's dossier gathers
//! (`notice`). Kept apart from the pipeline (`alert`), so that the picture and
//! the fuzz targets can use it without the rest of gocart-ingest.

pub mod meta;
pub mod model;
pub mod names;
pub mod notice;
pub mod report;

pub use model::{clip_text, Alert, AlertError, Event, ExternalCoinc, MAX_MESSAGE_BYTES};

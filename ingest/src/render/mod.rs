//! `skymap.png`: the all-sky picture of an alert (issue "skymap.png").
//!
//! One more output of the pipeline: it is drawn into the staging directory
//! like every other file, and only when `lvk.aitoff.convert` is true.

use gocart_shared::settings::Aitoff;
use gocart_shared::Alert;

use crate::skymap::{SkyMap, Stats};
use crate::writer::Staging;

/// Draws `skymap.png` into the staging directory.
pub fn write_skymap_png(
    _alert: &Alert,
    _map: &SkyMap,
    _stats: &Stats,
    _options: &Aitoff,
    _staging: &mut Staging,
) -> std::io::Result<()> {
    // Drawn by the render module being built under its own issue.
    Ok(())
}

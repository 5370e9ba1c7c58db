//! The Sun and Moon exclusion zones as the picture knows them: what both the
//! per-pixel pass (`raster`) and its plan of one-colour blocks (`blocks`) test
//! points against, so that neither depends on the other for it.

use super::style::Rgb;

/// A small circle on the sky, filled with a translucent colour.
#[derive(Debug, Clone, Copy)]
pub struct Zone {
    pub centre: [f64; 3],
    /// cos of the angular radius: a point is inside when its dot product with
    /// `centre` is at least this.
    pub cos_radius: f64,
    pub color: Rgb,
}

//! The names an alert's sky maps are written under in its directory. The
//! pipeline writes them and the picture's panel shows the event's: one rule.

use gocart_shared::marker::is_plain_file_name;

use super::Event;
use gocart_skymap::SkyMap;

/// The combined (GW + external) sky map's file name.
pub const COMBINED_NAME: &str = "combined.multiorder.fits";

/// The file of a map's `percent` credible region as a MOC: `moc90.fits` for
/// the event's map, `combined.moc90.fits` for the combined map.
pub fn moc_name(percent: u8, combined: bool) -> String {
    let prefix = if combined { "combined." } else { "" };
    format!("{prefix}moc{percent}.fits")
}

/// The file of a map's 50 % and 90 % contours as GeoJSON: `contours.geojson`
/// for the event's map, `combined.contours.geojson` for the combined map.
pub fn contours_name(combined: bool) -> String {
    let prefix = if combined { "combined." } else { "" };
    format!("{prefix}contours.geojson")
}

/// `<creator>.multiorder.fits`, with the creator lower-cased; maps made by
/// `ligo-skymap-from-samples` are named after what made the samples: `bilby` for
/// CBC, the pipeline for bursts (`olib`, `cwb`, `mly`; the original called them
/// all `bilby`).
pub fn fits_name(map: &SkyMap, event: &Event) -> String {
    let creator = map.creator().unwrap_or("skymap").to_lowercase();
    let stem = if creator == "ligo-skymap-from-samples" {
        match (event.is_burst(), event.pipeline.as_deref()) {
            (true, Some(pipeline)) => pipeline.to_lowercase(),
            _ => "bilby".to_string(),
        }
    } else {
        creator
    };
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("{stem}.multiorder.fits");
    if is_plain_file_name(&name) && !stem.is_empty() {
        name
    } else {
        "skymap.multiorder.fits".into()
    }
}

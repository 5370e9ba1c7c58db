//! The sky maps an alert carries, decoded from base64 into the staging
//! directory and checked by reading them back as multi-order FITS tables;
//! and their products (the credible-region MOCs and contours, volumes, modes,
//! what each site can see) written beside them.

use base64::Engine;

use super::names::{contours_name, fits_name, moc_name, COMBINED_NAME};
use super::Alert;
use crate::skymap::products::{contours, credible::Ranking, moc, observability, Products};
use crate::skymap::{read_skymap, SkyMap, Stats};
use crate::writer::Staging;

/// What went wrong with a sky map: the alert's fault, or ours (I/O).
#[derive(Debug)]
pub enum MapError {
    Invalid(String),
    Io(std::io::Error),
}

impl From<std::io::Error> for MapError {
    fn from(e: std::io::Error) -> Self {
        MapError::Io(e)
    }
}

/// The event's sky map, read and checked, and the name it was written under.
pub struct StagedMap {
    pub map: SkyMap,
    pub file_name: String,
}

/// The alert's sky maps, read and checked.
pub struct StagedMaps {
    /// The event's own map.
    pub event: Option<StagedMap>,
    /// The combined map of an external coincidence.
    pub combined: Option<SkyMap>,
}

/// Decodes, writes and checks the alert's sky maps: the event's own (named after
/// its creator) and the combined map of an external coincidence.
pub fn stage(alert: &Alert, staging: &mut Staging) -> Result<StagedMaps, MapError> {
    let mut staged = StagedMaps {
        event: None,
        combined: None,
    };
    if let (Some(encoded), Some(event)) = (alert.skymap(), alert.event.as_ref()) {
        let map = stage_one(encoded, "event.skymap", ".skymap.fits", staging)?;
        let file_name = fits_name(&map, event);
        staging.rename(".skymap.fits", &file_name)?;
        staged.event = Some(StagedMap { map, file_name });
    }
    if let Some(encoded) = alert.combined_skymap() {
        let field = "external_coinc.combined_skymap";
        staged.combined = Some(stage_one(encoded, field, COMBINED_NAME, staging)?);
    }
    Ok(staged)
}

/// The products of the alert's maps: the event map's, and the combined map's
/// with its own areas.
pub struct MapProducts {
    pub event: Option<Products>,
    pub combined: Option<(Stats, Products)>,
}

/// Where the observability of every map is computed from: the settings'
/// sites, and the alert's `time_created` the 24 h start at.
pub struct Observing<'a> {
    pub sites: &'a [observability::Site],
    pub from: chrono::DateTime<chrono::Utc>,
}

/// The settings' `sites:` as the observability takes them.
pub fn sites(settings: &[gocart_shared::settings::Site]) -> Vec<observability::Site> {
    settings
        .iter()
        .map(|s| observability::Site {
            name: s.name.clone(),
            lat_deg: s.lat,
            lon_deg: s.lon,
            max_airmass: s.max_airmass,
            sun_alt_deg: s.sun_alt,
        })
        .collect()
}

/// Computes the products of every staged map (nothing written: this runs
/// beside the CSV's flattening). `ranking` is the event map's, made already
/// for its statistics.
pub fn compute_products(
    staged: &StagedMaps,
    ranking: Option<&Ranking>,
    observing: &Observing,
) -> MapProducts {
    let products = |map: &SkyMap, ranking: &Ranking| {
        Products::compute(map, ranking).observed(map, ranking, observing.from, observing.sites)
    };
    let combined = |map: &SkyMap| {
        let ranking = Ranking::new(map);
        (Stats::from_ranking(map, &ranking), products(map, &ranking))
    };
    std::thread::scope(|scope| {
        // An external coincidence's second map gets a core of its own.
        let second = staged
            .combined
            .as_ref()
            .map(|map| scope.spawn(move || combined(map)));
        let event = match (&staged.event, ranking) {
            (Some(staged), Some(ranking)) => Some(products(&staged.map, ranking)),
            _ => None,
        };
        let combined = second.map(|thread| {
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        });
        MapProducts { event, combined }
    })
}

/// Writes the MOCs and contours of every map (`moc50.fits`, `moc90.fits`,
/// `contours.geojson`; the combined map's with the prefix `combined.`).
pub fn write_products(products: &MapProducts, staging: &mut Staging) -> std::io::Result<()> {
    if let Some(products) = &products.event {
        write_regions(products, false, staging)?;
    }
    if let Some((_, products)) = &products.combined {
        write_regions(products, true, staging)?;
    }
    Ok(())
}

/// The credible regions' files: the MOCs and the contours.
fn write_regions(
    products: &Products,
    combined: bool,
    staging: &mut Staging,
) -> std::io::Result<()> {
    for (percent, region) in [(50, &products.moc50), (90, &products.moc90)] {
        staging.write_with(&moc_name(percent, combined), |out| {
            moc::write_fits(region, out)
        })?;
    }
    staging.write_with(&contours_name(combined), |out| {
        contours::write_geojson(&products.contours, out)
    })
}

fn stage_one(
    encoded: &str,
    field: &str,
    name: &str,
    staging: &mut Staging,
) -> Result<SkyMap, MapError> {
    let bytes = decode_base64(encoded)
        .map_err(|e| MapError::Invalid(format!("field `{field}`: not valid base64: {e}")))?;
    staging.write(name, &bytes)?;
    read_skymap(&staging.path().join(name))
        .map_err(|e| MapError::Invalid(format!("field `{field}`: {e}")))
}

/// Standard base64; line breaks, which some encoders insert, are allowed.
fn decode_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    let engine = base64::engine::general_purpose::STANDARD;
    if text.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        engine.decode(compact)
    } else {
        engine.decode(text)
    }
}

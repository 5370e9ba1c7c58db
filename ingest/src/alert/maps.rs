//! The sky maps an alert carries, decoded from base64 into the staging
//! directory and checked by reading them back as multi-order FITS tables.

use base64::Engine;

use super::names::{fits_name, COMBINED_NAME};
use super::Alert;
use crate::skymap::{read_skymap, SkyMap};
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

/// Decodes, writes and checks the alert's sky maps: the event's own (named after
/// its creator) and the combined map of an external coincidence.
pub fn stage(alert: &Alert, staging: &mut Staging) -> Result<Option<StagedMap>, MapError> {
    let mut staged = None;
    if let (Some(encoded), Some(event)) = (alert.skymap(), alert.event.as_ref()) {
        let map = stage_one(encoded, "event.skymap", ".skymap.fits", staging)?;
        let file_name = fits_name(&map, event);
        staging.rename(".skymap.fits", &file_name)?;
        staged = Some(StagedMap { map, file_name });
    }
    if let Some(encoded) = alert.combined_skymap() {
        stage_one(
            encoded,
            "external_coinc.combined_skymap",
            COMBINED_NAME,
            staging,
        )?;
    }
    Ok(staged)
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

//! Swift BAT-GUANO notices (`gcn.notices.swift.bat.guano`): one directory per
//! notice under `transients/swift_guano/<id>/`, named by its alert type; the
//! position is an error circle, or the HEALPix map `healpix_file` carries
//! (decoded here, drawn by the ingester).

use base64::Engine;
use serde_json::{Map, Value};

use super::einstein_probe::first_id;
use super::fields::{plain, Fields};
use super::{Folder, Parsed, Position, Target};
use crate::model::AlertError;
use gocart_shared::Kind;

/// The name the decoded map is written under, in the directory and in NOTICE.
pub const HEALPIX_NAME: &str = "skymap.fits";

pub(super) fn parse(fields: &mut Fields) -> Result<Parsed, AlertError> {
    let id = first_id(fields)?;
    let alert_type = match fields.at("alert_type") {
        Some(value) => plain("alert_type", value)?.to_lowercase(),
        None => return Err(AlertError::field("alert_type", "missing")),
    };
    let (time, time_text) = fields.time(&["alert_datetime", "trigger_time"])?;
    fields.record("alert_type", Value::from(alert_type.clone()));
    if alert_type != "retraction" {
        fields.record_number("far", "far");
        fields.record_number("rate_snr", "rate_snr");
    }
    let position = Position::checked(
        fields.number("ra"),
        fields.number("dec"),
        fields.number("ra_dec_error"),
    );
    let healpix = take_healpix(fields)?;
    Ok(Parsed {
        time,
        time_text,
        targets: vec![Target {
            folder: Folder::Transient(Kind::SwiftGuano, id),
            alert_type,
            position,
            extra: Map::new(),
        }],
        healpix,
    })
}

/// Decodes `healpix_file` and leaves a note in its place in the document (a
/// map is megabytes of base64: meta.yaml says what it became instead).
fn take_healpix(fields: &mut Fields) -> Result<Option<Vec<u8>>, AlertError> {
    let Some(slot) = fields.document.get_mut("healpix_file") else {
        return Ok(None);
    };
    let Value::String(encoded) = slot else {
        return Err(AlertError::field("healpix_file", "expected base64 text"));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| AlertError::field("healpix_file", format!("not base64: {e}")))?;
    *slot = Value::from(format!(
        "<decoded to {HEALPIX_NAME}, {} bytes>",
        bytes.len()
    ));
    Ok(Some(bytes))
}

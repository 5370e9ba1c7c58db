//! Einstein Probe WXT transients (`gcn.notices.einstein_probe.wxt.alert`):
//! one directory per alert under `transients/einstein_probe/<id>/`, with the
//! position, its error and the detection's significance.

use serde_json::Map;

use super::fields::{plain, Fields};
use super::{Folder, Parsed, Position, Target};
use crate::model::AlertError;
use gocart_shared::Kind;

pub(super) fn parse(fields: &mut Fields) -> Result<Parsed, AlertError> {
    let id = first_id(fields)?;
    let (time, time_text) = fields.time(&["alert_datetime", "trigger_time"])?;
    fields.record_number("image_snr", "image_snr");
    fields.record_number("net_count_rate", "net_count_rate");
    let position = Position::checked(
        fields.number("ra"),
        fields.number("dec"),
        fields.number("ra_dec_error"),
    );
    if position.is_none() {
        fields.note_missing("ra");
        fields.note_missing("dec");
    }
    Ok(Parsed {
        time,
        time_text,
        targets: vec![Target {
            folder: Folder::Transient(Kind::EinsteinProbe, id),
            alert_type: "alert".into(),
            position,
            extra: Map::new(),
        }],
        healpix: None,
    })
}

/// The transient's id: the first of the `id` list (or `id` itself when a
/// single name), which must be a plain name.
pub(super) fn first_id(fields: &Fields) -> Result<String, AlertError> {
    match fields.at("id") {
        Some(serde_json::Value::Array(ids)) => match ids.first() {
            Some(first) => plain("id[0]", first),
            None => Err(AlertError::field("id", "an empty list")),
        },
        Some(single) => plain("id", single),
        None => Err(AlertError::field("id", "missing")),
    }
}

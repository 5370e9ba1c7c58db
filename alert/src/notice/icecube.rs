//! IceCube's search for neutrinos around an LVK alert
//! (`gcn.notices.icecube.lvk_nu_track_search`): one directory in the
//! superevent's folder (`ref_ID`), the p-values of the coincidence and the
//! most probable direction.

use serde_json::Map;

use super::fields::Fields;
use super::{is_superevent_id, Folder, Parsed, Position, Target};
use crate::model::AlertError;

pub(super) fn parse(fields: &mut Fields) -> Result<Parsed, AlertError> {
    let superevent = superevent_ref(fields, "ref_ID")?;
    let (time, time_text) = fields.time(&["alert_datetime", "trigger_time"])?;
    fields.record_number("pval_generic", "pval_generic");
    fields.record_number("pval_bayesian", "pval_bayesian");
    fields.record_number("n_events_coincident", "n_events_coincident");
    let position = Position::checked(
        fields.number("most_probable_direction/ra"),
        fields.number("most_probable_direction/dec"),
        most_significant_error(fields),
    );
    if position.is_none() && fields.number("n_events_coincident") != Some(0.0) {
        // No coincident neutrino, no direction: nothing is missing then.
        fields.note_missing("most_probable_direction");
    }
    Ok(Parsed {
        time,
        time_text,
        targets: vec![Target {
            folder: Folder::Event(superevent),
            alert_type: "icecube".into(),
            position,
            extra: Map::new(),
        }],
        healpix: None,
    })
}

/// A required superevent id at `path`.
pub(super) fn superevent_ref(fields: &Fields, path: &str) -> Result<String, AlertError> {
    let id = fields.name(path)?;
    if is_superevent_id(&id) {
        Ok(id)
    } else {
        Err(AlertError::field(
            path,
            format!("{id:?} is not a superevent id (S or MS, six digits, letters)"),
        ))
    }
}

/// The error radius of the coincident neutrino with the smallest p-value:
/// the most probable direction is that neutrino's.
fn most_significant_error(fields: &Fields) -> Option<f64> {
    let events = fields.at("coincident_events")?.as_array()?;
    events
        .iter()
        .filter_map(|e| {
            let error = e.pointer("/localization/ra_dec_error")?.as_f64()?;
            let pval = e
                .get("event_pval_generic")
                .and_then(|p| p.as_f64())
                .unwrap_or(1.0);
            Some((pval, error))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, error)| error)
}

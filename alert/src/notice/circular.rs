//! GCN circulars (`gcn.circulars`): a circular goes into the folder of every
//! superevent its `eventId` or `subject` names, or, naming none, into
//! `circulars/<circularId>/`.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::fields::{plain, Fields};
use super::{is_superevent_id, Folder, Parsed, Target};
use crate::model::{check_time, AlertError};

pub(super) fn parse(fields: &mut Fields) -> Result<Parsed, AlertError> {
    let id = match fields.at("circularId") {
        Some(value) => plain("circularId", value)?,
        None => return Err(AlertError::field("circularId", "missing")),
    };
    let (time, time_text) = created_on(fields)?;
    fields.record("circular_id", Value::from(id.clone()));
    fields.record_text("subject", "subject");
    fields.record_text("event_id", "eventId");
    let mut named = Vec::new();
    for text in ["eventId", "subject"].iter().filter_map(|p| fields.text(p)) {
        for superevent in superevent_ids_in(text) {
            if !named.contains(&superevent) {
                named.push(superevent);
            }
        }
    }
    let targets = if named.is_empty() {
        vec![target(Folder::Circular(id.clone()), "circular".into())]
    } else {
        named
            .into_iter()
            .map(|s| target(Folder::Event(s), format!("circular-{id}")))
            .collect()
    };
    Ok(Parsed {
        time,
        time_text,
        targets,
        healpix: None,
    })
}

fn target(folder: Folder, alert_type: String) -> Target {
    Target {
        folder,
        alert_type,
        position: None,
        extra: Map::new(),
    }
}

/// `createdOn` (milliseconds since 1970, as GCN sends it), or an ISO time.
fn created_on(fields: &Fields) -> Result<(DateTime<Utc>, String), AlertError> {
    let Some(millis) = fields.at("createdOn").and_then(Value::as_i64) else {
        return fields.time(&["createdOn"]);
    };
    let time = DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| AlertError::field("createdOn", format!("{millis} is not a time")))?;
    let time = check_time("createdOn", time)?;
    Ok((
        time,
        time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    ))
}

/// The superevent ids a text names, in order, each once: whole words such as
/// `S230518h` or `MS240101abc` ("LIGO/Virgo/KAGRA S230518h: ...").
pub fn superevent_ids_in(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let words = text.split(|c: char| !c.is_ascii_alphanumeric());
    for word in words.filter(|w| is_superevent_id(w)) {
        if !ids.iter().any(|known| known == word) {
            ids.push(word.to_string());
        }
    }
    ids
}

//! BOOM optical candidates crossmatched to GW events
//! (`gcn.notices.boom.alert`): one directory per (target, superevent) pair,
//! in the superevent's folder, named after the candidate.

use serde_json::{Map, Value};

use super::fields::{plain, Fields};
use super::{is_superevent_id, Folder, Parsed, Position, Target};
use crate::model::AlertError;

pub(super) fn parse(fields: &mut Fields) -> Result<Parsed, AlertError> {
    let (time, time_text) = fields.time(&["alert_datetime", "trigger_time"])?;
    let targets = match fields.at("data/targets") {
        Some(Value::Array(targets)) => targets.clone(),
        Some(_) => return Err(AlertError::field("data.targets", "expected a list")),
        None => return Err(AlertError::field("data.targets", "missing")),
    };
    let mut found = Vec::new();
    for (i, target) in targets.iter().enumerate() {
        let name = target
            .get("event_name")
            .ok_or_else(|| AlertError::field(format!("data.targets[{i}].event_name"), "missing"))
            .and_then(|v| plain(&format!("data.targets[{i}].event_name"), v))?;
        let number = |key: &str| target.get(key).and_then(Value::as_f64);
        let position = Position::checked(number("ra"), number("dec"), None);
        if position.is_none() {
            fields.note_missing(&format!("data.targets[{i}].ra/dec"));
        }
        let mut extra = Map::new();
        extra.insert("event_name".into(), Value::from(name.clone()));
        if let Some(class) = top_class(target) {
            extra.insert("classification".into(), Value::from(class));
        }
        for superevent in crossmatched_events(target) {
            found.push(Target {
                folder: Folder::Event(superevent),
                alert_type: format!("boom-{name}"),
                position,
                extra: extra.clone(),
            });
        }
    }
    if found.is_empty() {
        return Err(AlertError::field(
            "data.targets[].gcn_crossmatch",
            "no target is crossmatched to a superevent",
        ));
    }
    Ok(Parsed {
        time,
        time_text,
        targets: found,
        healpix: None,
    })
}

/// The superevent ids a target is crossmatched to (others are ignored).
fn crossmatched_events(target: &Value) -> Vec<String> {
    let Some(matches) = target.get("gcn_crossmatch").and_then(Value::as_array) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = Vec::new();
    for id in matches.iter().filter_map(|m| m.get("ref_ID")?.as_str()) {
        if is_superevent_id(id) && !ids.iter().any(|known| known == id) {
            ids.push(id.to_string());
        }
    }
    ids
}

/// The class with the highest score, if the target has scores.
fn top_class(target: &Value) -> Option<String> {
    let scores = target.get("classification_scores")?.as_object()?;
    scores
        .iter()
        .filter_map(|(name, score)| Some((name, score.as_f64()?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(name, _)| crate::model::clip_text(name))
}

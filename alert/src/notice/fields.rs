//! Reading a notice's fields leniently: a field that is absent, null or of
//! the wrong type is noted as missing rather than refused, and what each
//! kind records for `EXTRA` is gathered in one place.

use chrono::{DateTime, Utc};
use gocart_shared::time::parse_utc;
use serde_json::{Map, Value};

use crate::model::{check_plain_name, check_time, clip_text, AlertError};

/// The message being read, what `EXTRA` gets from it, and what it lacks.
pub(super) struct Fields {
    pub document: Value,
    extra: Map<String, Value>,
    missing: Vec<String>,
}

impl Fields {
    pub fn new(document: Value) -> Fields {
        Fields {
            document,
            extra: Map::new(),
            missing: Vec::new(),
        }
    }

    /// The value at a `/`-separated path (JSON pointer without the first `/`).
    pub fn at(&self, path: &str) -> Option<&Value> {
        self.document
            .pointer(&format!("/{path}"))
            .filter(|v| !v.is_null())
    }

    pub fn number(&self, path: &str) -> Option<f64> {
        self.at(path)?.as_f64().filter(|x| x.is_finite())
    }

    pub fn text(&self, path: &str) -> Option<&str> {
        self.at(path)?.as_str()
    }

    /// Notes that the kind uses `name` and the message lacks it.
    pub fn note_missing(&mut self, name: &str) {
        if !self.missing.iter().any(|m| m == name) {
            self.missing.push(name.to_string());
        }
    }

    /// Records `EXTRA.<name>` from the number at `path`, or notes it missing.
    pub fn record_number(&mut self, name: &str, path: &str) {
        match self.number(path) {
            Some(x) => self.record(name, Value::from(x)),
            None => self.note_missing(name),
        }
    }

    /// Records `EXTRA.<name>` from the text at `path`, or notes it missing.
    pub fn record_text(&mut self, name: &str, path: &str) {
        match self.text(path).map(clip_text) {
            Some(text) => self.record(name, Value::from(text)),
            None => self.note_missing(name),
        }
    }

    pub fn record(&mut self, name: &str, value: Value) {
        self.extra.insert(name.to_string(), value);
    }

    /// A required time: the first of `paths` the message has, parsed.
    pub fn time(&self, paths: &[&str]) -> Result<(DateTime<Utc>, String), AlertError> {
        let Some((path, text)) = paths.iter().find_map(|p| Some((*p, self.text(p)?))) else {
            return Err(AlertError::field(paths.join(" or "), "missing"));
        };
        let time = parse_utc(text)
            .ok_or_else(|| AlertError::field(path, format!("{text:?} is not an ISO 8601 time")))?;
        Ok((check_time(path, time)?, text.to_string()))
    }

    /// A required name that becomes a path component.
    pub fn name(&self, path: &str) -> Result<String, AlertError> {
        let value = self
            .at(path)
            .ok_or_else(|| AlertError::field(path, "missing"))?;
        plain(path, value)
    }

    /// The document, the recorded `EXTRA` and the missing fields.
    pub fn finish(self) -> (Value, Map<String, Value>, Vec<String>) {
        (self.document, self.extra, self.missing)
    }
}

/// A JSON value usable as a path component: a plain-name string, or a
/// non-negative integer (circular ids).
pub(super) fn plain(field: &str, value: &Value) -> Result<String, AlertError> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.as_u64().is_some() => n.to_string(),
        other => {
            return Err(AlertError::field(
                field,
                format!("expected a name, found {}", clip_text(&other.to_string())),
            ))
        }
    };
    check_plain_name(field, &text)?;
    Ok(text)
}

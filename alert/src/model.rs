//! The LVK alert as GCN delivers it on `igwn.gwalert`: a JSON message whose
//! fields we check once, here, so that nothing downstream has to guess.
//!
//! The whole message is kept as parsed (`document`, key order preserved) for
//! `meta.yaml`; the typed fields are what the programs act on. Anything that could
//! end up in a path (the superevent id, the alert type) must be a plain name.

use chrono::{DateTime, Utc};
use gocart_shared::time::parse_utc;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Messages larger than this are refused unread: a real alert with a combined
/// sky map is about 2 MB.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Why a message is not a usable alert. The text names the field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlertError {
    #[error("the message is empty")]
    Empty,
    #[error("the message is larger than the limit of {limit} bytes ({size} bytes read)")]
    TooLarge { size: usize, limit: usize },
    #[error("not a JSON alert: {0}")]
    NotJson(String),
    #[error("field `{field}`: {message}")]
    Field { field: String, message: String },
}

impl AlertError {
    /// The message is clipped: a hostile message can make serde quote a
    /// megabyte-long value, and the reason is printed, logged and kept.
    pub(crate) fn field(field: impl Into<String>, message: impl AsRef<str>) -> AlertError {
        AlertError::Field {
            field: clip_text(&field.into()),
            message: clip_text(message.as_ref()),
        }
    }
}

/// The longest reason text shown in full; see `clip_text`.
pub const MAX_REASON_CHARS: usize = 240;

/// `text` if it is short, else its start and end with the middle left out and
/// counted: both ends, because serde says what it expected after the value.
pub fn clip_text(text: &str) -> String {
    let count = text.chars().count();
    if count <= MAX_REASON_CHARS {
        return text.to_string();
    }
    let head: String = text.chars().take(MAX_REASON_CHARS * 2 / 3).collect();
    let tail_len = MAX_REASON_CHARS / 4;
    let tail: String = text.chars().skip(count - tail_len).collect();
    let left_out = count - MAX_REASON_CHARS * 2 / 3 - tail_len;
    format!("{head}…[{left_out} characters left out]…{tail}")
}

/// One alert message, checked.
#[derive(Debug, Clone)]
pub struct Alert {
    pub superevent_id: String,
    /// As sent (`PRELIMINARY`, `EARLY_WARNING`, ...).
    pub alert_type: String,
    pub time_created: DateTime<Utc>,
    /// `time_created` as sent, for printing.
    pub time_created_text: String,
    pub event: Option<Event>,
    pub external_coinc: Option<ExternalCoinc>,
    /// The whole message as parsed, key order preserved, without its base64
    /// sky maps (they are in `event.skymap` and `external_coinc.combined_skymap`).
    pub document: Value,
}

/// The `event` object (null in a retraction).
#[derive(Debug, Clone, Default)]
pub struct Event {
    pub time: Option<DateTime<Utc>>,
    pub time_text: Option<String>,
    pub far: Option<f64>,
    pub significant: Option<bool>,
    pub instruments: Vec<String>,
    pub group: Option<String>,
    pub pipeline: Option<String>,
    pub search: Option<String>,
    /// In the order sent (BNS, NSBH, BBH, Terrestrial).
    pub classification: Vec<(String, f64)>,
    pub properties: Vec<(String, f64)>,
    /// The base64 multi-order sky map.
    pub skymap: Option<String>,
}

/// The `external_coinc` object of an alert with a coincident external trigger.
#[derive(Debug, Clone, Default)]
pub struct ExternalCoinc {
    pub observatory: Option<String>,
    /// The base64 combined (GW + external) sky map.
    pub combined_skymap: Option<String>,
}

#[derive(Deserialize)]
struct RawAlert {
    superevent_id: String,
    alert_type: String,
    time_created: String,
    #[serde(default)]
    event: Option<RawEvent>,
    #[serde(default)]
    external_coinc: Option<RawExternal>,
}

#[derive(Deserialize)]
struct RawEvent {
    #[serde(default)]
    time: Option<String>,
    #[serde(default)]
    far: Option<f64>,
    #[serde(default)]
    significant: Option<bool>,
    #[serde(default)]
    instruments: Option<Vec<String>>,
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    pipeline: Option<String>,
    #[serde(default)]
    search: Option<String>,
    #[serde(default)]
    classification: Option<Map<String, Value>>,
    #[serde(default)]
    properties: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
struct RawExternal {
    #[serde(default)]
    observatory: Option<String>,
}

impl Alert {
    /// Checks one message as received.
    pub fn parse(bytes: &[u8]) -> Result<Alert, AlertError> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(AlertError::TooLarge {
                size: bytes.len(),
                limit: MAX_MESSAGE_BYTES,
            });
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(AlertError::Empty);
        }
        let mut document: Value = serde_json::from_slice(bytes)
            .map_err(|e| AlertError::NotJson(clip_text(&e.to_string())))?;
        if !document.is_object() {
            return Err(AlertError::NotJson(format!(
                "expected a JSON object, found {}",
                kind_of(&document)
            )));
        }
        // Moved out, not copied: they are a megabyte or two each.
        let skymap = take_string(&mut document, "event", "skymap")?;
        let combined_skymap = take_string(&mut document, "external_coinc", "combined_skymap")?;
        let raw: RawAlert = serde_path_to_error::deserialize(&document).map_err(|e| {
            let field = e.path().to_string();
            let message = e.into_inner().to_string();
            // serde names a missing field in its message, at the path of the
            // object that lacks it ("." for the alert itself).
            match message
                .strip_prefix("missing field `")
                .and_then(|m| m.strip_suffix('`'))
            {
                Some(missing) if field == "." => AlertError::field(missing, "missing"),
                Some(missing) => AlertError::field(format!("{field}.{missing}"), "missing"),
                None => AlertError::field(field, message),
            }
        })?;
        check_plain_name("superevent_id", &raw.superevent_id)?;
        check_plain_name("alert_type", &raw.alert_type)?;
        let time_created = parse_utc(&raw.time_created).ok_or_else(|| {
            AlertError::field(
                "time_created",
                format!("{:?} is not an ISO 8601 time", raw.time_created),
            )
        })?;
        let time_created = check_time("time_created", time_created)?;
        let event = raw.event.map(|e| Event::from_raw(e, skymap)).transpose()?;
        let external_coinc = raw.external_coinc.map(|x| ExternalCoinc {
            observatory: x.observatory,
            combined_skymap,
        });
        Ok(Alert {
            superevent_id: raw.superevent_id,
            alert_type: raw.alert_type,
            time_created,
            time_created_text: raw.time_created,
            event,
            external_coinc,
            document,
        })
    }

    /// Mock alerts (the hourly `MS...` stream) have ids starting with `M`.
    pub fn is_mock(&self) -> bool {
        self.superevent_id.starts_with('M')
    }

    pub fn is_retraction(&self) -> bool {
        self.alert_type.eq_ignore_ascii_case("retraction")
    }

    /// `time_created` in UTC as `YYYYMMDDTHHMMSS`.
    pub fn stamp(&self) -> String {
        self.time_created.format("%Y%m%dT%H%M%S").to_string()
    }

    /// The alert directory's name: `<stamp>_<alert type lower-cased>`.
    pub fn dir_name(&self) -> String {
        format!("{}_{}", self.stamp(), self.alert_type.to_lowercase())
    }

    /// The sky map of the event, if the alert carries one.
    pub fn skymap(&self) -> Option<&str> {
        self.event
            .as_ref()?
            .skymap
            .as_deref()
            .filter(|s| !s.is_empty())
    }

    /// The combined sky map of an external coincidence, if any.
    pub fn combined_skymap(&self) -> Option<&str> {
        self.external_coinc
            .as_ref()?
            .combined_skymap
            .as_deref()
            .filter(|s| !s.is_empty())
    }

    /// The message with its base64 sky maps removed, for `meta.yaml`'s `ALERT`
    /// (the original dropped the whole of `external_coinc`; we keep the rest of it).
    pub fn document_without_skymaps(&self) -> &Value {
        &self.document
    }
}

impl Event {
    fn from_raw(raw: RawEvent, skymap: Option<String>) -> Result<Event, AlertError> {
        let time = match &raw.time {
            Some(text) => Some(check_time(
                "event.time",
                parse_utc(text).ok_or_else(|| {
                    AlertError::field("event.time", format!("{text:?} is not an ISO 8601 time"))
                })?,
            )?),
            None => None,
        };
        if let Some(far) = raw.far {
            if far < 0.0 {
                return Err(AlertError::field(
                    "event.far",
                    format!("{far:?} is negative; a rate is never below zero"),
                ));
            }
        }
        Ok(Event {
            time,
            time_text: raw.time,
            far: raw.far,
            significant: raw.significant,
            instruments: raw.instruments.unwrap_or_default(),
            group: raw.group,
            pipeline: raw.pipeline,
            search: raw.search,
            classification: numbers("event.classification", raw.classification)?,
            properties: numbers("event.properties", raw.properties)?,
            skymap,
        })
    }

    /// Burst alerts carry `group: Burst` (any case).
    pub fn is_burst(&self) -> bool {
        self.group
            .as_deref()
            .is_some_and(|g| g.eq_ignore_ascii_case("burst"))
    }

    pub fn classification(&self, name: &str) -> Option<f64> {
        lookup(&self.classification, name)
    }

    pub fn property(&self, name: &str) -> Option<f64> {
        lookup(&self.properties, name)
    }
}

/// Removes `object.field` from the document if it is a string (or null);
/// anything else there is a type error named by its field.
fn take_string(
    document: &mut Value,
    object: &str,
    field: &str,
) -> Result<Option<String>, AlertError> {
    let Some(map) = document.get_mut(object).and_then(Value::as_object_mut) else {
        return Ok(None);
    };
    match map.get(field) {
        None | Some(Value::Null) => {
            map.shift_remove(field);
            Ok(None)
        }
        Some(Value::String(_)) => match map.shift_remove(field) {
            Some(Value::String(s)) => Ok(Some(s)),
            _ => Ok(None),
        },
        Some(other) => Err(AlertError::field(
            format!("{object}.{field}"),
            format!("expected a base64 string, found {}", kind_of(other)),
        )),
    }
}

fn lookup(pairs: &[(String, f64)], name: &str) -> Option<f64> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

fn numbers(field: &str, map: Option<Map<String, Value>>) -> Result<Vec<(String, f64)>, AlertError> {
    map.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| match v.as_f64() {
            Some(x) => Ok((k, x)),
            None => Err(AlertError::field(
                format!("{field}.{k}"),
                format!("expected a number, found {}", kind_of(&v)),
            )),
        })
        .collect()
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The longest superevent id or alert type accepted (real ones are under 20).
pub const MAX_NAME_LEN: usize = 64;

/// A name that can safely be a path component: letters, digits, `_` and `-`,
/// not starting with `-`: a plugin or a shell command given the folder
/// `-rf` (or `GOCART_SUPEREVENT_ID=-rf`) would read it as an option.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `value` as the path component of `field`, or why it cannot be one.
pub(crate) fn check_plain_name(field: &str, value: &str) -> Result<(), AlertError> {
    if is_plain_name(value) {
        return Ok(());
    }
    let shown = clip_text(&format!("{value:?}"));
    let why = if value.starts_with('-') && value.len() <= MAX_NAME_LEN {
        "begins with `-` (a command would take it for an option)".to_string()
    } else {
        format!("is not a plain name (1 to {MAX_NAME_LEN} letters, digits, `_` or `-`)")
    };
    Err(AlertError::field(field, format!("{shown} {why}")))
}

/// The earliest and latest time a message may carry (1990-01-01 and
/// 2100-01-01, UTC, in seconds since 1970): a time outside is a corrupt or
/// hostile field, and would name a directory `+2621421231T235959_...`.
pub const EARLIEST_TIME: i64 = 631_152_000;
pub const LATEST_TIME: i64 = 4_102_444_800;

/// `time` (the message's `field`) if it lies in [`EARLIEST_TIME`],
/// [`LATEST_TIME`]), else why not.
pub(crate) fn check_time(field: &str, time: DateTime<Utc>) -> Result<DateTime<Utc>, AlertError> {
    if (EARLIEST_TIME..LATEST_TIME).contains(&time.timestamp()) {
        Ok(time)
    } else {
        Err(AlertError::field(
            field,
            format!(
                "{} is not a time between 1990-01-01 and 2100-01-01",
                time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(json: &str) -> Result<Alert, AlertError> {
        Alert::parse(json.as_bytes())
    }

    const MINIMAL: &str = r#"{"alert_type":"PRELIMINARY","time_created":"2023-04-24T00:02:04Z",
        "superevent_id":"MS230423x","event":{"far":1e-9,"time":"2023-04-24T00:01:00.5Z",
        "group":"CBC","classification":{"BNS":0.9,"NSBH":0.05},"skymap":null},
        "external_coinc":null}"#;

    #[test]
    fn a_minimal_alert_parses() {
        let a = alert(MINIMAL).unwrap();
        assert_eq!(a.superevent_id, "MS230423x");
        assert!(a.is_mock());
        assert_eq!(a.dir_name(), "20230424T000204_preliminary");
        let e = a.event.as_ref().unwrap();
        assert_eq!(e.classification("BNS"), Some(0.9));
        assert!(!e.is_burst());
        assert_eq!(a.skymap(), None);
    }

    #[test]
    fn time_created_with_fraction_or_offset_gives_the_utc_stamp() {
        for (text, stamp) in [
            ("2023-04-24T00:02:04.999Z", "20230424T000204"),
            ("2023-04-24T00:02:04+00:00", "20230424T000204"),
            ("2023-04-24T02:02:04.5+02:00", "20230424T000204"),
            ("2023-04-23T23:02:04-01:00", "20230424T000204"),
            ("2023-04-24 00:02:04", "20230424T000204"),
            ("2023-04-24T00:02:04.123456", "20230424T000204"),
        ] {
            let json = MINIMAL.replace("2023-04-24T00:02:04Z", text);
            assert_eq!(alert(&json).unwrap().stamp(), stamp, "{text}");
        }
    }

    #[test]
    fn the_time_bounds_are_1990_and_2100() {
        let at = |text| parse_utc(text).unwrap().timestamp();
        assert_eq!(EARLIEST_TIME, at("1990-01-01T00:00:00Z"));
        assert_eq!(LATEST_TIME, at("2100-01-01T00:00:00Z"));
        for (text, ok) in [
            ("1989-12-31T23:59:59Z", false),
            ("1990-01-01T00:00:00Z", true),
            ("2099-12-31T23:59:59Z", true),
            ("2100-01-01T00:00:00Z", false),
            ("9999-12-31T23:59:59Z", false),
        ] {
            for (field, sent) in [
                ("time_created", "2023-04-24T00:02:04Z"),
                ("event.time", "2023-04-24T00:01:00.5Z"),
            ] {
                let json = MINIMAL.replace(sent, text);
                match alert(&json) {
                    Ok(_) => assert!(ok, "{field} {text} accepted"),
                    Err(e) => {
                        assert!(!ok, "{field} {text}: {e}");
                        assert!(e.to_string().contains(&format!("field `{field}`")), "{e}");
                        assert!(e.to_string().contains("1990-01-01 and 2100-01-01"), "{e}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_name_may_not_begin_with_a_dash() {
        for (id, t) in [("-rf", "INITIAL"), ("MS230423x", "--help")] {
            let json = MINIMAL.replace("MS230423x", id).replace("PRELIMINARY", t);
            let err = alert(&json).unwrap_err().to_string();
            assert!(err.contains("begins with `-`"), "{err}");
        }
        assert!(is_plain_name("MS230423x-2"));
    }

    #[test]
    fn ids_and_types_must_be_plain_names() {
        for bad in ["../x", "a/b", "a\\u0000b", "", ".", "MS 1", "é"] {
            let json = MINIMAL.replace("MS230423x", bad);
            let err = alert(&json).unwrap_err().to_string();
            assert!(err.contains("superevent_id"), "{bad}: {err}");
            let json = MINIMAL.replace("PRELIMINARY", bad);
            let err = alert(&json).unwrap_err().to_string();
            assert!(err.contains("alert_type"), "{bad}: {err}");
        }
    }

    #[test]
    fn bad_messages_name_what_is_wrong() {
        assert_eq!(alert("").unwrap_err(), AlertError::Empty);
        assert!(matches!(
            alert("{not json").unwrap_err(),
            AlertError::NotJson(_)
        ));
        assert!(matches!(
            alert("[1,2]").unwrap_err(),
            AlertError::NotJson(_)
        ));
        let missing = alert(r#"{"alert_type":"INITIAL","time_created":"2023-04-24T00:02:04Z"}"#)
            .unwrap_err()
            .to_string();
        assert!(missing.contains("superevent_id"), "{missing}");
        let mistyped = alert(&MINIMAL.replace("\"far\":1e-9", "\"far\":\"often\""))
            .unwrap_err()
            .to_string();
        assert!(mistyped.contains("event.far"), "{mistyped}");
        let class = alert(&MINIMAL.replace("\"BNS\":0.9", "\"BNS\":\"high\""))
            .unwrap_err()
            .to_string();
        assert!(class.contains("event.classification.BNS"), "{class}");
        let time = alert(&MINIMAL.replace("2023-04-24T00:02:04Z", "yesterday"))
            .unwrap_err()
            .to_string();
        assert!(time.contains("time_created"), "{time}");
        let huge = alert(&MINIMAL.replace("1e-9", "1e999")).unwrap_err();
        assert!(matches!(huge, AlertError::NotJson(_)), "{huge:?}");
    }

    #[test]
    fn reasons_quote_at_most_a_clipped_value() {
        let huge = "9".repeat(1 << 20);
        for json in [
            MINIMAL.replace("MS230423x", &huge),
            MINIMAL.replace("\"far\":1e-9", &format!("\"far\":\"{huge}\"")),
            MINIMAL.replace("2023-04-24T00:02:04Z", &huge),
        ] {
            let err = alert(&json).unwrap_err().to_string();
            assert!(err.len() < 600, "{} bytes: {}", err.len(), &err[..600]);
            assert!(err.contains("characters left out"), "{err}");
        }
        let err = alert(&MINIMAL.replace("\"far\":1e-9", &format!("\"far\":\"{huge}\"")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("event.far") && err.ends_with("expected f64"),
            "{err}"
        );
        assert_eq!(clip_text("short"), "short");
    }

    #[test]
    fn far_zero_is_accepted() {
        let a = alert(&MINIMAL.replace("1e-9", "0")).unwrap();
        assert_eq!(a.event.unwrap().far, Some(0.0));
    }

    #[test]
    fn oversized_messages_are_refused_unread() {
        let big = vec![b' '; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(
            Alert::parse(&big).unwrap_err(),
            AlertError::TooLarge { .. }
        ));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(matches!(alert(&deep).unwrap_err(), AlertError::NotJson(_)));
    }

    #[test]
    fn the_document_without_skymaps_keeps_external_coinc() {
        let json = MINIMAL.replace(
            "\"external_coinc\":null",
            "\"external_coinc\":{\"observatory\":\"Fermi\",\"combined_skymap\":\"AAAA\"}",
        );
        let a = alert(&json).unwrap();
        assert_eq!(a.combined_skymap(), Some("AAAA"));
        let doc = a.document_without_skymaps();
        assert_eq!(doc["external_coinc"]["observatory"], "Fermi");
        assert!(doc["external_coinc"].get("combined_skymap").is_none());
        assert!(doc["event"].get("skymap").is_none());
    }
}

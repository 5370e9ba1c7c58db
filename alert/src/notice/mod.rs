//! The GCN messages other than LVK alerts that a superevent's dossier gathers
//! (docs/contracts.md, "Kinds"): which kind a message is, the fields each
//! kind's directory uses, and where its directories go. Checked once, without
//! touching the disk, as the LVK alert is in `model`.
//!
//! Only what becomes a path (ids, names, the time of the stamp) is required: a
//! message without it is rejected. Every other field a kind uses may be absent
//! or unusable; the directory is still written and `EXTRA.missing` names it.

mod boom;
mod circular;
mod einstein_probe;
mod fields;
mod icecube;
mod swift_guano;

use chrono::{DateTime, Utc};
use std::path::PathBuf;

use gocart_shared::{Kind, Tree};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::model::{clip_text, AlertError, MAX_MESSAGE_BYTES};
use fields::Fields;

pub use circular::superevent_ids_in;
pub use swift_guano::HEALPIX_NAME;

/// The longest list of directories one message may make (a circular naming
/// many events, a BOOM alert with many targets): a hostile message cannot
/// fill the tree.
pub const MAX_DIRECTORIES: usize = 32;

/// One checked message of a kind other than `lvk`.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: Kind,
    /// The message as parsed (key order kept), for meta.yaml's `NOTICE`;
    /// GUANO's `healpix_file` is replaced by a note of what it became.
    pub document: Value,
    /// The message's own time (its `<stamp>` and the marker's `time_created`).
    pub time: DateTime<Utc>,
    pub time_text: String,
    /// The directories this message is written to, at least one.
    pub targets: Vec<Target>,
    /// What every directory's `EXTRA` holds (a target adds its own).
    pub extra: Map<String, Value>,
    /// Fields the kind uses that the message lacks (or holds unusable).
    pub missing: Vec<String>,
    /// GUANO: the HEALPix FITS file `healpix_file` decodes to.
    pub healpix: Option<Vec<u8>>,
}

/// One directory a message is written to.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub folder: Folder,
    /// The last part of the directory name (`icecube`, `circular-33603`, ...).
    pub alert_type: String,
    pub position: Option<Position>,
    /// What this directory's `EXTRA` adds (e.g. a BOOM target's name).
    pub extra: Map<String, Value>,
}

/// The folder a directory goes into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Folder {
    /// A superevent's folder (`superevents/` or `mockevents/`).
    Event(String),
    /// `circulars/<circularId>/`: a circular naming no superevent.
    Circular(String),
    /// `transients/<kind>/<id>/`.
    Transient(Kind, String),
    /// `feed/`: the heartbeat directories.
    Feed,
}

impl Folder {
    /// The id the folder is named by (the marker's `superevent_id`).
    pub fn id(&self) -> &str {
        match self {
            Folder::Event(id) | Folder::Circular(id) | Folder::Transient(_, id) => id,
            Folder::Feed => "feed",
        }
    }

    /// Where the folder is in the tree.
    pub fn path(&self, tree: &Tree) -> PathBuf {
        match self {
            Folder::Event(id) => tree.event_dir(id),
            Folder::Circular(id) => tree.circular_dir(id),
            Folder::Transient(kind, id) => tree.transient_dir(*kind, id),
            Folder::Feed => tree.feed_dir(),
        }
    }

    /// The superevent the folder belongs to, if it is one.
    pub fn superevent(&self) -> Option<&str> {
        match self {
            Folder::Event(id) => Some(id),
            _ => None,
        }
    }
}

/// A position on the sky, in degrees; `error` the radius of its error circle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    pub ra: f64,
    pub dec: f64,
    pub error: Option<f64>,
}

impl Position {
    /// A position only if it is one (finite, on the sphere); an error only if
    /// it is a positive radius below 180°.
    pub fn checked(ra: Option<f64>, dec: Option<f64>, error: Option<f64>) -> Option<Position> {
        let (ra, dec) = (ra?, dec?);
        let on_sky = (0.0..=360.0).contains(&ra) && (-90.0..=90.0).contains(&dec);
        if !on_sky {
            return None;
        }
        let error = error.filter(|e| e.is_finite() && *e > 0.0 && *e < 180.0);
        Some(Position { ra, dec, error })
    }
}

/// Which kind a message is, from its `$schema`; a message without one is an
/// LVK alert (their own fields decide), unless it has a circular's
/// `circularId`. Anything that is not a JSON object is left to the LVK
/// checks, which say what is wrong with it.
pub fn recognise(bytes: &[u8]) -> Result<Kind, AlertError> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(rename = "$schema")]
        schema: Option<Value>,
        #[serde(rename = "circularId")]
        circular_id: Option<serde::de::IgnoredAny>,
    }
    let Ok(probe) = serde_json::from_slice::<Probe>(bytes) else {
        return Ok(Kind::Lvk);
    };
    match probe.schema {
        None if probe.circular_id.is_some() => Ok(Kind::Circular),
        None => Ok(Kind::Lvk),
        Some(Value::String(url)) => kind_of_schema(&url).ok_or_else(|| {
            AlertError::field(
                "$schema",
                format!("{} is not a kind of message gocart knows", clip_text(&url)),
            )
        }),
        Some(other) => Err(AlertError::field(
            "$schema",
            format!("expected a URL, found {other}"),
        )),
    }
}

/// The kind a gcn-schema URL names (any version of the schema).
pub fn kind_of_schema(url: &str) -> Option<Kind> {
    const ENDINGS: [(&str, Kind); 5] = [
        (
            "/gcn/notices/icecube/lvk_nu_track_search.schema.json",
            Kind::Icecube,
        ),
        ("/gcn/circulars.schema.json", Kind::Circular),
        ("/gcn/notices/boom/alert.schema.json", Kind::Boom),
        (
            "/gcn/notices/einstein_probe/wxt/alert.schema.json",
            Kind::EinsteinProbe,
        ),
        ("/gcn/notices/swift/bat/Guano.schema.json", Kind::SwiftGuano),
    ];
    ENDINGS
        .iter()
        .find(|(ending, _)| url.ends_with(ending))
        .map(|(_, kind)| *kind)
}

impl Notice {
    /// Checks one message of `kind` (not `lvk`, not `heartbeat`).
    pub fn parse(kind: Kind, bytes: &[u8]) -> Result<Notice, AlertError> {
        let document = parse_object(bytes)?;
        let mut fields = Fields::new(document);
        let parsed = match kind {
            Kind::Icecube => icecube::parse(&mut fields),
            Kind::Circular => circular::parse(&mut fields),
            Kind::Boom => boom::parse(&mut fields),
            Kind::EinsteinProbe => einstein_probe::parse(&mut fields),
            Kind::SwiftGuano => swift_guano::parse(&mut fields),
            Kind::Lvk | Kind::Heartbeat => Err(AlertError::field(
                "$schema",
                format!("{kind} messages are not notices"),
            )),
        }?;
        let mut targets = parsed.targets;
        targets.dedup();
        check_directory_count(kind, targets.len())?;
        let (document, extra, missing) = fields.finish();
        Ok(Notice {
            kind,
            document,
            time: parsed.time,
            time_text: parsed.time_text,
            targets,
            extra,
            missing,
            healpix: parsed.healpix,
        })
    }

    /// The heartbeat directory `listen` writes when `gcn.heartbeat` has been
    /// silent since `silent_since` (and, once it is heard again, `back_at`).
    pub fn heartbeat(silent_since: DateTime<Utc>, back_at: Option<DateTime<Utc>>) -> Notice {
        let text = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut extra = Map::new();
        extra.insert("silent_since".into(), json!(text(silent_since)));
        if let Some(back) = back_at {
            extra.insert("back_at".into(), json!(text(back)));
        }
        let time = back_at.unwrap_or(silent_since);
        Notice {
            kind: Kind::Heartbeat,
            document: Value::Object(extra.clone()),
            time,
            time_text: text(time),
            targets: vec![Target {
                folder: Folder::Feed,
                alert_type: if back_at.is_some() { "back" } else { "silent" }.into(),
                position: None,
                extra: Map::new(),
            }],
            extra,
            missing: Vec::new(),
            healpix: None,
        }
    }

    /// `<stamp>`: the message's own time, `YYYYMMDDTHHMMSS` UTC.
    pub fn stamp(&self) -> String {
        self.time.format("%Y%m%dT%H%M%S").to_string()
    }

    /// The name of `target`'s directory: `<stamp>_<alert_type>`.
    pub fn dir_name(&self, target: &Target) -> String {
        format!("{}_{}", self.stamp(), target.alert_type)
    }

    /// meta.yaml's document for one directory: `KIND`, `NOTICE`, `EXTRA`.
    /// `event_dir_exists`: whether the linked superevent's folder held a
    /// complete LVK directory (for targets in a superevent's folder).
    pub fn meta(&self, target: &Target, event_dir_exists: Option<bool>) -> Value {
        let mut extra = Map::new();
        if let Some(id) = target.folder.superevent() {
            extra.insert("superevent_id".into(), json!(id));
            if let Some(exists) = event_dir_exists {
                extra.insert("superevent_dir_exists".into(), json!(exists));
            }
        }
        if let Some(p) = target.position {
            extra.insert("ra".into(), json!(p.ra));
            extra.insert("dec".into(), json!(p.dec));
            if let Some(error) = p.error {
                extra.insert("error".into(), json!(error));
            }
        }
        extra.extend(self.extra.clone());
        extra.extend(target.extra.clone());
        if !self.missing.is_empty() {
            extra.insert("missing".into(), json!(self.missing));
        }
        json!({"KIND": self.kind.as_str(), "NOTICE": self.document, "EXTRA": extra})
    }
}

/// A message naming more directories than [`MAX_DIRECTORIES`] is refused
/// whole, whatever its kind: writing the first 32 and dropping the rest
/// would lose them silently. The reason names the field the list comes from.
fn check_directory_count(kind: Kind, count: usize) -> Result<(), AlertError> {
    if count <= MAX_DIRECTORIES {
        return Ok(());
    }
    let field = match kind {
        Kind::Circular => "eventId/subject",
        Kind::Boom => "data.targets",
        _ => "targets",
    };
    let what = match kind {
        Kind::Circular => "superevents named",
        Kind::Boom => "(target, superevent) pairs",
        _ => "directories",
    };
    Err(AlertError::field(
        field,
        format!("{count} {what}: more than the {MAX_DIRECTORIES} directories one message may make"),
    ))
}

/// What a kind's parser finds besides the fields it records.
struct Parsed {
    time: DateTime<Utc>,
    time_text: String,
    targets: Vec<Target>,
    healpix: Option<Vec<u8>>,
}

fn parse_object(bytes: &[u8]) -> Result<Value, AlertError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(AlertError::TooLarge {
            size: bytes.len(),
            limit: MAX_MESSAGE_BYTES,
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(AlertError::Empty);
    }
    let document: Value = serde_json::from_slice(bytes)
        .map_err(|e| AlertError::NotJson(clip_text(&e.to_string())))?;
    if document.is_object() {
        Ok(document)
    } else {
        Err(AlertError::NotJson("expected a JSON object".into()))
    }
}

/// A superevent id as GCN spells them: `S` (or `MS` for mocks), six digits
/// (the date), one to three lower-case letters.
pub fn is_superevent_id(text: &str) -> bool {
    let rest = text.strip_prefix('M').unwrap_or(text);
    let Some(rest) = rest.strip_prefix('S') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let letters = &rest[digits..];
    digits == 6
        && (1..=3).contains(&letters.len())
        && letters.bytes().all(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests;

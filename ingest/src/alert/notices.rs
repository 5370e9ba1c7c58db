//! The path a message of another kind than `lvk` takes (docs/contracts.md,
//! "Kinds"): checked once, then one directory per target, each staged, sealed
//! by its marker and published as an LVK alert's directory is. A message with
//! several directories (a circular naming two events) is settled only when
//! all of them are: if one fails, the message is tried again, and the ones
//! already written are found unchanged.

use gocart_shared::marker::Source;
use gocart_shared::Kind;

use super::notice::{recognise, Folder, Notice, Target};
use super::{Failure, Message, Outcome, Pipeline};
use crate::writer::{Published, Staging};

/// The kind of a message: its topic's on Kafka, else what its content says.
pub fn kind_of(message: &Message) -> Result<Kind, String> {
    if let Source::Kafka { topic, .. } = &message.source {
        if let Some(kind) = Kind::of_topic(topic) {
            return Ok(kind);
        }
    }
    recognise(&message.bytes).map_err(|e| e.to_string())
}

impl Pipeline {
    /// Checks, selects and writes one notice.
    pub(super) fn run_notice(
        &self,
        kind: Kind,
        message: &Message,
        lines: &mut Vec<String>,
    ) -> Outcome {
        let notice = match Notice::parse(kind, &message.bytes) {
            Ok(notice) => notice,
            Err(e) => return self.reject(message, &format!("{kind}: {e}")),
        };
        self.write_notice(&notice, message, lines)
    }

    /// Writes every directory of `notice` that the settings select.
    pub fn write_notice(
        &self,
        notice: &Notice,
        message: &Message,
        lines: &mut Vec<String>,
    ) -> Outcome {
        lines.push(summary(notice));
        let (wanted, unwanted): (Vec<&Target>, Vec<&Target>) =
            notice.targets.iter().partition(|t| self.wants(t));
        if wanted.is_empty() {
            return Outcome::Skipped(match unwanted.first().and_then(|t| t.folder.superevent()) {
                Some(id) if id.starts_with('M') => {
                    "mock events are not wanted (lvk.parse_mock_events is false)".into()
                }
                _ => "real events are not wanted (lvk.parse_real_events is false)".into(),
            });
        }
        let mut written = Vec::new();
        for target in wanted {
            let path = target.folder.path(&self.tree).join(notice.dir_name(target));
            match self.write_target(notice, target, message) {
                Ok(published) => written.push(published),
                Err(Failure::Invalid(reason)) => {
                    return self.reject(message, &format!("{}: {reason}", notice.kind))
                }
                Err(Failure::Io(what, e)) => {
                    return Outcome::Failed(format!("{what} for {}: {e}", path.display()))
                }
            }
        }
        for also in written.iter().skip(1) {
            lines.push(format!("ALSO {}", outcome_of(also.clone()).describe()));
        }
        combined(written)
    }

    /// Whether the settings want this directory (`parse_mock_events` and
    /// `parse_real_events` apply to the ones in a superevent's folder).
    fn wants(&self, target: &Target) -> bool {
        match target.folder.superevent() {
            Some(id) if id.starts_with('M') => self.settings.lvk.parse_mock_events,
            Some(_) => self.settings.lvk.parse_real_events,
            None => true,
        }
    }

    fn write_target(
        &self,
        notice: &Notice,
        target: &Target,
        message: &Message,
    ) -> Result<Published, Failure> {
        let dir_name = notice.dir_name(target);
        let label = format!("{}_{dir_name}", target.folder.id());
        let mut staging = Staging::create(&self.tree, &label)
            .map_err(Failure::io("cannot create a staging directory"))?;
        staging
            .write("notice.json", &message.bytes)
            .map_err(Failure::io("cannot write notice.json"))?;
        let draw = self.settings.lvk.aitoff.convert;
        let map = super::notice_maps::stage(notice, target, &mut staging, draw)?;
        let exists = match &target.folder {
            Folder::Event(id) => Some(self.tree.event_has_complete_alert(id)),
            _ => None,
        };
        let yaml = super::meta::to_yaml(&notice.meta(target, exists)).map_err(Failure::Invalid)?;
        staging
            .write("meta.yaml", yaml.as_bytes())
            .map_err(Failure::io("cannot write meta.yaml"))?;
        if let (Some(map), true) = (map, draw) {
            super::notice_maps::render(notice, target, &map, &self.settings.lvk.aitoff)
                .and_then(|png| staging.write("skymap.png", &png))
                .map_err(Failure::io("cannot write skymap.png"))?;
        }
        let seal = super::Seal {
            kind: notice.kind,
            id: target.folder.id(),
            alert_type: &target.alert_type,
            time_created: &notice.time_text,
            target: target.folder.path(&self.tree).join(dir_name),
        };
        self.seal(seal, message, staging)
    }
}

/// The line that says what the notice is and where it goes.
fn summary(notice: &Notice) -> String {
    let places: Vec<String> = notice
        .targets
        .iter()
        .map(|t| format!("{}/{}", t.folder.id(), notice.dir_name(t)))
        .collect();
    let mut line = format!("NOTICE: {} -> {}", notice.kind, places.join(", "));
    if !notice.missing.is_empty() {
        line.push_str(&format!(" (missing: {})", notice.missing.join(", ")));
    }
    line
}

fn outcome_of(published: Published) -> Outcome {
    match published {
        Published::Written(dir) => Outcome::Written(dir),
        Published::Replaced(dir) => Outcome::Replaced(dir),
        Published::Unchanged(dir) => Outcome::Unchanged(dir),
    }
}

/// One outcome for a message written to several directories: the first
/// directory's, unless another changed more (a redelivery is unchanged only
/// if all are).
fn combined(written: Vec<Published>) -> Outcome {
    let Some(first) = written.first().cloned().map(outcome_of) else {
        return Outcome::Skipped("no directory to write".into());
    };
    let changed = written
        .iter()
        .find(|p| !matches!(p, Published::Unchanged(_)));
    match (&first, changed) {
        (Outcome::Unchanged(_), Some(p)) => outcome_of(p.clone()),
        _ => first,
    }
}

//! The path every alert takes, whatever its source (Kafka, a file, a mock):
//! check the message, select mock/real, print the summary, stage and check its
//! sky maps, apply the filters and the RETRACTION rule, write the outputs, and
//! publish the directory atomically with its marker. A message of another
//! kind (an IceCube search, a circular...: docs/contracts.md, "Kinds") takes
//! its own path (`notices`) to the same staging, marker and publish.
//!
//! Each step's failure has one meaning: the alert is *rejected* (malformed: kept
//! under `.rejected/`, never retried), *skipped* (deliberately not written), or
//! the run *failed* (our I/O, e.g. a full disk: nothing is published and the
//! alert can be tried again).

pub mod filter;
pub mod maps;
mod notice_maps;
pub mod notices;
pub mod pool;
pub mod tally;

pub use gocart_alert::{clip_text, Alert, AlertError, Event, ExternalCoinc, MAX_MESSAGE_BYTES};
pub use gocart_alert::{meta, model, names, notice, report};

use std::io::Write;
use std::path::PathBuf;

use gocart_shared::marker::{sha256_hex, Source};
use gocart_shared::text::{escape_control, Escaped};
use gocart_shared::{Marker, Settings, Tree};

use crate::render;
use crate::skymap::products::credible::Ranking;
use crate::skymap::{flatten, Stats};
use crate::writer::{keep_rejected, publish, Published, Staging};

/// One message as received, and where it came from.
#[derive(Debug, Clone)]
pub struct Message {
    pub bytes: Vec<u8>,
    pub source: Source,
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Written(PathBuf),
    Replaced(PathBuf),
    /// Already complete with the same message: the tree was left untouched.
    Unchanged(PathBuf),
    Skipped(String),
    Rejected {
        reason: String,
        kept: PathBuf,
    },
    /// Not the message's fault (disk full, permissions): nothing was published.
    Failed(String),
}

impl Outcome {
    /// The line printed after the summary.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Written(dir) => format!("WRITTEN: {}", dir.display()),
            Outcome::Replaced(dir) => format!(
                "REPLACED: {} (a changed alert with the same name)",
                dir.display()
            ),
            Outcome::Unchanged(dir) => {
                format!("UNCHANGED: {} is already complete", dir.display())
            }
            Outcome::Skipped(why) => format!("SKIPPED: {why}"),
            Outcome::Rejected { reason, kept } => {
                format!("REJECTED: {reason} (message kept in {})", kept.display())
            }
            Outcome::Failed(why) => format!("FAILED: {why}"),
        }
    }

    /// The line printed after the summary, ending with the file the message
    /// came from: among many imported files, each line says which one it is
    /// about (the line still starts with its verdict, for eyes and scripts).
    ///
    /// `reason_logged`: the log's error line, which says why, is read in the
    /// same place as this report (one terminal, one journal). A rejection or
    /// failure then says only its verdict and where the message is kept: the
    /// operator reads the reason once, in the line that is an error.
    pub fn describe_for(&self, source: &Source, reason_logged: bool) -> String {
        let line = match self {
            Outcome::Rejected { kept, .. } if reason_logged => format!(
                "REJECTED: message kept in {}; the reason is in the error below",
                kept.display()
            ),
            Outcome::Failed(_) if reason_logged => {
                "FAILED: not written; the reason is in the error below".into()
            }
            _ => self.describe(),
        };
        match source {
            Source::File { file } if file.as_os_str() == "-" => {
                format!("{line} (from standard input)")
            }
            Source::File { file } => format!("{line} (from {})", Escaped(&file.to_string_lossy())),
            _ => line,
        }
    }

    /// Whether the alert is settled (its Kafka offset may be committed).
    pub fn is_settled(&self) -> bool {
        !matches!(self, Outcome::Failed(_))
    }
}

/// The ingest pipeline for one settings file.
pub struct Pipeline {
    settings: Settings,
    tree: Tree,
    /// The settings' sites, as the observability of every map takes them.
    sites: Vec<crate::skymap::products::observability::Site>,
    /// The log (stderr) and the reports (stdout) go to the same place.
    log_shares_stdout: bool,
}

impl Pipeline {
    pub fn new(settings: Settings) -> Pipeline {
        let tree = Tree::new(settings.lvk.download_dir.clone());
        let sites = maps::sites(&settings.sites);
        Pipeline {
            settings,
            tree,
            sites,
            log_shares_stdout: gocart_shared::logging::log_shares_stdout(),
        }
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// Processes one message, printing its report to `out` and logging a
    /// rejection or failure.
    pub fn ingest(&self, message: &Message, out: &mut dyn Write) -> Outcome {
        let outcome = self.ingest_unlogged(message, out, true);
        self.log_outcome(message, &outcome);
        outcome
    }

    /// As `ingest`, but logs nothing. `will_log`: the caller logs the
    /// outcome (`log_outcome`), so the report may leave the reason to the
    /// log; false for another try of an alert whose failure was logged
    /// already (one line per outage, not per try).
    pub fn ingest_unlogged(
        &self,
        message: &Message,
        out: &mut dyn Write,
        will_log: bool,
    ) -> Outcome {
        let mut lines = Vec::new();
        let outcome = self.run(message, &mut lines);
        lines.push(outcome.describe_for(&message.source, will_log && self.reason_logged()));
        write_report(out, &lines);
        outcome
    }

    /// Whether an error logged now is read beside the report on stdout.
    pub fn reason_logged(&self) -> bool {
        self.log_shares_stdout && tracing::enabled!(tracing::Level::ERROR)
    }

    /// Logs a rejection or a failure.
    pub fn log_outcome(&self, message: &Message, outcome: &Outcome) {
        match outcome {
            Outcome::Rejected { reason, .. } => {
                tracing::error!(source = %describe_source(&message.source), "rejected alert: {reason}")
            }
            Outcome::Failed(why) => {
                tracing::error!(source = %describe_source(&message.source), "alert not written: {why}")
            }
            _ => {}
        }
    }

    fn run(&self, message: &Message, lines: &mut Vec<String>) -> Outcome {
        match notices::kind_of(message) {
            Ok(gocart_shared::Kind::Lvk) => {}
            Ok(kind) => return self.run_notice(kind, message, lines),
            Err(reason) => return self.reject(message, &reason),
        }
        let alert = match Alert::parse(&message.bytes) {
            Ok(alert) => alert,
            Err(e) => return self.reject(message, &e.to_string()),
        };
        if let Some(why) = self.not_selected(&alert) {
            lines.push(format!(
                "EVENT: {} ({})",
                alert.superevent_id, alert.alert_type
            ));
            return Outcome::Skipped(why);
        }
        lines.extend(report::summary(&alert));
        match self.write(&alert, message, lines) {
            Ok(outcome) => outcome,
            Err(Failure::Invalid(reason)) => {
                self.reject(message, &format!("{}: {reason}", alert.superevent_id))
            }
            // What failed, for which alert directory (so on which disk), and why.
            Err(Failure::Io(what, e)) => Outcome::Failed(format!(
                "{what} for {}: {e}",
                self.tree
                    .alert_dir(&alert.superevent_id, &alert.dir_name())
                    .display()
            )),
        }
    }

    fn not_selected(&self, alert: &Alert) -> Option<String> {
        let lvk = &self.settings.lvk;
        if alert.is_mock() && !lvk.parse_mock_events {
            Some("mock alerts are not wanted (lvk.parse_mock_events is false)".into())
        } else if !alert.is_mock() && !lvk.parse_real_events {
            Some("real alerts are not wanted (lvk.parse_real_events is false)".into())
        } else {
            None
        }
    }

    fn write(
        &self,
        alert: &Alert,
        message: &Message,
        lines: &mut Vec<String>,
    ) -> Result<Outcome, Failure> {
        let label = format!("{}_{}", alert.superevent_id, alert.dir_name());
        let mut staging = Staging::create(&self.tree, &label)
            .map_err(Failure::io("cannot create a staging directory"))?;
        let staged = maps::stage(alert, &mut staging).map_err(|e| match e {
            maps::MapError::Invalid(reason) => Failure::Invalid(reason),
            maps::MapError::Io(e) => Failure::Io("cannot write the sky map".into(), e),
        })?;
        let map = staged.event.as_ref().map(|s| &s.map);
        // One ranking of the event map for its areas and its products.
        let ranking = map.map(Ranking::new);
        let stats = map
            .zip(ranking.as_ref())
            .map(|(m, r)| Stats::from_ranking(m, r));

        let facts = filter::Facts {
            alert,
            map,
            stats: stats.as_ref(),
            tree: &self.tree,
        };
        let verdicts = filter::evaluate(&self.settings.lvk.filters, &facts);
        lines.extend(verdicts.iter().map(filter::Verdict::describe));
        if !filter::admits(&verdicts) {
            return Ok(Outcome::Skipped(
                "the alert passes none of the filters".into(),
            ));
        }
        if alert.is_retraction() && !self.tree.event_has_complete_alert(&alert.superevent_id) {
            return Ok(Outcome::Skipped(format!(
                "RETRACTION of {}, of which no alert was written before",
                alert.superevent_id
            )));
        }
        let observing = maps::Observing {
            sites: &self.sites,
            from: alert.time_created,
        };
        // The products and the CSV are the two costly steps and need only
        // the map: one on each core.
        let (products, csv) = std::thread::scope(|scope| {
            let products =
                scope.spawn(|| maps::compute_products(&staged, ranking.as_ref(), &observing));
            let csv = self.write_csv(alert, staged.event.as_ref(), &mut staging);
            let products = products
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (products, csv)
        });
        csv?;
        maps::write_products(&products, &mut staging)
            .map_err(Failure::io("cannot write the credible-region MOCs"))?;
        self.write_outputs(
            alert,
            message,
            (staged.event.as_ref(), &products),
            stats.as_ref(),
            &mut staging,
        )?;
        self.publish(alert, message, staging)
    }

    /// `skymap.csv`, the event map flattened, when the settings want it.
    fn write_csv(
        &self,
        alert: &Alert,
        staged: Option<&maps::StagedMap>,
        staging: &mut Staging,
    ) -> Result<(), Failure> {
        let ascii = &self.settings.lvk.ascii_map;
        if let (Some(staged), true) = (staged, ascii.convert) {
            staging
                .write_with("skymap.csv", |out| {
                    flatten::write_csv(&staged.map, ascii.nside, &alert.superevent_id, out)
                })
                .map_err(Failure::io("cannot write skymap.csv"))?;
        }
        Ok(())
    }

    /// What follows the maps, their products and the CSV, in the order
    /// plugins list them.
    fn write_outputs(
        &self,
        alert: &Alert,
        message: &Message,
        (staged, products): (Option<&maps::StagedMap>, &maps::MapProducts),
        stats: Option<&Stats>,
        staging: &mut Staging,
    ) -> Result<(), Failure> {
        let lvk = &self.settings.lvk;
        let mut document = meta::document(alert, staged.map(|s| &s.map), stats);
        let combined = products.combined.as_ref().map(|(s, p)| (s, p));
        meta::add_products(&mut document, products.event.as_ref(), combined);
        let yaml = meta::to_yaml(&document).map_err(Failure::Invalid)?;
        staging
            .write("meta.yaml", yaml.as_bytes())
            .map_err(Failure::io("cannot write meta.yaml"))?;
        if let (Some(staged), Some(stats), true) = (staged, stats, lvk.aitoff.convert) {
            let sites = products
                .event
                .as_ref()
                .map_or(&[][..], |p| &p.observability);
            render::render_png(alert, &staged.map, stats, &lvk.aitoff, sites)
                .and_then(|png| staging.write("skymap.png", &png))
                .map_err(Failure::io("cannot write skymap.png"))?;
        }
        if lvk.json {
            let name = format!(
                "{}-{}.json",
                alert.superevent_id,
                alert.alert_type.to_lowercase()
            );
            // The message exactly as received: no rounding, nothing dropped.
            staging
                .write(&name, &message.bytes)
                .map_err(Failure::io("cannot write the alert JSON"))?;
        }
        Ok(())
    }

    fn publish(
        &self,
        alert: &Alert,
        message: &Message,
        staging: Staging,
    ) -> Result<Outcome, Failure> {
        let seal = Seal {
            kind: gocart_shared::Kind::Lvk,
            id: &alert.superevent_id,
            alert_type: &alert.alert_type,
            time_created: &alert.time_created_text,
            target: self.tree.alert_dir(&alert.superevent_id, &alert.dir_name()),
        };
        Ok(match self.seal(seal, message, staging)? {
            Published::Written(dir) => Outcome::Written(dir),
            Published::Replaced(dir) => Outcome::Replaced(dir),
            Published::Unchanged(dir) => Outcome::Unchanged(dir),
        })
    }

    /// Writes the marker into a staged directory and publishes it.
    fn seal(&self, seal: Seal, message: &Message, staging: Staging) -> Result<Published, Failure> {
        let message_sha256 = sha256_hex(&message.bytes);
        let marker = Marker {
            kind: seal.kind,
            superevent_id: seal.id.to_string(),
            alert_type: seal.alert_type.to_string(),
            time_created: seal.time_created.to_string(),
            source: message.source.clone(),
            written_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            message_sha256: message_sha256.clone(),
            files: staging.files().to_vec(),
        };
        let staged = staging
            .complete(&marker)
            .map_err(Failure::io("cannot write the marker"))?;
        publish(&staged, &seal.target, &message_sha256).map_err(|e| {
            let _ = std::fs::remove_dir_all(&staged);
            Failure::Io("cannot move the alert into place".into(), e)
        })
    }

    fn reject(&self, message: &Message, reason: &str) -> Outcome {
        // Printed, logged and kept: never a megabyte of a hostile value, and
        // never its escape sequences.
        let reason = &escape_control(&clip_text(reason)).into_owned();
        match keep_rejected(
            &self.tree,
            &message.bytes,
            reason,
            &describe_source(&message.source),
        ) {
            Ok(kept) => Outcome::Rejected {
                reason: reason.to_string(),
                kept,
            },
            Err(e) => Outcome::Failed(format!(
                "{reason}; and it could not be kept in .rejected: {e}"
            )),
        }
    }
}

/// One message's report as the original framed it, between two rules.
/// Its lines carry the message's own words (a classification key, the
/// group, a quoted value): each is escaped, so a line is one line and a
/// terminal sequence is shown, not obeyed.
pub fn write_report(out: &mut dyn Write, lines: &[String]) {
    let _ = writeln!(out, "----------------------------------------");
    for line in lines {
        let _ = writeln!(out, "{}", Escaped(line));
    }
    let _ = writeln!(out, "----------------------------------------\n");
}

/// What the marker of a directory says about it, and where it goes.
struct Seal<'a> {
    kind: gocart_shared::Kind,
    /// The id the directory's folder is named by.
    id: &'a str,
    alert_type: &'a str,
    time_created: &'a str,
    target: PathBuf,
}

/// Why writing an alert stopped.
enum Failure {
    /// The alert is malformed.
    Invalid(String),
    /// Our I/O failed.
    Io(String, std::io::Error),
}

impl Failure {
    fn io(what: &str) -> impl Fn(std::io::Error) -> Failure + '_ {
        move |e| Failure::Io(what.to_string(), e)
    }
}

/// A source as people read it: a path, `topic[partition]@offset`, or a mock seed.
pub fn describe_source(source: &Source) -> String {
    match source {
        Source::File { file } => escape_control(&file.to_string_lossy()).into_owned(),
        Source::Kafka {
            topic,
            partition,
            offset,
        } => format!("{topic}[{partition}]@{offset}"),
        Source::Mock { mock } => format!("mock seed {mock}"),
    }
}

//! The user's `lvk.filters`: an alert is written if it passes at least one filter
//! (or there are none); it passes a filter if it meets every criterion in it.
//!
//! As in the original, a criterion whose field the alert lacks (a retraction has
//! no FAR) does not fail, and a criterion we do not know always fails. A
//! criterion compares the value the user sees (area90 as meta.yaml shows it),
//! and its reason prints exactly the value compared.

use gocart_shared::settings::{Criterion, Filter};
use gocart_shared::Tree;

use super::Alert;

use crate::skymap::stats::round_area;
use crate::skymap::{SkyMap, Stats};

/// What a filter needs to know about an alert beyond the message itself.
pub struct Facts<'a> {
    pub alert: &'a Alert,
    pub map: Option<&'a SkyMap>,
    pub stats: Option<&'a Stats>,
    pub tree: &'a Tree,
}

/// One filter's verdict, with the reason for each criterion that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub name: String,
    pub failures: Vec<String>,
}

impl Verdict {
    pub fn passes(&self) -> bool {
        self.failures.is_empty()
    }

    /// The original's wording.
    pub fn describe(&self) -> String {
        if self.passes() {
            format!("The alert passes the {} filter", self.name)
        } else {
            format!(
                "The alert fails the {} filter. {}.",
                self.name,
                self.failures.join(" and ")
            )
        }
    }
}

/// Every filter's verdict, in the order of the settings.
pub fn evaluate(filters: &[Filter], facts: &Facts) -> Vec<Verdict> {
    filters
        .iter()
        .map(|filter| Verdict {
            name: filter.name.clone(),
            failures: criteria(filter)
                .iter()
                .filter_map(|criterion| failure(criterion, facts))
                .collect(),
        })
        .collect()
}

/// A filter's criteria, with `burst: false` when it does not say: burst
/// alerts pass only the filters that ask for them (as in the original).
fn criteria(filter: &Filter) -> Vec<Criterion> {
    let mut criteria = filter.criteria.clone();
    if !criteria.iter().any(|c| matches!(c, Criterion::Burst(_))) {
        criteria.push(Criterion::Burst(false));
    }
    criteria
}

/// Whether the verdicts let the alert through.
pub fn admits(verdicts: &[Verdict]) -> bool {
    verdicts.is_empty() || verdicts.iter().any(Verdict::passes)
}

/// Why `criterion` fails, or `None` if it passes (or cannot be judged).
fn failure(criterion: &Criterion, facts: &Facts) -> Option<String> {
    let event = facts.alert.event.as_ref();
    match criterion {
        Criterion::AlertTypes(types) => {
            let t = facts.alert.alert_type.to_lowercase();
            (!types.contains(&t)).then(|| format!("Alert type is {t}"))
        }
        Criterion::NsLower(min) => {
            let e = event?;
            if e.classification.is_empty() {
                return None;
            }
            let ns =
                e.classification("BNS").unwrap_or(0.0) + e.classification("NSBH").unwrap_or(0.0);
            // 0.7 + 0.1 is 0.7999999999999999 in floating point: the sum a
            // person would write (and is shown) is the one compared.
            let shown = (ns * 1e10).round() / 1e10;
            (shown < *min).then(|| format!("BNS+NSBH = {shown} (< {min})"))
        }
        Criterion::FarUpper(max) => {
            let far = event?.far?;
            (far >= *max).then(|| format!("FAR = {far} (>= {max})"))
        }
        Criterion::DistUpper(max) => {
            let dist = facts.map?.card("DISTMEAN")?.as_f64()?;
            (dist >= *max).then(|| format!("DISTMEAN = {dist} (>= {max})"))
        }
        Criterion::Area90Upper(max) => {
            // The value meta.yaml shows (and the original compared), so a
            // threshold copied from meta.yaml means what it says.
            let area = round_area(facts.stats?.area90);
            (area >= *max).then(|| format!("area90 = {area} (>= {max})"))
        }
        Criterion::HasNsLower(min) => property_at_least(event?.property("HasNS")?, *min, "HasNS"),
        Criterion::HasRemnantLower(min) => {
            property_at_least(event?.property("HasRemnant")?, *min, "HasRemnant")
        }
        Criterion::EventDirExists(wanted) => {
            let exists = facts.tree.event_has_other_complete_alert(
                &facts.alert.superevent_id,
                &facts.alert.dir_name(),
            );
            match (wanted, exists) {
                (true, false) => {
                    Some("The event has not previously passed the filtering criteria".into())
                }
                (false, true) => Some("The event has already been written".into()),
                _ => None,
            }
        }
        Criterion::Burst(wanted) => {
            let burst = event?.is_burst();
            match (wanted, burst) {
                (false, true) => Some("This is a burst event".into()),
                (true, false) => Some("This is not a burst event".into()),
                _ => None,
            }
        }
        Criterion::Significant(wanted) => {
            let significant = event?.significant?;
            (significant != *wanted).then(|| format!("Significant is {significant}"))
        }
        Criterion::Unknown(key) => Some(format!("Unrecognised filtering criterion '{key}'")),
    }
}

fn property_at_least(value: f64, min: f64, name: &str) -> Option<String> {
    (value < min).then(|| format!("{name} = {value} (< {min})"))
}

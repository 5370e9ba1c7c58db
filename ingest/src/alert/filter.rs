//! The user's `lvk.filters` on an LVK alert about to be written: the facts a
//! filter looks at, taken from the message, its sky map and the tree. What
//! the criteria mean (and how a verdict is worded) is the one evaluator both
//! programs use, `gocart_shared::filter`.

use gocart_shared::settings::Filter;
use gocart_shared::Tree;

use super::Alert;

use crate::skymap::stats::round_area;
use crate::skymap::{SkyMap, Stats};

pub use gocart_shared::filter::{admits, Verdict};

/// What a filter needs to know about an alert beyond the message itself.
pub struct Facts<'a> {
    pub alert: &'a Alert,
    pub map: Option<&'a SkyMap>,
    pub stats: Option<&'a Stats>,
    pub tree: &'a Tree,
}

/// Every filter's verdict, in the order of the settings.
pub fn evaluate(filters: &[Filter], facts: &Facts) -> Vec<Verdict> {
    if filters.is_empty() {
        return Vec::new();
    }
    gocart_shared::filter::evaluate(filters, &facts.judged())
}

impl Facts<'_> {
    /// The values the criteria compare, as the user sees them in meta.yaml.
    fn judged(&self) -> gocart_shared::filter::Facts {
        let event = self.alert.event.as_ref();
        gocart_shared::filter::Facts {
            alert_type: Some(self.alert.alert_type.clone()),
            ns: event.filter(|e| !e.classification.is_empty()).map(|e| {
                e.classification("BNS").unwrap_or(0.0) + e.classification("NSBH").unwrap_or(0.0)
            }),
            far: event.and_then(|e| e.far),
            dist: self
                .map
                .and_then(|m| m.card("DISTMEAN"))
                .and_then(|c| c.as_f64()),
            // The value meta.yaml shows (and the original compared), so a
            // threshold copied from meta.yaml means what it says.
            area90: self.stats.map(|s| round_area(s.area90)),
            hasns: event.and_then(|e| e.property("HasNS")),
            hasremnant: event.and_then(|e| e.property("HasRemnant")),
            event_dir_exists: Some(
                self.tree.event_has_other_complete_alert(
                    &self.alert.superevent_id,
                    &self.alert.dir_name(),
                ),
            ),
            burst: event.map(|e| e.is_burst()),
            significant: event.and_then(|e| e.significant),
            pval_bayesian: None,
            pval_generic: None,
        }
    }
}

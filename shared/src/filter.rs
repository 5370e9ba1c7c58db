//! The filter language's meaning, one evaluator for both programs: the ingester
//! judges an alert by `lvk.filters` before writing it, the trigger judges a
//! directory by a plugin's `trigger.plugins.<name>.filters` before running it
//! (docs/contracts.md, "Per-plugin settings"). Each builds the [`Facts`] from
//! what it has (the message, or the directory's meta.yaml); the verdict and
//! its wording are the same.
//!
//! A directory passes the filters if it passes at least one (or there are
//! none); it passes a filter if it meets every criterion in it. As in the
//! original, a criterion whose fact is absent (a retraction has no FAR, an
//! IceCube notice no area90) does not fail, and a criterion we do not know
//! always fails. A criterion compares the value the user sees (area90 as
//! meta.yaml shows it), and its reason prints exactly the value compared.

use crate::settings::{Criterion, Filter};
use crate::text::Escaped;

/// What a filter may look at; `None` where the alert or directory lacks it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// The alert type (LVK), or the GUANO notice's; compared lower-cased.
    pub alert_type: Option<String>,
    /// Classification BNS + NSBH (absent when there is no classification).
    pub ns: Option<f64>,
    /// False-alarm rate in Hz.
    pub far: Option<f64>,
    /// The map header's DISTMEAN, Mpc.
    pub dist: Option<f64>,
    /// area90 as meta.yaml writes it, deg².
    pub area90: Option<f64>,
    pub hasns: Option<f64>,
    pub hasremnant: Option<f64>,
    /// Whether the event already has (another) complete LVK directory.
    pub event_dir_exists: Option<bool>,
    /// Whether the alert is from the burst group.
    pub burst: Option<bool>,
    pub significant: Option<bool>,
    /// IceCube's coincidence p-values.
    pub pval_bayesian: Option<f64>,
    pub pval_generic: Option<f64>,
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

/// One filter's verdict on `facts`.
pub fn verdict(filter: &Filter, facts: &Facts) -> Verdict {
    Verdict {
        name: filter.name.clone(),
        failures: criteria(filter)
            .iter()
            .filter_map(|criterion| failure(criterion, facts))
            .collect(),
    }
}

/// Every filter's verdict, in the order of the settings.
pub fn evaluate(filters: &[Filter], facts: &Facts) -> Vec<Verdict> {
    filters.iter().map(|f| verdict(f, facts)).collect()
}

/// Whether the verdicts let the alert through.
pub fn admits(verdicts: &[Verdict]) -> bool {
    verdicts.is_empty() || verdicts.iter().any(Verdict::passes)
}

/// Why the filters reject `facts`, in the original's words (every filter's
/// verdict), or `None` if they let it through.
pub fn rejection(filters: &[Filter], facts: &Facts) -> Option<String> {
    let verdicts = evaluate(filters, facts);
    if admits(&verdicts) {
        return None;
    }
    let said: Vec<String> = verdicts.iter().map(Verdict::describe).collect();
    Some(format!("passes none of its filters: {}", said.join(" ")))
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

/// Why `criterion` fails, or `None` if it passes (or cannot be judged).
fn failure(criterion: &Criterion, facts: &Facts) -> Option<String> {
    match criterion {
        Criterion::AlertTypes(types) => {
            let t = facts.alert_type.as_ref()?.to_lowercase();
            // The type is the message's (or meta.yaml's): printed, so escaped.
            (!types.contains(&t)).then(|| format!("Alert type is {}", Escaped(&t)))
        }
        Criterion::NsLower(min) => {
            // 0.7 + 0.1 is 0.7999999999999999 in floating point: the sum a
            // person would write (and is shown) is the one compared.
            let shown = (facts.ns? * 1e10).round() / 1e10;
            (shown < *min).then(|| format!("BNS+NSBH = {shown} (< {min})"))
        }
        Criterion::FarUpper(max) => below(facts.far?, *max, "FAR"),
        Criterion::DistUpper(max) => below(facts.dist?, *max, "DISTMEAN"),
        Criterion::Area90Upper(max) => below(facts.area90?, *max, "area90"),
        Criterion::HasNsLower(min) => at_least(facts.hasns?, *min, "HasNS"),
        Criterion::HasRemnantLower(min) => at_least(facts.hasremnant?, *min, "HasRemnant"),
        Criterion::EventDirExists(wanted) => match (wanted, facts.event_dir_exists?) {
            (true, false) => {
                Some("The event has not previously passed the filtering criteria".into())
            }
            (false, true) => Some("The event has already been written".into()),
            _ => None,
        },
        Criterion::Burst(wanted) => match (wanted, facts.burst?) {
            (false, true) => Some("This is a burst event".into()),
            (true, false) => Some("This is not a burst event".into()),
            _ => None,
        },
        Criterion::Significant(wanted) => {
            let significant = facts.significant?;
            (significant != *wanted).then(|| format!("Significant is {significant}"))
        }
        Criterion::PvalBayesianUpper(max) => below(facts.pval_bayesian?, *max, "pval_bayesian"),
        Criterion::PvalGenericUpper(max) => below(facts.pval_generic?, *max, "pval_generic"),
        Criterion::Unknown(key) => Some(format!("Unrecognised filtering criterion '{key}'")),
    }
}

/// An upper bound: the value must be below it.
fn below(value: f64, max: f64, name: &str) -> Option<String> {
    (value >= max).then(|| format!("{name} = {value} (>= {max})"))
}

/// A lower bound: the value must reach it.
fn at_least(value: f64, min: f64, name: &str) -> Option<String> {
    (value < min).then(|| format!("{name} = {value} (< {min})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(criteria: Vec<Criterion>) -> Filter {
        Filter {
            name: "f".into(),
            criteria,
        }
    }

    #[test]
    fn an_absent_fact_passes_and_an_unknown_criterion_fails() {
        let icecube = Facts {
            pval_bayesian: Some(0.05),
            ..Facts::default()
        };
        let lvk_only = filter(vec![
            Criterion::FarUpper(1e-8),
            Criterion::AlertTypes(vec!["initial".into()]),
            Criterion::NsLower(0.5),
            Criterion::Significant(true),
        ]);
        assert!(verdict(&lvk_only, &icecube).passes());
        let unknown = filter(vec![Criterion::Unknown("colour".into())]);
        assert_eq!(
            verdict(&unknown, &icecube).describe(),
            "The alert fails the f filter. Unrecognised filtering criterion 'colour'."
        );
    }

    #[test]
    fn p_values_are_upper_bounds() {
        let facts = Facts {
            pval_bayesian: Some(0.3),
            pval_generic: Some(0.01),
            ..Facts::default()
        };
        let strict = filter(vec![Criterion::PvalBayesianUpper(0.1)]);
        assert_eq!(
            verdict(&strict, &facts).describe(),
            "The alert fails the f filter. pval_bayesian = 0.3 (>= 0.1)."
        );
        assert!(verdict(&filter(vec![Criterion::PvalGenericUpper(0.1)]), &facts).passes());
        assert!(verdict(&filter(vec![Criterion::PvalBayesianUpper(0.31)]), &facts).passes());
    }

    #[test]
    fn the_rejection_says_every_verdict_and_none_means_through() {
        let facts = Facts {
            far: Some(1e-3),
            alert_type: Some("INITIAL".into()),
            ..Facts::default()
        };
        let filters = [
            filter(vec![Criterion::FarUpper(1e-6)]),
            Filter {
                name: "types".into(),
                criteria: vec![Criterion::AlertTypes(vec!["update".into()])],
            },
        ];
        assert_eq!(
            rejection(&filters, &facts).as_deref(),
            Some("passes none of its filters: The alert fails the f filter. FAR = 0.001 (>= 0.000001). The alert fails the types filter. Alert type is initial.")
        );
        assert_eq!(rejection(&[], &facts), None);
        assert_eq!(rejection(&filters[1..], &Facts::default()), None);
    }

    #[test]
    fn burst_alerts_pass_only_filters_that_ask_for_them() {
        let burst = Facts {
            burst: Some(true),
            ..Facts::default()
        };
        assert!(!verdict(&filter(vec![]), &burst).passes());
        assert!(verdict(&filter(vec![Criterion::Burst(true)]), &burst).passes());
        assert!(verdict(&filter(vec![]), &Facts::default()).passes());
    }
}

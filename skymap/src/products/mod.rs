//! What an observer needs within a second of an alert, computed from the map:
//! the credible regions as MOCs and as RA/Dec contours (where to point), the
//! distance and the 3D credible volumes (which galaxies), how many islands
//! the 90 % region has, and what each observer's site can see of it in the
//! next day. The files and keys they become are listed in docs/contracts.md,
//! "The sky-map products".
//!
//! Every product takes its credible pixels from the one ranking in
//! `credible.rs`, the ranking behind `area90`/`area50`.

pub mod contours;
pub mod credible;
pub mod moc;
pub mod modes;
pub mod observability;
pub mod volume;

use serde_json::{json, Map, Value};

use crate::SkyMap;
use credible::Ranking;

/// The 50 % and 90 % credible regions as MOCs and contours, and the numbers of `EXTRA`.
#[derive(Debug, Clone)]
pub struct Products {
    pub moc50: moc::Region,
    pub moc90: moc::Region,
    /// The 50 % and 90 % contours, drawn from the MOCs.
    pub contours: [contours::Contour; 2],
    /// DISTMEAN and DISTSTD from the header (Mpc), when the map has them.
    pub distance: Option<(f64, f64)>,
    /// Mpc³; `None` for a map without distances.
    pub vol50: Option<f64>,
    pub vol90: Option<f64>,
    /// The number of disjoint parts of the 90 % region.
    pub modes90: usize,
    /// Per configured site (none: empty, and nothing computed); set by
    /// [`Products::observed`].
    pub observability: Vec<observability::SiteObservability>,
}

impl Products {
    pub fn compute(map: &SkyMap, ranking: &Ranking) -> Products {
        let region90 = ranking.region_nested(0.9);
        let vols = volume::credible_volumes(map, &[0.5, 0.9]);
        let moc50 = moc::region_moc(map, &ranking.region_nested(0.5));
        let moc90 = moc::region_moc(map, &region90);
        let card = |name| {
            map.card(name)
                .and_then(|v| v.as_f64())
                .filter(|x| x.is_finite())
        };
        Products {
            contours: [
                contours::Contour::of(0.5, &moc50),
                contours::Contour::of(0.9, &moc90),
            ],
            moc50,
            moc90,
            distance: card("DISTMEAN").zip(card("DISTSTD")),
            vol50: vols[0],
            vol90: vols[1],
            modes90: modes::count(map, &region90),
            observability: Vec::new(),
        }
    }

    /// With what each of `sites` can see of `map` in the 24 h from `from`.
    pub fn observed(
        mut self,
        map: &SkyMap,
        ranking: &Ranking,
        from: chrono::DateTime<chrono::Utc>,
        sites: &[observability::Site],
    ) -> Products {
        self.observability = observability::observe(map, ranking, from, sites);
        self
    }

    /// The keys added to `EXTRA` (distance to 3 decimals, volumes to 6
    /// significant digits); a key whose value the map cannot give is left out.
    pub fn to_json(&self) -> Map<String, Value> {
        let mut extra = Map::new();
        if let Some((mean, std)) = self.distance {
            extra.insert(
                "distance".into(),
                json!({"mean": round_to(mean, 3), "std": round_to(std, 3)}),
            );
        }
        for (key, vol) in [("vol50", self.vol50), ("vol90", self.vol90)] {
            if let Some(vol) = vol {
                extra.insert(key.into(), json!(significant(vol, 6)));
            }
        }
        extra.insert("modes90".into(), json!(self.modes90));
        if !self.observability.is_empty() {
            extra.insert(
                "observability".into(),
                observability::to_json(&self.observability),
            );
        }
        extra
    }
}

fn round_to(x: f64, decimals: usize) -> f64 {
    format!("{x:.decimals$}").parse().unwrap_or(x)
}

fn significant(x: f64, digits: usize) -> f64 {
    format!("{x:.*e}", digits - 1).parse().unwrap_or(x)
}

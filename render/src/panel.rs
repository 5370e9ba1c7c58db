//! The side panel: a legend (Sun, Moon, galactic plane, the three credible
//! regions with their areas) and what the original printed beside the map
//! (event, times, significance, alert, instruments, localisation, FAR,
//! distance and redshift, most probable position, classification,
//! properties), and what each configured site can see of the map.
//!
//! The content is built as plain lines first, apart from drawing, so that it
//! can be tested, and every field is optional: a line whose field the alert
//! lacks is left out rather than shown as an error.

use chrono::{DateTime, Utc};
use gocart_shared::settings::Aitoff;

use super::canvas::{Canvas, Pen};
use super::cosmology::redshift;
use super::style::{self, Rgb};
use super::text::{Align, Fonts, TextStyle};
use gocart_alert::names::fits_name;
use gocart_alert::Alert;
use gocart_shared::far::far_text;
use gocart_skymap::products::observability::{nearest_minute, SiteObservability};
use gocart_skymap::{SkyMap, Stats};

/// The symbol in front of a legend entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Swatch {
    Disc { fill: Rgb, edge: Rgb },
    Line(Rgb),
    Box(Rgb),
    Ring(Rgb),
}

/// One legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub swatch: Swatch,
    pub label: String,
}

/// The legend, in the original's order: Sun, Moon, galactic plane, regions.
pub fn legend(stats: &Stats, options: &Aitoff) -> Vec<Entry> {
    let mut entries = Vec::new();
    if options.sun_moon {
        let zones = options.sun_moon_contour;
        let label = |body: &str, radius: f64| {
            if zones {
                format!("{body} (within {radius:.0}°)")
            } else {
                body.to_string()
            }
        };
        entries.push(Entry {
            swatch: Swatch::Disc {
                fill: style::SUN,
                edge: style::SUN_EDGE,
            },
            label: label("Sun", style::SUN_RADIUS_DEG),
        });
        entries.push(Entry {
            swatch: Swatch::Disc {
                fill: style::MOON,
                edge: style::MOON_EDGE,
            },
            label: label("Moon", style::MOON_RADIUS_DEG),
        });
    }
    if options.galactic_plane {
        entries.push(Entry {
            swatch: Swatch::Line(style::GALACTIC_PLANE),
            label: "Galactic plane".into(),
        });
    }
    // The same numbers, to the same three decimals, as meta.yaml's EXTRA.
    for (color, percent, area) in [
        (style::REGION_90, 90, stats.area90),
        (style::REGION_50, 50, stats.area50),
        (style::REGION_10, 10, stats.area10),
    ] {
        entries.push(Entry {
            swatch: Swatch::Box(color),
            label: format!("{percent}%: {area:.3} deg²"),
        });
    }
    entries.push(Entry {
        swatch: Swatch::Ring(style::PEAK),
        label: "Most probable position".into(),
    });
    entries
}

/// The panel's text, one entry per line; an empty string is a gap.
pub fn info_lines(
    alert: &Alert,
    map: &SkyMap,
    stats: &Stats,
    sites: &[SiteObservability],
) -> Vec<String> {
    let event = alert.event.as_ref();
    let mut lines = Vec::new();
    let group = event
        .and_then(|e| e.group.as_deref())
        .map(|g| format!(" ({g})"))
        .unwrap_or_default();
    lines.push(format!("Event: {}{group}", alert.superevent_id));
    if let Some(e) = event {
        match (e.time, e.time_text.as_deref()) {
            (Some(t), _) => lines.push(format!("Event time: {}", utc(t))),
            (None, Some(text)) => lines.push(format!("Event time: {text}")),
            (None, None) => {}
        }
    }
    lines.push(String::new());
    if let Some(significant) = event.and_then(|e| e.significant) {
        lines.push(format!(
            "Significance: {}",
            if significant { "HIGH" } else { "LOW" }
        ));
    }
    lines.push(format!("Alert: {}", alert.alert_type.replace('_', " ")));
    lines.push(format!("Alert time: {}", utc(alert.time_created)));
    if let Some(e) = event.filter(|e| !e.instruments.is_empty()) {
        lines.push(format!("Instruments: {}", e.instruments.join(",")));
    }
    lines.push(format!("Localisation: {}", localisation(map, alert)));
    if let Some(far) = event.and_then(|e| e.far) {
        lines.push(format!("FAR: {}", far_text(far)));
    }
    lines.extend(distance_lines(map));
    lines.push(format!(
        "Most probable: RA {:.2}°, Dec {}°",
        stats.ra,
        signed(stats.dec)
    ));
    if !sites.is_empty() {
        lines.push(String::new());
        lines.push("Observable in the next 24 h:".into());
        lines.extend(sites.iter().map(site_line));
    }
    if let Some(e) = event {
        for pairs in [&e.classification, &e.properties] {
            if !pairs.is_empty() {
                lines.push(String::new());
                lines.extend(
                    pairs
                        .iter()
                        .map(|(name, value)| format!("{name}: {value:.2}")),
                );
            }
        }
    }
    lines
}

/// `La Palma: 62 % (best 41 % at 23:00Z)`, `La Palma: no dark time` or
/// `La Palma: never rises`: the day after the alert from one site.
fn site_line(site: &SiteObservability) -> String {
    let percent = |p: f64| format!("{:.0} %", p * 100.0);
    match site.best {
        None => format!("{}: no dark time", site.site),
        Some(_) if site.probability < 0.005 => format!("{}: never rises", site.site),
        Some((time, best)) => format!(
            "{}: {} (best {} at {})",
            site.site,
            percent(site.probability),
            percent(best),
            nearest_minute(time).format("%H:%MZ")
        ),
    }
}

/// `2023-04-26 04:42:23 UTC`.
fn utc(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A number with its sign, a true minus for negatives.
fn signed(x: f64) -> String {
    let text = format!("{x:+.2}");
    text.replacen('-', "−", 1)
}

/// What made the sky map: its CREATOR, or the name the file was saved under
/// when that says more (`bilby` for `ligo-skymap-from-samples`).
fn localisation(map: &SkyMap, alert: &Alert) -> String {
    let stem = alert.event.as_ref().map(|e| {
        fits_name(map, e)
            .trim_end_matches(".multiorder.fits")
            .to_string()
    });
    match (map.creator(), stem) {
        (Some(creator), Some(stem)) if !creator.eq_ignore_ascii_case(&stem) => stem,
        (Some(creator), _) => creator.to_string(),
        (None, Some(stem)) => stem,
        (None, None) => "unknown".into(),
    }
}

/// Distance ± its spread, and the redshift range they span (CBC maps only).
fn distance_lines(map: &SkyMap) -> Vec<String> {
    let card = |name| {
        map.card(name)
            .and_then(|v| v.as_f64())
            .filter(|x| x.is_finite())
    };
    let Some(mean) = card("DISTMEAN").filter(|d| *d > 0.0) else {
        return Vec::new();
    };
    let Some(std) = card("DISTSTD").filter(|s| *s >= 0.0) else {
        return vec![format!("Distance: {mean:.2} Mpc")];
    };
    let mut lines = vec![format!("Distance: {mean:.2} ± {std:.2} Mpc")];
    let near = if mean > std {
        redshift(mean - std)
    } else {
        Some(0.0)
    };
    if let (Some(near), Some(far)) = (near, redshift(mean + std)) {
        lines.push(format!("Redshift: {near:.3} < z < {far:.3}"));
    }
    lines
}

const SWATCH_X: f32 = 26.0;
const LABEL_X: f32 = 58.0;
const LEGEND_TOP: f32 = 40.0;
const LEGEND_ROW: f32 = 40.0;
const MARGIN: f32 = 18.0;

/// Draws the legend and the lines in the panel at the right of the picture.
pub fn draw(canvas: &mut Canvas, fonts: &Fonts, entries: &[Entry], lines: &[String]) {
    let x0 = style::PANEL_X;
    let legend_height = LEGEND_ROW * entries.len() as f32 + 2.0 * MARGIN - 10.0;
    let frame = Pen::solid(Rgb(200, 200, 200), 2.0);
    canvas.fill_box(
        x0,
        LEGEND_TOP,
        style::PANEL_WIDTH - 10.0,
        legend_height,
        style::BACKGROUND,
        Some(frame),
    );
    let text = TextStyle {
        bold: false,
        size: style::PANEL_FONT,
        color: style::TEXT,
    };
    let cap = fonts.cap_height(text);
    for (i, entry) in entries.iter().enumerate() {
        let y = LEGEND_TOP + MARGIN + LEGEND_ROW * (i as f32 + 0.5) - 5.0;
        draw_swatch(canvas, x0 + SWATCH_X, y, entry.swatch);
        let label = fonts.fit(&entry.label, style::PANEL_WIDTH - LABEL_X - 20.0, text);
        fonts.draw(
            canvas,
            &label,
            x0 + LABEL_X,
            y + cap / 2.0,
            Align::Left,
            text,
        );
    }
    let mut y = LEGEND_TOP + legend_height + 50.0;
    for (i, line) in lines.iter().enumerate() {
        if y > canvas.height() as f32 - 10.0 {
            break;
        }
        let style = TextStyle {
            bold: i == 0,
            ..text
        };
        let line = fonts.fit(line, style::PANEL_WIDTH - 10.0, style);
        fonts.draw(canvas, &line, x0, y, Align::Left, style);
        y += if line.is_empty() {
            style::PANEL_LINE / 2.0
        } else {
            style::PANEL_LINE
        };
    }
}

fn draw_swatch(canvas: &mut Canvas, x: f32, y: f32, swatch: Swatch) {
    match swatch {
        Swatch::Disc { fill, edge } => {
            canvas.fill_disc(
                x,
                y,
                style::MARKER_RADIUS - 2.0,
                fill,
                Pen::solid(edge, 2.0),
            );
        }
        Swatch::Line(color) => {
            canvas.stroke_lines(
                &[vec![(x - 16.0, y), (x + 16.0, y)]],
                Pen::solid(color, 3.5),
            );
        }
        Swatch::Box(color) => canvas.fill_box(x - 16.0, y - 11.0, 32.0, 22.0, color, None),
        Swatch::Ring(color) => {
            let ring: Vec<_> = (0..=32)
                .map(|i| {
                    let t = i as f32 / 32.0 * std::f32::consts::TAU;
                    (x + 10.0 * t.cos(), y + 10.0 * t.sin())
                })
                .collect();
            canvas.stroke_lines(&[ring], Pen::solid(color, 2.5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gocart_skymap::{Card, CardValue, Pixel};

    fn map(cards: Vec<Card>) -> SkyMap {
        let density = 1.0 / (4.0 * std::f64::consts::PI);
        let pixels = (0..12)
            .map(|ipix| Pixel {
                depth: 0,
                ipix,
                probdensity: density,
                distmu: f64::INFINITY,
                distsigma: 1.0,
            })
            .collect();
        SkyMap::new(pixels, false, cards).expect("a map")
    }

    fn card(name: &str, value: CardValue) -> Card {
        Card {
            name: name.into(),
            value,
        }
    }

    #[test]
    fn a_full_cbc_alert_shows_everything() {
        let json = r#"{"alert_type":"PRELIMINARY","time_created":"2023-04-26T04:56:53Z",
          "superevent_id":"MS230426e","event":{"significant":true,"time":"2023-04-26T04:42:23.382Z",
          "far":5.176954877338635e-16,"group":"CBC","instruments":["H1","L1","V1"],
          "classification":{"BNS":0.999,"NSBH":0.0,"BBH":0.0,"Terrestrial":0.001},
          "properties":{"HasNS":1.0,"HasRemnant":1.0}}}"#;
        let alert = Alert::parse(json.as_bytes()).expect("alert");
        let map = map(vec![
            card("CREATOR", CardValue::Text("BAYESTAR".into())),
            card("DISTMEAN", CardValue::Real(112.16)),
            card("DISTSTD", CardValue::Real(27.21)),
        ]);
        let stats = Stats::compute(&map);
        let lines = info_lines(&alert, &map, &stats, &[]);
        for expected in [
            "Event: MS230426e (CBC)",
            "Event time: 2023-04-26 04:42:23 UTC",
            "Significance: HIGH",
            "Alert: PRELIMINARY",
            "Alert time: 2023-04-26 04:56:53 UTC",
            "Instruments: H1,L1,V1",
            "Localisation: BAYESTAR",
            "FAR: 1 per 61251822.2 yrs",
            "Distance: 112.16 ± 27.21 Mpc",
            "Redshift: 0.019 < z < 0.031",
            "BNS: 1.00",
            "Terrestrial: 0.00",
            "HasRemnant: 1.00",
        ] {
            assert!(
                lines.iter().any(|l| l == expected),
                "{expected:?} not in {lines:#?}"
            );
        }
    }

    #[test]
    fn missing_fields_leave_their_lines_out() {
        let json = r#"{"alert_type":"EARLY_WARNING","time_created":"2023-04-26T04:56:53Z",
          "superevent_id":"S1","event":{}}"#;
        let alert = Alert::parse(json.as_bytes()).expect("alert");
        let map = map(vec![]);
        let lines = info_lines(&alert, &map, &Stats::compute(&map), &[]);
        assert_eq!(lines[0], "Event: S1");
        assert!(lines.iter().any(|l| l == "Alert: EARLY WARNING"));
        assert!(lines.iter().any(|l| l == "Localisation: skymap"));
        assert!(!lines
            .iter()
            .any(|l| l.starts_with("FAR") || l.starts_with("Distance")));
    }

    #[test]
    fn samples_maps_are_named_after_what_made_them() {
        let json = r#"{"alert_type":"PRELIMINARY","time_created":"2023-05-28T11:40:43Z",
          "superevent_id":"S230528ay","event":{"group":"Burst","pipeline":"CWB"}}"#;
        let alert = Alert::parse(json.as_bytes()).expect("alert");
        let map = map(vec![card(
            "CREATOR",
            CardValue::Text("ligo-skymap-from-samples".into()),
        )]);
        let lines = info_lines(&alert, &map, &Stats::compute(&map), &[]);
        assert!(lines.iter().any(|l| l == "Localisation: cwb"), "{lines:#?}");
    }

    #[test]
    fn each_site_gets_one_line_and_none_without_sites() {
        use gocart_skymap::products::observability::Window;
        let json = r#"{"alert_type":"PRELIMINARY","time_created":"2023-04-24T20:00:00Z",
          "superevent_id":"S1","event":{}}"#;
        let alert = Alert::parse(json.as_bytes()).expect("alert");
        let map = map(vec![]);
        let stats = Stats::compute(&map);
        let time = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .expect("a time")
                .with_timezone(&Utc)
        };
        let night = Window {
            start: time("2023-04-24T20:41:00Z"),
            end: time("2023-04-25T05:58:00Z"),
        };
        let site = |name: &str, windows: Vec<Window>, probability, best| SiteObservability {
            site: name.into(),
            windows,
            probability,
            best,
        };
        let sites = [
            site(
                "La Palma",
                vec![night],
                0.623,
                Some((time("2023-04-24T22:59:40Z"), 0.41)),
            ),
            site("Ny-Ålesund", vec![], 0.0, None),
            site("Cerro Pachón", vec![night], 0.0, Some((night.start, 0.0))),
        ];
        let lines = info_lines(&alert, &map, &stats, &sites);
        let at = lines
            .iter()
            .position(|l| l == "Observable in the next 24 h:")
            .expect("a heading");
        assert_eq!(
            lines[at + 1..at + 4],
            [
                "La Palma: 62 % (best 41 % at 23:00Z)",
                "Ny-Ålesund: no dark time",
                "Cerro Pachón: never rises",
            ]
        );
        let without = info_lines(&alert, &map, &stats, &[]);
        assert!(!without.iter().any(|l| l.starts_with("Observable")));
    }

    #[test]
    fn the_legend_follows_the_settings() {
        let map = map(vec![]);
        let stats = Stats::compute(&map);
        let all = legend(&stats, &Aitoff::default());
        assert_eq!(all.len(), 7);
        assert_eq!(all[0].label, "Sun (within 33°)");
        assert!(all[3].label.starts_with("90%: ") && all[3].label.ends_with(" deg²"));
        let none = Aitoff {
            sun_moon: false,
            galactic_plane: false,
            ..Aitoff::default()
        };
        assert_eq!(legend(&stats, &none).len(), 4);
    }
}

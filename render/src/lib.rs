//! `skymap.png`: the all-sky picture of an alert, the first thing observers
//! look at.
//!
//! One more output of the pipeline: drawn into the staging directory like
//! every other file, and only when `lvk.aitoff.convert` is true. The picture is
//! a Hammer-Aitoff map of the equatorial sky with the 90/50/10% credible
//! regions computed per output pixel from the multi-order map, the galactic
//! plane, the Sun and Moon with their exclusion zones, and a side panel. It is
//! built from compiled-in fonts only, and the same alert always gives the same
//! bytes.
//!
//! Layers, bottom to top: the sky (regions and zone tints, `raster`), the grid,
//! the galactic plane, the zone outlines, the edge, the labels, a ring around
//! the most probable position, the Sun and Moon, the panel.

pub mod blocks;
pub mod canvas;
pub mod cosmology;
pub mod overlays;
pub mod panel;
pub mod projection;
pub mod raster;
pub mod regions;
pub mod style;
pub mod text;
pub mod zone;

use chrono::{DateTime, Utc};
use gocart_shared::settings::Aitoff;
use gocart_shared::time::parse_utc;

use self::canvas::Canvas;
use self::projection::unit_vector;
use self::regions::Regions;
use self::style::FRAME;
use self::text::Fonts;
use self::zone::Zone;
use gocart_alert::Alert;
use gocart_skymap::ephemeris::{self, RaDec};
use gocart_skymap::products::observability::SiteObservability;
use gocart_skymap::{CardValue, SkyMap, Stats};

/// The picture as PNG bytes.
/// `sites` is what each configured site can see of the map (one panel line
/// each; none without `sites:` in the settings).
pub fn render_png(
    alert: &Alert,
    map: &SkyMap,
    stats: &Stats,
    options: &Aitoff,
    sites: &[SiteObservability],
) -> std::io::Result<Vec<u8>> {
    render(alert, map, stats, options, sites)?.encode_png()
}

/// The Sun and the Moon at the time of the observation.
#[derive(Debug, Clone, Copy)]
pub struct Bodies {
    pub sun: RaDec,
    pub moon: RaDec,
}

impl Bodies {
    pub fn at(time: DateTime<Utc>) -> Bodies {
        Bodies {
            sun: ephemeris::sun(time),
            moon: ephemeris::moon(time),
        }
    }
}

/// The picture, before encoding.
pub fn render(
    alert: &Alert,
    map: &SkyMap,
    stats: &Stats,
    options: &Aitoff,
    sites: &[SiteObservability],
) -> std::io::Result<Canvas> {
    let lines = panel::info_lines(alert, map, stats, sites);
    render_sky(map, stats, options, observation_time(alert, map), &lines)
}

/// The picture of a notice of another kind (an error circle drawn as a
/// probability disc, or a HEALPix map), drawn like an alert's, with `lines`
/// in the side panel and the Sun and Moon at `time`.
pub fn render_notice_png(
    map: &SkyMap,
    options: &Aitoff,
    time: DateTime<Utc>,
    lines: &[String],
) -> std::io::Result<Vec<u8>> {
    let stats = Stats::compute(map);
    render_sky(map, &stats, options, time, lines)?.encode_png()
}

/// The sky, its overlays and the side panel with `lines`.
fn render_sky(
    map: &SkyMap,
    stats: &Stats,
    options: &Aitoff,
    time: DateTime<Utc>,
    lines: &[String],
) -> std::io::Result<Canvas> {
    let fonts = Fonts::load()?;
    let bodies = Bodies::at(time);
    let show_zones = options.sun_moon && options.sun_moon_contour;
    let mut canvas = Canvas::new(style::WIDTH, style::HEIGHT, style::BACKGROUND)?;

    let zones = if show_zones {
        zones(&bodies)
    } else {
        Vec::new()
    };
    raster::paint_sky(&mut canvas, &FRAME, &Regions::new(map), &zones);
    overlays::draw_graticule(&mut canvas, &FRAME);
    if options.galactic_plane {
        overlays::draw_galactic_plane(&mut canvas, &FRAME);
    }
    if show_zones {
        overlays::draw_zone_outline(
            &mut canvas,
            &FRAME,
            bodies.sun,
            style::SUN_RADIUS_DEG,
            style::SUN_EDGE,
        );
        overlays::draw_zone_outline(
            &mut canvas,
            &FRAME,
            bodies.moon,
            style::MOON_RADIUS_DEG,
            style::MOON_EDGE,
        );
    }
    overlays::draw_border(&mut canvas, &FRAME);
    overlays::draw_axis_labels(&mut canvas, &FRAME, &fonts);
    overlays::draw_peak(&mut canvas, &FRAME, stats.ra, stats.dec);
    if options.sun_moon {
        overlays::draw_body(&mut canvas, &FRAME, bodies.sun, style::SUN, style::SUN_EDGE);
        overlays::draw_body(
            &mut canvas,
            &FRAME,
            bodies.moon,
            style::MOON,
            style::MOON_EDGE,
        );
    }
    let legend = panel::legend(stats, options);
    panel::draw(&mut canvas, &fonts, &legend, lines);
    Ok(canvas)
}

/// The exclusion zones, as the per-pixel pass tests them.
pub fn zones(bodies: &Bodies) -> Vec<Zone> {
    let zone = |at: RaDec, radius: f64, color| Zone {
        centre: unit_vector(at.ra, at.dec),
        cos_radius: radius.to_radians().cos(),
        color,
    };
    vec![
        zone(bodies.sun, style::SUN_RADIUS_DEG, style::SUN_ZONE),
        zone(bodies.moon, style::MOON_RADIUS_DEG, style::MOON_ZONE),
    ]
}

/// When the Sun and Moon are drawn: the map's `DATE-OBS` (the time of the
/// data), else the event time, else the time the alert was made.
pub fn observation_time(alert: &Alert, map: &SkyMap) -> DateTime<Utc> {
    let from_header = match map.card("DATE-OBS") {
        // A FITS date (`2023-04-26T04:42:23.381972`, UTC, maybe with a `Z`).
        Some(CardValue::Text(text)) => parse_utc(text),
        _ => None,
    };
    from_header
        .or_else(|| alert.event.as_ref().and_then(|e| e.time))
        .unwrap_or(alert.time_created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_dates_are_read_with_or_without_fractions() {
        let t = parse_utc("2023-04-26T04:42:23.381972").expect("a time");
        assert_eq!(t.to_rfc3339(), "2023-04-26T04:42:23.381972+00:00");
        assert!(parse_utc("2023-04-26T04:42:23Z").is_some());
        assert!(parse_utc("yesterday").is_none());
    }
}

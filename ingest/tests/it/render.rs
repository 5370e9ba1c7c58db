//! `skymap.png` checked as a user would look at it: on every shared alert with
//! a sky map, and on maps made here (so the checks run without ../shared).
//!
//! For each picture: it decodes, has the right size and stays under 600 KB;
//! the most probable position is painted in the 10% colour; the far side of the
//! sky is not in a region colour unless the map really has probability there
//! (found independently, by brute force); the Sun is drawn where the
//! projection puts it; the same input gives the same bytes. The shortcut that
//! fills one-colour blocks at once is compared with the full per-pixel pass.

use std::path::{Path, PathBuf};

use base64::Engine;
use gocart_ingest::alert::Alert;
use gocart_ingest::render::blocks::Blocks;
use gocart_ingest::render::raster::pixel_map;
use gocart_ingest::render::regions::{Level, Regions};
use gocart_ingest::render::style::{self, Rgb, FRAME};
use gocart_ingest::render::{self, Bodies};
use gocart_ingest::skymap::ephemeris;
use gocart_ingest::skymap::{pixel_area_sr, read_skymap, Pixel, SkyMap, Stats};
use gocart_shared::settings::Aitoff;

/// A decoded picture.
struct Picture {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Picture {
    fn decode(bytes: &[u8]) -> Picture {
        let decoder = png::Decoder::new(bytes);
        let mut reader = decoder.read_info().expect("a PNG header");
        let mut rgb = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut rgb).expect("PNG data");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        Picture {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    fn at(&self, x: i64, y: i64) -> Option<Rgb> {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return None;
        }
        let i = ((y * i64::from(self.width) + x) * 3) as usize;
        Some(Rgb(self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]))
    }

    /// Whether `color` is found within `radius` pixels of (x, y).
    fn near(&self, (x, y): (i64, i64), radius: i64, color: Rgb) -> bool {
        (-radius..=radius)
            .any(|dy| (-radius..=radius).any(|dx| self.at(x + dx, y + dy) == Some(color)))
    }

    fn count(&self, color: Rgb) -> usize {
        self.rgb
            .chunks_exact(3)
            .filter(|p| Rgb(p[0], p[1], p[2]) == color)
            .count()
    }
}

const REGION_COLORS: [Rgb; 3] = [style::REGION_90, style::REGION_50, style::REGION_10];

/// Whether the sky at RA/Dec (degrees) is in the 90% region, worked out by
/// brute force: the pixel holding it, and its rank by density.
fn in_90_by_brute_force(map: &SkyMap, ra: f64, dec: f64) -> bool {
    let (ra, dec) = (ra.to_radians(), dec.to_radians());
    let Some(found) = map
        .pixels()
        .iter()
        .find(|p| cdshealpix::nested::hash(p.depth, ra, dec) == p.ipix)
    else {
        return false;
    };
    let denser: f64 = map
        .pixels()
        .iter()
        .filter(|p| p.probdensity >= found.probdensity)
        .map(Pixel::prob)
        .sum();
    // Within a pixel's own probability of the 90% line: ties make it either.
    denser - found.prob() < 0.9
}

/// Every check on one alert's picture.
fn check_picture(label: &str, alert: &Alert, map: &SkyMap) {
    let stats = Stats::compute(map);
    let options = Aitoff::default();
    let bytes = render::render_png(alert, map, &stats, &options, &[]).expect("a picture");
    let again = render::render_png(alert, map, &stats, &options, &[]).expect("a picture");
    assert!(bytes == again, "{label}: two renderings differ");
    assert!(bytes.len() < 600 * 1024, "{label}: {} bytes", bytes.len());
    let picture = Picture::decode(&bytes);
    assert_eq!(
        (picture.width, picture.height),
        (style::WIDTH, style::HEIGHT),
        "{label}"
    );

    let bodies = Bodies::at(render::observation_time(alert, map));
    let peak = ephemeris::RaDec {
        ra: stats.ra,
        dec: stats.dec,
    };
    let near_body = |at: ephemeris::RaDec| {
        ephemeris::separation_deg(at, bodies.sun) < 4.0
            || ephemeris::separation_deg(at, bodies.moon) < 4.0
    };

    // The most probable position is painted in the 10% colour: every pixel
    // near it whose centre the map puts in the 10% region is, bar overlays, so
    // at least one must be (a 10% region smaller than a pixel has none).
    let centre = FRAME.pixel_of(stats.ra, stats.dec);
    let regions = Regions::new(map);
    let in_10: Vec<(i64, i64)> = (-4..=4)
        .flat_map(|dy| (-4..=4).map(move |dx| (centre.0 + dx, centre.1 + dy)))
        .filter(|&(x, y)| {
            FRAME
                .unproject_deg(x as f64 + 0.5, y as f64 + 0.5)
                .is_some_and(|(ra, dec)| regions.level_at_deg(ra, dec) == Level::P10)
        })
        .collect();
    if !in_10.is_empty() && !near_body(peak) {
        assert!(
            in_10
                .iter()
                .any(|&(x, y)| picture.at(x, y) == Some(style::REGION_10)),
            "{label}: no 10% colour at the peak {peak:?} (pixel {centre:?})"
        );
    }
    // And it is ringed.
    let ring = (centre.0 + style::PEAK_RADIUS as i64, centre.1);
    assert!(
        picture.near(ring, 2, style::PEAK),
        "{label}: no ring around the peak"
    );

    // The far side of the sky is background, unless the map has probability there.
    let anti = ephemeris::RaDec {
        ra: (stats.ra + 180.0) % 360.0,
        dec: -stats.dec,
    };
    if !in_90_by_brute_force(map, anti.ra, anti.dec) {
        let pixel = FRAME.pixel_of(anti.ra, anti.dec);
        let color = picture.at(pixel.0, pixel.1).expect("inside the picture");
        assert!(
            !REGION_COLORS.contains(&color),
            "{label}: the antipode {anti:?} is painted {color:?}"
        );
    }

    // The Sun is where the projection puts it (unless the Moon covers it).
    if ephemeris::separation_deg(bodies.sun, bodies.moon) > 2.0 {
        let sun = FRAME.pixel_of(bodies.sun.ra, bodies.sun.dec);
        assert_eq!(
            picture.at(sun.0, sun.1),
            Some(style::SUN),
            "{label}: no Sun at {sun:?}"
        );
    }
}

/// The per-pixel pass with and without the block shortcut agree everywhere.
fn check_block_plan(label: &str, alert: &Alert, map: &SkyMap) {
    let bodies = Bodies::at(render::observation_time(alert, map));
    let zones = render::zones(&bodies);
    let regions = Regions::new(map);
    let (w, h) = (style::WIDTH as usize, style::HEIGHT as usize);
    let planned = Blocks::plan(w, h, &FRAME, &regions, &zones);
    let fast = pixel_map(w, h, &FRAME, &regions, &zones, &planned);
    let exact = pixel_map(w, h, &FRAME, &regions, &zones, &Blocks::exact(w, h));
    let differing = fast.iter().zip(&exact).filter(|(a, b)| a != b).count();
    assert_eq!(
        differing, 0,
        "{label}: {differing} pixels differ with the block shortcut"
    );
}

// ---- maps made here ----

/// A sum of Gaussian blobs: (RA, Dec, sigma in degrees, weight).
type Blobs = [(f64, f64, f64, f64)];

fn density(blobs: &Blobs, ra: f64, dec: f64) -> f64 {
    blobs
        .iter()
        .map(|&(bra, bdec, sigma, weight)| {
            let sep = ephemeris::separation_deg(
                ephemeris::RaDec { ra, dec },
                ephemeris::RaDec { ra: bra, dec: bdec },
            );
            weight * (-0.5 * (sep / sigma).powi(2)).exp() / (sigma * sigma)
        })
        .sum::<f64>()
        + 1e-9
}

/// A multi-order map: all 3072 pixels of depth 4, split down to `max_depth`
/// wherever the density is above a thousandth of its peak or a blob is centred.
fn synthetic_map(blobs: &Blobs, max_depth: u8) -> SkyMap {
    let at = |depth: u8, ipix: u64| {
        let (ra, dec) = cdshealpix::nested::center(depth, ipix);
        density(blobs, ra.to_degrees(), dec.to_degrees())
    };
    let peak = blobs
        .iter()
        .map(|&(ra, dec, _, _)| density(blobs, ra, dec))
        .fold(0.0, f64::max);
    let mut pixels = Vec::new();
    let mut todo: Vec<(u8, u64)> = (0..12 * 4u64.pow(4)).map(|i| (4, i)).collect();
    while let Some((depth, ipix)) = todo.pop() {
        let children = (4 * ipix..4 * ipix + 4).map(|c| at(depth + 1, c));
        let holds_a_blob = blobs.iter().any(|&(ra, dec, _, _)| {
            cdshealpix::nested::hash(depth, ra.to_radians(), dec.to_radians()) == ipix
        });
        let dense = children.fold(at(depth, ipix), f64::max) > peak * 1e-3;
        if depth < max_depth && (dense || holds_a_blob) {
            todo.extend((4 * ipix..4 * ipix + 4).map(|c| (depth + 1, c)));
        } else {
            pixels.push((depth, ipix, at(depth, ipix)));
        }
    }
    let total: f64 = pixels.iter().map(|&(d, _, p)| p * pixel_area_sr(d)).sum();
    let pixels = pixels
        .into_iter()
        .map(|(depth, ipix, p)| Pixel {
            depth,
            ipix,
            probdensity: p / total,
            distmu: 100.0,
            distsigma: 20.0,
        })
        .collect();
    SkyMap::new(pixels, true, vec![]).expect("a valid map")
}

fn synthetic_alert(time: &str) -> Alert {
    let json = format!(
        r#"{{"alert_type":"PRELIMINARY","time_created":"{time}","superevent_id":"MS990101a",
        "event":{{"time":"{time}","far":1e-9,"significant":true,"group":"CBC","instruments":["H1","L1"]}}}}"#
    );
    Alert::parse(json.as_bytes()).expect("an alert")
}

/// A blob, a small island on the RA 0/360 edge, a blob over the north pole.
const AWKWARD: [(f64, f64, f64, f64); 3] = [
    (250.0, -20.0, 3.0, 1.0),
    (359.7, 35.0, 0.4, 0.05),
    (10.0, 89.0, 2.0, 0.3),
];

#[test]
fn a_map_made_here_is_drawn_right() {
    let map = synthetic_map(&[(120.0, 10.0, 3.0, 1.0)], 6);
    check_picture("one blob", &synthetic_alert("2024-03-20T03:06:00Z"), &map);
    let map = synthetic_map(&AWKWARD, 8);
    check_picture(
        "awkward blobs",
        &synthetic_alert("2026-06-21T12:00:00Z"),
        &map,
    );
}

#[test]
fn islands_at_the_edge_and_the_pole_are_drawn() {
    let map = synthetic_map(&AWKWARD, 8);
    let stats = Stats::compute(&map);
    let alert = synthetic_alert("2026-06-21T12:00:00Z");
    let bytes =
        render::render_png(&alert, &map, &stats, &Aitoff::default(), &[]).expect("a picture");
    let picture = Picture::decode(&bytes);
    // The island straddles RA 0: it shows at both edges of the map.
    let regions = Regions::new(&map);
    for ra in [359.8, 0.2] {
        if regions.level_at_deg(ra, 35.0) != Level::Outside {
            let pixel = FRAME.pixel_of(ra, 35.0);
            assert!(
                REGION_COLORS.iter().any(|&c| picture.near(pixel, 4, c)),
                "no region at RA {ra}, pixel {pixel:?}"
            );
        }
    }
    // The polar blob is drawn around the top of the map.
    let pole = FRAME.pixel_of(180.0, 88.5);
    assert!(
        REGION_COLORS.iter().any(|&c| picture.near(pole, 3, c)),
        "nothing at the pole"
    );
}

#[test]
fn the_block_shortcut_changes_no_pixel() {
    for (label, blobs, time) in [
        (
            "one blob",
            &[(120.0, 10.0, 3.0, 1.0)][..],
            "2024-03-20T03:06:00Z",
        ),
        ("awkward blobs", &AWKWARD[..], "2026-06-21T12:00:00Z"),
        (
            "tiny islands",
            &[
                (33.0, 13.0, 0.05, 1.0),
                (181.0, -70.0, 0.05, 1.0),
                (300.0, 80.0, 0.05, 1.0),
            ][..],
            "2023-04-26T04:42:23Z",
        ),
    ] {
        check_block_plan(label, &synthetic_alert(time), &synthetic_map(blobs, 10));
    }
}

#[test]
fn settings_turn_layers_off() {
    let map = synthetic_map(&[(120.0, 10.0, 3.0, 1.0)], 6);
    let stats = Stats::compute(&map);
    let alert = synthetic_alert("2024-03-20T03:06:00Z");
    let all = Picture::decode(
        &render::render_png(&alert, &map, &stats, &Aitoff::default(), &[]).expect("png"),
    );
    assert!(all.count(style::GALACTIC_PLANE) > 1000);
    assert!(all.count(style::SUN) > 100 && all.count(style::MOON) > 100);
    let none = Aitoff {
        sun_moon: false,
        galactic_plane: false,
        ..Aitoff::default()
    };
    let bare = Picture::decode(&render::render_png(&alert, &map, &stats, &none, &[]).expect("png"));
    assert_eq!(bare.count(style::GALACTIC_PLANE), 0);
    assert_eq!(bare.count(style::SUN), 0);
    assert_eq!(bare.count(style::MOON), 0);
    // Markers without zones: no zone tint anywhere.
    let no_zones = Aitoff {
        sun_moon_contour: false,
        ..Aitoff::default()
    };
    let plain =
        Picture::decode(&render::render_png(&alert, &map, &stats, &no_zones, &[]).expect("png"));
    let tint = style::SUN_ZONE.over(style::BACKGROUND, style::ZONE_ALPHA);
    assert!(all.count(tint) > 1000);
    assert_eq!(plain.count(tint), 0);
    assert!(plain.count(style::SUN) > 100);
}

// ---- the shared alerts ----

fn shared_alerts() -> Option<PathBuf> {
    let dir = std::env::var_os("GOCART_TEST_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/alerts"));
    if dir.join("lvk").is_dir() {
        return Some(dir.join("lvk"));
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} is absent and CI=true",
        dir.display()
    );
    println!("skipped: {} absent", dir.display());
    None
}

/// Every shared alert that carries a sky map, with its map read as the pipeline reads it.
fn alerts_with_maps(dir: &Path) -> Vec<(String, Alert, SkyMap)> {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .expect("the alerts directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut found = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).expect("an alert file");
        let Ok(alert) = Alert::parse(&bytes) else {
            continue;
        };
        let Some(encoded) = alert.skymap() else {
            continue;
        };
        let fits = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .expect("base64");
        let fits_path = scratch.path().join("map.fits");
        std::fs::write(&fits_path, fits).expect("write the map");
        let map = read_skymap(&fits_path).expect("a valid sky map");
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        found.push((name, alert, map));
    }
    found
}

#[test]
fn every_shared_alert_is_drawn_right() {
    let Some(dir) = shared_alerts() else { return };
    let alerts = alerts_with_maps(&dir);
    assert!(
        !alerts.is_empty(),
        "no alert with a sky map in {}",
        dir.display()
    );
    for (name, alert, map) in &alerts {
        check_picture(name, alert, map);
    }
    println!("{} pictures checked", alerts.len());
}

#[test]
fn the_block_shortcut_changes_no_pixel_on_shared_alerts() {
    let Some(dir) = shared_alerts() else { return };
    for (name, alert, map) in alerts_with_maps(&dir).iter().step_by(4) {
        check_block_plan(name, alert, map);
    }
}

//! The sky a notice points at, for its `skymap.png`: GUANO's HEALPix map
//! (decoded into `skymap.fits`, flat or multi-order), or an error circle
//! drawn as a probability disc; a notice without a position has no picture.

use gocart_shared::settings::Aitoff;

use super::notice::{Notice, Target, HEALPIX_NAME};
use super::Failure;
use crate::render;
use crate::skymap::synth::{self, Layout};
use crate::skymap::{read_any_skymap, SkyMap};
use crate::writer::Staging;

/// An error circle is drawn at least this wide (degrees): a 0.02° circle
/// would not be a single pixel of the picture.
const MIN_DRAWN_RADIUS: f64 = 1.0;

/// A Gaussian's 90% containment radius in units of its sigma (sqrt(-2 ln 0.1)).
const SIGMAS_IN_R90: f64 = 2.146;

/// Writes GUANO's map into the directory and reads it back (always: a map
/// that is not one is the message's fault); or, when a picture is wanted
/// (`draw`), builds the disc of the target's error circle. `None` when there
/// is no position.
pub(super) fn stage(
    notice: &Notice,
    target: &Target,
    staging: &mut Staging,
    draw: bool,
) -> Result<Option<SkyMap>, Failure> {
    if let Some(fits) = &notice.healpix {
        staging
            .write(HEALPIX_NAME, fits)
            .map_err(Failure::io("cannot write the sky map"))?;
        let map = read_any_skymap(&staging.path().join(HEALPIX_NAME))
            .map_err(|e| Failure::Invalid(format!("healpix_file: {e}")))?;
        return Ok(Some(map));
    }
    let Some(position) = target.position.filter(|_| draw) else {
        return Ok(None);
    };
    let radius = position.error.unwrap_or(0.0).max(MIN_DRAWN_RADIUS);
    let layout = Layout {
        max_pixels: 60_000,
        ..Layout::default()
    };
    let pixels = synth::build(
        synth::gaussian(position.ra, position.dec, radius / SIGMAS_IN_R90),
        layout,
        None,
    );
    // Built here from a valid position: a refusal would be our bug, not the message's.
    SkyMap::new(pixels, false, Vec::new())
        .map(Some)
        .map_err(|e| {
            Failure::Io(
                "cannot draw the error circle".into(),
                std::io::Error::other(e),
            )
        })
}

/// The picture, with what the notice is in the side panel.
pub(super) fn render(
    notice: &Notice,
    target: &Target,
    map: &SkyMap,
    options: &Aitoff,
) -> std::io::Result<Vec<u8>> {
    render::render_notice_png(map, options, notice.time, &panel_lines(notice, target))
}

fn panel_lines(notice: &Notice, target: &Target) -> Vec<String> {
    let mut lines = vec![
        format!("{}: {}", notice.kind, target.folder.id()),
        format!("TIME: {}", notice.time.format("%Y-%m-%d %H:%M:%S UTC")),
    ];
    if notice.healpix.is_some() {
        lines.push(format!("MAP: {HEALPIX_NAME}"));
    } else if let Some(p) = target.position {
        lines.push(format!("POSITION: RA {:.3}°, Dec {:.3}°", p.ra, p.dec));
        lines.push(match p.error {
            Some(e) if e < MIN_DRAWN_RADIUS => {
                format!("ERROR: {e}° (drawn as {MIN_DRAWN_RADIUS}°)")
            }
            Some(e) => format!("ERROR: {e}° (90% circle)"),
            None => format!("ERROR: none given (drawn {MIN_DRAWN_RADIUS}°)"),
        });
    }
    for key in [
        "pval_generic",
        "pval_bayesian",
        "far",
        "rate_snr",
        "image_snr",
        "event_name",
        "classification",
    ] {
        if let Some(value) = notice.extra.get(key).or_else(|| target.extra.get(key)) {
            lines.push(format!("{}: {value}", key.to_uppercase()));
        }
    }
    lines
}

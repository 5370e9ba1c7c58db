//! Synthetic GCN messages of the dossier's kinds (icecube, circular, boom,
//! einstein_probe, swift_guano), shaped as the gcn-schema examples are: the
//! builders `mock` uses, with the fields a test varies as arguments; and the
//! examples themselves.

use std::path::PathBuf;

pub use gocart_ingest::mock::dossier::{boom, circular, einstein_probe, icecube, swift_guano};

/// The gcn-schema examples beside the checkout (`<alerts>/gcn/*.json`), in
/// name order; `None` when the shared alerts are absent (see `shared_alerts`).
pub fn examples(test: &str) -> Option<Vec<PathBuf>> {
    Some(crate::json_files_in(
        &crate::shared_alerts(test)?.join("gcn"),
    ))
}

/// A flat HEALPix FITS map as Swift GUANO sends them: one `PROB` per pixel
/// of `nside`, in RING or NESTED order, a Gaussian of `sigma` degrees around
/// (ra, dec).
pub fn flat_healpix_fits(nside: u64, ring: bool, (ra, dec): (f64, f64), sigma: f64) -> Vec<u8> {
    use fitsio::tables::{ColumnDataType, ColumnDescription};
    let depth = nside.trailing_zeros() as u8;
    let layer = cdshealpix::nested::get(depth);
    let density = gocart_ingest::skymap::synth::gaussian(ra, dec, sigma);
    let pixels = 12 * nside * nside;
    let mut probs = vec![0.0f64; pixels as usize];
    for nested in 0..pixels {
        let (r, d) = gocart_ingest::skymap::sky::pixel_center_deg(depth, nested);
        let at = if ring { layer.to_ring(nested) } else { nested };
        probs[at as usize] = density(r, d);
    }
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flat.fits");
    let mut file = fitsio::FitsFile::create(&path).open().unwrap();
    let column = ColumnDescription::new("PROB")
        .with_type(ColumnDataType::Double)
        .create()
        .unwrap();
    let hdu = file.create_table("BAT_GUANO", &[column]).unwrap();
    hdu.write_key(&mut file, "PIXTYPE", "HEALPIX").unwrap();
    hdu.write_key(&mut file, "ORDERING", if ring { "RING" } else { "NESTED" })
        .unwrap();
    hdu.write_key(&mut file, "NSIDE", nside as i64).unwrap();
    hdu.write_col(&mut file, "PROB", &probs).unwrap();
    drop(file);
    std::fs::read(path).unwrap()
}

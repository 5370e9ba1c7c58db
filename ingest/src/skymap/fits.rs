//! Reading a multi-order sky map from a FITS file with cfitsio (the `fitsio` crate).
//!
//! cfitsio trusts the header; we do not. Before any column is read, the row count
//! the header claims is checked against the size of the file, so a lying
//! `NAXIS2` cannot make us allocate terabytes.

use std::ffi::{c_char, c_int, CStr};
use std::path::Path;

use fitsio::hdu::HduInfo;
use fitsio::FitsFile;

use super::header::{is_meta_keyword, Card, CardValue};
use super::{decode_uniq, Pixel, SkyMap, SkyMapError};

/// Bytes a row must at least take: UNIQ (8) and PROBDENSITY (at least 4).
const MIN_ROW_BYTES: u64 = 12;

/// Reads and checks the sky map in the first table extension of `path`.
pub fn read_skymap(path: &Path) -> Result<SkyMap, SkyMapError> {
    let file_size = std::fs::metadata(path)
        .map_err(|e| SkyMapError::Fits(e.to_string()))?
        .len();
    let mut file = FitsFile::open(path).map_err(fits_error)?;
    let hdu = file.hdu(1).map_err(|_| {
        SkyMapError::NotMultiOrder("there is no table extension after the primary HDU".into())
    })?;
    let (names, rows) = match &hdu.info {
        HduInfo::TableInfo {
            column_descriptions,
            num_rows,
        } => (
            column_descriptions
                .iter()
                .map(|c| c.name.to_uppercase())
                .collect::<Vec<_>>(),
            *num_rows,
        ),
        _ => {
            return Err(SkyMapError::NotMultiOrder(
                "the first extension is not a table".into(),
            ))
        }
    };
    for required in ["UNIQ", "PROBDENSITY"] {
        if !names.iter().any(|n| n == required) {
            return Err(SkyMapError::NotMultiOrder(format!(
                "the table has no {required} column (columns: {})",
                names.join(", ")
            )));
        }
    }
    if (rows as u64).saturating_mul(MIN_ROW_BYTES) > file_size {
        return Err(SkyMapError::Fits(format!(
            "the header claims {rows} rows but the file is only {file_size} bytes"
        )));
    }
    if rows == 0 {
        return Err(SkyMapError::Empty);
    }
    let header = read_cards(&mut file)?;
    let uniq: Vec<i64> = hdu.read_col(&mut file, "UNIQ").map_err(fits_error)?;
    let density: Vec<f64> = hdu.read_col(&mut file, "PROBDENSITY").map_err(fits_error)?;
    let has_distance = ["DISTMU", "DISTSIGMA"]
        .iter()
        .all(|c| names.iter().any(|n| n == c));
    let (distmu, distsigma) = if has_distance {
        (
            hdu.read_col::<f64>(&mut file, "DISTMU")
                .map_err(fits_error)?,
            hdu.read_col::<f64>(&mut file, "DISTSIGMA")
                .map_err(fits_error)?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let pixels = uniq
        .iter()
        .zip(&density)
        .enumerate()
        .map(|(row, (&u, &d))| {
            let (depth, ipix) = decode_uniq(u).ok_or(SkyMapError::BadUniq { row, uniq: u })?;
            if !(d.is_finite() && d >= 0.0) {
                return Err(SkyMapError::BadDensity { row, value: d });
            }
            Ok(Pixel {
                depth,
                ipix,
                probdensity: d,
                distmu: distmu.get(row).copied().unwrap_or(f64::INFINITY),
                distsigma: distsigma.get(row).copied().unwrap_or(f64::INFINITY),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    SkyMap::new(pixels, has_distance, header)
}

fn fits_error(e: fitsio::errors::Error) -> SkyMapError {
    SkyMapError::Fits(e.to_string())
}

/// The current HDU's cards. The safe API has no way to list them all, so this
/// walks them with cfitsio's `ffghsp`/`ffgkyn`.
fn read_cards(file: &mut FitsFile) -> Result<Vec<Card>, SkyMapError> {
    // SAFETY: `file` is an open FitsFile positioned on the table HDU; the buffers
    // are the sizes cfitsio documents (FLEN_KEYWORD, FLEN_VALUE, FLEN_COMMENT) and
    // cfitsio NUL-terminates what it writes into them.
    unsafe {
        let fptr = file.as_raw();
        let (mut count, mut more, mut status): (c_int, c_int, c_int) = (0, 0, 0);
        fitsio_sys::ffghsp(fptr, &mut count, &mut more, &mut status);
        if status != 0 {
            return Err(SkyMapError::Fits(format!(
                "cannot read the header (status {status})"
            )));
        }
        let mut cards = Vec::new();
        for n in 1..=count {
            let mut name = [0 as c_char; 75];
            let mut value = [0 as c_char; 71];
            let mut comment = [0 as c_char; 73];
            fitsio_sys::ffgkyn(
                fptr,
                n,
                name.as_mut_ptr(),
                value.as_mut_ptr(),
                comment.as_mut_ptr(),
                &mut status,
            );
            if status != 0 {
                return Err(SkyMapError::Fits(format!(
                    "cannot read header card {n} (status {status})"
                )));
            }
            let name = CStr::from_ptr(name.as_ptr()).to_string_lossy().into_owned();
            if !is_meta_keyword(&name) {
                continue;
            }
            let value = CStr::from_ptr(value.as_ptr()).to_string_lossy();
            let value = match name.as_str() {
                // cfitsio returns a COMMENT card's text as its comment.
                "COMMENT" => CardValue::Text(
                    CStr::from_ptr(comment.as_ptr())
                        .to_string_lossy()
                        .trim()
                        .to_string(),
                ),
                _ => CardValue::parse(&value),
            };
            cards.push(Card { name, value });
        }
        Ok(cards)
    }
}

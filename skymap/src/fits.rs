//! Reading a multi-order sky map from a FITS file with cfitsio (the `fitsio` crate).
//!
//! cfitsio trusts the header; we do not. Before any column is read, the row count
//! the header claims is checked against the size of the file, so a lying
//! `NAXIS2` cannot make us allocate terabytes.
//!
//! Nor does cfitsio see a file before `prescan` has checked what it would
//! believe at a cost (compressed files, lying table keywords, unquoted column
//! names), and the fitsio crate never describes a table it would panic on
//! (`check_describable_table`).

use std::ffi::{c_char, c_int, CStr};
use std::path::Path;

use fitsio::hdu::HduInfo;
use fitsio::tables::{ColumnDataType, ConcreteColumnDescription};
use fitsio::FitsFile;

use super::header::{is_meta_keyword, Card, CardValue};
use super::{decode_uniq, Pixel, SkyMap, SkyMapError};

/// Bytes a row must at least take: UNIQ (8) and PROBDENSITY (at least 4).
const MIN_ROW_BYTES: u64 = 12;

/// Reads and checks the sky map in the first table extension of `path`.
pub fn read_skymap(path: &Path) -> Result<SkyMap, SkyMapError> {
    let file_size = super::prescan::check_file(path)?;
    let mut file = FitsFile::open(path).map_err(fits_error)?;
    check_describable_table(&mut file)?;
    let hdu = file.hdu(1).map_err(|e| match e {
        fitsio::errors::Error::Fits(f) if f.status == END_OF_FILE => {
            SkyMapError::NotMultiOrder("there is no table extension after the primary HDU".into())
        }
        // A header that lies (TFIELDS, TFORM, NAXIS1...) is refused here by cfitsio.
        e => SkyMapError::Fits(format!(
            "the header of the extension after the primary HDU is invalid: {}",
            describe(&e)
        )),
    })?;
    let (columns, rows) = match &hdu.info {
        HduInfo::TableInfo {
            column_descriptions,
            num_rows,
        } => (column_descriptions.as_slice(), *num_rows),
        _ => {
            return Err(SkyMapError::NotMultiOrder(
                "the first extension is not a table".into(),
            ))
        }
    };
    let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
    // FITS column names compare without case; the fitsio crate's lookup does
    // not, so columns are read by the name as written.
    let column = |wanted: &str| columns.iter().find(|c| c.name.eq_ignore_ascii_case(wanted));
    let required = |wanted: &str| {
        column(wanted).ok_or_else(|| {
            SkyMapError::NotMultiOrder(format!(
                "the table has no {wanted} column (columns: {})",
                names.join(", ")
            ))
        })
    };
    let uniq_column = checked(required("UNIQ")?, true)?;
    let density_column = checked(required("PROBDENSITY")?, false)?;
    let distance_columns = match (column("DISTMU"), column("DISTSIGMA")) {
        (Some(mu), Some(sigma)) => Some((checked(mu, false)?, checked(sigma, false)?)),
        _ => None,
    };
    if (rows as u64).saturating_mul(MIN_ROW_BYTES) > file_size {
        return Err(SkyMapError::Fits(format!(
            "the header claims {rows} rows but the file is only {file_size} bytes"
        )));
    }
    if rows == 0 {
        return Err(SkyMapError::Empty);
    }
    let header = read_cards(&mut file)?;
    let uniq: Vec<i64> = hdu.read_col(&mut file, uniq_column).map_err(fits_error)?;
    let density: Vec<f64> = hdu
        .read_col(&mut file, density_column)
        .map_err(fits_error)?;
    let has_distance = distance_columns.is_some();
    let (distmu, distsigma) = match distance_columns {
        Some((mu, sigma)) => (
            hdu.read_col::<f64>(&mut file, mu).map_err(fits_error)?,
            hdu.read_col::<f64>(&mut file, sigma).map_err(fits_error)?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    // The pixels are built by zipping the columns: each must have one value per row.
    let lengths = [uniq.len(), density.len()];
    let distance_lengths = [distmu.len(), distsigma.len()];
    if lengths.iter().any(|&n| n != rows)
        || (has_distance && distance_lengths.iter().any(|&n| n != rows))
    {
        return Err(SkyMapError::Fits(format!(
            "the header claims {rows} rows but the columns hold {:?} values",
            [lengths, distance_lengths].concat()
        )));
    }
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

/// TFORM type codes the fitsio crate can describe; it panics on any other
/// (complex `C`/`M`, variable-length `P`/`Q`, an empty TFORM).
const DESCRIBABLE_TYPES: &str = "LXBSEJDIKAUVW";

/// Checks, with cfitsio alone, that the first extension is a binary table the
/// fitsio crate can describe without panicking: it panics on the column types
/// a sky map never has, and on ASCII tables, whose columns it reads as binary.
fn check_describable_table(file: &mut FitsFile) -> Result<(), SkyMapError> {
    use fitsio::errors::check_status;
    const BINARY_TBL: c_int = 2;
    let header_error = |status: c_int| {
        SkyMapError::Fits(format!(
            "the header of the extension after the primary HDU is invalid: {}",
            check_status(status)
                .err()
                .map_or_else(String::new, |e| describe(&e))
        ))
    };
    // SAFETY: `file` is an open FitsFile; ffgbcl's outputs are FLEN_VALUE (71)
    // byte buffers, NUL-terminated by cfitsio, and null for what we do not want.
    unsafe {
        let fptr = file.as_raw();
        let (mut hdu_type, mut columns, mut status): (c_int, c_int, c_int) = (0, 0, 0);
        fitsio_sys::ffmahd(fptr, 2, &mut hdu_type, &mut status);
        match status {
            0 => {}
            END_OF_FILE => {
                return Err(SkyMapError::NotMultiOrder(
                    "there is no table extension after the primary HDU".into(),
                ))
            }
            _ => return Err(header_error(status)),
        }
        if hdu_type != BINARY_TBL {
            return Err(SkyMapError::NotMultiOrder(
                "the first extension is not a binary table".into(),
            ));
        }
        fitsio_sys::ffgncl(fptr, &mut columns, &mut status);
        for number in 1..=columns {
            let mut name = [0 as c_char; 71];
            let mut form = [0 as c_char; 71];
            let mut repeat: std::ffi::c_long = 0;
            let null = std::ptr::null_mut();
            fitsio_sys::ffgbcl(
                fptr,
                number,
                name.as_mut_ptr(),
                null,
                form.as_mut_ptr(),
                &mut repeat,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                null,
                &mut status,
            );
            if status != 0 {
                return Err(header_error(status));
            }
            let form = CStr::from_ptr(form.as_ptr()).to_string_lossy();
            let code = form
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .chars()
                .next();
            if !code.is_some_and(|c| DESCRIBABLE_TYPES.contains(c)) {
                return Err(SkyMapError::NotMultiOrder(format!(
                    "column {number} ({}) has TFORM type {form:?}: a sky map's columns are numbers",
                    CStr::from_ptr(name.as_ptr()).to_string_lossy()
                )));
            }
        }
        if status != 0 {
            return Err(header_error(status));
        }
    }
    Ok(())
}

/// The name of a column that holds one number per row (an integer one for
/// UNIQ), or why it cannot be read as one.
fn checked(column: &ConcreteColumnDescription, integer: bool) -> Result<&str, SkyMapError> {
    use ColumnDataType::*;
    let kind = column.data_type.typ;
    let fits = match kind {
        Byte | SignedByte | Short | UnsignedShort | Int | Long | UnsignedLong | LongLong
        | UnsignedLongLong => true,
        Float | Double => !integer,
        Logical | Bit | Text | String => false,
    };
    let wanted = if integer { "integers" } else { "numbers" };
    if !fits {
        return Err(SkyMapError::NotMultiOrder(format!(
            "column {} holds {kind:?} values, not {wanted}",
            column.name
        )));
    }
    if column.data_type.repeat != 1 {
        return Err(SkyMapError::NotMultiOrder(format!(
            "column {} holds {} values per row, not one",
            column.name, column.data_type.repeat
        )));
    }
    Ok(&column.name)
}

/// cfitsio's status for reading past the end of the file: here, no extension.
const END_OF_FILE: i32 = 107;

fn fits_error(e: fitsio::errors::Error) -> SkyMapError {
    SkyMapError::Fits(describe(&e))
}

/// A fitsio error as a reader can use it (its Display shows Rust debug output).
fn describe(e: &fitsio::errors::Error) -> String {
    use fitsio::errors::Error;
    match e {
        Error::Fits(f) => format!("cfitsio status {}: {}", f.status, f.message),
        Error::Index(i) => format!("{} ({:?})", i.message, i.given),
        Error::Message(m) => m.clone(),
        other => other.to_string(),
    }
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

/// The largest flat map read (3 million pixels, 0.11° each): GUANO's maps
/// are far coarser, and a flat map is held whole.
pub const MAX_FLAT_NSIDE: u64 = 512;

/// Reads a sky map that is multi-order (as LVK's) or flat (one probability
/// per pixel, `ORDERING` RING or NESTED, `NSIDE` a power of two), as Swift
/// GUANO sends them. A flat map becomes the multi-order map of its pixels.
pub fn read_any_skymap(path: &Path) -> Result<SkyMap, SkyMapError> {
    match read_skymap(path) {
        Err(SkyMapError::NotMultiOrder(why)) => read_flat(path).map_err(|flat| match flat {
            SkyMapError::NotMultiOrder(flat_why) => {
                SkyMapError::NotMultiOrder(format!("{why}; nor is it a flat map: {flat_why}"))
            }
            other => other,
        }),
        other => other,
    }
}

fn read_flat(path: &Path) -> Result<SkyMap, SkyMapError> {
    let file_size = super::prescan::check_file(path)?;
    let mut file = FitsFile::open(path).map_err(fits_error)?;
    check_describable_table(&mut file)?;
    let hdu = file.hdu(1).map_err(fits_error)?;
    let HduInfo::TableInfo {
        column_descriptions,
        num_rows,
    } = &hdu.info
    else {
        return Err(SkyMapError::NotMultiOrder(
            "the first extension is not a table".into(),
        ));
    };
    let rows = *num_rows;
    let Some(first) = column_descriptions.first() else {
        return Err(SkyMapError::NotMultiOrder("the table has no column".into()));
    };
    let column = checked(first, false)?.to_string();
    let nside: i64 = hdu
        .read_key(&mut file, "NSIDE")
        .map_err(|_| SkyMapError::NotMultiOrder("no NSIDE keyword".into()))?;
    let ordering: String = hdu
        .read_key(&mut file, "ORDERING")
        .map_err(|_| SkyMapError::NotMultiOrder("no ORDERING keyword".into()))?;
    let nside = u64::try_from(nside)
        .ok()
        .filter(|n| n.is_power_of_two() && *n <= MAX_FLAT_NSIDE)
        .ok_or_else(|| {
            SkyMapError::NotMultiOrder(format!(
                "NSIDE {nside} is not a power of two up to {MAX_FLAT_NSIDE}"
            ))
        })?;
    let depth = nside.trailing_zeros() as u8;
    let pixels = 12 * nside * nside;
    if rows as u64 != pixels || pixels.saturating_mul(4) > file_size {
        return Err(SkyMapError::Fits(format!(
            "NSIDE {nside} means {pixels} rows; the table has {rows} (file of {file_size} bytes)"
        )));
    }
    let ring = match ordering.trim().to_ascii_uppercase().as_str() {
        "RING" => true,
        "NESTED" => false,
        other => {
            return Err(SkyMapError::NotMultiOrder(format!(
                "ORDERING {other:?} is neither RING nor NESTED"
            )))
        }
    };
    let probs: Vec<f64> = hdu.read_col(&mut file, &column).map_err(fits_error)?;
    if probs.len() != rows {
        return Err(SkyMapError::Fits(format!(
            "the header claims {rows} rows but the column holds {} values",
            probs.len()
        )));
    }
    let header = read_cards(&mut file)?;
    let layer = cdshealpix::nested::get(depth);
    let area = super::pixel_area_sr(depth);
    let pixels = probs
        .iter()
        .enumerate()
        .map(|(row, &p)| {
            if !(p.is_finite() && p >= 0.0) {
                return Err(SkyMapError::BadDensity { row, value: p });
            }
            let ipix = if ring {
                layer.from_ring(row as u64)
            } else {
                row as u64
            };
            Ok(Pixel::without_distance(depth, ipix, p / area))
        })
        .collect::<Result<Vec<_>, _>>()?;
    SkyMap::new(pixels, false, header)
}

//! What a sky-map file must pass before cfitsio opens it: cfitsio believes what
//! a file says about itself, and some of its beliefs cost memory.
//!
//! - It guesses the format and transparently inflates gzip, compress and pkzip
//!   files into memory: a few megabytes of compressed zeros in an alert would
//!   become gigabytes. A file must begin as the standard says every FITS file
//!   begins, with `SIMPLE = T`.
//! - It allocates its column descriptions from a table's `TFIELDS` before it
//!   checks it: `TFIELDS = 999999999` in an 8 KB file asks for 160 GB (found by
//!   fuzzing). The standard allows at most 999 columns.
//! - It reads a table's mandatory keywords (XTENSION, BITPIX, NAXIS, NAXIS1,
//!   NAXIS2, PCOUNT, GCOUNT, TFIELDS) by position, and when one is negative or
//!   out of place it goes on to allocate a size it never read: a different
//!   number of gigabytes or petabytes on each run (found by fuzzing). They
//!   must be there, in order, as the standard says, with sensible values.
//! - It copies a column's name, format, unit... into fixed buffers without
//!   checking their length when the value is not quoted: an unquoted `TTYPE1`
//!   of 70 characters overflows one, which glibc's fortified `strcpy` answers
//!   by aborting the process (found by fuzzing). These keywords' values are
//!   quoted strings in the standard, so anything else is refused.
//!
//! Only the headers cfitsio reads for us are checked: the primary one and the
//! first extension's. Anything else wrong with them is left to cfitsio, which
//! reports it as an error.

use std::path::Path;

use super::SkyMapError;

/// The first card of every FITS file, `SIMPLE = T` in fixed format (FITS 4.0,
/// section 4.4.1.1): `SIMPLE = F` declares a file that does not follow the standard.
const FITS_SIGNATURE: &[u8] = b"SIMPLE  =                    T";

/// The most columns a table may have (FITS 4.0, section 7.3.1).
const MAX_TFIELDS: i64 = 999;

/// The keywords that begin a table's header, in this order (FITS 4.0, section
/// 7.2.1); cfitsio reads them by position.
const TABLE_KEYWORDS: [&str; 8] = [
    "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "TFIELDS",
];

/// How errors name the table's header.
const FIRST_EXTENSION: &str = "the first extension";

const BLOCK: usize = 2880;
const CARD: usize = 80;

/// Checks the file at `path` and returns its size.
pub fn check_file(path: &Path) -> Result<u64, SkyMapError> {
    // Whole: an alert's sky map is at most 12 MiB (the 16 MiB message limit in base64).
    let bytes = std::fs::read(path).map_err(|e| SkyMapError::Fits(e.to_string()))?;
    check_bytes(&bytes)?;
    Ok(bytes.len() as u64)
}

/// Checks a FITS file's bytes (see the module's comment).
pub fn check_bytes(bytes: &[u8]) -> Result<(), SkyMapError> {
    check_signature(bytes)?;
    let mut start = 0;
    for hdu in ["the primary HDU", FIRST_EXTENSION] {
        let header = Header::at(bytes, start);
        // Every card that says it, not just the first: cfitsio reads the size
        // keywords by position and others by name.
        for value in header.values("TFIELDS") {
            if value
                .parse::<i64>()
                .is_ok_and(|n| !(0..=MAX_TFIELDS).contains(&n))
            {
                return Err(SkyMapError::Fits(format!(
                    "{hdu} declares TFIELDS = {value}; a table has at most {MAX_TFIELDS} columns"
                )));
            }
        }
        // The map's table is the first extension: a binary table, nothing else
        // (cfitsio reads 'BINTABLE' followed by anything as one, so we do too).
        if hdu == FIRST_EXTENSION && !header.cards.is_empty() {
            if !header.is_binary_table() {
                return Err(SkyMapError::NotMultiOrder(
                    "the first extension is not a binary table".into(),
                ));
            }
            check_table_keywords(hdu, &header)?;
        }
        if let Some(keyword) = header.unquoted_column_text() {
            return Err(SkyMapError::Fits(format!(
                "{hdu}'s {keyword} is not a quoted string, as the FITS standard says it must be"
            )));
        }
        start = match header.end {
            Some(end) => end.saturating_add(header.data_size()),
            None if header.cards.is_empty() => return Ok(()),
            // An END card we could not see may still be one to cfitsio: the
            // next header is then the next block that begins like one.
            None => match next_extension(bytes, start) {
                Some(next) => next,
                None => return Ok(()),
            },
        };
    }
    Ok(())
}

/// A table's header must begin with its mandatory keywords in order, each
/// after XTENSION a non-negative integer: cfitsio reads them by position and,
/// when one is not what it expects, goes on with a size it never read.
fn check_table_keywords(hdu: &str, header: &Header) -> Result<(), SkyMapError> {
    for (n, keyword) in TABLE_KEYWORDS.iter().enumerate().skip(1) {
        let card = header.cards.get(n).copied().unwrap_or_default();
        let value = Header::value_of(card, keyword).and_then(|v| v.parse::<i64>().ok());
        // A table's BITPIX is 8 (bytes); the sizes are counts.
        let (fits, wanted) = match *keyword {
            "BITPIX" => (value == Some(8), "8"),
            _ => (value.is_some_and(|v| v >= 0), "a non-negative integer"),
        };
        if !fits {
            let found = String::from_utf8_lossy(card.get(..30).unwrap_or(card));
            return Err(SkyMapError::Fits(format!(
                "{hdu} is a table whose {keyword} is not {wanted} in card {} (found {:?})",
                n + 1,
                found.trim_end()
            )));
        }
    }
    Ok(())
}

/// Whether a card is the END card: its keyword is END, whatever follows it
/// (cfitsio took `END  \x16` for one; found by fuzzing).
fn is_end_card(card: &[u8]) -> bool {
    card.starts_with(b"END")
        && !card[3..8]
            .iter()
            .any(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

/// The first block after the one holding `after` that begins with XTENSION.
fn next_extension(bytes: &[u8], after: usize) -> Option<usize> {
    (after / BLOCK + 1..)
        .map_while(|block| block.checked_mul(BLOCK))
        .take_while(|&at| at < bytes.len())
        .find(|&at| bytes[at..].starts_with(b"XTENSION"))
}

fn check_signature(bytes: &[u8]) -> Result<(), SkyMapError> {
    if bytes.starts_with(FITS_SIGNATURE) {
        return Ok(());
    }
    let what = match bytes {
        [] => "it is empty",
        [0x1f, 0x8b, ..] => "it is gzip-compressed",
        [0x1f, 0x9d, ..] => "it is compress(1)-compressed",
        [b'P', b'K', 3, 4, ..] => "it is a zip archive",
        [b'B', b'Z', b'h', ..] => "it is bzip2-compressed",
        [b'S', b'I', b'M', b'P', b'L', b'E', ..] => "its first card is not `SIMPLE = T`",
        _ => "it does not begin with the SIMPLE card",
    };
    Err(SkyMapError::NotFits(what.into()))
}

/// One header's cards (up to its END card, or to the end of the file: cfitsio
/// reads keywords before it looks for END), and where its data begins.
struct Header<'a> {
    cards: Vec<&'a [u8]>,
    /// The offset just past the header's last block, if it has an END card.
    end: Option<usize>,
}

impl<'a> Header<'a> {
    /// The header starting at `start` (no cards if there is none).
    fn at(bytes: &'a [u8], start: usize) -> Header<'a> {
        let mut cards = Vec::new();
        let mut at = start;
        while let Some(card) = at.checked_add(CARD).and_then(|next| bytes.get(at..next)) {
            at += CARD;
            if is_end_card(card) {
                let end = Some(at.div_ceil(BLOCK) * BLOCK);
                return Header { cards, end };
            }
            cards.push(card);
        }
        Header { cards, end: None }
    }

    /// The values of every `keyword = value` card, as written, without comments
    /// (text that is not UTF-8 as `?`, which is no number either).
    fn values(&self, keyword: &str) -> Vec<&'a str> {
        self.cards
            .iter()
            .filter_map(|c| Header::value_of(c, keyword))
            .collect()
    }

    /// The value of `card` if it is a `keyword = value` card.
    fn value_of(card: &'a [u8], keyword: &str) -> Option<&'a str> {
        if card.len() < CARD
            || card[..8].trim_ascii_end() != keyword.as_bytes()
            || &card[8..10] != b"= "
        {
            return None;
        }
        let value = card[10..].split(|&b| b == b'/').next().unwrap_or_default();
        Some(std::str::from_utf8(value).map_or("?", str::trim))
    }

    /// The first column keyword whose value must be a string (`TTYPEn`,
    /// `TFORMn`, `TUNITn`, `TDISPn`, `TDIMn`) and is not quoted, if any. A
    /// value indicator without its space (`TTYPE1  =x`) counts too: cfitsio
    /// reads it as one.
    fn unquoted_column_text(&self) -> Option<String> {
        const TEXT_KEYWORDS: [&str; 5] = ["TTYPE", "TFORM", "TUNIT", "TDISP", "TDIM"];
        self.cards.iter().find_map(|c| {
            let keyword = std::str::from_utf8(&c[..8]).ok()?.trim_end();
            let number = TEXT_KEYWORDS
                .iter()
                .find_map(|prefix| keyword.strip_prefix(prefix))?;
            if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let value = c[8..].strip_prefix(b"=")?.trim_ascii_start();
            (!value.starts_with(b"'")).then(|| keyword.to_string())
        })
    }

    /// A card's value, as written.
    fn raw_value(&self, keyword: &str) -> Option<&'a str> {
        self.values(keyword).first().copied()
    }

    /// A card's value as an integer, if it has one.
    fn integer(&self, keyword: &str) -> Option<i64> {
        self.raw_value(keyword)?.parse().ok()
    }

    /// Whether this is a binary table extension: its first card says so.
    fn is_binary_table(&self) -> bool {
        self.cards.first().is_some_and(|c| {
            c.starts_with(b"XTENSION=") && c[9..].trim_ascii_start().starts_with(b"'BINTABLE'")
        })
    }

    /// The size of the data after this header, in whole blocks (FITS 4.0,
    /// section 4.4.1.1), saturating: a lying size only ends the scan.
    fn data_size(&self) -> usize {
        let naxis = self.integer("NAXIS").unwrap_or(0).clamp(0, 999);
        let bits = self.integer("BITPIX").unwrap_or(8).unsigned_abs();
        let mut elements: u64 = if naxis == 0 { 0 } else { 1 };
        for n in 1..=naxis {
            let length = self.integer(&format!("NAXIS{n}")).unwrap_or(0).max(0) as u64;
            elements = elements.saturating_mul(length);
        }
        let pcount = self.integer("PCOUNT").unwrap_or(0).max(0) as u64;
        let gcount = self.integer("GCOUNT").unwrap_or(1).max(0) as u64;
        let bytes = (bits / 8)
            .saturating_mul(gcount)
            .saturating_mul(elements.saturating_add(pcount));
        usize::try_from(bytes.div_ceil(BLOCK as u64).saturating_mul(BLOCK as u64))
            .unwrap_or(usize::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cards: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cards.iter().chain(&["END"]) {
            out.extend(format!("{c:<80}").bytes());
        }
        out.resize(out.len().div_ceil(BLOCK) * BLOCK, b' ');
        out
    }

    #[test]
    fn tfields_beyond_the_standard_is_refused_before_cfitsio() {
        let mut file = header(&[
            "SIMPLE  =                    T",
            "BITPIX  =                    8",
            "NAXIS   =                    1",
            "NAXIS1  =                 3000",
        ]);
        file.resize(file.len() + 2 * BLOCK, 0);
        file.extend(header(&[
            "XTENSION= 'BINTABLE'",
            "BITPIX  =                    8",
            "NAXIS   =                    2",
            "NAXIS1  =                   16",
            "NAXIS2  =                   10",
            "PCOUNT  =                    0",
            "GCOUNT  =                    1",
            "TFIELDS =            999999999 / a lie",
        ]));
        let err = check_bytes(&file).unwrap_err().to_string();
        assert!(err.contains("TFIELDS = 999999999"), "{err}");
        let ok = String::from_utf8(file).unwrap().replace(
            "TFIELDS =            999999999",
            "TFIELDS =                    5",
        );
        assert!(check_bytes(ok.as_bytes()).is_ok());
    }

    #[test]
    fn a_table_must_state_its_sizes() {
        let table = |naxis2: &str| {
            let mut file = header(&[
                "SIMPLE  =                    T",
                "NAXIS   =                    0",
            ]);
            let mut cards = vec![
                "XTENSION= 'BINTABLE'".to_string(),
                "BITPIX  =                    8".into(),
                "NAXIS   =                    2".into(),
                "NAXIS1  =                   16".into(),
                "PCOUNT  =                    0".into(),
                "GCOUNT  =                    1".into(),
                "TFIELDS =                    2".into(),
            ];
            if !naxis2.is_empty() {
                cards.insert(4, format!("NAXIS2  = {naxis2:>20}"));
            }
            let cards: Vec<&str> = cards.iter().map(String::as_str).collect();
            file.extend(header(&cards));
            check_bytes(&file).map_err(|e| e.to_string())
        };
        assert!(table("12").is_ok());
        for (naxis2, shown) in [("-1", "-1"), ("'many'", "'many'"), ("", "PCOUNT")] {
            let err = table(naxis2).unwrap_err();
            assert!(
                err.contains("NAXIS2 is not a non-negative integer") && err.contains(shown),
                "{err}"
            );
        }
    }

    #[test]
    fn column_text_must_be_quoted() {
        let with = |card: &str| {
            let mut file = header(&[
                "SIMPLE  =                    T",
                "NAXIS   =                    0",
            ]);
            file.extend(header(&[
                "XTENSION= 'BINTABLE'",
                "BITPIX  =                    8",
                "NAXIS   =                    2",
                "NAXIS1  =                    8",
                "NAXIS2  =                    1",
                "PCOUNT  =                    0",
                "GCOUNT  =                    1",
                "TFIELDS =                    1",
                card,
            ]));
            check_bytes(&file).map_err(|e| e.to_string())
        };
        assert!(with("TTYPE1  = 'UNIQ    '").is_ok());
        assert!(with("TTYPE1  = 'UNIQ'").is_ok());
        let long = format!("TTYPE1  ={}", "w".repeat(71));
        for card in [
            long.as_str(),
            "TTYPE1  = UNIQ",
            "TFORM1  = 1K",
            "TUNIT12 =   sr",
        ] {
            let err = with(card).unwrap_err();
            assert!(err.contains("is not a quoted string"), "{card}: {err}");
        }
    }

    #[test]
    fn an_end_card_we_cannot_read_still_leads_to_the_extension() {
        let mut file = header(&[
            "SIMPLE  =                    T",
            "NAXIS   =                    0",
        ]);
        let end = file.windows(3).position(|w| w == b"END").unwrap();
        file[end + 5] = 0x16;
        file.extend(header(&["XTENSION= 'IMAGE   '"]));
        let err = check_bytes(&file).unwrap_err().to_string();
        assert!(err.contains("not a binary table"), "{err}");
    }

    #[test]
    fn only_fits_files_reach_cfitsio() {
        for (bytes, why) in [
            (&b""[..], "empty"),
            (&[0x1f, 0x8b, 8, 0][..], "gzip"),
            (&b"SIMPLE  =                    F"[..], "SIMPLE = T"),
            (&b"{\"json\": true}"[..], "SIMPLE card"),
        ] {
            let err = check_bytes(bytes).unwrap_err().to_string();
            assert!(err.contains(why), "{err}");
        }
    }

    #[test]
    fn a_lying_data_size_ends_the_scan_without_overflow() {
        let file = header(&[
            "SIMPLE  =                    T",
            "BITPIX  =                  -64",
            "NAXIS   =                    2",
            "NAXIS1  =  9223372036854775807",
            "NAXIS2  =  9223372036854775807",
        ]);
        assert!(check_bytes(&file).is_ok());
    }
}

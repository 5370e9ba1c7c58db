//! FITS header cards as `meta.yaml` shows them: typed values (text, logical,
//! integer, real), in file order, with the keywords that describe the table's
//! structure left out, as astropy's `Table.meta` (what the original wrote) does.

use serde_json::Value;

/// A header card's value.
#[derive(Debug, Clone, PartialEq)]
pub enum CardValue {
    Text(String),
    Logical(bool),
    Integer(i64),
    Real(f64),
    /// A keyword with no value (`HISTORY`, `COMMENT`, blank cards).
    Empty,
}

/// One header card.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub name: String,
    pub value: CardValue,
}

impl CardValue {
    /// Parses a card's value as cfitsio returns it (`'BAYESTAR'`, `T`, `11`, `3.2E-5`).
    pub fn parse(raw: &str) -> CardValue {
        let raw = raw.trim();
        if let Some(inner) = raw.strip_prefix('\'') {
            let inner = inner.strip_suffix('\'').unwrap_or(inner);
            return CardValue::Text(inner.replace("''", "'").trim_end().to_string());
        }
        match raw {
            "" => CardValue::Empty,
            "T" => CardValue::Logical(true),
            "F" => CardValue::Logical(false),
            _ => {
                if let Ok(i) = raw.parse::<i64>() {
                    CardValue::Integer(i)
                } else if let Ok(x) = raw.replace(['D', 'd'], "E").parse::<f64>() {
                    CardValue::Real(x)
                } else {
                    CardValue::Text(raw.to_string())
                }
            }
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            CardValue::Integer(i) => Some(*i as f64),
            CardValue::Real(x) => Some(*x),
            _ => None,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            CardValue::Text(s) => Value::from(s.as_str()),
            CardValue::Logical(b) => Value::from(*b),
            CardValue::Integer(i) => Value::from(*i),
            // NaN and infinities have no JSON number; keep them readable as text.
            CardValue::Real(x) if x.is_finite() => Value::from(*x),
            CardValue::Real(x) => Value::from(x.to_string()),
            CardValue::Empty => Value::Null,
        }
    }
}

/// Whether a keyword belongs in `HEADER`: not the table's structure, not a
/// column description, not HISTORY (the original's choice: it is long and only
/// says how the map was made), and not an empty card.
pub fn is_meta_keyword(name: &str) -> bool {
    const STRUCTURE: [&str; 8] = [
        "XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "TFIELDS", "EXTEND", "SIMPLE",
    ];
    const COLUMN_PREFIXES: [&str; 11] = [
        "NAXIS", "TTYPE", "TFORM", "TUNIT", "TNULL", "TSCAL", "TZERO", "TDISP", "TDIM", "TBCOL",
        "THEAP",
    ];
    if name.is_empty() || name == "HISTORY" || name == "END" || STRUCTURE.contains(&name) {
        return false;
    }
    !COLUMN_PREFIXES.iter().any(|prefix| {
        name.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.bytes().all(|b| b.is_ascii_digit()))
    })
}

/// The cards as the `HEADER` mapping of `meta.yaml`. `COMMENT` cards, which may
/// repeat, become one list, as in astropy.
pub fn to_json(cards: &[Card]) -> Value {
    let mut map = serde_json::Map::new();
    for card in cards {
        if card.name == "COMMENT" {
            let entry = map
                .entry("COMMENT")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let (Value::Array(list), CardValue::Text(text)) = (entry, &card.value) {
                list.push(Value::from(text.as_str()));
            }
        } else {
            map.insert(card.name.clone(), card.value.to_json());
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed() {
        assert_eq!(
            CardValue::parse("'BAYESTAR'"),
            CardValue::Text("BAYESTAR".into())
        );
        assert_eq!(
            CardValue::parse("'H1 L1   '"),
            CardValue::Text("H1 L1".into())
        );
        assert_eq!(CardValue::parse("'it''s'"), CardValue::Text("it's".into()));
        assert_eq!(CardValue::parse("T"), CardValue::Logical(true));
        assert_eq!(CardValue::parse("11"), CardValue::Integer(11));
        assert_eq!(
            CardValue::parse("39.76999609489013"),
            CardValue::Real(39.76999609489013)
        );
        assert_eq!(CardValue::parse("1.5D3"), CardValue::Real(1500.0));
        assert_eq!(CardValue::parse(""), CardValue::Empty);
    }

    #[test]
    fn structure_and_history_are_left_out() {
        for name in [
            "XTENSION", "NAXIS1", "TTYPE3", "TFORM12", "TUNIT2", "HISTORY", "TFIELDS",
        ] {
            assert!(!is_meta_keyword(name), "{name}");
        }
        for name in [
            "CREATOR", "DISTMEAN", "DATE-OBS", "MOCORDER", "TTYPEX", "MOC",
        ] {
            assert!(is_meta_keyword(name), "{name}");
        }
    }
}

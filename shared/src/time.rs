//! One reading of the times both programs meet: an alert's `time_created`, a
//! sky map's `DATE-OBS`, a marker's `written_at`, a `--since` on the command
//! line. They are all ISO 8601 in UTC or with an offset, so one parser serves.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Parses an ISO 8601 time: with `Z` or an offset (converted to UTC), or without
/// a zone (taken as UTC), with or without fractional seconds, `T` or space.
pub fn parse_utc(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let with_t = text.replacen(' ', "T", 1);
    if let Ok(t) = DateTime::parse_from_rfc3339(&with_t) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(&with_t, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_fractions_and_separators_give_the_same_utc_time() {
        for text in [
            "2023-04-24T00:02:04Z",
            "2023-04-24T00:02:04+00:00",
            "2023-04-24T02:02:04+02:00",
            "2023-04-23T23:02:04-01:00",
            "2023-04-24 00:02:04",
            "2023-04-24T00:02:04",
            " 2023-04-24T00:02:04Z ",
        ] {
            let t = parse_utc(text).unwrap_or_else(|| panic!("{text:?} parses"));
            assert_eq!(t.to_rfc3339(), "2023-04-24T00:02:04+00:00", "{text:?}");
        }
        let fits = parse_utc("2023-04-26T04:42:23.381972").expect("a FITS date");
        assert_eq!(fits.to_rfc3339(), "2023-04-26T04:42:23.381972+00:00");
    }

    #[test]
    fn what_is_not_a_time_is_none() {
        for text in ["", "yesterday", "2023-04-24", "2023-13-01T00:00:00Z"] {
            assert!(parse_utc(text).is_none(), "{text:?}");
        }
    }
}

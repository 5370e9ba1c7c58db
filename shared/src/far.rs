//! How the false-alarm rate an alert directory carries (meta.yaml's FAR, in
//! Hz) is said to people. One wording wherever a person reads it: the summary
//! `gocart-ingest` prints, the panel of `skymap.png`, and the pages of
//! `gocart-trigger serve`.

/// A false-alarm rate as people say it: "1 per 12.3 yrs", or days when it is
/// under 1000 days (the original's rule). A FAR of 0 is never a false alarm.
pub fn far_text(far_hz: f64) -> String {
    if far_hz <= 0.0 {
        return "0 Hz (no false alarms expected)".into();
    }
    let days = 1.0 / (far_hz * 86400.0);
    if days > 1000.0 {
        format!("1 per {:.1} yrs", days / 365.0)
    } else {
        format!("1 per {days:.1} days")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn far_reads_as_the_original_printed_it() {
        assert_eq!(far_text(9.11069936486e-14), "1 per 348050.0 yrs");
        assert_eq!(far_text(1e-6), "1 per 11.6 days");
        assert_eq!(far_text(0.0), "0 Hz (no false alarms expected)");
    }
}

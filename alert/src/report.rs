//! What is printed for each alert: the original's summary (EVENT, ALERT with its
//! delay, SIGNIFICANT, FAR as "1 per N yrs", CLASSIFICATION, PROPERTIES), each
//! filter's verdict, and the outcome. Observers read this on a terminal.

use gocart_shared::far::far_text;

use super::Alert;

/// The summary block of one alert, one line per entry.
pub fn summary(alert: &Alert) -> Vec<String> {
    let id = &alert.superevent_id;
    let alert_type = alert.alert_type.replace('_', " ");
    let created = alert.time_created_text.trim_end_matches('Z');
    let Some(event) = &alert.event else {
        return vec![
            format!("EVENT: {id}"),
            format!("ALERT: {alert_type} reported at {created} UTC"),
        ];
    };
    let mut lines = Vec::new();
    let detected = event
        .time_text
        .as_deref()
        .map(|t| format!(" detected at {} UTC", t.trim_end_matches('Z')))
        .unwrap_or_default();
    let group = event
        .group
        .as_deref()
        .map(|g| format!(" ({g})"))
        .unwrap_or_default();
    lines.push(format!("EVENT: {id}{detected}{group}"));
    let delay = event
        .time
        .map(|t| {
            let minutes = (alert.time_created - t).num_milliseconds() as f64 / 60_000.0;
            format!(" ({minutes:+.2} mins)")
        })
        .unwrap_or_default();
    lines.push(format!(
        "ALERT: {alert_type} reported at {created} UTC{delay}"
    ));
    if let Some(significant) = event.significant {
        lines.push(format!(
            "SIGNIFICANT: {}",
            if significant { "True" } else { "False" }
        ));
    }
    if let Some(far) = event.far {
        lines.push(format!("FAR: {}", far_text(far)));
    }
    if !event.classification.is_empty() {
        lines.push(format!(
            "CLASSIFICATION: {}",
            python_dict(&event.classification, true)
        ));
    }
    if !event.properties.is_empty() {
        lines.push(format!(
            "PROPERTIES: {}",
            python_dict(&event.properties, false)
        ));
    }
    lines
}

/// `{'BNS': 0.95, 'NSBH': 0.01}`, as the original printed Python dicts.
fn python_dict(pairs: &[(String, f64)], two_decimals: bool) -> String {
    let items: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = if two_decimals {
                (v * 100.0).round() / 100.0
            } else {
                *v
            };
            format!("'{k}': {}", python_float(v))
        })
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// Python's repr of a float: always with a decimal point.
fn python_float(x: f64) -> String {
    let text = format!("{x}");
    if text.contains(['.', 'e', 'i', 'N']) {
        text
    } else {
        format!("{text}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_of_a_real_alert() {
        let json = r#"{"alert_type":"PRELIMINARY","time_created":"2018-11-01T22:34:49Z",
          "superevent_id":"MS181101ab","event":{"significant":true,"time":"2018-11-01T22:22:46.654Z",
          "far":9.11069936486e-14,"group":"CBC","properties":{"HasNS":0.95,"HasRemnant":0.91},
          "classification":{"BNS":0.95,"NSBH":0.01,"BBH":0.03,"Terrestrial":0.0}}}"#;
        let alert = Alert::parse(json.as_bytes()).unwrap();
        assert_eq!(
            summary(&alert),
            vec![
                "EVENT: MS181101ab detected at 2018-11-01T22:22:46.654 UTC (CBC)",
                "ALERT: PRELIMINARY reported at 2018-11-01T22:34:49 UTC (+12.04 mins)",
                "SIGNIFICANT: True",
                "FAR: 1 per 348050.0 yrs",
                "CLASSIFICATION: {'BNS': 0.95, 'NSBH': 0.01, 'BBH': 0.03, 'Terrestrial': 0.0}",
                "PROPERTIES: {'HasNS': 0.95, 'HasRemnant': 0.91}",
            ]
        );
    }
}

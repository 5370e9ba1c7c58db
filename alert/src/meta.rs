//! `meta.yaml`: the map's header, the alert without its sky-map strings, and the
//! numbers we compute, in YAML that PyYAML (what plugins use) reads back exactly.

use serde_json::{json, Value};

use super::Alert;
use gocart_skymap::{header, SkyMap, Stats};

/// The `HEADER` / `ALERT` / `EXTRA` document.
pub fn document(alert: &Alert, map: Option<&SkyMap>, stats: Option<&Stats>) -> Value {
    json!({
        "HEADER": map.map(|m| header::to_json(&m.header)).unwrap_or_else(|| json!({})),
        "ALERT": alert.document_without_skymaps().clone(),
        "EXTRA": stats.map(Stats::to_json).unwrap_or_else(|| json!({})),
    })
}

/// The document as YAML text.
pub fn to_yaml(document: &Value) -> Result<String, String> {
    serde_saphyr::to_string(document).map_err(|e| e.to_string())
}

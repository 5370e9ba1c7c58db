//! `meta.yaml`: the map's header, the alert without its sky-map strings, and the
//! numbers we compute, in YAML that PyYAML (what plugins use) reads back exactly.

use serde_json::{json, Value};

use super::Alert;
use gocart_skymap::products::Products;
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

/// Adds the sky-map products to `EXTRA`: the event map's `distance`, `vol50`,
/// `vol90` and `modes90` beside its areas, and the combined map's areas and
/// products under `EXTRA.combined` (docs/contracts.md, "The sky-map products").
pub fn add_products(
    document: &mut Value,
    event: Option<&Products>,
    combined: Option<(&Stats, &Products)>,
) {
    let Some(extra) = document.get_mut("EXTRA").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(products) = event {
        extra.extend(products.to_json());
    }
    if let Some((stats, products)) = combined {
        let mut keys = stats.to_json();
        if let Some(keys) = keys.as_object_mut() {
            keys.extend(products.to_json());
        }
        extra.insert("combined".into(), keys);
    }
}

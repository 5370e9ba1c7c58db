//! Fuzz target: any bytes as an alert message. `Alert::parse` must refuse
//! what it cannot use with an error, never panic; what it accepts must go
//! through every step of the pipeline that needs no I/O (the directory name,
//! the printed summary, meta.yaml's document and its YAML) without panicking.

#![no_main]

use gocart_alert::{meta, report, Alert};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(alert) = Alert::parse(data) else {
        return;
    };
    let _ = alert.dir_name();
    let _ = alert.is_mock();
    let _ = alert.is_retraction();
    let _ = alert.skymap();
    let _ = alert.combined_skymap();
    let _ = report::summary(&alert);
    let document = meta::document(&alert, None, None);
    let _ = meta::to_yaml(&document);
});

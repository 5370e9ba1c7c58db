//! Fuzz target: any bytes as a GCN notice of every dossier kind. What
//! `recognise` and `Notice::parse` refuse must be an error, never a panic;
//! what they accept must give its directory names (plain names only) and
//! meta.yaml's document and YAML without panicking.

#![no_main]

use gocart_alert::meta;
use gocart_alert::model::is_plain_name;
use gocart_alert::notice::{recognise, Notice};
use gocart_shared::Kind;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = recognise(data);
    for kind in [
        Kind::Icecube,
        Kind::Circular,
        Kind::Boom,
        Kind::EinsteinProbe,
        Kind::SwiftGuano,
    ] {
        let Ok(notice) = Notice::parse(kind, data) else {
            continue;
        };
        assert!(!notice.targets.is_empty());
        for target in &notice.targets {
            assert!(is_plain_name(target.folder.id()), "{:?}", target.folder);
            let name = notice.dir_name(target);
            assert!(!name.contains('/') && !name.starts_with('.'), "{name}");
            let document = notice.meta(target, Some(true));
            let _ = meta::to_yaml(&document);
        }
    }
});

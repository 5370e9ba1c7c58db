//! What a directory of the tree holds: an LVK alert, or one of the other GCN
//! messages gathered into a superevent's dossier (docs/contracts.md, "Kinds").
//!
//! Both programs name kinds the same way: the marker records one, the
//! trigger's per-plugin `kinds:` chooses by it, plugins read it as
//! `GOCART_KIND`. A marker written before kinds existed has none: it is `lvk`.

use serde::{Deserialize, Serialize};

/// One kind of message, as the marker, the settings and `GOCART_KIND` spell it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An LVK alert (`igwn.gwalert`).
    #[default]
    Lvk,
    /// IceCube's neutrino search around an LVK alert.
    Icecube,
    /// A GCN circular.
    Circular,
    /// A BOOM optical candidate crossmatched to a GW event.
    Boom,
    /// An Einstein Probe WXT transient.
    EinsteinProbe,
    /// A Swift BAT-GUANO notice.
    SwiftGuano,
    /// Written by `listen` when the GCN heartbeat goes silent or comes back.
    Heartbeat,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Lvk,
        Kind::Icecube,
        Kind::Circular,
        Kind::Boom,
        Kind::EinsteinProbe,
        Kind::SwiftGuano,
        Kind::Heartbeat,
    ];

    /// The name in the marker, the settings and `GOCART_KIND`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Lvk => "lvk",
            Kind::Icecube => "icecube",
            Kind::Circular => "circular",
            Kind::Boom => "boom",
            Kind::EinsteinProbe => "einstein_probe",
            Kind::SwiftGuano => "swift_guano",
            Kind::Heartbeat => "heartbeat",
        }
    }

    /// The kind a name spells, if any.
    pub fn parse(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The GCN Kafka topic that carries this kind (none for the heartbeat
    /// directories, which `listen` writes itself).
    pub fn topic(self) -> Option<&'static str> {
        match self {
            Kind::Lvk => Some("igwn.gwalert"),
            Kind::Icecube => Some("gcn.notices.icecube.lvk_nu_track_search"),
            Kind::Circular => Some("gcn.circulars"),
            Kind::Boom => Some("gcn.notices.boom.alert"),
            Kind::EinsteinProbe => Some("gcn.notices.einstein_probe.wxt.alert"),
            Kind::SwiftGuano => Some("gcn.notices.swift.bat.guano"),
            Kind::Heartbeat => None,
        }
    }

    /// The kind a topic carries, if it is one we know.
    pub fn of_topic(topic: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.topic() == Some(topic))
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_topics_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            if let Some(topic) = kind.topic() {
                assert_eq!(Kind::of_topic(topic), Some(kind));
            }
        }
        assert_eq!(Kind::parse("LVK"), None);
        assert_eq!(Kind::of_topic("gcn.heartbeat"), None);
    }
}

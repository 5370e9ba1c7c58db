//! Whether GCN's heartbeat has gone silent, as plain data the listen loop
//! drives: `listen` writes a `feed/<stamp>_silent` directory when no
//! heartbeat has come for `gcn-kafka.heartbeat_alarm`, and a `_back` one when
//! the next arrives (docs/contracts.md, "Kinds"), so a plugin can page
//! someone that the feed is quiet.

use chrono::{DateTime, Utc};

/// What changed with the latest check or heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing heard since `since` (the last heartbeat, or the start).
    WentSilent { since: DateTime<Utc> },
    /// Heard again at `at`, after a silence from `since`.
    CameBack {
        since: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

/// The heartbeat's state.
#[derive(Debug, Clone)]
pub struct Silence {
    alarm: chrono::Duration,
    last_heard: DateTime<Utc>,
    silent_since: Option<DateTime<Utc>>,
}

impl Silence {
    /// Counting from `now` (the start: nothing heard yet is not a silence yet).
    pub fn new(alarm: std::time::Duration, now: DateTime<Utc>) -> Silence {
        Silence {
            alarm: chrono::Duration::from_std(alarm).unwrap_or(chrono::Duration::MAX),
            last_heard: now,
            silent_since: None,
        }
    }

    /// A heartbeat arrived at `now`.
    pub fn heard(&mut self, now: DateTime<Utc>) -> Option<Change> {
        self.last_heard = now;
        self.silent_since
            .take()
            .map(|since| Change::CameBack { since, at: now })
    }

    /// Whether the feed went silent by `now` (said once per silence).
    pub fn check(&mut self, now: DateTime<Utc>) -> Option<Change> {
        if self.silent_since.is_some() || now - self.last_heard < self.alarm {
            return None;
        }
        self.silent_since = Some(self.last_heard);
        Some(Change::WentSilent {
            since: self.last_heard,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silence_is_said_once_and_its_end_once() {
        let t0 = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let at = |s: i64| t0 + chrono::Duration::seconds(s);
        let mut silence = Silence::new(std::time::Duration::from_secs(300), t0);
        assert_eq!(silence.check(at(299)), None);
        assert_eq!(
            silence.heard(at(200)),
            None,
            "not silent: nothing came back"
        );
        assert_eq!(silence.check(at(499)), None);
        assert_eq!(
            silence.check(at(500)),
            Some(Change::WentSilent { since: at(200) })
        );
        assert_eq!(silence.check(at(900)), None, "said once");
        assert_eq!(
            silence.heard(at(901)),
            Some(Change::CameBack {
                since: at(200),
                at: at(901)
            })
        );
        assert_eq!(silence.heard(at(902)), None);
        assert_eq!(silence.check(at(1201)), None);
        assert_eq!(
            silence.check(at(1202)),
            Some(Change::WentSilent { since: at(902) })
        );
    }
}

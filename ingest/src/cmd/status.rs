//! `gocart-ingest status`: is `listen` running, and is it keeping up? Read
//! from the status file `listen` rewrites every few seconds in the state dir.
//! Exit status 0 when it runs, is connected, its file is fresh and nothing
//! lags; 1 otherwise (for scripts/monitors). `--json` gives the same facts as
//! one object.

use chrono::{DateTime, Utc};
use gocart_shared::Settings;
use serde::Serialize;

use crate::kafka::status::{
    pid_alive, Connection, Counts, LastAlert, LastError, Status, STALE_SECS,
};
use crate::kafka::HEARTBEAT_TOPIC;
use gocart_shared::cli::ExitStatus;
use gocart_shared::text::Escaped;

/// GCN sends a heartbeat every second; a minute without one is an outage.
const HEARTBEAT_LATE_SECS: i64 = 60;

pub fn run(settings: &Settings, json: bool) -> anyhow::Result<ExitStatus> {
    let state_dir = &settings.trigger.state_dir;
    let path = Status::path(state_dir);
    let (lines, healthy, object) = match Status::load(state_dir) {
        Ok(status) => {
            let facts = Facts::of(&status, Utc::now(), pid_alive(status.pid));
            (
                facts.lines(&status),
                facts.healthy,
                serde_json::to_value(&facts)?,
            )
        }
        Err(_) => {
            let problem = format!("listen has never run here (no {})", path.display());
            let object = serde_json::json!({
                "healthy": false,
                "never_ran": true,
                "problems": [problem],
            });
            (vec![format!("listen: {problem}")], false, object)
        }
    };
    if json {
        println!("{object}");
    } else {
        for line in lines {
            println!("{line}");
        }
    }
    Ok(if healthy {
        ExitStatus::Ok
    } else {
        ExitStatus::Failure
    })
}

/// What `status` tells, text or JSON.
#[derive(Debug, Serialize)]
pub struct Facts {
    pub healthy: bool,
    pub problems: Vec<String>,
    pub running: bool,
    pub pid: u32,
    pub group_id: String,
    pub servers: String,
    pub started: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub updated_age_s: Option<i64>,
    pub fresh: bool,
    pub connection: Option<Connection>,
    pub fenced: Option<String>,
    pub heartbeat_followed: bool,
    pub last_heartbeat_age_s: Option<i64>,
    pub last_alert_age_s: Option<i64>,
    pub last_alert: Option<LastAlert>,
    pub lag: Option<i64>,
    pub partitions: Vec<PartitionFacts>,
    pub counts: Counts,
    pub skipped_at_start: i64,
    pub last_error: Option<LastError>,
    pub never_ran: bool,
    /// The time the facts are about.
    #[serde(skip)]
    now: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
pub struct PartitionFacts {
    pub topic: String,
    pub partition: i32,
    pub committed: Option<i64>,
    pub end: Option<i64>,
    pub lag: Option<i64>,
}

impl Facts {
    pub fn of(s: &Status, now: DateTime<Utc>, alive: bool) -> Facts {
        let age = |t: Option<DateTime<Utc>>| t.map(|t| (now - t).num_seconds().max(0));
        let running = alive && s.stopped.is_none();
        let updated_age_s = age(s.updated);
        let fresh = updated_age_s.is_some_and(|a| a <= STALE_SECS);
        let lag = s.alert_lag(HEARTBEAT_TOPIC);
        let last_heartbeat_age_s = age(s.last_heartbeat);
        let mut problems = Vec::new();
        if let Some(f) = &s.fenced {
            problems.push(format!("fenced by another listener: {f}"));
        }
        if !running {
            problems.push("not running".to_string());
        } else {
            if !fresh {
                problems.push(format!(
                    "status file not updated for {} (stuck?)",
                    updated_age_s.map_or("ever".into(), |a| format!("{a} s"))
                ));
            }
            match &s.connection {
                Some(Connection::Up { .. }) => {}
                Some(c) => problems.push(connection_text(c, now)),
                None => problems.push("connection unknown".into()),
            }
            // The lag cannot show it: the broker reports ends only for
            // partitions held.
            if let Some(secs) = s.holding_none_for(now) {
                problems.push(format!(
                    "the group has handed this listener no partition for {secs} s: new alerts \
                     wait in the broker (restarting listen rejoins the group)"
                ));
            }
            if s.heartbeat_followed && last_heartbeat_age_s.is_none_or(|a| a > HEARTBEAT_LATE_SECS)
            {
                problems.push("no recent heartbeat".into());
            }
            if let Some(n) = lag.filter(|n| *n > 0) {
                problems.push(format!(
                    "{} behind",
                    gocart_shared::cli::count(n, "alert", "alerts")
                ));
            }
        }
        Facts {
            healthy: problems.is_empty(),
            problems,
            running,
            pid: s.pid,
            group_id: s.group_id.clone(),
            servers: s.servers.clone(),
            started: s.started,
            updated: s.updated,
            updated_age_s,
            fresh,
            connection: s.connection.clone(),
            fenced: s.fenced.clone(),
            heartbeat_followed: s.heartbeat_followed,
            last_heartbeat_age_s,
            last_alert_age_s: age(s.last_alert.as_ref().and_then(|a| a.at)),
            last_alert: s.last_alert.clone(),
            lag,
            partitions: s
                .partitions
                .iter()
                .filter(|p| p.topic != HEARTBEAT_TOPIC)
                .map(|p| PartitionFacts {
                    topic: p.topic.clone(),
                    partition: p.partition,
                    committed: p.committed,
                    end: p.end,
                    lag: p.lag(),
                })
                .collect(),
            counts: s.counts.clone(),
            skipped_at_start: s.skipped_at_start,
            last_error: s.last_error.clone(),
            never_ran: false,
            now,
        }
    }

    /// The text report, one fact a line, the verdict last.
    pub fn lines(&self, s: &Status) -> Vec<String> {
        let now = self.now;
        let mut lines = Vec::new();
        if self.running {
            lines.push(format!(
                "listen: running (pid {}, started {}) as group {} on {}",
                s.pid,
                ago(s.started, now),
                s.group_id,
                s.servers
            ));
        } else {
            let when = s.stopped.or(s.updated);
            lines.push(format!(
                "listen: NOT running (last seen {})",
                ago(when, now)
            ));
        }
        lines.push(format!("status file: updated {}", ago(s.updated, now)));
        let connection = match &s.connection {
            Some(c) => connection_text(c, now),
            None => "unknown".into(),
        };
        lines.push(format!("connection: {connection}"));
        if let Some(f) = &s.fenced {
            lines.push(format!("FENCED: {f}"));
        }
        if s.heartbeat_followed {
            lines.push(format!("last heartbeat: {}", ago(s.last_heartbeat, now)));
        }
        lines.push(format!("last message: {}", ago(s.last_message, now)));
        match &s.last_alert {
            // Names from the message (a rejected one's too): escaped.
            Some(a) => lines.push(format!(
                "last alert: {} {} ({}, {})",
                Escaped(&a.superevent_id),
                Escaped(&a.alert_type),
                a.outcome,
                ago(a.at, now)
            )),
            None => lines.push("last alert: none since start".into()),
        }
        lines.push(format!(
            "alerts since start: {} written, {} unchanged, {} skipped, {} rejected, {} failed \
             ({} old ones skipped on the first run)",
            s.counts.written,
            s.counts.unchanged,
            s.counts.skipped,
            s.counts.rejected,
            s.counts.failed,
            s.skipped_at_start
        ));
        for p in &self.partitions {
            lines.push(format!(
                "  {}/{}: committed {}, end {}, lag {}",
                p.topic,
                p.partition,
                opt(p.committed),
                opt(p.end),
                opt(p.lag)
            ));
        }
        match self.lag {
            Some(0) => {}
            Some(n) => lines.push(format!(
                "lag: {} not yet written",
                gocart_shared::cli::count(n, "alert", "alerts")
            )),
            None => lines.push("lag: unknown (waiting for the broker)".into()),
        }
        if let Some(e) = &s.last_error {
            lines.push(format!(
                "last error: {} ({})",
                Escaped(&e.message),
                ago(e.at, now)
            ));
        }
        lines.push(if self.healthy {
            "verdict: running and keeping up".into()
        } else {
            format!("verdict: {}", self.problems.join("; "))
        });
        lines
    }
}

/// "up since T", "connecting to HOST since T", "DOWN since T: cause".
fn connection_text(c: &Connection, now: DateTime<Utc>) -> String {
    match c {
        Connection::Up { since } => format!("up since {}", ago(Some(*since), now)),
        Connection::Connecting { host, since } => {
            format!("connecting to {host} since {}", ago(Some(*since), now))
        }
        Connection::Down { since, cause } => {
            format!("DOWN since {}: {cause}", ago(Some(*since), now))
        }
    }
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "?".into(), |v| v.to_string())
}

/// "2024-05-01T10:00:00Z (3 min ago)" or "never".
fn ago(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    let Some(t) = t else {
        return "never".into();
    };
    let secs = (now - t).num_seconds().max(0);
    let rel = match secs {
        s if s < 120 => format!("{s} s ago"),
        s if s < 7200 => format!("{} min ago", s / 60),
        s if s < 172_800 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    };
    format!("{} ({rel})", t.format("%Y-%m-%dT%H:%M:%SZ"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::status::{Cause, CauseKind, PartitionStatus};

    fn running(now: DateTime<Utc>) -> Status {
        Status {
            pid: 1,
            started: Some(now),
            updated: Some(now),
            connection: Some(Connection::Up { since: now }),
            partitions: vec![PartitionStatus {
                topic: "igwn.gwalert".into(),
                partition: 0,
                committed: Some(5),
                end: Some(5),
            }],
            ..Status::default()
        }
    }

    fn report(s: &Status, now: DateTime<Utc>, alive: bool) -> (Vec<String>, bool) {
        let facts = Facts::of(s, now, alive);
        (facts.lines(s), facts.healthy)
    }

    #[test]
    fn keeping_up_is_healthy() {
        let now = Utc::now();
        let (lines, ok) = report(&running(now), now, true);
        assert!(ok, "{lines:?}");
        assert!(lines.last().unwrap().contains("keeping up"));
    }

    #[test]
    fn lag_stale_file_and_dead_process_are_problems() {
        let now = Utc::now();
        let mut s = running(now);
        s.partitions[0].end = Some(8);
        let (lines, ok) = report(&s, now, true);
        assert!(!ok);
        assert!(
            lines.last().unwrap().contains("3 alerts behind"),
            "{lines:?}"
        );
        // 20 s without an update: stuck.
        let mut s = running(now);
        s.updated = Some(now - chrono::Duration::seconds(20));
        let (lines, ok) = report(&s, now, true);
        assert!(
            !ok && lines.last().unwrap().contains("not updated for 20 s"),
            "{lines:?}"
        );
        let (lines, ok) = report(&running(now), now, false);
        assert!(!ok);
        assert!(lines[0].contains("NOT running"));
    }

    #[test]
    fn a_listener_handed_no_partition_for_a_minute_is_not_healthy() {
        let now = Utc::now();
        let mut s = running(now);
        s.holding_none_since = Some(now - chrono::Duration::seconds(20));
        let (lines, ok) = report(&s, now, true);
        assert!(ok, "a group join takes a while: {lines:?}");
        s.holding_none_since = Some(now - chrono::Duration::seconds(95));
        let (lines, ok) = report(&s, now, true);
        assert!(!ok);
        assert!(
            lines.last().unwrap().contains("no partition for 95 s"),
            "{lines:?}"
        );
        s.holding_none_since = None;
        assert!(report(&s, now, true).1, "holding partitions again");
    }

    #[test]
    fn connecting_down_and_unknown_are_not_healthy() {
        let now = Utc::now();
        let mut s = running(now);
        s.connection = Some(Connection::Down {
            since: now,
            cause: Cause {
                kind: CauseKind::Refused,
                host: "127.0.0.1:1".into(),
                detail: "Connection refused".into(),
            },
        });
        let (lines, ok) = report(&s, now, true);
        assert!(!ok);
        let line = lines.iter().find(|l| l.starts_with("connection:")).unwrap();
        assert!(
            line.contains("DOWN since") && line.contains("127.0.0.1:1: connection refused"),
            "{line}"
        );
        s.connection = Some(Connection::Connecting {
            host: "kafka.gcn.nasa.gov".into(),
            since: now,
        });
        let (lines, ok) = report(&s, now, true);
        assert!(
            !ok && lines
                .iter()
                .any(|l| l.starts_with("connection: connecting to kafka.gcn.nasa.gov"))
        );
        s.connection = None;
        assert!(!report(&s, now, true).1);
    }

    #[test]
    fn a_file_from_before_the_connection_state_reads_as_unknown() {
        let old = r#"{"pid": 7, "group_id": "g", "servers": "b:1", "connected": true,
            "skipped_at_start": 0, "heartbeat_followed": false,
            "counts": {"written": 1, "unchanged": 0, "skipped": 0, "rejected": 0, "failed": 0},
            "partitions": []}"#;
        let s: Status = serde_json::from_str(old).unwrap();
        assert_eq!(s.pid, 7);
        assert!(s.connection.is_none());
        let (lines, _) = report(&s, Utc::now(), true);
        assert!(
            lines.iter().any(|l| l == "connection: unknown"),
            "{lines:?}"
        );
    }

    #[test]
    fn a_fenced_listener_says_so() {
        let now = Utc::now();
        let mut s = running(now);
        s.fenced = Some("FencedInstanceId: instance g-vm fenced".into());
        s.stopped = Some(now);
        let facts = Facts::of(&s, now, false);
        assert!(!facts.healthy);
        assert!(
            facts.problems[0].starts_with("fenced by another listener"),
            "{:?}",
            facts.problems
        );
        assert!(facts.lines(&s).iter().any(|l| l.starts_with("FENCED: ")));
    }

    #[test]
    fn names_and_errors_from_a_message_are_shown_escaped() {
        let now = Utc::now();
        let mut s = running(now);
        s.last_alert = Some(crate::kafka::status::LastAlert {
            superevent_id: "\u{1b}]0;x\u{7}".into(),
            alert_type: "A\r\nFAKE: ok".into(),
            outcome: "rejected".into(),
            at: Some(now),
        });
        s.last_error = Some(crate::kafka::status::LastError {
            at: Some(now),
            message: "\u{1b}[2J".into(),
        });
        let (lines, _) = report(&s, now, true);
        let text = lines.join("\n");
        assert!(!text.contains(['\u{1b}', '\r']), "{text:?}");
        assert!(
            text.contains("last alert: \\x1b]0;x\\x07 A\\r\\nFAKE: ok"),
            "{text}"
        );
        assert!(!text.lines().any(|l| l.starts_with("FAKE")), "{text}");
    }

    #[test]
    fn a_silent_heartbeat_is_a_problem() {
        let now = Utc::now();
        let mut s = running(now);
        s.heartbeat_followed = true;
        s.last_heartbeat = Some(now - chrono::Duration::seconds(300));
        let (lines, ok) = report(&s, now, true);
        assert!(!ok);
        assert!(lines.iter().any(|l| l.starts_with("last heartbeat")));
    }
}

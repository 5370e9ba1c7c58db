//! `gocart-ingest status`: is `listen` running, and is it keeping up? Read
//! from the status file `listen` rewrites every few seconds in the state dir.
//! Exit status 0 when it runs and keeps up, 1 otherwise (for scripts/monitors).

use chrono::{DateTime, Utc};
use gocart_shared::Settings;

use super::Exit;
use crate::kafka::status::{pid_alive, Status, REFRESH_SECS};
use crate::kafka::HEARTBEAT_TOPIC;

/// A status file older than this while the process lives means a stuck loop.
const STALE_SECS: i64 = 6 * REFRESH_SECS;

/// GCN sends a heartbeat every second; a minute without one is an outage.
const HEARTBEAT_LATE_SECS: i64 = 60;

pub fn run(settings: &Settings) -> anyhow::Result<Exit> {
    let state_dir = &settings.trigger.state_dir;
    let status = match Status::load(state_dir) {
        Ok(s) => s,
        Err(_) => {
            println!(
                "listen: has never run here (no {})",
                Status::path(state_dir).display()
            );
            return Ok(Exit::Rejected);
        }
    };
    let now = Utc::now();
    let (lines, healthy) = report(&status, now, pid_alive(status.pid));
    for line in lines {
        println!("{line}");
    }
    Ok(if healthy { Exit::Ok } else { Exit::Rejected })
}

/// The lines to print and whether all is well.
pub fn report(s: &Status, now: DateTime<Utc>, alive: bool) -> (Vec<String>, bool) {
    let mut lines = Vec::new();
    let running = alive && s.stopped.is_none();
    let mut problems = Vec::new();
    if running {
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
        problems.push("not running".to_string());
    }
    let age = s
        .updated
        .map(|u| (now - u).num_seconds())
        .unwrap_or(i64::MAX);
    if running && age > STALE_SECS {
        problems.push(format!("status not updated for {age} s (stuck?)"));
    }
    lines.push(format!(
        "connection: {}",
        if s.connected { "up" } else { "DOWN" }
    ));
    if running && !s.connected {
        problems.push("no connection to the broker".into());
    }
    if s.heartbeat_followed {
        lines.push(format!("last heartbeat: {}", ago(s.last_heartbeat, now)));
        let late = s
            .last_heartbeat
            .map(|h| (now - h).num_seconds() > HEARTBEAT_LATE_SECS)
            .unwrap_or(true);
        if running && late {
            problems.push("no recent heartbeat".into());
        }
    }
    lines.push(format!("last message: {}", ago(s.last_message, now)));
    if let Some(a) = &s.last_alert {
        lines.push(format!(
            "last alert: {} {} ({}, {})",
            a.superevent_id,
            a.alert_type,
            a.outcome,
            ago(a.at, now)
        ));
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
    for p in s.partitions.iter().filter(|p| p.topic != HEARTBEAT_TOPIC) {
        lines.push(format!(
            "  {}/{}: committed {}, end {}, lag {}",
            p.topic,
            p.partition,
            opt(p.committed),
            opt(p.end),
            opt(p.lag())
        ));
    }
    match s.alert_lag(HEARTBEAT_TOPIC) {
        Some(0) => {}
        Some(n) => {
            let alerts = gocart_shared::cli::count(n, "alert", "alerts");
            lines.push(format!("lag: {alerts} not yet written"));
            if running {
                problems.push(format!("{alerts} behind"));
            }
        }
        None => lines.push("lag: unknown (waiting for the broker)".into()),
    }
    if let Some(e) = &s.last_error {
        lines.push(format!("last error: {} ({})", e.message, ago(e.at, now)));
    }
    let healthy = problems.is_empty();
    lines.push(if healthy {
        "verdict: running and keeping up".into()
    } else {
        format!("verdict: {}", problems.join("; "))
    });
    (lines, healthy)
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
    use crate::kafka::status::PartitionStatus;

    fn running(now: DateTime<Utc>) -> Status {
        Status {
            pid: 1,
            started: Some(now),
            updated: Some(now),
            connected: true,
            partitions: vec![PartitionStatus {
                topic: "igwn.gwalert".into(),
                partition: 0,
                committed: Some(5),
                end: Some(5),
            }],
            ..Status::default()
        }
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
        let s = running(now - chrono::Duration::seconds(600));
        assert!(!report(&s, now, true).1);
        let (lines, ok) = report(&running(now), now, false);
        assert!(!ok);
        assert!(lines[0].contains("NOT running"));
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

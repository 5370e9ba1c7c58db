//! The pages, as typed HTML (maud): every value put into a page is escaped,
//! plugin output included. Pages work without JavaScript; the one embedded
//! script (`/static/live.js`) only adds new rows as directories complete.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

use crate::record::{RunRow, RunState, Summary};

use gocart_shared::far::far_text;

use super::catalog::AlertSummary;
use super::status::{IngestStatus, TriggerStatus};

/// A run of a plugin on the alert page, with the end of its output.
pub struct RunView {
    pub row: RunRow,
    pub output: Option<String>,
}

/// A directory of a superevent's folder, complete or not.
pub struct EventEntry {
    pub name: String,
    pub summary: Option<Arc<AlertSummary>>,
}

fn layout(title: &str, live: Option<&str>, now: DateTime<Utc>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " - gocart" }
                link rel="stylesheet" href="/static/style.css";
                link rel="icon" type="image/svg+xml" href="/static/icon.svg";
            }
            body data-live=[live] {
                header {
                    nav {
                        a.brand href="/" { "gocart" }
                        a href="/" { "Alerts" }
                        a href="/status" { "Status" }
                    }
                }
                main { (body) }
                footer { "read-only view of the alert tree, rendered " (now.format("%Y-%m-%d %H:%M:%S UTC")) }
                @if live.is_some() {
                    script src="/static/live.js" defer {}
                }
            }
        }
    }
}

/// `/`: every alert, newest first.
pub fn list_page(
    alerts: &[Arc<AlertSummary>],
    runs: &HashMap<String, Vec<RunRow>>,
    now: DateTime<Utc>,
) -> Markup {
    let body = html! {
        h1 { "Alerts " span.count { "(" (alerts.len()) ")" } }
        table.alerts {
            thead {
                tr {
                    th { "sky map" } th { "event" } th { "type" } th { "created" }
                    th { "significance" } th { "classification" } th { "FAR" }
                    th { "area90 (deg²)" } th { "plugins" }
                }
            }
            tbody #alerts {
                @for alert in alerts {
                    (alert_row(alert, runs_for(runs, alert), now))
                }
            }
        }
        @if alerts.is_empty() {
            p #no-alerts { "No complete alert directory yet. New ones appear here as they are written." }
        }
    };
    layout("Alerts", Some("list"), now, body)
}

fn runs_for<'a>(runs: &'a HashMap<String, Vec<RunRow>>, alert: &AlertSummary) -> &'a [RunRow] {
    runs.get(alert.dir.to_string_lossy().as_ref())
        .map_or(&[], Vec::as_slice)
}

/// One row of the list (also sent to open pages when a directory completes).
pub fn alert_row(alert: &AlertSummary, runs: &[RunRow], now: DateTime<Utc>) -> Markup {
    let page = format!("/alerts/{}", url_path(&alert.rel));
    html! {
        tr id=(format!("row-{}", alert.rel)) {
            td.thumb {
                @if alert.has_file("skymap.png") {
                    a href=(page) {
                        img src=(format!("/thumbs/{}", url_path(&alert.rel))) alt="sky map" loading="lazy" width="120";
                    }
                }
            }
            td { a href=(format!("/events/{}", url_path(alert.event_rel()))) { (alert.superevent_id) } }
            td { a href=(page) { (alert.alert_type) } }
            td { (time_and_age(&alert.time_created, now)) }
            td { (significance(alert.significant)) }
            td { (classification(&alert.classification)) }
            td { (alert.far.map(far_text).unwrap_or_else(|| "-".into())) }
            td.num { (alert.area90.map(|a| format!("{a:.1}")).unwrap_or_else(|| "-".into())) }
            td { (badges(runs)) }
        }
    }
}

/// `/alerts/<rel>`: one alert directory.
pub fn alert_page(
    alert: &AlertSummary,
    meta: &Value,
    runs: Option<&[RunView]>,
    now: DateTime<Utc>,
) -> Markup {
    let event = &meta["ALERT"]["event"];
    let title = format!("{} {}", alert.superevent_id, alert.alert_type);
    let body = html! {
        p.crumbs {
            a href="/" { "Alerts" } " / "
            a href=(format!("/events/{}", url_path(alert.event_rel()))) { (alert.superevent_id) } " / "
            (alert.rel.rsplit('/').next().unwrap_or_default())
        }
        h1 { (title) " " (significance(alert.significant)) }
        @if let Some(problem) = &alert.problem {
            p.problem { (problem) }
        }
        @if alert.has_file("skymap.png") {
            a href=(file_url(alert, "skymap.png")) {
                img.skymap src=(file_url(alert, "skymap.png")) alt=(format!("sky map of {title}"));
            }
        }
        h2 { "Summary" }
        table.kv {
            tr { th { "created" } td { (time_and_age(&alert.time_created, now)) } }
            tr { th { "FAR" } td { (alert.far.map(far_text).unwrap_or_else(|| "-".into())) } }
            tr { th { "classification" } td { (classification(&alert.classification)) } }
            tr { th { "group / pipeline" } td { (text_of(&event["group"])) " / " (text_of(&event["pipeline"])) } }
            tr { th { "instruments" } td { (text_of(&event["instruments"])) } }
            tr { th { "event time" } td { (text_of(&event["time"])) } }
        }
        h2 { "EXTRA" }
        (value_html(&meta["EXTRA"]))
        h2 { "Files" }
        table.files {
            thead { tr { th { "file" } th.num { "size" } th { "sha256" } } }
            tbody {
                @for file in &alert.files {
                    tr {
                        td { a href=(file_url(alert, &file.name)) download[!file.name.ends_with(".png")] { (file.name) } }
                        td.num { (size_text(file.size)) }
                        td.sha { code { (file.sha256.get(..16).unwrap_or(&file.sha256)) "…" } }
                    }
                }
            }
        }
        h2 { "Plugin runs" }
        @match runs {
            None => p { "No record yet: the trigger has not run on this tree." },
            Some([]) => p { "No plugin has run on this directory yet." },
            Some(runs) => {
                @for run in runs {
                    (run_section(run))
                }
            }
        }
    };
    layout(&title, None, now, body)
}

fn run_section(run: &RunView) -> Markup {
    let row = &run.row;
    html! {
        section.run {
            h3 { (badge(row)) " " (row.plugin) }
            table.kv {
                tr { th { "outcome" } td { (row.state.as_str()) @if let Some(exit) = &row.exit_status { " (" (exit) ")" } } }
                tr { th { "started" } td { (row.started_at.as_deref().unwrap_or("-")) } }
                tr { th { "duration" } td { (duration_text(row)) } }
                tr { th { "attempts" } td { (row.attempts) } }
                @if let Some(reason) = &row.reason {
                    tr { th { "reason" } td { (reason) } }
                }
            }
            @match &run.output {
                Some(output) if !output.is_empty() => pre.output { (output) },
                _ => p.quiet { "no output" },
            }
        }
    }
}

/// `/events/<rel>`: every directory of one superevent, in time order.
pub fn event_page(superevent_id: &str, entries: &[EventEntry], now: DateTime<Utc>) -> Markup {
    let body = html! {
        p.crumbs { a href="/" { "Alerts" } " / " (superevent_id) }
        h1 { (superevent_id) }
        table.alerts {
            thead { tr { th { "sky map" } th { "directory" } th { "type" } th { "created" } th { "significance" } th { "area90 (deg²)" } } }
            tbody {
                @for entry in entries {
                    @match &entry.summary {
                        Some(alert) => tr {
                            td.thumb {
                                @if alert.has_file("skymap.png") {
                                    img src=(format!("/thumbs/{}", url_path(&alert.rel))) alt="sky map" loading="lazy" width="120";
                                }
                            }
                            td { a href=(format!("/alerts/{}", url_path(&alert.rel))) { (entry.name) } }
                            td { (alert.alert_type) }
                            td { (time_and_age(&alert.time_created, now)) }
                            td { (significance(alert.significant)) }
                            td.num { (alert.area90.map(|a| format!("{a:.1}")).unwrap_or_else(|| "-".into())) }
                        },
                        None => tr.incomplete {
                            td {} td { (entry.name) } td colspan="4" { "not complete (no marker yet)" }
                        },
                    }
                }
            }
        }
    };
    layout(
        superevent_id,
        Some(&format!("event:{superevent_id}")),
        now,
        body,
    )
}

/// `/status`: both programs.
pub fn status_page(trigger: &TriggerStatus, ingest: &IngestStatus, now: DateTime<Utc>) -> Markup {
    let body = html! {
        h1 { "Status" }
        h2 { "gocart-ingest" }
        @match ingest {
            IngestStatus::Facts(facts) => {
                @let healthy = facts["healthy"].as_bool() == Some(true);
                p class=(if healthy { "verdict good" } else { "verdict bad" }) {
                    @if healthy { "running and keeping up" } @else { (problems(facts)) }
                }
                (value_html(facts))
            },
            IngestStatus::File(file) => {
                p { "The status file of `gocart-ingest listen` (gocart-ingest is not installed beside gocart-trigger):" }
                (value_html(file))
            },
            IngestStatus::Missing(why) => p.verdict.bad { (why) },
        }
        h2 { "gocart-trigger" }
        p { "record: " code { (trigger.record.display()) } }
        @match &trigger.summary {
            None => p { "No record yet: the trigger has not run." },
            Some(summary) => (trigger_summary(summary, trigger)),
        }
    };
    layout("Status", None, now, body)
}

fn problems(facts: &Value) -> String {
    let list: Vec<&str> = facts["problems"]
        .as_array()
        .map(|p| p.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if list.is_empty() {
        "not healthy".into()
    } else {
        list.join("; ")
    }
}

fn trigger_summary(summary: &Summary, trigger: &TriggerStatus) -> Markup {
    html! {
        table.kv {
            @for (state, n) in &summary.runs {
                tr { th { "runs " (state.as_str()) } td.num { (n) } }
            }
            tr { th { "runs queued (waiting for a place in their plugin's lane)" } td.num { (summary.queued) } }
            tr { th { "directories known" } td.num { (summary.dirs) } }
            tr { th { "skipped at the first start" } td.num { (summary.catch_up_skipped_dirs) } }
        }
        @for (why, n) in &summary.waiting {
            p.problem { (n) " waiting: " (why) }
        }
        @if !summary.invalid_dirs.is_empty() {
            h3 { "Invalid markers" }
            ul { @for (dir, problem) in &summary.invalid_dirs { li { code { (dir) } ": " (problem) } } }
        }
        h3 { "Last runs" }
        (runs_table(&trigger.last))
        h3 { "Failures" }
        (runs_table(&trigger.failures))
    }
}

fn runs_table(rows: &[RunRow]) -> Markup {
    html! {
        @if rows.is_empty() {
            p.quiet { "none" }
        } @else {
            table.runs {
                thead { tr { th { "started" } th { "outcome" } th { "plugin" } th { "directory" } th { "exit" } th { "duration" } } }
                tbody {
                    @for row in rows {
                        tr {
                            td { (row.started_at.as_deref().unwrap_or("-")) }
                            td { (badge(row)) }
                            td { (row.plugin) }
                            td { code { (row.dir) } }
                            td { (row.exit_status.as_deref().unwrap_or("-")) }
                            td { (duration_text(row)) }
                        }
                    }
                }
            }
        }
    }
}

pub fn not_found() -> Markup {
    layout(
        "Not found",
        None,
        Utc::now(),
        html! { h1 { "Not found" } p { "Nothing to show here. " a href="/" { "Back to the alerts" } } },
    )
}

pub fn needs_token() -> Markup {
    layout(
        "Token needed",
        None,
        Utc::now(),
        html! {
            h1 { "A token is needed" }
            p { "Open the link with " code { "?token=..." } " that you were given, or send "
                code { "Authorization: Bearer ..." } "." }
        },
    )
}

pub fn error_page(message: &str) -> Markup {
    layout(
        "Error",
        None,
        Utc::now(),
        html! { h1 { "Something went wrong" } pre.output { (message) } },
    )
}

fn badges(runs: &[RunRow]) -> Markup {
    html! {
        @for run in runs {
            (badge(run)) " "
        }
    }
}

/// A plugin's outcome as a small coloured label: `ok gp_page`.
fn badge(run: &RunRow) -> Markup {
    let class = match run.state {
        RunState::Ok => "badge ok",
        RunState::Failed => "badge failed",
        RunState::Running => "badge running",
        RunState::Pending => "badge pending",
        RunState::Skipped => "badge skipped",
        RunState::Filtered => "badge filtered",
    };
    let name = run.plugin.strip_prefix("gp_").unwrap_or(&run.plugin);
    let name = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    html! {
        span class=(class) title=(format!("{}: {}", run.plugin, run.state.as_str())) {
            (run.state.as_str()) " " (name)
        }
    }
}

fn significance(significant: Option<bool>) -> Markup {
    match significant {
        Some(true) => html! { span.badge.significant { "significant" } },
        Some(false) => html! { span.badge.low { "low significance" } },
        None => html! { "-" },
    }
}

fn classification(classes: &[(String, f64)]) -> Markup {
    html! {
        @for (i, (name, p)) in classes.iter().enumerate() {
            @if i > 0 { ", " }
            @if i == 0 { strong { (name) " " (format!("{:.0}%", p * 100.0)) } }
            @else { (name) " " (format!("{:.0}%", p * 100.0)) }
        }
    }
}

fn time_and_age(stamp: &str, now: DateTime<Utc>) -> Markup {
    let age = DateTime::parse_from_rfc3339(stamp)
        .ok()
        .map(|t| age_text((now - t.with_timezone(&Utc)).num_seconds()));
    html! {
        time datetime=(stamp) { (stamp.replace('T', " ")) }
        @if let Some(age) = age { br; small { (age) } }
    }
}

/// "42 s ago", "3 min ago", "5 h ago", "2 days ago".
fn age_text(secs: i64) -> String {
    match secs.max(0) {
        s if s < 120 => format!("{s} s ago"),
        s if s < 7200 => format!("{} min ago", s / 60),
        s if s < 172_800 => format!("{} h ago", s / 3600),
        s => format!("{} days ago", s / 86_400),
    }
}

fn duration_text(row: &RunRow) -> String {
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    };
    match (parse(&row.started_at), parse(&row.ended_at)) {
        (Some(start), Some(end)) => {
            let ms = (end - start).num_milliseconds().max(0);
            if ms < 10_000 {
                format!("{:.2} s", ms as f64 / 1000.0)
            } else {
                format!("{} s", ms / 1000)
            }
        }
        _ => "-".into(),
    }
}

fn size_text(bytes: u64) -> String {
    match bytes {
        b if b < 10 * 1024 => format!("{b} B"),
        b if b < 10 * 1024 * 1024 => format!("{} KiB", b / 1024),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// A scalar or a list of scalars as text; "-" for nothing.
fn text_of(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

/// Any YAML/JSON value as nested key-value tables.
fn value_html(value: &Value) -> Markup {
    match value {
        Value::Object(map) if map.is_empty() => html! { span.quiet { "(empty)" } },
        Value::Object(map) => html! {
            table.kv {
                @for (key, item) in map {
                    tr { th { (key) } td { (value_html(item)) } }
                }
            }
        },
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => html! {
            ol { @for item in items { li { (value_html(item)) } } }
        },
        other => html! { (text_of(other)) },
    }
}

fn file_url(alert: &AlertSummary, name: &str) -> String {
    format!("/files/{}/{}", url_path(&alert.rel), url_path(name))
}

/// A relative path with each name percent-encoded for a URL.
pub fn url_path(rel: &str) -> String {
    let mut out = String::with_capacity(rel.len());
    for byte in rel.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The stylesheet, embedded in the binary.
pub const STYLE: &str = include_str!("style.css");
/// The live-update script, embedded in the binary.
pub const LIVE_SCRIPT: &str = include_str!("live.js");

/// The tabs' icon: a source and two wave fronts.
pub const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 32 32\">\
<circle cx=\"16\" cy=\"16\" r=\"4\" fill=\"#3f8fd2\"/>\
<circle cx=\"16\" cy=\"16\" r=\"9\" fill=\"none\" stroke=\"#3f8fd2\" stroke-width=\"2.5\"/>\
<circle cx=\"16\" cy=\"16\" r=\"14\" fill=\"none\" stroke=\"#3f8fd2\" stroke-width=\"2\" opacity=\"0.5\"/>\
</svg>\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_output_is_escaped() {
        let view = RunView {
            row: RunRow {
                dir: "/t/a".into(),
                plugin: "gp_x.sh".into(),
                state: RunState::Failed,
                attempts: 1,
                exit_status: Some("exit 1".into()),
                started_at: Some("2026-01-01T00:00:00.000Z".into()),
                ended_at: Some("2026-01-01T00:00:01.500Z".into()),
                log_path: None,
                reason: None,
                kind: gocart_shared::Kind::Lvk,
            },
            output: Some("<script>alert(1)</script> & done".into()),
        };
        let html = run_section(&view).into_string();
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; done"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("1.50 s"), "{html}");
    }

    #[test]
    fn paths_are_encoded_for_urls() {
        assert_eq!(url_path("mockevents/MS1/a b"), "mockevents/MS1/a%20b");
        assert_eq!(url_path("x/<y>"), "x/%3Cy%3E");
    }
}

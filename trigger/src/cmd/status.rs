//! `gocart-trigger status`: is a trigger running, and is all well? From the
//! status file `watch` rewrites every few seconds (is a trigger alive and
//! fresh, what runs now, what is refused) and the record (counts per state,
//! queued apart from running, the directories per kind, those skipped at the
//! first start, invalid markers, the directories waiting and why, runs of
//! plugins gone from the folder as `orphaned`, the failures of the last
//! 24 h, the last runs, and each recent failure with the end of its output).
//! Exit 0 only when a trigger runs, its file is fresh, no directory waits
//! for plugins and no run failed in the last 24 h; 1 otherwise, with the
//! reasons. `--json`: the same facts as one object, for monitoring.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use gocart_shared::cli::count;
use gocart_shared::Settings;

use serde_json::{json, Value};

use crate::cli::StatusArgs;
use crate::record::{self, Record, RunRow, RunState, Summary};
use crate::runner::output::tail_lines;
use crate::runner::plugins::{discover, Refused};
use crate::watch::status::{WatchStatus, STALE_SECS};

/// How far back a failed run makes `status` fail, in hours.
const FAILED_WITHIN_HOURS: i64 = 24;

pub fn run(settings: &Settings, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let t = &settings.trigger;
    let record = Record::open(&t.state_dir)?;
    let now = Utc::now();
    let facts = Facts {
        trigger: TriggerFacts::of(WatchStatus::load(&t.state_dir), &t.state_dir, now),
        summary: record.summary()?,
        last: record.last_runs(args.last)?,
        failures: record.failures(args.last)?,
        failed_recently: record.failures_since(&record::time_text(
            now - chrono::Duration::hours(FAILED_WITHIN_HOURS),
        ))?,
        refused: discover(&t.plugins_dir, &t.python).refused,
        orphaned: Vec::new(),
    }
    .with_orphans(&t.plugins_dir);
    let problems = facts.problems();
    if args.json {
        let value = facts.as_json(&record, &problems);
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        facts.print(&record, &t.plugins_dir, &problems);
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// What the status file says of the trigger, judged now.
struct TriggerFacts {
    /// The file, if a trigger ever wrote it here.
    file: Option<WatchStatus>,
    /// Why there is no file to judge (never ran, unreadable).
    missing: Option<String>,
    running: bool,
    age_s: Option<i64>,
    fresh: bool,
}

impl TriggerFacts {
    fn of(
        loaded: Result<Option<WatchStatus>, crate::watch::status::StatusFileError>,
        state_dir: &Path,
        now: DateTime<Utc>,
    ) -> TriggerFacts {
        let (file, missing) = match loaded {
            Ok(Some(file)) => (Some(file), None),
            Ok(None) => (
                None,
                Some(format!(
                    "no trigger has run with this state dir (no {})",
                    WatchStatus::path(state_dir).display()
                )),
            ),
            Err(e) => (None, Some(e.to_string())),
        };
        let running = file.as_ref().is_some_and(WatchStatus::is_running);
        let age_s = file.as_ref().and_then(|f| f.age_s(now));
        TriggerFacts {
            running,
            age_s,
            fresh: age_s.is_some_and(|a| a <= STALE_SECS),
            file,
            missing,
        }
    }
}

/// Everything `status` tells, text or JSON.
struct Facts {
    trigger: TriggerFacts,
    summary: Summary,
    last: Vec<RunRow>,
    failures: Vec<RunRow>,
    failed_recently: Vec<RunRow>,
    refused: Vec<Refused>,
    /// Pending runs of plugins whose file is gone from the folder, per plugin.
    orphaned: Vec<(String, u64)>,
}

impl Facts {
    fn with_orphans(mut self, plugins_dir: &Path) -> Facts {
        self.orphaned = self
            .summary
            .pending_by_plugin
            .iter()
            .filter(|(plugin, _)| !is_present(plugins_dir, plugin))
            .cloned()
            .collect();
        self
    }

    fn is_orphaned(&self, row: &RunRow) -> bool {
        row.state == RunState::Pending && self.orphaned.iter().any(|(p, _)| *p == row.plugin)
    }

    /// The state a run is shown in: `orphaned` for a pending run of a plugin
    /// gone from the folder (it never runs unless the plugin comes back),
    /// `queued` for a claim whose process has not started.
    fn shown_state(&self, row: &RunRow) -> &'static str {
        match row.state {
            RunState::Running if row.started_at.is_none() => "queued",
            _ if self.is_orphaned(row) => "orphaned",
            state => state.as_str(),
        }
    }

    /// Counts per state as shown: `queued` beside `running`, `orphaned`
    /// apart from `pending`.
    fn counts(&self) -> Vec<(&'static str, u64)> {
        let orphaned: u64 = self.orphaned.iter().map(|(_, n)| n).sum();
        let mut counts = Vec::new();
        for (state, n) in &self.summary.runs {
            match state {
                RunState::Pending => counts.push(("pending", n.saturating_sub(orphaned))),
                RunState::Running => {
                    counts.push(("running", *n));
                    counts.push(("queued", self.summary.queued));
                }
                state => counts.push((state.as_str(), *n)),
            }
        }
        counts.push(("orphaned", orphaned));
        counts
    }

    /// Why `status` fails; empty when all is well.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let t = &self.trigger;
        if !t.running {
            let why = match (&t.missing, &t.file) {
                (Some(missing), _) => missing.clone(),
                (None, Some(file)) => match file.stopped {
                    Some(at) => format!("it stopped at {}", record::time_text(at)),
                    None => format!("pid {} is gone", file.pid),
                },
                (None, None) => "unknown".into(),
            };
            problems.push(format!("no trigger is running ({why})"));
        } else if !t.fresh {
            problems.push(format!(
                "the trigger's status file was not updated for {} (stuck?)",
                t.age_s.map_or("ever".into(), |a| format!("{a} s"))
            ));
        }
        let waiting: u64 = self.summary.waiting.iter().map(|(_, n)| n).sum();
        if waiting > 0 {
            problems.push(format!(
                "{} waiting for plugins",
                count(waiting, "directory", "directories")
            ));
        }
        if !self.failed_recently.is_empty() {
            problems.push(format!(
                "{} in the last 24 h",
                count(self.failed_recently.len(), "run failed", "runs failed")
            ));
        }
        problems
    }

    fn print(&self, record: &Record, plugins_dir: &Path, problems: &[String]) {
        println!("{}", self.trigger_line());
        if let Some(file) = self.trigger.file.as_ref().filter(|_| self.trigger.running) {
            for run in &file.running {
                println!(
                    "  running {} on {} since {}",
                    run.plugin,
                    run.dir.display(),
                    record::time_text(run.started)
                );
            }
        }
        println!("record: {}", record.path().display());
        let counts: Vec<String> = self
            .counts()
            .iter()
            .map(|(state, n)| format!("{state} {n}"))
            .collect();
        println!("runs: {}", counts.join(", "));
        let summary = &self.summary;
        println!(
            "directories: {} known, {} skipped at the first start (older than trigger.catch_up; run them with `gocart-trigger replay`)",
            summary.dirs, summary.catch_up_skipped_dirs
        );
        if !summary.kinds.is_empty() {
            let kinds: Vec<String> = summary
                .kinds
                .iter()
                .map(|(kind, n)| format!("{kind} {n}"))
                .collect();
            println!("kinds: {}", kinds.join(", "));
        }
        if !summary.invalid_dirs.is_empty() {
            println!("invalid markers: {}", summary.invalid_dirs.len());
            for (dir, problem) in &summary.invalid_dirs {
                println!("  {dir}: {problem}");
            }
        }
        for (why, n) in &summary.waiting {
            let dirs = if *n == 1 { "directory" } else { "directories" };
            println!("{n} {dirs} waiting: {why}");
        }
        if !self.refused.is_empty() {
            println!("plugins refused:");
            for refused in &self.refused {
                println!("  {}: {}", refused.plugin, refused.reason);
            }
        }
        for (plugin, n) in &self.orphaned {
            println!(
                "orphaned: {} of {plugin}, which is gone from {} (`gocart-trigger replay --plugin {plugin}` runs them if it comes back)",
                count(*n, "pending run", "pending runs"),
                plugins_dir.display()
            );
        }
        if !self.failed_recently.is_empty() {
            println!("failed in the last 24 h:");
            for row in &self.failed_recently {
                println!(
                    "  {} on {}: {} at {}",
                    row.plugin,
                    row.dir,
                    row.exit_status.as_deref().unwrap_or("-"),
                    row.ended_at.as_deref().unwrap_or("-")
                );
            }
        }
        self.print_runs("last runs", &self.last, false);
        self.print_runs("failures", &self.failures, true);
        if problems.is_empty() {
            println!("all well");
        } else {
            println!("NOT WELL: {}", problems.join("; "));
        }
    }

    /// `trigger: running (pid 12, since T; status 1 s old, last full scan T)`.
    fn trigger_line(&self) -> String {
        let t = &self.trigger;
        let Some(file) = &t.file else {
            return format!(
                "trigger: not running ({})",
                t.missing.as_deref().unwrap_or("unknown")
            );
        };
        let since = file.since.map_or("-".into(), record::time_text);
        if !t.running {
            let updated = file.updated.map_or("-".into(), record::time_text);
            return format!(
                "trigger: not running (pid {} started {since}, last seen {updated})",
                file.pid
            );
        }
        let age = t
            .age_s
            .map_or("never written".into(), |a| format!("{a} s old"));
        let scan = file.last_scan.map_or("-".into(), record::time_text);
        let stale = if t.fresh { "" } else { " STALE" };
        format!(
            "trigger: running (pid {}, since {since}; status file {age}{stale}; last full scan {scan}; {} now, {} queued, {} waiting for plugins)",
            file.pid,
            count(file.running.len(), "run", "runs"),
            file.queued,
            count(file.waiting, "directory", "directories")
        )
    }

    fn print_runs(&self, title: &str, rows: &[RunRow], with_output: bool) {
        if rows.is_empty() {
            return;
        }
        println!("{title}:");
        for row in rows {
            println!(
                "  {} {:<8} {} {} [{}] ({}, attempt {})",
                row.started_at.as_deref().unwrap_or("-"),
                self.shown_state(row),
                row.plugin,
                row.dir,
                row.kind,
                row.exit_status.as_deref().unwrap_or("-"),
                row.attempts
            );
            if row.state == RunState::Filtered {
                if let Some(reason) = &row.reason {
                    println!("      {reason}");
                }
            }
            if !with_output {
                continue;
            }
            if let Some(ended) = &row.ended_at {
                println!("      ended {ended}");
            }
            if let Some(reason) = &row.reason {
                println!("      {reason}");
            }
            if let Some(log) = &row.log_path {
                println!("      log: {log}");
                for line in tail_lines(&read_end(log), 8, 1500).lines() {
                    println!("      | {line}");
                }
            }
        }
    }

    fn as_json(&self, record: &Record, problems: &[String]) -> Value {
        let summary = &self.summary;
        let runs: serde_json::Map<String, Value> = self
            .counts()
            .into_iter()
            .map(|(state, n)| (state.to_string(), json!(n)))
            .collect();
        let invalid: Vec<Value> = summary
            .invalid_dirs
            .iter()
            .map(|(dir, problem)| json!({"dir": dir, "problem": problem}))
            .collect();
        let waiting: Vec<Value> = summary
            .waiting
            .iter()
            .map(|(why, n)| json!({"directories": n, "why": why}))
            .collect();
        let kinds: serde_json::Map<String, Value> = summary
            .kinds
            .iter()
            .map(|(kind, n)| (kind.as_str().to_string(), json!(n)))
            .collect();
        let t = &self.trigger;
        let file = t.file.as_ref();
        let orphaned: Vec<Value> = self
            .orphaned
            .iter()
            .map(|(plugin, n)| json!({"plugin": plugin, "runs": n}))
            .collect();
        let failed: Vec<Value> = self
            .failed_recently
            .iter()
            .map(|row| {
                json!({
                    "plugin": row.plugin,
                    "dir": row.dir,
                    "exit": row.exit_status,
                    "ended_at": row.ended_at,
                    "reason": row.reason,
                })
            })
            .collect();
        json!({
            "healthy": problems.is_empty(),
            "problems": problems,
            "trigger": {
                "running": t.running,
                "fresh": t.fresh,
                "pid": file.map(|f| f.pid),
                "since": file.and_then(|f| f.since),
                "updated": file.and_then(|f| f.updated),
                "updated_age_s": t.age_s,
                "stopped": file.and_then(|f| f.stopped),
                "last_scan": file.and_then(|f| f.last_scan),
                "running_now": file.map(|f| f.running.clone()).unwrap_or_default(),
                "queued": file.map_or(0, |f| f.queued),
                "waiting": file.map_or(0, |f| f.waiting),
                "missing": t.missing,
            },
            "plugins_refused": self.refused,
            "record": record.path(),
            "runs": runs,
            "orphaned": orphaned,
            "directories": {
                "known": summary.dirs,
                "skipped_at_first_start": summary.catch_up_skipped_dirs,
                "invalid": invalid,
                "waiting": waiting,
                "kinds": kinds,
            },
            "failed_last_24h": failed,
            "last_runs": self.last.iter().map(|r| self.run_json(r)).collect::<Vec<_>>(),
            "failures": self.failures.iter().map(|r| self.run_json(r)).collect::<Vec<_>>(),
        })
    }

    fn run_json(&self, row: &RunRow) -> Value {
        json!({
            "dir": row.dir,
            "kind": row.kind.as_str(),
            "plugin": row.plugin,
            "state": self.shown_state(row),
            "attempts": row.attempts,
            "exit": row.exit_status,
            "started_at": row.started_at,
            "ended_at": row.ended_at,
            "reason": row.reason,
            "log": row.log_path,
        })
    }
}

/// Whether the plugin's file is in the folder (a broken link counts as gone).
fn is_present(plugins_dir: &Path, plugin: &str) -> bool {
    plugins_dir.join(plugin).exists()
}

/// The last 4 KiB of a log file (empty if it cannot be read).
fn read_end(path: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let _ = file.seek(SeekFrom::Start(len.saturating_sub(4096)));
        let _ = file.read_to_end(&mut bytes);
    }
    bytes
}

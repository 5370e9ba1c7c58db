//! `gocart-trigger status`: what the record says, for a person: counts per
//! state, the directories per kind, those skipped at the first start, invalid
//! markers, the directories waiting and why, the last runs (with the kind of
//! their directory; a `filtered` one with its reason), and each recent failure
//! with the end of its output. `--json`: the same as one object, for monitoring.

use std::io::{Read, Seek, SeekFrom};
use std::process::ExitCode;

use gocart_shared::Settings;

use serde_json::{json, Value};

use crate::cli::StatusArgs;
use crate::record::{Record, RunRow, RunState, Summary};
use crate::runner::output::tail_lines;

pub fn run(settings: &Settings, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let record = Record::open(&settings.trigger.state_dir)?;
    let summary = record.summary()?;
    let last = record.last_runs(args.last)?;
    let failures = record.failures(args.last)?;
    if args.json {
        let value = as_json(&record, &summary, &last, &failures);
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("record: {}", record.path().display());
    let counts: Vec<String> = summary
        .runs
        .iter()
        .map(|(state, n)| format!("{} {n}", state.as_str()))
        .collect();
    println!("runs: {}", counts.join(", "));
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
    print_runs("last runs", &last, false);
    print_runs("failures", &failures, true);
    Ok(ExitCode::SUCCESS)
}

fn as_json(record: &Record, summary: &Summary, last: &[RunRow], failures: &[RunRow]) -> Value {
    let runs: serde_json::Map<String, Value> = summary
        .runs
        .iter()
        .map(|(state, n)| (state.as_str().to_string(), json!(n)))
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
    json!({
        "record": record.path(),
        "runs": runs,
        "directories": {
            "known": summary.dirs,
            "skipped_at_first_start": summary.catch_up_skipped_dirs,
            "invalid": invalid,
            "waiting": waiting,
            "kinds": kinds,
        },
        "last_runs": last.iter().map(run_json).collect::<Vec<_>>(),
        "failures": failures.iter().map(run_json).collect::<Vec<_>>(),
    })
}

fn run_json(row: &RunRow) -> Value {
    json!({
        "dir": row.dir,
        "kind": row.kind.as_str(),
        "plugin": row.plugin,
        "state": row.state.as_str(),
        "attempts": row.attempts,
        "exit": row.exit_status,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "reason": row.reason,
        "log": row.log_path,
    })
}

fn print_runs(title: &str, rows: &[RunRow], with_output: bool) {
    if rows.is_empty() {
        return;
    }
    println!("{title}:");
    for row in rows {
        println!(
            "  {} {:<8} {} {} [{}] ({}, attempt {})",
            row.started_at.as_deref().unwrap_or("-"),
            row.state.as_str(),
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

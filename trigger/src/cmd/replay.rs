//! `gocart-trigger replay`: runs plugins on directories that already exist,
//! the explicit way to catch up (skipped by `catch_up`, failed, or completed
//! before a plugin was added). Runs already `ok` stay alone unless `--force`.
//! It claims runs in the record like the watcher does, so the two can run at
//! the same time without running anything twice.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use chrono::{DateTime, NaiveDate, Utc};
use gocart_shared::{Marker, Settings, Tree, MARKER_NAME};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::ReplayArgs;
use crate::record::Record;
use crate::runner::job::{self, Context, DirResult, Looked, Mode};
use crate::runner::pool::Pool;
use crate::shutdown::Shutdown;

pub fn run(settings: &Settings, args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let shutdown = Shutdown::install()?;
    let tree = Tree::new(super::tree_root(&settings.lvk.download_dir)?);
    let state_dir = &settings.trigger.state_dir;
    let record = Record::open(state_dir)?;
    record.recover_interrupted()?;
    let dirs = select(&tree, args)?;
    let mode = Mode::Replay {
        force: args.force,
        plugin: args.plugin.clone(),
        dry_run: args.dry_run,
    };
    let ctx = Arc::new(Context::new(
        settings,
        tree.root().to_owned(),
        args.kill_grace,
        shutdown,
    ));
    if args.dry_run {
        return dry_run(&ctx, &record, &dirs, &mode);
    }
    let totals = run_all(&ctx, state_dir, settings.trigger.concurrency, &dirs, mode)?;
    println!(
        "replayed {} directories: {} runs, {} failed, {} invalid markers",
        dirs.len(),
        totals.ran,
        totals.failed,
        totals.invalid
    );
    let bad = totals.failed > 0 || totals.invalid > 0;
    Ok(if bad {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Default)]
struct Totals {
    ran: u32,
    failed: u32,
    invalid: u32,
}

fn dry_run(
    ctx: &Context,
    record: &Record,
    dirs: &[PathBuf],
    mode: &Mode,
) -> anyhow::Result<ExitCode> {
    let plugins = ctx.plugins();
    for dir in dirs {
        let Looked::Done(result) = job::look(record, dir, mode, plugins.as_deref(), None)? else {
            continue;
        };
        for plugin in result.would_run {
            println!("would run {plugin} on {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_all(
    ctx: &Arc<Context>,
    state_dir: &Path,
    concurrency: usize,
    dirs: &[PathBuf],
    mode: Mode,
) -> anyhow::Result<Totals> {
    let pool = Pool::start(ctx.clone(), state_dir, concurrency, mode)?;
    for dir in dirs {
        pool.submit(dir.clone());
    }
    let bar = progress_bar(dirs.len() as u64);
    let mut totals = Totals::default();
    for _ in dirs {
        let Ok(done) = pool.done().recv() else { break };
        bar.inc(1);
        let result: DirResult = done.result.unwrap_or_default();
        totals.ran += result.ran;
        totals.failed += result.failed;
        totals.invalid += u32::from(result.invalid);
    }
    bar.finish_and_clear();
    pool.close();
    Ok(totals)
}

/// A progress bar on a terminal; nothing otherwise (logs and pipes stay clean).
fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} directories ({eta})") {
        bar.set_style(style);
    }
    bar
}

/// The directories to replay: the paths given (or the whole tree), filtered.
fn select(tree: &Tree, args: &ReplayArgs) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    if args.paths.is_empty() {
        dirs = tree.complete_alert_dirs();
    }
    for path in &args.paths {
        dirs.extend(dirs_at(tree, path)?);
    }
    dirs.sort();
    dirs.dedup();
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let filtering = args.event.is_some() || args.alert_type.is_some() || since.is_some();
    if filtering {
        dirs.retain(|dir| keep(dir, args, since));
    }
    Ok(dirs)
}

fn dirs_at(tree: &Tree, path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let path = path
        .canonicalize()
        .with_context(|| format!("{} does not exist", path.display()))?;
    if path.join(MARKER_NAME).is_file() {
        return Ok(vec![path]);
    }
    if tree.level_of(&path).is_none() {
        bail!(
            "{} is neither a complete alert directory nor a folder of the alert tree {}",
            path.display(),
            tree.root().display()
        );
    }
    Ok(tree.complete_alert_dirs_in(&path))
}

fn keep(dir: &Path, args: &ReplayArgs, since: Option<DateTime<Utc>>) -> bool {
    let Ok(marker) = Marker::read(dir) else {
        return true; // replay reports the bad marker
    };
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    if args
        .event
        .as_deref()
        .is_some_and(|e| !same(e, &marker.superevent_id))
    {
        return false;
    }
    if args
        .alert_type
        .as_deref()
        .is_some_and(|t| !same(t, &marker.alert_type))
    {
        return false;
    }
    if let Some(since) = since {
        let created = gocart_shared::alert::parse_utc(&marker.time_created)
            .or_else(|| gocart_shared::alert::parse_utc(&marker.written_at));
        return created.is_some_and(|t| t >= since);
    }
    true
}

/// `2026-01-31`, `2026-01-31T12:00:00Z`, or an age such as `7d` or `12h`.
fn parse_since(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Some(t) = gocart_shared::alert::parse_utc(text) {
        return Ok(t);
    }
    if let Ok(day) = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d") {
        if let Some(t) = day.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    if let Some(age) = gocart_shared::settings::parse_duration(text) {
        let since = chrono::Duration::from_std(age)
            .ok()
            .and_then(|age| Utc::now().checked_sub_signed(age));
        return Ok(since.unwrap_or(DateTime::<Utc>::MIN_UTC));
    }
    bail!("--since {text:?}: not a date (2026-01-31, 2026-01-31T12:00:00Z) or an age (7d, 12h)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_dates_times_and_ages() {
        assert_eq!(
            parse_since("2026-01-31").unwrap().to_rfc3339(),
            "2026-01-31T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-01-31T12:00:00Z").unwrap().to_rfc3339(),
            "2026-01-31T12:00:00+00:00"
        );
        let week = parse_since("7d").unwrap();
        assert!((Utc::now() - week).num_days() == 7);
        assert!(parse_since("yesterday").is_err());
        assert_eq!(
            parse_since("99999999999d").unwrap(),
            DateTime::<Utc>::MIN_UTC
        );
    }
}

//! `gocart-trigger replay`: runs plugins on directories that already exist,
//! the explicit way to catch up (skipped by `catch_up`, failed, or completed
//! before a plugin was added; `filtered` ones are judged again by the
//! plugin's filters as they are now). Runs already `ok` stay alone unless
//! `--force`. `--kind` takes the directories of one kind only.
//! It claims runs in the record like the watcher does, so the two can run at
//! the same time without running anything twice.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use gocart_shared::cli::{count, UsageError};
use gocart_shared::{Marker, Settings, Tree, MARKER_NAME};
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::ReplayArgs;
use crate::record::Record;
use crate::runner::job::{self, matches_name, Context, DirResult, Looked, Mode};
use crate::runner::pool::Pool;
use gocart_shared::shutdown::Shutdown;

pub fn run(settings: &Settings, args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let shutdown = Shutdown::install(super::STOP)?;
    let tree = Tree::new(super::tree_root(&settings.lvk.download_dir)?);
    let state_dir = &settings.trigger.state_dir;
    let record = Record::open(state_dir)?;
    record.recover_interrupted()?;
    let ctx = Arc::new(Context::new(
        settings,
        tree.root().to_owned(),
        args.kill_grace,
        shutdown,
    ));
    if let Some(unmatched) = unmatched_plugin(&ctx, args) {
        return Err(UsageError(unmatched).into());
    }
    let (dirs, looked_at) = select(&tree, args)?;
    tracing::debug!(
        "{} of {looked_at} selected by the filters",
        count(dirs.len(), "directory", "directories")
    );
    if dirs.is_empty() {
        // A filter that matches nothing is a mistake worth an error (a
        // mistyped event id); an empty tree is just nothing to do.
        let message = no_directory(&tree, args, looked_at);
        if filter_words(args).is_empty() {
            println!("replay: {message}");
            return Ok(ExitCode::SUCCESS);
        }
        return Err(UsageError(message).into());
    }
    let mode = Mode::Replay {
        force: args.force,
        plugin: args.plugin.clone(),
        dry_run: args.dry_run,
    };
    if args.dry_run {
        return dry_run(&ctx, &record, &dirs, &mode, args);
    }
    let totals = run_all(&ctx, state_dir, settings.trigger.concurrency, &dirs, mode)?;
    let filtered = match totals.filtered {
        0 => String::new(),
        n => format!(", {n} filtered"),
    };
    println!(
        "replayed {}: {}, {} failed{filtered}, {}{}",
        count(dirs.len(), "directory", "directories"),
        count(totals.ran, "run", "runs"),
        totals.failed,
        count(totals.invalid, "invalid marker", "invalid markers"),
        if totals.ran == 0 {
            nothing_due(args)
        } else {
            ""
        }
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
    filtered: u32,
    invalid: u32,
}

fn dry_run(
    ctx: &Context,
    record: &Record,
    dirs: &[PathBuf],
    mode: &Mode,
    args: &ReplayArgs,
) -> anyhow::Result<ExitCode> {
    let plugins = ctx.plugins();
    let mut would_run = 0;
    for dir in dirs {
        let Looked::Done(result) = job::look(record, dir, mode, plugins.as_deref(), None)? else {
            continue;
        };
        for plugin in result.would_run {
            println!("would run {plugin} on {}", dir.display());
            would_run += 1;
        }
        for (plugin, reason) in result.would_filter {
            println!(
                "would record {plugin} as filtered on {}: {reason}",
                dir.display()
            );
        }
    }
    if would_run == 0 {
        println!(
            "nothing would run on the {}{}",
            count(dirs.len(), "directory", "directories"),
            nothing_due(args)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a replay that found directories ran nothing, when it is not obvious.
fn nothing_due(args: &ReplayArgs) -> &'static str {
    if args.force {
        ""
    } else {
        " (runs already ok are left alone: --force runs them again)"
    }
}

/// What to say when no directory is left to replay: which filters matched
/// nothing, or that there is nothing where the replay looked.
fn no_directory(tree: &Tree, args: &ReplayArgs, looked_at: usize) -> String {
    let filters = filter_words(args);
    let looked = if args.paths.is_empty() {
        format!("the alert tree {}", tree.root().display())
    } else {
        let paths: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        paths.join(", ")
    };
    if filters.is_empty() || looked_at == 0 {
        format!("no complete alert directory in {looked}; nothing run")
    } else {
        format!(
            "no directory matches {filters} ({} in {looked}); nothing run",
            count(looked_at, "complete directory", "complete directories")
        )
    }
}

/// `--event MS1 --alert-type initial --since 7d`: the directory filters given.
fn filter_words(args: &ReplayArgs) -> String {
    let given = [
        ("--event", &args.event),
        ("--alert-type", &args.alert_type),
        ("--kind", &args.kind.map(|k| k.to_string())),
        ("--since", &args.since),
    ];
    let words: Vec<String> = given
        .iter()
        .filter_map(|(flag, value)| value.as_ref().map(|v| format!("{flag} {v}")))
        .collect();
    words.join(" ")
}

/// `--plugin NAME` when it names none of the plugins: what to say, with
/// the closest name when it looks like a typo of one.
fn unmatched_plugin(ctx: &Context, args: &ReplayArgs) -> Option<String> {
    let wanted = args.plugin.as_deref()?;
    let plugins = ctx.plugins().unwrap_or_default();
    if plugins.iter().any(|p| matches_name(&p.name, wanted)) {
        return None;
    }
    let names: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
    let found = match gocart_shared::settings::closest(wanted, &names) {
        Some(close) => format!("did you mean {close}?"),
        None if names.is_empty() => "there are none".to_string(),
        None => format!("they are {}", names.join(", ")),
    };
    Some(format!(
        "--plugin {wanted} matches none of the plugins in {} ({found}); nothing run",
        ctx.plugins_dir.display()
    ))
}

fn run_all(
    ctx: &Arc<Context>,
    state_dir: &Path,
    concurrency: Option<usize>,
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
        totals.filtered += result.filtered;
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

/// The directories to replay: the paths given (or the whole tree), filtered;
/// and how many there were before the filters.
fn select(tree: &Tree, args: &ReplayArgs) -> anyhow::Result<(Vec<PathBuf>, usize)> {
    let mut dirs = Vec::new();
    if args.paths.is_empty() {
        dirs = tree.complete_alert_dirs();
    }
    for path in &args.paths {
        dirs.extend(dirs_at(tree, path)?);
    }
    dirs.sort();
    dirs.dedup();
    let looked_at = dirs.len();
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let filtering =
        args.event.is_some() || args.alert_type.is_some() || args.kind.is_some() || since.is_some();
    if filtering {
        dirs.retain(|dir| keep(dir, args, since));
    }
    Ok((dirs, looked_at))
}

fn dirs_at(tree: &Tree, path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let path = path
        .canonicalize()
        .map_err(|e| UsageError(format!("cannot replay {}: {e}", path.display())))?;
    if path.join(MARKER_NAME).is_file() {
        return Ok(vec![path]);
    }
    if tree.level_of(&path).is_none() {
        return Err(UsageError(format!(
            "{} is neither a complete alert directory nor a folder of the alert tree {}",
            path.display(),
            tree.root().display()
        ))
        .into());
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
    if args.kind.is_some_and(|kind| kind != marker.kind) {
        return false;
    }
    if let Some(since) = since {
        return marker.alert_time().is_some_and(|t| t >= since);
    }
    true
}

/// `2026-01-31`, `2026-01-31T12:00:00Z`, or an age such as `7d` or `12h`.
fn parse_since(text: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Some(t) = gocart_shared::time::parse_utc(text) {
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
    Err(UsageError(format!(
        "--since {text:?}: not a date (2026-01-31, 2026-01-31T12:00:00Z) or an age (7d, 12h)"
    ))
    .into())
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

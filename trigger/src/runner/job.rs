//! What the trigger does with one complete alert directory, for `watch` and
//! `replay` alike: check its marker, list the plugins, claim each one that is
//! due, and run one claimed (directory, plugin) run, recording every step.
//! When the runs start is the pool's business (`pool.rs`).
//!
//! A plugin runs only on directories of its kinds
//! (`trigger.plugins.<name>.kinds`, default lvk): any other directory is not
//! its business and is not recorded for it. A plugin is due in `watch` if the
//! record has no run for it (and the plugin appeared before the alert was
//! written) or the run is `pending` (a crash interrupted it, or the alert was
//! replaced). A directory that found no plugin at all waits, and every plugin
//! is due on it once the first appear: nothing is settled that nothing ran
//! on. In `replay` a plugin is due unless
//! it already ran (`--force`: even then). A due plugin whose own filters reject
//! the directory is not run but recorded `filtered` with the reason (judged
//! again by `replay`); for `after` it has ended.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gocart_shared::filter::{self, Facts};
use gocart_shared::settings::PluginSettings;
use gocart_shared::{Marker, MarkerError};

use super::plugins::{discover, Plugin};
use super::process::{self, End, Outcome, Spec};
use crate::record::{
    self, Claim, ClaimRequest, DirNote, Finish, Identity, Record, RecordError, RunState,
};
use crate::watch::scan;
use gocart_shared::shutdown::Shutdown;

/// Everything a worker needs, shared by all of them.
pub struct Context {
    pub plugins_dir: PathBuf,
    pub python: String,
    pub timeout: Duration,
    pub grace: Duration,
    pub logs_dir: PathBuf,
    /// `trigger.state_dir`: the record, the logs, the status file.
    pub state_dir: PathBuf,
    pub settings_path: PathBuf,
    pub shutdown: Shutdown,
    /// The alert tree's root: the log names directories relative to it.
    pub tree_root: PathBuf,
    plugin_settings: BTreeMap<String, PluginSettings>,
    /// The plugin problems last reported, so each is logged once, not per alert.
    reported: Mutex<Vec<String>>,
}

/// Seconds as a duration bounded so that deadlines never overflow (100 years is no limit).
fn bounded_secs(secs: u64) -> Duration {
    Duration::from_secs(secs.min(100 * 365 * 86_400))
}

impl Context {
    pub fn new(
        settings: &gocart_shared::Settings,
        tree_root: PathBuf,
        grace: Duration,
        shutdown: Shutdown,
    ) -> Context {
        let t = &settings.trigger;
        Context {
            plugins_dir: t.plugins_dir.clone(),
            python: t.python.clone(),
            timeout: bounded_secs(t.timeout),
            grace,
            tree_root,
            plugin_settings: t.plugins.clone(),
            logs_dir: t.state_dir.join("logs"),
            state_dir: t.state_dir.clone(),
            settings_path: std::path::absolute(&settings.path).unwrap_or(settings.path.clone()),
            shutdown,
            reported: Mutex::new(Vec::new()),
        }
    }

    /// Lists the plugins with their settings, logging problems when they
    /// change. `None` if there is nothing to run (the folder is missing,
    /// cannot be used, or holds no plugin): the directories wait.
    pub fn plugins(&self) -> Option<Vec<Plugin>> {
        let found = discover(&self.plugins_dir, &self.python);
        let mut problems = found.problems;
        let mut plugins = found.plugins;
        self.apply_settings(&mut plugins, &mut problems);
        let usable = !found.folder_unusable && !plugins.is_empty();
        if !usable {
            problems.push(format!(
                "{}: complete directories wait, and run as soon as a plugin appears",
                self.waiting_reason()
            ));
        }
        self.report_problems(problems);
        usable.then_some(plugins)
    }

    /// Why directories wait when [`Context::plugins`] has nothing to run.
    pub fn waiting_reason(&self) -> String {
        format!("no plugins in {}", self.plugins_dir.display())
    }

    /// Logs `problems` unless they are the ones logged last.
    fn report_problems(&self, problems: Vec<String>) {
        if let Ok(mut last) = self.reported.lock() {
            if *last != problems {
                for problem in &problems {
                    tracing::error!("{problem}");
                }
                *last = problems;
            }
        }
    }

    /// Each plugin's `timeout`, `concurrency`, `after`, `kinds` and `filters` from
    /// `trigger.plugins` (none: the defaults, LVK only). An `after`
    /// naming no plugin of the folder is reported and not waited for, so no
    /// run ever waits for a plugin that will not run.
    fn apply_settings(&self, plugins: &mut [Plugin], problems: &mut Vec<String>) {
        let names: HashSet<String> = plugins.iter().map(|p| p.name.clone()).collect();
        for plugin in plugins {
            let Some(own) = self.plugin_settings.get(&plugin.name) else {
                continue;
            };
            plugin.timeout = own.timeout.map(bounded_secs);
            plugin.concurrency = own.concurrency.max(1);
            plugin.kinds = own.kinds.clone();
            plugin.filters = own.filters.clone();
            for wanted in &own.after {
                if names.contains(wanted) {
                    plugin.after.push(wanted.clone());
                } else {
                    problems.push(format!(
                        "trigger.plugins.{}.after names {wanted}, which is not a plugin in {}; {} runs without waiting for it",
                        plugin.name,
                        self.plugins_dir.display(),
                        plugin.name
                    ));
                }
            }
        }
    }
}

/// Which runs to make.
#[derive(Debug, Clone, Default)]
pub enum Mode {
    #[default]
    Watch,
    Replay {
        force: bool,
        plugin: Option<String>,
        dry_run: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// What happened to one directory.
#[derive(Debug, Default, Clone)]
pub struct DirResult {
    /// The marker identity, if nothing is left to do for it.
    pub settled: Option<Identity>,
    pub ran: u32,
    pub failed: u32,
    /// Runs recorded `filtered` (the plugin's filters rejected the directory).
    pub filtered: u32,
    pub invalid: bool,
    /// `replay --dry-run`: the plugins that would run.
    pub would_run: Vec<String>,
    /// `replay --dry-run`: the plugins that would be filtered, with the reason.
    pub would_filter: Vec<(String, String)>,
    /// It waits for the first plugins to appear.
    pub waiting: bool,
}

/// What a first look at a directory found.
pub enum Looked {
    /// Nothing to run (now): this is the result.
    Done(DirResult),
    /// Some plugins are due.
    Due(Due),
}

/// A directory with plugins due, not yet claimed.
pub struct Due {
    dir: PathBuf,
    identity: Identity,
    marker: Marker,
    /// In name order.
    plugins: Vec<Plugin>,
    /// How many runs were recorded `filtered` on it.
    filtered: u32,
}

/// The log file of each attempt of one run.
type LogPathOf<'a> = Box<dyn Fn(u32) -> String + 'a>;

/// A directory whose due runs are claimed (`running`, durable), in name order.
pub struct Ready {
    pub dir: PathBuf,
    pub identity: Identity,
    pub marker: Marker,
    pub runs: Vec<(Plugin, Claim)>,
    /// How many runs were recorded `filtered` on it.
    pub filtered: u32,
}

/// Checks the marker, notes the directory and works out which of `plugins`
/// (the folder's listing, made once for a whole batch of directories; `None`
/// if there is nothing to run, and then the directory waits, recorded with
/// `waiting_reason`) are due. Claims nothing.
pub fn look(
    record: &Record,
    dir: &Path,
    mode: &Mode,
    plugins: Option<&[Plugin]>,
    waiting_reason: Option<&str>,
) -> Result<Looked, JobError> {
    let mut result = DirResult::default();
    let Some(identity) = scan::identity_of(dir) else {
        return Ok(Looked::Done(result)); // removed meanwhile: nothing to do
    };
    let key = dir.to_string_lossy();
    let marker = match Marker::read_checked(dir) {
        Ok(marker) => marker,
        Err(MarkerError::Missing { .. }) => return Ok(Looked::Done(result)),
        Err(e) => return invalid(record, &key, identity, &e, mode).map(Looked::Done),
    };
    let dry_run = matches!(mode, Mode::Replay { dry_run: true, .. });
    if !dry_run {
        note(record, &key, identity, &marker)?;
    }
    let written_at = written_at(&marker, identity);
    let Some(plugins) = plugins else {
        // Not settled: looked at again when plugins appear.
        if let (Mode::Watch, Some(why)) = (mode, waiting_reason) {
            record.wait_for_plugins(&key, why)?;
            result.waiting = true;
        }
        return Ok(Looked::Done(result));
    };
    let waiting = matches!(mode, Mode::Watch) && record.is_waiting(&key)?;
    let mut due = Vec::new();
    let mut facts = None;
    let of_its_kind = plugins.iter().filter(|p| p.kinds.contains(&marker.kind));
    for plugin in of_its_kind {
        if !is_due(record, &key, plugin, written_at, waiting, mode)? {
            continue;
        }
        match rejection(plugin, dir, &marker, &mut facts) {
            None => due.push(plugin.clone()),
            Some(reason) if dry_run => result.would_filter.push((plugin.name.clone(), reason)),
            Some(reason) => {
                if record.record_filtered(&key, &plugin.name, &reason, &claimable_from(mode))? {
                    tracing::info!("{} on {}: filtered, {reason}", plugin.name, dir.display());
                    result.filtered += 1;
                }
            }
        }
    }
    if dry_run {
        result.would_run = due.into_iter().map(|p| p.name).collect();
        return Ok(Looked::Done(result));
    }
    if due.is_empty() {
        if record.settle(&key)? {
            result.settled = Some(identity);
        }
        return Ok(Looked::Done(result));
    }
    Ok(Looked::Due(Due {
        dir: dir.to_path_buf(),
        identity,
        marker,
        plugins: due,
        filtered: result.filtered,
    }))
}

/// Why a due plugin's own filters reject the directory, or `None` if it
/// runs. The directory's facts are read once, by the first plugin with filters.
fn rejection(
    plugin: &Plugin,
    dir: &Path,
    marker: &Marker,
    facts: &mut Option<Facts>,
) -> Option<String> {
    if plugin.filters.is_empty() {
        return None;
    }
    let facts = facts.get_or_insert_with(|| crate::meta::facts(dir, marker));
    filter::rejection(&plugin.filters, facts)
}

/// Claims the due runs of several directories in one transaction: one fsync
/// for the lot (a group commit). A run someone else holds is left out; a
/// directory left with nothing claimed is dropped (its holder settles it).
/// If the transaction fails, nothing is claimed.
pub fn claim(
    ctx: &Context,
    record: &Record,
    dues: Vec<Due>,
    mode: &Mode,
) -> Result<Vec<Ready>, JobError> {
    let from = claimable_from(mode);
    let keys: Vec<String> = dues
        .iter()
        .map(|d| d.dir.to_string_lossy().into_owned())
        .collect();
    let runs: Vec<(&str, &Plugin, LogPathOf)> = dues
        .iter()
        .zip(&keys)
        .flat_map(|(due, key)| {
            due.plugins.iter().map(move |plugin| {
                let of: LogPathOf = Box::new(move |n| {
                    log_path(ctx, &due.dir, &plugin.name, n)
                        .to_string_lossy()
                        .into_owned()
                });
                (key.as_str(), plugin, of)
            })
        })
        .collect();
    let requests: Vec<ClaimRequest> = runs
        .iter()
        .map(|(key, plugin, of)| ClaimRequest {
            dir: key,
            plugin: &plugin.name,
            from: &from,
            log_path: of.as_ref(),
        })
        .collect();
    let mut claims = record.claim_many(&requests)?.into_iter();
    drop(requests);
    drop(runs);
    let mut ready = Vec::new();
    for due in dues {
        let runs: Vec<(Plugin, Claim)> = due
            .plugins
            .into_iter()
            .filter_map(|plugin| claims.next().flatten().map(|claim| (plugin, claim)))
            .collect();
        if !runs.is_empty() {
            ready.push(Ready {
                dir: due.dir,
                identity: due.identity,
                marker: due.marker,
                runs,
                filtered: due.filtered,
            });
        }
    }
    Ok(ready)
}

/// Gives back claimed runs that will not be started (the trigger is
/// stopping): see [`Record::unclaim`].
pub fn give_back(record: &Record, dir: &Path, runs: &[(&Plugin, &Claim)]) -> Result<(), JobError> {
    let key = dir.to_string_lossy();
    let runs: Vec<(&str, &str, &Claim)> = runs
        .iter()
        .map(|(p, c)| (key.as_ref(), p.name.as_str(), *c))
        .collect();
    Ok(record.unclaim(&runs)?)
}

/// Settles a directory whose runs have all ended; its identity if settled.
pub fn settle(
    record: &Record,
    dir: &Path,
    identity: Identity,
) -> Result<Option<Identity>, JobError> {
    Ok(record.settle(&dir.to_string_lossy())?.then_some(identity))
}

fn invalid(
    record: &Record,
    key: &str,
    identity: Identity,
    error: &MarkerError,
    mode: &Mode,
) -> Result<DirResult, JobError> {
    let known = record.note_invalid(key, identity, &error.to_string())?;
    if !known || !matches!(mode, Mode::Watch) {
        tracing::error!("{error}; no plugin is run on this directory");
    }
    Ok(DirResult {
        settled: Some(identity),
        invalid: true,
        ..DirResult::default()
    })
}

fn note(record: &Record, key: &str, identity: Identity, marker: &Marker) -> Result<(), JobError> {
    let note = DirNote {
        identity,
        superevent_id: &marker.superevent_id,
        alert_type: &marker.alert_type,
        written_at: &marker.written_at,
        message_sha256: &marker.message_sha256,
        kind: marker.kind,
    };
    if record.note_dir(key, &note)? {
        tracing::info!("{key}: replaced by a changed alert; its plugins run again");
    }
    Ok(())
}

/// When the alert was written: the marker says; its file's time if unreadable.
pub fn written_at(marker: &Marker, identity: Identity) -> DateTime<Utc> {
    gocart_shared::time::parse_utc(&marker.written_at)
        .unwrap_or_else(|| DateTime::from_timestamp_nanos(identity.mtime_ns))
}

/// `waiting`: the directory waited for the first plugins, so every plugin
/// without a run on it is due, however old the directory.
fn is_due(
    record: &Record,
    key: &str,
    plugin: &Plugin,
    written_at: DateTime<Utc>,
    waiting: bool,
    mode: &Mode,
) -> Result<bool, JobError> {
    if let Mode::Replay {
        plugin: Some(only), ..
    } = mode
    {
        if !matches_name(&plugin.name, only) {
            return Ok(false);
        }
    }
    match record.run_state(key, &plugin.name)? {
        Some(state) => Ok(claimable(state, mode)),
        None => match mode {
            Mode::Watch => Ok(written_at >= appeared_at(record, plugin)? || waiting),
            Mode::Replay { .. } => Ok(true),
        },
    }
}

/// `--plugin gp_x` matches `gp_x` and `gp_x.py`.
pub(crate) fn matches_name(plugin: &str, wanted: &str) -> bool {
    plugin == wanted
        || plugin
            .split_once('.')
            .is_some_and(|(stem, _)| stem == wanted)
}

/// When the record first saw this plugin (or the file appeared, if earlier).
fn appeared_at(record: &Record, plugin: &Plugin) -> Result<DateTime<Utc>, JobError> {
    let candidate = plugin.ctime.min(Utc::now());
    let text = record.plugin_appeared_at(&plugin.name, &record::time_text(candidate))?;
    Ok(gocart_shared::time::parse_utc(&text).unwrap_or(candidate))
}

/// The one table of which recorded runs are due again: whether a run in
/// `state` may be claimed in `mode`. `watch` takes only what is pending (a
/// crash interrupted it, or the alert was replaced); `replay` also what failed,
/// was skipped or filtered (judged again by the filters as they are now), and
/// with `--force` what ran ok. A running run is never taken: someone holds it.
pub fn claimable(state: RunState, mode: &Mode) -> bool {
    match (state, mode) {
        (RunState::Pending, _) => true,
        (RunState::Running, _) => false,
        (RunState::Failed | RunState::Skipped | RunState::Filtered, Mode::Watch) => false,
        (RunState::Failed | RunState::Skipped | RunState::Filtered, Mode::Replay { .. }) => true,
        (RunState::Ok, Mode::Watch) => false,
        (RunState::Ok, Mode::Replay { force, .. }) => *force,
    }
}

/// The states a run may be claimed from in `mode`: [`claimable`] as a list.
fn claimable_from(mode: &Mode) -> Vec<RunState> {
    RunState::ALL
        .into_iter()
        .filter(|state| claimable(*state, mode))
        .collect()
}

/// Runs and records one claimed plugin. `Some(ok)` if it ran, `None` if the
/// trigger is stopping and killed it.
pub fn run_one(
    ctx: &Context,
    record: &Record,
    dir: &Path,
    marker: &Marker,
    plugin: &Plugin,
    attempt: u32,
) -> Result<Option<bool>, JobError> {
    let key = dir.to_string_lossy();
    let timeout = plugin.timeout.unwrap_or(ctx.timeout);
    let spec = Spec {
        program: plugin.program.clone(),
        args: plugin
            .args
            .iter()
            .cloned()
            .chain([dir.as_os_str().to_owned()])
            .collect(),
        env: process::plugin_env(dir, marker, &ctx.settings_path),
        cwd: ctx.plugins_dir.clone(),
        log_path: log_path(ctx, dir, &plugin.name, attempt),
        timeout,
        grace: ctx.grace,
    };
    let started_at = record::now_text();
    record.started(&key, &plugin.name, &started_at)?;
    tracing::info!(
        "{} on {}: started (attempt {attempt})",
        plugin.name,
        relative_name(&ctx.tree_root, dir)
    );
    let outcome = process::run(&spec, &|| ctx.shutdown.should_abandon());
    if outcome.end == End::Abandoned {
        tracing::warn!(
            "{} on {}: killed at shutdown; it runs again at the next start",
            plugin.name,
            relative_name(&ctx.tree_root, dir)
        );
        return Ok(None);
    }
    let setting = match plugin.timeout {
        Some(_) => format!("trigger.plugins.{}.timeout", plugin.name),
        None => "trigger.timeout".to_string(),
    };
    let reason = outcome.reason(timeout, &setting);
    let end = Finish {
        started_at: Some(&started_at),
        logged: outcome.output.total > 0,
        ok: outcome.ok(),
        exit_status: &outcome.exit_text(),
        reason: reason.as_deref(),
    };
    record.finish(&key, &plugin.name, &end)?;
    report(
        &plugin.name,
        &relative_name(&ctx.tree_root, dir),
        &outcome,
        reason.as_deref(),
        &spec.log_path,
    );
    Ok(Some(outcome.ok()))
}

/// `<state_dir>/logs/<event>/<alert dir>/<plugin>.<attempt>.log`
fn log_path(ctx: &Context, dir: &Path, plugin: &str, attempt: u32) -> PathBuf {
    let name = |p: Option<&Path>| {
        p.and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "_".into())
    };
    ctx.logs_dir
        .join(name(dir.parent()))
        .join(name(Some(dir)))
        .join(format!("{plugin}.{attempt}.log"))
}

/// One line in the trigger's log per run end: plugin, directory, exit and
/// duration, with the end of the plugin's output indented under it.
fn report(plugin: &str, dir: &str, outcome: &Outcome, reason: Option<&str>, log: &Path) {
    let output = indented(&super::output::tail_lines(&outcome.output.tail, 10, 1500));
    let took = seconds_text(outcome.elapsed);
    let exit = outcome.exit_text();
    if outcome.ok() {
        tracing::info!("{plugin} on {dir}: {exit} in {took}{output}");
    } else {
        let reason = reason.unwrap_or("failed");
        let log = match outcome.output.total {
            0 => "no output".to_string(),
            _ => format!("log {}", log.display()),
        };
        tracing::warn!("{plugin} on {dir}: FAILED, {reason} ({exit} in {took}; {log}){output}");
    }
    if let Some(e) = &outcome.output.log_error {
        tracing::warn!(
            "{plugin} on {dir}: could not write the output log {}: {e}",
            log.display()
        );
    }
}

/// Output lines under a log line: each on its own line, indented.
fn indented(text: &str) -> String {
    text.lines().map(|line| format!("\n    {line}")).collect()
}

/// `7 ms`, `2.51 s`, `12.0 s`: enough to tell a quick run from a stuck one.
pub fn seconds_text(d: Duration) -> String {
    match d.as_secs_f64() {
        s if s < 1.0 => format!("{} ms", d.as_millis()),
        s if s < 10.0 => format!("{s:.2} s"),
        s => format!("{s:.1} s"),
    }
}

/// A directory as the log names it: relative to the tree when inside it.
pub fn relative_name(root: &Path, dir: &Path) -> String {
    dir.strip_prefix(root).unwrap_or(dir).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names_match_with_or_without_extension() {
        assert!(matches_name("gp_a.py", "gp_a"));
        assert!(matches_name("gp_a.py", "gp_a.py"));
        assert!(matches_name("gp_a", "gp_a"));
        assert!(!matches_name("gp_ab", "gp_a"));
    }

    #[test]
    fn every_state_and_mode_has_one_answer_for_what_is_due() {
        let replay = |force| Mode::Replay {
            force,
            plugin: None,
            dry_run: false,
        };
        let modes = [
            ("watch", Mode::Watch),
            ("replay", replay(false)),
            ("replay --force", replay(true)),
        ];
        // Per state: due in watch, in replay, in replay --force.
        let table = [
            (RunState::Pending, [true, true, true]),
            (RunState::Running, [false, false, false]),
            (RunState::Ok, [false, false, true]),
            (RunState::Failed, [false, true, true]),
            (RunState::Skipped, [false, true, true]),
            (RunState::Filtered, [false, true, true]),
        ];
        assert_eq!(table.len(), RunState::ALL.len(), "every state is listed");
        for (state, due) in table {
            for ((name, mode), expected) in modes.iter().zip(due) {
                assert_eq!(claimable(state, mode), expected, "{state:?} in {name}");
                assert_eq!(
                    claimable_from(mode).contains(&state),
                    expected,
                    "{state:?} claimable in {name}"
                );
            }
        }
    }

    #[test]
    fn output_is_indented_under_the_line() {
        assert_eq!(indented("a\nb"), "\n    a\n    b");
        assert_eq!(indented(""), "");
    }
}

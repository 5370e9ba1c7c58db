//! The dispatcher: turns "something changed in the tree" into "this complete
//! directory goes to a worker", exactly once.
//!
//! Kernel events are hints and scans are the truth. At start the watches are set
//! up first and the whole tree scanned after, so nothing completed in between is
//! missed; every directory that appears is scanned at once and once more shortly
//! after (files made in a new directory before its watch existed are never
//! reported); an event overflow triggers a full scan; and a periodic reconcile
//! scan is the safety net. A scan costs one `stat` per complete directory:
//! those already settled (in memory, loaded from the record) are skipped.
//! What it decides goes to a [`Queue`]: the worker pool when watching.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use crossbeam_channel::{Receiver, Sender};
use gocart_shared::cli::count;
use gocart_shared::shutdown::Shutdown;
use gocart_shared::{Kind, Marker, Tree};

use super::inotify::{self, Hint, Inotify, RawEvent, WatchError};
use super::status::{RunningNow, WatchStatus, REFRESH_SECS};
use super::{fs_kind, scan};
use crate::cli::WatchArgs;
use crate::record::{self, DirNote, Identity, Record};
use crate::runner::job::{self, Context};
use crate::runner::plugins::discover;
use crate::runner::pool::{Done, Pool};

/// The second look at a directory that just appeared.
const FOLLOW_UP: Duration = Duration::from_millis(200);
/// The polling interval chosen automatically (network filesystem, watch limit).
const AUTO_POLL: Duration = Duration::from_secs(5);
/// How often the plugin folder is listed while directories wait for plugins.
const PLUGIN_CHECK: Duration = Duration::from_secs(1);

/// Where the dispatcher sends the complete directories it decides to run.
pub trait Queue {
    fn submit(&mut self, dir: PathBuf);

    /// A directory the start-up scan found (counted in the start-up line).
    fn submit_found_at_start(&mut self, dir: PathBuf) {
        self.submit(dir);
    }
}

impl Queue for Pool {
    fn submit(&mut self, dir: PathBuf) {
        Pool::submit(self, dir);
    }

    fn submit_found_at_start(&mut self, dir: PathBuf) {
        Pool::submit_found_at_start(self, dir);
    }
}

/// How changes are noticed.
enum Source {
    Inotify(Inotify),
    Poll { every: Duration, why: String },
}

/// The dispatcher's state: what is settled, in hand, due for a second look
/// or waiting for plugins. `Q` is where the directories to run go.
pub struct Dispatcher<Q: Queue = Pool> {
    tree: Tree,
    queue: Q,
    ctx: Arc<Context>,
    source: Source,
    events: Receiver<RawEvent>,
    /// Kept so that the channel stays open after a switch to polling.
    _events_tx: Sender<RawEvent>,
    settled: HashMap<PathBuf, Identity>,
    /// Directories with a worker; `true` if they changed meanwhile (look again).
    in_flight: HashMap<PathBuf, bool>,
    follow_ups: BinaryHeap<Reverse<(Instant, PathBuf)>>,
    follow_up_set: HashSet<PathBuf>,
    full_every: Duration,
    next_full: Instant,
    /// Complete directories that found no plugin to run: they run as soon as
    /// the plugin folder holds one, looked for every [`PLUGIN_CHECK`].
    waiting: HashSet<PathBuf>,
    next_plugin_check: Instant,
    shutdown: Shutdown,
    /// When the dispatcher started, the last full scan, and the next
    /// rewrite of the status file.
    since: DateTime<Utc>,
    last_scan: Option<DateTime<Utc>>,
    next_status: Instant,
}

impl<Q: Queue> Dispatcher<Q> {
    /// `settled`: the settled directories from the record, with the marker
    /// identity each was settled with.
    pub fn new(
        tree: Tree,
        queue: Q,
        ctx: Arc<Context>,
        args: &WatchArgs,
        settled: HashMap<PathBuf, Identity>,
    ) -> Dispatcher<Q> {
        let (events_tx, events) = crossbeam_channel::unbounded();
        let source = choose_source(&tree, args, events_tx.clone());
        let full_every = match &source {
            Source::Poll { every, .. } => *every,
            Source::Inotify(_) => args.reconcile,
        };
        Dispatcher {
            tree,
            queue,
            shutdown: ctx.shutdown.clone(),
            ctx,
            source,
            events,
            _events_tx: events_tx,
            settled,
            in_flight: HashMap::new(),
            follow_ups: BinaryHeap::new(),
            follow_up_set: HashSet::new(),
            full_every: full_every.max(Duration::from_millis(10)),
            next_full: Instant::now() + full_every,
            waiting: HashSet::new(),
            next_plugin_check: Instant::now() + PLUGIN_CHECK,
            since: Utc::now(),
            last_scan: None,
            next_status: Instant::now(),
        }
    }

    /// How changes are noticed, for the start-up line.
    pub fn describe_source(&self) -> String {
        let root = self.tree.root().display();
        match &self.source {
            Source::Inotify(w) => format!(
                "watching {root} with inotify ({}, full scan every {} s)",
                count(w.watch_count(), "watch", "watches"),
                self.full_every.as_secs_f64()
            ),
            Source::Poll { every, why } => {
                format!("polling {root} every {} s ({why})", every.as_secs_f64())
            }
        }
    }

    /// The first full scan. On the very first start, directories older than
    /// `catch_up` are recorded as skipped instead of run.
    pub fn start_up(&mut self, record: &Record, catch_up: Duration) -> anyhow::Result<String> {
        let t0 = Instant::now();
        let root = self.tree.root().to_owned();
        self.watch_down(&root, false);
        tracing::debug!("watches set up in {:?}", t0.elapsed());
        let total = std::sync::atomic::AtomicUsize::new(0);
        let new = scan::complete_in(&self.tree, self.tree.root(), |dir, id| {
            total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.settled.get(dir) != Some(&id)
        });
        let total = total.into_inner();
        self.last_scan = Some(Utc::now());
        tracing::debug!("tree scanned in {:?}", t0.elapsed());
        let mut message = format!(
            "{}, {} already handled",
            count(total, "complete directory", "complete directories"),
            total - new.len()
        );
        let new = if record.is_new()? {
            let (new, skipped) = catch_up_first_start(record, &self.ctx, new, catch_up)?;
            for (dir, id) in &skipped {
                self.settled.insert(dir.clone(), *id);
            }
            message.push_str(&format!(
                ", {} skipped as older than trigger.catch_up ({}; first start: run them with `gocart-trigger replay`)",
                skipped.len(),
                humanize(catch_up)
            ));
            new
        } else {
            new
        };
        message.push_str(&format!(", {} to run", new.len()));
        for (dir, id) in new {
            self.consider_found_at_start(dir, id);
        }
        Ok(message)
    }

    fn next_timer(&self) -> Instant {
        let follow_up = self.follow_ups.peek().map(|Reverse((t, _))| *t);
        let next = follow_up.map_or(self.next_full, |t| t.min(self.next_full));
        match self.waiting.is_empty() {
            true => next,
            false => next.min(self.next_plugin_check),
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((t, _))) = self.follow_ups.peek() {
            if *t > now {
                break;
            }
            if let Some(Reverse((_, path))) = self.follow_ups.pop() {
                self.follow_up_set.remove(&path);
                self.scan(&path, false);
            }
        }
        if now >= self.next_full {
            self.full_scan();
            self.next_full = Instant::now() + self.full_every;
        }
        if !self.waiting.is_empty() && now >= self.next_plugin_check {
            self.next_plugin_check = now + PLUGIN_CHECK;
            self.run_waiting_if_plugins();
        }
    }

    /// Hands the waiting directories to the workers once there are plugins.
    fn run_waiting_if_plugins(&mut self) {
        if self.ctx.plugins().is_none() {
            return;
        }
        let waiting = std::mem::take(&mut self.waiting);
        tracing::info!(
            "plugins found in {}: running them on the {}",
            self.ctx.plugins_dir.display(),
            count(waiting.len(), "waiting directory", "waiting directories")
        );
        for dir in waiting {
            if let Some(id) = scan::identity_of(&dir) {
                self.consider(dir, id);
            }
        }
    }

    fn full_scan(&mut self) {
        let root = self.tree.root().to_owned();
        self.scan(&root, false);
        self.last_scan = Some(Utc::now());
    }

    fn on_event(&mut self, event: RawEvent) {
        for hint in inotify::hints(event, |p| p.is_dir()) {
            match hint {
                Hint::Appeared(path) => self.scan(&path, true),
                Hint::Gone(path) => {
                    if let Source::Inotify(w) = &mut self.source {
                        w.forget(&path);
                    }
                }
                Hint::Rescan => {
                    tracing::info!(
                        "events were lost (inotify queue overflow): scanning everything"
                    );
                    self.full_scan();
                }
                Hint::Broken(why) => self.switch_to_polling(why),
            }
        }
    }

    fn on_done(&mut self, done: Done) {
        let recheck = self.in_flight.remove(&done.dir).unwrap_or(false);
        if done.result.as_ref().is_some_and(|r| r.waiting) {
            if self.waiting.is_empty() {
                self.next_plugin_check = Instant::now() + PLUGIN_CHECK;
            }
            self.waiting.insert(done.dir.clone());
        } else {
            self.waiting.remove(&done.dir);
        }
        match done.result.and_then(|r| r.settled) {
            Some(id) => {
                self.settled.insert(done.dir.clone(), id);
            }
            None => {
                self.settled.remove(&done.dir);
            }
        }
        if recheck {
            self.scan(&done.dir, false);
        }
    }

    /// Scans `path` (any level of the tree). `appeared`: it just appeared, so
    /// watch below it and look again shortly.
    fn scan(&mut self, path: &Path, appeared: bool) {
        if self.tree.level_of(path).is_none() {
            return;
        }
        self.watch_down(path, appeared);
        let settled = &self.settled;
        let found = scan::complete_in(&self.tree, path, |dir, id| settled.get(dir) != Some(&id));
        for (dir, id) in found {
            self.consider(dir, id);
        }
        if appeared && self.follow_up_set.insert(path.to_path_buf()) {
            self.follow_ups
                .push(Reverse((Instant::now() + FOLLOW_UP, path.to_path_buf())));
        }
    }

    fn watch_down(&mut self, path: &Path, appeared: bool) {
        let Source::Inotify(w) = &mut self.source else {
            return;
        };
        match w.watch_down(path, appeared) {
            Ok(()) => {}
            Err(WatchError::Limit) => self.switch_to_polling(WatchError::Limit.to_string()),
            Err(e) => tracing::warn!("{e}; the periodic scan covers it"),
        }
    }

    /// A complete directory: hand it to a worker unless it is settled or in hand.
    fn consider(&mut self, dir: PathBuf, id: Identity) {
        if self.take_in_hand(&dir, id) {
            self.queue.submit(dir);
        }
    }

    /// [`Dispatcher::consider`] for what the start-up scan found.
    fn consider_found_at_start(&mut self, dir: PathBuf, id: Identity) {
        if self.take_in_hand(&dir, id) {
            self.queue.submit_found_at_start(dir);
        }
    }

    /// Whether `dir` is to be handed to a worker now (it is then in hand).
    fn take_in_hand(&mut self, dir: &Path, id: Identity) -> bool {
        if let Some(recheck) = self.in_flight.get_mut(dir) {
            *recheck = true;
            return false;
        }
        if self.settled.get(dir) == Some(&id) {
            return false;
        }
        if let Source::Inotify(w) = &mut self.source {
            w.complete(dir);
        }
        self.in_flight.insert(dir.to_path_buf(), false);
        true
    }

    fn switch_to_polling(&mut self, why: String) {
        if matches!(self.source, Source::Poll { .. }) {
            return;
        }
        tracing::warn!(
            "{why}: switching to polling every {} s",
            AUTO_POLL.as_secs()
        );
        self.source = Source::Poll {
            every: AUTO_POLL,
            why,
        };
        self.full_every = AUTO_POLL;
        self.next_full = Instant::now();
    }
}

impl Dispatcher<Pool> {
    /// Dispatches until the trigger is asked to stop.
    pub fn run(&mut self) {
        let events = self.events.clone();
        let done = self.queue.done().clone();
        let wake = self.shutdown.wake().clone();
        while !self.shutdown.is_stopping() {
            if Instant::now() >= self.next_status {
                self.write_status(None);
                self.next_status = Instant::now() + Duration::from_secs(REFRESH_SECS);
            }
            let next = self.next_timer().min(self.next_status);
            let timeout = next.saturating_duration_since(Instant::now());
            crossbeam_channel::select! {
                recv(events) -> event => {
                    if let Ok(event) = event {
                        self.on_event(event);
                    }
                    while let Ok(event) = events.try_recv() {
                        self.on_event(event);
                    }
                }
                recv(done) -> d => if let Ok(d) = d { self.on_done(d) },
                recv(wake) -> _ => {}
                default(timeout) => {}
            }
            self.fire_timers();
        }
    }

    /// Stops: no new runs; running ones get `wait`, then are killed (and stay
    /// `running` in the record, so they run again at the next start).
    pub fn stop(mut self, wait: Duration) {
        tracing::info!(
            "waiting up to {} s for the running plugins to end",
            wait.as_secs_f64()
        );
        self.queue.close_queue();
        let deadline = Instant::now() + wait;
        while !self.queue.is_idle() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !self.queue.is_idle() {
            tracing::warn!("killing the plugins still running; they run again at the next start");
            self.shutdown.abandon();
        }
        self.write_status(Some(Utc::now()));
        self.queue.close();
        tracing::info!("stopped");
    }

    /// Rewrites the status file (`stopped`: the trigger stops now). A
    /// failure is logged, not fatal: plugins matter more than the report.
    fn write_status(&self, stopped: Option<DateTime<Utc>>) {
        let now = self.queue.snapshot();
        let refused = discover(&self.ctx.plugins_dir, &self.ctx.python).refused;
        let status = WatchStatus {
            pid: std::process::id(),
            since: Some(self.since),
            updated: Some(Utc::now()),
            stopped,
            last_scan: self.last_scan,
            running: now
                .running
                .into_iter()
                .map(|r| RunningNow {
                    plugin: r.plugin,
                    dir: r.dir,
                    started: r.started,
                })
                .collect(),
            queued: now.queued,
            waiting: self.waiting.len(),
            refused,
        };
        if let Err(e) = status.save(&self.ctx.state_dir) {
            tracing::warn!("{e}; `gocart-trigger status` cannot tell what runs");
        }
    }
}

fn choose_source(tree: &Tree, args: &WatchArgs, tx: Sender<RawEvent>) -> Source {
    if let Some(every) = args.poll {
        let why = "--poll".to_string();
        return Source::Poll { every, why };
    }
    if let Some(fs) = fs_kind::network_fs(tree.root()) {
        let why = format!("{fs} is a network filesystem: inotify does not see other hosts' writes");
        return Source::Poll {
            every: AUTO_POLL,
            why,
        };
    }
    match Inotify::start(tree.clone(), tx) {
        Ok(w) => Source::Inotify(w),
        Err(e) => Source::Poll {
            every: AUTO_POLL,
            why: format!("inotify is not available: {e}"),
        },
    }
}

/// First start: splits the new directories into those to run and those whose
/// alert was created longer than `catch_up` ago, which are recorded as skipped. The plugins present now
/// are recorded as having appeared at the cutoff, so everything newer runs.
type Found = Vec<(PathBuf, Identity)>;

fn catch_up_first_start(
    record: &Record,
    ctx: &Context,
    found: Found,
    catch_up: Duration,
) -> anyhow::Result<(Found, Found)> {
    let cutoff = chrono::Duration::from_std(catch_up)
        .ok()
        .and_then(|d| Utc::now().checked_sub_signed(d))
        .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
    let plugins: Vec<(String, Vec<Kind>)> = ctx
        .plugins()
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.name, p.kinds))
        .collect();
    for (name, _) in &plugins {
        record.plugin_appeared_at(name, &record::time_text(cutoff))?;
    }
    let (mut run, mut skipped, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    for (dir, id) in found {
        match Marker::read(&dir) {
            Ok(marker) if alert_time(&marker, id) < cutoff => {
                notes.push((dir.clone(), id, marker));
                skipped.push((dir, id));
            }
            _ => run.push((dir, id)),
        }
    }
    let rows: Vec<(String, DirNote)> = notes
        .iter()
        .map(|(dir, id, m)| {
            let note = DirNote {
                identity: *id,
                superevent_id: &m.superevent_id,
                alert_type: &m.alert_type,
                written_at: &m.written_at,
                message_sha256: &m.message_sha256,
                kind: m.kind,
            };
            (dir.to_string_lossy().into_owned(), note)
        })
        .collect();
    let reason = format!(
        "older than trigger.catch_up ({}) at the first start",
        humanize(catch_up)
    );
    record
        .skip_for_catch_up(&rows, &plugins, &reason)
        .context("cannot record the skipped directories")?;
    record.mark_initialised()?;
    Ok((run, skipped))
}

/// The alert's own time (see [`Marker::alert_time`]), else the marker's
/// mtime: the age `catch_up` judges.
fn alert_time(marker: &Marker, id: Identity) -> chrono::DateTime<Utc> {
    marker
        .alert_time()
        .unwrap_or_else(|| job::written_at(marker, id))
}

fn humanize(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s % 86400 == 0 && s > 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 && s > 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gocart_shared::{Settings, MARKER_NAME};
    use notify::event::{EventKind, Flag};
    use std::os::unix::fs::PermissionsExt;

    use crate::runner::job::DirResult;

    /// The directories handed to the workers, in order.
    impl Queue for Vec<PathBuf> {
        fn submit(&mut self, dir: PathBuf) {
            self.push(dir);
        }
    }

    /// A tree, a plugin folder and a state dir in one temporary directory.
    struct Place {
        _dir: tempfile::TempDir,
        root: PathBuf,
        plugins: PathBuf,
        state: PathBuf,
    }

    impl Place {
        fn new() -> Place {
            let dir = tempfile::tempdir().unwrap();
            let base = dir.path().canonicalize().unwrap();
            let root = base.join("tree");
            std::fs::create_dir_all(root.join("superevents")).unwrap();
            Place {
                root,
                plugins: base.join("plugins"),
                state: base.join("state"),
                _dir: dir,
            }
        }

        /// A dispatcher that polls (`poll`) or uses inotify, with nothing settled.
        fn dispatcher(&self, poll: bool) -> Dispatcher<Vec<PathBuf>> {
            let mut settings = Settings::defaults(&self.root.join("gocart.yaml"));
            settings.trigger.plugins_dir = self.plugins.clone();
            settings.trigger.state_dir = self.state.clone();
            let ctx = Context::new(
                &settings,
                self.root.clone(),
                Duration::from_secs(1),
                Shutdown::new(),
            );
            let args = WatchArgs {
                poll: poll.then_some(Duration::from_secs(3600)),
                reconcile: Duration::from_secs(3600),
                kill_grace: Duration::from_secs(1),
                stop_wait: Duration::from_secs(1),
            };
            let tree = Tree::new(self.root.clone());
            Dispatcher::new(tree, Vec::new(), Arc::new(ctx), &args, HashMap::new())
        }

        /// `superevents/<event>/<alert>`, without its marker.
        fn alert_dir(&self, event: &str, alert: &str) -> PathBuf {
            let dir = self.root.join("superevents").join(event).join(alert);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        }

        /// A complete alert directory (its marker written in place).
        fn complete(&self, event: &str, alert: &str) -> PathBuf {
            let dir = self.alert_dir(event, alert);
            std::fs::write(dir.join(MARKER_NAME), "{}").unwrap();
            dir
        }
    }

    /// The marker replaced by a new file (a new inode), as a changed alert does.
    fn replace_marker(dir: &Path) {
        let new = dir.join("new-marker");
        std::fs::write(&new, "{ }").unwrap();
        std::fs::rename(&new, dir.join(MARKER_NAME)).unwrap();
    }

    /// The workers report a directory done with nothing left to do.
    fn settled(dispatcher: &mut Dispatcher<Vec<PathBuf>>, dir: &Path) {
        let result = DirResult {
            settled: scan::identity_of(dir),
            ..DirResult::default()
        };
        dispatcher.on_done(Done {
            dir: dir.to_path_buf(),
            result: Some(result),
        });
    }

    #[test]
    fn a_completed_directory_is_queued_once() {
        let place = Place::new();
        let mut dispatcher = place.dispatcher(true);
        let dir = place.complete("S1", "S1-1-Preliminary");
        dispatcher.full_scan();
        dispatcher.full_scan(); // in hand: not queued twice
        assert_eq!(dispatcher.queue, std::slice::from_ref(&dir));
        settled(&mut dispatcher, &dir);
        dispatcher.full_scan();
        dispatcher.scan(&place.root.join("superevents/S1"), true);
        assert_eq!(dispatcher.queue, [dir], "settled: not queued again");
    }

    #[test]
    fn a_replaced_directory_is_queued_again() {
        let place = Place::new();
        let mut dispatcher = place.dispatcher(true);
        let dir = place.complete("S1", "S1-1-Preliminary");
        dispatcher.full_scan();
        settled(&mut dispatcher, &dir);
        replace_marker(&dir);
        dispatcher.full_scan();
        assert_eq!(dispatcher.queue, [dir.clone(), dir]);
    }

    #[test]
    fn a_directory_changed_while_in_hand_is_looked_at_again_when_done() {
        let place = Place::new();
        let mut dispatcher = place.dispatcher(true);
        let dir = place.complete("S1", "S1-1-Preliminary");
        dispatcher.full_scan();
        replace_marker(&dir);
        dispatcher.full_scan();
        assert_eq!(dispatcher.queue.len(), 1, "in hand: noted, not queued");
        // The worker settled the old marker; the new one is not settled.
        let old = DirResult {
            settled: Some(Identity::default()),
            ..DirResult::default()
        };
        dispatcher.on_done(Done {
            dir: dir.clone(),
            result: Some(old),
        });
        assert_eq!(dispatcher.queue, [dir.clone(), dir]);
    }

    #[test]
    fn a_directory_without_marker_is_not_queued_until_the_marker_comes() {
        let place = Place::new();
        let mut dispatcher = place.dispatcher(true);
        let dir = place.alert_dir("S1", "S1-1-Preliminary");
        dispatcher.full_scan();
        dispatcher.scan(&dir, true);
        assert!(dispatcher.queue.is_empty());
        // Written after the first look: the follow-up look finds it.
        std::fs::write(dir.join(MARKER_NAME), "{}").unwrap();
        std::thread::sleep(FOLLOW_UP + Duration::from_millis(50));
        dispatcher.fire_timers();
        assert_eq!(dispatcher.queue, [dir]);
    }

    #[test]
    fn a_rescan_after_overflow_finds_what_events_missed() {
        let place = Place::new();
        let mut dispatcher = place.dispatcher(false);
        assert!(matches!(dispatcher.source, Source::Inotify(_)));
        let record = Record::open(&place.state).unwrap();
        dispatcher
            .start_up(&record, Duration::from_secs(3600))
            .unwrap();
        // Its events are never handled, as if the kernel queue had overflowed.
        let dir = place.complete("S1", "S1-1-Preliminary");
        assert!(dispatcher.queue.is_empty());
        let overflow = notify::Event::new(EventKind::Other).set_flag(Flag::Rescan);
        dispatcher.on_event(Ok(overflow));
        assert_eq!(dispatcher.queue, [dir]);
    }

    #[test]
    fn the_first_start_queues_what_is_there() {
        let place = Place::new();
        let mut dispatcher = place.dispatcher(true);
        let dir = place.complete("S1", "S1-1-Preliminary");
        let record = Record::open(&place.state).unwrap();
        let found = dispatcher
            .start_up(&record, Duration::from_secs(3600))
            .unwrap();
        assert_eq!(dispatcher.queue, [dir]);
        assert!(found.contains("1 to run"), "{found}");
        assert!(!record.is_new().unwrap(), "the first start is recorded");
    }

    #[test]
    fn waiting_directories_are_queued_when_a_plugin_appears() {
        let place = Place::new();
        let mut dispatcher = place.dispatcher(true);
        let dir = place.complete("S1", "S1-1-Preliminary");
        dispatcher.full_scan();
        let waiting = DirResult {
            waiting: true,
            ..DirResult::default()
        };
        dispatcher.on_done(Done {
            dir: dir.clone(),
            result: Some(waiting),
        });
        dispatcher.run_waiting_if_plugins();
        assert_eq!(dispatcher.queue.len(), 1, "no plugin yet: it waits");
        std::fs::create_dir_all(&place.plugins).unwrap();
        let plugin = place.plugins.join("gp_a");
        std::fs::write(&plugin, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o700)).unwrap();
        dispatcher.run_waiting_if_plugins();
        assert_eq!(dispatcher.queue, [dir.clone(), dir]);
        assert!(dispatcher.waiting.is_empty());
    }
}

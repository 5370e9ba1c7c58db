//! The worker threads, fed by one preparing thread. The unit of work is one
//! (directory, plugin) run.
//!
//! The preparer takes the directories waiting in the queue as a batch (up to
//! [`BATCH`]), checks their markers, lists the plugin folder once for the
//! batch, and claims every due run of the batch in one transaction: one fsync
//! makes a whole burst's worth of claims durable, where one per run capped a
//! burst at about a thousand runs a second. The claimed runs join one board,
//! in the order their directories came.
//!
//! Every plugin has its own lane: at most its `concurrency` runs at once
//! (default 1), started in the order the directories were completed, and a
//! run waits while a plugin it comes `after` has not ended on its directory.
//! Lanes never take each other's places: a run whose lane has a free place
//! starts at once, however many runs of other plugins hang. `trigger.concurrency`,
//! when set, caps the total; when it binds, the free places go round the
//! plugins in turn (the next plugin in name order after the one served last
//! that has a run able to start), so no plugin waits behind another's backlog.
//! A worker thread is added whenever runs are put on the board or one
//! starts and no worker is left waiting, so the threads are never what
//! holds a run back. A directory is
//! settled when its last run ends.
//!
//! A claim is durable before its process starts; claims never started (the
//! trigger stops first) are given back, and if the trigger dies before that
//! the next start finds them `running` under a dead process and runs them.
//! Each thread has its own record connection.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use crossbeam_channel::{Receiver, Sender};
use gocart_shared::text::Escaped;
use gocart_shared::Marker;

use super::job::{self, Context, DirResult, Looked, Mode, Ready};
use super::plugins::Plugin;
use crate::record::{Claim, Identity, Record, RecordError};
use gocart_shared::shutdown::Shutdown;

/// The most directories claimed in one transaction.
pub const BATCH: usize = 64;
/// The preparer claims the next batch only while fewer runs than this wait
/// with a free place in their lane, so that claims run ahead of the runs by
/// about a batch. The backlog of a full lane (a hung plugin) does not count:
/// it must not keep the other plugins' runs from being claimed.
const WAITING_MAX: usize = BATCH;
/// How often a waiting thread looks at the stop flag.
const TICK: Duration = Duration::from_millis(100);

/// A directory handed back once every run claimed on it has ended.
#[derive(Debug)]
pub struct Done {
    pub dir: PathBuf,
    /// `None` if it could not be handled (it is tried again later).
    pub result: Option<DirResult>,
}

/// One run whose process runs (or is about to), for the status file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub plugin: String,
    pub dir: PathBuf,
    pub started: DateTime<Utc>,
}

/// What the pool is doing now.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Runs started and not ended, oldest first.
    pub running: Vec<InFlight>,
    /// Runs claimed and waiting for a place in their lane.
    pub queued: usize,
}

/// A directory to look at; `found_at_start`: found by the start-up scan,
/// which the start-up line counts, so it gets no line of its own.
type Job = (PathBuf, bool);

pub struct Pool {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    crew: Arc<Crew>,
}

/// What every thread of the pool shares, and how a worker is added.
struct Crew {
    ctx: Arc<Context>,
    state_dir: PathBuf,
    board: Shared,
    done: Sender<Done>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Pool {
    /// Starts the preparer and a first worker (more are added as runs
    /// start); each opens the record in `state_dir`. `cap`: the most runs at
    /// once over all plugins (`trigger.concurrency`), `None` for none.
    pub fn start(
        ctx: Arc<Context>,
        state_dir: &Path,
        cap: Option<usize>,
        mode: Mode,
    ) -> Result<Pool, RecordError> {
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded::<Job>();
        let (done_tx, done) = crossbeam_channel::unbounded();
        let crew = Arc::new(Crew {
            ctx,
            state_dir: state_dir.to_owned(),
            board: Shared::new(cap),
            done: done_tx,
            threads: Mutex::new(Vec::new()),
        });
        let record = Record::open(state_dir)?;
        let first_worker = Record::open(state_dir)?;
        let c = crew.clone();
        let spawned = std::thread::Builder::new()
            .name("preparer".into())
            .spawn(move || {
                prepare(&c, &record, &jobs_rx, &mode);
                c.board.close();
            });
        match spawned {
            Ok(handle) => crew.keep(handle),
            Err(e) => tracing::error!("cannot start the preparing thread: {e}"),
        }
        crew.add_worker(Some(first_worker));
        Ok(Pool {
            jobs: Some(jobs_tx),
            done,
            crew,
        })
    }

    pub fn submit(&self, dir: PathBuf) {
        self.send((dir, false));
    }

    /// A directory the start-up scan found: it is counted in the start-up
    /// line, so it gets no "noticed" line (its runs still log as they start
    /// and end).
    pub fn submit_found_at_start(&self, dir: PathBuf) {
        self.send((dir, true));
    }

    fn send(&self, job: Job) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(job);
        }
    }

    pub fn done(&self) -> &Receiver<Done> {
        &self.done
    }

    /// The runs in flight and the number queued, now.
    pub fn snapshot(&self) -> Snapshot {
        self.crew.board.lock().snapshot()
    }

    /// No more jobs; waits for the threads to finish theirs.
    pub fn close(mut self) {
        self.jobs = None;
        loop {
            let threads = std::mem::take(&mut *self.crew.threads());
            if threads.is_empty() {
                break;
            }
            for thread in threads {
                let _ = thread.join();
            }
        }
    }

    /// Whether every thread has finished (after [`Pool::close_queue`]).
    pub fn is_idle(&self) -> bool {
        self.crew.threads().iter().all(|w| w.is_finished())
    }

    /// Stops accepting jobs without waiting.
    pub fn close_queue(&mut self) {
        self.jobs = None;
    }
}

impl Crew {
    fn threads(&self) -> MutexGuard<'_, Vec<JoinHandle<()>>> {
        // A thread list is consistent after any panic (one push at a time).
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn keep(&self, handle: JoinHandle<()>) {
        self.threads().push(handle);
    }

    /// Starts one more worker, with `record` or a connection of its own.
    fn add_worker(self: &Arc<Self>, record: Option<Record>) {
        let crew = self.clone();
        let n = self.threads().len();
        let spawned = std::thread::Builder::new()
            .name(format!("worker-{n}"))
            .spawn(move || {
                let record = match record {
                    Some(record) => record,
                    None => match Record::open(&crew.state_dir) {
                        Ok(record) => record,
                        Err(e) => {
                            tracing::error!("cannot start another worker: {e}");
                            return;
                        }
                    },
                };
                work(&crew, &record);
            });
        match spawned {
            Ok(handle) => self.keep(handle),
            Err(e) => tracing::error!("cannot start worker thread {n}: {e}"),
        }
    }
}

/// One claimed run waiting for a worker.
struct Run {
    dir: PathBuf,
    marker: Arc<Marker>,
    plugin: Plugin,
    claim: Claim,
}

/// A directory with claimed runs not all ended.
struct OpenDir {
    identity: Identity,
    /// The plugins claimed on it whose runs have not ended.
    unended: HashSet<String>,
    result: DirResult,
    /// A run was given back or could not be recorded: it is not settled.
    unfinished: bool,
}

/// What the workers share: the runs waiting, the places taken and the
/// directories open.
#[derive(Default)]
struct Board {
    waiting: VecDeque<Run>,
    open: HashMap<PathBuf, OpenDir>,
    /// The preparer has ended: no run will be added.
    closed: bool,
    /// Runs taken and not ended, per plugin: the places taken in each lane.
    taken: HashMap<String, usize>,
    /// The runs in flight (taken, not given back, not ended).
    in_flight: Vec<InFlight>,
    /// Runs taken and not ended over all plugins.
    total: usize,
    /// `trigger.concurrency`: the most runs at once over all plugins.
    cap: Option<usize>,
    /// The plugin served last: the next place goes to the one after it.
    last: Option<String>,
    /// Workers waiting for a run.
    idle: usize,
}

struct Shared {
    board: Mutex<Board>,
    changed: Condvar,
}

impl Shared {
    fn new(cap: Option<usize>) -> Shared {
        Shared {
            board: Mutex::new(Board {
                cap,
                ..Board::default()
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Board> {
        // A worker that panicked left the board consistent (every change is
        // one statement), so a poisoned lock is still usable.
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, board: MutexGuard<'a, Board>) -> MutexGuard<'a, Board> {
        match self.changed.wait_timeout(board, TICK) {
            Ok((board, _)) => board,
            Err(e) => e.into_inner().0,
        }
    }

    /// Puts the claimed runs of a directory on the board, in name order.
    /// Whether no worker is waiting for them (then one is added).
    fn add(&self, ready: Ready) -> bool {
        let mut board = self.lock();
        let marker = Arc::new(ready.marker);
        let open = board.open.entry(ready.dir.clone()).or_insert(OpenDir {
            identity: ready.identity,
            unended: HashSet::new(),
            result: DirResult::default(),
            unfinished: false,
        });
        open.result.filtered += ready.filtered;
        for (plugin, _) in &ready.runs {
            open.unended.insert(plugin.name.clone());
        }
        for (plugin, claim) in ready.runs {
            board.waiting.push_back(Run {
                dir: ready.dir.clone(),
                marker: marker.clone(),
                plugin,
                claim,
            });
        }
        self.changed.notify_all();
        board.idle == 0
    }

    /// Waits until fewer than [`WAITING_MAX`] runs wait with a free place
    /// in their lane, or the trigger stops.
    fn wait_for_room(&self, shutdown: &Shutdown) {
        let mut board = self.lock();
        while board.startable_count() >= WAITING_MAX && !shutdown.is_stopping() {
            board = self.wait(board);
        }
    }

    /// The next run a worker may start, and whether no other worker is left
    /// waiting (then one is added); `None` once the board is closed and
    /// empty. When the trigger is stopping, any run (to be given back).
    fn next(&self, shutdown: &Shutdown) -> Option<(Run, bool)> {
        let mut board = self.lock();
        board.idle += 1;
        loop {
            let stopping = shutdown.is_stopping();
            if let Some(run) = board.take(stopping) {
                board.idle -= 1;
                // Giving back needs no more threads than there are.
                let add_worker = !stopping && board.idle == 0 && !board.waiting.is_empty();
                self.changed.notify_all();
                return Some((run, add_worker));
            }
            if board.closed && board.waiting.is_empty() {
                board.idle -= 1;
                return None;
            }
            board = self.wait(board);
        }
    }

    /// Notes the end of a run (`ran`: `Some(ok)` if it ran, `None` if it was
    /// given back, killed at shutdown or not recorded): its place is free.
    /// The directory and its state if that was its last run.
    fn end(&self, run: &Run, ran: Option<bool>) -> Option<(PathBuf, OpenDir)> {
        let mut board = self.lock();
        board.free_place(run);
        self.changed.notify_all();
        let open = board.open.get_mut(&run.dir)?;
        open.unended.remove(&run.plugin.name);
        match ran {
            Some(ok) => {
                open.result.ran += 1;
                open.result.failed += u32::from(!ok);
            }
            None => open.unfinished = true,
        }
        if open.unended.is_empty() {
            board.open.remove_entry(&run.dir)
        } else {
            None
        }
    }

    fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }
}

impl Board {
    /// Removes and returns the next run to start (see the module's comment),
    /// taking a place in its lane. `any`: the first waiting run, whatever
    /// the places (the trigger is stopping: it is given back, not started).
    fn take(&mut self, any: bool) -> Option<Run> {
        if any {
            let run = self.waiting.pop_front()?;
            self.take_place(&run, false);
            return Some(run);
        }
        if self.cap.is_some_and(|cap| self.total >= cap) {
            return None;
        }
        // The first waiting run of each plugin, if it may start now.
        let mut seen: HashSet<&str> = HashSet::new();
        let mut startable: Vec<(&str, usize)> = Vec::new();
        for (i, run) in self.waiting.iter().enumerate() {
            let name = run.plugin.name.as_str();
            if !seen.insert(name) || !self.lane_has_room(&run.plugin) {
                continue;
            }
            let blocked = self.open.get(&run.dir).is_some_and(|open| {
                run.plugin
                    .after
                    .iter()
                    .any(|first| open.unended.contains(first))
            });
            if !blocked {
                startable.push((name, i));
            }
        }
        // Round the plugins in turn: the first after the one served last.
        let after_last = startable
            .iter()
            .filter(|(name, _)| self.last.as_deref().is_some_and(|last| *name > last))
            .min_by_key(|(name, _)| *name);
        let chosen = after_last
            .or_else(|| startable.iter().min_by_key(|(name, _)| *name))
            .map(|(_, i)| *i)?;
        let run = self.waiting.remove(chosen)?;
        self.last = Some(run.plugin.name.clone());
        self.take_place(&run, true);
        Some(run)
    }

    fn lane_has_room(&self, plugin: &Plugin) -> bool {
        self.taken.get(&plugin.name).copied().unwrap_or(0) < plugin.concurrency.max(1)
    }

    /// How many waiting runs have a free place in their lane.
    fn startable_count(&self) -> usize {
        self.waiting
            .iter()
            .filter(|run| self.lane_has_room(&run.plugin))
            .count()
    }

    /// `starts`: the run is started (not given back): it is in flight.
    fn take_place(&mut self, run: &Run, starts: bool) {
        *self.taken.entry(run.plugin.name.clone()).or_default() += 1;
        self.total += 1;
        if starts {
            self.in_flight.push(InFlight {
                plugin: run.plugin.name.clone(),
                dir: run.dir.clone(),
                started: Utc::now(),
            });
        }
    }

    fn free_place(&mut self, run: &Run) {
        if let Some(n) = self.taken.get_mut(&run.plugin.name) {
            *n = n.saturating_sub(1);
        }
        self.total = self.total.saturating_sub(1);
        self.in_flight
            .retain(|f| !(f.plugin == run.plugin.name && f.dir == run.dir));
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            running: self.in_flight.clone(),
            queued: self.waiting.len(),
        }
    }
}

/// The preparer: batches of waiting directories, looked at and claimed.
fn prepare(crew: &Arc<Crew>, record: &Record, jobs: &Receiver<Job>, mode: &Mode) {
    let (ctx, board, done) = (&crew.ctx, &crew.board, &crew.done);
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter().take(BATCH - 1));
        if ctx.shutdown.is_stopping() {
            for (dir, _) in batch {
                let _ = done.send(Done { dir, result: None });
            }
            continue;
        }
        let plugins = ctx.plugins();
        let why = ctx.waiting_reason();
        let mut dues = Vec::new();
        let mut quiet = HashSet::new();
        for (dir, found_at_start) in batch {
            if found_at_start {
                quiet.insert(dir.clone());
            }
            match job::look(record, &dir, mode, plugins.as_deref(), Some(&why)) {
                Ok(Looked::Due(due)) => dues.push((dir, due)),
                Ok(Looked::Done(result)) => {
                    let _ = done.send(Done {
                        dir,
                        result: Some(result),
                    });
                }
                Err(e) => failed(done, dir, &e),
            }
        }
        let (dirs, dues): (Vec<PathBuf>, Vec<_>) = dues.into_iter().unzip();
        if dues.is_empty() {
            continue;
        }
        board.wait_for_room(&ctx.shutdown);
        match job::claim(ctx, record, dues, mode) {
            Ok(claimed) => {
                let mut claimed = claimed.into_iter().peekable();
                for dir in dirs {
                    match claimed.next_if(|r| r.dir == dir) {
                        Some(ready) => {
                            if !quiet.contains(&ready.dir) {
                                noticed(ctx, &ready);
                            }
                            if board.add(ready) {
                                crew.add_worker(None);
                            }
                        }
                        // Someone else (a replay) holds its runs: not settled here.
                        None => {
                            let _ = done.send(Done {
                                dir,
                                result: Some(DirResult::default()),
                            });
                        }
                    }
                }
            }
            Err(e) => {
                for dir in dirs {
                    failed(done, dir, &e);
                }
            }
        }
    }
}

/// The one line in the log when a directory gets runs. They are due, not
/// yet running: each says so itself when it starts.
fn noticed(ctx: &Context, ready: &Ready) {
    let names: Vec<&str> = ready.runs.iter().map(|(p, _)| p.name.as_str()).collect();
    tracing::info!(
        "{}: {} {} alert; due: {}",
        job::relative_name(&ctx.tree_root, &ready.dir),
        Escaped(&ready.marker.superevent_id),
        Escaped(&ready.marker.alert_type),
        names.join(", ")
    );
}

fn failed(done: &Sender<Done>, dir: PathBuf, e: &dyn std::fmt::Display) {
    tracing::error!("{}: {e}; it is tried again at the next scan", dir.display());
    let _ = done.send(Done { dir, result: None });
}

/// A worker: one run at a time, the next the board gives.
fn work(crew: &Arc<Crew>, record: &Record) {
    let (ctx, board, done) = (&crew.ctx, &crew.board, &crew.done);
    while let Some((run, add_worker)) = board.next(&ctx.shutdown) {
        if add_worker {
            crew.add_worker(None);
        }
        let ran = if ctx.shutdown.is_stopping() {
            give_back(record, &run);
            None
        } else {
            let attempt = run.claim.attempt;
            match job::run_one(ctx, record, &run.dir, &run.marker, &run.plugin, attempt) {
                Ok(ran) => ran,
                Err(e) => {
                    tracing::error!(
                        "{} on {}: {e}; it runs again at the next start",
                        run.plugin.name,
                        run.dir.display()
                    );
                    None
                }
            }
        };
        if let Some((dir, open)) = board.end(&run, ran) {
            finish_dir(record, done, dir, open);
        }
    }
}

fn give_back(record: &Record, run: &Run) {
    if let Err(e) = job::give_back(record, &run.dir, &[(&run.plugin, &run.claim)]) {
        tracing::warn!(
            "{}: {e}; its claimed run of {} is run at the next start",
            run.dir.display(),
            run.plugin.name
        );
    }
}

/// Every run of a directory has ended: settle it unless one is unfinished.
fn finish_dir(record: &Record, done: &Sender<Done>, dir: PathBuf, open: OpenDir) {
    if open.unfinished {
        let _ = done.send(Done { dir, result: None });
        return;
    }
    match job::settle(record, &dir, open.identity) {
        Ok(settled) => {
            let result = DirResult {
                settled,
                ..open.result
            };
            let _ = done.send(Done {
                dir,
                result: Some(result),
            });
        }
        Err(e) => failed(done, dir, &e),
    }
}

//! The worker threads, fed by one preparing thread. The unit of work is one
//! (directory, plugin) run.
//!
//! The preparer takes the directories waiting in the queue as a batch (up to
//! [`BATCH`]), checks their markers, lists the plugin folder once for the
//! batch, and claims every due run of the batch in one transaction: one fsync
//! makes a whole burst's worth of claims durable, where one per run capped a
//! burst at about a thousand runs a second. The claimed runs join one board,
//! in the order their directories came. Each of the `concurrency` workers
//! takes the first run on the board that may start: no earlier run of the
//! same plugin is still waiting (runs of one plugin start in the order the
//! directories were completed), and every plugin it comes `after` has ended
//! on its directory. So a slow or hung plugin only ever occupies its own
//! slot, and `concurrency` stays the number of runs at once. A directory is
//! settled when its last run ends.
//!
//! A claim is durable before its process starts; claims never started (the
//! trigger stops first) are given back, and if the trigger dies before that
//! the next start finds them `running` under a dead process and runs them.
//! Each thread has its own record connection.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use gocart_shared::Marker;

use super::job::{self, Context, DirResult, Looked, Mode, Ready};
use super::plugins::Plugin;
use crate::record::{Claim, Identity, Record, RecordError};
use gocart_shared::shutdown::Shutdown;

/// The most directories claimed in one transaction.
pub const BATCH: usize = 64;
/// The preparer claims the next batch only while fewer runs than this wait
/// for a worker, so that claims run ahead of the workers by about a batch.
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

pub struct Pool {
    jobs: Option<Sender<PathBuf>>,
    done: Receiver<Done>,
    threads: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts the preparer and `n` workers; each opens the record in `state_dir`.
    pub fn start(
        ctx: Arc<Context>,
        state_dir: &std::path::Path,
        n: usize,
        mode: Mode,
    ) -> Result<Pool, RecordError> {
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded::<PathBuf>();
        let (done_tx, done) = crossbeam_channel::unbounded();
        let board = Arc::new(Shared::default());
        let mut threads = Vec::new();
        let record = Record::open(state_dir)?;
        let (c, b, d, m) = (ctx.clone(), board.clone(), done_tx.clone(), mode);
        let spawned = std::thread::Builder::new()
            .name("preparer".into())
            .spawn(move || {
                prepare(&c, &record, &jobs_rx, &b, &d, &m);
                b.close();
            });
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => tracing::error!("cannot start the preparing thread: {e}"),
        }
        for i in 0..n.max(1) {
            let record = Record::open(state_dir)?;
            let (ctx, board, done_tx) = (ctx.clone(), board.clone(), done_tx.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || work(&ctx, &record, &board, &done_tx));
            match spawned {
                Ok(handle) => threads.push(handle),
                Err(e) => tracing::error!("cannot start worker thread {i}: {e}"),
            }
        }
        Ok(Pool {
            jobs: Some(jobs_tx),
            done,
            threads,
        })
    }

    pub fn submit(&self, dir: PathBuf) {
        if let Some(jobs) = &self.jobs {
            let _ = jobs.send(dir);
        }
    }

    pub fn done(&self) -> &Receiver<Done> {
        &self.done
    }

    /// No more jobs; waits for the threads to finish theirs.
    pub fn close(mut self) {
        self.jobs = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }

    /// Whether every thread has finished (after [`Pool::close_queue`]).
    pub fn is_idle(&self) -> bool {
        self.threads.iter().all(|w| w.is_finished())
    }

    /// Stops accepting jobs without waiting.
    pub fn close_queue(&mut self) {
        self.jobs = None;
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

/// What the workers share: the runs waiting and the directories open.
#[derive(Default)]
struct Board {
    waiting: VecDeque<Run>,
    open: HashMap<PathBuf, OpenDir>,
    /// The preparer has ended: no run will be added.
    closed: bool,
}

#[derive(Default)]
struct Shared {
    board: Mutex<Board>,
    changed: Condvar,
}

impl Shared {
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
    fn add(&self, ready: Ready) {
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
    }

    /// Waits until fewer than [`WAITING_MAX`] runs wait, or the trigger stops.
    fn wait_for_room(&self, shutdown: &Shutdown) {
        let mut board = self.lock();
        while board.waiting.len() >= WAITING_MAX && !shutdown.is_stopping() {
            board = self.wait(board);
        }
    }

    /// The next run a worker may start; `None` once the board is closed and
    /// empty. When the trigger is stopping, any run (to be given back).
    fn next(&self, shutdown: &Shutdown) -> Option<Run> {
        let mut board = self.lock();
        loop {
            if let Some(run) = board.take(shutdown.is_stopping()) {
                self.changed.notify_all();
                return Some(run);
            }
            if board.closed && board.waiting.is_empty() {
                return None;
            }
            board = self.wait(board);
        }
    }

    /// Notes the end of a run (`ran`: `Some(ok)` if it ran, `None` if it was
    /// given back, killed at shutdown or not recorded). The directory and its
    /// state if that was its last run.
    fn end(&self, run: &Run, ran: Option<bool>) -> Option<(PathBuf, OpenDir)> {
        let mut board = self.lock();
        let open = board.open.get_mut(&run.dir)?;
        open.unended.remove(&run.plugin.name);
        match ran {
            Some(ok) => {
                open.result.ran += 1;
                open.result.failed += u32::from(!ok);
            }
            None => open.unfinished = true,
        }
        let last = open.unended.is_empty();
        self.changed.notify_all();
        if last {
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
    /// Removes and returns the first waiting run that may start.
    fn take(&mut self, any: bool) -> Option<Run> {
        if any {
            return self.waiting.pop_front();
        }
        let mut held: HashSet<&str> = HashSet::new();
        let mut chosen = None;
        for (i, run) in self.waiting.iter().enumerate() {
            let name = run.plugin.name.as_str();
            if held.contains(name) {
                continue;
            }
            let blocked = self.open.get(&run.dir).is_some_and(|open| {
                run.plugin
                    .after
                    .iter()
                    .any(|first| open.unended.contains(first))
            });
            if blocked {
                held.insert(name);
                continue;
            }
            chosen = Some(i);
            break;
        }
        self.waiting.remove(chosen?)
    }
}

/// The preparer: batches of waiting directories, looked at and claimed.
fn prepare(
    ctx: &Context,
    record: &Record,
    jobs: &Receiver<PathBuf>,
    board: &Shared,
    done: &Sender<Done>,
    mode: &Mode,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        batch.extend(jobs.try_iter().take(BATCH - 1));
        if ctx.shutdown.is_stopping() {
            for dir in batch {
                let _ = done.send(Done { dir, result: None });
            }
            continue;
        }
        let plugins = ctx.plugins();
        let why = ctx.waiting_reason();
        let mut dues = Vec::new();
        for dir in batch {
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
                            noticed(ctx, &ready);
                            board.add(ready);
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

/// The one line in the log when a directory gets runs.
fn noticed(ctx: &Context, ready: &Ready) {
    let names: Vec<&str> = ready.runs.iter().map(|(p, _)| p.name.as_str()).collect();
    tracing::info!(
        "{}: {} {} alert; running {}",
        job::relative_name(&ctx.tree_root, &ready.dir),
        ready.marker.superevent_id,
        ready.marker.alert_type,
        names.join(", ")
    );
}

fn failed(done: &Sender<Done>, dir: PathBuf, e: &dyn std::fmt::Display) {
    tracing::error!("{}: {e}; it is tried again at the next scan", dir.display());
    let _ = done.send(Done { dir, result: None });
}

/// A worker: one run at a time, the first on the board that may start.
fn work(ctx: &Context, record: &Record, board: &Shared, done: &Sender<Done>) {
    while let Some(run) = board.next(&ctx.shutdown) {
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

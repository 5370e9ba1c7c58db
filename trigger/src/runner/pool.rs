//! The worker threads, fed by one preparing thread.
//!
//! The preparer takes the directories waiting in the queue as a batch (up to
//! [`BATCH`]), checks their markers, lists the plugin folder once for the
//! batch, and claims every due run of the batch in one transaction: one fsync
//! makes a whole burst's worth of claims durable, where one per run capped a
//! burst at about a thousand runs a second. The claimed directories go to
//! `concurrency` workers, each taking one directory at a time, so plugins run
//! in name order within a directory while different directories run side by
//! side, and `concurrency` stays the number of runs at once. A claim is
//! durable before its process starts; claims never started (the trigger
//! stops first) are given back, and if the trigger dies before that the next
//! start finds them `running` under a dead process and runs them.
//! Each thread has its own record connection.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::job::{self, Context, DirResult, Looked, Mode, Ready};
use crate::record::{Record, RecordError};

/// The most directories claimed in one transaction.
pub const BATCH: usize = 64;

/// A directory handed back by a worker.
#[derive(Debug)]
pub struct Done {
    pub dir: PathBuf,
    /// `None` if the worker could not handle it (it is retried later).
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
        // Room for a whole batch, so the preparer claims the next batch while
        // the workers start this one.
        let (ready_tx, ready_rx) = crossbeam_channel::bounded::<Ready>(BATCH);
        let (done_tx, done) = crossbeam_channel::unbounded();
        let mut threads = Vec::new();
        let record = Record::open(state_dir)?;
        let (c, d, m) = (ctx.clone(), done_tx.clone(), mode.clone());
        let spawned = std::thread::Builder::new()
            .name("preparer".into())
            .spawn(move || prepare(&c, &record, &jobs_rx, &ready_tx, &d, &m));
        match spawned {
            Ok(handle) => threads.push(handle),
            Err(e) => tracing::error!("cannot start the preparing thread: {e}"),
        }
        for i in 0..n.max(1) {
            let record = Record::open(state_dir)?;
            let (ctx, ready, done_tx) = (ctx.clone(), ready_rx.clone(), done_tx.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || work(&ctx, &record, &ready, &done_tx));
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

/// The preparer: batches of waiting directories, looked at and claimed.
fn prepare(
    ctx: &Context,
    record: &Record,
    jobs: &Receiver<PathBuf>,
    ready: &Sender<Ready>,
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
        let mut dues = Vec::new();
        for dir in batch {
            match job::look(record, &dir, mode, plugins.as_deref()) {
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
        match job::claim(ctx, record, dues, mode) {
            Ok(claimed) => {
                let mut claimed = claimed.into_iter().peekable();
                for dir in dirs {
                    match claimed.next_if(|r| r.dir == dir) {
                        Some(r) => {
                            if let Err(crossbeam_channel::SendError(r)) = ready.send(r) {
                                // No worker left (they could not start): give it back.
                                let _ = job::give_back(record, &r);
                                let _ = done.send(Done { dir, result: None });
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

fn failed(done: &Sender<Done>, dir: PathBuf, e: &dyn std::fmt::Display) {
    tracing::error!("{}: {e}; it is tried again at the next scan", dir.display());
    let _ = done.send(Done { dir, result: None });
}

/// A worker: one claimed directory at a time.
fn work(ctx: &Context, record: &Record, ready: &Receiver<Ready>, done: &Sender<Done>) {
    for r in ready {
        let dir = r.dir.clone();
        if ctx.shutdown.is_stopping() {
            if let Err(e) = job::give_back(record, &r) {
                tracing::warn!(
                    "{}: {e}; its claimed runs are run at the next start",
                    dir.display()
                );
            }
            let _ = done.send(Done { dir, result: None });
            continue;
        }
        match job::run_ready(ctx, record, r) {
            Ok(result) => {
                let _ = done.send(Done {
                    dir,
                    result: Some(result),
                });
            }
            Err(e) => failed(done, dir, &e),
        }
    }
}

//! The worker threads: `concurrency` of them, each taking one alert directory at
//! a time, so plugins run in name order within a directory while different
//! directories run side by side. Each worker has its own record connection.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::job::{handle_dir, Context, DirResult, Mode};
use crate::record::{Record, RecordError};

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
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// Starts `n` workers; each opens the record in `state_dir`.
    pub fn start(
        ctx: Arc<Context>,
        state_dir: &std::path::Path,
        n: usize,
        mode: Mode,
    ) -> Result<Pool, RecordError> {
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded::<PathBuf>();
        let (done_tx, done) = crossbeam_channel::unbounded();
        let mut workers = Vec::new();
        for i in 0..n.max(1) {
            let record = Record::open(state_dir)?;
            let (ctx, jobs, done_tx, mode) =
                (ctx.clone(), jobs_rx.clone(), done_tx.clone(), mode.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || work(&ctx, &record, &jobs, &done_tx, &mode));
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => tracing::error!("cannot start worker thread {i}: {e}"),
            }
        }
        Ok(Pool {
            jobs: Some(jobs_tx),
            done,
            workers,
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

    /// No more jobs; waits for the workers to finish theirs.
    pub fn close(mut self) {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }

    /// Whether every worker has finished (after [`Pool::close_queue`]).
    pub fn is_idle(&self) -> bool {
        self.workers.iter().all(|w| w.is_finished())
    }

    /// Stops accepting jobs without waiting.
    pub fn close_queue(&mut self) {
        self.jobs = None;
    }
}

fn work(
    ctx: &Context,
    record: &Record,
    jobs: &Receiver<PathBuf>,
    done: &Sender<Done>,
    mode: &Mode,
) {
    for dir in jobs {
        if ctx.shutdown.is_stopping() {
            let _ = done.send(Done { dir, result: None });
            continue;
        }
        let result = match handle_dir(ctx, record, &dir, mode) {
            Ok(result) => Some(result),
            Err(e) => {
                tracing::error!("{}: {e}; it is tried again at the next scan", dir.display());
                None
            }
        };
        let _ = done.send(Done { dir, result });
    }
}

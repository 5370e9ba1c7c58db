//! Live updates: the trigger's own inotify watches (`crate::watch::inotify`:
//! the root, the kind folders and each event directory, never the whole
//! tree recursively) tell when an alert directory becomes complete; each one
//! is announced once (per marker identity) to every open page. A scan of the
//! directory that appeared is the truth, as for the trigger; a follow-up scan
//! 200 ms later and a full scan every minute catch what events miss. When
//! inotify cannot be had, it scans the tree every 2 s instead.
//!
//! Each announcement is rendered here, once, whatever the number of open
//! pages, and shared by all of them (`Bytes` are reference-counted); a page
//! that does not keep up is closed by its stream (`routes`), so what a
//! slow page costs is bounded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::body::Bytes;
use crossbeam_channel::{Receiver, RecvTimeoutError};
use gocart_shared::Tree;
use tokio::sync::broadcast;

use crate::record::Identity;
use crate::watch::inotify::{hints, Hint, Inotify, RawEvent};
use crate::watch::scan::complete_in;

const FOLLOW_UP: Duration = Duration::from_millis(200);
const RECONCILE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_secs(2);

/// How many announcements the channel keeps for pages that have not taken
/// them yet: each page's stream takes them at once into its own small queue.
const KEPT: usize = 64;

/// What open pages are told.
#[derive(Debug, Clone)]
pub enum Notice {
    /// A directory became complete: the server-sent event, rendered once.
    Alert(Bytes),
    /// The server is stopping: end the stream.
    Stop,
}

/// Renders the event announcing a complete directory (canonical path), or
/// `None` if it cannot be shown.
pub type Render = Box<dyn Fn(&Path) -> Option<String> + Send>;

pub struct Live {
    sender: broadcast::Sender<Notice>,
}

/// Ends every live stream (on shutdown, so that the server can stop).
pub struct Stopper(broadcast::Sender<Notice>);

impl Stopper {
    pub fn stop(&self) {
        let _ = self.0.send(Notice::Stop);
    }
}

impl Live {
    /// Starts watching the tree in a thread of its own.
    pub fn start(tree: Tree, render: Render) -> anyhow::Result<Live> {
        let (sender, _) = broadcast::channel(KEPT);
        let (tx, rx) = crossbeam_channel::unbounded();
        let inotify = match Inotify::start(tree.clone(), tx) {
            Ok(inotify) => Some(inotify),
            Err(e) => {
                tracing::warn!("live updates: {e}; scanning the tree every {POLL:?} instead");
                None
            }
        };
        let announcer = Announcer {
            known: HashMap::new(),
            sender: sender.clone(),
            tree,
            inotify,
            render,
        };
        std::thread::Builder::new()
            .name("serve-live".into())
            .spawn(move || announcer.run(&rx))
            .context("cannot start the live-update thread")?;
        Ok(Live { sender })
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.sender.subscribe()
    }

    pub fn stopper(&self) -> Stopper {
        Stopper(self.sender.clone())
    }
}

struct Announcer {
    /// Every complete directory seen, with its marker's identity.
    known: HashMap<PathBuf, Identity>,
    sender: broadcast::Sender<Notice>,
    tree: Tree,
    inotify: Option<Inotify>,
    render: Render,
}

impl Announcer {
    fn run(mut self, rx: &Receiver<RawEvent>) {
        let root = self.tree.root().to_path_buf();
        self.watch(&root, false);
        // What is there at the start is not news.
        self.known = complete_in(&self.tree, &root, |_, _| true)
            .into_iter()
            .collect();
        let mut follow_ups: Vec<(Instant, PathBuf)> = Vec::new();
        let mut reconcile_at = Instant::now() + RECONCILE;
        loop {
            if self.inotify.is_none() {
                std::thread::sleep(POLL);
                self.announce_new(&root);
                continue;
            }
            let next = follow_ups
                .iter()
                .map(|(at, _)| *at)
                .min()
                .unwrap_or(reconcile_at)
                .min(reconcile_at);
            match rx.recv_timeout(next.saturating_duration_since(Instant::now())) {
                Ok(event) => {
                    for hint in hints(event, Path::is_dir) {
                        self.follow(hint, &mut follow_ups);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.inotify = None,
            }
            let now = Instant::now();
            let (due, later): (Vec<_>, Vec<_>) =
                follow_ups.into_iter().partition(|(at, _)| *at <= now);
            follow_ups = later;
            for (_, path) in due {
                self.announce_new(&path);
            }
            if now >= reconcile_at {
                self.announce_new(&root);
                reconcile_at = now + RECONCILE;
            }
        }
    }

    fn follow(&mut self, hint: Hint, follow_ups: &mut Vec<(Instant, PathBuf)>) {
        match hint {
            Hint::Appeared(path) => {
                self.watch(&path, true);
                self.announce_new(&path);
                follow_ups.push((Instant::now() + FOLLOW_UP, path));
            }
            Hint::Gone(path) => {
                if let Some(inotify) = &mut self.inotify {
                    inotify.forget(&path);
                }
                self.known.retain(|dir, _| !dir.starts_with(&path));
            }
            Hint::Rescan => {
                let root = self.tree.root().to_path_buf();
                self.announce_new(&root);
            }
            Hint::Broken(why) => {
                tracing::warn!("live updates: {why}; scanning the tree every {POLL:?} instead");
                self.inotify = None;
            }
        }
    }

    fn watch(&mut self, path: &Path, new: bool) {
        if let Some(inotify) = &mut self.inotify {
            if let Err(e) = inotify.watch_down(path, new) {
                tracing::warn!("live updates: {e}; scanning the tree every {POLL:?} instead");
                self.inotify = None;
            }
        }
    }

    /// Announces each complete directory at or below `path` not seen before
    /// (or whose marker changed).
    fn announce_new(&mut self, path: &Path) {
        let known = &self.known;
        let new = complete_in(&self.tree, path, |dir, id| known.get(dir) != Some(&id));
        for (dir, id) in new {
            if let Some(inotify) = &mut self.inotify {
                inotify.complete(&dir);
            }
            self.known.insert(dir.clone(), id);
            let pages = self.sender.receiver_count();
            if pages == 0 {
                tracing::debug!("live: {} is complete, no page open", dir.display());
                continue;
            }
            let Some(event) = (self.render)(&dir) else {
                continue;
            };
            // Tests count these lines: one per directory, whatever `pages` is.
            tracing::debug!(
                "live: {} is complete, rendered once for {pages} open pages",
                dir.display()
            );
            let _ = self.sender.send(Notice::Alert(Bytes::from(event)));
        }
    }
}

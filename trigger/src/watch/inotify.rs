//! The inotify side of watching, through `notify`.
//!
//! Rather than a recursive watch of the whole tree, only the levels where new
//! alert directories can appear are watched: the root, `mockevents`/`superevents`
//! and each event directory, plus an alert directory that appeared without its
//! marker (built in place) until the marker comes. So the ingester's writes in
//! `.staging` and the 100,000 finished alert directories cost no watch and no
//! event. notify 8's inotify backend fixes the event mask, so the kinds we do
//! not use are dropped in the callback ([`wanted`]), which only filters and
//! sends on an unbounded channel: it never blocks and never drops a wanted event.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crossbeam_channel::Sender;
use gocart_shared::{Level, Tree, MARKER_NAME};
use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};

use super::scan::visible_subdirs;

pub type RawEvent = notify::Result<notify::Event>;

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("the inotify watch limit is reached (raise it with `sysctl fs.inotify.max_user_watches=...`)")]
    Limit,
    #[error("cannot watch {path}: {source}")]
    Other {
        path: PathBuf,
        source: notify::Error,
    },
}

/// What an event tells the dispatcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// Something appeared at this path (a directory, or the directory whose
    /// marker was written): scan it.
    Appeared(PathBuf),
    /// This directory went away.
    Gone(PathBuf),
    /// Events were lost (queue overflow): scan everything.
    Rescan,
    /// Watching stopped working; switch to polling.
    Broken(String),
}

/// The live inotify watches.
pub struct Inotify {
    watcher: RecommendedWatcher,
    watched: HashSet<PathBuf>,
    tree: Tree,
}

impl Inotify {
    /// Starts the watcher; events go to `tx`. Nothing is watched yet.
    pub fn start(tree: Tree, tx: Sender<RawEvent>) -> Result<Inotify, WatchError> {
        let handler = move |event: RawEvent| {
            if wanted(&event) {
                let _ = tx.send(event);
            }
        };
        let watcher =
            notify::recommended_watcher(handler).map_err(|source| classify(tree.root(), source))?;
        Ok(Inotify {
            watcher,
            watched: HashSet::new(),
            tree,
        })
    }

    /// Watches `path` and the levels below it down to event directories.
    /// `new` (a directory that appeared while running): also watch its
    /// alert directories that have no marker yet.
    pub fn watch_down(&mut self, path: &Path, new: bool) -> Result<(), WatchError> {
        let Some(level) = self.tree.level_of(path) else {
            return Ok(());
        };
        if level == Level::Alert {
            return self.watch_incomplete_alert(path);
        }
        self.add(path)?;
        match level {
            // At start-up the alert directories are not looked at one by one
            // (100,000 `stat`s); the scan finds the complete ones.
            Level::Event if !new => {}
            Level::Event => {
                for sub in visible_subdirs(path) {
                    self.watch_incomplete_alert(&sub)?;
                }
            }
            _ => {
                for sub in visible_subdirs(path) {
                    self.watch_down(&sub, new)?;
                }
            }
        }
        Ok(())
    }

    /// An alert directory without its marker is watched until the marker comes.
    fn watch_incomplete_alert(&mut self, dir: &Path) -> Result<(), WatchError> {
        if !dir.join(MARKER_NAME).exists() {
            self.add(dir)?;
        }
        Ok(())
    }

    /// A directory became complete: its watch is no longer needed.
    pub fn complete(&mut self, dir: &Path) {
        if self.watched.remove(dir) {
            let _ = self.watcher.unwatch(dir);
        }
    }

    /// A directory went away (the kernel dropped its watch itself).
    pub fn forget(&mut self, dir: &Path) {
        self.watched.retain(|w| !w.starts_with(dir));
    }

    pub fn watch_count(&self) -> usize {
        self.watched.len()
    }

    fn add(&mut self, path: &Path) -> Result<bool, WatchError> {
        if self.watched.contains(path) {
            return Ok(false);
        }
        match self.watcher.watch(path, RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.watched.insert(path.to_path_buf());
                Ok(true)
            }
            // Removed between listing and watching: nothing to watch.
            Err(e) if matches!(e.kind, notify::ErrorKind::PathNotFound) => Ok(false),
            Err(e) => Err(classify(path, e)),
        }
    }
}

fn classify(path: &Path, source: notify::Error) -> WatchError {
    let limit = matches!(source.kind, notify::ErrorKind::MaxFilesWatch)
        || matches!(&source.kind, notify::ErrorKind::Io(e) if e.raw_os_error() == Some(libc::ENOSPC) || e.raw_os_error() == Some(libc::EMFILE));
    if limit {
        WatchError::Limit
    } else {
        WatchError::Other {
            path: path.into(),
            source,
        }
    }
}

/// The event kinds the trigger uses: directories created or renamed in or
/// out, a marker closed after writing or renamed into place, and overflows.
pub fn wanted(event: &RawEvent) -> bool {
    let Ok(event) = event else { return true };
    event.need_rescan()
        || matches!(
            event.kind,
            EventKind::Create(_)
                | EventKind::Remove(_)
                | EventKind::Modify(ModifyKind::Name(_))
                | EventKind::Access(AccessKind::Close(AccessMode::Write))
        )
}

/// What a raw event means. `is_dir` says whether a path is a directory
/// (asked only for created or renamed-in paths).
pub fn hints(event: RawEvent, is_dir: impl Fn(&Path) -> bool) -> Vec<Hint> {
    let event = match event {
        Ok(event) => event,
        Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
            return vec![Hint::Broken(WatchError::Limit.to_string())]
        }
        Err(e) => {
            tracing::warn!("watch error: {e}; scanning everything");
            return vec![Hint::Rescan];
        }
    };
    if event.need_rescan() {
        return vec![Hint::Rescan];
    }
    let Some(path) = event.paths.last().cloned() else {
        return Vec::new();
    };
    let is_marker = path.file_name().is_some_and(|n| n == MARKER_NAME);
    match event.kind {
        EventKind::Modify(ModifyKind::Name(RenameMode::From)) | EventKind::Remove(_) => {
            vec![Hint::Gone(path)]
        }
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
            // The `To` event of the same rename is handled on its own.
            Vec::new()
        }
        EventKind::Access(AccessKind::Close(AccessMode::Write))
        | EventKind::Modify(ModifyKind::Name(_))
            if is_marker =>
        {
            path.parent()
                .map(|p| vec![Hint::Appeared(p.into())])
                .unwrap_or_default()
        }
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Name(_))
            if !is_marker && is_dir(&path) =>
        {
            vec![Hint::Appeared(path)]
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange};
    use notify::Event;

    fn ev(kind: EventKind, path: &str) -> RawEvent {
        Ok(Event::new(kind).add_path(path.into()))
    }

    #[test]
    fn events_become_hints() {
        let dir = |_: &Path| true;
        let file = |_: &Path| false;
        let marker = "/t/mockevents/MS1/a/.gocart-complete";
        assert_eq!(
            hints(
                ev(
                    EventKind::Access(AccessKind::Close(AccessMode::Write)),
                    marker
                ),
                file
            ),
            vec![Hint::Appeared("/t/mockevents/MS1/a".into())]
        );
        assert!(hints(ev(EventKind::Create(CreateKind::File), marker), file).is_empty());
        let to = EventKind::Modify(ModifyKind::Name(RenameMode::To));
        assert_eq!(
            hints(ev(to, "/t/mockevents/MS1/a"), dir),
            vec![Hint::Appeared("/t/mockevents/MS1/a".into())]
        );
        assert!(hints(ev(to, "/t/mockevents/MS1/a/file"), file).is_empty());
        let from = EventKind::Modify(ModifyKind::Name(RenameMode::From));
        assert_eq!(
            hints(ev(from, "/t/x"), dir),
            vec![Hint::Gone("/t/x".into())]
        );
        let overflow = Ok(Event::new(EventKind::Other).set_flag(notify::event::Flag::Rescan));
        assert_eq!(hints(overflow, dir), vec![Hint::Rescan]);
        let limit = Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch));
        assert!(matches!(hints(limit, dir)[0], Hint::Broken(_)));
    }

    #[test]
    fn noisy_kinds_are_dropped_in_the_callback() {
        assert!(!wanted(&ev(
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            "/t/a"
        )));
        assert!(!wanted(&ev(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            "/t/a"
        )));
        assert!(wanted(&ev(EventKind::Create(CreateKind::Folder), "/t/a")));
    }
}

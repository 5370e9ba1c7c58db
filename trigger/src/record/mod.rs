//! The durable record of plugin runs, kept in `<state_dir>/trigger.sqlite`.
//!
//! It is what makes the trigger behave like a queue: the filesystem says which
//! alert directories are complete, this record says what has been done with each.
//! SQLite in WAL mode. Claims are committed with `synchronous=FULL` (on disk
//! before the call returns; a batch of claims shares one commit), so `running`
//! is durable before a plugin starts and a crash of the trigger (or of the
//! machine) never loses or invents a run; bookkeeping rides along relaxed (see
//! [`Record::relaxed`]). Several processes (a watcher and a `replay`) may use
//! the record at once; a run is *claimed* by one
//! atomic update, so two of them never start the same run.
//!
//! This file holds the connection, its errors and how writes are committed;
//! the rest is split by concern: `schema` (tables, migrations, pragmas),
//! `claims` (claiming, ending and recovering runs), `dirs` (what is known of
//! each alert directory and plugin) and `reports` (counts and rows for `status`).

mod claims;
mod dirs;
mod reports;
mod schema;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use claims::{Claim, ClaimRequest, Finish};
pub use dirs::DirNote;
pub use reports::{RunRow, Summary};

/// The file name of the record inside `state_dir`.
pub const RECORD_FILE: &str = "trigger.sqlite";

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("cannot create the state directory {dir}: {source}")]
    StateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("the run record {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
}

type Result<T> = std::result::Result<T, RecordError>;

/// The state of one (alert directory, plugin) run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunState {
    /// Known to be due, not started (or interrupted by a crash and due again).
    Pending,
    /// Claimed and (about to be) started; durable before the process exists.
    Running,
    Ok,
    Failed,
    /// Deliberately not run (the first start's `catch_up`); `replay` runs it.
    Skipped,
}

impl RunState {
    pub const ALL: [RunState; 5] = [
        RunState::Pending,
        RunState::Running,
        RunState::Ok,
        RunState::Failed,
        RunState::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Pending => "pending",
            RunState::Running => "running",
            RunState::Ok => "ok",
            RunState::Failed => "failed",
            RunState::Skipped => "skipped",
        }
    }

    fn parse(text: &str) -> Option<RunState> {
        RunState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// What identifies one version of a marker file: a directory replaced by a
/// changed alert (`RENAME_EXCHANGE`) has a new marker inode, and a marker still
/// being written changes size. Cheap to compare from one `stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Identity {
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
}

/// How long a read-only reader (`serve`) waits for a writer's lock.
const READ_ONLY_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the record. One per thread (SQLite connections are not shared).
pub struct Record {
    conn: Connection,
    path: PathBuf,
    pid: u32,
    /// Whether the connection is at `synchronous=FULL` now (see [`Record::relaxed`]).
    full_sync: std::cell::Cell<bool>,
}

/// Now, as stored: RFC 3339 UTC with milliseconds, which sorts as text.
pub fn now_text() -> String {
    time_text(Utc::now())
}

/// A time as the record stores it (see [`now_text`]).
pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Record {
    /// Opens (creating if needed) the record in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Record> {
        std::fs::create_dir_all(state_dir).map_err(|source| RecordError::StateDir {
            dir: state_dir.into(),
            source,
        })?;
        let record = Record::connect(state_dir.join(RECORD_FILE), OpenFlags::default())?;
        record.sqlite(|| record.configure())?;
        Ok(record)
    }

    /// Opens an existing record for reading only (`serve`): nothing is
    /// created, migrated or written. `None` when there is no record yet.
    pub fn open_read_only(state_dir: &Path) -> Result<Option<Record>> {
        let path = state_dir.join(RECORD_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let record = Record::connect(path, flags)?;
        record.sqlite(|| record.conn.busy_timeout(READ_ONLY_BUSY_TIMEOUT))?;
        Ok(Some(record))
    }

    /// The connection to the file at `path`, not yet configured.
    fn connect(path: PathBuf, flags: OpenFlags) -> Result<Record> {
        match Connection::open_with_flags(&path, flags) {
            Ok(conn) => Ok(Record {
                conn,
                path,
                pid: std::process::id(),
                full_sync: std::cell::Cell::new(true),
            }),
            Err(source) => Err(RecordError::Sqlite { path, source }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs SQLite work on this record: the one place where a SQLite error
    /// is given the record's path, so that the work itself only needs `?`.
    fn sqlite<T>(&self, work: impl FnOnce() -> rusqlite::Result<T>) -> Result<T> {
        work().map_err(|source| RecordError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }

    /// A write transaction that takes the write lock at once (`BEGIN IMMEDIATE`):
    /// a deferred one that reads first and then writes cannot wait for another
    /// writer and fails with "database is locked" instead.
    fn write_tx(&self) -> rusqlite::Result<Transaction<'_>> {
        Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
    }

    /// Runs bookkeeping writes whose loss costs nothing but a second look
    /// (a directory noted or settled, a plugin's first sighting, the end of a
    /// run) with `synchronous=NORMAL`: no fsync of their own. In WAL mode the
    /// next `FULL` commit (a claim) syncs them too, in order, so only the
    /// durability of claims is paid for. The setting is changed only when it
    /// differs, so a worker that only ever writes relaxed never pays for it.
    fn relaxed<T>(&self, work: impl FnOnce() -> rusqlite::Result<T>) -> Result<T> {
        self.sqlite(|| {
            self.set_full_sync(false)?;
            work()
        })
    }

    /// Runs writes that must be on disk when they return (claims, recovery,
    /// the first start's record) with `synchronous=FULL`.
    fn durable<T>(&self, work: impl FnOnce() -> rusqlite::Result<T>) -> Result<T> {
        self.sqlite(|| {
            self.set_full_sync(true)?;
            work()
        })
    }

    fn set_full_sync(&self, full: bool) -> rusqlite::Result<()> {
        if self.full_sync.get() != full {
            let value = if full { "FULL" } else { "NORMAL" };
            self.conn.pragma_update(None, "synchronous", value)?;
            self.full_sync.set(full);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

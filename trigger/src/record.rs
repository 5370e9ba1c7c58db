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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};

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

/// What the record says about an alert directory's marker when it is first seen.
#[derive(Debug, Clone)]
pub struct DirNote<'a> {
    pub identity: Identity,
    pub superevent_id: &'a str,
    pub alert_type: &'a str,
    pub written_at: &'a str,
    pub message_sha256: &'a str,
}

impl DirNote<'_> {
    /// The values of the `dirs` columns ?1..?9 (dir, marker identity, the
    /// marker's fields, when seen), in the order both inserts list them.
    fn params<'p>(&'p self, dir: &'p str, seen_at: &'p str) -> impl rusqlite::Params + 'p {
        (
            dir,
            self.identity.ino as i64,
            self.identity.size as i64,
            self.identity.mtime_ns,
            self.superevent_id,
            self.alert_type,
            self.written_at,
            self.message_sha256,
            seen_at,
        )
    }
}

/// The end of a run.
#[derive(Debug, Clone)]
pub struct Finish<'a> {
    /// When the process really started (a claim may be made a little ahead).
    pub started_at: Option<&'a str>,
    /// Whether the run wrote output: a silent run has no log file, and its
    /// `log_path` is cleared.
    pub logged: bool,
    pub ok: bool,
    pub exit_status: &'a str,
    pub reason: Option<&'a str>,
}

/// One run to claim (see [`Record::claim_many`]).
pub struct ClaimRequest<'a> {
    pub dir: &'a str,
    pub plugin: &'a str,
    /// The states it may be claimed from (absent is always claimable).
    pub from: &'a [RunState],
    /// The output file of an attempt.
    pub log_path: &'a dyn Fn(u32) -> String,
}

/// A run this process claimed: `running`, durable, not yet necessarily started.
#[derive(Debug, Clone)]
pub struct Claim {
    pub attempt: u32,
    /// The row as it was before, so that a claim never started can be given back.
    previous: Option<PreviousRun>,
}

#[derive(Debug, Clone)]
struct PreviousRun {
    state: String,
    attempts: u32,
    exit_status: Option<String>,
    started_at: Option<String>,
    ended_at: Option<String>,
    log_path: Option<String>,
    reason: Option<String>,
    owner_pid: Option<i64>,
}

/// One row of `runs`, for `status`.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub dir: String,
    pub plugin: String,
    pub state: RunState,
    pub attempts: u32,
    pub exit_status: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub log_path: Option<String>,
    pub reason: Option<String>,
}

/// Counts for `status` and the start-up message.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub runs: Vec<(RunState, u64)>,
    pub dirs: u64,
    pub catch_up_skipped_dirs: u64,
    pub invalid_dirs: Vec<(String, String)>,
    /// Directories waiting for plugins, counted per reason.
    pub waiting: Vec<(String, u64)>,
}

/// A connection to the record. One per thread (SQLite connections are not shared).
pub struct Record {
    conn: Connection,
    path: PathBuf,
    pid: u32,
    /// Whether the connection is at `synchronous=FULL` now (see [`Record::relaxed`]).
    full_sync: std::cell::Cell<bool>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plugins (name TEXT PRIMARY KEY, appeared_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS dirs (
    dir TEXT PRIMARY KEY,
    marker_ino INTEGER NOT NULL,
    marker_size INTEGER NOT NULL,
    marker_mtime_ns INTEGER NOT NULL,
    superevent_id TEXT,
    alert_type TEXT,
    written_at TEXT,
    message_sha256 TEXT,
    seen_at TEXT NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0,
    problem TEXT,
    catch_up_skipped INTEGER NOT NULL DEFAULT 0,
    waiting TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    dir TEXT NOT NULL,
    plugin TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending','running','ok','failed','skipped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    exit_status TEXT,
    started_at TEXT,
    ended_at TEXT,
    log_path TEXT,
    reason TEXT,
    owner_pid INTEGER,
    PRIMARY KEY (dir, plugin)
);
CREATE INDEX IF NOT EXISTS runs_by_state ON runs(state);
";

/// Now, as stored: RFC 3339 UTC with milliseconds, which sorts as text.
pub fn now_text() -> String {
    time_text(Utc::now())
}

pub fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Records written before directories could wait for plugins lack the
/// `dirs.waiting` column: it is added (empty, as nothing was waiting).
fn add_waiting_column(conn: &Connection) -> rusqlite::Result<()> {
    let has: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('dirs') WHERE name = 'waiting'",
        [],
        |r| r.get(0),
    )?;
    if has == 0 {
        conn.execute_batch("ALTER TABLE dirs ADD COLUMN waiting TEXT")?;
    }
    Ok(())
}

/// Runs `step` again while SQLite says the database is busy or locked
/// without having waited itself, for up to the busy timeout.
fn retry_when_locked(mut step: impl FnMut() -> rusqlite::Result<()>) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        match step() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

impl Record {
    /// Opens (creating if needed) the record in `state_dir`.
    pub fn open(state_dir: &Path) -> Result<Record> {
        std::fs::create_dir_all(state_dir).map_err(|source| RecordError::StateDir {
            dir: state_dir.into(),
            source,
        })?;
        let path = state_dir.join(RECORD_FILE);
        let conn = Connection::open(&path).map_err(|source| RecordError::Sqlite {
            path: path.clone(),
            source,
        })?;
        let record = Record {
            conn,
            path,
            pid: std::process::id(),
            full_sync: std::cell::Cell::new(true),
        };
        record.configure()?;
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
        let conn =
            Connection::open_with_flags(&path, flags).map_err(|source| RecordError::Sqlite {
                path: path.clone(),
                source,
            })?;
        let record = Record {
            conn,
            path,
            pid: std::process::id(),
            full_sync: std::cell::Cell::new(true),
        };
        record
            .conn
            .busy_timeout(Duration::from_secs(5))
            .map_err(|e| record.err(e))?;
        Ok(Some(record))
    }

    fn configure(&self) -> Result<()> {
        let conn = &self.conn;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| self.err(e))?;
        // Switching a new file to WAL and creating the tables read first and
        // then write. When two processes do that at the same moment (the
        // trigger starting, `status` run beside it), SQLite answers one of
        // them "database is locked" at once instead of waiting, to avoid a
        // deadlock: that one tries again.
        retry_when_locked(|| {
            conn.pragma_update(None, "journal_mode", "WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")?;
            conn.execute_batch(SCHEMA)?;
            add_waiting_column(conn)
        })
        .map_err(|e| self.err(e))
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
    fn relaxed<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.set_full_sync(false)?;
        f()
    }

    /// Runs writes that must be on disk when they return (claims, recovery,
    /// the first start's record) with `synchronous=FULL`.
    fn durable<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.set_full_sync(true)?;
        f()
    }

    fn set_full_sync(&self, full: bool) -> Result<()> {
        if self.full_sync.get() != full {
            let value = if full { "FULL" } else { "NORMAL" };
            self.conn
                .pragma_update(None, "synchronous", value)
                .map_err(|e| self.err(e))?;
            self.full_sync.set(full);
        }
        Ok(())
    }

    fn err(&self, source: rusqlite::Error) -> RecordError {
        RecordError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this record has never completed a first start (the `catch_up` rule).
    pub fn is_new(&self) -> Result<bool> {
        let found: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'initialised'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(found.is_none())
    }

    pub fn mark_initialised(&self) -> Result<()> {
        self.durable(|| {
            self.conn
                .execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('initialised', ?1)",
                    [now_text()],
                )
                .map_err(|e| self.err(e))
        })?;
        Ok(())
    }

    /// Runs left `running` by a process that no longer exists go back to
    /// `pending`, and their directories are no longer settled, so they run again.
    pub fn recover_interrupted(&self) -> Result<Vec<(String, String)>> {
        self.durable(|| self.recover_interrupted_now())
    }

    fn recover_interrupted_now(&self) -> Result<Vec<(String, String)>> {
        let rows = self.rows_where("state = 'running'", [])?;
        let mut recovered = Vec::new();
        for row in rows {
            let owner: Option<i64> = self
                .conn
                .query_row(
                    "SELECT owner_pid FROM runs WHERE dir = ?1 AND plugin = ?2",
                    params![row.dir, row.plugin],
                    |r| r.get(0),
                )
                .map_err(|e| self.err(e))?;
            if owner.is_some_and(|pid| self.is_alive(pid)) {
                continue;
            }
            self.conn
                .execute(
                    "UPDATE runs SET state = 'pending', reason = 'interrupted: the trigger stopped during the run'
                     WHERE dir = ?1 AND plugin = ?2 AND state = 'running'",
                    params![row.dir, row.plugin],
                )
                .map_err(|e| self.err(e))?;
            self.conn
                .execute("UPDATE dirs SET settled = 0 WHERE dir = ?1", [&row.dir])
                .map_err(|e| self.err(e))?;
            recovered.push((row.dir, row.plugin));
        }
        Ok(recovered)
    }

    /// Whether the process that claimed a run still exists (not this one, which
    /// has just started and so cannot own an older claim).
    fn is_alive(&self, pid: i64) -> bool {
        pid != i64::from(self.pid) && gocart_shared::process::is_alive(pid)
    }

    /// Every settled directory with the marker identity it was settled with.
    pub fn settled_dirs(&self) -> Result<HashMap<PathBuf, Identity>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT dir, marker_ino, marker_size, marker_mtime_ns FROM dirs WHERE settled = 1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    PathBuf::from(r.get::<_, String>(0)?),
                    Identity {
                        ino: r.get::<_, i64>(1)? as u64,
                        size: r.get::<_, i64>(2)? as u64,
                        mtime_ns: r.get(3)?,
                    },
                ))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }

    /// When a plugin first appeared; `candidate` is recorded if it is new.
    pub fn plugin_appeared_at(&self, name: &str, candidate: &str) -> Result<String> {
        let select = || -> Result<Option<String>> {
            self.conn
                .prepare_cached("SELECT appeared_at FROM plugins WHERE name = ?1")
                .and_then(|mut stmt| stmt.query_row([name], |r| r.get(0)).optional())
                .map_err(|e| self.err(e))
        };
        if let Some(known) = select()? {
            return Ok(known);
        }
        self.relaxed(|| {
            self.conn
                .execute(
                    "INSERT OR IGNORE INTO plugins (name, appeared_at) VALUES (?1, ?2)",
                    params![name, candidate],
                )
                .map_err(|e| self.err(e))
        })?;
        Ok(select()?.unwrap_or_else(|| candidate.to_string()))
    }

    /// Records a valid marker. If the directory was known with a different
    /// message (a changed alert replaced it), its runs become due again; returns
    /// whether that happened.
    pub fn note_dir(&self, dir: &str, note: &DirNote) -> Result<bool> {
        self.relaxed(|| self.note_dir_now(dir, note))
    }

    fn note_dir_now(&self, dir: &str, note: &DirNote) -> Result<bool> {
        let tx = self.write_tx().map_err(|e| self.err(e))?;
        let previous: Option<Option<String>> = tx
            .prepare_cached("SELECT message_sha256 FROM dirs WHERE dir = ?1")
            .and_then(|mut stmt| stmt.query_row([dir], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        let replaced = matches!(&previous, Some(Some(sha)) if sha != note.message_sha256);
        tx.prepare_cached(
            "INSERT INTO dirs (dir, marker_ino, marker_size, marker_mtime_ns, superevent_id,
                               alert_type, written_at, message_sha256, seen_at, problem)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, NULL)
             ON CONFLICT(dir) DO UPDATE SET marker_ino = excluded.marker_ino,
                marker_size = excluded.marker_size, marker_mtime_ns = excluded.marker_mtime_ns,
                superevent_id = excluded.superevent_id, alert_type = excluded.alert_type,
                written_at = excluded.written_at, message_sha256 = excluded.message_sha256,
                problem = NULL, settled = 0",
        )
        .and_then(|mut stmt| stmt.execute(note.params(dir, &now_text())))
        .map_err(|e| self.err(e))?;
        if replaced {
            tx.execute(
                "UPDATE runs SET state = 'pending', reason = 'the alert directory was replaced by a changed alert'
                 WHERE dir = ?1 AND state != 'running'",
                [dir],
            )
            .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(replaced)
    }

    /// Records an invalid marker, settled with its identity so that it is
    /// reported once, and looked at again only when the marker changes.
    /// Returns whether this identity was already recorded as invalid.
    pub fn note_invalid(&self, dir: &str, identity: Identity, problem: &str) -> Result<bool> {
        self.relaxed(|| self.note_invalid_now(dir, identity, problem))
    }

    fn note_invalid_now(&self, dir: &str, identity: Identity, problem: &str) -> Result<bool> {
        let known: Option<(i64, i64, i64, Option<String>)> = self
            .conn
            .query_row(
                "SELECT marker_ino, marker_size, marker_mtime_ns, problem FROM dirs WHERE dir = ?1",
                [dir],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let already = matches!(known, Some((ino, size, mtime, Some(_)))
            if ino as u64 == identity.ino && size as u64 == identity.size && mtime == identity.mtime_ns);
        self.conn
            .execute(
                "INSERT INTO dirs (dir, marker_ino, marker_size, marker_mtime_ns, seen_at, problem, settled)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)
                 ON CONFLICT(dir) DO UPDATE SET marker_ino = excluded.marker_ino,
                    marker_size = excluded.marker_size, marker_mtime_ns = excluded.marker_mtime_ns,
                    problem = excluded.problem, settled = 1",
                params![
                    dir,
                    identity.ino as i64,
                    identity.size as i64,
                    identity.mtime_ns,
                    now_text(),
                    problem
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(already)
    }

    /// Records that a directory waits because there is no plugin to run
    /// (`why`, e.g. "no plugins in /p"): the first plugins to appear run on it,
    /// whenever the directory was written.
    pub fn wait_for_plugins(&self, dir: &str, why: &str) -> Result<()> {
        self.relaxed(|| {
            self.conn
                .prepare_cached("UPDATE dirs SET waiting = ?2 WHERE dir = ?1 AND settled = 0")
                .and_then(|mut stmt| stmt.execute(params![dir, why]))
                .map_err(|e| self.err(e))
        })?;
        Ok(())
    }

    /// Whether a directory waits for the first plugins (see [`Record::wait_for_plugins`]).
    pub fn is_waiting(&self, dir: &str) -> Result<bool> {
        let waiting: Option<Option<String>> = self
            .conn
            .prepare_cached("SELECT waiting FROM dirs WHERE dir = ?1")
            .and_then(|mut stmt| stmt.query_row([dir], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))?;
        Ok(matches!(waiting, Some(Some(_))))
    }

    /// The state of one run, if the record has it.
    pub fn run_state(&self, dir: &str, plugin: &str) -> Result<Option<RunState>> {
        let state: Option<String> = self
            .conn
            .prepare_cached("SELECT state FROM runs WHERE dir = ?1 AND plugin = ?2")
            .and_then(|mut stmt| {
                stmt.query_row(params![dir, plugin], |r| r.get(0))
                    .optional()
            })
            .map_err(|e| self.err(e))?;
        Ok(state.as_deref().and_then(RunState::parse))
    }

    /// Claims a run: it becomes `running`, owned by this process, with one more
    /// attempt, if it is absent or in one of the `from` states. Returns the
    /// attempt number, or `None` if someone else has it or it is not due.
    /// `log_path` gives the output file of that attempt. Durable on return.
    #[cfg(test)]
    pub fn claim(
        &self,
        dir: &str,
        plugin: &str,
        from: &[RunState],
        log_path: impl Fn(u32) -> String,
    ) -> Result<Option<u32>> {
        let wanted = ClaimRequest {
            dir,
            plugin,
            from,
            log_path: &log_path,
        };
        let mut claims = self.claim_many(&[wanted])?;
        Ok(claims.pop().flatten().map(|claim| claim.attempt))
    }

    /// Claims several runs in one transaction, so that one fsync makes them all
    /// durable (a group commit: a burst of directories pays one fsync per batch,
    /// not one per run). Each is claimed as [`Record::claim`] would; the answer
    /// has one entry per request, `None` for those not claimed. If anything
    /// fails the transaction is rolled back and nothing is claimed.
    pub fn claim_many(&self, wanted: &[ClaimRequest]) -> Result<Vec<Option<Claim>>> {
        self.durable(|| self.claim_many_now(wanted))
    }

    fn claim_many_now(&self, wanted: &[ClaimRequest]) -> Result<Vec<Option<Claim>>> {
        let tx = self.write_tx().map_err(|e| self.err(e))?;
        let now = now_text();
        let mut claims = Vec::with_capacity(wanted.len());
        for w in wanted {
            claims.push(self.claim_in(&tx, w, &now)?);
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(claims)
    }

    fn claim_in(&self, tx: &Transaction, w: &ClaimRequest, now: &str) -> Result<Option<Claim>> {
        let previous: Option<PreviousRun> = tx
            .prepare_cached(
                "SELECT state, attempts, exit_status, started_at, ended_at, log_path, reason,
                        owner_pid
                 FROM runs WHERE dir = ?1 AND plugin = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![w.dir, w.plugin], |r| {
                    Ok(PreviousRun {
                        state: r.get(0)?,
                        attempts: r.get(1)?,
                        exit_status: r.get(2)?,
                        started_at: r.get(3)?,
                        ended_at: r.get(4)?,
                        log_path: r.get(5)?,
                        reason: r.get(6)?,
                        owner_pid: r.get(7)?,
                    })
                })
                .optional()
            })
            .map_err(|e| self.err(e))?;
        let attempts = match &previous {
            None => 0,
            Some(p) if RunState::parse(&p.state).is_some_and(|s| w.from.contains(&s)) => p.attempts,
            Some(_) => return Ok(None),
        };
        let attempt = attempts + 1;
        tx.prepare_cached(
            "INSERT INTO runs (dir, plugin, state, attempts, started_at, owner_pid, log_path)
             VALUES (?1, ?2, 'running', ?3, ?4, ?5, ?6)
             ON CONFLICT(dir, plugin) DO UPDATE SET state = 'running', attempts = excluded.attempts,
                started_at = excluded.started_at, ended_at = NULL, exit_status = NULL,
                reason = NULL, owner_pid = excluded.owner_pid, log_path = excluded.log_path",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                w.dir,
                w.plugin,
                attempt,
                now,
                self.pid,
                (w.log_path)(attempt)
            ])
        })
        .map_err(|e| self.err(e))?;
        tx.prepare_cached("UPDATE dirs SET settled = 0 WHERE dir = ?1")
            .and_then(|mut stmt| stmt.execute([w.dir]))
            .map_err(|e| self.err(e))?;
        Ok(Some(Claim { attempt, previous }))
    }

    /// Gives back runs claimed by this process that were never started (the
    /// trigger is stopping with claimed runs still queued): each row becomes
    /// what it was before the claim, or goes if there was none, so nothing is
    /// shown as interrupted that never ran. Relaxed: if this is lost, the claim
    /// stays and the next start treats the run as interrupted and runs it (the
    /// same end, by the longer way).
    pub fn unclaim(&self, runs: &[(&str, &str, &Claim)]) -> Result<()> {
        self.relaxed(|| {
            let tx = self.write_tx().map_err(|e| self.err(e))?;
            for (dir, plugin, claim) in runs {
                let changed = match &claim.previous {
                    None => tx.execute(
                        "DELETE FROM runs WHERE dir = ?1 AND plugin = ?2 AND state = 'running'
                         AND owner_pid = ?3 AND attempts = ?4",
                        params![dir, plugin, self.pid, claim.attempt],
                    ),
                    Some(p) => tx.execute(
                        "UPDATE runs SET state = ?5, attempts = ?6, exit_status = ?7,
                            started_at = ?8, ended_at = ?9, log_path = ?10, reason = ?11,
                            owner_pid = ?12
                         WHERE dir = ?1 AND plugin = ?2 AND state = 'running'
                         AND owner_pid = ?3 AND attempts = ?4",
                        params![
                            dir,
                            plugin,
                            self.pid,
                            claim.attempt,
                            p.state,
                            p.attempts,
                            p.exit_status,
                            p.started_at,
                            p.ended_at,
                            p.log_path,
                            p.reason,
                            p.owner_pid
                        ],
                    ),
                };
                changed.map_err(|e| self.err(e))?;
            }
            tx.commit().map_err(|e| self.err(e))
        })
    }

    /// Records the end of a run this process claimed. Relaxed (see
    /// [`Record::relaxed`]): it survives a crash of the trigger at once, and a
    /// power loss from the next claim on; if a power loss takes it, the run
    /// is still `running` and happens again, which is the at-least-once the
    /// design promises for a crash mid-run. This halves the fsyncs per run.
    pub fn finish(&self, dir: &str, plugin: &str, end: &Finish) -> Result<()> {
        let state = if end.ok { "ok" } else { "failed" };
        self.relaxed(|| {
            self.conn
                .prepare_cached(
                    "UPDATE runs SET state = ?3, exit_status = ?4, reason = ?5, ended_at = ?6,
                        started_at = COALESCE(?7, started_at),
                        log_path = CASE WHEN ?8 THEN log_path END
                     WHERE dir = ?1 AND plugin = ?2",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        dir,
                        plugin,
                        state,
                        end.exit_status,
                        end.reason,
                        now_text(),
                        end.started_at,
                        end.logged
                    ])
                })
                .map_err(|e| self.err(e))
        })?;
        Ok(())
    }

    /// The first start's `catch_up`: the directories older than the cutoff are
    /// recorded (one transaction for all) as skipped for every current plugin,
    /// and settled.
    pub fn skip_for_catch_up(
        &self,
        dirs: &[(String, DirNote)],
        plugins: &[String],
        reason: &str,
    ) -> Result<()> {
        self.durable(|| self.skip_for_catch_up_now(dirs, plugins, reason))
    }

    fn skip_for_catch_up_now(
        &self,
        dirs: &[(String, DirNote)],
        plugins: &[String],
        reason: &str,
    ) -> Result<()> {
        let tx = self.write_tx().map_err(|e| self.err(e))?;
        for (dir, note) in dirs {
            tx.execute(
                "INSERT OR REPLACE INTO dirs (dir, marker_ino, marker_size, marker_mtime_ns,
                    superevent_id, alert_type, written_at, message_sha256, seen_at, settled,
                    catch_up_skipped)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, 1)",
                note.params(dir, &now_text()),
            )
            .map_err(|e| self.err(e))?;
            for plugin in plugins {
                tx.execute(
                    "INSERT OR IGNORE INTO runs (dir, plugin, state, reason) VALUES (?1, ?2, 'skipped', ?3)",
                    params![dir, plugin, reason],
                )
                .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Marks a directory settled (nothing left to do) if none of its runs is
    /// pending or running. Returns whether it is settled.
    pub fn settle(&self, dir: &str) -> Result<bool> {
        let open: i64 = self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM runs WHERE dir = ?1 AND state IN ('pending','running')",
            )
            .and_then(|mut stmt| stmt.query_row([dir], |r| r.get(0)))
            .map_err(|e| self.err(e))?;
        if open > 0 {
            return Ok(false);
        }
        self.relaxed(|| {
            self.conn
                .prepare_cached("UPDATE dirs SET settled = 1, waiting = NULL WHERE dir = ?1")
                .and_then(|mut stmt| stmt.execute([dir]))
                .map_err(|e| self.err(e))
        })?;
        Ok(true)
    }

    /// Counts per state, directories, and invalid markers.
    pub fn summary(&self) -> Result<Summary> {
        let mut summary = Summary::default();
        for state in RunState::ALL {
            let n: i64 = self
                .conn
                .query_row(
                    "SELECT COUNT(*) FROM runs WHERE state = ?1",
                    [state.as_str()],
                    |r| r.get(0),
                )
                .map_err(|e| self.err(e))?;
            summary.runs.push((state, n as u64));
        }
        let count = |sql: &str| -> Result<u64> {
            let n: i64 = self
                .conn
                .query_row(sql, [], |r| r.get(0))
                .map_err(|e| self.err(e))?;
            Ok(n as u64)
        };
        summary.dirs = count("SELECT COUNT(*) FROM dirs")?;
        summary.catch_up_skipped_dirs =
            count("SELECT COUNT(*) FROM dirs WHERE catch_up_skipped = 1")?;
        let mut stmt = self
            .conn
            .prepare("SELECT dir, problem FROM dirs WHERE problem IS NOT NULL ORDER BY dir")
            .map_err(|e| self.err(e))?;
        summary.invalid_dirs = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT waiting, COUNT(*) FROM dirs WHERE waiting IS NOT NULL AND settled = 0
                 GROUP BY waiting ORDER BY waiting",
            )
            .map_err(|e| self.err(e))?;
        summary.waiting = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        Ok(summary)
    }

    /// The most recently started runs, newest first.
    pub fn last_runs(&self, limit: usize) -> Result<Vec<RunRow>> {
        self.rows_where(
            "started_at IS NOT NULL ORDER BY started_at DESC, dir, plugin LIMIT ?1",
            [limit as i64],
        )
    }

    /// The most recent failures, newest first.
    pub fn failures(&self, limit: usize) -> Result<Vec<RunRow>> {
        self.rows_where(
            "state = 'failed' ORDER BY ended_at DESC, dir, plugin LIMIT ?1",
            [limit as i64],
        )
    }

    /// Every run, by directory and plugin.
    pub fn all_runs(&self) -> Result<Vec<RunRow>> {
        self.rows_where("1 ORDER BY dir, plugin", [])
    }

    /// Every run of one directory.
    pub fn runs_of(&self, dir: &str) -> Result<Vec<RunRow>> {
        self.rows_where("dir = ?1 ORDER BY plugin", [dir])
    }

    fn rows_where<P: rusqlite::Params>(&self, clause: &str, params: P) -> Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT dir, plugin, state, attempts, exit_status, started_at, ended_at, log_path, reason
             FROM runs WHERE {clause}"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params, |r| {
                let state: String = r.get(2)?;
                Ok(RunRow {
                    dir: r.get(0)?,
                    plugin: r.get(1)?,
                    state: RunState::parse(&state).unwrap_or(RunState::Pending),
                    attempts: r.get(3)?,
                    exit_status: r.get(4)?,
                    started_at: r.get(5)?,
                    ended_at: r.get(6)?,
                    log_path: r.get(7)?,
                    reason: r.get(8)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(sha: &str) -> DirNote<'_> {
        DirNote {
            identity: Identity {
                ino: 7,
                size: 100,
                mtime_ns: 1,
            },
            superevent_id: "MS1",
            alert_type: "INITIAL",
            written_at: "2026-01-01T00:00:00.000Z",
            message_sha256: sha,
        }
    }

    fn log(n: u32) -> String {
        format!("/logs/{n}.log")
    }

    #[test]
    fn a_directory_waits_until_settled_and_an_older_record_gets_the_column() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A record from before directories could wait.
            let conn = Connection::open(dir.path().join(RECORD_FILE)).unwrap();
            conn.execute_batch(
                "CREATE TABLE dirs (dir TEXT PRIMARY KEY, marker_ino INTEGER NOT NULL,
                    marker_size INTEGER NOT NULL, marker_mtime_ns INTEGER NOT NULL,
                    superevent_id TEXT, alert_type TEXT, written_at TEXT, message_sha256 TEXT,
                    seen_at TEXT NOT NULL, settled INTEGER NOT NULL DEFAULT 0, problem TEXT,
                    catch_up_skipped INTEGER NOT NULL DEFAULT 0)",
            )
            .unwrap();
        }
        let record = Record::open(dir.path()).unwrap();
        record.note_dir("/t/a", &note("x")).unwrap();
        assert!(!record.is_waiting("/t/a").unwrap());
        record.wait_for_plugins("/t/a", "no plugins in /p").unwrap();
        assert!(record.is_waiting("/t/a").unwrap());
        let summary = record.summary().unwrap();
        assert_eq!(summary.waiting, vec![("no plugins in /p".to_string(), 1)]);
        assert!(record.settle("/t/a").unwrap());
        assert!(!record.is_waiting("/t/a").unwrap());
        assert!(record.summary().unwrap().waiting.is_empty());
    }

    #[test]
    fn a_run_is_claimed_once_and_finished() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::open(dir.path()).unwrap();
        assert!(record.is_new().unwrap());
        record.note_dir("/t/a", &note("x")).unwrap();
        assert_eq!(record.run_state("/t/a", "gp_a").unwrap(), None);
        assert_eq!(
            record
                .claim("/t/a", "gp_a", &[RunState::Pending], log)
                .unwrap(),
            Some(1)
        );
        assert_eq!(
            record.run_state("/t/a", "gp_a").unwrap(),
            Some(RunState::Running)
        );
        // A second claimer (another thread or process) does not get it.
        let other = Record::open(dir.path()).unwrap();
        assert_eq!(
            other
                .claim("/t/a", "gp_a", &[RunState::Pending], log)
                .unwrap(),
            None
        );
        assert!(!record.settle("/t/a").unwrap());
        let end = Finish {
            started_at: None,
            logged: true,
            ok: false,
            exit_status: "exit 1",
            reason: None,
        };
        record.finish("/t/a", "gp_a", &end).unwrap();
        assert!(record.settle("/t/a").unwrap());
        assert_eq!(
            record
                .claim("/t/a", "gp_a", &[RunState::Pending], log)
                .unwrap(),
            None
        );
        // Replay may take a failed run again: the attempt count goes up.
        let again = record
            .claim("/t/a", "gp_a", &[RunState::Failed], log)
            .unwrap();
        assert_eq!(again, Some(2));
        let rows = record.runs_of("/t/a").unwrap();
        assert_eq!(rows[0].log_path.as_deref(), Some("/logs/2.log"));
        assert_eq!(
            record.settled_dirs().unwrap().len(),
            0,
            "running again: not settled"
        );
    }

    #[test]
    fn runs_of_a_dead_owner_become_pending_again() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::open(dir.path()).unwrap();
        record.note_dir("/t/a", &note("x")).unwrap();
        record.claim("/t/a", "gp_a", &[], log).unwrap();
        record.claim("/t/a", "gp_b", &[], log).unwrap();
        // gp_a's owner is a process that does not exist; gp_b's is alive (pid 1).
        record
            .conn
            .execute(
                "UPDATE runs SET owner_pid = 999999999 WHERE plugin = 'gp_a'",
                [],
            )
            .unwrap();
        record
            .conn
            .execute("UPDATE runs SET owner_pid = 1 WHERE plugin = 'gp_b'", [])
            .unwrap();
        let recovered = record.recover_interrupted().unwrap();
        assert_eq!(recovered, vec![("/t/a".to_string(), "gp_a".to_string())]);
        assert_eq!(
            record.run_state("/t/a", "gp_a").unwrap(),
            Some(RunState::Pending)
        );
        assert_eq!(
            record
                .claim("/t/a", "gp_a", &[RunState::Pending], log)
                .unwrap(),
            Some(2)
        );
    }

    #[test]
    fn a_replaced_alert_makes_its_runs_due_again() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::open(dir.path()).unwrap();
        assert!(!record.note_dir("/t/a", &note("x")).unwrap());
        record.claim("/t/a", "gp_a", &[], log).unwrap();
        let ok = Finish {
            started_at: None,
            logged: true,
            ok: true,
            exit_status: "exit 0",
            reason: None,
        };
        record.finish("/t/a", "gp_a", &ok).unwrap();
        assert!(record.settle("/t/a").unwrap());
        assert_eq!(record.settled_dirs().unwrap().len(), 1);
        assert!(
            !record.note_dir("/t/a", &note("x")).unwrap(),
            "same alert again"
        );
        assert!(
            record.note_dir("/t/a", &note("y")).unwrap(),
            "a changed alert"
        );
        assert_eq!(
            record.run_state("/t/a", "gp_a").unwrap(),
            Some(RunState::Pending)
        );
    }

    #[test]
    fn plugins_keep_their_first_appearance() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::open(dir.path()).unwrap();
        assert_eq!(
            record.plugin_appeared_at("gp_a", "2026-01-01").unwrap(),
            "2026-01-01"
        );
        assert_eq!(
            record.plugin_appeared_at("gp_a", "2026-02-01").unwrap(),
            "2026-01-01"
        );
    }

    #[test]
    fn catch_up_skips_are_counted_and_invalid_markers_kept() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::open(dir.path()).unwrap();
        let dirs = vec![
            ("/t/a".to_string(), note("x")),
            ("/t/b".to_string(), note("y")),
        ];
        record
            .skip_for_catch_up(&dirs, &["gp_a".into()], "older than catch_up")
            .unwrap();
        let id = Identity::default();
        assert!(!record.note_invalid("/t/c", id, "bad").unwrap());
        assert!(record.note_invalid("/t/c", id, "bad").unwrap());
        let s = record.summary().unwrap();
        assert_eq!(s.catch_up_skipped_dirs, 2);
        assert_eq!(s.dirs, 3);
        assert!(s.runs.contains(&(RunState::Skipped, 2)));
        assert_eq!(
            s.invalid_dirs,
            vec![("/t/c".to_string(), "bad".to_string())]
        );
        record.mark_initialised().unwrap();
        assert!(!record.is_new().unwrap());
        assert_eq!(record.settled_dirs().unwrap().len(), 3);
    }

    fn requests<'a>(dir: &'a str, plugins: &'a [&'a str]) -> Vec<ClaimRequest<'a>> {
        plugins
            .iter()
            .map(|plugin| ClaimRequest {
                dir,
                plugin,
                from: &[RunState::Pending],
                log_path: &log,
            })
            .collect()
    }

    #[test]
    fn a_batch_claim_failing_half_way_claims_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::open(dir.path()).unwrap();
        record.note_dir("/t/a", &note("x")).unwrap();
        // The second insert of the batch fails (as a full disk would).
        record
            .conn
            .execute_batch(
                "CREATE TEMP TRIGGER fail_bad BEFORE INSERT ON runs WHEN NEW.plugin = 'gp_bad'
                 BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
            )
            .unwrap();
        let wanted = requests("/t/a", &["gp_a", "gp_bad", "gp_c"]);
        assert!(record.claim_many(&wanted).is_err());
        for plugin in ["gp_a", "gp_bad", "gp_c"] {
            assert_eq!(record.run_state("/t/a", plugin).unwrap(), None, "{plugin}");
        }
        // Without the failure the same batch is claimed whole, in order.
        record.conn.execute_batch("DROP TRIGGER fail_bad").unwrap();
        let claims = record.claim_many(&wanted).unwrap();
        assert!(claims
            .iter()
            .all(|c| c.as_ref().map(|c| c.attempt) == Some(1)));
        assert_eq!(
            record.run_state("/t/a", "gp_c").unwrap(),
            Some(RunState::Running)
        );
    }

    #[test]
    fn a_batch_leaves_out_what_someone_else_holds() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::open(dir.path()).unwrap();
        let other = Record::open(dir.path()).unwrap();
        assert_eq!(other.claim("/t/a", "gp_b", &[], log).unwrap(), Some(1));
        let claims = record
            .claim_many(&requests("/t/a", &["gp_a", "gp_b"]))
            .unwrap();
        assert!(claims[0].is_some());
        assert!(claims[1].is_none());
    }

    #[test]
    fn a_claim_never_started_is_given_back_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::open(dir.path()).unwrap();
        // gp_a had failed once; gp_b had never run.
        record.claim("/t/a", "gp_a", &[], log).unwrap();
        let failed = Finish {
            started_at: None,
            logged: true,
            ok: false,
            exit_status: "exit 1",
            reason: Some("the plugin failed (exit 1)"),
        };
        record.finish("/t/a", "gp_a", &failed).unwrap();
        let before = record.runs_of("/t/a").unwrap();
        let from = [RunState::Failed, RunState::Pending];
        let wanted: Vec<ClaimRequest> = ["gp_a", "gp_b"]
            .iter()
            .map(|plugin| ClaimRequest {
                dir: "/t/a",
                plugin,
                from: &from,
                log_path: &log,
            })
            .collect();
        let claims: Vec<Claim> = record
            .claim_many(&wanted)
            .unwrap()
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(claims[0].attempt, 2);
        record
            .unclaim(&[("/t/a", "gp_a", &claims[0]), ("/t/a", "gp_b", &claims[1])])
            .unwrap();
        let after = record.runs_of("/t/a").unwrap();
        assert_eq!(after.len(), 1, "gp_b had no row and has none");
        let (b, a) = (&before[0], &after[0]);
        assert_eq!(
            (a.state, a.attempts, &a.exit_status, &a.reason, &a.log_path),
            (b.state, b.attempts, &b.exit_status, &b.reason, &b.log_path)
        );
    }

    #[test]
    fn a_claim_whose_process_never_started_runs_at_the_next_start() {
        // The trigger dies between a batch claim and the spawn: the run is
        // `running` under a dead process, and the next start makes it due.
        let dir = tempfile::tempdir().unwrap();
        let record = Record::open(dir.path()).unwrap();
        record.note_dir("/t/a", &note("x")).unwrap();
        record
            .claim_many(&requests("/t/a", &["gp_a", "gp_b"]))
            .unwrap();
        record
            .conn
            .execute("UPDATE runs SET owner_pid = 999999999", [])
            .unwrap();
        let next_start = Record::open(dir.path()).unwrap();
        assert_eq!(next_start.recover_interrupted().unwrap().len(), 2);
        let claims = next_start
            .claim_many(&requests("/t/a", &["gp_a", "gp_b"]))
            .unwrap();
        assert!(claims
            .iter()
            .all(|c| c.as_ref().map(|c| c.attempt) == Some(2)));
    }

    #[test]
    fn a_silent_run_keeps_no_log_path_and_its_real_start() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::open(dir.path()).unwrap();
        record.claim("/t/a", "gp_a", &[], log).unwrap();
        let end = Finish {
            started_at: Some("2026-01-01T00:00:01.000Z"),
            logged: false,
            ok: true,
            exit_status: "exit 0",
            reason: None,
        };
        record.finish("/t/a", "gp_a", &end).unwrap();
        let row = &record.runs_of("/t/a").unwrap()[0];
        assert_eq!(row.log_path, None);
        assert_eq!(row.started_at.as_deref(), Some("2026-01-01T00:00:01.000Z"));
    }

    #[test]
    fn claims_are_written_with_full_sync_after_relaxed_writes() {
        let dir = tempfile::tempdir().unwrap();
        let record = Record::open(dir.path()).unwrap();
        let sync = |r: &Record| -> i64 {
            r.conn
                .query_row("PRAGMA synchronous", [], |row| row.get(0))
                .unwrap()
        };
        record.note_dir("/t/a", &note("x")).unwrap();
        assert_eq!(sync(&record), 1, "bookkeeping: NORMAL");
        // The setting in force during the claim's commit is what counts; it
        // is left as it was, so read it right after.
        record.claim("/t/a", "gp_a", &[], log).unwrap();
        assert_eq!(sync(&record), 2, "a claim: FULL");
        let end = Finish {
            started_at: None,
            logged: false,
            ok: true,
            exit_status: "exit 0",
            reason: None,
        };
        record.finish("/t/a", "gp_a", &end).unwrap();
        assert_eq!(sync(&record), 1, "the end of a run: NORMAL");
        record.recover_interrupted().unwrap();
        assert_eq!(sync(&record), 2, "recovery: FULL");
    }
}

//! The record's tables and connection settings, and the migration of records
//! written by older versions: everything that must hold before the first query.

use std::time::Duration;

use rusqlite::Connection;

use super::Record;

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

/// How long a statement waits for another process's write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

impl Record {
    /// Sets the connection up: WAL, claims at `synchronous=FULL`, the tables.
    pub(super) fn configure(&self) -> rusqlite::Result<()> {
        let conn = &self.conn;
        conn.busy_timeout(BUSY_TIMEOUT)?;
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
    }
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
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
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

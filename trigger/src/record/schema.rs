//! The record's tables and connection settings, and the migration of records
//! written by older versions: everything that must hold before the first query.

use std::time::Duration;

use rusqlite::Connection;

use super::{Record, RunState};

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
    waiting TEXT,
    kind TEXT
);
";

/// The `runs` table under a name (the migration builds it beside the old one).
/// Its states are [`RunState::ALL`].
fn runs_table(name: &str) -> String {
    let states: Vec<String> = RunState::ALL
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!(
        "CREATE TABLE IF NOT EXISTS {name} (
    dir TEXT NOT NULL,
    plugin TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ({})),
    attempts INTEGER NOT NULL DEFAULT 0,
    exit_status TEXT,
    started_at TEXT,
    ended_at TEXT,
    log_path TEXT,
    reason TEXT,
    owner_pid INTEGER,
    PRIMARY KEY (dir, plugin)
);",
        states.join(",")
    )
}

/// The columns of `runs`, in the order of [`runs_table`].
const RUNS_COLUMNS: &str =
    "dir, plugin, state, attempts, exit_status, started_at, ended_at, log_path, reason, owner_pid";

const RUNS_INDEX: &str = "CREATE INDEX IF NOT EXISTS runs_by_state ON runs(state);";

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
            conn.execute_batch(&runs_table("runs"))?;
            conn.execute_batch(RUNS_INDEX)?;
            // Records written before directories could wait for plugins lack
            // `dirs.waiting`; before kinds, `dirs.kind` (absent = lvk).
            add_column(conn, "dirs", "waiting")?;
            add_column(conn, "dirs", "kind")?;
            allow_every_state(conn)
        })
    }
}

/// Adds a TEXT column (empty in every row) to a table written without it.
fn add_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<()> {
    let has: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |r| r.get(0),
    )?;
    if has == 0 {
        conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} TEXT"))?;
    }
    Ok(())
}

/// Records written before a state existed (`filtered`) have a `runs` table
/// whose CHECK refuses it, and SQLite cannot change a CHECK in place: the
/// table is rebuilt with every row, in one transaction (another process
/// opening the record at the same moment finds it done).
fn allow_every_state(conn: &Connection) -> rusqlite::Result<()> {
    let current = |conn: &Connection| -> rusqlite::Result<bool> {
        let sql: String = conn.query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'",
            [],
            |r| r.get(0),
        )?;
        Ok(RunState::ALL
            .iter()
            .all(|s| sql.contains(&format!("'{}'", s.as_str()))))
    };
    if current(conn)? {
        return Ok(());
    }
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    if !current(&tx)? {
        tx.execute_batch(&format!(
            "{}
             INSERT INTO runs_migrated ({RUNS_COLUMNS}) SELECT {RUNS_COLUMNS} FROM runs;
             DROP TABLE runs;
             ALTER TABLE runs_migrated RENAME TO runs;
             {RUNS_INDEX}",
            runs_table("runs_migrated")
        ))?;
    }
    tx.commit()
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

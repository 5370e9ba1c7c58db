//! Reading the record for people and monitoring (`status`, `serve`): counts
//! per state and per kind of directory, and runs as rows.

use super::{Record, Result, RunState};

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

impl Record {
    /// Counts per state, directories, and invalid markers.
    pub fn summary(&self) -> Result<Summary> {
        self.sqlite(|| {
            let mut summary = Summary::default();
            for state in RunState::ALL {
                let n: i64 = self.conn.query_row(
                    "SELECT COUNT(*) FROM runs WHERE state = ?1",
                    [state.as_str()],
                    |r| r.get(0),
                )?;
                summary.runs.push((state, n as u64));
            }
            let count = |sql: &str| -> rusqlite::Result<u64> {
                let n: i64 = self.conn.query_row(sql, [], |r| r.get(0))?;
                Ok(n as u64)
            };
            summary.dirs = count("SELECT COUNT(*) FROM dirs")?;
            summary.catch_up_skipped_dirs =
                count("SELECT COUNT(*) FROM dirs WHERE catch_up_skipped = 1")?;
            summary.invalid_dirs = self
                .conn
                .prepare("SELECT dir, problem FROM dirs WHERE problem IS NOT NULL ORDER BY dir")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            summary.waiting = self
                .conn
                .prepare(
                    "SELECT waiting, COUNT(*) FROM dirs WHERE waiting IS NOT NULL AND settled = 0
                     GROUP BY waiting ORDER BY waiting",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect::<rusqlite::Result<_>>()?;
            Ok(summary)
        })
    }

    /// The most recently started runs, newest first.
    pub fn last_runs(&self, limit: usize) -> Result<Vec<RunRow>> {
        self.sqlite(|| {
            self.rows_where(
                "started_at IS NOT NULL ORDER BY started_at DESC, dir, plugin LIMIT ?1",
                [limit as i64],
            )
        })
    }

    /// The most recent failures, newest first.
    pub fn failures(&self, limit: usize) -> Result<Vec<RunRow>> {
        self.sqlite(|| {
            self.rows_where(
                "state = 'failed' ORDER BY ended_at DESC, dir, plugin LIMIT ?1",
                [limit as i64],
            )
        })
    }

    /// Every run, by directory and plugin.
    pub fn all_runs(&self) -> Result<Vec<RunRow>> {
        self.sqlite(|| self.rows_where("1 ORDER BY dir, plugin", []))
    }

    /// Every run of one directory.
    pub fn runs_of(&self, dir: &str) -> Result<Vec<RunRow>> {
        self.sqlite(|| self.rows_where("dir = ?1 ORDER BY plugin", [dir]))
    }

    /// The runs matching an SQL condition (with its ordering and limit).
    pub(super) fn rows_where<P: rusqlite::Params>(
        &self,
        clause: &str,
        params: P,
    ) -> rusqlite::Result<Vec<RunRow>> {
        let sql = format!(
            "SELECT dir, plugin, state, attempts, exit_status, started_at, ended_at, log_path, reason
             FROM runs WHERE {clause}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params, |r| {
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
        })?;
        rows.collect()
    }
}

//! Reading the record for people and monitoring (`status`, `serve`): counts
//! per state and per kind of directory, and runs as rows.

use gocart_shared::Kind;

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
    /// The kind of its directory (`lvk` for directories noted before kinds).
    pub kind: Kind,
}

/// Counts for `status` and the start-up message.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Runs per state; `running` counts only runs whose process started.
    pub runs: Vec<(RunState, u64)>,
    /// Runs claimed (`running` in the record) whose process has not started:
    /// waiting for a place in their plugin's lane.
    pub queued: u64,
    /// `pending` runs per plugin, in name order (a plugin gone from the
    /// folder leaves its runs here: `status` shows them orphaned).
    pub pending_by_plugin: Vec<(String, u64)>,
    pub dirs: u64,
    pub catch_up_skipped_dirs: u64,
    pub invalid_dirs: Vec<(String, String)>,
    /// Directories waiting for plugins, counted per reason.
    pub waiting: Vec<(String, u64)>,
    /// Directories with a valid marker, counted per kind (in kind order).
    pub kinds: Vec<(Kind, u64)>,
}

impl Record {
    /// Counts per state, directories, and invalid markers.
    pub fn summary(&self) -> Result<Summary> {
        self.sqlite(|| {
            let mut summary = Summary::default();
            let count = |sql: &str| -> rusqlite::Result<u64> {
                let n: i64 = self.conn.query_row(sql, [], |r| r.get(0))?;
                Ok(n as u64)
            };
            summary.queued =
                count("SELECT COUNT(*) FROM runs WHERE state = 'running' AND started_at IS NULL")?;
            for state in RunState::ALL {
                let n: i64 = self.conn.query_row(
                    "SELECT COUNT(*) FROM runs WHERE state = ?1",
                    [state.as_str()],
                    |r| r.get(0),
                )?;
                let n = match state {
                    RunState::Running => (n as u64).saturating_sub(summary.queued),
                    _ => n as u64,
                };
                summary.runs.push((state, n));
            }
            summary.pending_by_plugin = self
                .conn
                .prepare(
                    "SELECT plugin, COUNT(*) FROM runs WHERE state = 'pending'
                     GROUP BY plugin ORDER BY plugin",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect::<rusqlite::Result<_>>()?;
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
            let per_kind: Vec<(String, u64)> = self
                .conn
                .prepare(
                    "SELECT COALESCE(kind, 'lvk'), COUNT(*) FROM dirs WHERE problem IS NULL
                     GROUP BY 1",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect::<rusqlite::Result<_>>()?;
            summary.kinds = Kind::ALL
                .into_iter()
                .filter_map(|kind| {
                    let n = per_kind.iter().find(|(k, _)| k == kind.as_str())?.1;
                    Some((kind, n))
                })
                .collect();
            Ok(summary)
        })
    }

    /// The most recently started runs, newest first, then the claims whose
    /// process has not started (queued; a claim made again after a crash is
    /// one, and its earlier attempt may have run: its count must show).
    pub fn last_runs(&self, limit: usize) -> Result<Vec<RunRow>> {
        self.sqlite(|| {
            self.rows_where(
                "started_at IS NOT NULL OR state = 'running'
                 ORDER BY started_at IS NULL, started_at DESC, dir, plugin LIMIT ?1",
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

    /// The failures that ended at `since` or later, newest first.
    pub fn failures_since(&self, since: &str) -> Result<Vec<RunRow>> {
        self.sqlite(|| {
            self.rows_where(
                "state = 'failed' AND ended_at >= ?1 ORDER BY ended_at DESC, dir, plugin",
                [since],
            )
        })
    }

    /// The pending runs of one plugin, by directory.
    pub fn pending_of(&self, plugin: &str) -> Result<Vec<RunRow>> {
        self.sqlite(|| self.rows_where("state = 'pending' AND plugin = ?1 ORDER BY dir", [plugin]))
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
            "SELECT dir, plugin, state, attempts, exit_status, started_at, ended_at, log_path, reason,
                (SELECT kind FROM dirs WHERE dirs.dir = runs.dir)
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
                kind: r
                    .get::<_, Option<String>>(9)?
                    .as_deref()
                    .and_then(Kind::parse)
                    .unwrap_or_default(),
            })
        })?;
        rows.collect()
    }
}

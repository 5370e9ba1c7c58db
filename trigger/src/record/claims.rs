//! The life of one run in the record: claimed (`running` without
//! `started_at`: queued, durable before the process starts), started
//! (`started_at` set when its process starts), ended, given back if never started, and made due again
//! when the process that claimed it died (liveness of `running` rows).

use rusqlite::{params, OptionalExtension, Transaction};

use super::{now_text, Record, Result, RunState};

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

impl Record {
    /// Runs left `running` by a process that no longer exists go back to
    /// `pending`, and their directories are no longer settled, so they run again.
    pub fn recover_interrupted(&self) -> Result<Vec<(String, String)>> {
        self.durable(|| self.recover_interrupted_now())
    }

    fn recover_interrupted_now(&self) -> rusqlite::Result<Vec<(String, String)>> {
        let rows = self.rows_where("state = 'running'", [])?;
        let mut recovered = Vec::new();
        for row in rows {
            let owner: Option<i64> = self.conn.query_row(
                "SELECT owner_pid FROM runs WHERE dir = ?1 AND plugin = ?2",
                params![row.dir, row.plugin],
                |r| r.get(0),
            )?;
            if owner.is_some_and(|pid| self.is_alive(pid)) {
                continue;
            }
            self.conn.execute(
                "UPDATE runs SET state = 'pending', reason = 'interrupted: the trigger stopped during the run'
                 WHERE dir = ?1 AND plugin = ?2 AND state = 'running'",
                params![row.dir, row.plugin],
            )?;
            self.conn
                .execute("UPDATE dirs SET settled = 0 WHERE dir = ?1", [&row.dir])?;
            recovered.push((row.dir, row.plugin));
        }
        Ok(recovered)
    }

    /// Whether the process that claimed a run still exists (not this one, which
    /// has just started and so cannot own an older claim).
    fn is_alive(&self, pid: i64) -> bool {
        pid != i64::from(self.pid) && gocart_shared::process::is_alive(pid)
    }

    /// The state of one run, if the record has it.
    pub fn run_state(&self, dir: &str, plugin: &str) -> Result<Option<RunState>> {
        let state: Option<String> = self.sqlite(|| {
            self.conn
                .prepare_cached("SELECT state FROM runs WHERE dir = ?1 AND plugin = ?2")?
                .query_row(params![dir, plugin], |r| r.get(0))
                .optional()
        })?;
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
        self.durable(|| {
            let tx = self.write_tx()?;
            let mut claims = Vec::with_capacity(wanted.len());
            for w in wanted {
                claims.push(self.claim_in(&tx, w)?);
            }
            tx.commit()?;
            Ok(claims)
        })
    }

    /// A claim has no `started_at` until its process starts
    /// ([`Record::started`]): a claimed run waiting for its lane is queued,
    /// not running.
    fn claim_in(&self, tx: &Transaction, w: &ClaimRequest) -> rusqlite::Result<Option<Claim>> {
        let previous: Option<PreviousRun> = tx
            .prepare_cached(
                "SELECT state, attempts, exit_status, started_at, ended_at, log_path, reason,
                        owner_pid
                 FROM runs WHERE dir = ?1 AND plugin = ?2",
            )?
            .query_row(params![w.dir, w.plugin], |r| {
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
            .optional()?;
        let attempts = match &previous {
            None => 0,
            Some(p) if RunState::parse(&p.state).is_some_and(|s| w.from.contains(&s)) => p.attempts,
            Some(_) => return Ok(None),
        };
        let attempt = attempts + 1;
        tx.prepare_cached(
            "INSERT INTO runs (dir, plugin, state, attempts, started_at, owner_pid, log_path)
             VALUES (?1, ?2, 'running', ?3, NULL, ?4, ?5)
             ON CONFLICT(dir, plugin) DO UPDATE SET state = 'running', attempts = excluded.attempts,
                started_at = NULL, ended_at = NULL, exit_status = NULL,
                reason = NULL, owner_pid = excluded.owner_pid, log_path = excluded.log_path",
        )?
        .execute(params![
            w.dir,
            w.plugin,
            attempt,
            self.pid,
            (w.log_path)(attempt)
        ])?;
        tx.prepare_cached("UPDATE dirs SET settled = 0 WHERE dir = ?1")?
            .execute([w.dir])?;
        Ok(Some(Claim { attempt, previous }))
    }

    /// Notes that the process of a run this process claimed starts now
    /// (`at`): from queued to running. Relaxed: if it is lost, the run looks
    /// queued until it ends, and its end records `started_at` again.
    pub fn started(&self, dir: &str, plugin: &str, at: &str) -> Result<()> {
        self.relaxed(|| {
            self.conn
                .prepare_cached(
                    "UPDATE runs SET started_at = ?3
                     WHERE dir = ?1 AND plugin = ?2 AND state = 'running' AND owner_pid = ?4",
                )?
                .execute(params![dir, plugin, at, self.pid])
        })?;
        Ok(())
    }

    /// Gives back runs claimed by this process that were never started (the
    /// trigger is stopping with claimed runs still queued): each row becomes
    /// what it was before the claim, or goes if there was none, so nothing is
    /// shown as interrupted that never ran. Relaxed: if this is lost, the claim
    /// stays and the next start treats the run as interrupted and runs it (the
    /// same end, by the longer way).
    pub fn unclaim(&self, runs: &[(&str, &str, &Claim)]) -> Result<()> {
        self.relaxed(|| {
            let tx = self.write_tx()?;
            for (dir, plugin, claim) in runs {
                match &claim.previous {
                    None => tx.execute(
                        "DELETE FROM runs WHERE dir = ?1 AND plugin = ?2 AND state = 'running'
                         AND owner_pid = ?3 AND attempts = ?4",
                        params![dir, plugin, self.pid, claim.attempt],
                    )?,
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
                    )?,
                };
            }
            tx.commit()
        })
    }

    /// Records a run the plugin's filters rejected: `filtered`, with the
    /// reason, if it has no row or its row is in one of the `from` states
    /// (one statement, so a run someone holds is never overwritten). Returns
    /// whether it was recorded. Relaxed: if it is lost, the directory is
    /// judged again.
    pub fn record_filtered(
        &self,
        dir: &str,
        plugin: &str,
        reason: &str,
        from: &[RunState],
    ) -> Result<bool> {
        let states: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
        let sql = format!(
            "INSERT INTO runs (dir, plugin, state, started_at, ended_at, reason)
             VALUES (?1, ?2, 'filtered', ?3, ?3, ?4)
             ON CONFLICT(dir, plugin) DO UPDATE SET state = 'filtered',
                started_at = excluded.started_at, ended_at = excluded.ended_at,
                reason = excluded.reason, exit_status = NULL, log_path = NULL, owner_pid = NULL
             WHERE runs.state IN ({})",
            states.join(",")
        );
        let changed = self.relaxed(|| {
            self.conn
                .prepare_cached(&sql)?
                .execute(params![dir, plugin, now_text(), reason])
        })?;
        Ok(changed > 0)
    }

    /// Records the end of a run this process claimed. Relaxed (see
    /// [`Record::relaxed`]): it survives a crash of the trigger at once, and a
    /// power loss from the next claim on; if a power loss takes it, the run
    /// is still `running` and happens again, which is the at-least-once
    /// docs/contracts.md promises for a crash mid-run. This halves the fsyncs
    /// per run.
    pub fn finish(&self, dir: &str, plugin: &str, end: &Finish) -> Result<()> {
        let state = if end.ok { "ok" } else { "failed" };
        self.relaxed(|| {
            self.conn
                .prepare_cached(
                    "UPDATE runs SET state = ?3, exit_status = ?4, reason = ?5, ended_at = ?6,
                        started_at = COALESCE(?7, started_at),
                        log_path = CASE WHEN ?8 THEN log_path END
                     WHERE dir = ?1 AND plugin = ?2",
                )?
                .execute(params![
                    dir,
                    plugin,
                    state,
                    end.exit_status,
                    end.reason,
                    now_text(),
                    end.started_at,
                    end.logged
                ])
        })?;
        Ok(())
    }
}

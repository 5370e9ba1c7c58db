//! What the record knows of each alert directory and plugin: the marker seen
//! (valid or not), whether nothing is left to do (settled), waiting for the
//! first plugins, skipped at the first start; and when each plugin appeared.

use std::collections::HashMap;
use std::path::PathBuf;

use rusqlite::{params, OptionalExtension};

use super::{now_text, Identity, Record, Result};

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

impl Record {
    /// Whether this record has never completed a first start (the `catch_up` rule).
    pub fn is_new(&self) -> Result<bool> {
        let found: Option<String> = self.sqlite(|| {
            self.conn
                .query_row(
                    "SELECT value FROM meta WHERE key = 'initialised'",
                    [],
                    |r| r.get(0),
                )
                .optional()
        })?;
        Ok(found.is_none())
    }

    pub fn mark_initialised(&self) -> Result<()> {
        self.durable(|| {
            self.conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('initialised', ?1)",
                [now_text()],
            )
        })?;
        Ok(())
    }

    /// Every settled directory with the marker identity it was settled with.
    pub fn settled_dirs(&self) -> Result<HashMap<PathBuf, Identity>> {
        self.sqlite(|| {
            let mut stmt = self.conn.prepare(
                "SELECT dir, marker_ino, marker_size, marker_mtime_ns FROM dirs WHERE settled = 1",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    PathBuf::from(r.get::<_, String>(0)?),
                    Identity {
                        ino: r.get::<_, i64>(1)? as u64,
                        size: r.get::<_, i64>(2)? as u64,
                        mtime_ns: r.get(3)?,
                    },
                ))
            })?;
            rows.collect()
        })
    }

    /// When a plugin first appeared; `candidate` is recorded if it is new.
    pub fn plugin_appeared_at(&self, name: &str, candidate: &str) -> Result<String> {
        let select = || -> Result<Option<String>> {
            self.sqlite(|| {
                self.conn
                    .prepare_cached("SELECT appeared_at FROM plugins WHERE name = ?1")?
                    .query_row([name], |r| r.get(0))
                    .optional()
            })
        };
        if let Some(known) = select()? {
            return Ok(known);
        }
        self.relaxed(|| {
            self.conn.execute(
                "INSERT OR IGNORE INTO plugins (name, appeared_at) VALUES (?1, ?2)",
                params![name, candidate],
            )
        })?;
        Ok(select()?.unwrap_or_else(|| candidate.to_string()))
    }

    /// Records a valid marker. If the directory was known with a different
    /// message (a changed alert replaced it), its runs become due again; returns
    /// whether that happened.
    pub fn note_dir(&self, dir: &str, note: &DirNote) -> Result<bool> {
        self.relaxed(|| {
            let tx = self.write_tx()?;
            let previous: Option<Option<String>> = tx
                .prepare_cached("SELECT message_sha256 FROM dirs WHERE dir = ?1")?
                .query_row([dir], |r| r.get(0))
                .optional()?;
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
            )?
            .execute(note.params(dir, &now_text()))?;
            if replaced {
                tx.execute(
                    "UPDATE runs SET state = 'pending', reason = 'the alert directory was replaced by a changed alert'
                     WHERE dir = ?1 AND state != 'running'",
                    [dir],
                )?;
            }
            tx.commit()?;
            Ok(replaced)
        })
    }

    /// Records an invalid marker, settled with its identity so that it is
    /// reported once, and looked at again only when the marker changes.
    /// Returns whether this identity was already recorded as invalid.
    pub fn note_invalid(&self, dir: &str, identity: Identity, problem: &str) -> Result<bool> {
        self.relaxed(|| {
            let known: Option<(i64, i64, i64, Option<String>)> = self
                .conn
                .query_row(
                    "SELECT marker_ino, marker_size, marker_mtime_ns, problem FROM dirs WHERE dir = ?1",
                    [dir],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let already = matches!(known, Some((ino, size, mtime, Some(_)))
                if ino as u64 == identity.ino && size as u64 == identity.size && mtime == identity.mtime_ns);
            self.conn.execute(
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
            )?;
            Ok(already)
        })
    }

    /// Records that a directory waits because there is no plugin to run
    /// (`why`, e.g. "no plugins in /p"): the first plugins to appear run on it,
    /// whenever the directory was written.
    pub fn wait_for_plugins(&self, dir: &str, why: &str) -> Result<()> {
        self.relaxed(|| {
            self.conn
                .prepare_cached("UPDATE dirs SET waiting = ?2 WHERE dir = ?1 AND settled = 0")?
                .execute(params![dir, why])
        })?;
        Ok(())
    }

    /// Whether a directory waits for the first plugins (see [`Record::wait_for_plugins`]).
    pub fn is_waiting(&self, dir: &str) -> Result<bool> {
        let waiting: Option<Option<String>> = self.sqlite(|| {
            self.conn
                .prepare_cached("SELECT waiting FROM dirs WHERE dir = ?1")?
                .query_row([dir], |r| r.get(0))
                .optional()
        })?;
        Ok(matches!(waiting, Some(Some(_))))
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
        self.durable(|| {
            let tx = self.write_tx()?;
            for (dir, note) in dirs {
                tx.execute(
                    "INSERT OR REPLACE INTO dirs (dir, marker_ino, marker_size, marker_mtime_ns,
                        superevent_id, alert_type, written_at, message_sha256, seen_at, settled,
                        catch_up_skipped)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, 1)",
                    note.params(dir, &now_text()),
                )?;
                for plugin in plugins {
                    tx.execute(
                        "INSERT OR IGNORE INTO runs (dir, plugin, state, reason) VALUES (?1, ?2, 'skipped', ?3)",
                        params![dir, plugin, reason],
                    )?;
                }
            }
            tx.commit()
        })
    }

    /// Marks a directory settled (nothing left to do) if none of its runs is
    /// pending or running. Returns whether it is settled.
    pub fn settle(&self, dir: &str) -> Result<bool> {
        let open: i64 = self.sqlite(|| {
            self.conn
                .prepare_cached(
                    "SELECT COUNT(*) FROM runs WHERE dir = ?1 AND state IN ('pending','running')",
                )?
                .query_row([dir], |r| r.get(0))
        })?;
        if open > 0 {
            return Ok(false);
        }
        self.relaxed(|| {
            self.conn
                .prepare_cached("UPDATE dirs SET settled = 1, waiting = NULL WHERE dir = ?1")?
                .execute([dir])
        })?;
        Ok(true)
    }
}

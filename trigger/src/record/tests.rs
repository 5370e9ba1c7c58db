//! The record's own tests: real SQLite files in temporary directories.

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
        kind: gocart_shared::Kind::Lvk,
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
        .skip_for_catch_up(
            &dirs,
            &[
                ("gp_a".into(), vec![gocart_shared::Kind::Lvk]),
                ("gp_nu".into(), vec![gocart_shared::Kind::Icecube]),
            ],
            "older than catch_up",
        )
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
        reason: Some("the plugin failed"),
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

#[test]
fn a_filtered_run_keeps_its_reason_and_is_not_taken_from_a_holder() {
    let dir = tempfile::tempdir().unwrap();
    let record = Record::open(dir.path()).unwrap();
    let icecube = DirNote {
        kind: gocart_shared::Kind::Icecube,
        ..note("x")
    };
    record.note_dir("/t/nu", &icecube).unwrap();
    let replay = [
        RunState::Pending,
        RunState::Failed,
        RunState::Skipped,
        RunState::Filtered,
    ];
    assert!(record
        .record_filtered("/t/nu", "gp_nu", "passes none of its filters: x", &replay)
        .unwrap());
    assert_eq!(
        record.run_state("/t/nu", "gp_nu").unwrap(),
        Some(RunState::Filtered)
    );
    let rows = record.runs_of("/t/nu").unwrap();
    assert_eq!(
        rows[0].reason.as_deref(),
        Some("passes none of its filters: x")
    );
    assert_eq!(rows[0].kind, gocart_shared::Kind::Icecube);
    assert!(rows[0].ended_at.is_some());
    // Nothing is open on it, so it settles; a held run is never overwritten.
    assert!(record.settle("/t/nu").unwrap());
    assert_eq!(
        record.claim("/t/nu", "gp_nu", &replay, log).unwrap(),
        Some(1)
    );
    assert!(!record
        .record_filtered("/t/nu", "gp_nu", "again", &replay)
        .unwrap());
    assert_eq!(
        record.run_state("/t/nu", "gp_nu").unwrap(),
        Some(RunState::Running)
    );
    let summary = record.summary().unwrap();
    assert_eq!(summary.kinds, vec![(gocart_shared::Kind::Icecube, 1)]);
}

#[test]
fn a_record_from_before_filtered_and_kinds_opens_and_migrates_with_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    {
        // The tables as the version before kinds wrote them, with a run.
        let conn = Connection::open(dir.path().join(RECORD_FILE)).unwrap();
        conn.execute_batch(
            "CREATE TABLE dirs (dir TEXT PRIMARY KEY, marker_ino INTEGER NOT NULL,
                marker_size INTEGER NOT NULL, marker_mtime_ns INTEGER NOT NULL,
                superevent_id TEXT, alert_type TEXT, written_at TEXT, message_sha256 TEXT,
                seen_at TEXT NOT NULL, settled INTEGER NOT NULL DEFAULT 0, problem TEXT,
                catch_up_skipped INTEGER NOT NULL DEFAULT 0, waiting TEXT);
             CREATE TABLE runs (dir TEXT NOT NULL, plugin TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending','running','ok','failed','skipped')),
                attempts INTEGER NOT NULL DEFAULT 0, exit_status TEXT, started_at TEXT,
                ended_at TEXT, log_path TEXT, reason TEXT, owner_pid INTEGER,
                PRIMARY KEY (dir, plugin));
             CREATE INDEX runs_by_state ON runs(state);
             INSERT INTO dirs (dir, marker_ino, marker_size, marker_mtime_ns, seen_at, settled)
                VALUES ('/t/old', 1, 2, 3, '2026-01-01T00:00:00.000Z', 1);
             INSERT INTO runs (dir, plugin, state, attempts, exit_status, started_at, ended_at)
                VALUES ('/t/old', 'gp_a', 'ok', 1, 'exit 0', '2026-01-01T00:00:00.000Z',
                        '2026-01-01T00:00:01.000Z');",
        )
        .unwrap();
        conn.execute_batch(
            "INSERT INTO runs (dir, plugin, state) VALUES ('/t/x', 'p', 'filtered')",
        )
        .unwrap_err();
    }
    let record = Record::open(dir.path()).unwrap();
    let rows = record.runs_of("/t/old").unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, RunState::Ok);
    assert_eq!(rows[0].exit_status.as_deref(), Some("exit 0"));
    // A directory noted before kinds is an LVK one.
    assert_eq!(rows[0].kind, gocart_shared::Kind::Lvk);
    assert_eq!(
        record.summary().unwrap().kinds,
        vec![(gocart_shared::Kind::Lvk, 1)]
    );
    assert!(record
        .record_filtered("/t/old", "gp_b", "no", &[RunState::Pending])
        .unwrap());
    drop(record);
    // Opened again (already migrated), everything is still there.
    let record = Record::open(dir.path()).unwrap();
    assert_eq!(record.runs_of("/t/old").unwrap().len(), 2);
    let indexed: i64 = record
        .conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'runs_by_state'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexed, 1);
}

#[test]
fn a_claim_is_queued_until_its_process_starts() {
    let dir = tempfile::tempdir().unwrap();
    let record = Record::open(dir.path()).unwrap();
    record.claim("/t/a", "gp_a", &[], log).unwrap();
    record.claim("/t/b", "gp_a", &[], log).unwrap();
    let running = |s: &Summary| {
        s.runs
            .iter()
            .find(|(st, _)| *st == RunState::Running)
            .map(|r| r.1)
    };
    let summary = record.summary().unwrap();
    assert_eq!((running(&summary), summary.queued), (Some(0), 2));
    assert_eq!(record.runs_of("/t/a").unwrap()[0].started_at, None);
    record
        .started("/t/a", "gp_a", "2026-01-01T00:00:01.000Z")
        .unwrap();
    let summary = record.summary().unwrap();
    assert_eq!((running(&summary), summary.queued), (Some(1), 1));
    let last = record.last_runs(10).unwrap();
    assert_eq!(
        last[0].started_at.as_deref(),
        Some("2026-01-01T00:00:01.000Z")
    );
    // The queued claim is listed after the started runs, with its attempt:
    // a claim made again after a crash counts the attempt that may have run.
    assert_eq!(
        last.iter()
            .map(|r| (r.dir.as_str(), r.started_at.is_some(), r.attempts))
            .collect::<Vec<_>>(),
        vec![("/t/a", true, 1), ("/t/b", false, 1)]
    );
}

//! Running one plugin process under supervision, so that no plugin can hang or
//! crash the trigger.
//!
//! The process gets argv (never a shell), stdin from /dev/null, its own process
//! group (so the whole group can be signalled, and the terminal's Ctrl-C reaches
//! only the trigger), and stdout+stderr on one pipe read by [`Capture`]. At the
//! timeout its group gets SIGTERM, then SIGKILL after a grace period, and the
//! child is always reaped. The run ends when the child exits: a grandchild
//! that keeps the pipe open gets a short drain period, then its group is killed
//! and reading stops.

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use rustix::process::{kill_process_group, Pid, RawPid, Signal};

use super::output::{Capture, Captured};

/// How long output may keep flowing after the plugin itself exited.
pub const DRAIN: Duration = Duration::from_millis(1000);

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Spec {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub env: Vec<(&'static str, OsString)>,
    pub cwd: PathBuf,
    pub log_path: PathBuf,
    pub timeout: Duration,
    pub grace: Duration,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The process exited (by itself, or after the timeout's signals).
    Exited { status: ExitStatus, timed_out: bool },
    /// It could not be started at all.
    NotStarted(String),
    /// The trigger is shutting down and killed it; the run is left `running` in
    /// the record so that it happens again at the next start.
    Abandoned,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub end: End,
    pub output: Captured,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        matches!(&self.end, End::Exited { status, timed_out: false } if status.success())
    }

    /// The exit as recorded: `exit 0`, `exit 2`, `signal 9`.
    pub fn exit_text(&self) -> String {
        match &self.end {
            End::Exited { status, .. } => match (status.code(), status.signal()) {
                (Some(code), _) => format!("exit {code}"),
                (None, Some(sig)) => format!("signal {sig}"),
                _ => "unknown".into(),
            },
            End::NotStarted(_) => "not started".into(),
            End::Abandoned => "killed at shutdown".into(),
        }
    }

    /// Why it failed, in words, if it did.
    /// `setting` names where the timeout came from.
    pub fn reason(&self, timeout: Duration, setting: &str) -> Option<String> {
        let mut reason = match &self.end {
            End::Exited {
                timed_out: true, ..
            } => Some(format!(
                "timed out after {} s ({setting}); its process group was terminated",
                timeout.as_secs()
            )),
            End::Exited { .. } if self.ok() => None,
            // The exit status is kept and shown beside the reason: not repeated here.
            End::Exited { .. } => Some("the plugin failed".into()),
            End::NotStarted(why) => Some(format!("could not start: {why}")),
            End::Abandoned => Some("killed at shutdown".into()),
        };
        if self.output.truncated {
            let note = format!("output of {} bytes truncated in the log", self.output.total);
            reason = Some(match reason {
                Some(r) => format!("{r}; {note}"),
                None => note,
            });
        }
        reason
    }
}

/// Runs `spec` to its end. `abandon` is polled: when it turns true (a second
/// signal, or the shutdown bound passed) the process group is killed.
pub fn run(spec: &Spec, abandon: &dyn Fn() -> bool) -> Outcome {
    let started = Instant::now();
    let (child, capture) = match spawn(spec) {
        Ok(started) => started,
        Err(why) => {
            return Outcome {
                end: End::NotStarted(why),
                output: Captured::default(),
                elapsed: started.elapsed(),
            }
        }
    };
    let pgid = child.id() as RawPid;
    let exit = wait_in_thread(child);
    let end = supervise(&exit, pgid, spec, abandon);
    if !capture.wait_done(DRAIN) {
        // Someone in the group (a forked grandchild) still holds the pipe.
        signal_group(pgid, Signal::KILL);
    }
    Outcome {
        end,
        output: capture.finish(),
        elapsed: started.elapsed(),
    }
}

fn spawn(spec: &Spec) -> Result<(std::process::Child, Capture), String> {
    let (reader, writer) = std::io::pipe().map_err(|e| format!("cannot make a pipe: {e}"))?;
    let writer2 = writer
        .try_clone()
        .map_err(|e| format!("cannot make a pipe: {e}"))?;
    let capture = Capture::start(reader, &spec.log_path)
        .map_err(|e| format!("cannot write the log {}: {e}", spec.log_path.display()))?;
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0);
    let spawned = command.spawn();
    // Our copies of the pipe's write end must be closed, or EOF never comes.
    drop(command);
    match spawned {
        Ok(child) => Ok((child, capture)),
        Err(e) => {
            let _ = capture.finish();
            Err(format!("{}: {e}", spec.program.display()))
        }
    }
}

type ExitRx = crossbeam_channel::Receiver<std::io::Result<ExitStatus>>;

/// Reaps the child on a thread of its own, so the supervisor can wait with a timeout.
fn wait_in_thread(mut child: std::process::Child) -> ExitRx {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spawned = std::thread::Builder::new()
        .name("plugin-wait".into())
        .spawn(move || {
            let _ = tx.send(child.wait());
        });
    if let Err(e) = spawned {
        // Without a thread we cannot wait; report it as an exit failure.
        let (tx, rx) = crossbeam_channel::bounded(1);
        let _ = tx.send(Err(e));
        return rx;
    }
    rx
}

fn supervise(exit: &ExitRx, pgid: RawPid, spec: &Spec, abandon: &dyn Fn() -> bool) -> End {
    let deadline = Instant::now() + spec.timeout;
    loop {
        let now = Instant::now();
        if now >= deadline {
            return stop_group(exit, pgid, spec.grace, true);
        }
        let slice = (deadline - now).min(Duration::from_millis(100));
        match exit.recv_timeout(slice) {
            Ok(status) => return exited(status, false),
            Err(RecvTimeoutError::Timeout) if abandon() => {
                let _ = stop_group(exit, pgid, Duration::from_secs(1), false);
                return End::Abandoned;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return End::NotStarted("lost track of the process".into())
            }
        }
    }
}

/// TERM to the group, KILL after `grace`, then wait for the child to be reaped.
fn stop_group(exit: &ExitRx, pgid: RawPid, grace: Duration, timed_out: bool) -> End {
    signal_group(pgid, Signal::TERM);
    if let Ok(status) = exit.recv_timeout(grace) {
        signal_group(pgid, Signal::KILL);
        return exited(status, timed_out);
    }
    signal_group(pgid, Signal::KILL);
    match exit.recv_timeout(Duration::from_secs(30)) {
        Ok(status) => exited(status, timed_out),
        Err(_) => End::NotStarted("the process did not die after SIGKILL".into()),
    }
}

fn exited(status: std::io::Result<ExitStatus>, timed_out: bool) -> End {
    match status {
        Ok(status) => End::Exited { status, timed_out },
        Err(e) => End::NotStarted(format!("cannot wait for the process: {e}")),
    }
}

/// Signals a process group; one already gone (ESRCH) is no error worth telling.
fn signal_group(pgid: RawPid, signal: Signal) {
    // Never 0 (our own group) or 1 (init).
    if let Some(group) = Pid::from_raw(pgid).filter(|_| pgid > 1) {
        let _ = kill_process_group(group, signal);
    }
}

/// The environment a plugin gets on top of the trigger's own.
pub fn plugin_env(
    alert_dir: &Path,
    marker: &gocart_shared::Marker,
    settings: &Path,
) -> Vec<(&'static str, OsString)> {
    vec![
        ("GOCART_ALERT_DIR", alert_dir.as_os_str().to_owned()),
        ("GOCART_SUPEREVENT_ID", marker.superevent_id.as_str().into()),
        ("GOCART_ALERT_TYPE", marker.alert_type.as_str().into()),
        ("GOCART_KIND", marker.kind.as_str().into()),
        ("GOCART_SETTINGS", settings.as_os_str().to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, dir: &Path, timeout_ms: u64) -> Spec {
        Spec {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("GOCART_ALERT_DIR", "/x".into())],
            cwd: dir.into(),
            log_path: dir.join("run.log"),
            timeout: Duration::from_millis(timeout_ms),
            grace: Duration::from_millis(300),
        }
    }

    #[test]
    fn output_and_status_are_captured() {
        let dir = tempfile::tempdir().unwrap();
        let out = run(
            &sh(
                "echo out $GOCART_ALERT_DIR; echo err >&2; exit 3",
                dir.path(),
                5000,
            ),
            &|| false,
        );
        assert_eq!(out.exit_text(), "exit 3");
        assert!(!out.ok());
        let log = std::fs::read_to_string(dir.path().join("run.log")).unwrap();
        assert_eq!(log, "out /x\nerr\n");
    }

    #[test]
    fn a_plugin_ignoring_term_is_killed_after_the_grace() {
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let out = run(&sh("trap '' TERM; sleep 30", dir.path(), 200), &|| false);
        assert!(
            matches!(
                out.end,
                End::Exited {
                    timed_out: true,
                    ..
                }
            ),
            "{:?}",
            out.end
        );
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        assert!(out
            .reason(Duration::from_secs(1), "trigger.timeout")
            .unwrap()
            .contains("timed out"));
    }

    #[test]
    fn a_grandchild_holding_the_pipe_does_not_hang_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let out = run(&sh("sleep 30 & echo started", dir.path(), 20_000), &|| {
            false
        });
        assert!(out.ok(), "{:?}", out.end);
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    }

    #[test]
    fn a_missing_program_is_reported_not_panicked() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = sh("", dir.path(), 1000);
        spec.program = dir.path().join("nope");
        let out = run(&spec, &|| false);
        assert!(matches!(out.end, End::NotStarted(_)), "{:?}", out.end);
    }

    #[test]
    fn abandoning_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let t = Instant::now();
        let out = run(&sh("sleep 30", dir.path(), 20_000), &|| true);
        assert_eq!(out.end, End::Abandoned);
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}

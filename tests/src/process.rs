//! The programs under test as running processes: signals sent the way a user
//! or a service manager would (SIGTERM to stop, SIGKILL to crash), and a
//! running `gocart-trigger` that is never left behind by a failing test.

use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

pub use rustix::process::Signal;
use rustix::process::{kill_process, kill_process_group, test_kill_process, Pid};

use crate::wait_until;

/// Sends `signal` to process `pid` (ignored if it is gone).
pub fn send_signal(pid: u32, signal: Signal) {
    if let Some(pid) = pid_of(pid) {
        let _ = kill_process(pid, signal);
    }
}

/// SIGKILL to the process group `pid` leads (a plugin orphaned by a kill -9).
pub fn kill_group(pid: u32) {
    if let Some(pid) = pid_of(pid).filter(|p| !p.is_init()) {
        let _ = kill_process_group(pid, Signal::KILL);
    }
}

/// Whether process `pid` exists.
pub fn alive(pid: u32) -> bool {
    pid_of(pid)
        .filter(|p| !p.is_init())
        .is_some_and(|p| test_kill_process(p).is_ok())
}

fn pid_of(pid: u32) -> Option<Pid> {
    Pid::from_raw(i32::try_from(pid).ok()?)
}

/// SIGTERM, then the exit status if it comes within `within`.
pub fn terminate(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    send_signal(child.id(), Signal::TERM);
    let mut status = None;
    wait_until(within, || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    });
    status
}

/// A running `gocart-trigger`, its standard error in a file; killed on drop.
pub struct Trigger {
    child: Option<Child>,
    pub stderr: PathBuf,
}

impl Trigger {
    /// Starts `command`, whose standard error the caller pointed at `stderr`.
    pub fn spawn(command: &mut Command, stderr: PathBuf) -> Trigger {
        let child = command.spawn().expect("the trigger starts");
        Trigger {
            child: Some(child),
            stderr,
        }
    }

    /// Its standard error so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether it has not exited yet.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGTERM, then waits for the exit; returns whether it exited 0.
    pub fn stop(mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let status = terminate(&mut child, Duration::from_secs(20));
        let status = status.unwrap_or_else(|| panic!("the trigger did not stop:\n{}", self.log()));
        status.success()
    }

    /// SIGKILL, as a crash or the OOM killer would.
    pub fn kill9(mut self) {
        self.reap();
    }

    fn reap(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        self.reap();
    }
}

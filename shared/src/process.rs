//! Whether a process still exists, for the three places that must tell a live
//! writer or owner from a dead one: a run claimed in the trigger's record, a
//! staging directory named after its writer's pid, and the status file of
//! `gocart-ingest listen`. One rule for all: a process we may not signal
//! (EPERM) still exists; only "no such process" (ESRCH) means gone.

use rustix::io::Errno;
use rustix::process::{test_kill_process, Pid};

/// Whether a process with this pid exists (signal 0: nothing is sent).
/// Pids that cannot be a process (zero, negative, too large) are not alive.
pub fn is_alive(pid: i64) -> bool {
    // `Pid::from_raw` asserts that its argument is not negative.
    let positive = i32::try_from(pid).ok().filter(|&p| p > 0);
    let Some(pid) = positive.and_then(Pid::from_raw) else {
        return false;
    };
    match test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e != Errno::SRCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn we_are_alive_and_impossible_pids_are_not() {
        assert!(is_alive(i64::from(std::process::id())));
        assert!(!is_alive(0));
        assert!(!is_alive(-1));
        assert!(!is_alive(i64::from(i32::MAX) + 1));
    }

    #[test]
    fn a_reaped_child_is_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = i64::from(child.id());
        child.wait().unwrap();
        assert!(!is_alive(pid));
    }

    #[test]
    fn a_process_we_may_not_signal_still_exists() {
        // pid 1 runs as root; as another user the answer is EPERM, as root Ok:
        // alive either way.
        assert!(is_alive(1));
    }
}

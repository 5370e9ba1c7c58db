//! SIGINT and SIGTERM as a flag. `listen` must finish the alert in hand and
//! commit it before exiting (systemd sends SIGTERM on stop), so a signal only
//! asks; the loops look at the flag between alerts. A second signal while the
//! first is being honoured exits at once (status 1), for a user who means it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGINT, SIGTERM};

/// Whether a stop was requested; cheap to clone and check.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    flag: Arc<AtomicBool>,
}

impl Shutdown {
    /// Installs the handlers for SIGINT and SIGTERM.
    pub fn install() -> std::io::Result<Shutdown> {
        let shutdown = Shutdown::default();
        for signal in [SIGINT, SIGTERM] {
            // Registered first, so it sees the flag as it was before this signal.
            signal_hook::flag::register_conditional_shutdown(signal, 1, shutdown.flag.clone())?;
            signal_hook::flag::register(signal, shutdown.flag.clone())?;
        }
        Ok(shutdown)
    }

    pub fn requested(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Asks for a stop from inside the program (tests, fatal errors).
    pub fn request(&self) {
        self.flag.store(true, Ordering::SeqCst);
    }

    /// Sleeps up to `d`, waking early on a stop; true if a stop was requested.
    pub fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while !self.requested() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_wakes_on_request() {
        let s = Shutdown::default();
        assert!(!s.sleep(Duration::from_millis(10)));
        let other = s.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            other.request();
        });
        let start = Instant::now();
        assert!(s.sleep(Duration::from_secs(10)));
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}

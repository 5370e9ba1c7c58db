//! SIGINT and SIGTERM, the one way both programs stop.
//!
//! A first signal only asks: `listen` finishes the alert in hand and commits
//! it, the trigger starts no new runs and lets running plugins finish for a
//! short bound (systemd sends SIGTERM on every stop, so a stop must never cost
//! an alert or a run). A second signal means the user means it: what the
//! program does then is its own [`Second`] rule. Signals become flags and a
//! wake-up message in a thread of signal-hook's, never in the handler itself,
//! so the loops see them between steps and `select!` loops wake at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

#[derive(Debug, thiserror::Error)]
#[error("cannot install the SIGINT/SIGTERM handlers: {0}")]
pub struct ShutdownError(#[from] std::io::Error);

/// What a second stop request does, and what each request says.
#[derive(Debug, Clone, Copy)]
pub struct Second {
    /// Exit at once with status 1 (`listen`: the alert in hand is redelivered
    /// and found again, so nothing is lost); else abandon (kill running work).
    pub exits: bool,
    /// Logged at the first request, after the signal's name.
    pub first_says: &'static str,
    /// Logged at the second.
    pub second_says: &'static str,
}

#[derive(Debug, Default)]
struct Flags {
    stopping: AtomicBool,
    abandon: AtomicBool,
}

/// The shared view of the stop state; cheap to clone into every thread.
#[derive(Debug, Clone)]
pub struct Shutdown {
    flags: Arc<Flags>,
    wake: Receiver<()>,
    wake_tx: Sender<()>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A shutdown that only [`Shutdown::stop`] triggers (tests, internal stops).
    pub fn new() -> Shutdown {
        let (wake_tx, wake) = crossbeam_channel::unbounded();
        Shutdown {
            flags: Arc::default(),
            wake,
            wake_tx,
        }
    }

    /// Installs the handlers for SIGINT and SIGTERM.
    pub fn install(second: Second) -> Result<Shutdown, ShutdownError> {
        let shutdown = Shutdown::new();
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let handle = shutdown.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    handle.on_signal(signal, second);
                }
            })?;
        Ok(shutdown)
    }

    fn on_signal(&self, signal: i32, second: Second) {
        let name = if signal == SIGINT {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        if !self.is_stopping() {
            tracing::info!("stop requested ({name}): {}", second.first_says);
            self.stop();
            return;
        }
        tracing::warn!("second stop request ({name}): {}", second.second_says);
        if second.exits {
            std::process::exit(1);
        }
        self.abandon();
    }

    /// First call: stop starting new work. Second call: abandon running work.
    pub fn stop(&self) {
        if self.flags.stopping.swap(true, Ordering::SeqCst) {
            self.flags.abandon.store(true, Ordering::SeqCst);
        }
        let _ = self.wake_tx.send(());
    }

    /// Kill running work now (a stop bound has passed).
    pub fn abandon(&self) {
        self.flags.stopping.store(true, Ordering::SeqCst);
        self.flags.abandon.store(true, Ordering::SeqCst);
        let _ = self.wake_tx.send(());
    }

    pub fn is_stopping(&self) -> bool {
        self.flags.stopping.load(Ordering::SeqCst)
    }

    pub fn should_abandon(&self) -> bool {
        self.flags.abandon.load(Ordering::SeqCst)
    }

    /// Receives a message each time a stop is requested, for `select!` loops.
    pub fn wake(&self) -> &Receiver<()> {
        &self.wake
    }

    /// Sleeps up to `d`, waking at once on a stop; true if a stop was requested.
    pub fn sleep(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while !self.is_stopping() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            // Polled, not a wait on `wake`: a receiver takes the message it
            // gets, and a `select!` loop elsewhere must still see it.
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_stop_abandons() {
        let s = Shutdown::new();
        assert!(!s.is_stopping());
        s.stop();
        assert!(s.is_stopping() && !s.should_abandon());
        assert!(s.wake().try_recv().is_ok());
        s.stop();
        assert!(s.should_abandon());
    }

    #[test]
    fn sleep_wakes_on_a_stop() {
        let s = Shutdown::new();
        assert!(!s.sleep(Duration::from_millis(10)));
        let other = s.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            other.stop();
        });
        let start = Instant::now();
        assert!(s.sleep(Duration::from_secs(10)));
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}

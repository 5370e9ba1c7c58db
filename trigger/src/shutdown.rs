//! SIGINT and SIGTERM: how the trigger stops.
//!
//! The first signal stops new runs from starting; runs in progress may finish
//! within a short bound (`--stop-wait`). A second signal, or the bound passing,
//! kills what is still running (its whole process group); those runs stay
//! `running` in the record and so run again at the next start (at least once,
//! never lost). Either way the trigger exits 0: stopping is not a failure.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

#[derive(Debug, thiserror::Error)]
#[error("cannot install the SIGINT/SIGTERM handlers: {0}")]
pub struct ShutdownError(#[from] std::io::Error);

#[derive(Default)]
struct Flags {
    stopping: AtomicBool,
    abandon: AtomicBool,
}

/// Shared view of the shutdown state; cheap to clone into every worker.
#[derive(Clone)]
pub struct Shutdown {
    flags: Arc<Flags>,
    wake: Receiver<()>,
    wake_tx: Sender<()>,
}

impl Shutdown {
    /// A shutdown that only [`Shutdown::stop`] triggers.
    pub fn new() -> Shutdown {
        let (wake_tx, wake) = crossbeam_channel::unbounded();
        Shutdown {
            flags: Arc::default(),
            wake,
            wake_tx,
        }
    }

    /// Installs the handlers: signals are turned into flags and a wake-up
    /// message by a thread of signal-hook's, never in the handler itself.
    pub fn install() -> Result<Shutdown, ShutdownError> {
        let shutdown = Shutdown::new();
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        let handle = shutdown.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    let name = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
                    if handle.is_stopping() {
                        tracing::warn!("second stop request ({name}): killing the running plugins; they run again at the next start");
                    } else {
                        tracing::info!("stop requested ({name}): no new runs start; a second request kills the running plugins");
                    }
                    handle.stop();
                }
            })?;
        Ok(shutdown)
    }

    /// First call: stop starting runs. Second call: kill the running ones too.
    pub fn stop(&self) {
        if self.flags.stopping.swap(true, Ordering::SeqCst) {
            self.flags.abandon.store(true, Ordering::SeqCst);
        }
        let _ = self.wake_tx.send(());
    }

    /// Kill running plugins now (the stop bound has passed).
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
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
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
}

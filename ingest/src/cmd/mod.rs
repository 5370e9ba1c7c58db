//! One module per `gocart-ingest` command.

pub mod check;
pub mod echo;
pub mod import;
pub mod init;
pub mod listen;
pub mod mock;
pub mod status;

/// What SIGINT/SIGTERM do to `listen` and `echo`: finish the alert in hand
/// and commit it; a second signal exits at once (the alert in hand is
/// delivered again and found unchanged or written then).
pub const STOP: gocart_shared::shutdown::Second = gocart_shared::shutdown::Second {
    exits: true,
    first_says: "finishing the alert in hand, then exiting; a second request exits at once",
    second_says: "exiting now; the alert in hand is delivered again at the next start",
};

//! One module per `gocart-ingest` command.

pub mod check;
pub mod echo;
pub mod import;
pub mod init;
pub mod listen;
pub mod mock;
pub mod status;

/// How a command ended, as the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything was written or deliberately skipped.
    Ok = 0,
    /// Some input was rejected or could not be written.
    Rejected = 1,
    /// The command line or the settings are wrong.
    Usage = 2,
}

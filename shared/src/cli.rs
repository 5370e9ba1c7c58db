//! How both programs talk to the person at the terminal, so that they behave
//! alike: the shape of error and warning lines, the exit statuses, the help
//! text of the flags they share, and counts written in good English.
//!
//! A user running `gocart-ingest` and `gocart-trigger` side by side must not
//! have to learn two conventions; each rule lives here once.

use std::error::Error;
use std::fmt::Display;

/// Help of `-s/--settings` (clap adds the `GOCART_SETTINGS` line).
pub const SETTINGS_HELP: &str = "The settings file [default: ~/.config/gocart/gocart.yaml]";

/// Help of `-v/--verbose`.
pub const VERBOSE_HELP: &str =
    "More detail in the log: -v debug, -vv trace (else GOCART_LOG, e.g. GOCART_LOG=debug)";

/// Help of `-q/--quiet`.
pub const QUIET_HELP: &str = "Only warnings and errors in the log";

/// Makes a write to a closed pipe end the program quietly, as any Unix tool
/// does (`gocart-... status | head`), instead of failing on EPIPE: Rust's
/// runtime ignores SIGPIPE. Call it first in `main`, before any thread exists.
pub fn end_quietly_on_closed_pipe() {
    // No crate resets a signal to its default safely (rustix, nix and
    // signal-hook all leave it unsafe), so this is the one place that does.
    // SAFETY: SIG_DFL installs no handler of ours, so nothing can run in a
    // signal context; `signal` only changes this process's disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
}

/// The longest duration a flag takes: about 31 years, far from any overflow of
/// the clock arithmetic it is used in.
pub const MAX_FLAG_SECS: f64 = 1e9;

/// A duration flag's value (clap `value_parser`): a number of seconds (`2.5`),
/// or any duration the settings file accepts (`90s`, `5m`), up to
/// [`MAX_FLAG_SECS`]. The syntax is `settings::parse_duration`'s.
pub fn duration_arg(text: &str) -> Result<std::time::Duration, String> {
    crate::settings::parse_duration(text)
        .filter(|d| d.as_secs_f64() <= MAX_FLAG_SECS)
        .ok_or_else(|| {
            format!("`{text}` is not a number of seconds (or a duration such as 90s, 5m)")
        })
}

/// The options every command of both programs takes, declared once so that
/// `-s`, `-v` and `-q` read and behave the same on both.
#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    #[arg(
        short,
        long,
        global = true,
        env = "GOCART_SETTINGS",
        value_name = "PATH",
        help = SETTINGS_HELP
    )]
    pub settings: Option<std::path::PathBuf>,

    #[arg(short, long, action = clap::ArgAction::Count, global = true, help = VERBOSE_HELP)]
    pub verbose: u8,

    #[arg(short, long, global = true, conflicts_with = "verbose", help = QUIET_HELP)]
    pub quiet: bool,
}

impl GlobalArgs {
    pub fn verbosity(&self) -> crate::logging::Verbosity {
        crate::logging::Verbosity {
            verbose: self.verbose,
            quiet: self.quiet,
        }
    }
}

/// One of the two programs, by the name it prints before its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program(pub &'static str);

pub const INGEST: Program = Program("gocart-ingest");
pub const TRIGGER: Program = Program("gocart-trigger");

impl Program {
    /// `gocart-ingest: error: ...` on stderr, for what ends a command.
    pub fn error(&self, message: impl Display) {
        eprintln!("{}", self.error_line(message));
    }

    /// `gocart-ingest: warning: ...` on stderr, for what the user should fix
    /// but did not stop the command.
    pub fn warning(&self, message: impl Display) {
        eprintln!("{}", self.warning_line(message));
    }

    pub fn error_line(&self, message: impl Display) -> String {
        format!("{}: error: {message}", self.0)
    }

    pub fn warning_line(&self, message: impl Display) -> String {
        format!("{}: warning: {message}", self.0)
    }
}

/// The exit statuses of both programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// Everything asked was done (or deliberately skipped).
    Ok = 0,
    /// Something failed while running: an alert not written, a plugin that failed.
    Failure = 1,
    /// The command line or the settings are wrong: nothing was attempted.
    Usage = 2,
}

impl ExitStatus {
    /// The status of a command that ended with `error`: a usage or settings
    /// error anywhere in its chain of causes makes it `Usage`.
    pub fn of_error(error: &(dyn Error + 'static)) -> ExitStatus {
        let mut cause = Some(error);
        while let Some(e) = cause {
            if e.is::<UsageError>() || e.is::<crate::SettingsError>() {
                return ExitStatus::Usage;
            }
            cause = e.source();
        }
        ExitStatus::Failure
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(status: ExitStatus) -> std::process::ExitCode {
        std::process::ExitCode::from(status as u8)
    }
}

/// A wrong argument found after the command line was parsed (a date that is
/// not a date, a path that is not where it should be): exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `1 directory`, `2 directories`: a count with its noun in the right number.
pub fn count<N: Count>(n: N, one: &str, many: &str) -> String {
    format!("{n} {}", if n.is_one() { one } else { many })
}

/// The integer types things are counted in.
pub trait Count: Copy + Display {
    fn is_one(self) -> bool;
}

macro_rules! impl_count {
    ($($t:ty),*) => {$(
        impl Count for $t {
            fn is_one(self) -> bool {
                self == 1
            }
        }
    )*};
}
impl_count!(u32, u64, usize, i64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_flags_take_seconds_or_a_unit_within_the_limit() {
        use std::time::Duration;
        assert_eq!(duration_arg("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(duration_arg("60"), Ok(Duration::from_secs(60)));
        assert_eq!(duration_arg("1e3"), Ok(Duration::from_secs(1000)));
        assert_eq!(duration_arg("0"), Ok(Duration::ZERO));
        assert_eq!(duration_arg("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration_arg("1e9"), Ok(Duration::from_secs(1_000_000_000)));
        for bad in ["soon", "-1", "NaN", "inf", "1e10", "40000d", ""] {
            let err = duration_arg(bad).unwrap_err();
            assert!(err.contains("not a number of seconds"), "{bad}: {err}");
        }
    }

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(0u32, "run", "runs"), "0 runs");
        assert_eq!(count(1u32, "run", "runs"), "1 run");
        assert_eq!(count(2usize, "directory", "directories"), "2 directories");
    }

    #[test]
    fn settings_and_usage_errors_are_status_2_wherever_in_the_chain() {
        #[derive(Debug, thiserror::Error)]
        #[error("while starting")]
        struct Outer(#[source] crate::SettingsError);
        let settings = crate::SettingsError::NotFound {
            path: "/x.yaml".into(),
        };
        assert_eq!(ExitStatus::of_error(&Outer(settings)), ExitStatus::Usage);
        assert_eq!(
            ExitStatus::of_error(&UsageError("bad".into())),
            ExitStatus::Usage
        );
        let io = std::io::Error::other("disk full");
        assert_eq!(ExitStatus::of_error(&io), ExitStatus::Failure);
    }

    #[test]
    fn the_settings_help_shows_the_real_default() {
        assert!(SETTINGS_HELP.contains(&format!("~/{}", crate::settings::DEFAULT_RELATIVE_PATH)));
    }
}

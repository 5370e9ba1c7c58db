//! The log of both programs, set up once here so that they read alike: to
//! stderr (stdout carries reports), colour only on a terminal, the level from
//! `-v`/`-q`, else from `GOCART_LOG` (or, when that is unset, `RUST_LOG`, which
//! Rust users set by habit), else `info`.

use tracing_subscriber::EnvFilter;

use crate::cli::Program;

/// The variable that sets the log filter of both programs.
pub const LOG_VAR: &str = "GOCART_LOG";
/// Accepted when `GOCART_LOG` is unset.
pub const FALLBACK_LOG_VAR: &str = "RUST_LOG";

/// How much the command line asked to log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verbosity {
    /// How many `-v`.
    pub verbose: u8,
    /// `-q`: warnings and errors only.
    pub quiet: bool,
}

impl Verbosity {
    /// The filter the flags ask for; `None` when no flag was given.
    fn flag_filter(self) -> Option<&'static str> {
        match (self.quiet, self.verbose) {
            (true, _) => Some("warn"),
            (false, 0) => None,
            (false, 1) => Some("debug"),
            (false, _) => Some("trace"),
        }
    }
}

/// Installs the log for `program`. A filter in the environment that cannot
/// be understood is said once and replaced by `info`, never silently.
pub fn init(program: Program, verbosity: Verbosity) {
    let filter = choose_filter(verbosity, |name| std::env::var(name).ok()).unwrap_or_else(
        |(name, value, e)| {
            program.warning(format!(
                "{name}={value:?} is not a log filter ({e}); using info"
            ));
            EnvFilter::new("info")
        },
    );
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // Module paths mean nothing to the person reading the log.
        .with_target(false)
        .init();
}

/// Whether the log (stderr) and the reports (stdout) end up in the same
/// place: one terminal, one journal stream, one file (`>out 2>&1`). There a
/// line said in both would be read twice; apart, each must be whole.
pub fn log_shares_stdout() -> bool {
    let same =
        |a: rustix::fs::Stat, b: rustix::fs::Stat| (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino);
    match (
        rustix::fs::fstat(std::io::stdout()),
        rustix::fs::fstat(std::io::stderr()),
    ) {
        (Ok(out), Ok(err)) => same(out, err),
        _ => false,
    }
}

type BadFilter = (&'static str, String, tracing_subscriber::filter::ParseError);

/// The filter from the flags, else the first of `GOCART_LOG`, `RUST_LOG`
/// that is set and not empty, else `info`.
fn choose_filter(
    verbosity: Verbosity,
    var: impl Fn(&str) -> Option<String>,
) -> Result<EnvFilter, BadFilter> {
    if let Some(level) = verbosity.flag_filter() {
        return Ok(EnvFilter::new(level));
    }
    for name in [LOG_VAR, FALLBACK_LOG_VAR] {
        if let Some(value) = var(name).filter(|v| !v.trim().is_empty()) {
            return EnvFilter::try_new(&value).map_err(|e| (name, value, e));
        }
    }
    Ok(EnvFilter::new("info"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(verbosity: Verbosity, vars: &[(&str, &str)]) -> String {
        let var = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        };
        match choose_filter(verbosity, var) {
            Ok(filter) => filter.to_string(),
            Err((name, _, _)) => format!("bad {name}"),
        }
    }

    #[test]
    fn flags_win_then_gocart_log_then_rust_log() {
        let plain = Verbosity::default();
        let v = |verbose| Verbosity {
            verbose,
            quiet: false,
        };
        let quiet = Verbosity {
            verbose: 0,
            quiet: true,
        };
        assert_eq!(chosen(plain, &[]), "info");
        assert_eq!(chosen(v(1), &[("GOCART_LOG", "warn")]), "debug");
        assert_eq!(chosen(v(3), &[]), "trace");
        assert_eq!(chosen(quiet, &[("GOCART_LOG", "trace")]), "warn");
        assert_eq!(
            chosen(plain, &[("GOCART_LOG", "debug"), ("RUST_LOG", "trace")]),
            "debug"
        );
        assert_eq!(
            chosen(plain, &[("GOCART_LOG", ""), ("RUST_LOG", "trace")]),
            "trace"
        );
        assert_eq!(
            chosen(plain, &[("GOCART_LOG", "gocart=loud")]),
            "bad GOCART_LOG"
        );
    }
}

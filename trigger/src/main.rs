//! `gocart-trigger`: runs every plugin once on every complete alert directory.
//! This file only parses the command line, sets up logging and reports errors;
//! the commands are in `cmd/`.

mod cli;
mod cmd;
mod record;
mod runner;
mod shutdown;
mod watch;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `gocart-... status | head` must end quietly, as any Unix tool does,
    // not panic on the closed pipe: Rust ignores SIGPIPE by default.
    // SAFETY: called first, before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = cli::Cli::parse();
    init_logging(cli.verbose);
    match cmd::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr; RUST_LOG (e.g. `gocart_trigger=debug`) overrides -v.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal, never in files or the journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

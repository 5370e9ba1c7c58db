//! `gocart-ingest`: a thin entry point over the library; see `lib.rs`.

use std::process::ExitCode;

use clap::Parser;
use gocart_ingest::cli::{Cli, Command, MockGroup};
use gocart_ingest::cmd::{self, Exit};
use gocart_shared::Settings;

fn main() -> ExitCode {
    // `gocart-... status | head` must end quietly, as any Unix tool does,
    // not panic on the closed pipe: Rust ignores SIGPIPE by default.
    // SAFETY: called first, before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    init_logging();
    let cli = Cli::parse();
    let path = Settings::locate(cli.settings.as_deref());
    let result = match &cli.command {
        Command::Init => cmd::init::run(&path),
        Command::Import { paths } => with_settings(&path, |s| cmd::import::run(s, paths)),
        Command::Listen => with_settings(&path, cmd::listen::run),
        Command::Echo { days, timeout } => {
            with_settings(&path, |s| cmd::echo::run(s, *days, *timeout))
        }
        Command::Status { json } => with_settings(&path, |s| cmd::status::run(&s, *json)),
        Command::Mock {
            count,
            group,
            seed,
            publish,
        } => {
            let request = cmd::mock::Request {
                count: *count,
                group: group.map(|g| match g {
                    MockGroup::Cbc => gocart_ingest::mock::Group::Cbc,
                    MockGroup::Burst => gocart_ingest::mock::Group::Burst,
                }),
                seed: *seed,
                publish: *publish,
            };
            with_settings(&path, |s| cmd::mock::run(s, &request))
        }
    };
    match result {
        Ok(exit) => ExitCode::from(exit as u8),
        Err(e) => {
            eprintln!("gocart-ingest: {e:#}");
            ExitCode::from(Exit::Rejected as u8)
        }
    }
}

/// Runs a command that needs the settings; a settings error is a usage error.
fn with_settings(
    path: &std::path::Path,
    command: impl FnOnce(Settings) -> anyhow::Result<Exit>,
) -> anyhow::Result<Exit> {
    match Settings::load(path) {
        Ok(settings) => command(settings),
        Err(e) => {
            eprintln!("gocart-ingest: {e}");
            Ok(Exit::Usage)
        }
    }
}

/// Logs go to stderr (stdout is the alert report); `GOCART_LOG` sets the level.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GOCART_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal, never in files or the journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

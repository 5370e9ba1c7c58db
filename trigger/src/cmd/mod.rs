//! The commands. Each loads the settings and works on the record in
//! `trigger.state_dir`, except `check`, which reports a bad settings file as a
//! failed check; errors here are reported with anyhow's context chain.

pub mod check;
pub mod replay;
pub mod serve;
pub mod status;
pub mod watch;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use gocart_shared::Settings;

use crate::cli::{Cli, Command};

/// What SIGINT/SIGTERM do to `watch` and `replay`: no new runs start, running
/// plugins may finish for `--stop-wait`; a second signal kills them. Killed
/// runs stay `running` in the record and run again at the next start, so
/// stopping is never a failure (exit 0).
pub const STOP: gocart_shared::shutdown::Second = gocart_shared::shutdown::Second {
    exits: false,
    first_says: "no new runs start; a second request kills the running plugins",
    second_says: "killing the running plugins; they run again at the next start",
};

pub fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let path = Settings::locate(cli.global.settings.as_deref());
    if let Some(Command::Check) = &cli.command {
        return Ok(check::run(&path));
    }
    let settings = Settings::load(&path)?;
    settings.print_warnings(&gocart_shared::cli::TRIGGER);
    match &cli.command {
        None => watch::run(&settings, &cli.watch),
        Some(Command::Watch(args)) => watch::run(&settings, args),
        Some(Command::Replay(args)) => replay::run(&settings, args),
        Some(Command::Status(args)) => status::run(&settings, args),
        Some(Command::Serve(args)) => serve::run(&settings, &path, args),
        Some(Command::Check) => Ok(check::run(&path)),
    }
}

/// The alert tree's root as a canonical path (the record's keys are built on
/// it), created if it does not exist yet so that it can be watched.
pub fn tree_root(download_dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(download_dir).with_context(|| {
        format!(
            "cannot create the alert tree {} (lvk.download_dir)",
            download_dir.display()
        )
    })?;
    download_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", download_dir.display()))
}

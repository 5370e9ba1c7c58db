//! `gocart-ingest`: a thin entry point over the library; see `lib.rs`.

use std::process::ExitCode;

use clap::Parser;
use gocart_ingest::cli::{plugins_flag_answer, Cli, Command, MockGroup};
use gocart_ingest::cmd;
use gocart_shared::cli::{ExitStatus, INGEST};
use gocart_shared::Settings;

fn main() -> ExitCode {
    gocart_shared::cli::end_quietly_on_closed_pipe();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(answer) = plugins_flag_answer(&args) {
        INGEST.error(answer);
        return ExitStatus::Usage.into();
    }
    let cli = Cli::parse_from(args);
    gocart_shared::logging::init(INGEST, cli.global.verbosity());
    let path = Settings::locate(cli.global.settings.as_deref());
    let result = match &cli.command {
        Command::Init => cmd::init::run(&path),
        Command::Check => Ok(cmd::check::run(&path)),
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
            dossier,
        } => {
            let request = cmd::mock::Request {
                count: *count,
                group: group.map(|g| match g {
                    MockGroup::Cbc => gocart_ingest::mock::Group::Cbc,
                    MockGroup::Burst => gocart_ingest::mock::Group::Burst,
                }),
                seed: *seed,
                publish: *publish,
                dossier: *dossier,
            };
            with_settings(&path, |s| cmd::mock::run(s, &request))
        }
    };
    match result {
        Ok(exit) => exit.into(),
        Err(e) => {
            INGEST.error(format_args!("{e:#}"));
            ExitStatus::of_error(e.as_ref()).into()
        }
    }
}

/// Runs a command that needs the settings; a settings error is a usage error.
fn with_settings(
    path: &std::path::Path,
    command: impl FnOnce(Settings) -> anyhow::Result<ExitStatus>,
) -> anyhow::Result<ExitStatus> {
    match Settings::load(path) {
        Ok(settings) => {
            settings.print_warnings(&INGEST);
            command(settings)
        }
        Err(e) => {
            INGEST.error(e);
            Ok(ExitStatus::Usage)
        }
    }
}

//! `gocart-trigger`: a thin entry point over the library (see `lib.rs`). It
//! only parses the command line, sets up logging and maps the result of the
//! command to the exit status.

use std::process::ExitCode;

use clap::Parser;
use gocart_shared::cli::{ExitStatus, TRIGGER};
use gocart_trigger::{cli, cmd};

fn main() -> ExitCode {
    gocart_shared::cli::end_quietly_on_closed_pipe();
    let cli = cli::Cli::parse();
    gocart_shared::logging::init(TRIGGER, cli.global.verbosity());
    match cmd::run(&cli) {
        Ok(code) => code,
        Err(e) => {
            TRIGGER.error(format_args!("{e:#}"));
            ExitStatus::of_error(e.as_ref()).into()
        }
    }
}

//! The command line of `gocart-ingest`, split by command.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Writes LIGO/Virgo/KAGRA gravitational-wave alerts as alert directories.
///
/// Every alert becomes `<download_dir>/{mockevents,superevents}/<id>/<stamp>_<type>/`
/// holding its sky map, meta.yaml, skymap.csv and skymap.png, completed by a
/// `.gocart-complete` marker; gocart-trigger runs your plugins on each new one.
#[derive(Debug, Parser)]
#[command(name = "gocart-ingest", version, about, long_about)]
pub struct Cli {
    /// The settings file [default: ~/.config/gocart/gocart.yaml]
    #[arg(
        short,
        long,
        global = true,
        env = "GOCART_SETTINGS",
        value_name = "SETTINGS"
    )]
    pub settings: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the default settings file (mode 0600) and create the plugins folder.
    ///
    /// Never overwrites an existing file.
    Init,

    /// Write alert directories from alert JSON messages on disk.
    ///
    /// Each PATH is one alert JSON message as GCN sends it, a directory of them
    /// (`*.json`, in name order), or `-` for one message on standard input.
    /// Exit status: 0 when every alert was written or deliberately skipped,
    /// 1 when any was rejected as malformed or could not be written,
    /// 2 for usage or settings errors.
    Import {
        /// Alert JSON files, directories of them, or `-` for standard input.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

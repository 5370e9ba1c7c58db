//! The command line: `watch` (the default), `replay`, `status`, `check` and `serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use gocart_shared::cli::duration_arg;

#[derive(Debug, Parser)]
#[command(
    name = "gocart-trigger",
    version,
    about = "Runs every gocart plugin once on every complete alert directory.",
    long_about = "Runs every gocart plugin (the gp_* files in trigger.plugins_dir) once on every \
complete alert directory that gocart-ingest writes under lvk.download_dir: within milliseconds of \
the alert, or at the next start if the trigger was down. A durable record in trigger.state_dir \
keeps what ran, its exit status and its output.\n\nWithout a command it watches (see `watch --help`)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: gocart_shared::cli::GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub watch: WatchArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Watch the alert tree and run the plugins on each new complete directory (the default).
    ///
    /// Each gp_* plugin runs as `<file> <alert_dir>` (`<python> <file> <alert_dir>`
    /// for .py) in the plugin folder, in its own process group, stdin /dev/null,
    /// with GOCART_ALERT_DIR, GOCART_SUPEREVENT_ID, GOCART_ALERT_TYPE and
    /// GOCART_SETTINGS set; its output goes to <state_dir>/logs (1 MiB kept per run).
    ///
    /// Directories completed while the trigger was down are run at start. On the
    /// very first start (an empty record) directories older than trigger.catch_up
    /// are recorded as skipped instead: run them with `replay`. SIGINT/SIGTERM stop
    /// new runs, let running plugins finish for --stop-wait seconds, then kill
    /// them; a killed run is run again at the next start. A second signal kills
    /// at once.
    Watch(WatchArgs),
    /// Run plugins on existing alert directories, by default only runs not yet ok.
    ///
    /// Without PATH, every complete directory of the tree; the filters narrow it.
    /// Runs already `ok` are left alone unless --force. Exits 1 if a run failed.
    /// Ctrl-C stops starting runs; a second Ctrl-C kills the running ones.
    Replay(ReplayArgs),
    /// Show the record: runs per state, the last runs, and failures with the end of their output.
    Status(StatusArgs),
    /// Check everything the trigger needs, one line per check; exit 1 if one fails.
    ///
    /// The settings (unknown keys shown as warnings), the alert tree readable,
    /// the state dir writable and the record openable, the plugins folder with
    /// at least one plugin, each plugin runnable (execute bit, or the Python
    /// interpreter for .py), and Python importing PyYAML for .py plugins.
    Check,
    /// Show the alert tree in a browser, read-only: alerts newest first, one page
    /// per alert and per superevent, both programs' status, live updates.
    ///
    /// Prints `serving http://ADDR/` once it listens. It binds 127.0.0.1 by
    /// default; any other address needs --token, then checked on every request
    /// (`Authorization: Bearer TOKEN`, or the cookie a `?token=TOKEN` link sets).
    /// Thumbnails are cached in <state_dir>/thumbs; nothing else is written.
    Serve(ServeArgs),
}

#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port).
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:8620")]
    pub addr: SocketAddr,

    /// The token every request must carry; needed for any address but loopback.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "GOCART_SERVE_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
}

#[derive(Debug, Args, Clone)]
pub struct WatchArgs {
    /// Poll the tree every SECS seconds instead of using inotify (chosen
    /// automatically on network filesystems and when the inotify watch limit is reached).
    #[arg(long, value_name = "SECS", value_parser = duration_arg)]
    pub poll: Option<Duration>,

    /// Seconds between full reconcile scans, the safety net under inotify.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = duration_arg)]
    pub reconcile: Duration,

    /// Seconds between SIGTERM and SIGKILL for a plugin past trigger.timeout.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = duration_arg)]
    pub kill_grace: Duration,

    /// On SIGINT/SIGTERM, seconds to let running plugins finish before killing them.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = duration_arg)]
    pub stop_wait: Duration,
}

#[derive(Debug, Args, Clone)]
pub struct ReplayArgs {
    /// Alert directories, or folders of the tree (an event, `mockevents`, ...) to take them from.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Only this superevent (e.g. MS230423x).
    #[arg(long, value_name = "ID")]
    pub event: Option<String>,

    /// Only this alert type (e.g. initial; any case).
    #[arg(long, value_name = "T")]
    pub alert_type: Option<String>,

    /// Only alerts created at or after DATE (2026-01-31, 2026-01-31T12:00:00Z, or an age such as 7d).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,

    /// Only this plugin (its file name, with or without extension).
    #[arg(long, value_name = "NAME")]
    pub plugin: Option<String>,

    /// Run again what already ran ok.
    #[arg(long)]
    pub force: bool,

    /// Only print what would run.
    #[arg(long)]
    pub dry_run: bool,

    /// Seconds between SIGTERM and SIGKILL for a plugin past trigger.timeout.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = duration_arg)]
    pub kill_grace: Duration,
}

#[derive(Debug, Args, Clone)]
pub struct StatusArgs {
    /// How many of the last runs and failures to show.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub last: usize,

    /// Print the same as one JSON object, for monitoring.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        let cli = Cli::parse_from(["gocart-trigger", "--poll", "2.5"]);
        assert_eq!(cli.watch.poll, Some(Duration::from_millis(2500)));
        let cli = Cli::parse_from(["gocart-trigger", "-s", "x.yaml", "replay", "a", "--force"]);
        assert!(matches!(
            cli.command,
            Some(Command::Replay(ReplayArgs { force: true, .. }))
        ));
        let cli = Cli::parse_from(["gocart-trigger", "--poll", "2m"]);
        assert_eq!(cli.watch.poll, Some(Duration::from_secs(120)));
        assert!(Cli::try_parse_from(["gocart-trigger", "--poll", "soon"]).is_err());
        assert!(Cli::try_parse_from(["gocart-trigger", "--poll", "-1"]).is_err());
    }
}

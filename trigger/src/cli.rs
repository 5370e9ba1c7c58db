//! The command line: `watch` (the default), `replay`, `status`, `check` and `serve`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use gocart_shared::cli::duration_arg;
use gocart_shared::Kind;

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
    /// Only requests for its own address, localhost, 127.0.0.1, [::1] or a
    /// --public-name are answered (421 otherwise). A client is dropped if its
    /// request head takes longer than 10 s or it stays idle 60 s; when
    /// --max-connections are open, a new one replaces the one idle longest.
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

    /// A name (or IP) the server is reached by besides its address and
    /// loopback (NAME: any port; NAME:PORT: that one); repeatable. Requests
    /// naming anything else are refused (421), which stops DNS rebinding.
    #[arg(long = "public-name", value_name = "NAME")]
    pub public_names: Vec<String>,

    /// At most this many connections open at once; when full, a new one
    /// replaces the one idle longest.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Seconds a client has to send a request's head, from its first byte.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = duration_arg, hide = true)]
    pub header_timeout: Duration,

    /// Seconds a connection may stay idle (or an answer stay unread) before it is closed.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = duration_arg, hide = true)]
    pub idle_timeout: Duration,
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

    /// Only directories of this kind (lvk, icecube, circular, boom, einstein_probe, swift_guano, heartbeat).
    #[arg(long, value_name = "KIND", value_parser = kind_arg)]
    pub kind: Option<Kind>,

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

/// A kind by its name; any other word is a usage error listing the kinds.
fn kind_arg(text: &str) -> Result<Kind, String> {
    Kind::parse(text).ok_or_else(|| {
        let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("not a kind; the kinds are {}", known.join(", "))
    })
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

    #[test]
    fn serve_takes_names_and_limits() {
        let cli = Cli::parse_from(["gocart-trigger", "serve"]);
        let Some(Command::Serve(args)) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.max_connections, 256);
        assert_eq!(args.header_timeout, Duration::from_secs(10));
        assert_eq!(args.idle_timeout, Duration::from_secs(60));
        assert!(args.public_names.is_empty());
        let cli = Cli::parse_from([
            "gocart-trigger",
            "serve",
            "--public-name",
            "a.example",
            "--public-name",
            "b.example:8443",
            "--max-connections",
            "10",
        ]);
        let Some(Command::Serve(args)) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(args.public_names, ["a.example", "b.example:8443"]);
        assert_eq!(args.max_connections, 10);
        assert!(
            Cli::try_parse_from(["gocart-trigger", "serve", "--max-connections", "0"]).is_err()
        );
    }

    #[test]
    fn replay_takes_a_kind_by_its_name() {
        let cli = Cli::parse_from(["gocart-trigger", "replay", "--kind", "icecube"]);
        assert!(matches!(
            cli.command,
            Some(Command::Replay(ReplayArgs {
                kind: Some(Kind::Icecube),
                ..
            }))
        ));
        let err = Cli::try_parse_from(["gocart-trigger", "replay", "--kind", "neutrino"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("the kinds are lvk, icecube"), "{err}");
    }
}

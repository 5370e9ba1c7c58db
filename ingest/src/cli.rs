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

    /// Write every new alert from GCN Kafka as it arrives; runs until stopped.
    ///
    /// Joins the consumer group `gcn-kafka.group_id` (generated on the first run
    /// and saved into the settings file). The first run starts at the end of the
    /// topic and says how many older alerts it skipped (`echo DAYS` fetches
    /// them); later runs resume exactly where the last one stopped, so alerts
    /// sent while it was down are written too. An alert's offset is committed
    /// only once its directory is complete, skipped or rejected. Lost
    /// connections are retried forever. SIGINT/SIGTERM finish the alert in
    /// hand and exit 0. `status` reports on a running listener; for running
    /// it as a service see contrib/systemd/README.md.
    Listen,

    /// Write the alerts of the last DAYS days, then exit.
    ///
    /// Reads every partition of every topic in `gcn-kafka.topics` from DAYS
    /// days ago up to the end as it was when echo started. Alerts already on
    /// disk are left unchanged. It does not touch the consumer group, so
    /// `listen` later resumes where it was. A broker it cannot reach within
    /// --timeout is an error naming the host and the cause (exit 1).
    /// Exit status as for `import`.
    Echo {
        /// How far back, in days; fractions allowed (0.5 = the last 12 hours).
        #[arg(value_name = "DAYS")]
        days: f64,
        /// Give up when the broker cannot be reached within this many seconds.
        #[arg(long, default_value_t = 60, value_name = "SECS")]
        timeout: u64,
    },

    /// Generate realistic mock alerts (MS... ids, current times, sky maps).
    ///
    /// Each mock event lives a real event's life (PRELIMINARY, INITIAL or a
    /// RETRACTION, sometimes an UPDATE) with a multi-order sky map: a compact
    /// blob for three detectors, a long arc for two, distances for CBC. They
    /// are written into the alert tree like `import` does, or with --publish
    /// sent to the topic of the `gcn-kafka.bootstrap_servers` broker (never to
    /// GCN) for `listen` to receive. Exit status as for `import`.
    Mock {
        /// How many alerts.
        #[arg(long, default_value_t = 4, value_name = "N")]
        count: usize,
        /// Only CBC or only burst events (both when absent).
        #[arg(long, value_enum)]
        group: Option<MockGroup>,
        /// The same seed gives the same events and sky maps.
        #[arg(long, value_name = "S")]
        seed: Option<u64>,
        /// Send to the local broker's topic instead of writing the tree.
        #[arg(long)]
        publish: bool,
    },

    /// Say whether `listen` is running and keeping up.
    ///
    /// Reads the status file `listen` rewrites every 5 s in `trigger.state_dir`:
    /// process, connection (connecting / up / down and why, since when), the
    /// age of the file, of the last heartbeat and of the last alert,
    /// per-partition lag, counts and the last error. A file older than 15 s
    /// while the process lives means it is stuck. Exit status 0 when listen
    /// runs, the connection is up, the file is fresh and nothing lags;
    /// 1 otherwise; 2 for a settings error.
    ///
    /// With --json, one JSON object with the same facts: `healthy` (bool, as the exit status),
    /// `problems` (list of strings), `running` (bool), `pid`, `group_id`, `servers`, `started`,
    /// `updated` (RFC 3339 times or null), `updated_age_s`, `fresh` (bool), `connection`
    /// (`{"state": "connecting", "host", "since"}`, `{"state": "up", "since"}` or `{"state":
    /// "down", "since", "cause": {"kind": "dns" | "refused" | "authentication" | "tls" |
    /// "timeout" | "other", "host", "detail"}}`, or null when unknown), `fenced` (string or
    /// null), `heartbeat_followed` (bool), `last_heartbeat_age_s` and `last_alert_age_s`
    /// (seconds or null), `last_alert` (`superevent_id`, `alert_type`, `outcome`, `at`), `lag`
    /// (alerts not yet written, or null when unknown), `partitions` (`topic`, `partition`,
    /// `committed`, `end`, `lag`), `counts` (`written`, `unchanged`, `skipped`, `rejected`,
    /// `failed`), `skipped_at_start`, `last_error` (`at`, `message`) and `never_ran` (true when
    /// there is no status file; then only `healthy` and `problems` besides).
    Status {
        /// Print one JSON object instead of text (fields above).
        #[arg(long)]
        json: bool,
    },
}

/// `--group` of `mock`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum MockGroup {
    Cbc,
    Burst,
}

//! The command line of `gocart-ingest`, split by command, and the answer to
//! the original gocart's `-p/--plugins` flag, which users type by habit.

use std::ffi::OsString;
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
    #[command(flatten)]
    pub global: gocart_shared::cli::GlobalArgs,

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
    /// (`*.json`, in name order; anything else in it is named and skipped), or
    /// `-` for one message on standard input. Every outcome line names its file;
    /// a path that does not exist or cannot be read is reported FAILED and the
    /// others are imported. Exit status: 0 when every alert was written or
    /// deliberately skipped, 1 when any was rejected as malformed or could not
    /// be written or read, 2 for usage or settings errors.
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
    /// GCN) for `listen` to receive. With --dossier, each event also gets
    /// the other messages GCN publishes around one (an IceCube search and a
    /// circular, sometimes a BOOM candidate, a Swift GUANO notice or an
    /// Einstein Probe transient nearby); published, each goes to its kind's
    /// topic when `gcn-kafka.topics` lists it. Exit status as for `import`.
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
        /// Add every other kind of message of each event's dossier.
        #[arg(long)]
        dossier: bool,
    },

    /// Check everything `listen` needs, one line per check; exit 1 if one fails.
    ///
    /// The settings (unknown keys shown as warnings), the GCN credentials
    /// (unless `gcn-kafka.bootstrap_servers` names a self-hosted broker),
    /// download_dir and the state dir writable (nothing is left in them),
    /// librdkafka's OIDC support for the GCN login, and the broker answering a
    /// metadata request within a few seconds.
    Check,

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

/// For a command line holding the original's `-p`/`--plugins` (`gocart -p
/// listen`), what to say instead of a bare usage error: plugins are now run
/// by `gocart-trigger`, and the two commands to run side by side.
pub fn plugins_flag_answer(args: &[OsString]) -> Option<String> {
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let end = words.iter().position(|w| w == "--").unwrap_or(words.len());
    let (flags, rest) = words.split_at(end);
    if !flags.iter().any(|w| is_plugins_flag(w)) {
        return None;
    }
    let mut ingest: Vec<String> = flags
        .iter()
        .filter_map(|w| without_plugins_flag(w))
        .collect();
    ingest.extend(rest.iter().cloned());
    if ingest.is_empty() {
        ingest.push("listen".into());
    }
    let mut trigger = settings_args(flags);
    trigger.insert(0, "gocart-trigger".into());
    ingest.insert(0, "gocart-ingest".into());
    Some(format!(
        "-p/--plugins is gone: plugins are now run by gocart-trigger, a program of its own \
         that runs every plugin on each new alert directory. Run it beside gocart-ingest \
         (two terminals, or the services of contrib/systemd/README.md):\n    {}\n    {}",
        shell_words(&ingest),
        shell_words(&trigger)
    ))
}

/// `-p`, `--plugins`, `--plugins=...`, or `-p` among other switches (`-vp`).
fn is_plugins_flag(word: &str) -> bool {
    word == "--plugins" || word.starts_with("--plugins=") || short_switches(word).contains('p')
}

/// The word without its `-p`: `None` when nothing else is left.
fn without_plugins_flag(word: &str) -> Option<String> {
    if word == "--plugins" || word.starts_with("--plugins=") {
        return None;
    }
    let switches = short_switches(word);
    if !switches.contains('p') {
        return Some(word.to_string());
    }
    let kept: String = switches.chars().filter(|&c| c != 'p').collect();
    (!kept.is_empty()).then(|| format!("-{kept}"))
}

/// The letters of `-vqp`-like words made only of switches that take no
/// value; empty for anything else (`-s FILE`'s `-sFILE` is not switches).
fn short_switches(word: &str) -> &str {
    match word.strip_prefix('-') {
        Some(letters)
            if !letters.is_empty() && letters.chars().all(|c| matches!(c, 'p' | 'v' | 'q')) =>
        {
            letters
        }
        _ => "",
    }
}

/// The `-s FILE` / `--settings[=]FILE` words of a command line, for the
/// trigger to read the same file.
fn settings_args(words: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        if word == "-s" || word == "--settings" {
            found.push(word.clone());
            found.extend(words.next().cloned());
        } else if word.starts_with("--settings=") || (word.starts_with("-s") && word.len() > 2) {
            found.push(word.clone());
        }
    }
    found
}

/// Words joined as a shell would read them back, quoted where needed.
fn shell_words(words: &[String]) -> String {
    let plain = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,~".contains(c))
    };
    words
        .iter()
        .map(|w| {
            if plain(w) {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `--group` of `mock`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum MockGroup {
    Cbc,
    Burst,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn answer(line: &str) -> Option<String> {
        let args: Vec<OsString> = line.split(' ').map(OsString::from).collect();
        plugins_flag_answer(&args)
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_original_plugins_flag_gets_the_two_commands_to_run() {
        let text = answer("gocart -s my.yaml -p listen").unwrap();
        assert!(
            text.contains("\n    gocart-ingest -s my.yaml listen\n"),
            "{text}"
        );
        assert!(text.ends_with("\n    gocart-trigger -s my.yaml"), "{text}");
        let text = answer("gocart echo 3 -vp").unwrap();
        assert!(text.contains("gocart-ingest echo 3 -v\n"), "{text}");
        let text = answer("gocart --plugins").unwrap();
        assert!(text.contains("gocart-ingest listen\n"), "{text}");
        let text = answer("gocart --settings=my\tfile.yaml listen --plugins").unwrap();
        assert!(
            text.contains("gocart-trigger '--settings=my\tfile.yaml'"),
            "{text}"
        );
        assert_eq!(answer("gocart import -- -p"), None);
        assert_eq!(answer("gocart -s -px.yaml listen"), None);
        assert_eq!(answer("gocart listen"), None);
    }
}

//! The settings file, `gocart.yaml`, shared by both programs and by the plugins.
//!
//! A user's file from the original gocart must keep working unchanged, so every
//! section and key is optional and falls back to the defaults (`default_settings.yaml`), keys we
//! do not know are accepted (plugins keep their own settings in the same file;
//! inside our own sections they are listed as warnings, see `unknown`), and a
//! value of the wrong type is reported with its dotted key and the file.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::Kind;

mod unknown;
pub use unknown::{closest, known_keys, UnknownKey};

/// Where the settings live when neither `-s` nor `GOCART_SETTINGS` says otherwise.
pub const DEFAULT_RELATIVE_PATH: &str = ".config/gocart/gocart.yaml";

/// The file `gocart-ingest init` writes: the original's comments, the new keys
/// commented out with their defaults so a user sees what can be set.
pub const DEFAULT_FILE: &str = include_str!("default_settings.yaml");

/// Why the settings could not be loaded. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings file {path} does not exist; create it with `gocart-ingest init`")]
    NotFound { path: PathBuf },
    #[error("cannot read settings file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("settings file {path}: `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("settings file {path} is not valid YAML: {message}")]
    Syntax { path: PathBuf, message: String },
}

/// The settings both programs read.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file these settings came from (plugins get it as `GOCART_SETTINGS`).
    pub path: PathBuf,
    pub lvk: Lvk,
    pub gcn_kafka: GcnKafka,
    pub trigger: Trigger,
    /// Observers' sites (`sites:`): what each can see of every sky map.
    pub sites: Vec<Site>,
    /// Keys no program reads, inside sections the programs own (typos, most
    /// likely): accepted, and printed by each program when it starts.
    pub warnings: Vec<UnknownKey>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct RawSettings {
    lvk: Lvk,
    #[serde(rename = "gcn-kafka")]
    gcn_kafka: GcnKafka,
    trigger: Trigger,
    #[serde(deserialize_with = "list_or_null")]
    sites: Vec<Site>,
}

/// One entry of the top-level `sites:` list: an observer's site and its
/// limits, for `EXTRA.observability` (docs/contracts.md).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Site {
    #[serde(deserialize_with = "string_or_number")]
    pub name: String,
    /// Geodetic latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
    /// Metres above the ellipsoid (no refraction is modelled, so it changes nothing yet).
    #[serde(default)]
    pub height: f64,
    /// The highest airmass (sec z) worth observing at.
    #[serde(default = "default_max_airmass")]
    pub max_airmass: f64,
    /// Dark when the Sun is below this altitude (degrees).
    #[serde(default = "default_sun_alt")]
    pub sun_alt: f64,
}

fn default_max_airmass() -> f64 {
    2.0
}

fn default_sun_alt() -> f64 {
    -12.0
}

/// The `lvk:` section: which alerts to keep and what to write for each.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Lvk {
    pub parse_mock_events: bool,
    pub parse_real_events: bool,
    #[serde(deserialize_with = "path_or_home")]
    pub download_dir: PathBuf,
    pub aitoff: Aitoff,
    pub ascii_map: AsciiMap,
    pub json: bool,
    #[serde(deserialize_with = "filters_or_null")]
    pub filters: Vec<Filter>,
}

impl Default for Lvk {
    fn default() -> Self {
        Lvk {
            parse_mock_events: true,
            parse_real_events: false,
            download_dir: PathBuf::from("~/lvk_events"),
            aitoff: Aitoff::default(),
            ascii_map: AsciiMap::default(),
            json: false,
            filters: Vec::new(),
        }
    }
}

/// `lvk.aitoff`: the all-sky picture and what it shows.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Aitoff {
    pub convert: bool,
    pub sun_moon: bool,
    pub sun_moon_contour: bool,
    pub galactic_plane: bool,
}

impl Default for Aitoff {
    fn default() -> Self {
        Aitoff {
            convert: true,
            sun_moon: true,
            sun_moon_contour: true,
            galactic_plane: true,
        }
    }
}

/// `lvk.ascii_map`: the flattened `skymap.csv`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AsciiMap {
    pub convert: bool,
    pub nside: u32,
}

impl Default for AsciiMap {
    fn default() -> Self {
        AsciiMap {
            convert: true,
            nside: 64,
        }
    }
}

/// The largest `ascii_map.nside` accepted: 12.6 million rows, about 1 GB of CSV.
pub const MAX_ASCII_NSIDE: u32 = 1024;

/// One named entry of `lvk.filters`: an alert passes it if it meets every criterion.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub name: String,
    pub criteria: Vec<Criterion>,
}

/// The criteria keys a filter may hold besides `name` (`event_dir_exists`
/// has two spellings), as `Filter`'s deserializer reads them.
pub const CRITERIA: &[&str] = &[
    "alert_types",
    "ns_lower",
    "far_upper",
    "dist_upper",
    "area90_upper",
    "hasns_lower",
    "hasremnant_lower",
    "event_dir_exists",
    "event_dir_exist",
    "burst",
    "significant",
    "pval_bayesian_upper",
    "pval_generic_upper",
];

/// The original's ten criteria, IceCube's p-values, plus the ones we do not know (which always fail,
/// so that a misspelt criterion never lets everything through silently).
#[derive(Debug, Clone, PartialEq)]
pub enum Criterion {
    /// The alert type is one of these (compared lower-cased).
    AlertTypes(Vec<String>),
    /// Classification BNS + NSBH >= value.
    NsLower(f64),
    /// FAR < value (Hz).
    FarUpper(f64),
    /// The map header's DISTMEAN < value (Mpc).
    DistUpper(f64),
    /// area90 < value (deg²).
    Area90Upper(f64),
    /// Property HasNS >= value.
    HasNsLower(f64),
    /// Property HasRemnant >= value.
    HasRemnantLower(f64),
    /// Whether an earlier alert of this event was written.
    EventDirExists(bool),
    /// true: only burst alerts pass; false: burst alerts fail.
    Burst(bool),
    /// The alert's `significant` flag equals this.
    Significant(bool),
    /// IceCube: the Bayesian coincidence p-value < value.
    PvalBayesianUpper(f64),
    /// IceCube: the generic coincidence p-value < value.
    PvalGenericUpper(f64),
    /// A key we do not know; it fails the filter.
    Unknown(String),
}

/// The `gcn-kafka:` section. Its `Debug` never shows the secret.
#[derive(Clone, Deserialize)]
#[serde(default)]
pub struct GcnKafka {
    #[serde(deserialize_with = "string_or_number")]
    pub client_id: String,
    #[serde(deserialize_with = "string_or_number")]
    pub client_secret: String,
    #[serde(deserialize_with = "string_or_number")]
    pub group_id: String,
    pub domain: String,
    pub topics: Vec<String>,
    #[serde(deserialize_with = "string_or_number")]
    pub bootstrap_servers: String,
    /// Extra librdkafka properties, passed through as text.
    #[serde(deserialize_with = "kafka_properties")]
    pub config: BTreeMap<String, String>,
    /// Whether `listen` follows `gcn.heartbeat`; unset means "by broker": on for
    /// GCN, off for a `bootstrap_servers` broker (which rarely has that topic).
    pub heartbeat: Option<bool>,
    /// How long `gcn.heartbeat` may be silent before `listen` writes a
    /// `feed/<stamp>_silent` directory (and `_back` when it is heard again).
    #[serde(deserialize_with = "duration_text")]
    pub heartbeat_alarm: Duration,
}

/// The value the original ships for credentials not yet filled in.
pub const PLACEHOLDER: &str = "XXXX";

impl Default for GcnKafka {
    fn default() -> Self {
        GcnKafka {
            client_id: PLACEHOLDER.into(),
            client_secret: PLACEHOLDER.into(),
            group_id: PLACEHOLDER.into(),
            domain: "gcn.nasa.gov".into(),
            topics: vec!["igwn.gwalert".into()],
            bootstrap_servers: String::new(),
            config: BTreeMap::new(),
            heartbeat: None,
            heartbeat_alarm: Duration::from_secs(300),
        }
    }
}

impl fmt::Debug for GcnKafka {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GcnKafka")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<hidden>")
            .field("group_id", &self.group_id)
            .field("domain", &self.domain)
            .field("topics", &self.topics)
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("config", &self.config.keys().collect::<Vec<_>>())
            .field("heartbeat", &self.heartbeat)
            .field("heartbeat_alarm", &self.heartbeat_alarm)
            .finish()
    }
}

/// The `trigger:` section, read by `gocart-trigger` (and by `init` for `plugins_dir`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Trigger {
    #[serde(deserialize_with = "path_or_home")]
    pub plugins_dir: PathBuf,
    pub python: String,
    /// Seconds per plugin run before TERM, then KILL.
    pub timeout: u64,
    /// A cap on plugin runs at once over all plugins; `None` (the default):
    /// no cap, each plugin is bounded by its own lane only.
    pub concurrency: Option<usize>,
    #[serde(deserialize_with = "path_or_home")]
    pub state_dir: PathBuf,
    #[serde(deserialize_with = "duration_text")]
    pub catch_up: Duration,
    /// Settings of single plugins, keyed by file name.
    pub plugins: BTreeMap<String, PluginSettings>,
}

impl Default for Trigger {
    fn default() -> Self {
        Trigger {
            plugins_dir: PathBuf::from("~/.config/gocart/plugins"),
            python: "python3".into(),
            timeout: 600,
            concurrency: None,
            state_dir: PathBuf::from("~/.local/state/gocart"),
            catch_up: Duration::from_secs(24 * 3600),
            plugins: BTreeMap::new(),
        }
    }
}

/// One plugin's entry under `trigger.plugins` (docs/contracts.md,
/// "Per-plugin settings"); a plugin without one has the defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct PluginSettings {
    /// Seconds before TERM, then KILL; overrides `trigger.timeout`.
    pub timeout: Option<u64>,
    /// Plugins that must have ended on a directory (whatever their outcome)
    /// before this one runs on it.
    pub after: Vec<String>,
    /// The kinds of directory it runs on (default: LVK alerts only).
    #[serde(deserialize_with = "kinds_or_null")]
    pub kinds: Vec<Kind>,
    /// The plugin's own filters, in the language of `lvk.filters`: a
    /// directory of its kinds that passes none is recorded `filtered`.
    #[serde(deserialize_with = "filters_or_null")]
    pub filters: Vec<Filter>,
    /// Runs of this plugin at once (its lane), default 1.
    pub concurrency: usize,
}

impl Default for PluginSettings {
    fn default() -> Self {
        PluginSettings {
            timeout: None,
            after: Vec::new(),
            kinds: vec![Kind::Lvk],
            filters: Vec::new(),
            concurrency: 1,
        }
    }
}

impl GcnKafka {
    /// Whether to follow `gcn.heartbeat`: the setting if given, else only for GCN.
    pub fn follows_heartbeat(&self) -> bool {
        self.heartbeat
            .unwrap_or_else(|| self.bootstrap_servers.trim().is_empty())
    }
}

impl Settings {
    /// The settings file to use: `-s` first, then `GOCART_SETTINGS`, then the default.
    pub fn locate(explicit: Option<&Path>) -> PathBuf {
        if let Some(path) = explicit {
            return expand_home(path);
        }
        match std::env::var_os("GOCART_SETTINGS") {
            Some(path) if !path.is_empty() => expand_home(Path::new(&path)),
            _ => home_dir().join(DEFAULT_RELATIVE_PATH),
        }
    }

    /// Reads and checks the file at `path`, then applies `GCN_KAFKA_*` overrides.
    pub fn load(path: &Path) -> Result<Settings, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                SettingsError::NotFound { path: path.into() }
            } else {
                SettingsError::Read {
                    path: path.into(),
                    source,
                }
            }
        })?;
        let mut settings = Settings::parse(&text, path)?;
        settings.apply_environment();
        Ok(settings)
    }

    /// Parses settings text; `path` is only used in messages and kept in the result.
    pub fn parse(text: &str, path: &Path) -> Result<Settings, SettingsError> {
        let raw = parse_raw(text, path)?;
        let settings = Settings {
            path: path.to_path_buf(),
            lvk: Lvk {
                download_dir: expand_home(&raw.lvk.download_dir),
                ..raw.lvk
            },
            gcn_kafka: raw.gcn_kafka,
            trigger: Trigger {
                plugins_dir: expand_home(&raw.trigger.plugins_dir),
                state_dir: expand_home(&raw.trigger.state_dir),
                ..raw.trigger
            },
            sites: raw.sites,
            warnings: unknown::unknown_keys(text, path),
        };
        settings.check()?;
        Ok(settings)
    }

    /// Prints each unknown key once, as `<program>: warning: <file>:<line>: ...`
    /// on stderr, beside the programs' errors.
    pub fn print_warnings(&self, program: &crate::cli::Program) {
        for warning in &self.warnings {
            program.warning(warning);
        }
    }

    /// The built-in defaults, as if the file were empty.
    pub fn defaults(path: &Path) -> Settings {
        Settings::parse("", path).expect("the defaults are valid")
    }

    fn check(&self) -> Result<(), SettingsError> {
        let invalid = |key: &str, message: String| SettingsError::Invalid {
            path: self.path.clone(),
            key: key.into(),
            message,
        };
        let nside = self.lvk.ascii_map.nside;
        if !nside.is_power_of_two() || nside > MAX_ASCII_NSIDE {
            return Err(invalid(
                "lvk.ascii_map.nside",
                format!("{nside} is not a power of two from 1 to {MAX_ASCII_NSIDE}"),
            ));
        }
        if self.lvk.download_dir.as_os_str().is_empty() {
            return Err(invalid("lvk.download_dir", "is empty".into()));
        }
        if self.trigger.concurrency == Some(0) {
            return Err(invalid("trigger.concurrency", "must be at least 1".into()));
        }
        if self.trigger.timeout == 0 {
            return Err(invalid(
                "trigger.timeout",
                "must be at least 1 second".into(),
            ));
        }
        for (name, plugin) in &self.trigger.plugins {
            if plugin.timeout == Some(0) {
                return Err(invalid(
                    &format!("trigger.plugins.{name}.timeout"),
                    "must be at least 1 second".into(),
                ));
            }
            if plugin.concurrency == 0 {
                return Err(invalid(
                    &format!("trigger.plugins.{name}.concurrency"),
                    "must be at least 1".into(),
                ));
            }
        }
        for (i, site) in self.sites.iter().enumerate() {
            if let Some((field, message)) = site_error(site, &self.sites[..i]) {
                return Err(invalid(&format!("sites[{i}].{field}"), message));
            }
        }
        if let Some(cycle) = after_cycle(&self.trigger.plugins) {
            return Err(invalid(
                &format!("trigger.plugins.{}.after", cycle[0]),
                format!(
                    "the plugins wait for each other in a circle ({}): none of them could ever run",
                    cycle.join(" -> ")
                ),
            ));
        }
        Ok(())
    }

    fn apply_environment(&mut self) {
        let overrides = [
            ("GCN_KAFKA_CLIENT_ID", &mut self.gcn_kafka.client_id),
            ("GCN_KAFKA_CLIENT_SECRET", &mut self.gcn_kafka.client_secret),
            ("GCN_KAFKA_DOMAIN", &mut self.gcn_kafka.domain),
        ];
        for (name, field) in overrides {
            if let Ok(value) = std::env::var(name) {
                if !value.is_empty() {
                    *field = value;
                }
            }
        }
    }
}

/// What is wrong with a site's entry, as the field and why; `earlier` are
/// the entries before it (names must differ: `EXTRA` is keyed by them).
fn site_error(site: &Site, earlier: &[Site]) -> Option<(&'static str, String)> {
    let within = |x: f64, low: f64, high: f64| x.is_finite() && (low..=high).contains(&x);
    if site.name.trim().is_empty() {
        return Some(("name", "is empty".into()));
    }
    if earlier.iter().any(|s| s.name == site.name) {
        return Some(("name", format!("{:?} names two sites", site.name)));
    }
    if !within(site.lat, -90.0, 90.0) {
        return Some(("lat", format!("{} is not a latitude (-90..90)", site.lat)));
    }
    if !within(site.lon, -360.0, 360.0) {
        return Some((
            "lon",
            format!("{} is not a longitude (degrees east, -360..360)", site.lon),
        ));
    }
    if !within(site.height, -500.0, 10_000.0) {
        return Some((
            "height",
            format!("{} is not a height in metres (-500..10000)", site.height),
        ));
    }
    if !(site.max_airmass.is_finite() && site.max_airmass >= 1.0) {
        return Some((
            "max_airmass",
            format!("{} is not an airmass (1 or more)", site.max_airmass),
        ));
    }
    if !within(site.sun_alt, -90.0, 90.0) {
        return Some((
            "sun_alt",
            format!("{} is not an altitude of the Sun (-90..90)", site.sun_alt),
        ));
    }
    None
}

/// A circle in the `after` lists (`a` after `b` after `a`), as the names
/// along it with the first repeated at the end; `None` if there is none.
pub fn after_cycle(plugins: &BTreeMap<String, PluginSettings>) -> Option<Vec<String>> {
    // Depth-first search; `path` is the chain being followed.
    fn visit<'a>(
        name: &'a str,
        plugins: &'a BTreeMap<String, PluginSettings>,
        path: &mut Vec<&'a str>,
        done: &mut std::collections::BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| *n == name) {
            let mut cycle: Vec<String> = path[start..].iter().map(|n| n.to_string()).collect();
            cycle.push(name.to_string());
            return Some(cycle);
        }
        if !done.insert(name) {
            return None;
        }
        path.push(name);
        let after = plugins.get(name).map(|p| p.after.as_slice()).unwrap_or(&[]);
        for next in after {
            if let Some(cycle) = visit(next, plugins, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = std::collections::BTreeSet::new();
    plugins
        .keys()
        .find_map(|name| visit(name, plugins, &mut Vec::new(), &mut done))
}

fn parse_raw(text: &str, path: &Path) -> Result<RawSettings, SettingsError> {
    if text.trim().is_empty() {
        return Ok(RawSettings::default());
    }
    let mut failed_at: Option<String> = None;
    let parsed = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize::<_, Option<RawSettings>>(de).map_err(|err| {
            failed_at = Some(err.path().to_string());
            err.into_inner()
        })
    });
    match (parsed, failed_at) {
        (Ok(raw), _) => Ok(raw.unwrap_or_default()),
        (Err(err), Some(key)) if key != "." && !key.is_empty() => Err(SettingsError::Invalid {
            path: path.into(),
            key,
            message: first_line(&err.to_string()),
        }),
        (Err(err), _) => Err(SettingsError::Syntax {
            path: path.into(),
            message: first_line(&err.to_string()),
        }),
    }
}

fn first_line(message: &str) -> String {
    message
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The user's home directory; `/` if `HOME` is unset, so nothing panics.
pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Expands a leading `~` or `~/` to the home directory (the original only
/// expanded a value that was exactly `~`).
pub fn expand_home(path: &Path) -> PathBuf {
    match path.strip_prefix("~") {
        Ok(rest) => home_dir().join(rest),
        Err(_) => path.to_path_buf(),
    }
}

/// A list of kind names; null is the default (LVK only); a name that is no
/// kind is refused with the list of kinds.
fn kinds_or_null<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<Kind>, D::Error> {
    let Some(names) = Option::<Vec<ScalarText>>::deserialize(de)? else {
        return Ok(vec![Kind::Lvk]);
    };
    names
        .into_iter()
        .map(|name| {
            Kind::parse(&name.0).ok_or_else(|| {
                let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                de::Error::custom(format!(
                    "`{}` is not a kind; the kinds are {}",
                    name.0,
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// A list that may be left empty in the file (`sites:` with nothing after it).
fn list_or_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(de: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(de)?.unwrap_or_default())
}

fn filters_or_null<'de, D: Deserializer<'de>>(de: D) -> Result<Vec<Filter>, D::Error> {
    let filters = Option::<Vec<Filter>>::deserialize(de)?.unwrap_or_default();
    Ok(filters
        .into_iter()
        .enumerate()
        .map(|(i, mut f)| {
            if f.name.is_empty() {
                f.name = format!("#{}", i + 1);
            }
            f
        })
        .collect())
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_map(FilterVisitor)
    }
}

struct FilterVisitor;

impl<'de> Visitor<'de> for FilterVisitor {
    type Value = Filter;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a filter: a mapping of `name` and criteria")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Filter, A::Error> {
        let mut filter = Filter {
            name: String::new(),
            criteria: Vec::new(),
        };
        while let Some(key) = map.next_key::<String>()? {
            let criterion = match key.as_str() {
                "name" => {
                    filter.name = map.next_value::<ScalarText>()?.0;
                    continue;
                }
                "alert_types" => Criterion::AlertTypes(
                    map.next_value::<Vec<String>>()?
                        .into_iter()
                        .map(|t| t.to_lowercase())
                        .collect(),
                ),
                "ns_lower" => Criterion::NsLower(map.next_value()?),
                "far_upper" => Criterion::FarUpper(map.next_value()?),
                "dist_upper" => Criterion::DistUpper(map.next_value()?),
                "area90_upper" => Criterion::Area90Upper(map.next_value()?),
                "hasns_lower" => Criterion::HasNsLower(map.next_value()?),
                "hasremnant_lower" => Criterion::HasRemnantLower(map.next_value()?),
                "event_dir_exists" | "event_dir_exist" => {
                    Criterion::EventDirExists(map.next_value()?)
                }
                "burst" => Criterion::Burst(map.next_value()?),
                "significant" => Criterion::Significant(map.next_value()?),
                "pval_bayesian_upper" => Criterion::PvalBayesianUpper(map.next_value()?),
                "pval_generic_upper" => Criterion::PvalGenericUpper(map.next_value()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    Criterion::Unknown(key)
                }
            };
            filter.criteria.push(criterion);
        }
        Ok(filter)
    }
}

/// A scalar read as text: YAML gives numbers and booleans for values that users
/// think of as strings (a filter named `1`, a numeric client id).
struct ScalarText(String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Scalar {
            Text(String),
            Int(i64),
            Float(f64),
            Bool(bool),
        }
        Ok(ScalarText(match Option::<Scalar>::deserialize(de)? {
            None => String::new(),
            Some(Scalar::Text(s)) => s,
            Some(Scalar::Int(i)) => i.to_string(),
            Some(Scalar::Float(x)) => x.to_string(),
            Some(Scalar::Bool(b)) => b.to_string(),
        }))
    }
}

/// A path; a bare `~` is YAML's null, but in a path a user means the home directory.
fn path_or_home<'de, D: Deserializer<'de>>(de: D) -> Result<PathBuf, D::Error> {
    Ok(Option::<PathBuf>::deserialize(de)?.unwrap_or_else(|| PathBuf::from("~")))
}

fn string_or_number<'de, D: Deserializer<'de>>(de: D) -> Result<String, D::Error> {
    Ok(ScalarText::deserialize(de)?.0)
}

fn kafka_properties<'de, D: Deserializer<'de>>(
    de: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(Option::<BTreeMap<String, ScalarText>>::deserialize(de)?
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect())
}

fn duration_text<'de, D: Deserializer<'de>>(de: D) -> Result<Duration, D::Error> {
    let text = ScalarText::deserialize(de)?.0;
    parse_duration(&text).ok_or_else(|| {
        de::Error::custom(format!(
            "`{text}` is not a duration such as 90s, 30m, 24h or 7d"
        ))
    })
}

/// Parses a duration as the settings file and the command lines write it: a
/// number of seconds (`90`, `2.5`, `1e3`) or a number with a unit (`90s`,
/// `30m`, `24h`, `7d`, `1.5h`). The one duration syntax of both programs.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let seconds = match text.parse::<f64>() {
        Ok(seconds) => seconds,
        Err(_) => {
            let (number, unit) = text.split_at(text.find(|c: char| c.is_ascii_alphabetic())?);
            let scale = match unit.trim() {
                "s" | "sec" | "secs" => 1.0,
                "m" | "min" | "mins" => 60.0,
                "h" | "hr" | "hrs" => 3600.0,
                "d" | "day" | "days" => 86400.0,
                _ => return None,
            };
            number.trim().parse::<f64>().ok()? * scale
        }
    };
    // try_: a negative, NaN or too large value (`1e30d`) is refused, not a panic.
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, SettingsError> {
        Settings::parse(text, Path::new("/etc/gocart.yaml"))
    }

    /// The settings file of the original gocart, byte for byte as it ships.
    const ORIGINAL: &str = include_str!("settings/original.yaml");

    #[test]
    fn the_original_file_loads_unchanged() {
        let s = parse(ORIGINAL).unwrap();
        assert!(s.lvk.parse_mock_events);
        assert!(!s.lvk.parse_real_events);
        assert_eq!(s.lvk.download_dir, home_dir().join("lvk_events"));
        assert_eq!(s.lvk.ascii_map.nside, 64);
        assert!(s.lvk.aitoff.convert);
        assert!(s.lvk.filters.is_empty());
        assert_eq!(s.gcn_kafka.client_id, "XXXX");
        assert_eq!(s.gcn_kafka.topics, vec!["igwn.gwalert"]);
        assert_eq!(s.trigger.timeout, 600);
    }

    #[test]
    fn the_shipped_default_file_is_the_defaults() {
        let s = parse(DEFAULT_FILE).unwrap();
        let d = Settings::defaults(Path::new("/etc/gocart.yaml"));
        assert_eq!(format!("{:?}", s.lvk), format!("{:?}", d.lvk));
        assert_eq!(format!("{:?}", s.trigger), format!("{:?}", d.trigger));
        assert_eq!(format!("{:?}", s.gcn_kafka), format!("{:?}", d.gcn_kafka));
    }

    #[test]
    fn a_partial_lvk_block_gets_defaults() {
        let s = parse("lvk:\n  json: true\n  ascii_map: {nside: 128}\n").unwrap();
        assert!(s.lvk.json);
        assert!(s.lvk.parse_mock_events);
        assert!(s.lvk.ascii_map.convert);
        assert_eq!(s.lvk.ascii_map.nside, 128);
        assert!(s.lvk.aitoff.galactic_plane);
    }

    #[test]
    fn tilde_expands_in_every_path() {
        let s = parse("lvk: {download_dir: ~/a/b}\ntrigger: {plugins_dir: '~/p', state_dir: ~}\n")
            .unwrap();
        assert_eq!(s.lvk.download_dir, home_dir().join("a/b"));
        assert_eq!(s.trigger.plugins_dir, home_dir().join("p"));
        // A bare `~` is YAML null, and still means the home directory.
        assert_eq!(s.trigger.state_dir, home_dir());
        let s = parse("lvk: {download_dir: '~'}\n").unwrap();
        assert_eq!(s.lvk.download_dir, home_dir());
    }

    #[test]
    fn a_wrong_type_names_the_key_and_the_file() {
        let err = parse("lvk:\n  ascii_map:\n    nside: lots\n").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/etc/gocart.yaml"), "{text}");
        assert!(text.contains("lvk.ascii_map.nside"), "{text}");

        let err = parse("lvk:\n  filters:\n    - name: a\n      far_upper: often\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("lvk.filters[0].far_upper"), "{err}");
        assert!(err.contains("/etc/gocart.yaml"), "{err}");
    }

    #[test]
    fn nside_must_be_a_power_of_two_up_to_1024() {
        for bad in [0, 3, 100, 2048] {
            let err = parse(&format!("lvk: {{ascii_map: {{nside: {bad}}}}}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains("lvk.ascii_map.nside"), "{err}");
        }
        for good in [1, 2, 64, 1024] {
            parse(&format!("lvk: {{ascii_map: {{nside: {good}}}}}")).unwrap();
        }
    }

    #[test]
    fn broken_yaml_is_a_syntax_error_naming_the_file() {
        let err = parse("lvk: {json: \"unterminated\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/etc/gocart.yaml"), "{err}");
        assert!(err.contains("line 1"), "{err}");
        let err = parse("\"unterminated\n").unwrap_err();
        assert!(matches!(err, SettingsError::Syntax { .. }), "{err:?}");
        // A section of the wrong shape names the section.
        let err = parse("lvk: [a, b]\n").unwrap_err().to_string();
        assert!(err.contains("`lvk`"), "{err}");
    }

    #[test]
    fn filters_parse_every_criterion_and_keep_unknown_ones() {
        let s = parse(
            r#"
lvk:
  filters:
    - name: general
      alert_types: [Initial, UPDATE]
      ns_lower: 0.9
      far_upper: 1.6e-08
      dist_upper: 500
      area90_upper: 2000
      hasns_lower: 0.5
      hasremnant_lower: 0.5
      event_dir_exist: true
      burst: false
      significant: true
      colour: blue
    - far_upper: 1
"#,
        )
        .unwrap();
        let f = &s.lvk.filters[0];
        assert_eq!(f.name, "general");
        assert_eq!(
            f.criteria,
            vec![
                Criterion::AlertTypes(vec!["initial".into(), "update".into()]),
                Criterion::NsLower(0.9),
                Criterion::FarUpper(1.6e-8),
                Criterion::DistUpper(500.0),
                Criterion::Area90Upper(2000.0),
                Criterion::HasNsLower(0.5),
                Criterion::HasRemnantLower(0.5),
                Criterion::EventDirExists(true),
                Criterion::Burst(false),
                Criterion::Significant(true),
                Criterion::Unknown("colour".into()),
            ]
        );
        assert_eq!(s.lvk.filters[1].name, "#2");
    }

    #[test]
    fn environment_overrides_credentials() {
        // Only this test touches these variables.
        std::env::set_var("GCN_KAFKA_CLIENT_SECRET", "from-env");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.yaml");
        std::fs::write(&path, "gcn-kafka: {client_secret: in-file}\n").unwrap();
        let s = Settings::load(&path).unwrap();
        std::env::remove_var("GCN_KAFKA_CLIENT_SECRET");
        assert_eq!(s.gcn_kafka.client_secret, "from-env");
        assert!(!format!("{s:?}").contains("from-env"));
    }

    #[test]
    fn a_missing_file_says_how_to_create_it() {
        let err = Settings::load(Path::new("/nonexistent/g.yaml")).unwrap_err();
        assert!(err.to_string().contains("gocart-ingest init"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Some(Duration::from_secs(86400)));
        assert_eq!(parse_duration("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5 d"), Some(Duration::from_secs(129600)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_duration("1e30d"), None);
        assert_eq!(parse_duration("-1h"), None);
        assert_eq!(parse_duration("NaN"), None);
        assert_eq!(parse_duration("inf"), None);
        // A bare number is seconds, in any notation a command line accepts.
        assert_eq!(parse_duration("2.5"), Some(Duration::from_millis(2500)));
        assert_eq!(parse_duration(" 1e3 "), Some(Duration::from_secs(1000)));
        assert_eq!(parse_duration("1.5e3s"), None);
        assert!(parse("trigger: {catch_up: soon}").is_err());
    }

    fn warnings(text: &str) -> Vec<String> {
        parse(text)
            .unwrap()
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn typos_in_our_sections_are_warned_with_line_and_suggestion() {
        let text = "version: 1\nlvk:\n  downlaod_dir: /data/lvk\n  parse_mock_event: true\n  ascii_map:\n    nsid: 128\ntrigger:\n  timeot: 60\n";
        assert_eq!(
            warnings(text),
            [
                "/etc/gocart.yaml:3: lvk.downlaod_dir is not a setting; did you mean download_dir?",
                "/etc/gocart.yaml:4: lvk.parse_mock_event is not a setting; did you mean parse_mock_events?",
                "/etc/gocart.yaml:6: lvk.ascii_map.nsid is not a setting; did you mean nside?",
                "/etc/gocart.yaml:8: trigger.timeot is not a setting; did you mean timeout?",
            ]
        );
        // Accepted all the same: the defaults stand where the typo was.
        let s = parse(text).unwrap();
        assert_eq!(s.lvk.download_dir, home_dir().join("lvk_events"));
        assert_eq!(s.lvk.ascii_map.nside, 64);
    }

    #[test]
    fn flow_style_keys_get_their_own_line() {
        let text = "lvk: {json: true,\n  aitoff: {convert: true, sunmoon: false}}\ngcn-kafka: {client_id: a, clientsecret: b}\n";
        assert_eq!(
            warnings(text),
            [
                "/etc/gocart.yaml:2: lvk.aitoff.sunmoon is not a setting; did you mean sun_moon?",
                "/etc/gocart.yaml:3: gcn-kafka.clientsecret is not a setting; did you mean client_secret?",
            ]
        );
    }

    #[test]
    fn nothing_close_means_no_suggestion_and_case_is_forgiven() {
        assert_eq!(
            warnings("lvk:\n  colour: blue\n  Download_Dir: /x\n"),
            [
                "/etc/gocart.yaml:2: lvk.colour is not a setting",
                "/etc/gocart.yaml:3: lvk.Download_Dir is not a setting; did you mean download_dir?",
            ]
        );
    }

    #[test]
    fn plugin_sections_and_pass_through_values_are_not_ours() {
        let text = "my_plugin:\n  whatever: 1\nlogging settings: {root: {level: WARNING}}\ngcn-kafka:\n  config: {socket.timeout.ms: 1000}\n  group_instance_id: g-1\nlvk:\n  filters:\n    - name: a\n      far_upper: 1\n";
        assert!(warnings(text).is_empty(), "{:?}", warnings(text));
        assert!(warnings(ORIGINAL).is_empty(), "{:?}", warnings(ORIGINAL));
        assert!(
            warnings(DEFAULT_FILE).is_empty(),
            "{:?}",
            warnings(DEFAULT_FILE)
        );
    }

    #[test]
    fn per_plugin_entries_are_checked_under_their_file_name() {
        let text = "trigger:\n  plugins:\n    gp_page.py:\n      timeout: 60\n      after: [gp_a.py]\n      kinds: [lvk]\n      filters: []\n    gp_b.sh: {timout: 5}\n";
        assert_eq!(
            warnings(text),
            ["/etc/gocart.yaml:8: trigger.plugins.gp_b.sh.timout is not a setting; did you mean timeout?"]
        );
    }

    #[test]
    fn a_mistyped_criterion_is_warned_and_still_fails_its_filter() {
        let text = "lvk:\n  filters:\n    - name: a\n      far_uper: 1e-8\n    - {name: b, area90_upper: 10, colour: blue}\ntrigger:\n  plugins:\n    gp_x.py:\n      filters:\n        - {alert_type: [initial]}\n";
        assert_eq!(
            warnings(text),
            [
                "/etc/gocart.yaml:4: lvk.filters[0].far_uper is not a setting; did you mean far_upper?",
                "/etc/gocart.yaml:5: lvk.filters[1].colour is not a setting",
                "/etc/gocart.yaml:10: trigger.plugins.gp_x.py.filters[0].alert_type is not a setting; did you mean alert_types?",
            ]
        );
        let s = parse(text).unwrap();
        assert_eq!(
            s.lvk.filters[0].criteria,
            [Criterion::Unknown("far_uper".into())]
        );
    }

    #[test]
    fn every_listed_criterion_is_read_as_one() {
        for key in CRITERIA {
            let value = match *key {
                "alert_types" => "[initial]",
                "event_dir_exists" | "event_dir_exist" | "burst" | "significant" => "true",
                _ => "1",
            };
            let s = parse(&format!("lvk: {{filters: [{{{key}: {value}}}]}}")).unwrap();
            let criteria = &s.lvk.filters[0].criteria;
            assert!(
                !matches!(criteria[..], [Criterion::Unknown(_)]),
                "{key}: {criteria:?}"
            );
            assert!(s.warnings.is_empty(), "{key}: {:?}", s.warnings);
        }
    }

    #[test]
    fn every_field_of_the_structs_is_known() {
        for (section, key) in [
            ("lvk", "download_dir"),
            ("lvk", "filters"),
            ("lvk.aitoff", "sun_moon_contour"),
            ("lvk.ascii_map", "nside"),
            ("gcn-kafka", "bootstrap_servers"),
            ("gcn-kafka", "heartbeat"),
            ("gcn-kafka", "heartbeat_alarm"),
            ("trigger", "catch_up"),
            ("trigger", "plugins"),
        ] {
            assert!(known_keys(section).contains(&key), "{section}.{key}");
        }
        assert!(known_keys("logging settings").is_empty());
    }

    #[test]
    fn heartbeat_defaults_by_broker() {
        assert!(parse("").unwrap().gcn_kafka.follows_heartbeat());
        assert_eq!(
            parse("").unwrap().gcn_kafka.heartbeat_alarm,
            Duration::from_secs(300)
        );
        let alarm = parse("gcn-kafka: {heartbeat_alarm: 90s}").unwrap();
        assert_eq!(alarm.gcn_kafka.heartbeat_alarm, Duration::from_secs(90));
        assert!(parse("gcn-kafka: {heartbeat_alarm: soon}").is_err());
        let local = parse("gcn-kafka: {bootstrap_servers: 'localhost:9092'}").unwrap();
        assert!(!local.gcn_kafka.follows_heartbeat());
        let forced = parse("gcn-kafka: {bootstrap_servers: 'h:1', heartbeat: true}").unwrap();
        assert!(forced.gcn_kafka.follows_heartbeat());
        assert!(!parse("gcn-kafka: {heartbeat: false}")
            .unwrap()
            .gcn_kafka
            .follows_heartbeat());
    }

    #[test]
    fn per_plugin_settings_are_read_and_later_keys_accepted() {
        let s = parse(
            "trigger:\n  timeout: 600\n  plugins:\n    gp_b.py:\n      timeout: 1\n      after: [gp_a.py]\n      kinds: [lvk]\n      filters:\n        - {alert_types: [initial], significant: true}\n",
        )
        .unwrap();
        let b = &s.trigger.plugins["gp_b.py"];
        assert_eq!(b.timeout, Some(1));
        assert_eq!(b.after, vec!["gp_a.py".to_string()]);
        assert_eq!(b.kinds, [Kind::Lvk]);
        assert_eq!(
            b.filters[0].criteria,
            [
                Criterion::AlertTypes(vec!["initial".into()]),
                Criterion::Significant(true)
            ]
        );
        assert_eq!(b.filters[0].name, "#1");
    }

    #[test]
    fn plugin_kinds_default_to_lvk_and_filters_take_the_new_criteria() {
        let s = parse(
            "trigger:\n  plugins:\n    gp_nu.py:\n      kinds: [icecube, swift_guano]\n      filters:\n        - {name: close, pval_bayesian_upper: 0.1, pval_generic_upper: 0.5}\n        - {far_upper: 1e-7, alert_types: [Subthreshold]}\n    gp_t.py: {timeout: 3}\n    gp_n.py: {kinds: ~}\n",
        )
        .unwrap();
        let nu = &s.trigger.plugins["gp_nu.py"];
        assert_eq!(nu.kinds, [Kind::Icecube, Kind::SwiftGuano]);
        assert_eq!(
            nu.filters[0].criteria,
            [
                Criterion::PvalBayesianUpper(0.1),
                Criterion::PvalGenericUpper(0.5)
            ]
        );
        assert_eq!(nu.filters[1].name, "#2");
        assert_eq!(
            nu.filters[1].criteria,
            [
                Criterion::FarUpper(1e-7),
                Criterion::AlertTypes(vec!["subthreshold".into()])
            ]
        );
        for name in ["gp_t.py", "gp_n.py"] {
            let p = &s.trigger.plugins[name];
            assert_eq!(p.kinds, [Kind::Lvk], "{name}");
            assert!(p.filters.is_empty(), "{name}");
        }
        assert_eq!(PluginSettings::default().kinds, [Kind::Lvk]);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn an_unknown_kind_names_the_key_and_lists_the_kinds() {
        let err = parse("trigger:\n  plugins:\n    gp_x.py:\n      kinds: [lvk, neutrino]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`trigger.plugins.gp_x.py.kinds`"), "{err}");
        assert!(err.contains("`neutrino` is not a kind"), "{err}");
        assert!(
            err.contains("lvk, icecube, circular, boom, einstein_probe, swift_guano, heartbeat"),
            "{err}"
        );
        assert!(err.contains("/etc/gocart.yaml"), "{err}");
    }

    #[test]
    fn a_circle_of_after_or_a_zero_timeout_names_the_key() {
        let err =
            parse("trigger:\n  plugins:\n    gp_a: {after: [gp_b]}\n    gp_b: {after: [gp_a]}\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("`trigger.plugins.gp_a.after`"), "{err}");
        assert!(err.contains("gp_a -> gp_b -> gp_a"), "{err}");
        let err = parse("trigger:\n  plugins:\n    gp_a: {after: [gp_a]}\n").unwrap_err();
        assert!(err.to_string().contains("gp_a -> gp_a"), "{err}");
        let err = parse("trigger:\n  plugins:\n    gp_a: {timeout: 0}\n").unwrap_err();
        assert!(
            err.to_string().contains("`trigger.plugins.gp_a.timeout`"),
            "{err}"
        );
        // A chain and an unknown name are no circle.
        parse("trigger:\n  plugins:\n    gp_a: {after: [gp_b, gp_x]}\n    gp_b: {after: [gp_c]}\n")
            .unwrap();
    }

    #[test]
    fn sites_are_read_with_their_defaults() {
        let s = parse(
            "sites:\n  - {name: La Palma, lat: 28.7606, lon: -17.8816, height: 2396}\n  - name: 1\n    lat: -30.24\n    lon: 289.26\n    max_airmass: 1.5\n    sun_alt: -18\n",
        )
        .unwrap();
        assert_eq!(
            s.sites,
            [
                Site {
                    name: "La Palma".into(),
                    lat: 28.7606,
                    lon: -17.8816,
                    height: 2396.0,
                    max_airmass: 2.0,
                    sun_alt: -12.0,
                },
                Site {
                    name: "1".into(),
                    lat: -30.24,
                    lon: 289.26,
                    height: 0.0,
                    max_airmass: 1.5,
                    sun_alt: -18.0,
                },
            ]
        );
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert!(parse("sites:\n").unwrap().sites.is_empty());
        assert!(parse("").unwrap().sites.is_empty());
    }

    #[test]
    fn a_bad_site_names_the_entry_and_the_key() {
        let err = |text: &str| parse(text).unwrap_err().to_string();
        let two = "sites:\n  - {name: a, lat: 10, lon: 0}\n  - {name: b, lat: 91, lon: 0}\n";
        let message = err(two);
        assert!(
            message.contains("`sites[1].lat`: 91 is not a latitude (-90..90)"),
            "{message}"
        );
        let message = err("sites: [{name: a, lat: 10, lon: 0, height: high}]");
        assert!(message.contains("`sites[0].height`"), "{message}");
        for (entry, key) in [
            ("{name: a, lat: 10, lon: 400}", "sites[0].lon"),
            (
                "{name: a, lat: 10, lon: 0, max_airmass: 0.5}",
                "sites[0].max_airmass",
            ),
            (
                "{name: a, lat: 10, lon: 0, sun_alt: -100}",
                "sites[0].sun_alt",
            ),
            ("{name: '', lat: 10, lon: 0}", "sites[0].name"),
            ("{name: a, lat: .nan, lon: 0}", "sites[0].lat"),
            ("{name: a, lon: 0}", "sites[0]"),
        ] {
            let message = err(&format!("sites: [{entry}]"));
            assert!(message.contains(&format!("`{key}`")), "{entry}: {message}");
        }
        let message = err("sites: [{name: a, lat: 1, lon: 0}, {name: a, lat: 2, lon: 0}]");
        assert!(message.contains("`sites[1].name`"), "{message}");
    }

    #[test]
    fn unknown_keys_of_a_site_are_warned_with_the_closest() {
        assert_eq!(
            warnings("sites:\n  - name: a\n    lat: 1\n    lon: 2\n    max_airmas: 3\n"),
            ["/etc/gocart.yaml:5: sites[0].max_airmas is not a setting; did you mean max_airmass?"]
        );
    }

    #[test]
    fn concurrency_has_no_total_cap_by_default_and_one_run_per_plugin() {
        let settings = parse("").unwrap();
        assert_eq!(settings.trigger.concurrency, None);
        assert_eq!(PluginSettings::default().concurrency, 1);
        let text = "trigger:\n  concurrency: 3\n  plugins:\n    gp_a.sh: {concurrency: 2}\n";
        let settings = parse(text).unwrap();
        assert_eq!(settings.trigger.concurrency, Some(3));
        assert_eq!(settings.trigger.plugins["gp_a.sh"].concurrency, 2);
        assert!(parse("trigger:\n  concurrency: 0\n").is_err());
        assert!(parse("trigger:\n  plugins:\n    gp_a.sh: {concurrency: 0}\n").is_err());
    }
}

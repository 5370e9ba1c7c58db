//! librdkafka client settings from `gocart.yaml`: GCN (an OIDC client-credentials
//! login, see `docs/architecture.md`) or any other broker named by `bootstrap_servers`,
//! then the user's `config` passed through. Also the checks that make a wrong
//! set-up a clear message instead of an endless reconnect loop: placeholder
//! credentials, a librdkafka without OIDC, a secret in a file others can read.
//! The secret is kept here and scrubbed from every text we pass on.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use gocart_shared::settings::PLACEHOLDER;
use gocart_shared::Settings;
use rdkafka::ClientConfig;

/// GCN's heartbeat topic: about one message a second, never an alert.
pub const HEARTBEAT_TOPIC: &str = "gcn.heartbeat";

/// Bytes fetched per partition and request: a few large alerts at once.
const FETCH_BYTES: &str = "16777216";

/// Why a Kafka client cannot be set up. The messages never hold the secret.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "GCN Kafka credentials are not set: `gcn-kafka.client_id` and `gcn-kafka.client_secret` \
         in {path} are still {PLACEHOLDER}. Get a client id and secret at \
         https://gcn.nasa.gov/quickstart (topic igwn.gwalert) and write them into {path}, \
         or set GCN_KAFKA_CLIENT_ID and GCN_KAFKA_CLIENT_SECRET; to use another broker, \
         set `gcn-kafka.bootstrap_servers`"
    )]
    Credentials { path: PathBuf },
    #[error("no topics to read: `gcn-kafka.topics` in {path} is empty")]
    NoTopics { path: PathBuf },
    #[error(
        "this build of librdkafka cannot log in to GCN: it has no OIDC support \
         (builtin.features: {features}); it must be built with OpenSSL and libcurl \
         (rdkafka features cmake-build, ssl, curl)"
    )]
    NoOidc { features: String },
    #[error("Kafka client: {0}")]
    Client(String),
}

/// Replaces the secret in any text that might reach a log or an error.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secret: Option<String>,
}

impl Redactor {
    pub fn new(secret: &str) -> Redactor {
        // A very short "secret" would blank out ordinary words; it is no secret.
        let secret = (secret.len() >= 4 && secret != PLACEHOLDER).then(|| secret.to_string());
        Redactor { secret }
    }

    pub fn clean(&self, text: &str) -> String {
        match &self.secret {
            Some(secret) => text.replace(secret.as_str(), "<hidden>"),
            None => text.to_string(),
        }
    }
}

/// The Kafka part of the settings, checked and ready to build clients from.
#[derive(Clone)]
pub struct KafkaSettings {
    base: ClientConfig,
    pub topics: Vec<String>,
    /// Whether `listen` also follows `gcn.heartbeat`.
    pub heartbeat: bool,
    /// How long the heartbeat may be silent before `listen` says so in the tree.
    pub heartbeat_alarm: std::time::Duration,
    /// GCN (true) or a `bootstrap_servers` broker.
    pub is_gcn: bool,
    /// Where we connect, for messages ("kafka.gcn.nasa.gov", "127.0.0.1:9092").
    pub servers: String,
    /// The client id we log in or identify with, if any (never the secret).
    pub client_id: Option<String>,
    pub redactor: Redactor,
}

impl std::fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSettings")
            .field("servers", &self.servers)
            .field("topics", &self.topics)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl KafkaSettings {
    /// Checks the settings and builds the common client configuration.
    pub fn from_settings(settings: &Settings) -> Result<KafkaSettings, ConfigError> {
        let gk = &settings.gcn_kafka;
        let topics: Vec<String> = gk
            .topics
            .iter()
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        if topics.is_empty() {
            return Err(ConfigError::NoTopics {
                path: settings.path.clone(),
            });
        }
        let is_gcn = gk.bootstrap_servers.trim().is_empty();
        let mut base = ClientConfig::new();
        if is_gcn {
            if !has_value(&gk.client_id) || !has_value(&gk.client_secret) {
                return Err(ConfigError::Credentials {
                    path: settings.path.clone(),
                });
            }
            gcn_config(
                &mut base,
                gk.domain.trim(),
                &gk.client_id,
                &gk.client_secret,
            );
        } else {
            base.set("bootstrap.servers", gk.bootstrap_servers.trim());
        }
        // Connection closes are normal (idle brokers hang up); outages are
        // reported through error events instead, once each.
        base.set("log.connection.close", "false");
        for (key, value) in &gk.config {
            base.set(key, value);
        }
        // What the client really uses, the user's `config` included.
        let servers = base
            .get("bootstrap.servers")
            .unwrap_or_default()
            .to_string();
        let client_id = ["sasl.oauthbearer.client.id", "client.id"]
            .iter()
            .find_map(|key| base.get(key))
            .map(String::from);
        Ok(KafkaSettings {
            base,
            topics,
            heartbeat: gk.follows_heartbeat(),
            heartbeat_alarm: gk.heartbeat_alarm,
            is_gcn,
            servers,
            client_id,
            redactor: Redactor::new(&gk.client_secret),
        })
    }

    /// "broker(s) X, topics a, b, client id C": what a client connects to,
    /// for the first line `listen` and `echo` log. Never the secret.
    pub fn describe(&self, topics: &[String]) -> String {
        let mut text = format!("broker {}, topics {}", self.servers, topics.join(", "));
        if let Some(id) = &self.client_id {
            text.push_str(&format!(", client id {id}"));
        }
        self.redactor.clean(&text)
    }

    /// The configuration every client starts from (user's `config` included).
    pub fn client_config(&self) -> ClientConfig {
        self.base.clone()
    }

    /// What every consumer of ours wants beyond the client's settings; a
    /// producer (`mock --publish`) is not given it, or librdkafka warns
    /// about a consumer property on every run of the demo.
    fn consumer_config(&self) -> ClientConfig {
        let mut c = self.client_config();
        // Alerts are 1-2 MB; the default (1 MiB per partition and fetch)
        // would fetch them one round trip each.
        set_default(&mut c, "max.partition.fetch.bytes", FETCH_BYTES);
        c
    }

    /// A `listen` consumer: the group, manual commits, statistics for lag.
    /// Values the user set in `config` win, except the ones our correctness
    /// rests on (manual commits).
    pub fn listen_config(&self, group_id: &str) -> ClientConfig {
        let mut c = self.consumer_config();
        set_default(&mut c, "auto.offset.reset", "earliest");
        set_default(&mut c, "statistics.interval.ms", "2000");
        set_default(&mut c, "max.poll.interval.ms", "600000");
        set_default(&mut c, "group.instance.id", &instance_id(group_id));
        c.set("group.id", group_id);
        c.set("enable.auto.commit", "false");
        c.set("enable.auto.offset.store", "false");
        c
    }

    /// An `echo` consumer: assigned partitions, nothing committed. librdkafka
    /// wants a group id even for assign(); a throwaway one keeps `listen`'s
    /// group untouched (never joined, never committed to).
    pub fn echo_config(&self) -> ClientConfig {
        let mut c = self.consumer_config();
        c.set("group.id", format!("{}-echo", new_group_id()));
        c.set("enable.auto.commit", "false");
        c.set("enable.auto.offset.store", "false");
        c.set("enable.partition.eof", "true");
        // A start offset deleted by retention meanwhile: read what is left.
        set_default(&mut c, "auto.offset.reset", "earliest");
        // echo reads a backlog to a known end and exits, so a fetch should
        // never wait for more data: Kafka answers at once when it has some
        // anyway, but some brokers (Tansu) hold every fetch for up to this
        // long even with data, which halved echo's rate.
        set_default(&mut c, "fetch.wait.max.ms", "10");
        c
    }

    /// Every topic `listen` subscribes to.
    pub fn listen_topics(&self) -> Vec<String> {
        let mut topics = self.topics.clone();
        if self.heartbeat && !topics.iter().any(|t| t == HEARTBEAT_TOPIC) {
            topics.push(HEARTBEAT_TOPIC.to_string());
        }
        topics
    }

    /// The startup checks that need no network: OIDC support for GCN.
    pub fn check_client(&self) -> Result<(), ConfigError> {
        if self.is_gcn {
            check_oidc()?;
        }
        Ok(())
    }
}

/// The static group member id of `listen` for `group_id` on this machine.
/// A static member that restarts (even after `kill -9`) takes its partitions
/// back at once, instead of waiting out the dead member's session (45 s).
/// Derived, not stored: the same settings give the same id on every run, and
/// a copy of the settings file on a second machine (a standby) gets its own
/// id through the host name, so the two never fence each other.
pub fn instance_id(group_id: &str) -> String {
    let host: String = host_name()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{group_id}-{host}")
}

/// The machine's name as `hostname` prints it (uname's node name, which is
/// what gethostname returns on Linux).
fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// GCN's keys (as NASA's gcn-kafka client sets them).
fn gcn_config(c: &mut ClientConfig, domain: &str, id: &str, secret: &str) {
    let domain = if domain.is_empty() {
        "gcn.nasa.gov"
    } else {
        domain
    };
    c.set("bootstrap.servers", format!("kafka.{domain}"))
        .set("security.protocol", "sasl_ssl")
        .set("sasl.mechanisms", "OAUTHBEARER")
        .set("sasl.oauthbearer.method", "oidc")
        .set("sasl.oauthbearer.client.id", id)
        .set("sasl.oauthbearer.client.secret", secret)
        .set(
            "sasl.oauthbearer.token.endpoint.url",
            format!("https://auth.{domain}/oauth2/token"),
        );
}

fn set_default(c: &mut ClientConfig, key: &str, value: &str) {
    if c.get(key).is_none() {
        c.set(key, value);
    }
}

fn has_value(credential: &str) -> bool {
    let c = credential.trim();
    !c.is_empty() && c != PLACEHOLDER
}

/// librdkafka's compiled-in features, e.g. "gzip,snappy,ssl,sasl,...,oidc".
pub fn builtin_features() -> Result<String, ConfigError> {
    ClientConfig::new()
        .create_native_config()
        .and_then(|c| c.get("builtin.features"))
        .map_err(|e| ConfigError::Client(e.to_string()))
}

/// GCN's login is OIDC, which librdkafka only has with libcurl and OpenSSL.
pub fn check_oidc() -> Result<(), ConfigError> {
    let features = builtin_features()?;
    if features.split(',').any(|f| f.trim() == "oidc") {
        Ok(())
    } else {
        Err(ConfigError::NoOidc { features })
    }
}

/// A secret in a file that group or others can read is worth a warning: the
/// original shipped its settings world-readable, and `init` writes 0600.
pub fn warn_if_readable(path: &Path, secret: &str) {
    if !has_value(secret) {
        return;
    }
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let mode = meta.permissions().mode();
    if mode & 0o044 != 0 {
        tracing::warn!(
            "settings file {} holds the GCN client secret and can be read by other users \
             (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
}

/// A new consumer group id, unique to this installation: GCN keeps a group's
/// offsets, so two installations must never share one.
pub fn new_group_id() -> String {
    let mut bytes = [0u8; 8];
    let random = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    if random.is_err() {
        // No /dev/urandom: time and pid are unique enough for one machine.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let mixed = nanos ^ (u128::from(std::process::id()) << 64);
        bytes.copy_from_slice(&mixed.to_le_bytes()[..8]);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("gocart-{hex}")
}

/// Whether a group id still needs generating.
pub fn needs_group_id(group_id: &str) -> bool {
    !has_value(group_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> Settings {
        Settings::parse(text, Path::new("/home/u/.config/gocart/gocart.yaml")).unwrap()
    }

    #[test]
    fn the_fetch_size_is_given_to_consumers_only() {
        let k = KafkaSettings::from_settings(&settings(
            "gcn-kafka: {bootstrap_servers: 127.0.0.1:9092}",
        ))
        .unwrap();
        let key = "max.partition.fetch.bytes";
        assert_eq!(k.client_config().get(key), None, "a producer warns of it");
        assert_eq!(k.listen_config("g").get(key), Some(FETCH_BYTES));
        assert_eq!(k.echo_config().get(key), Some(FETCH_BYTES));
        let mine = KafkaSettings::from_settings(&settings(
            "gcn-kafka: {bootstrap_servers: 127.0.0.1:9092, config: {max.partition.fetch.bytes: 1000}}",
        ))
        .unwrap();
        assert_eq!(
            mine.listen_config("g").get(key),
            Some("1000"),
            "the user's wins"
        );
    }

    #[test]
    fn gcn_gets_the_oidc_login() {
        let s = settings(
            "gcn-kafka: {client_id: abc, client_secret: s3cr3t-value, domain: test.gcn.nasa.gov}",
        );
        let k = KafkaSettings::from_settings(&s).unwrap();
        let c = k.client_config();
        assert_eq!(c.get("bootstrap.servers"), Some("kafka.test.gcn.nasa.gov"));
        assert_eq!(c.get("security.protocol"), Some("sasl_ssl"));
        assert_eq!(c.get("sasl.mechanisms"), Some("OAUTHBEARER"));
        assert_eq!(c.get("sasl.oauthbearer.method"), Some("oidc"));
        assert_eq!(c.get("sasl.oauthbearer.client.id"), Some("abc"));
        assert_eq!(
            c.get("sasl.oauthbearer.token.endpoint.url"),
            Some("https://auth.test.gcn.nasa.gov/oauth2/token")
        );
        assert!(k.heartbeat);
        assert_eq!(k.listen_topics(), vec!["igwn.gwalert", HEARTBEAT_TOPIC]);
        assert!(!format!("{k:?}").contains("s3cr3t"));
        assert_eq!(k.redactor.clean("bad s3cr3t-value!"), "bad <hidden>!");
        let line = k.describe(&k.listen_topics());
        assert_eq!(
            line,
            "broker kafka.test.gcn.nasa.gov, topics igwn.gwalert, gcn.heartbeat, client id abc"
        );
    }

    #[test]
    fn placeholder_credentials_point_at_the_file() {
        let err = KafkaSettings::from_settings(&settings("")).unwrap_err();
        assert!(matches!(err, ConfigError::Credentials { .. }));
        let text = err.to_string();
        assert!(
            text.contains("/home/u/.config/gocart/gocart.yaml"),
            "{text}"
        );
        assert!(text.contains("GCN_KAFKA_CLIENT_ID"), "{text}");
    }

    #[test]
    fn another_broker_needs_no_credentials_and_takes_passthrough() {
        let s = settings(
            "gcn-kafka:\n  bootstrap_servers: 127.0.0.1:9092\n  topics: [a, b]\n  config: {session.timeout.ms: 6000, auto.offset.reset: latest, enable.auto.commit: true}\n",
        );
        let k = KafkaSettings::from_settings(&s).unwrap();
        assert!(!k.is_gcn && !k.heartbeat);
        let c = k.listen_config("g1");
        assert_eq!(c.get("bootstrap.servers"), Some("127.0.0.1:9092"));
        assert_eq!(c.get("security.protocol"), None);
        assert_eq!(c.get("session.timeout.ms"), Some("6000"));
        assert_eq!(c.get("auto.offset.reset"), Some("latest"));
        // Our correctness rests on manual commits: that one is not overridable.
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("group.id"), Some("g1"));
        // A static member: the same id on every run on this machine.
        let instance = c.get("group.instance.id").unwrap().to_string();
        assert!(instance.starts_with("g1-"), "{instance}");
        assert_eq!(
            k.listen_config("g1").get("group.instance.id"),
            Some(instance.as_str())
        );
        assert_eq!(k.echo_config().get("group.instance.id"), None);
        assert_eq!(k.listen_topics(), vec!["a", "b"]);
        let echo_group = k.echo_config().get("group.id").unwrap().to_string();
        assert!(echo_group.ends_with("-echo") && echo_group != "g1");
        // echo never waits on a fetch; listen keeps librdkafka's long poll
        // (GCN's Kafka answers as soon as an alert arrives).
        assert_eq!(k.echo_config().get("fetch.wait.max.ms"), Some("10"));
        assert_eq!(c.get("fetch.wait.max.ms"), None);
    }

    #[test]
    fn a_user_s_fetch_wait_wins_for_echo_too() {
        let s = settings(
            "gcn-kafka:
  bootstrap_servers: 127.0.0.1:9092
  config: {fetch.wait.max.ms: 250}
",
        );
        let k = KafkaSettings::from_settings(&s).unwrap();
        assert_eq!(k.echo_config().get("fetch.wait.max.ms"), Some("250"));
    }

    #[test]
    fn this_build_has_oidc() {
        check_oidc().unwrap();
    }

    #[test]
    fn group_ids_are_new_each_time() {
        let (a, b) = (new_group_id(), new_group_id());
        assert!(a.starts_with("gocart-") && a.len() == 23, "{a}");
        assert_ne!(a, b);
        assert!(needs_group_id("XXXX") && needs_group_id(" ") && !needs_group_id(&a));
    }
}

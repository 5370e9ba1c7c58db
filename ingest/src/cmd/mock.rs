//! `gocart-ingest mock`: realistic mock alerts (see `crate::mock`), written
//! through the same pipeline as `import`, or published to a local broker so
//! that `listen` can be exercised end to end without GCN.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use gocart_shared::{Settings, Source, Tree};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use crate::alert::tally::Tally;
use crate::alert::{Message, Pipeline, MAX_MESSAGE_BYTES};
use crate::kafka::config::KafkaSettings;
use crate::mock::dossier::{self, MockNotice};
use crate::mock::{self, Group, MockAlert, Options};
use gocart_shared::cli::ExitStatus;

/// What `mock` was asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub count: usize,
    pub group: Option<Group>,
    pub seed: Option<u64>,
    pub publish: bool,
    /// The other kinds of each event's dossier too.
    pub dossier: bool,
}

/// One message to write or publish: an alert or a notice of its dossier.
struct Outgoing {
    /// The Kafka topic of its kind.
    topic: &'static str,
    key: String,
    /// What the PUBLISHED line says it is.
    what: String,
    created: chrono::DateTime<Utc>,
    bytes: Vec<u8>,
}

fn outgoing(alerts: &[MockAlert], notices: &[MockNotice]) -> Vec<Outgoing> {
    let mut all: Vec<Outgoing> = alerts
        .iter()
        .map(|a| Outgoing {
            topic: "",
            key: a.superevent_id.clone(),
            what: format!("{} {}", a.superevent_id, a.alert_type),
            created: a.created,
            bytes: a.message.clone(),
        })
        .collect();
    all.extend(notices.iter().map(|n| Outgoing {
        topic: n.kind.topic().unwrap_or_default(),
        key: n.key.clone(),
        what: format!("{} {}", n.key, n.kind),
        created: n.created,
        bytes: n.message.clone(),
    }));
    // Stable: an event's alerts keep their order.
    all.sort_by_key(|o| o.created);
    all
}

pub fn run(settings: Settings, request: &Request) -> anyhow::Result<ExitStatus> {
    if request.publish && settings.gcn_kafka.bootstrap_servers.trim().is_empty() {
        gocart_shared::cli::INGEST.error(format_args!(
            "mock --publish: refusing to publish to GCN; set gcn-kafka.bootstrap_servers in {} to a local broker",
            settings.path.display()
        ));
        return Ok(ExitStatus::Usage);
    }
    let seed = request
        .seed
        .unwrap_or_else(|| Utc::now().timestamp_subsec_nanos() as u64);
    let options = Options {
        count: request.count,
        group: request.group,
        seed,
        now: Utc::now(),
    };
    let tree = Tree::new(settings.lvk.download_dir.clone());
    let alerts = mock::generate(&options, &tree.staging_dir()).with_context(|| {
        format!(
            "cannot build mock sky maps in {}",
            tree.staging_dir().display()
        )
    })?;
    // In the log, not a bare line: `-q` silences it like every other note.
    tracing::info!(
        "mock: {} from seed {seed} (`--seed {seed}` makes them again)",
        gocart_shared::cli::count(alerts.len(), "alert", "alerts")
    );
    let notices = if request.dossier {
        dossier::generate(&alerts, seed)
    } else {
        Vec::new()
    };
    let messages = outgoing(&alerts, &notices);
    if request.publish {
        publish(&settings, &messages)
    } else {
        write(settings, &messages, seed)
    }
}

fn write(settings: Settings, messages: &[Outgoing], seed: u64) -> anyhow::Result<ExitStatus> {
    let pipeline = Pipeline::new(settings);
    let mut tally = Tally::default();
    let stdout = std::io::stdout();
    for outgoing in messages {
        let message = Message {
            bytes: outgoing.bytes.clone(),
            source: Source::Mock { mock: seed },
        };
        tally.add(&pipeline.ingest(&message, &mut stdout.lock()));
    }
    println!("{}", tally.summary());
    Ok(if tally.rejected + tally.failed > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Ok
    })
}

/// Produces the alerts to the first topic of a `bootstrap_servers` broker,
/// and each notice to its kind's topic if the settings list it. Never to
/// GCN: mock alerts there would reach every observer.
fn publish(settings: &Settings, messages: &[Outgoing]) -> anyhow::Result<ExitStatus> {
    let kafka = match KafkaSettings::from_settings(settings) {
        Ok(k) => k,
        Err(e) => {
            gocart_shared::cli::INGEST.error(format_args!("mock --publish: {e}"));
            return Ok(ExitStatus::Usage);
        }
    };
    let alert_topic = &kafka.topics[0];
    let producer: BaseProducer = kafka
        .client_config()
        // Alerts with sky maps are 1-3 MB, over librdkafka's 1 MB default:
        // anything `listen` accepts can be published.
        .set(
            "message.max.bytes",
            (MAX_MESSAGE_BYTES + 64 * 1024).to_string(),
        )
        .create()
        .with_context(|| format!("cannot create a producer for {}", kafka.servers))?;
    for message in messages {
        let topic = if message.topic.is_empty() {
            alert_topic.as_str()
        } else if kafka.topics.iter().any(|t| t == message.topic) {
            message.topic
        } else {
            tracing::debug!(
                "mock: {} not published: gcn-kafka.topics does not list {}",
                message.what,
                message.topic
            );
            continue;
        };
        let record = BaseRecord::to(topic)
            .key(&message.key)
            .payload(&message.bytes);
        producer
            .send(record)
            .map_err(|(e, _)| anyhow::anyhow!("cannot send {} to {topic}: {e}", message.what))?;
        producer.poll(Duration::ZERO);
        println!(
            "PUBLISHED: {} to {topic} on {}",
            message.what, kafka.servers
        );
    }
    producer.flush(Duration::from_secs(30)).with_context(|| {
        format!(
            "{} did not acknowledge the alerts within 30 s",
            kafka.servers
        )
    })?;
    Ok(ExitStatus::Ok)
}

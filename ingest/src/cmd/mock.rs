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
use crate::mock::{self, Group, MockAlert, Options};
use gocart_shared::cli::ExitStatus;

/// What `mock` was asked for.
#[derive(Debug, Clone)]
pub struct Request {
    pub count: usize,
    pub group: Option<Group>,
    pub seed: Option<u64>,
    pub publish: bool,
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
    if request.publish {
        publish(&settings, &alerts)
    } else {
        write(settings, &alerts, seed)
    }
}

fn write(settings: Settings, alerts: &[MockAlert], seed: u64) -> anyhow::Result<ExitStatus> {
    let pipeline = Pipeline::new(settings);
    let mut tally = Tally::default();
    let stdout = std::io::stdout();
    for alert in alerts {
        let message = Message {
            bytes: alert.message.clone(),
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

/// Produces the alerts to the first topic of a `bootstrap_servers` broker.
/// Never to GCN: mock alerts there would reach every observer.
fn publish(settings: &Settings, alerts: &[MockAlert]) -> anyhow::Result<ExitStatus> {
    let kafka = match KafkaSettings::from_settings(settings) {
        Ok(k) => k,
        Err(e) => {
            gocart_shared::cli::INGEST.error(format_args!("mock --publish: {e}"));
            return Ok(ExitStatus::Usage);
        }
    };
    let topic = &kafka.topics[0];
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
    for alert in alerts {
        let record = BaseRecord::to(topic)
            .key(&alert.superevent_id)
            .payload(&alert.message);
        producer.send(record).map_err(|(e, _)| {
            anyhow::anyhow!("cannot send {} to {topic}: {e}", alert.superevent_id)
        })?;
        producer.poll(Duration::ZERO);
        println!(
            "PUBLISHED: {} {} to {topic} on {}",
            alert.superevent_id, alert.alert_type, kafka.servers
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

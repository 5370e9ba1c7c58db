//! `gocart-ingest check`: everything `listen` needs, checked in a few seconds
//! and said one line per check, so that a wrong set-up shows before the first
//! alert is missed, not at 3 a.m. Each check uses the code the commands use
//! (settings loading, the Kafka configuration and its start-up checks, the
//! metadata request), so what passes here works there.

use std::path::Path;
use std::time::Duration;

use gocart_shared::check::{load_settings, probe_writable, Report};
use gocart_shared::Settings;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::kafka::context::{classify, Context};
use crate::kafka::topics::{self, TopicError};
use crate::kafka::KafkaSettings;
use gocart_shared::cli::ExitStatus;

/// How long the callbacks of a failed request are waited for.
const CALLBACKS_WAIT: Duration = Duration::from_millis(200);

/// Runs every check on the settings file at `path`; exit 1 if one failed.
pub fn run(path: &Path) -> ExitStatus {
    let mut report = Report::default();
    let Some(settings) = load_settings(path, &mut report) else {
        return exit(&report);
    };
    folders(&settings, &mut report);
    let kafka = match KafkaSettings::from_settings(&settings) {
        Ok(kafka) => kafka,
        Err(e) => {
            report.fail(format!("credentials: {e}"));
            return exit(&report);
        }
    };
    if kafka.is_gcn {
        report.ok(format!(
            "credentials gcn-kafka.client_id {} and a client secret are set",
            settings.gcn_kafka.client_id
        ));
    } else {
        report.ok(format!(
            "credentials not needed: self-hosted broker {} (gcn-kafka.bootstrap_servers)",
            kafka.servers
        ));
    }
    librdkafka(&kafka, &mut report);
    broker(&kafka, &mut report);
    exit(&report)
}

fn exit(report: &Report) -> ExitStatus {
    if report.failed() {
        ExitStatus::Failure
    } else {
        ExitStatus::Ok
    }
}

fn folders(settings: &Settings, report: &mut Report) {
    let download_dir = &settings.lvk.download_dir;
    report.outcome(
        &format!(
            "download_dir {} (lvk.download_dir) writable",
            download_dir.display()
        ),
        probe_writable(download_dir),
    );
    let state_dir = &settings.trigger.state_dir;
    report.outcome(
        &format!(
            "state dir {} (trigger.state_dir) writable",
            state_dir.display()
        ),
        probe_writable(state_dir),
    );
}

fn librdkafka(kafka: &KafkaSettings, report: &mut Report) {
    if !kafka.is_gcn {
        report.ok("librdkafka (OIDC not needed for a self-hosted broker)");
        return;
    }
    match kafka.check_client() {
        Ok(()) => report.ok("librdkafka has OIDC (needed for the GCN login)"),
        Err(e) => report.fail(format!("librdkafka: {e}")),
    }
}

/// One metadata request per topic, each bounded by the requests' own timeout.
fn broker(kafka: &KafkaSettings, report: &mut Report) {
    let what = format!("broker {}", kafka.servers);
    let context = Context::new(kafka.redactor.clone(), &kafka.servers);
    // The check reports the cause itself, once; the callbacks stay quiet.
    context.closing();
    // A throwaway group (echo's): asking for metadata never joins a group.
    let consumer: BaseConsumer<Context> = match kafka.echo_config().create_with_context(context) {
        Ok(consumer) => consumer,
        Err(e) => {
            report.fail(format!("{what}: {}", kafka.redactor.clean(&e.to_string())));
            return;
        }
    };
    let mut found = Vec::new();
    for topic in &kafka.topics {
        match topics::partitions(&consumer, topic) {
            Ok(partitions) => found.push(match partitions.len() {
                1 => format!("{topic} (1 partition)"),
                n => format!("{topic} ({n} partitions)"),
            }),
            Err(e @ TopicError::Missing { .. }) => {
                report.fail(format!("{what}: {e}"));
                return;
            }
            Err(e) => {
                // The request only says it failed; the callbacks heard why,
                // and they are served by polling.
                let _ = consumer.poll(CALLBACKS_WAIT);
                let cause = consumer
                    .context()
                    .heard_cause()
                    .unwrap_or_else(|| classify(&e.to_string(), &kafka.servers));
                report.fail(format!("{what} does not answer: {cause}"));
                return;
            }
        }
    }
    report.ok(format!("{what} answers: {}", found.join(", ")));
}

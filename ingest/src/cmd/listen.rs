//! `gocart-ingest listen`: checks the settings, makes sure the consumer group
//! has a persistent id (generated once and written back into the settings
//! file), then runs the listen loop until SIGINT/SIGTERM.

use gocart_shared::Settings;

use crate::alert::Pipeline;
use crate::kafka::config::{needs_group_id, new_group_id, warn_if_readable};
use crate::kafka::consumer::{listen, ListenSetup};
use crate::kafka::group_id::write_group_id;
use crate::kafka::KafkaSettings;
use crate::writer::staging::clear_stale;
use gocart_shared::cli::ExitStatus;
use gocart_shared::shutdown::Shutdown;

/// Staging leftovers older than this are from crashed runs, not a live writer.
const STALE_STAGING: std::time::Duration = std::time::Duration::from_secs(3600);

pub fn run(settings: Settings) -> anyhow::Result<ExitStatus> {
    let kafka = match prepare(&settings) {
        Ok(kafka) => kafka,
        Err(message) => {
            gocart_shared::cli::INGEST.error(message);
            return Ok(ExitStatus::Usage);
        }
    };
    let group_id = match group_id(&settings) {
        Ok(id) => id,
        Err(message) => {
            gocart_shared::cli::INGEST.error(message);
            return Ok(ExitStatus::Usage);
        }
    };
    let shutdown = Shutdown::install(super::STOP)?;
    let state_dir = settings.trigger.state_dir.clone();
    let pipeline = Pipeline::new(settings);
    let removed = clear_stale(pipeline.tree(), STALE_STAGING);
    if removed > 0 {
        tracing::info!(
            "removed {} left in .staging by a crash",
            gocart_shared::cli::count(removed, "unfinished directory", "unfinished directories")
        );
    }
    let setup = ListenSetup {
        kafka,
        group_id,
        state_dir,
        shutdown,
    };
    listen(pipeline, setup)?;
    Ok(ExitStatus::Ok)
}

/// The Kafka settings, checked; an error is a message for the user.
pub fn prepare(settings: &Settings) -> Result<KafkaSettings, String> {
    let kafka = KafkaSettings::from_settings(settings).map_err(|e| e.to_string())?;
    kafka.check_client().map_err(|e| e.to_string())?;
    warn_if_readable(&settings.path, &settings.gcn_kafka.client_secret);
    Ok(kafka)
}

/// The group id from the settings, or a new one written back into the file.
fn group_id(settings: &Settings) -> Result<String, String> {
    let current = settings.gcn_kafka.group_id.trim();
    if !needs_group_id(current) {
        return Ok(current.to_string());
    }
    let id = new_group_id();
    write_group_id(&settings.path, &id).map_err(|e| {
        format!("{e}; a persistent consumer group is needed to resume where listen stopped")
    })?;
    tracing::info!(
        "new consumer group {id}, saved as gcn-kafka.group_id in {}",
        settings.path.display()
    );
    Ok(id)
}

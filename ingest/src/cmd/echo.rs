//! `gocart-ingest echo DAYS`: writes the alerts of the last DAYS days (from
//! every partition) and exits, without moving `listen`'s committed offsets.

use gocart_shared::Settings;

use crate::alert::Pipeline;
use crate::kafka::echo::{echo, EchoError, EchoRequest};
use gocart_shared::cli::ExitStatus;
use gocart_shared::shutdown::Shutdown;

pub fn run(settings: Settings, days: f64, timeout_secs: u64) -> anyhow::Result<ExitStatus> {
    let kafka = match super::listen::prepare(&settings) {
        Ok(kafka) => kafka,
        Err(message) => {
            gocart_shared::cli::INGEST.error(message);
            return Ok(ExitStatus::Usage);
        }
    };
    let shutdown = Shutdown::install(super::STOP)?;
    let pipeline = Pipeline::new(settings);
    let request = EchoRequest {
        days,
        timeout: std::time::Duration::from_secs(timeout_secs),
    };
    let tally = match echo(&pipeline, &kafka, request, &shutdown) {
        Ok(tally) => tally,
        Err(e @ EchoError::Days(_)) => {
            gocart_shared::cli::INGEST.error(e);
            return Ok(ExitStatus::Usage);
        }
        Err(e) => return Err(e.into()),
    };
    println!("{}", tally.summary());
    Ok(if tally.rejected + tally.failed > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Ok
    })
}

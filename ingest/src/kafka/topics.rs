//! What the broker knows about our topics: their partitions and each
//! partition's offsets. Shared by `listen` (where to start) and `echo` (what
//! to replay); every call has a timeout so a missing broker is an error to
//! retry, never a hang.

use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::types::RDKafkaRespErr;

/// How long one metadata or offsets request may take. Short, so that a stop
/// request is honoured within seconds even while the broker is away; callers
/// retry, and librdkafka keeps connecting in the background meanwhile.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// A broker slower than this to answer at start-up is reported as trouble
/// (before that, a slow TLS + OIDC login is normal).
pub const PATIENCE: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    #[error("topic {topic} does not exist on the broker")]
    Missing { topic: String },
    #[error("cannot ask the broker about {topic}: {message}")]
    Request { topic: String, message: String },
}

/// The partition numbers of `topic`, sorted.
pub fn partitions<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
) -> Result<Vec<i32>, TopicError> {
    let request = |message: String| TopicError::Request {
        topic: topic.to_string(),
        message,
    };
    let metadata = consumer
        .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
        .map_err(|e| request(e.to_string()))?;
    let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
        return Err(TopicError::Missing {
            topic: topic.to_string(),
        });
    };
    match found.error() {
        None => {}
        Some(RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) => {
            return Err(TopicError::Missing {
                topic: topic.to_string(),
            })
        }
        Some(code) => return Err(request(format!("{code:?}"))),
    }
    let mut ids: Vec<i32> = found.partitions().iter().map(|p| p.id()).collect();
    ids.sort_unstable();
    if ids.is_empty() {
        return Err(TopicError::Missing {
            topic: topic.to_string(),
        });
    }
    Ok(ids)
}

/// (low, high) watermarks: the first offset still kept and the next to be written.
pub fn watermarks<C: ConsumerContext>(
    consumer: &BaseConsumer<C>,
    topic: &str,
    partition: i32,
) -> Result<(i64, i64), TopicError> {
    consumer
        .fetch_watermarks(topic, partition, REQUEST_TIMEOUT)
        .map_err(|e| TopicError::Request {
            topic: format!("{topic}/{partition}"),
            message: e.to_string(),
        })
}

//! Asynchronous commits whose results we can wait for with a timeout.
//!
//! Why not rdkafka's `commit`: its synchronous mode waits forever when the
//! group coordinator is away (a commit in the middle of an outage would stop
//! the loop, and a stop request with it), and its asynchronous mode reports
//! results only for automatic commits. librdkafka's `rd_kafka_commit_queue`
//! with a queue of our own sends the commit and puts its result on that queue,
//! which we poll between consumer polls. The FFI is kept to this file.

use std::ffi::CStr;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::TopicPartitionList;

use super::context::PartitionKey;

/// The result of one commit: the offsets the broker accepted, or why not.
#[derive(Debug, Clone, PartialEq)]
pub enum CommitResult {
    Done(Vec<(PartitionKey, i64)>),
    Failed(String),
}

/// A librdkafka queue that receives our commits' results. It must be dropped
/// before the consumer it was made from (declare it first in a struct).
pub struct CommitQueue {
    queue: *mut rd::rd_kafka_queue_t,
}

// SAFETY: librdkafka queues are thread safe; we only use this from one thread
// anyway, but the consumer (and so its owner) may move between threads.
unsafe impl Send for CommitQueue {}

impl CommitQueue {
    pub fn new<C: ConsumerContext>(consumer: &BaseConsumer<C>) -> CommitQueue {
        // SAFETY: a valid client pointer; the queue is destroyed in Drop.
        let queue = unsafe { rd::rd_kafka_queue_new(consumer.client().native_ptr()) };
        CommitQueue { queue }
    }

    /// Sends a commit of `offsets`; its result arrives through `poll`.
    pub fn send<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        offsets: &TopicPartitionList,
    ) -> Result<(), String> {
        // SAFETY: valid client, list and queue pointers; with a queue given,
        // librdkafka copies the list and returns at once.
        let err = unsafe {
            rd::rd_kafka_commit_queue(
                consumer.client().native_ptr(),
                offsets.ptr(),
                self.queue,
                None,
                std::ptr::null_mut(),
            )
        };
        if err == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            Ok(())
        } else {
            Err(error_text(err))
        }
    }

    /// The next commit result, waiting at most `timeout`.
    pub fn poll(&self, timeout: Duration) -> Option<CommitResult> {
        let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
        // SAFETY: a valid queue; the event is destroyed below.
        let event = unsafe { rd::rd_kafka_queue_poll(self.queue, ms) };
        if event.is_null() {
            return None;
        }
        // SAFETY: `event` is valid until destroyed; the list belongs to it.
        let result = unsafe { read_event(event) };
        // SAFETY: destroyed once, after its list was read.
        unsafe { rd::rd_kafka_event_destroy(event) };
        Some(result)
    }
}

impl Drop for CommitQueue {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed only here.
        unsafe { rd::rd_kafka_queue_destroy(self.queue) };
    }
}

/// Reads a commit event: its error, else each partition's offset or error.
///
/// # Safety
/// `event` must be a valid, not yet destroyed librdkafka event.
unsafe fn read_event(event: *mut rd::rd_kafka_event_t) -> CommitResult {
    // SAFETY: `event` is valid (the caller's promise).
    let err = unsafe { rd::rd_kafka_event_error(event) };
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return CommitResult::Failed(error_text(err));
    }
    // SAFETY: `event` is valid; the list it returns (or null) lives as long.
    let list = unsafe { rd::rd_kafka_event_topic_partition_list(event) };
    if list.is_null() {
        return CommitResult::Done(Vec::new());
    }
    // SAFETY: not null, and owned by the event, which outlives this function.
    let list = unsafe { &*list };
    let count = usize::try_from(list.cnt).unwrap_or(0);
    let elems = if count == 0 || list.elems.is_null() {
        &[][..]
    } else {
        // SAFETY: librdkafka keeps `cnt` initialised elements at `elems`.
        unsafe { std::slice::from_raw_parts(list.elems, count) }
    };
    let mut done = Vec::new();
    for e in elems {
        if e.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return CommitResult::Failed(error_text(e.err));
        }
        if e.topic.is_null() {
            continue;
        }
        // SAFETY: a non-null topic name is a NUL-terminated string owned by
        // the list; it is copied before the event is destroyed.
        let topic = unsafe { CStr::from_ptr(e.topic) }
            .to_string_lossy()
            .into_owned();
        done.push(((topic, e.partition), e.offset));
    }
    CommitResult::Done(done)
}

fn error_text(err: rd::rd_kafka_resp_err_t) -> String {
    RDKafkaErrorCode::from(err).to_string()
}

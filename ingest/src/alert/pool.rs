//! Alerts of different events written side by side, for `echo`, which replays
//! hundreds of alerts as fast as it can. One alert takes ~25 ms, most of it
//! CPU (base64, FITS, the CSV, SHA-256), so a replay on one thread is bound by
//! one core.
//!
//! Alerts of the same event stay on one thread, in the order they came: the
//! `event_dir_exists` filter, the RETRACTION rule and the replacement of a
//! directory by a newer copy all depend on what that event already has on
//! disk. Different events share nothing but the tree's top directories, whose
//! creation is race-free (`create_dir_all`).
//!
//! `listen` does not use this: it commits offsets in partition order, one
//! alert at a time, and alerts arrive minutes apart.

use std::hash::{Hash, Hasher};
use std::sync::mpsc::{sync_channel, SyncSender};

use serde::Deserialize;

use super::Message;

/// Alerts waiting per thread: enough to keep it busy while the next message
/// is fetched, few enough to bound memory (alerts are 1-2 MB).
const QUEUE: usize = 2;

/// Routes messages to the thread of their event.
pub struct EventPool {
    queues: Vec<SyncSender<Message>>,
}

impl EventPool {
    /// Queues `message` on its event's thread; blocks while that queue is full.
    pub fn submit(&self, message: Message) {
        let queue = &self.queues[self.thread_of(&message.bytes)];
        // A worker only goes away when its handler panicked; the scope then
        // propagates that panic, so nothing is silently dropped here.
        let _ = queue.send(message);
    }

    fn thread_of(&self, bytes: &[u8]) -> usize {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        event_key(bytes).hash(&mut hasher);
        (hasher.finish() % self.queues.len() as u64) as usize
    }
}

/// Runs `feed` with a pool of `threads` workers, each calling `handle` on the
/// messages of its events in order; returns once every queued message is
/// handled.
pub fn with_event_pool<R>(
    threads: usize,
    handle: impl Fn(Message) + Sync,
    feed: impl FnOnce(&EventPool) -> R,
) -> R {
    let threads = threads.max(1);
    std::thread::scope(|scope| {
        let mut queues = Vec::with_capacity(threads);
        for _ in 0..threads {
            let (tx, rx) = sync_channel::<Message>(QUEUE);
            queues.push(tx);
            let handle = &handle;
            scope.spawn(move || rx.into_iter().for_each(handle));
        }
        let pool = EventPool { queues };
        // The queues close when `pool` is dropped at the end of this closure,
        // which lets the workers finish and the scope join them.
        feed(&pool)
    })
}

/// Threads for a replay: one per core, at most four (the disk's fsyncs are
/// the next limit).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// The message's superevent id (an IceCube search's `ref_ID`: it reads what
/// the event's folder holds), read without building the document; None for a
/// message linked to none or several (one thread takes them all, in order)
/// or that is not an alert (it will be rejected, on any thread).
fn event_key(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Key {
        superevent_id: Option<String>,
        #[serde(rename = "ref_ID")]
        ref_id: Option<String>,
    }
    let key = serde_json::from_slice::<Key>(bytes).ok()?;
    key.superevent_id.or(key.ref_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gocart_shared::marker::Source;
    use std::sync::Mutex;

    fn message(id: &str, n: usize) -> Message {
        Message {
            bytes: format!(r#"{{"superevent_id": "{id}", "n": {n}, "big": [1, 2, 3]}}"#)
                .into_bytes(),
            source: Source::File {
                file: format!("{id}-{n}").into(),
            },
        }
    }

    #[test]
    fn every_message_is_handled_once_and_each_event_in_order() {
        let seen = Mutex::new(Vec::new());
        let handled_on = Mutex::new(std::collections::HashMap::new());
        with_event_pool(
            3,
            |m: Message| {
                let v: serde_json::Value = serde_json::from_slice(&m.bytes).unwrap();
                let id = v["superevent_id"].as_str().unwrap().to_string();
                handled_on
                    .lock()
                    .unwrap()
                    .entry(id.clone())
                    .or_insert_with(Vec::new)
                    .push(std::thread::current().id());
                seen.lock().unwrap().push((id, v["n"].as_u64().unwrap()));
            },
            |pool| {
                for n in 0..50 {
                    for id in ["S1", "S2", "S3", "S4", "S5"] {
                        pool.submit(message(id, n));
                    }
                }
            },
        );
        let seen = seen.into_inner().unwrap();
        assert_eq!(seen.len(), 250);
        for id in ["S1", "S2", "S3", "S4", "S5"] {
            let order: Vec<u64> = seen.iter().filter(|s| s.0 == id).map(|s| s.1).collect();
            assert_eq!(order, (0..50).collect::<Vec<_>>(), "{id} out of order");
        }
        for (id, threads) in handled_on.into_inner().unwrap() {
            assert!(
                threads.windows(2).all(|w| w[0] == w[1]),
                "{id} moved threads"
            );
        }
    }

    #[test]
    fn events_are_spread_over_the_threads() {
        let threads = Mutex::new(std::collections::HashSet::new());
        with_event_pool(
            2,
            |_m: Message| {
                threads.lock().unwrap().insert(std::thread::current().id());
            },
            |pool| {
                for i in 0..40 {
                    pool.submit(message(&format!("S{i}"), 0));
                }
            },
        );
        assert_eq!(threads.into_inner().unwrap().len(), 2);
    }

    #[test]
    fn a_message_that_is_not_an_alert_is_still_handled() {
        let count = Mutex::new(0);
        with_event_pool(
            2,
            |_m: Message| *count.lock().unwrap() += 1,
            |pool| {
                for bytes in [&b"not json"[..], b"[1,2]", b"{\"superevent_id\": 5}", b""] {
                    pool.submit(Message {
                        bytes: bytes.to_vec(),
                        source: Source::File { file: "x".into() },
                    });
                }
            },
        );
        assert_eq!(count.into_inner().unwrap(), 4);
    }
}

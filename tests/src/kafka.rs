//! Support for the Kafka tests: a real Kafka-protocol broker process (Tansu)
//! on a free 127.0.0.1 port, optionally behind a TCP relay that can cut the
//! network, a producer, and `gocart-ingest listen` run as a real process with
//! its output captured. Waits poll with a deadline.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::process::{send_signal, Signal};
use crate::{profile_dir, wait_until};

/// Where the broker keeps its data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Storage {
    Memory,
    /// Survives a broker restart.
    Sqlite,
}

/// A Tansu broker process; killed on drop.
pub struct Broker {
    child: Option<Child>,
    pub port: u16,
    /// The port clients are told to use (a relay's, or `port`).
    advertised: u16,
    storage: Storage,
    dir: tempfile::TempDir,
    exe: PathBuf,
}

/// The tansu binary, or None (with a note) when it is not installed. On CI
/// (CI=true) a missing broker is a failure, not a skip.
pub fn tansu() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("tansu"))
            .find(|p| p.is_file())
    });
    let home = std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo/bin/tansu"));
    let found = on_path.or(home.filter(|p| p.is_file()));
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("tansu is not installed (scripts/setup.sh installs it)");
        }
        eprintln!("skipped: tansu not installed");
    }
    found
}

impl Broker {
    /// Starts a broker, or None if tansu is not installed (see `tansu`).
    pub fn start(storage: Storage) -> Option<Broker> {
        let port = free_port();
        Broker::start_advertising(storage, port, port)
    }

    /// A broker on `port` that tells clients to connect to `advertised`.
    fn start_advertising(storage: Storage, port: u16, advertised: u16) -> Option<Broker> {
        let exe = tansu()?;
        let mut broker = Broker {
            child: None,
            port,
            advertised,
            storage,
            dir: tempfile::tempdir().unwrap(),
            exe,
        };
        broker.launch();
        Some(broker)
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    fn advertised_url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.advertised)
    }

    fn launch(&mut self) {
        let engine = match self.storage {
            Storage::Memory => "memory://tansu/".to_string(),
            Storage::Sqlite => "sqlite://broker.db".to_string(),
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("broker.log"))
            .unwrap();
        let child = Command::new(&self.exe)
            .arg("broker")
            .args(["--listener-url", &self.url()])
            .args(["--advertised-listener-url", &self.advertised_url()])
            .args(["--storage-engine", &engine])
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start tansu");
        self.child = Some(child);
        let ready = wait_until(Duration::from_secs(20), || {
            TcpStream::connect(("127.0.0.1", self.port)).is_ok()
        });
        assert!(ready, "tansu did not start listening on {}", self.port);
    }

    /// What the broker logged (its group coordinator's decisions among it),
    /// for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("broker.log")).unwrap_or_default()
    }

    /// Kills the broker (SIGKILL) and waits for it to go.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills and starts the broker again on the same port and storage.
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }

    pub fn create_topic(&self, name: &str, partitions: i32) {
        let out = Command::new(&self.exe)
            .args(["topic", "create", name])
            .args(["--partitions", &partitions.to_string()])
            .args(["--broker", &self.url()])
            .output()
            .unwrap();
        assert!(out.status.success(), "topic create: {out:?}");
    }

    pub fn producer(&self) -> TestProducer {
        TestProducer::new(&self.addr())
    }

    /// The group's committed offsets per partition of `topic` (-1: none).
    pub fn committed(&self, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.addr())
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(topic, p);
        }
        let found = consumer
            .committed_offsets(tpl, Duration::from_secs(10))
            .unwrap();
        let offsets = (0..partitions)
            .map(
                |p| match found.find_partition(topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(n)) => n,
                    _ => -1,
                },
            )
            .collect();
        // The list must be gone before the consumer (librdkafka hangs otherwise).
        drop(found);
        offsets
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A broker whose clients all go through a relay that can cut the network.
pub fn broker_behind_relay(storage: Storage) -> Option<(Broker, Relay)> {
    let port = free_port();
    let relay = Relay::start(port)?;
    let broker = Broker::start_advertising(storage, port, relay.port)?;
    Some((broker, relay))
}

/// A TCP relay from its own port to a broker's: `cut` closes the port and
/// every connection through it (the network gone, the broker still up);
/// `restore` opens the same port again.
pub struct Relay {
    pub port: u16,
    state: std::sync::Arc<RelayState>,
}

#[derive(Default)]
struct RelayState {
    cut: std::sync::atomic::AtomicBool,
    stop: std::sync::atomic::AtomicBool,
    connections: std::sync::Mutex<Vec<TcpStream>>,
}

impl Relay {
    /// A relay to 127.0.0.1:`target`; None (with a note) without tansu.
    fn start(target: u16) -> Option<Relay> {
        tansu()?;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = std::sync::Arc::new(RelayState::default());
        let shared = state.clone();
        std::thread::spawn(move || relay_accept(Some(listener), port, target, &shared));
        Some(Relay { port, state })
    }

    pub fn cut(&self) {
        use std::sync::atomic::Ordering;
        self.state.cut.store(true, Ordering::SeqCst);
        for stream in self.state.connections.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        // The accept loop closes the port within a tick.
        std::thread::sleep(Duration::from_millis(50));
    }

    pub fn restore(&self) {
        self.state
            .cut
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.cut();
        self.state
            .stop
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Accepts while not cut; closes the listening socket while cut.
fn relay_accept(mut listener: Option<TcpListener>, port: u16, target: u16, state: &RelayState) {
    use std::sync::atomic::Ordering;
    while !state.stop.load(Ordering::SeqCst) {
        if state.cut.load(Ordering::SeqCst) {
            listener = None;
        } else if listener.is_none() {
            listener = TcpListener::bind(("127.0.0.1", port)).ok();
        }
        let Some(l) = &listener else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        l.set_nonblocking(true).unwrap();
        match l.accept() {
            Ok((client, _)) => relay_connection(client, target, state),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Pipes one client connection to the broker, both ways.
fn relay_connection(client: TcpStream, target: u16, state: &RelayState) {
    let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
        return;
    };
    let _ = client.set_nonblocking(false);
    let mut connections = state.connections.lock().unwrap();
    connections.push(client.try_clone().unwrap());
    connections.push(server.try_clone().unwrap());
    for (mut from, mut to) in [
        (client.try_clone().unwrap(), server.try_clone().unwrap()),
        (server, client),
    ] {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = to.shutdown(std::net::Shutdown::Both);
        });
    }
}

/// A test producer that waits for every message to be acknowledged.
pub struct TestProducer {
    producer: BaseProducer,
}

impl TestProducer {
    /// A producer for any broker at `addr` (host:port).
    pub fn new(addr: &str) -> TestProducer {
        let producer: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", addr)
            .set("message.max.bytes", "5000000")
            .set("linger.ms", "0")
            .create()
            .unwrap();
        TestProducer { producer }
    }

    /// Sends one message to a partition, with an optional timestamp (ms).
    pub fn send(&self, topic: &str, partition: i32, payload: &[u8], timestamp: Option<i64>) {
        let mut record: BaseRecord<'_, (), [u8]> =
            BaseRecord::to(topic).payload(payload).partition(partition);
        if let Some(ts) = timestamp {
            record = record.timestamp(ts);
        }
        self.producer.send(record).map_err(|(e, _)| e).unwrap();
        self.producer.flush(Duration::from_secs(30)).unwrap();
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Settings for a listener on the broker at `addr`, tree and state dir under `dir`.
/// librdkafka's default session (45 s) stays: `listen` is a static member, so a
/// restart needs no short session, and Tansu keeps rebalancing a static member
/// whose session is short (6 s: every join took 3 s and the next heartbeat was
/// told "rebalance in progress", forever).
pub fn settings_text(addr: &str, dir: &Path, topics: &[&str], extra_kafka: &str) -> String {
    format!(
        "# test settings\nlvk:\n  parse_real_events: true\n  download_dir: {tree}\n  aitoff: {{convert: false}}\n\
         gcn-kafka:\n  # the test broker\n  bootstrap_servers: {addr}\n  topics: [{topics}]\n  config:\n    \
         heartbeat.interval.ms: 500\n    topic.metadata.refresh.interval.ms: 1000\n    \
         reconnect.backoff.max.ms: 500\n    statistics.interval.ms: 500\n{extra_kafka}\
         trigger:\n  state_dir: {state}\n",
        tree = dir.join("tree").display(),
        state = dir.join("state").display(),
        topics = topics.join(", "),
    )
}

/// A running `gocart-ingest listen` (or any subcommand), output to files.
pub struct Ingest {
    pub child: Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Ingest {
    pub fn spawn(settings: &Path, args: &[&str]) -> Ingest {
        let dir = settings.parent().unwrap();
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let stdout = dir.join(format!("out-{n}.txt"));
        let stderr = dir.join(format!("err-{n}.txt"));
        let child = crate::with_settings(ingest_exe(), settings)
            .args(args)
            .env(
                "GOCART_LOG",
                std::env::var("GOCART_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Ingest {
            child,
            stdout,
            stderr,
        }
    }

    /// `listen`, waited for until it says it is listening.
    pub fn listen(settings: &Path) -> Ingest {
        Ingest::listen_with(settings, &[])
    }

    /// `listen` with options before it (`-v`: a test whose failure needs
    /// the commits and redeliveries in its log).
    pub fn listen_with(settings: &Path, options: &[&str]) -> Ingest {
        let args: Vec<&str> = options.iter().copied().chain(["listen"]).collect();
        let ingest = Ingest::spawn(settings, &args);
        let ready = wait_until(Duration::from_secs(30), || {
            ingest.stderr_text().contains("listening to")
        });
        assert!(ready, "listen did not start: {}", ingest.stderr_text());
        ingest
    }

    pub fn stderr_text(&self) -> String {
        read_text(&self.stderr)
    }

    pub fn stdout_text(&self) -> String {
        read_text(&self.stdout)
    }

    pub fn signal(&self, signal: Signal) {
        send_signal(self.child.id(), signal);
    }

    /// Waits up to `limit` for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let mut status = None;
        wait_until(limit, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status
    }

    /// SIGTERM, and the exit status within 5 s.
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(Signal::TERM);
        let status = self.wait_exit(Duration::from_secs(5));
        status.unwrap_or_else(|| panic!("no exit within 5 s: {}", self.stderr_text()))
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gocart-ingest binary cargo built beside the test or example that runs
/// (gocart-ingest's own tests, its Kafka benchmark, the load benchmark).
pub fn ingest_exe() -> PathBuf {
    profile_dir().join("gocart-ingest")
}

fn read_text(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    text
}

/// The consumer group `listen` saved into the settings file on its first run.
pub fn group_id(settings: &Path) -> String {
    let text = std::fs::read_to_string(settings).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("group_id:"))
        .expect("group_id written back");
    line.split(':').nth(1).unwrap().trim().to_string()
}

/// `listen`'s status file in `state_dir`; null until it is first written.
pub fn listen_status(state_dir: &Path) -> serde_json::Value {
    std::fs::read(state_dir.join("ingest-listen.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// Every complete alert directory (with its marker) under `tree`.
pub fn complete_dirs(tree: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for kind in ["mockevents", "superevents"] {
        for event in subdirs(&tree.join(kind)) {
            dirs.extend(
                subdirs(&event)
                    .into_iter()
                    .filter(|d| d.join(".gocart-complete").is_file()),
            );
        }
    }
    dirs.sort();
    dirs
}

/// Every directory two levels down, marker or not.
pub fn all_alert_dirs(tree: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    for kind in ["mockevents", "superevents"] {
        for event in subdirs(&tree.join(kind)) {
            dirs.extend(subdirs(&event));
        }
    }
    dirs.sort();
    dirs
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}

/// The superevent ids of the complete alert directories.
pub fn written_ids(tree: &Path) -> Vec<String> {
    let mut ids: Vec<String> = complete_dirs(tree)
        .iter()
        .filter_map(|d| d.parent()?.file_name()?.to_str().map(String::from))
        .collect();
    ids.sort();
    ids
}

/// Waits until `n` complete alert directories exist; panics with `context` if not.
pub fn wait_for_dirs(tree: &Path, n: usize, limit: Duration, context: &dyn Fn() -> String) {
    let ok = wait_until(limit, || complete_dirs(tree).len() >= n);
    assert!(
        ok,
        "expected {n} alert directories, found {:?}\n{}",
        complete_dirs(tree),
        context()
    );
}

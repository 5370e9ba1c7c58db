//! The accept loop and the open connections, our own rather than
//! `axum::serve`, because staying answerable needs what that one does not
//! give (DESIGN.md, "Safe to leave running"):
//! - a request head must arrive within the header timeout (10 s) of its first
//!   byte, and a connection with nothing under way is closed after the idle
//!   timeout (60 s); hyper's own header timer also runs between requests,
//!   so it would be the idle timeout too. An answer that cannot be written
//!   for as long as the idle timeout (a client that stopped reading) ends
//!   the connection as well;
//! - at most `max_connections` are open: when that many are, a new one takes
//!   the place of the one idle longest (no request under way), so a flood of
//!   idle connections cannot keep a real request out, nor use up the
//!   process's descriptors;
//! - accept errors (out of descriptors above all) are waited out, never
//!   retried in a busy loop.
//!
//! Each connection's state lives in a `Conn` its socket and its requests
//! update (reads, writes, a request begun and ended); a watchdog per
//! connection closes it when a deadline passes.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{Request, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify};
use tower_service::Service as _;

/// The limits (the design's: 256, 10 s, 60 s; tests shorten the timeouts
/// through hidden flags).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// How long a stop waits for answers under way.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// After an accept error (out of descriptors, of memory), before the next try.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// hyper's buffer per connection: a request head may be this large, and an
/// answer waits here at most this much (plus a file's chunk) when the
/// client reads slowly; 100 slow downloads must not add up to much.
const MAX_BUF: usize = 64 * 1024;

/// The same warning at most this often: a flood must not flood the log too.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// One open connection, as its socket and its requests tell it.
pub struct Conn {
    id: u64,
    clock: Instant,
    /// Requests under way (an answer still being written counts).
    busy: AtomicU32,
    /// Microseconds on `clock` (fine enough that a flood's connections,
    /// accepted microseconds apart, are told apart): since when nothing has
    /// been under way.
    idle_since: AtomicU64,
    /// When the first byte of a request head arrived (`NONE`: no head begun).
    head_since: AtomicU64,
    /// Bytes arrived while busy: the next head may have begun.
    read_while_busy: AtomicBool,
    /// When the current request began, or the last write went out.
    progress: AtomicU64,
    /// Asked for by a live page (see `ConnHandle::keep_send_buffer_small`).
    small_send_buffer: AtomicBool,
    close: Notify,
}

const NONE: u64 = u64::MAX;

impl Conn {
    fn new(id: u64, clock: Instant) -> Conn {
        let now = micros(clock);
        Conn {
            id,
            clock,
            busy: AtomicU32::new(0),
            idle_since: AtomicU64::new(now),
            head_since: AtomicU64::new(NONE),
            read_while_busy: AtomicBool::new(false),
            progress: AtomicU64::new(now),
            small_send_buffer: AtomicBool::new(false),
            close: Notify::new(),
        }
    }

    fn now(&self) -> u64 {
        micros(self.clock)
    }

    fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed) > 0
    }

    fn read_some(&self) {
        if self.is_busy() {
            self.read_while_busy.store(true, Ordering::Relaxed);
        } else if self.head_since.load(Ordering::Relaxed) == NONE {
            self.head_since.store(self.now(), Ordering::Relaxed);
        }
    }

    fn wrote_some(&self) {
        self.progress.store(self.now(), Ordering::Relaxed);
    }

    fn begin(&self) {
        self.busy.fetch_add(1, Ordering::Relaxed);
        self.head_since.store(NONE, Ordering::Relaxed);
        self.progress.store(self.now(), Ordering::Relaxed);
    }

    fn end(&self) {
        if self.busy.fetch_sub(1, Ordering::Relaxed) == 1 {
            let now = self.now();
            self.idle_since.store(now, Ordering::Relaxed);
            if self.read_while_busy.swap(false, Ordering::Relaxed) {
                self.head_since.store(now, Ordering::Relaxed);
            }
        }
    }

    /// When this connection is to be closed if nothing changes, and why.
    fn deadline(&self, limits: &Limits) -> (u64, &'static str) {
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(NONE);
        if self.is_busy() {
            let since = self.progress.load(Ordering::Relaxed);
            (
                since.saturating_add(us(limits.idle_timeout)),
                "its answer could not be written (the client stopped reading)",
            )
        } else {
            match self.head_since.load(Ordering::Relaxed) {
                NONE => (
                    self.idle_since
                        .load(Ordering::Relaxed)
                        .saturating_add(us(limits.idle_timeout)),
                    "idle",
                ),
                since => (
                    since.saturating_add(us(limits.header_timeout)),
                    "its request head did not arrive in time",
                ),
            }
        }
    }
}

fn micros(clock: Instant) -> u64 {
    u64::try_from(clock.elapsed().as_micros()).unwrap_or(NONE - 1)
}

/// What a handler holds to end its own connection: a live page that does
/// not read its updates is closed rather than buffered for.
#[derive(Clone)]
pub struct ConnHandle(Arc<Conn>);

impl ConnHandle {
    pub fn close(&self) {
        self.0.close.notify_one();
    }

    /// A live stream sends a few small events: on loopback the kernel would
    /// otherwise give its socket megabytes of send buffer, so a page that
    /// does not read would hold that much before anyone noticed.
    pub fn keep_send_buffer_small(&self) {
        self.0.small_send_buffer.store(true, Ordering::Relaxed);
    }
}

/// The send buffer of a live page's socket (the kernel doubles it).
const SMALL_SEND_BUFFER: usize = 16 * 1024;

/// Connections waiting to be accepted: a flood must not fill the queue, or
/// a real client's connection waits for the kernel's 1 s SYN retry.
const BACKLOG: u32 = 4096;

/// The listening socket (with `BACKLOG`).
pub fn listen(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Every open connection.
struct Registry {
    clock: Instant,
    max: usize,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        // Only plain inserts and removes happen under the lock: a panic
        // elsewhere leaves the map whole.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A place for a new connection, made by closing the longest idle one
    /// when all are taken; `None` when every one has a request under way.
    fn admit(&self) -> Option<Arc<Conn>> {
        let mut open = self.lock();
        if open.len() >= self.max && evict_idlest(&mut open).is_none() {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new(id, self.clock));
        open.insert(id, conn.clone());
        Some(conn)
    }

    /// Closes the longest idle connection, to get a descriptor back.
    fn evict_one(&self) -> bool {
        evict_idlest(&mut self.lock()).is_some()
    }

    fn forget(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn count(&self) -> usize {
        self.lock().len()
    }
}

fn evict_idlest(open: &mut HashMap<u64, Arc<Conn>>) -> Option<()> {
    let idlest = open
        .values()
        .filter(|c| !c.is_busy())
        // One that has sent nothing before one whose request is arriving;
        // the older first when two became idle at once.
        .min_by_key(|c| {
            let arriving = c.head_since.load(Ordering::Relaxed) != NONE;
            (arriving, c.idle_since.load(Ordering::Relaxed), c.id)
        })?
        .clone();
    open.remove(&idlest.id);
    idlest.close.notify_one();
    Some(())
}

/// A warning said at most once per `WARN_EVERY`.
#[derive(Default)]
struct Throttle(Option<Instant>);

impl Throttle {
    fn ready(&mut self) -> bool {
        let now = Instant::now();
        if self
            .0
            .is_some_and(|last| now.duration_since(last) < WARN_EVERY)
        {
            return false;
        }
        self.0 = Some(now);
        true
    }
}

/// Serves `router` on `listener` until `stop` completes, then lets answers
/// under way finish for `STOP_GRACE` at most.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let registry = Arc::new(Registry {
        clock: Instant::now(),
        max: limits.max_connections.max(1),
        open: Mutex::new(HashMap::new()),
        next_id: AtomicU64::new(0),
    });
    let (stopping, stop_seen) = watch::channel(false);
    let mut full_warning = Throttle::default();
    let mut error_warning = Throttle::default();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => match admitted(&registry).await {
                Some(conn) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(connection(
                        stream,
                        conn,
                        registry.clone(),
                        router.clone(),
                        limits,
                        stop_seen.clone(),
                    ));
                }
                None => {
                    if full_warning.ready() {
                        tracing::warn!(
                            "{} connections open, every one answering: refusing new ones (503)",
                            registry.max
                        );
                    }
                    refuse_busy(&stream);
                }
            },
            Err(e) => {
                if is_per_connection(&e) {
                    continue;
                }
                let evicted = registry.evict_one();
                if error_warning.ready() {
                    tracing::warn!(
                        "cannot accept a connection: {e} ({} open{}); waiting {ACCEPT_PAUSE:?}",
                        registry.count(),
                        if evicted {
                            ", the longest idle closed"
                        } else {
                            ""
                        }
                    );
                }
                tokio::time::sleep(ACCEPT_PAUSE).await;
            }
        }
    }
    // No new connections while stopping.
    drop(listener);
    let _ = stopping.send(true);
    let deadline = Instant::now() + STOP_GRACE;
    while registry.count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = registry.count();
    if left > 0 {
        tracing::info!("{left} connections still open after {STOP_GRACE:?}: closed");
    }
}

/// A place for a new connection (see `Registry::admit`). When full, the
/// connections whose requests have arrived are read first, so that the
/// choice of the idlest does not fall on one that is no longer idle.
async fn admitted(registry: &Registry) -> Option<Arc<Conn>> {
    if registry.count() >= registry.max {
        tokio::task::yield_now().await;
    }
    registry.admit()
}

/// Errors that concern only the connection being accepted (it went away
/// before we took it): the next accept is fine.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock
    )
}

/// A short 503 for a connection that has no place, written if the socket
/// takes it at once, then closed.
fn refuse_busy(stream: &TcpStream) {
    const BODY: &str = "gocart serve: every connection is answering; try again shortly\n";
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = stream.try_write(reply.as_bytes());
}

/// Serves one connection until it ends, is evicted, or passes a deadline.
async fn connection(
    stream: TcpStream,
    conn: Arc<Conn>,
    registry: Arc<Registry>,
    router: Router,
    limits: Limits,
    mut stop_seen: watch::Receiver<bool>,
) {
    let io = TokioIo::new(Tracked {
        stream,
        conn: conn.clone(),
        small_send_buffer: false,
    });
    let service = ConnService {
        router,
        conn: conn.clone(),
    };
    let http = http1::Builder::new()
        // Our watchdog times heads and idleness apart (see the top).
        .header_read_timeout(None)
        .max_buf_size(MAX_BUF)
        .serve_connection(io, service);
    tokio::pin!(http);
    let mut stopping = *stop_seen.borrow();
    if stopping {
        http.as_mut().graceful_shutdown();
    }
    let why = loop {
        tokio::select! {
            served = http.as_mut() => break served.err().map(|e| e.to_string()),
            why = watchdog(&conn, &limits) => break Some(why.to_string()),
            () = conn.close.notified() => break Some("its place was needed".into()),
            _ = stop_seen.changed(), if !stopping => {
                stopping = true;
                http.as_mut().graceful_shutdown();
            }
        }
    };
    if let Some(why) = why {
        tracing::debug!("connection {} closed: {why}", conn.id);
    }
    registry.forget(conn.id);
}

/// Completes when the connection's deadline passes. The deadline can come
/// nearer while it sleeps (a head begins on an idle connection), so it
/// looks again at least every half header timeout.
async fn watchdog(conn: &Conn, limits: &Limits) -> &'static str {
    let recheck = (limits.header_timeout / 2).max(Duration::from_millis(100));
    loop {
        let (at, why) = conn.deadline(limits);
        let now = conn.now();
        if now >= at {
            return why;
        }
        tokio::time::sleep(Duration::from_micros(at - now).min(recheck)).await;
    }
}

/// The router, told when each request begins and ends; each request
/// carries its connection's handle.
#[derive(Clone)]
struct ConnService {
    router: Router,
    conn: Arc<Conn>,
}

type Answer = Pin<Box<dyn Future<Output = Result<Response<Answering>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<Answering>;
    type Error = Infallible;
    type Future = Answer;

    fn call(&self, mut request: Request<Incoming>) -> Answer {
        self.conn.begin();
        let busy = Busy(self.conn.clone());
        request
            .extensions_mut()
            .insert(ConnHandle(self.conn.clone()));
        let mut router = self.router.clone();
        Box::pin(async move {
            let Ok(response) = router.call(request).await;
            Ok(response.map(|body| Answering { body, _busy: busy }))
        })
    }
}

/// A request under way, until dropped.
struct Busy(Arc<Conn>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A socket whose reads and writes are noted on its connection.
struct Tracked {
    stream: TcpStream,
    conn: Arc<Conn>,
    /// Whether the send buffer was made small already.
    small_send_buffer: bool,
}

impl Tracked {
    /// Before a write: what the connection's requests asked of the socket.
    fn adjust(&mut self) {
        if !self.small_send_buffer && self.conn.small_send_buffer.load(Ordering::Relaxed) {
            self.small_send_buffer = true;
            let socket = socket2::SockRef::from(&self.stream);
            if let Err(e) = socket.set_send_buffer_size(SMALL_SEND_BUFFER) {
                tracing::debug!("connection {}: send buffer: {e}", self.conn.id);
            }
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.conn.read_some();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.adjust();
        let polled = Pin::new(&mut this.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.conn.wrote_some();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.adjust();
        let polled = Pin::new(&mut this.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            this.conn.wrote_some();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// An answer's body: hyper drops it once written (or the connection is
/// gone), which ends the request.
struct Answering {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for Answering {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

//! The routes: GET only (axum answers any other method with 405), each
//! handler doing its disk work on the blocking pool. A path that names
//! nothing servable is a 404, logged at WARN with the path asked for.
//! Files are streamed from disk in chunks (with `Range`), never read whole.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::{Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use gocart_shared::Tree;
use maud::Markup;
use tokio::io::AsyncReadExt as _;
use tokio::sync::{broadcast, mpsc};
use tokio_util::io::ReaderStream;

use crate::record::{Record, RunRow};

use super::catalog::{read_meta, Catalog};
use super::conns::ConnHandle;
use super::files::{self, relative, Span};
use super::live::{Notice, Render};
use super::pages::{self, EventEntry, RunView};
use super::{auth, hosts, status, Site};

/// How much of a plugin's output the alert page shows (its end).
const OUTPUT_TAIL: u64 = 64 * 1024;

/// A file goes out in chunks of this size, read as the client takes them.
const FILE_CHUNK: usize = 32 * 1024;

/// Events a live page may have waiting; a page further behind does not
/// read (a stalled tab, a client that never will) and is closed.
const LIVE_QUEUE: usize = 32;

pub fn router(site: Arc<Site>) -> Router {
    Router::new()
        .route("/", get(list))
        .route("/alerts/{*rel}", get(alert))
        .route("/events/{*rel}", get(event))
        .route("/status", get(status_page))
        .route("/files/{*rel}", get(file))
        .route("/thumbs/{*rel}", get(thumb))
        .route("/live", get(live))
        .route("/static/style.css", get(style))
        .route("/static/live.js", get(script))
        .route("/static/icon.svg", get(icon))
        .route("/favicon.ico", get(favicon))
        .fallback(unknown)
        .layer(middleware::from_fn_with_state(
            site.clone(),
            auth::require_token,
        ))
        // Outside the token check: a misdirected request is refused alike
        // whatever it carries.
        .layer(middleware::from_fn_with_state(
            site.clone(),
            hosts::require_known_host,
        ))
        .layer(middleware::map_response(security_headers))
        .with_state(site)
}

type Rel = Result<UrlPath<String>, PathRejection>;

/// The decoded path after the route's prefix (`None`: not UTF-8 once decoded).
fn rel_of(rel: Rel) -> Option<String> {
    rel.ok().map(|UrlPath(rel)| rel)
}

fn refused(uri: &Uri) -> Response {
    tracing::warn!("refused {uri}: not in the tree");
    (StatusCode::NOT_FOUND, page(pages::not_found())).into_response()
}

async fn unknown(uri: Uri) -> Response {
    refused(&uri)
}

fn page(markup: Markup) -> Html<String> {
    Html(markup.into_string())
}

/// Runs disk work on the blocking pool; a failure is a 500 with its message.
async fn blocking(work: impl FnOnce() -> anyhow::Result<Response> + Send + 'static) -> Response {
    blocking_value(work).await.unwrap_or_else(|failed| failed)
}

/// Runs disk work on the blocking pool; `Err` is the 500 to answer.
async fn blocking_value<T: Send + 'static>(
    work: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(failed(&e)),
        Err(e) => {
            tracing::error!("a request failed: {e}");
            Err(StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

fn failed(e: &anyhow::Error) -> Response {
    tracing::error!("{e:#}");
    let body = page(pages::error_page(&format!("{e:#}")));
    (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
}

/// Every run in the record, by directory.
fn runs_by_dir(site: &Site) -> anyhow::Result<HashMap<String, Vec<RunRow>>> {
    let mut by_dir: HashMap<String, Vec<RunRow>> = HashMap::new();
    if let Some(record) = Record::open_read_only(&site.state_dir)? {
        for row in record.all_runs()? {
            by_dir.entry(row.dir.clone()).or_default().push(row);
        }
    }
    Ok(by_dir)
}

async fn list(State(site): State<Arc<Site>>) -> Response {
    blocking(move || {
        let alerts = site.catalog.alerts_in(&site.tree, site.tree.root());
        let runs = runs_by_dir(&site)?;
        Ok(page(pages::list_page(&alerts, &runs, Utc::now())).into_response())
    })
    .await
}

async fn alert(State(site): State<Arc<Site>>, uri: Uri, rel: Rel) -> Response {
    let Some(rel) = rel_of(rel) else {
        return refused(&uri);
    };
    blocking(move || {
        let Some(dir) = files::alert_dir(&site.tree, &rel) else {
            return Ok(refused(&uri));
        };
        let Some(summary) = site.catalog.summary(&site.tree, &dir) else {
            return Ok(refused(&uri));
        };
        let meta = read_meta(&dir).unwrap_or_default();
        let runs = match Record::open_read_only(&site.state_dir)? {
            None => None,
            Some(record) => Some(
                record
                    .runs_of(&dir.to_string_lossy())?
                    .into_iter()
                    .map(|row| RunView {
                        output: output_of(&site.state_dir, &row),
                        row,
                    })
                    .collect::<Vec<_>>(),
            ),
        };
        let markup = pages::alert_page(&summary, &meta, runs.as_deref(), Utc::now());
        Ok(page(markup).into_response())
    })
    .await
}

/// The end of a run's output, if its log is where the record says, in the state dir.
fn output_of(state_dir: &Path, row: &RunRow) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let log = files::plugin_log(state_dir, row.log_path.as_deref()?)?;
    let mut file = std::fs::File::open(log).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(OUTPUT_TAIL)))
        .ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

async fn event(State(site): State<Arc<Site>>, uri: Uri, rel: Rel) -> Response {
    let Some(rel) = rel_of(rel) else {
        return refused(&uri);
    };
    blocking(move || {
        let Some(event_dir) = files::event_dir(&site.tree, &rel) else {
            return Ok(refused(&uri));
        };
        let mut dirs = gocart_shared::tree::visible_subdirs(&event_dir);
        // The names start with the stamp: name order is time order.
        dirs.sort();
        let entries: Vec<EventEntry> = dirs
            .iter()
            .map(|dir| EventEntry {
                name: dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                summary: site.catalog.summary(&site.tree, dir),
            })
            .collect();
        let id = rel.rsplit('/').next().unwrap_or_default();
        Ok(page(pages::event_page(id, &entries, Utc::now())).into_response())
    })
    .await
}

async fn status_page(State(site): State<Arc<Site>>) -> Response {
    blocking(move || {
        let trigger = status::trigger(&site.state_dir)?;
        let ingest = status::ingest(&site.state_dir, &site.settings_path);
        Ok(page(pages::status_page(&trigger, &ingest, Utc::now())).into_response())
    })
    .await
}

/// A file of a complete alert directory, streamed from disk: whole, or the
/// one byte range asked for (206), or 416 when that range is not in it.
async fn file(State(site): State<Arc<Site>>, uri: Uri, headers: HeaderMap, rel: Rel) -> Response {
    let Some(rel) = rel_of(rel) else {
        return refused(&uri);
    };
    let opened = blocking_value(move || {
        let Some(path) = files::alert_file(&site.tree, &rel) else {
            return Ok(None);
        };
        let file = std::fs::File::open(&path)?;
        let len = file.metadata()?.len();
        Ok(Some((path, file, len)))
    })
    .await;
    let (path, file, len) = match opened {
        Ok(Some(opened)) => opened,
        Ok(None) => return refused(&uri),
        Err(failed) => return failed,
    };
    // Without validators we cannot tell whether an `If-Range` still holds:
    // the whole file is the answer that is always right.
    let range = headers
        .get(header::RANGE)
        .filter(|_| !headers.contains_key(header::IF_RANGE))
        .and_then(|r| r.to_str().ok());
    let (status, start, end) = match files::byte_range(range, len) {
        Span::Whole => (StatusCode::OK, 0, len),
        Span::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end + 1),
        Span::Unsatisfiable => {
            return (
                StatusCode::RANGE_NOT_SATISFIABLE,
                [
                    (header::CONTENT_RANGE, format!("bytes */{len}")),
                    (header::ACCEPT_RANGES, "bytes".into()),
                ],
            )
                .into_response()
        }
    };
    let mut file = file;
    if start > 0 {
        // A seek is not a read: it may run here.
        if let Err(e) = file.seek(SeekFrom::Start(start)) {
            return failed(
                &anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
            );
        }
    }
    let file = tokio::fs::File::from_std(file);
    let body = Body::from_stream(ReaderStream::with_capacity(
        file.take(end - start),
        FILE_CHUNK,
    ));
    let mut response = (
        status,
        [
            (header::CONTENT_TYPE, content_type(&path).to_string()),
            (header::CONTENT_LENGTH, (end - start).to_string()),
            (header::ACCEPT_RANGES, "bytes".into()),
        ],
        body,
    )
        .into_response();
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {start}-{}/{len}", end - 1)) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    response
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("png") => "image/png",
        Some("json" | "geojson") => "application/json",
        Some("yaml" | "txt" | "log") => "text/plain; charset=utf-8",
        Some("csv") => "text/csv; charset=utf-8",
        Some("fits") => "application/fits",
        _ => "application/octet-stream",
    }
}

async fn thumb(State(site): State<Arc<Site>>, uri: Uri, rel: Rel) -> Response {
    let Some(rel) = rel_of(rel) else {
        return refused(&uri);
    };
    blocking(move || {
        let Some(dir) = files::alert_dir(&site.tree, &rel) else {
            return Ok(refused(&uri));
        };
        let Some(summary) = site.catalog.summary(&site.tree, &dir) else {
            return Ok(refused(&uri));
        };
        let Some(picture) = files::alert_file(&site.tree, &format!("{rel}/skymap.png")) else {
            return Ok(refused(&uri));
        };
        let bytes = site.thumbs.get(&picture, &summary.marker_sha256)?;
        Ok((
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "max-age=60"),
            ],
            bytes,
        )
            .into_response())
    })
    .await
}

/// `/live`: server-sent events, `hello` once subscribed, then an `alert`
/// event (the new row, rendered once for every page by `live`) for each
/// directory that completes, and a comment now and then so that a quiet
/// stream is not taken for a dead one.
async fn live(State(site): State<Arc<Site>>, request: Request) -> Response {
    let conn = request.extensions().get::<ConnHandle>().cloned();
    if let Some(conn) = &conn {
        conn.keep_send_buffer_small();
    }
    let notices = site.live.subscribe();
    let (tx, rx) = mpsc::channel::<Bytes>(LIVE_QUEUE);
    let _ = tx.try_send(Bytes::from_static(b"event: hello\ndata: live\n\n"));
    tokio::spawn(forward(notices, tx, conn));
    let start = tokio::time::Instant::now() + site.keep_alive;
    let mut keep_alive = tokio::time::interval_at(start, site.keep_alive);
    keep_alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(LiveStream { rx, keep_alive }),
    )
        .into_response()
}

/// Hands one page the shared events, until the server stops or the page
/// goes away; a page whose queue is full does not read, and is closed.
async fn forward(
    mut notices: broadcast::Receiver<Notice>,
    tx: mpsc::Sender<Bytes>,
    conn: Option<ConnHandle>,
) {
    loop {
        let notice = tokio::select! {
            notice = notices.recv() => notice,
            () = tx.closed() => return,
        };
        let behind = match notice {
            Ok(Notice::Alert(event)) => match tx.try_send(event) {
                Ok(()) => continue,
                Err(mpsc::error::TrySendError::Full(_)) => LIVE_QUEUE,
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            },
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                usize::try_from(missed).unwrap_or(usize::MAX)
            }
            Ok(Notice::Stop) | Err(broadcast::error::RecvError::Closed) => return,
        };
        tracing::info!("live: a page is {behind} updates behind (it does not read): closed");
        if let Some(conn) = conn {
            conn.close();
        }
        return;
    }
}

/// A live page's body: its queued events, else a keep-alive comment when due.
struct LiveStream {
    rx: mpsc::Receiver<Bytes>,
    keep_alive: tokio::time::Interval,
}

impl tokio_stream::Stream for LiveStream {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Poll::Ready(event) = this.rx.poll_recv(cx) {
            return Poll::Ready(event.map(Ok));
        }
        match this.keep_alive.poll_tick(cx) {
            Poll::Ready(_) => Poll::Ready(Some(Ok(Bytes::from_static(b": keep-alive\n\n")))),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What `live` renders once per complete directory: an `alert` event whose
/// JSON says where it is and carries its row of the list. Only this
/// directory's runs are read from the record.
pub fn live_renderer(tree: Tree, catalog: Arc<Catalog>, state_dir: PathBuf) -> Render {
    Box::new(move |dir: &Path| {
        let summary = catalog.summary(&tree, dir)?;
        let runs = match Record::open_read_only(&state_dir) {
            Ok(Some(record)) => record.runs_of(&dir.to_string_lossy()).unwrap_or_default(),
            Ok(None) => Vec::new(),
            Err(e) => {
                tracing::warn!("live: {e}");
                Vec::new()
            }
        };
        let row = pages::alert_row(&summary, &runs, Utc::now()).into_string();
        let value = serde_json::json!({
            "dir": relative(&tree, dir)?,
            "event": summary.superevent_id,
            "type": summary.alert_type,
            "row": row,
        });
        // serde_json writes no raw newline, which would end the event's data.
        Some(format!("event: alert\ndata: {value}\n\n"))
    })
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        pages::STYLE,
    )
        .into_response()
}

/// A small icon for the tabs (the pages link it), so that browsers do not
/// ask for `/favicon.ico`; when they still do, an empty answer, not a 404.
async fn icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "max-age=86400"),
        ],
        pages::ICON,
    )
        .into_response()
}

async fn favicon() -> Response {
    (
        StatusCode::NO_CONTENT,
        [(header::CACHE_CONTROL, "max-age=86400")],
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        pages::LIVE_SCRIPT,
    )
        .into_response()
}

/// Nothing from elsewhere, no framing, no sniffing, no referrer (links may carry the token).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; \
             connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in set {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

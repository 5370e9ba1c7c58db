//! The routes: GET only (axum answers any other method with 405), each
//! handler doing its disk work on the blocking pool. A path that names
//! nothing servable is a 404, logged at WARN with the path asked for.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use maud::Markup;
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;

use crate::record::{Record, RunRow};

use super::catalog::read_meta;
use super::files::{self, relative};
use super::live::Notice;
use super::pages::{self, EventEntry, RunView};
use super::{auth, status, Site};

/// How much of a plugin's output the alert page shows (its end).
const OUTPUT_TAIL: u64 = 64 * 1024;

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
        .fallback(unknown)
        .layer(middleware::from_fn_with_state(
            site.clone(),
            auth::require_token,
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
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            tracing::error!("{e:#}");
            let body = page(pages::error_page(&format!("{e:#}")));
            (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
        }
        Err(e) => {
            tracing::error!("a request failed: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
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

async fn file(State(site): State<Arc<Site>>, uri: Uri, rel: Rel) -> Response {
    let Some(rel) = rel_of(rel) else {
        return refused(&uri);
    };
    blocking(move || {
        let Some(path) = files::alert_file(&site.tree, &rel) else {
            return Ok(refused(&uri));
        };
        let bytes = std::fs::read(&path)?;
        Ok(([(header::CONTENT_TYPE, content_type(&path))], bytes).into_response())
    })
    .await
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
/// event (the new row, rendered here) for each directory that completes.
async fn live(State(site): State<Arc<Site>>) -> Response {
    let notices = site.live.subscribe();
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(16);
    tokio::spawn(forward(site, notices, tx));
    Sse::new(ReceiverStream::new(rx))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Sends one page's events until the server stops or the page goes away.
async fn forward(
    site: Arc<Site>,
    mut notices: broadcast::Receiver<Notice>,
    tx: mpsc::Sender<Result<Event, Infallible>>,
) {
    if tx
        .send(Ok(Event::default().event("hello").data("live")))
        .await
        .is_err()
    {
        return;
    }
    loop {
        let dir = match notices.recv().await {
            Ok(Notice::Complete(dir)) => dir,
            Ok(Notice::Stop) | Err(broadcast::error::RecvError::Closed) => return,
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
        };
        let site = site.clone();
        let rendered = tokio::task::spawn_blocking(move || notice_data(&site, &dir)).await;
        let Ok(Some(data)) = rendered else { continue };
        if tx
            .send(Ok(Event::default().event("alert").data(data)))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// The JSON an `alert` event carries: where it is and its row of the list.
fn notice_data(site: &Site, dir: &Path) -> Option<String> {
    let summary = site.catalog.summary(&site.tree, dir)?;
    let runs = runs_by_dir(site).ok()?;
    let runs = runs
        .get(dir.to_string_lossy().as_ref())
        .map_or(&[][..], Vec::as_slice);
    let row = pages::alert_row(&summary, runs, Utc::now()).into_string();
    let value = serde_json::json!({
        "dir": relative(&site.tree, dir)?,
        "event": summary.superevent_id,
        "type": summary.alert_type,
        "row": row,
    });
    Some(value.to_string())
}

async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        pages::STYLE,
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

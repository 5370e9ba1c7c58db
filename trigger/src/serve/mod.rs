//! The alert tree as a small read-only web site (`gocart-trigger serve`), for
//! the person the pager just woke: the list of alerts, one page per alert and
//! per superevent, both programs' status, and new directories appearing live.
//!
//! One current-thread tokio runtime serves the pages; everything that touches
//! the disk (the tree, the record, thumbnails) runs on its blocking pool. Only
//! GET routes exist, the record is opened read-only, and files are served
//! only from complete alert directories (`files`), so no request can change
//! anything or reach outside the tree; the thumbnails cache in
//! `<state_dir>/thumbs` is the one thing written. See docs/architecture.md.

mod auth;
mod catalog;
mod files;
mod live;
mod pages;
mod routes;
mod status;
mod thumbs;

use std::future::IntoFuture as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use gocart_shared::Tree;

/// What `serve` needs from the command line and the settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: SocketAddr,
    /// Checked on every request when set.
    pub token: Option<String>,
    /// `lvk.download_dir`, canonical (the record's keys are built on it).
    pub tree_root: PathBuf,
    pub state_dir: PathBuf,
    /// For `gocart-ingest status` on the status page.
    pub settings_path: PathBuf,
}

/// Everything a request may look at, shared by all of them.
pub struct Site {
    pub tree: Tree,
    pub state_dir: PathBuf,
    pub settings_path: PathBuf,
    pub catalog: catalog::Catalog,
    pub thumbs: thumbs::Thumbs,
    pub live: live::Live,
    pub token: Option<auth::Token>,
}

/// Serves until SIGINT or SIGTERM.
pub fn run(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(8)
        .build()
        .context("cannot start the web server's runtime")?;
    let served = runtime.block_on(serve(config));
    // Disk work still running on the blocking pool (a thumbnail, the first
    // read of a large tree) changes nothing that needs finishing.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    served
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let tree = Tree::new(&config.tree_root);
    let live = live::Live::start(tree.clone())?;
    let site = Arc::new(Site {
        catalog: catalog::Catalog::default(),
        thumbs: thumbs::Thumbs::new(config.state_dir.join("thumbs")),
        token: config.token.as_deref().map(auth::Token::new),
        tree,
        state_dir: config.state_dir,
        settings_path: config.settings_path,
        live,
    });
    // Read every directory's meta.yaml once now, so that the first look at
    // the list is as fast as the next ones.
    let warm = site.clone();
    tokio::task::spawn_blocking(move || warm.catalog.alerts_in(&warm.tree, warm.tree.root()));
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("cannot listen on {}", config.addr))?;
    let bound = listener.local_addr()?;
    tracing::info!(
        "serving {} read-only{}",
        site.tree.root().display(),
        if site.token.is_some() {
            ", token required"
        } else {
            ""
        }
    );
    // The line tests and the demo read the address from (port 0 picks one).
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "serving http://{bound}/");
    let _ = stdout.flush();
    let stopping = site.live.stopper();
    let (stopped, when_stopped) = tokio::sync::oneshot::channel();
    let server = axum::serve(listener, routes::router(site)).with_graceful_shutdown(async move {
        stop_requested().await;
        tracing::info!("stopping");
        stopping.stop();
        let _ = stopped.send(());
    });
    // Answers under way get a moment to finish; a client that never ends
    // its request, or keeps a connection open, does not hold the stop up.
    tokio::select! {
        served = server.into_future() => served.context("the web server failed"),
        _ = async {
            if when_stopped.await.is_ok() {
                tokio::time::sleep(STOP_GRACE).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {
            tracing::info!("connections still open after {STOP_GRACE:?}: closed");
            Ok(())
        }
    }
}

/// How long a stop waits for answers under way.
const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The first SIGINT or SIGTERM.
async fn stop_requested() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot catch SIGINT/SIGTERM: stop with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
}

//! The alert tree as a small read-only web site (`gocart-trigger serve`), for
//! the person the pager just woke: the list of alerts, one page per alert and
//! per superevent, both programs' status, and new directories appearing live.
//!
//! One current-thread tokio runtime serves the pages; everything that touches
//! the disk (the tree, the record, thumbnails) runs on its blocking pool. Only
//! GET routes exist, the record is opened read-only, and files are served
//! only from complete alert directories (`files`), so no request can change
//! anything or reach outside the tree; the thumbnails cache in
//! `<state_dir>/thumbs` is the one thing written. Only requests naming this
//! server are answered (`hosts`), and the connections are ours to limit and
//! time out (`conns`). See docs/architecture.md.

mod auth;
mod catalog;
mod conns;
mod files;
mod hosts;
mod live;
mod pages;
mod routes;
mod status;
mod thumbs;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use gocart_shared::Tree;

pub use conns::Limits;

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
    /// Names besides the bound address and loopback that requests may carry as `Host`.
    pub public_names: Vec<String>,
    pub limits: Limits,
}

/// Everything a request may look at, shared by all of them.
pub struct Site {
    pub tree: Tree,
    pub state_dir: PathBuf,
    pub settings_path: PathBuf,
    pub catalog: Arc<catalog::Catalog>,
    pub thumbs: thumbs::Thumbs,
    pub live: live::Live,
    pub token: Option<auth::Token>,
    pub hosts: hosts::Hosts,
    /// How often a live page gets a comment when nothing happens, well
    /// inside the idle timeout (an answer that writes nothing for that long
    /// is taken for a client that stopped reading).
    pub keep_alive: Duration,
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
    let catalog = Arc::new(catalog::Catalog::default());
    let live = live::Live::start(
        tree.clone(),
        routes::live_renderer(tree.clone(), catalog.clone(), config.state_dir.clone()),
    )?;
    let listener =
        conns::listen(config.addr).with_context(|| format!("cannot listen on {}", config.addr))?;
    let bound = listener.local_addr()?;
    let limits = Limits {
        max_connections: within_file_limit(config.limits.max_connections),
        ..config.limits
    };
    let site = Arc::new(Site {
        catalog,
        thumbs: thumbs::Thumbs::new(config.state_dir.join("thumbs")),
        token: config.token.as_deref().map(auth::Token::new),
        hosts: hosts::Hosts::new(bound, &config.public_names),
        keep_alive: (limits.idle_timeout / 3).min(Duration::from_secs(15)),
        tree,
        state_dir: config.state_dir,
        settings_path: config.settings_path,
        live,
    });
    // Read every directory's meta.yaml once now, so that the first look at
    // the list is as fast as the next ones.
    let warm = site.clone();
    tokio::task::spawn_blocking(move || warm.catalog.alerts_in(&warm.tree, warm.tree.root()));
    tracing::info!(
        "serving {} read-only{}, at most {} connections",
        site.tree.root().display(),
        if site.token.is_some() {
            ", token required"
        } else {
            ""
        },
        limits.max_connections
    );
    // The line tests and the demo read the address from (port 0 picks one).
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "serving http://{bound}/");
    let _ = stdout.flush();
    let stopping = site.live.stopper();
    conns::serve(listener, routes::router(site), limits, async move {
        stop_requested().await;
        tracing::info!("stopping");
        stopping.stop();
    })
    .await;
    Ok(())
}

/// Descriptors beside the connections: the record, the inotify watch, logs,
/// the runtime's own.
const SPARE_FILES: u64 = 64;

/// `max` connections, or fewer if the process may not open enough files for
/// them (each may also have a file open for a download): the soft limit is
/// raised toward the hard one first.
fn within_file_limit(max: usize) -> usize {
    use rustix::process::{getrlimit, setrlimit, Resource};
    let wanted = (max as u64).saturating_mul(2).saturating_add(SPARE_FILES);
    let mut limit = getrlimit(Resource::Nofile);
    let Some(soft) = limit.current else {
        return max;
    };
    if soft >= wanted {
        return max;
    }
    let raised = limit.maximum.map_or(wanted, |hard| hard.min(wanted));
    if raised > soft {
        limit.current = Some(raised);
        if setrlimit(Resource::Nofile, limit).is_ok() {
            if raised >= wanted {
                return max;
            }
        } else {
            limit.current = Some(soft);
        }
    }
    let have = limit.current.unwrap_or(soft);
    let fits = usize::try_from(have.saturating_sub(SPARE_FILES) / 2)
        .unwrap_or(max)
        .max(1);
    tracing::warn!(
        "the process may open only {have} files: at most {fits} connections instead of {max}          (raise `ulimit -n` for more)"
    );
    fits
}

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

//! `gocart-trigger watch`: the command around the dispatcher (in
//! `watch::dispatch`): it opens the record, starts the workers and the
//! dispatcher, says what it found, and stops them on SIGINT/SIGTERM.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use gocart_shared::cli::count;
use gocart_shared::shutdown::Shutdown;
use gocart_shared::{Settings, Tree};

use crate::cli::WatchArgs;
use crate::record::Record;
use crate::runner::job::{Context, Mode};
use crate::runner::pool::Pool;
use crate::watch::dispatch::Dispatcher;

pub fn run(settings: &Settings, args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let shutdown = Shutdown::install(super::STOP)?;
    let tree = Tree::new(super::tree_root(&settings.lvk.download_dir)?);
    let t = &settings.trigger;
    let (record, recovered) = open_record(&t.state_dir)?;
    let ctx = Arc::new(Context::new(
        settings,
        tree.root().to_owned(),
        args.kill_grace,
        shutdown.clone(),
    ));
    let pool = Pool::start(ctx.clone(), &t.state_dir, t.concurrency, Mode::Watch)?;
    let settled = record.settled_dirs()?;
    let mut dispatcher = Dispatcher::new(tree, pool, ctx, args, settled);
    let found = dispatcher.start_up(&record, t.catch_up)?;
    let recovered = match recovered {
        0 => String::new(),
        n => format!(
            "; {} to run again",
            count(n, "interrupted run", "interrupted runs")
        ),
    };
    tracing::info!("{}; {found}{recovered}", dispatcher.describe_source());
    dispatcher.run();
    dispatcher.stop(args.stop_wait);
    Ok(ExitCode::SUCCESS)
}

/// Opens the record and makes the runs a crash or kill interrupted due again.
fn open_record(state_dir: &Path) -> anyhow::Result<(Record, usize)> {
    let record = Record::open(state_dir)?;
    let recovered = record.recover_interrupted()?;
    for (dir, plugin) in &recovered {
        tracing::warn!(
            "{plugin} on {dir}: interrupted by a stop or crash of the trigger; it runs again"
        );
    }
    Ok((record, recovered.len()))
}

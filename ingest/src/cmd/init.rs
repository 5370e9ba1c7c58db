//! `gocart-ingest init`: the default settings file and the plugins folder.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use gocart_shared::settings::DEFAULT_FILE;
use gocart_shared::Settings;

use gocart_shared::cli::ExitStatus;

/// The plugin template users copy, installed into `plugins_dir`.
const TEMPLATE_NAME: &str = "gp_template.py";
const TEMPLATE: &str = include_str!("../../../plugins/gp_template.py");

pub fn run(path: &Path) -> anyhow::Result<ExitStatus> {
    let created = write_new(path, DEFAULT_FILE.as_bytes(), 0o600)?;
    if created {
        println!("Wrote the default settings to {}", path.display());
    } else {
        println!(
            "Kept your settings file {} (init never overwrites it)",
            path.display()
        );
    }
    let settings = match Settings::load(path) {
        Ok(s) => s,
        Err(e) => {
            gocart_shared::cli::INGEST.error(e);
            return Ok(ExitStatus::Usage);
        }
    };
    let plugins = &settings.trigger.plugins_dir;
    std::fs::create_dir_all(plugins)
        .with_context(|| format!("cannot create {}", plugins.display()))?;
    let template = plugins.join(TEMPLATE_NAME);
    if write_new(&template, TEMPLATE.as_bytes(), 0o644)? {
        println!("Installed the plugin template {}", template.display());
    }
    println!("Plugins folder: {}", plugins.display());
    println!("Alert tree:     {}", settings.lvk.download_dir.display());
    print_next_steps(path, &settings);
    Ok(ExitStatus::Ok)
}

/// What a new user does next, from a first look to live alerts.
fn print_next_steps(path: &Path, settings: &Settings) {
    let plugins = settings.trigger.plugins_dir.display();
    println!(
        "\nNext steps:
  1. Try it with no account: `gocart-ingest mock` writes realistic mock alerts
     into the alert tree; `gocart-trigger` runs your plugins on each.
  2. For real alerts, get a GCN client id and secret (https://gcn.nasa.gov/quickstart,
     topic igwn.gwalert) and put them in {path} (gcn-kafka: client_id, client_secret),
     then run `gocart-ingest echo 1` (the last day) and `gocart-ingest listen`.
  3. Run `gocart-ingest listen` and `gocart-trigger` as services: contrib/systemd/README.md.
  4. Write a plugin: copy {plugins}/gp_template.py to {plugins}/gp_<name>.py, edit its
     plugin() function, and test it by hand: python3 {plugins}/gp_<name>.py <alert_dir>",
        path = path.display()
    );
}

/// Creates `path` with `contents` and `mode` unless it exists; true if created.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<bool> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path);
    match file {
        Ok(mut file) => {
            file.write_all(contents)
                .with_context(|| format!("cannot write {}", path.display()))?;
            file.sync_all()?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

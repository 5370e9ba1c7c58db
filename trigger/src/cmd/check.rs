//! `gocart-trigger check`: everything the trigger needs, one line per check,
//! exit 1 if one fails. A missing plugins folder, a plugin without its execute
//! bit or a Python without PyYAML otherwise shows only when an alert comes and
//! nothing happens. The checks use the trigger's own code: plugin discovery
//! as the runner does it, and the record opened as `status` opens it.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use gocart_shared::check::{load_settings, probe_writable, Report};
use gocart_shared::Settings;

use crate::record::{Record, RECORD_FILE};
use crate::runner::plugins::{discover, Plugin};

/// How long `<python> -c "import yaml"` may take before it counts as failed.
const PYTHON_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(path: &Path) -> ExitCode {
    let mut report = Report::default();
    if let Some(settings) = load_settings(path, &mut report) {
        tree(&settings, &mut report);
        state(&settings, &mut report);
        let plugins = plugins(&settings, &mut report);
        python(&plugins, &mut report);
    }
    ExitCode::from(report.exit_code())
}

fn tree(settings: &Settings, report: &mut Report) {
    let dir = &settings.lvk.download_dir;
    let what = format!("alert tree {} (lvk.download_dir)", dir.display());
    if dir.exists() {
        let listed = std::fs::read_dir(dir)
            .map(|_| "readable".to_string())
            .map_err(|e| format!("cannot be listed: {e}"));
        report.outcome(&what, listed);
    } else {
        report.outcome(&what, probe_writable(dir));
    }
}

fn state(settings: &Settings, report: &mut Report) {
    let dir = &settings.trigger.state_dir;
    let writable = probe_writable(dir);
    let usable = writable.is_ok();
    report.outcome(
        &format!("state dir {} (trigger.state_dir) writable", dir.display()),
        writable,
    );
    if !usable {
        return;
    }
    let record = dir.join(RECORD_FILE);
    if !record.exists() {
        report.ok(format!(
            "record {} (created at the first start)",
            record.display()
        ));
        return;
    }
    let opened = Record::open(dir)
        .and_then(|r| r.summary())
        .map(|s| format!("opens ({} directories known)", s.dirs))
        .map_err(|e| e.to_string());
    report.outcome(&format!("record {}", record.display()), opened);
}

/// The plugins the runner would run now, each an `ok` line; every file it
/// would refuse, and a folder missing or empty, a `FAIL` line.
fn plugins(settings: &Settings, report: &mut Report) -> Vec<Plugin> {
    let dir = &settings.trigger.plugins_dir;
    if !dir.exists() {
        report.fail(format!(
            "plugins folder {} (trigger.plugins_dir) does not exist: create it and put your gp_* plugins in it",
            dir.display()
        ));
        return Vec::new();
    }
    let found = discover(dir, &settings.trigger.python);
    if found.folder_unusable {
        for problem in &found.problems {
            report.fail(problem);
        }
        return Vec::new();
    }
    if found.plugins.is_empty() {
        report.fail(format!(
            "plugins folder {} holds no runnable plugin (a gp_* file: gp_name.py, or executable)",
            dir.display()
        ));
    } else {
        report.ok(format!("plugins folder {}", dir.display()));
    }
    for problem in &found.problems {
        report.fail(problem);
    }
    for plugin in &found.plugins {
        let mut shown = vec![plugin.program.display().to_string()];
        shown.extend(plugin.args.iter().map(|a| a.to_string_lossy().into_owned()));
        report.ok(format!(
            "plugin {} runs as `{} <alert_dir>`",
            plugin.name,
            shown.join(" ")
        ));
    }
    found.plugins
}

/// `.py` plugins are run by the interpreter discovery found; the template
/// and most plugins need PyYAML.
fn python(plugins: &[Plugin], report: &mut Report) {
    let Some(plugin) = plugins.iter().find(|p| p.name.ends_with(".py")) else {
        return;
    };
    let python = &plugin.program;
    let what = format!("python {} imports yaml (PyYAML)", python.display());
    report.outcome(&what, imports_yaml(python));
}

fn imports_yaml(python: &Path) -> Result<String, String> {
    let mut child = Command::new(python)
        .args(["-c", "import yaml"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot be started: {e}"))?;
    let deadline = Instant::now() + PYTHON_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`import yaml` did not finish within {} s",
                    PYTHON_TIMEOUT.as_secs()
                ));
            }
            Err(e) => return Err(format!("cannot be waited for: {e}")),
        }
    };
    if status.success() {
        return Ok(String::new());
    }
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    let last = stderr
        .lines()
        .last()
        .unwrap_or("no message")
        .trim()
        .to_string();
    Err(format!(
        "{last}; install PyYAML (`{} -m pip install pyyaml`, or your system's python3-yaml)",
        python.display()
    ))
}

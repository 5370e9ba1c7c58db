//! What `gocart-ingest check` and `gocart-trigger check` have in common: one
//! line per check (`ok   `, `FAIL `, `warn ` then what was checked), exit 1 on
//! any failure, and the probe that tells whether a folder can be written
//! without leaving anything behind in it.

use std::io::Write as _;
use std::path::Path;

use crate::Settings;

/// The lines printed so far and whether any failed.
#[derive(Debug, Default)]
pub struct Report {
    failed: bool,
}

impl Report {
    pub fn ok(&mut self, what: impl std::fmt::Display) {
        line("ok  ", &what);
    }

    pub fn fail(&mut self, what: impl std::fmt::Display) {
        self.failed = true;
        line("FAIL", &what);
    }

    pub fn warn(&mut self, what: impl std::fmt::Display) {
        line("warn", &what);
    }

    /// `ok` or `FAIL` with the cause.
    pub fn outcome(&mut self, what: &str, result: Result<String, String>) {
        match result {
            Ok(detail) if detail.is_empty() => self.ok(what),
            Ok(detail) => self.ok(format!("{what} {detail}")),
            Err(cause) => self.fail(format!("{what}: {cause}")),
        }
    }

    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The exit status: 1 when a check failed, else 0.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.failed)
    }
}

/// Loads the settings as every command does; each unknown key is a `warn` line.
pub fn load_settings(path: &Path, report: &mut Report) -> Option<Settings> {
    match Settings::load(path) {
        Ok(settings) => {
            report.ok(format!("settings {}", path.display()));
            for warning in &settings.warnings {
                report.warn(format!("settings {warning}"));
            }
            Some(settings)
        }
        Err(e) => {
            report.fail(format!("settings: {e}"));
            None
        }
    }
}

fn line(tag: &str, what: &dyn std::fmt::Display) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{tag} {what}");
    let _ = out.flush();
}

/// Whether the program could write in `dir`: a file is created there and
/// removed at once. A folder that does not exist yet is created by the
/// programs when needed, so then the nearest existing parent is probed and
/// nothing is created. `Ok` holds a note for the line ("" or "(will be created)").
pub fn probe_writable(dir: &Path) -> Result<String, String> {
    let mut existing = dir;
    while !existing.exists() {
        match existing.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => existing = parent,
            _ => return Err("no parent folder of it exists".into()),
        }
    }
    if !existing.is_dir() {
        return Err(format!("{} is not a folder", existing.display()));
    }
    let probe = existing.join(format!(".gocart-check-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| format!("cannot write in {}: {e}", existing.display()))?;
    std::fs::remove_file(&probe)
        .map_err(|e| format!("cannot remove the probe {}: {e}", probe.display()))?;
    if existing == dir {
        Ok(String::new())
    } else {
        Ok(format!(
            "(does not exist yet; will be created in {})",
            existing.display()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_writable_folder_is_probed_without_a_trace() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(probe_writable(dir.path()), Ok(String::new()));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let note = probe_writable(&dir.path().join("a/b")).unwrap();
        assert!(note.contains("will be created"), "{note}");
        assert!(!dir.path().join("a").exists());
    }

    #[test]
    fn a_read_only_folder_or_a_file_fails_with_the_cause() {
        // root writes anywhere: the mode test only means something for others.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        let err = probe_writable(&file.join("sub")).unwrap_err();
        assert!(err.contains("is not a folder"), "{err}");
        if !rustix::process::geteuid().is_root() {
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o555)).unwrap();
            let err = probe_writable(dir.path()).unwrap_err();
            assert!(err.contains("cannot write"), "{err}");
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
}

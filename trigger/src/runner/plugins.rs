//! Finding the plugins in `plugins_dir`, as `docs/contracts.md` "Plugins" defines them.
//!
//! The folder is listed again for every batch of alert directories (one
//! directory, unless a burst is waiting), so a plugin added, changed or removed
//! while the trigger runs is picked up without a restart. A plugin that another
//! user could change would let that user run code as us, so a file or folder
//! writable by group/other, or owned by someone else, is refused, not run.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use gocart_shared::settings::Filter;
use gocart_shared::Kind;

/// One plugin ready to run: `program args... <alert_dir>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Plugin {
    /// The file name, e.g. `gp_sound_the_alarm.py`: the plugin's key in the record.
    pub name: String,
    pub path: PathBuf,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// The file's change time: when a plugin new to the record appeared, even
    /// if the trigger was not running then.
    pub ctime: DateTime<Utc>,
    /// Its own `timeout` from `trigger.plugins`, if set.
    pub timeout: Option<std::time::Duration>,
    /// The plugins (present in the folder) that must end on a directory first.
    pub after: Vec<String>,
    /// The kinds of directory it runs on (`trigger.plugins.<name>.kinds`).
    pub kinds: Vec<Kind>,
    /// Its own filters: a directory of its kinds passing none is `filtered`.
    pub filters: Vec<Filter>,
    /// Runs of it at once: the places of its lane (`trigger.plugins.<name>.concurrency`).
    pub concurrency: usize,
}

/// A `gp_*` file that is not run, and why (for the log, `check` and `status`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Refused {
    pub plugin: String,
    pub reason: String,
}

/// What a listing of the plugin folder found.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Discovery {
    /// Runnable plugins, in name order.
    pub plugins: Vec<Plugin>,
    /// Why some `gp_*` files were not taken, one clear sentence each.
    pub problems: Vec<String>,
    /// The `gp_*` files not taken, each with its sentence of `problems`.
    pub refused: Vec<Refused>,
    /// The folder exists but cannot be used (refused as unsafe, unreadable):
    /// which plugins should run is unknown, so nothing may be settled now.
    pub folder_unusable: bool,
}

/// Lists the plugins in `dir`. `python` is the interpreter setting (a name found
/// on PATH, or a path); it is only looked up when there is a `.py` plugin.
pub fn discover(dir: &Path, python: &str) -> Discovery {
    let mut found = Discovery::default();
    if let Err(problem) = check_folder(dir) {
        // A folder that does not exist just means no plugins.
        found.folder_unusable = dir.exists();
        found.problems.push(problem);
        return found;
    }
    let mut names = match list_candidates(dir) {
        Ok(names) => names,
        Err(problem) => {
            found.folder_unusable = true;
            found.problems.push(problem);
            return found;
        }
    };
    names.sort();
    let mut interpreter: Option<Result<PathBuf, String>> = None;
    for name in names {
        let path = dir.join(&name);
        match plugin_for(&name, &path, python, &mut interpreter) {
            Ok(Some(plugin)) => found.plugins.push(plugin),
            Ok(None) => {}
            Err(problem) => {
                found.refused.push(Refused {
                    plugin: name.clone(),
                    reason: problem.clone(),
                });
                found.problems.push(problem);
            }
        }
    }
    found
}

/// Whether a file name is a plugin name at all: `gp_*`, and not an editor's
/// backup or swap file.
pub fn is_plugin_name(name: &str) -> bool {
    name.starts_with("gp_")
        && !name.ends_with('~')
        && !name.ends_with(".bak")
        && !name.ends_with(".swp")
}

fn list_candidates(dir: &Path) -> Result<Vec<String>, String> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list the plugin folder {}: {e}", dir.display()))?;
    Ok(entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| is_plugin_name(name))
        .collect())
}

fn plugin_for(
    name: &str,
    path: &Path,
    python: &str,
    interpreter: &mut Option<Result<PathBuf, String>>,
) -> Result<Option<Plugin>, String> {
    // Follows symlinks: a plugin may be a link to a script kept elsewhere.
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("plugin {name} cannot be read ({e}); not run"))?;
    if !meta.is_file() {
        return Ok(None);
    }
    check_owner_and_mode(&meta, &format!("plugin {}", path.display()))?;
    let ctime =
        DateTime::from_timestamp(meta.ctime(), meta.ctime_nsec() as u32).unwrap_or_else(Utc::now);
    if name.ends_with(".py") {
        let python = interpreter
            .get_or_insert_with(|| find_python(python))
            .clone()?;
        return Ok(Some(Plugin {
            name: name.into(),
            path: path.into(),
            program: python,
            args: vec![path.as_os_str().to_owned()],
            ctime,
            timeout: None,
            after: Vec::new(),
            kinds: vec![Kind::Lvk],
            filters: Vec::new(),
            concurrency: 1,
        }));
    }
    if meta.mode() & 0o111 == 0 {
        return Err(format!(
            "plugin {} is not executable and not a .py file; not run (chmod +x it to run it)",
            path.display()
        ));
    }
    Ok(Some(Plugin {
        name: name.into(),
        path: path.into(),
        program: path.into(),
        args: Vec::new(),
        ctime,
        timeout: None,
        after: Vec::new(),
        kinds: vec![Kind::Lvk],
        filters: Vec::new(),
        concurrency: 1,
    }))
}

fn find_python(python: &str) -> Result<PathBuf, String> {
    which::which(python).map_err(|e| {
        format!("the Python interpreter `{python}` (setting trigger.python) was not found ({e}); .py plugins not run")
    })
}

fn check_folder(dir: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(dir).map_err(|e| {
        format!(
            "the plugin folder {} cannot be read ({e}); no plugins run",
            dir.display()
        )
    })?;
    if !meta.is_dir() {
        return Err(format!(
            "the plugin folder {} is not a directory; no plugins run",
            dir.display()
        ));
    }
    check_owner_and_mode(&meta, &format!("the plugin folder {}", dir.display()))
        .map_err(|e| format!("{e}; no plugins run"))
}

/// Refuses what another user could change: writable by group or other, or
/// owned by someone other than us or root.
fn check_owner_and_mode(meta: &std::fs::Metadata, what: &str) -> Result<(), String> {
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me && meta.uid() != 0 {
        return Err(format!(
            "{what} is owned by another user (uid {}), who could change it to run code as you; refused",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{what} can be written by other users (mode {:o}), who could change it to run code as you; refused (chmod go-w it)",
            meta.mode() & 0o7777
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, mode: u32) {
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn names(d: &Discovery) -> Vec<&str> {
        d.plugins.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn only_gp_files_in_name_order_without_backups() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "gp_b", "gp_a", "gp_c~", "gp_c.bak", "gp_c.swp", ".gp_c", "other", "README",
        ] {
            write(dir.path(), name, 0o755);
        }
        std::fs::create_dir(dir.path().join("gp_folder")).unwrap();
        let found = discover(dir.path(), "python3");
        assert_eq!(names(&found), ["gp_a", "gp_b"]);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
        assert_eq!(found.plugins[0].program, dir.path().join("gp_a"));
    }

    #[test]
    fn python_plugins_run_through_the_interpreter() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "gp_t.py", 0o644);
        let found = discover(dir.path(), "sh");
        let plugin = &found.plugins[0];
        assert_eq!(plugin.program, which::which("sh").unwrap());
        assert_eq!(
            plugin.args,
            vec![dir.path().join("gp_t.py").into_os_string()]
        );
        let found = discover(dir.path(), "no-such-python-here");
        assert!(found.plugins.is_empty());
        assert!(
            found.problems[0].contains("trigger.python"),
            "{:?}",
            found.problems
        );
    }

    #[test]
    fn unsafe_or_unrunnable_files_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "gp_noexec", 0o644);
        write(dir.path(), "gp_groupw", 0o775);
        write(dir.path(), "gp_ok", 0o700);
        let found = discover(dir.path(), "python3");
        assert_eq!(names(&found), ["gp_ok"]);
        assert_eq!(found.problems.len(), 2);
        let refused: Vec<&str> = found.refused.iter().map(|r| r.plugin.as_str()).collect();
        assert_eq!(refused, ["gp_groupw", "gp_noexec"]);
        assert!(
            found.problems[0].contains("gp_groupw") && found.problems[0].contains("other users")
        );
        assert!(found.problems[1].contains("not executable"));
    }

    #[test]
    fn a_writable_folder_is_refused_and_symlinks_followed() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        write(elsewhere.path(), "script", 0o755);
        std::os::unix::fs::symlink(elsewhere.path().join("script"), dir.path().join("gp_link"))
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(names(&discover(dir.path(), "python3")), ["gp_link"]);
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let found = discover(dir.path(), "python3");
        assert!(found.plugins.is_empty());
        assert!(
            found.problems[0].contains("plugin folder"),
            "{:?}",
            found.problems
        );
        let missing = discover(&dir.path().join("missing"), "python3");
        assert!(missing.problems[0].contains("cannot be read"));
    }
}

//! Where the python test env is: the tests that compare gocart's products with
//! the reference libraries (ligo.skymap, mocpy) run its python. scripts/setup.sh
//! makes it; like the shared alerts, its absence skips those tests, except in CI.

use std::path::PathBuf;
use std::process::Command;

/// The modules the reference tests import; setup.sh installs exactly these.
const MODULES: &str = "import ligo.skymap, mocpy, astropy, yaml";

/// `$GOCART_PYENV`, else `${XDG_CACHE_HOME:-$HOME/.cache}/gocart/pyenv`.
pub fn python_env_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("GOCART_PYENV") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_default();
    cache.join("gocart/pyenv")
}

/// The python test env's interpreter when it imports every reference module.
/// `None` (after saying so) when missing outside CI; panics when missing in CI.
pub fn python_env(test: &str) -> Option<PathBuf> {
    let venv = python_env_dir();
    let python = venv.join("bin/python");
    let usable = Command::new(&python)
        .args(["-c", MODULES])
        .status()
        .is_ok_and(|s| s.success());
    if usable {
        return Some(python);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "{test}: the python test env is missing at {} and CI=true",
            venv.display()
        );
    }
    eprintln!(
        "{test}: skipped: no python test env at {} (scripts/setup.sh makes it)",
        venv.display()
    );
    None
}

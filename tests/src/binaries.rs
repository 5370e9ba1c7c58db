//! The two programs, built for tests that drive them as a user would.
//!
//! Cargo names a crate's own binaries to its tests (`CARGO_BIN_EXE_*`), but
//! this crate has none: its tests drive both `gocart-ingest` and
//! `gocart-trigger`. They are built once per test process, by the same cargo,
//! profile and target directory as the test itself, so a test never runs a
//! stale binary.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Paths of the built programs.
#[derive(Debug)]
pub struct Binaries {
    pub ingest: PathBuf,
    pub trigger: PathBuf,
}

/// Builds both programs (once per process) and returns their paths.
pub fn binaries() -> &'static Binaries {
    static BUILT: OnceLock<Binaries> = OnceLock::new();
    BUILT.get_or_init(build)
}

fn build() -> Binaries {
    let profile_dir = profile_dir();
    let release = profile_dir.file_name().is_some_and(|n| n == "release");
    let target_dir = profile_dir.parent().expect("a profile dir has a parent");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(crate::workspace_root())
        .args(["build", "-q", "-p", "gocart-ingest", "-p", "gocart-trigger"])
        .arg("--target-dir")
        .arg(target_dir);
    if release {
        command.arg("--release");
    }
    let status = command.status().expect("cargo runs");
    assert!(status.success(), "cargo build of the binaries failed");
    Binaries {
        ingest: profile_dir.join("gocart-ingest"),
        trigger: profile_dir.join("gocart-trigger"),
    }
}

/// `program -s settings`, as every test and benchmark runs the programs:
/// the settings file they are given, never one a `GOCART_SETTINGS` in the
/// environment of the test run would choose, and stdin closed (a program that
/// waits on it would hang the test). Callers add the command and its output.
pub fn with_settings(program: impl AsRef<OsStr>, settings: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command
        .arg("-s")
        .arg(settings)
        .env_remove("GOCART_SETTINGS")
        .stdin(Stdio::null());
    command
}

/// `<target>/<profile>`, where cargo puts the programs: a test binary lives
/// in its `deps/`, an example in its `examples/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    let deps = exe.parent().expect("a test binary is in deps/");
    deps.parent()
        .map(Path::to_path_buf)
        .expect("deps/ is in the profile dir")
}

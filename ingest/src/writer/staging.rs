//! A directory being built under `.staging/`: files are written and fsynced one
//! by one and remembered with their size and SHA-256 for the marker.

use std::io::Write;

use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use gocart_shared::marker::{sha256_hex, FileEntry, Marker, MARKER_NAME};
use gocart_shared::Tree;

/// A staging directory. Dropped without `into_complete`, it removes itself.
#[derive(Debug)]
pub struct Staging {
    dir: Option<PathBuf>,
    files: Vec<FileEntry>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl Staging {
    /// Creates a fresh, uniquely named staging directory for `label`.
    pub fn create(tree: &Tree, label: &str) -> std::io::Result<Staging> {
        let root = tree.staging_dir();
        std::fs::create_dir_all(&root)?;
        let unique = format!(
            "{label}.{}.{}.{}",
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let dir = root.join(unique);
        std::fs::create_dir(&dir)?;
        Ok(Staging {
            dir: Some(dir),
            files: Vec::new(),
        })
    }

    pub fn path(&self) -> &Path {
        self.dir
            .as_deref()
            .expect("a live staging directory has a path")
    }

    /// Writes and fsyncs one file, recording it for the marker.
    pub fn write(&mut self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path().join(name);
        let mut file = std::fs::File::create(&path)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        self.record(name, bytes.len() as u64, sha256_hex(bytes));
        Ok(())
    }

    /// Streams one file through `produce` (a large CSV need not fit in memory),
    /// hashing it on the way, then fsyncs and records it.
    pub fn write_with(
        &mut self,
        name: &str,
        produce: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let path = self.path().join(name);
        let mut out = HashingWriter {
            inner: std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create(&path)?),
            hasher: sha2::Sha256::new(),
            size: 0,
        };
        produce(&mut out)?;
        let file = out.inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let sha = out
            .hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        self.record(name, out.size, sha);
        Ok(())
    }

    /// Renames a file inside the directory (a sky map, once its creator is known).
    pub fn rename(&mut self, from: &str, to: &str) -> std::io::Result<()> {
        std::fs::rename(self.path().join(from), self.path().join(to))?;
        for entry in &mut self.files {
            if entry.name == from {
                entry.name = to.to_string();
            }
        }
        Ok(())
    }

    /// The files written so far.
    pub fn files(&self) -> &[FileEntry] {
        &self.files
    }

    /// Writes the marker last and fsyncs the directory: from here on it is a
    /// complete alert directory, ready to be renamed into the tree.
    pub fn complete(mut self, marker: &Marker) -> std::io::Result<PathBuf> {
        let dir = self.path().to_path_buf();
        let mut file = std::fs::File::create(dir.join(MARKER_NAME))?;
        file.write_all(&marker.to_json())?;
        file.sync_all()?;
        super::sync_dir(&dir)?;
        self.dir = None;
        Ok(dir)
    }

    fn record(&mut self, name: &str, size: u64, sha256: String) {
        self.files.retain(|f| f.name != name);
        self.files.push(FileEntry {
            name: name.to_string(),
            size,
            sha256,
        });
    }
}

/// Counts and hashes what passes through it.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: sha2::Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Removes what crashed runs left in `.staging/` (never alert directories):
/// a directory whose writer (the pid in its name) no longer exists goes at
/// once, so a crash loop cannot fill the disk with half-written maps; any other
/// goes once older than `min_age`, so a concurrent writer is left alone.
pub fn clear_stale(tree: &Tree, min_age: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(tree.staging_dir()) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age >= min_age);
        let orphaned = writer_pid(&entry.file_name().to_string_lossy()).is_some_and(is_gone);
        if (old || orphaned) && std::fs::remove_dir_all(entry.path()).is_ok() {
            removed += 1;
        }
    }
    removed
}

/// The pid in a staging directory's name (`<label>.<pid>.<nanos>.<counter>`).
fn writer_pid(name: &str) -> Option<i32> {
    let mut parts = name.rsplitn(4, '.');
    let (_counter, _nanos, pid) = (parts.next()?, parts.next()?, parts.next()?);
    parts.next()?;
    pid.parse().ok().filter(|&pid| pid > 0)
}

/// Whether no process has this pid (a process we may not signal still exists).
fn is_gone(pid: i32) -> bool {
    if pid as u32 == std::process::id() {
        return false;
    }
    !gocart_shared::process::is_alive(i64::from(pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_of_a_dead_writer_go_at_once_and_a_live_one_s_stay() {
        let root = tempfile::tempdir().unwrap();
        let tree = Tree::new(root.path());
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let staging = tree.staging_dir();
        let dead_dir = staging.join(format!("MS1_x.{dead}.123.0"));
        let live_dir = staging.join(format!("MS1_x.{}.123.1", std::process::id()));
        let unknown = staging.join("not-ours");
        for dir in [&dead_dir, &live_dir, &unknown] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let hour = std::time::Duration::from_secs(3600);
        assert_eq!(clear_stale(&tree, hour), 1);
        assert!(!dead_dir.exists());
        assert!(live_dir.exists() && unknown.exists());
    }

    #[test]
    fn the_pid_is_read_from_the_right() {
        assert_eq!(writer_pid("S1_2024.a.42.17.3"), Some(42));
        assert_eq!(writer_pid("rejected.42.17.3"), Some(42));
        assert_eq!(writer_pid("42.17.3"), None);
        assert_eq!(writer_pid("x.y.17.3"), None);
    }
}

//! Capturing a plugin's output: one pipe shared by stdout and stderr (so the log
//! keeps their order), read by its own thread into a bounded log file.
//!
//! The reader never stops draining the pipe, so a plugin that writes 100 MB never
//! blocks on a full pipe, and never writes more than the cap to disk: it keeps
//! the head, drops the middle with a note saying how much, and keeps the last
//! bytes (where the error usually is). It polls with a timeout so that the
//! supervisor can stop it even while a grandchild still holds the pipe open.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec};

/// At most this many bytes of a run's output are kept on disk.
pub const LOG_CAP: u64 = 1024 * 1024;
/// Of which this many are the end of the output.
pub const TAIL_KEEP: usize = 64 * 1024;

/// What the reader saw.
#[derive(Debug, Default, Clone)]
pub struct Captured {
    /// Every byte the plugin wrote, kept or not.
    pub total: u64,
    pub truncated: bool,
    /// The last bytes of the output, for the trigger's own log and `status`.
    pub tail: Vec<u8>,
    /// A problem writing the log file (the run itself is not affected).
    pub log_error: Option<String>,
}

/// A running reader thread.
pub struct Capture {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Captured>,
    /// Disconnected when the reader is done: the end of the output is seen
    /// the moment it comes, not at the next tick of a sleeping poll (which
    /// cost a burst of runs up to 5 ms each).
    done: crossbeam_channel::Receiver<()>,
}

impl Capture {
    /// Starts reading `pipe` into a log file at `log_path`, made when the
    /// first byte comes: a run that prints nothing leaves no file (creating a
    /// folder and a file per run was a third of a worker's time in a burst
    /// of silent plugins, on ext4).
    pub fn start(pipe: std::io::PipeReader, log_path: &Path) -> std::io::Result<Capture> {
        let file = LazyFile::Later(log_path.to_path_buf());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
        let handle = std::thread::Builder::new()
            .name("plugin-output".into())
            .spawn(move || {
                let captured = read_all(pipe, file, &flag);
                drop(done_tx);
                captured
            })?;
        Ok(Capture { stop, handle, done })
    }

    /// Waits until the pipe is closed, for at most `wait`; returns whether it was.
    pub fn wait_done(&self, wait: Duration) -> bool {
        !matches!(
            self.done.recv_timeout(wait),
            Err(crossbeam_channel::RecvTimeoutError::Timeout)
        )
    }

    /// Stops reading (whether or not the pipe was closed) and returns the result.
    pub fn finish(self) -> Captured {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_else(|_| Captured {
            log_error: Some("the output reader failed".into()),
            ..Captured::default()
        })
    }
}

/// The bounded log: head written straight to the file, the rest kept in a ring.
struct Bounded {
    file: LazyFile,
    written: u64,
    tail: VecDeque<u8>,
    total: u64,
    error: Option<String>,
}

impl Bounded {
    fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let head_room = (LOG_CAP - TAIL_KEEP as u64).saturating_sub(self.written) as usize;
        let (head, rest) = bytes.split_at(head_room.min(bytes.len()));
        if !head.is_empty() {
            self.write(head);
        }
        self.tail.extend(rest.iter().copied());
        let excess = self.tail.len().saturating_sub(TAIL_KEEP);
        self.tail.drain(..excess);
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.error.is_some() {
            return;
        }
        match self.file.get().and_then(|f| f.write_all(bytes)) {
            Ok(()) => self.written += bytes.len() as u64,
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// Writes the kept tail (with a note if bytes were dropped) and returns the summary.
    fn close(mut self) -> Captured {
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        let dropped = self.total - self.written - tail.len() as u64;
        if dropped > 0 {
            let note = format!(
                "\n[gocart-trigger: {dropped} bytes of output dropped here; the log keeps the first {} and the last {} bytes of {}]\n",
                self.written,
                tail.len(),
                self.total
            );
            self.write(note.as_bytes());
        }
        if !tail.is_empty() {
            self.write(&tail);
        }
        Captured {
            total: self.total,
            truncated: dropped > 0,
            tail: Vec::new(),
            log_error: self.error,
        }
    }
}

/// The log file, created (with its folder) on first use.
enum LazyFile {
    Later(PathBuf),
    Open(File),
}

impl LazyFile {
    fn get(&mut self) -> std::io::Result<&mut File> {
        if let LazyFile::Later(path) = self {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            *self = LazyFile::Open(File::create(&*path)?);
        }
        match self {
            LazyFile::Open(file) => Ok(file),
            LazyFile::Later(path) => Err(std::io::Error::other(format!(
                "the log {} was not opened",
                path.display()
            ))),
        }
    }
}

fn read_all(mut pipe: std::io::PipeReader, file: LazyFile, stop: &AtomicBool) -> Captured {
    let mut log = Bounded {
        file,
        written: 0,
        tail: VecDeque::new(),
        total: 0,
        error: None,
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut recent: Vec<u8> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        if !readable(&pipe, Duration::from_millis(50)) {
            continue;
        }
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                keep_recent(&mut recent, &buf[..n]);
                log.push(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    Captured {
        tail: recent,
        ..log.close()
    }
}

/// Keeps the last 4 KiB seen, for the short tail shown in the trigger's log.
fn keep_recent(recent: &mut Vec<u8>, bytes: &[u8]) {
    const KEEP: usize = 4096;
    recent.extend_from_slice(&bytes[bytes.len().saturating_sub(KEEP)..]);
    if recent.len() > KEEP {
        recent.drain(..recent.len() - KEEP);
    }
}

/// Waits up to `wait` for data (or EOF) on the pipe.
fn readable(pipe: &std::io::PipeReader, wait: Duration) -> bool {
    let mut fds = [PollFd::new(pipe, PollFlags::IN)];
    let timeout = Timespec::try_from(wait).ok();
    rustix::event::poll(&mut fds, timeout.as_ref()).is_ok_and(|n| n > 0)
}

/// The last `lines` lines of some output, as text, for messages. A plugin
/// may echo what an alert carries: each line's control characters are shown
/// escaped, so its output cannot move the cursor or forge a line of ours.
pub fn tail_lines(bytes: &[u8], lines: usize, max_chars: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<_> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(gocart_shared::text::escape_control)
        .collect();
    let kept = all[all.len().saturating_sub(lines)..].join("\n");
    let skip = kept.chars().count().saturating_sub(max_chars);
    kept.chars().skip(skip).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(data: Vec<u8>) -> (Captured, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x/run.log");
        let (reader, mut writer) = std::io::pipe().unwrap();
        let cap = Capture::start(reader, &log).unwrap();
        let feeder = std::thread::spawn(move || {
            let _ = writer.write_all(&data);
        });
        feeder.join().unwrap();
        assert!(cap.wait_done(Duration::from_secs(10)));
        let got = cap.finish();
        (got, std::fs::read(&log).unwrap())
    }

    #[test]
    fn small_output_is_kept_whole() {
        let (got, file) = capture(b"hello\nworld\n".to_vec());
        assert_eq!(file, b"hello\nworld\n");
        assert!(!got.truncated);
        assert_eq!(got.total, 12);
        assert_eq!(tail_lines(&got.tail, 1, 100), "world");
    }

    #[test]
    fn large_output_keeps_head_note_and_tail_within_the_cap() {
        let mut data = vec![b'a'; 5 * LOG_CAP as usize];
        data.extend_from_slice(b"\nthe end\n");
        let (got, file) = capture(data);
        assert!(got.truncated);
        assert_eq!(got.total, 5 * LOG_CAP + 9);
        assert!(file.len() as u64 <= LOG_CAP + 200, "{}", file.len());
        let text = String::from_utf8_lossy(&file);
        assert!(text.contains("bytes of output dropped"));
        assert!(text.ends_with("the end\n"));
        assert_eq!(tail_lines(&got.tail, 1, 100), "the end");
    }

    #[test]
    fn no_output_makes_no_log_file() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("x/run.log");
        let (reader, writer) = std::io::pipe().unwrap();
        let cap = Capture::start(reader, &log).unwrap();
        drop(writer);
        assert!(cap.wait_done(Duration::from_secs(10)));
        let got = cap.finish();
        assert_eq!(got.total, 0);
        assert!(got.log_error.is_none());
        assert!(!log.exists() && !log.parent().unwrap().exists());
    }

    #[test]
    fn the_reader_can_be_stopped_while_the_pipe_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let (reader, writer) = std::io::pipe().unwrap();
        let cap = Capture::start(reader, &dir.path().join("r.log")).unwrap();
        assert!(!cap.wait_done(Duration::from_millis(100)));
        let got = cap.finish();
        assert_eq!(got.total, 0);
        drop(writer);
    }

    #[test]
    fn escape_sequences_in_a_plugins_output_are_shown_not_obeyed() {
        let out = b"\x1b]0;owned\x07title\nfirst\rFAKE: ok\n";
        let text = tail_lines(out, 10, 1000);
        assert_eq!(text, "\\x1b]0;owned\\x07title\nfirst\\rFAKE: ok");
        assert!(!text.contains('\x1b') && !text.contains('\r'));
    }
}

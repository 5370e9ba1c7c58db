//! A full disk under `download_dir` (a small tmpfs that fills up in the middle
//! of an alert): ingest says what it could not write, where, and that there is
//! no space left; it publishes nothing for that alert, leaves no torn
//! directory and no staging eating the space, keeps nothing in `.rejected`
//! (it is not the message's fault), and writes the alert once space is back.
//! Through `import`, and through `listen` (not committed meanwhile, retried
//! with one log line for the outage). Needs root to mount a tmpfs: skipped
//! with a note where that is not permitted, except on CI.

use crate::common;
use gocart_tests::kafka;

use std::path::{Path, PathBuf};
use std::time::Duration;

use gocart_shared::Marker;
use gocart_tests::assert_holds_message;
use gocart_tests::wait_until;
use kafka::{
    all_alert_dirs, group_id, listen_status, settings_text, wait_for_dirs, Broker, Ingest, Storage,
};

const TOPIC: &str = "igwn.gwalert";
const LONG: Duration = Duration::from_secs(60);
const DISK_BYTES: u64 = 24 << 20;
const CREATED: &str = "2023-04-24T00:02:04Z";

/// A tmpfs mounted for one test; unmounted on drop.
struct Tmpfs {
    mount: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (after saying so) when mounting is not permitted, except on CI.
    fn mount(test: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let mount = dir.path().join("disk");
        std::fs::create_dir(&mount).unwrap();
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={DISK_BYTES}")])
            .arg("tmpfs")
            .arg(&mount)
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Tmpfs { mount, _dir: dir }),
            other => {
                let why = match other {
                    Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
                    Err(e) => e.to_string(),
                };
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{test}: cannot mount a tmpfs and CI=true: {why}");
                }
                eprintln!("{test}: skipped: cannot mount a tmpfs (root needed): {why}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        &self.mount
    }

    fn free(&self) -> u64 {
        let stat = rustix::fs::statvfs(&self.mount).unwrap();
        stat.f_bavail * stat.f_frsize
    }

    /// Fills the disk but for `leave` bytes; returns the filler to remove.
    fn fill(&self, leave: u64) -> PathBuf {
        let filler = self.mount.join("filler");
        let size = self.free().saturating_sub(leave) as usize;
        std::fs::write(&filler, vec![0u8; size]).unwrap();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.mount)
            .status();
    }
}

/// The sizes of the alert's sky map and CSV, from writing it on a roomy disk.
fn sizes(message: &[u8]) -> (u64, u64) {
    let env = common::Env::new("");
    env.import_messages(&[message.to_vec()]).assert_status(0);
    let marker = Marker::read_checked(&env.alert_dirs()[0]).unwrap();
    let size = |suffix: &str| {
        marker
            .files
            .iter()
            .find(|f| f.name.ends_with(suffix))
            .map(|f| f.size)
            .unwrap()
    };
    (size(".multiorder.fits"), size("skymap.csv"))
}

/// Nothing of the alert in the tree: no directory, no staging, no rejection.
fn assert_nothing_left(tree: &Path) {
    assert_eq!(
        all_alert_dirs(tree),
        Vec::<PathBuf>::new(),
        "a torn directory"
    );
    let staging: Vec<_> = std::fs::read_dir(tree.join(".staging"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(staging.is_empty(), "staging left behind: {staging:?}");
    assert!(
        !tree.join(".rejected").exists(),
        "a full disk is not the message's fault"
    );
}

#[test]
fn import_on_a_full_disk_commits_nothing_and_completes_once_space_is_freed() {
    let Some(disk) = Tmpfs::mount("import on a full disk") else {
        return;
    };
    let message = common::synthetic_alert("S230424a", "PRELIMINARY", CREATED);
    let (map, csv) = sizes(&message);
    for (writing, leave) in [("the sky map", map / 2), ("skymap.csv", map + csv / 2)] {
        let tree = disk.path().join("tree");
        let env = common::Env::with_settings(&format!(
            "lvk:\n  parse_real_events: true\n  download_dir: {}\n  aitoff: {{convert: false}}\n  json: true\n",
            tree.display()
        ));
        std::fs::create_dir_all(&tree).unwrap();
        let filler = disk.fill(leave);
        let free = disk.free();
        let run = env.import_messages(std::slice::from_ref(&message));
        run.assert_status(1).assert_says("FAILED: cannot write");
        assert!(run.stdout.contains(writing), "{writing}: {}", run.stdout);
        assert!(
            run.stdout.contains("No space left on device"),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout.contains(&tree.display().to_string()),
            "where: {}",
            run.stdout
        );
        assert_nothing_left(&tree);
        assert!(disk.free() + 64 * 1024 >= free, "space not given back");

        std::fs::remove_file(&filler).unwrap();
        env.import_messages(std::slice::from_ref(&message))
            .assert_status(0)
            .assert_says("WRITTEN");
        let dirs = all_alert_dirs(&tree);
        assert_eq!(dirs.len(), 1);
        assert_holds_message(&dirs[0], &message);
        std::fs::remove_dir_all(&tree).unwrap();
    }
}

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn listen_on_a_full_disk_commits_nothing_retries_and_writes_the_alert_once() {
    let Some(disk) = Tmpfs::mount("listen on a full disk") else {
        return;
    };
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    broker.create_topic(TOPIC, 1);
    let scratch = tempfile::tempdir().unwrap();
    let tree = disk.path().join("tree");
    let settings = scratch.path().join("gocart.yaml");
    let text = settings_text(&broker.addr(), scratch.path(), &[TOPIC], "").replace(
        &scratch.path().join("tree").display().to_string(),
        &tree.display().to_string(),
    );
    std::fs::write(&settings, text.replace("aitoff:", "json: true\n  aitoff:")).unwrap();
    let first = common::synthetic_alert("S240512a", "PRELIMINARY", CREATED);
    let second = common::synthetic_alert("S240512b", "PRELIMINARY", CREATED);
    let (map, _) = sizes(&first);
    let mut listen = Ingest::listen(&settings);
    std::fs::create_dir_all(&tree).unwrap();
    let filler = disk.fill(map / 2);
    let producer = broker.producer();
    producer.send(TOPIC, 0, &first, None);
    producer.send(TOPIC, 0, &second, None);

    // Several tries fail meanwhile; nothing is committed past the alert.
    let failed = || listen_status(&scratch.path().join("state"))["counts"]["failed"].as_u64();
    assert!(
        wait_until(LONG, || failed() >= Some(3)),
        "{}",
        listen.stderr_text()
    );
    let group = group_id(&settings);
    assert_eq!(broker.committed(&group, TOPIC, 1), vec![0]);
    assert_nothing_left(&tree);

    std::fs::remove_file(&filler).unwrap();
    wait_for_dirs(&tree, 2, LONG, &|| listen.stderr_text());
    assert!(wait_until(LONG, || broker.committed(&group, TOPIC, 1) == vec![2]));
    let dirs = all_alert_dirs(&tree);
    assert_eq!(dirs.len(), 2, "each alert once");
    assert_holds_message(&dirs[0], &first);
    assert_holds_message(&dirs[1], &second);
    assert!(listen.stop().success());
    let err = listen.stderr_text();
    assert_eq!(
        err.matches("No space left on device").count(),
        1,
        "one line per outage:\n{err}"
    );
    assert_eq!(
        err.matches("failed tries)").count(),
        1,
        "the outage's end is told:\n{err}"
    );
    let out = listen.stdout_text();
    assert_eq!(
        out.matches("FAILED: ").count(),
        1,
        "one report per outage:\n{out}"
    );
}

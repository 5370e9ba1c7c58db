//! The hostile-input corpus (cases in `gocart_tests::hostile`, committed in
//! `tests/hostile/`) run through the real binary: every case through `import`, and
//! the whole corpus through a Kafka broker to `listen`. Each malformed case must
//! be rejected with a reason naming what is wrong, kept whole in `.rejected/`,
//! leave nothing in the tree and nothing outside it, and never panic; the
//! others must be written. The broker test is skipped (with a note) when tansu
//! is not installed, except on CI.

use crate::common;
use gocart_tests::hostile;
use gocart_tests::kafka;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Env, Run};
use gocart_ingest::alert::MAX_MESSAGE_BYTES;
use gocart_shared::marker::sha256_hex;
use gocart_shared::Kind;
use hostile::Expect;
use serde_json::Value;

/// The committed corpus.
fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

/// One case as the manifest lists it, with its bytes.
struct Entry {
    name: String,
    bytes: Vec<u8>,
    expect: Expect,
    /// The kind it claims to be (lvk when the manifest names none).
    kind: Kind,
}

/// The manifest's cases: committed ones read from their files, the large ones
/// made again by the generator.
fn entries() -> Vec<Entry> {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(corpus_dir().join("manifest.json")).unwrap())
            .unwrap();
    let mut generated: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    manifest
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["name"].as_str().unwrap().to_string();
            let bytes = match m["file"].as_str() {
                Some(file) => std::fs::read(corpus_dir().join(file)).unwrap(),
                None => {
                    if generated.is_empty() {
                        generated = hostile::cases()
                            .into_iter()
                            .filter(|c| !c.committed())
                            .map(|c| (c.name, c.bytes))
                            .collect();
                    }
                    generated
                        .remove(&name)
                        .unwrap_or_else(|| panic!("{name}: neither a file nor generated"))
                }
            };
            let expect = match m["expect"].as_str().unwrap() {
                "rejected" => Expect::Rejected(m["reason"].as_str().unwrap().to_string()),
                "written" => Expect::Written,
                other => panic!("{name}: unknown expectation {other}"),
            };
            let kind = m["kind"]
                .as_str()
                .map_or(Kind::Lvk, |k| Kind::parse(k).expect("a kind"));
            Entry {
                name,
                bytes,
                expect,
                kind,
            }
        })
        .collect()
}

/// What `.rejected/` keeps of a message: all of it, or one byte past the limit.
fn kept_bytes(bytes: &[u8]) -> &[u8] {
    &bytes[..bytes.len().min(MAX_MESSAGE_BYTES + 1)]
}

#[test]
fn the_committed_corpus_is_what_the_generator_makes() {
    let fresh = tempfile::tempdir().unwrap();
    hostile::write_corpus(fresh.path()).unwrap();
    let list = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                (name, std::fs::read(e.path()).unwrap())
            })
            .collect()
    };
    let (made, committed) = (list(fresh.path()), list(&corpus_dir()));
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    let regenerate = "regenerate it: cargo run -p gocart-ingest --example hostile_corpus -- ingest/tests/hostile";
    assert_eq!(
        names(&made),
        names(&committed),
        "the committed corpus has other files than the generator makes; {regenerate}"
    );
    for (name, bytes) in &made {
        assert!(
            committed[name] == *bytes,
            "{name} differs from what the generator makes; {regenerate}"
        );
    }
    // Distinct bytes: `.rejected/` keeps one copy per message content.
    let cases = hostile::cases();
    let mut shas: Vec<String> = cases.iter().map(|c| sha256_hex(&c.bytes)).collect();
    shas.sort();
    shas.dedup();
    assert_eq!(shas.len(), cases.len(), "two cases are the same bytes");
}

/// The scratch directory's top level and the tree, after one import.
fn check_import(env: &Env, entry: &Entry, run: &Run) -> Result<(), String> {
    let text = format!("{}{}", run.stdout, run.stderr);
    if run.status == 101 || text.contains("panicked") {
        return Err(format!("panicked:\n{text}"));
    }
    // Outside the tree, only what the test made; HOME and TMPDIR left empty.
    let mut top: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    if top != ["gocart.yaml", "home", "inbox", "tmp", "tree"] {
        return Err(format!("something was written beside the tree: {top:?}"));
    }
    for dir in ["home", "tmp"] {
        let n = std::fs::read_dir(env.dir.path().join(dir)).unwrap().count();
        if n != 0 {
            return Err(format!("{n} entries written into ${}", dir.to_uppercase()));
        }
    }
    let staging = env.tree.join(".staging");
    if std::fs::read_dir(&staging).is_ok_and(|mut d| d.next().is_some()) {
        return Err("a directory was left in .staging".into());
    }
    // What a message says is shown, never obeyed: no terminal sequence, no
    // carriage return, no line of the message's making.
    if text.contains(['\u{1b}', '\r', '\u{9b}']) {
        return Err(format!("a raw ESC, CSI or CR printed:\n{text:?}"));
    }
    if let Some(forged) = text.lines().find(|l| l.starts_with("FAKE")) {
        return Err(format!("a forged line printed: {forged:?}"));
    }
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("REJECTED: ") || l.starts_with("WRITTEN: "))
        .ok_or_else(|| format!("no outcome printed:\n{text}"))?;
    if line.len() > 1000 {
        return Err(format!("a {}-byte outcome line", line.len()));
    }
    let rejected: Vec<PathBuf> = common::subdirs(&env.tree.join(".rejected"));
    match &entry.expect {
        Expect::Rejected(reason) => {
            if run.status != 1 || !line.starts_with("REJECTED: ") || !line.contains(reason) {
                return Err(format!(
                    "expected status 1 and REJECTED with {reason:?}, got status {}: {line}",
                    run.status
                ));
            }
            let kept = env
                .tree
                .join(".rejected")
                .join(&sha256_hex(kept_bytes(&entry.bytes))[..16]);
            if rejected != [kept.clone()] {
                return Err(format!(
                    "expected {} kept, found {rejected:?}",
                    kept.display()
                ));
            }
            if std::fs::read(kept.join("message")).unwrap() != kept_bytes(&entry.bytes) {
                return Err("the kept message is not the message".into());
            }
            let note = std::fs::read_to_string(kept.join("reason.txt")).unwrap();
            if !note.contains(reason) {
                return Err(format!("reason.txt lacks {reason:?}: {note}"));
            }
            // Nothing in the tree but .rejected (and the empty .staging).
            if !env.snapshot().is_empty() || !env.alert_dirs().is_empty() {
                return Err(format!("files written for it: {:?}", env.alert_dirs()));
            }
        }
        Expect::Written => {
            if run.status != 0 || !line.starts_with("WRITTEN: ") {
                return Err(format!(
                    "expected WRITTEN, got status {}: {line}",
                    run.status
                ));
            }
            let dirs = env.alert_dirs();
            if dirs.len() != 1 || !dirs[0].join(".gocart-complete").is_file() {
                return Err(format!("expected one complete directory, found {dirs:?}"));
            }
            if !rejected.is_empty() {
                return Err(format!("written, yet kept as rejected: {rejected:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn every_case_through_import() {
    let entries = entries();
    assert!(entries.len() >= 100, "{} cases", entries.len());
    let mut failures = Vec::new();
    for entry in &entries {
        let env = Env::new("");
        let inbox = env.dir.path().join("inbox");
        for dir in [
            &inbox,
            &env.dir.path().join("home"),
            &env.dir.path().join("tmp"),
        ] {
            std::fs::create_dir_all(dir).unwrap();
        }
        let file = inbox.join(format!("{}.json", entry.name));
        std::fs::write(&file, &entry.bytes).unwrap();
        let output = env
            .command()
            .arg("import")
            .arg(&file)
            .env("HOME", env.dir.path().join("home"))
            .env("TMPDIR", env.dir.path().join("tmp"))
            .output()
            .unwrap();
        let run = Run::from(output);
        if let Err(e) = check_import(&env, entry, &run) {
            failures.push(format!("{}: {e}", entry.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        entries.len(),
        failures.join("\n")
    );
}

/// Largest message the test producer sends: Kafka itself refuses the >16 MiB
/// case long before `listen` could (its `import` run covers it).
const BROKER_MAX_BYTES: usize = 4_000_000;

#[test]
#[ignore = "needs tansu: scripts/test.sh runs it when tansu is installed"]
fn every_case_through_the_broker_then_a_good_alert() {
    use gocart_tests::wait_until;
    use kafka::{complete_dirs, settings_text, Broker, Ingest, Storage};
    const TOPIC: &str = "igwn.gwalert";
    const LONG: Duration = Duration::from_secs(120);
    let Some(broker) = Broker::start(Storage::Memory) else {
        return;
    };
    let topics: Vec<&str> = Kind::ALL.iter().filter_map(|k| k.topic()).collect();
    for topic in &topics {
        broker.create_topic(topic, 1);
    }
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("gocart.yaml");
    std::fs::write(
        &settings,
        settings_text(&broker.addr(), dir.path(), &topics, ""),
    )
    .unwrap();
    let tree = dir.path().join("tree");
    let mut listen = Ingest::listen(&settings);
    let context = |listen: &Ingest| {
        format!(
            "--- stderr\n{}\n--- stdout\n{}",
            listen.stderr_text(),
            listen.stdout_text()
        )
    };

    let entries: Vec<Entry> = entries()
        .into_iter()
        .filter(|e| e.bytes.len() <= BROKER_MAX_BYTES)
        .collect();
    let producer = broker.producer();
    for entry in &entries {
        let topic = entry.kind.topic().expect("a kind with a topic");
        producer.send(topic, 0, &entry.bytes, None);
    }
    let sentinel =
        common::synthetic_alert("S240601sentinel", "PRELIMINARY", "2024-06-01T00:00:00Z");
    producer.send(TOPIC, 0, &sentinel, None);

    let sentinel_written = wait_until(LONG, || {
        complete_dirs(&tree)
            .iter()
            .any(|d| d.to_string_lossy().contains("S240601sentinel"))
    });
    assert!(
        sentinel_written,
        "the sentinel was not written\n{}",
        context(&listen)
    );
    assert!(
        listen.child.try_wait().unwrap().is_none(),
        "listen stopped\n{}",
        context(&listen)
    );

    let rejected: Vec<&Entry> = entries
        .iter()
        .filter(|e| matches!(e.expect, Expect::Rejected(_)))
        .collect();
    let written = entries.len() - rejected.len();
    // The sentinel is on the alert topic; the other kinds' topics are read
    // side by side with it, so their last cases may still be in hand.
    let settled = wait_until(LONG, || {
        common::subdirs(&tree.join(".rejected")).len() >= rejected.len()
            && complete_dirs(&tree).len() > written
    });
    assert!(settled, "not every case settled\n{}", context(&listen));
    for entry in &rejected {
        let kept = tree.join(".rejected").join(&sha256_hex(&entry.bytes)[..16]);
        assert_eq!(
            std::fs::read(kept.join("message")).ok().as_deref(),
            Some(entry.bytes.as_slice()),
            "{} not kept in .rejected\n{}",
            entry.name,
            context(&listen)
        );
        let Expect::Rejected(reason) = &entry.expect else {
            unreachable!()
        };
        let note = std::fs::read_to_string(kept.join("reason.txt")).unwrap();
        assert!(note.contains(reason.as_str()), "{}: {note}", entry.name);
    }
    assert_eq!(
        common::subdirs(&tree.join(".rejected")).len(),
        rejected.len(),
        "one kept message per rejected case"
    );
    assert_eq!(
        complete_dirs(&tree).len(),
        written + 1,
        "every written case and the sentinel\n{}",
        context(&listen)
    );
    // Offsets committed past every message, the counts in the status file.
    let text = std::fs::read_to_string(&settings).unwrap();
    let group = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("group_id:"))
        .expect("group_id written back")
        .trim()
        .to_string();
    for topic in &topics {
        let sent = entries
            .iter()
            .filter(|e| e.kind.topic() == Some(topic))
            .count() as i64;
        let total = sent + i64::from(*topic == TOPIC);
        assert!(
            wait_until(LONG, || broker.committed(&group, topic, 1) == vec![total]),
            "{topic}: committed {:?}, expected {total}",
            broker.committed(&group, topic, 1)
        );
    }
    let status_file = dir.path().join("state/ingest-listen.json");
    assert!(wait_until(LONG, || {
        std::fs::read(&status_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|s| s["counts"]["rejected"] == rejected.len())
    }));
    let all = context(&listen);
    assert!(!all.contains("panicked"), "{all}");
    assert!(listen.stop().success(), "{}", context(&listen));
}

//! Malformed alerts (`docs/contracts.md` "Bad input"): each is rejected with a reason that
//! names what is wrong, kept whole under `.rejected/`, never written into the
//! tree, and never stops the alerts after it.

use crate::common;

use common::{alert_json, fits_bytes, to_bytes, Env, MapSpec};
use gocart_shared::marker::sha256_hex;
use serde_json::json;

const CREATED: &str = "2023-04-24T00:02:04Z";

/// Imports `bad` then a good alert: the bad one is rejected for `reason`, the
/// good one is written, and nothing else appears in the tree.
fn rejects(bad: Vec<u8>, reason: &str) {
    rejects_keeping(bad.clone(), &bad, reason)
}

/// As `rejects`, where what is kept is `kept` (an oversized message is kept up
/// to one byte past the limit: enough to see what it was, never a disk filler).
fn rejects_keeping(bad: Vec<u8>, kept_bytes: &[u8], reason: &str) {
    let env = Env::new("");
    let good = common::synthetic_alert("MS230424z", "PRELIMINARY", CREATED);
    let run = env.import_messages(&[bad.clone(), good]);
    run.assert_status(1)
        .assert_says("REJECTED: ")
        .assert_says(reason)
        .assert_says("WRITTEN: ");
    let dirs = env.alert_dirs();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    assert!(dirs[0].ends_with("MS230424z/20230424T000204_preliminary"));
    let kept = env
        .tree
        .join(".rejected")
        .join(&sha256_hex(kept_bytes)[..16]);
    assert_eq!(std::fs::read(kept.join("message")).unwrap(), kept_bytes);
    let note = std::fs::read_to_string(kept.join("reason.txt")).unwrap();
    assert!(note.contains(reason), "{note}");
    assert_eq!(
        std::fs::read_dir(env.tree.join(".staging"))
            .unwrap()
            .count(),
        0
    );
    // Nothing outside the tree: the scratch dir holds only what the test made.
    let mut top: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    top.retain(|n| !n.starts_with("inbox-"));
    top.sort();
    assert_eq!(top, ["gocart.yaml", "tree"]);
}

fn with(id: &str, alert_type: &str) -> Vec<u8> {
    to_bytes(&alert_json(id, alert_type, CREATED, None))
}

#[test]
fn not_json() {
    rejects(b"this is not JSON".to_vec(), "not a JSON alert");
}

#[test]
fn empty() {
    rejects(Vec::new(), "the message is empty");
}

#[test]
fn missing_field() {
    let mut v = alert_json("MS230424a", "PRELIMINARY", CREATED, None);
    v.as_object_mut().unwrap().shift_remove("superevent_id");
    rejects(to_bytes(&v), "superevent_id");
}

#[test]
fn mistyped_field() {
    let mut v = alert_json("MS230424a", "PRELIMINARY", CREATED, None);
    v["event"]["far"] = json!("often");
    rejects(to_bytes(&v), "field `event.far`");
}

#[test]
fn ids_and_types_that_are_not_plain_names() {
    rejects(with("../x", "PRELIMINARY"), "field `superevent_id`");
    rejects(with("a/b", "PRELIMINARY"), "field `superevent_id`");
    rejects(with("MS\u{0}1", "PRELIMINARY"), "field `superevent_id`");
    rejects(with("MS230424a", "../../etc"), "field `alert_type`");
    rejects(with("MS230424a", "a/b"), "field `alert_type`");
}

#[test]
fn invalid_base64() {
    let mut v = alert_json("MS230424a", "PRELIMINARY", CREATED, None);
    v["event"]["skymap"] = json!("!!!! this is not base64 !!!!");
    rejects(to_bytes(&v), "field `event.skymap`: not valid base64");
}

#[test]
fn truncated_fits() {
    let fits = fits_bytes(&MapSpec::default());
    let v = alert_json(
        "MS230424a",
        "PRELIMINARY",
        CREATED,
        Some(&fits[..fits.len() / 3]),
    );
    rejects(to_bytes(&v), "field `event.skymap`");
}

#[test]
fn fits_without_a_nuniq_table() {
    // A valid FITS file whose table has no UNIQ column.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.fits");
    {
        use fitsio::tables::{ColumnDataType, ColumnDescription};
        let mut f = fitsio::FitsFile::create(&path).open().unwrap();
        let col = ColumnDescription::new("PROB")
            .with_type(ColumnDataType::Double)
            .create()
            .unwrap();
        let hdu = f.create_table("", &[col]).unwrap();
        hdu.write_col(&mut f, "PROB", &[1.0 / 12.0; 12]).unwrap();
    }
    let v = alert_json(
        "MS230424a",
        "PRELIMINARY",
        CREATED,
        Some(&std::fs::read(&path).unwrap()),
    );
    rejects(to_bytes(&v), "no UNIQ column");
    // And a FITS file with no table at all.
    let path = dir.path().join("image.fits");
    fitsio::FitsFile::create(&path).open().unwrap();
    let v = alert_json(
        "MS230424b",
        "PRELIMINARY",
        CREATED,
        Some(&std::fs::read(&path).unwrap()),
    );
    rejects(to_bytes(&v), "not a multi-order sky map");
}

#[test]
fn a_combined_skymap_that_is_not_a_map() {
    let mut v = alert_json(
        "MS230424a",
        "PRELIMINARY",
        CREATED,
        Some(&fits_bytes(&MapSpec::default())),
    );
    v["external_coinc"] =
        json!({"observatory": "Fermi", "combined_skymap": common::b64(b"SIMPLE  = T")});
    rejects(to_bytes(&v), "field `external_coinc.combined_skymap`");
}

#[test]
fn a_message_over_16_mib() {
    let mut bytes = with("MS230424a", "PRELIMINARY");
    bytes.resize(16 * 1024 * 1024 + 10, b' ');
    let kept = bytes[..16 * 1024 * 1024 + 1].to_vec();
    rejects_keeping(bytes, &kept, "larger than the limit of 16777216 bytes");
}

#[test]
fn a_rejected_message_redelivered_is_kept_once() {
    let env = Env::new("");
    let bad = b"{broken".to_vec();
    env.import_messages(&[bad.clone(), bad]).assert_status(1);
    assert_eq!(
        std::fs::read_dir(env.tree.join(".rejected"))
            .unwrap()
            .count(),
        1
    );
}

/// Where the report and the log meet (a terminal, a journal, `>out 2>&1`),
/// a rejection's reason is read once, in the error line; the report says
/// REJECTED and where the message is kept. Apart, each stream is whole.
#[test]
fn a_rejection_is_said_once_where_report_and_log_meet() {
    let env = Env::new("");
    let inbox = env.dir.path().join("inbox-once");
    std::fs::create_dir_all(&inbox).unwrap();
    let bad = inbox.join("bad.json");
    std::fs::write(&bad, with("MS230424a", "../../etc")).unwrap();
    let reason = "field `alert_type`";

    let both = env.dir.path().join("both.txt");
    let file = std::fs::File::create(&both).unwrap();
    let status = env
        .command()
        .arg("import")
        .arg(&bad)
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let text = std::fs::read_to_string(&both).unwrap();
    assert_eq!(text.matches(reason).count(), 1, "{text}");
    let error = text
        .lines()
        .find(|l| l.contains("ERROR"))
        .unwrap_or_default();
    assert!(error.contains(reason), "the error line says why:\n{text}");
    let report = text
        .lines()
        .find(|l| l.starts_with("REJECTED: "))
        .unwrap_or_default();
    assert!(
        report.contains(".rejected/") && report.contains("bad.json"),
        "the report says where it is kept and which file:\n{text}"
    );

    // Apart (a report piped to a file, the log to the terminal), both say it.
    let run = env.import(&[&bad]);
    run.assert_status(1).assert_says(reason);
    assert!(run.stderr.contains(reason), "{}", run.stderr);
}

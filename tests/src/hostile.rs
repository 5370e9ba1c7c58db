//! The hostile-input corpus: every malformed alert of `docs/contracts.md` "Bad
//! input" and worse, each with the outcome the project promises for it.
//!
//! This module is the one source of the corpus. gocart-ingest's
//! `examples/hostile_corpus.rs` writes it to `ingest/tests/hostile/` (the
//! committed copy, with `manifest.json`), and its test `hostile` checks that the
//! copy is exactly what this code makes, then runs every case through `import`
//! and through a broker. Cases too large to
//! commit are listed in the manifest without a file and made again at test time.
//!
//! Sky maps come from `skymap::synth` (through `messages::fits_bytes`); the
//! "lying header" and "bad UNIQ" cases are those valid files with one card or
//! one table cell rewritten in place, so each case differs from a good map in
//! exactly the way its name says.

use std::path::Path;

use serde_json::{json, Value};

use crate::messages::{alert_json, b64, fits_bytes, to_bytes, MapSpec};
use crate::notices;
use gocart_ingest::skymap::synth::{Distance, Layout};
use gocart_shared::Kind;

/// Cases larger than this are not committed; the test makes them.
pub const MAX_COMMITTED_BYTES: usize = 200 * 1024;

/// `time_created` of every case.
pub const CREATED: &str = "2023-04-24T00:02:04Z";

/// What must become of a case.
#[derive(Debug, Clone, PartialEq)]
pub enum Expect {
    /// Rejected, with this fragment in the reason.
    Rejected(String),
    /// A complete alert directory.
    Written,
}

/// One hostile message.
pub struct Case {
    /// Also its file name (`<name>.json`): what it is, in a few words.
    pub name: String,
    pub bytes: Vec<u8>,
    pub expect: Expect,
    pub about: String,
    /// The kind it claims to be: the broker test sends it on that kind's topic.
    pub kind: Kind,
}

impl Case {
    pub fn committed(&self) -> bool {
        self.bytes.len() <= MAX_COMMITTED_BYTES
    }

    pub fn file_name(&self) -> String {
        format!("{}.json", self.name)
    }
}

/// Builds the cases, giving each its own superevent id so that no two messages
/// are the same bytes and the written ones never share a directory.
struct Corpus {
    cases: Vec<Case>,
    /// A small valid CBC map (about 100 pixels): the base of the FITS cases.
    fits: Vec<u8>,
    /// The kind of the cases being made.
    kind: Kind,
}

impl Corpus {
    /// The id for the next case: `MS230424` and a letter suffix.
    fn next_id(&self) -> String {
        let mut n = self.cases.len();
        let mut suffix = String::new();
        loop {
            suffix.insert(0, (b'a' + (n % 26) as u8) as char);
            n /= 26;
            if n == 0 {
                break;
            }
            n -= 1;
        }
        format!("MS230424{suffix}")
    }

    fn push(&mut self, name: &str, bytes: Vec<u8>, expect: Expect, about: &str) {
        assert!(
            !self.cases.iter().any(|c| c.name == name),
            "two cases named {name}"
        );
        self.cases.push(Case {
            name: name.into(),
            bytes,
            expect,
            about: about.into(),
            kind: self.kind,
        });
    }

    fn reject(&mut self, name: &str, bytes: Vec<u8>, reason: &str, about: &str) {
        self.push(name, bytes, Expect::Rejected(reason.into()), about);
    }

    fn write(&mut self, name: &str, bytes: Vec<u8>, about: &str) {
        self.push(name, bytes, Expect::Written, about);
    }

    /// A valid alert (with the small map) for this case, as a JSON value.
    fn alert(&self) -> Value {
        alert_json(&self.next_id(), "PRELIMINARY", CREATED, Some(&self.fits))
    }

    /// A valid alert whose sky map is `fits`.
    fn with_map(&self, fits: &[u8]) -> Vec<u8> {
        to_bytes(&alert_json(
            &self.next_id(),
            "PRELIMINARY",
            CREATED,
            Some(fits),
        ))
    }

    /// A valid alert after `edit`.
    fn edited(&self, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut v = self.alert();
        edit(&mut v);
        to_bytes(&v)
    }

    /// A valid alert with `"far": 1.5e-9` replaced by `literal` in its text: for
    /// what serde_json cannot build (NaN, 1e400, 30-digit integers).
    fn with_far_literal(&self, literal: &str) -> Vec<u8> {
        let text = String::from_utf8(self.edited(|v| v["event"]["far"] = json!(1.5e-9))).unwrap();
        assert!(text.contains("\"far\": 1.5e-9"));
        text.replacen("\"far\": 1.5e-9", &format!("\"far\": {literal}"), 1)
            .into_bytes()
    }

    /// The small map with one header card's value replaced.
    fn map_with_card(&self, keyword: &str, value: &str) -> Vec<u8> {
        let mut fits = self.fits.clone();
        set_card(&mut fits, keyword, value);
        fits
    }

    /// The small map with one UNIQ cell replaced.
    fn map_with_uniq(&self, row: usize, uniq: i64) -> Vec<u8> {
        let mut fits = self.fits.clone();
        set_cell(&mut fits, row, 0, &uniq.to_be_bytes());
        fits
    }

    /// The small map with one PROBDENSITY cell replaced.
    fn map_with_density(&self, row: usize, density: f64) -> Vec<u8> {
        let mut fits = self.fits.clone();
        set_cell(&mut fits, row, 8, &density.to_be_bytes());
        fits
    }
}

/// The small map every FITS case starts from: coarse, a few kilobytes.
pub fn small_map() -> Vec<u8> {
    fits_bytes(&MapSpec {
        ra: 120.0,
        dec: -30.0,
        sigma: 10.0,
        distance: Some(Distance {
            mu: 250.0,
            sigma: 60.0,
        }),
        creator: "BAYESTAR".into(),
        layout: Layout {
            base_depth: 1,
            max_depth: 3,
            refine_level: 0.9,
            ..Layout::default()
        },
    })
}

/// Every case, in a stable order.
pub fn cases() -> Vec<Case> {
    let mut c = Corpus {
        cases: Vec::new(),
        fits: small_map(),
        kind: Kind::Lvk,
    };
    json_structure(&mut c);
    fields(&mut c);
    numbers(&mut c);
    names(&mut c);
    base64_cases(&mut c);
    fits_headers(&mut c);
    fits_cells(&mut c);
    sizes(&mut c);
    notice_cases(&mut c);
    odd_names_and_times(&mut c);
    terminal(&mut c);
    c.cases
}

/// The other kinds of the dossier: names that would be paths, times and
/// lists that are not, and what may be missing without harm. Each written
/// one is linked to its own mock event (`mockevents/`).
fn notice_cases(c: &mut Corpus) {
    let t = "2023-04-24T00:02:04Z";
    let edit = |mut v: Value, f: &dyn Fn(&mut Value)| {
        f(&mut v);
        to_bytes(&v)
    };
    c.kind = Kind::Icecube;
    let icecube = |c: &Corpus| notices::icecube(&c.next_id(), t, (0.1, 0.2), 1);
    let b = edit(icecube(c), &|v| v["ref_ID"] = json!("../../../etc"));
    c.reject(
        "icecube-ref-id-traversal",
        b,
        "field `ref_ID`",
        "ref_ID climbing out of the tree",
    );
    let b = edit(icecube(c), &|v| v["ref_ID"] = json!("GRB230424A"));
    c.reject(
        "icecube-ref-id-not-a-superevent",
        b,
        "is not a superevent id",
        "ref_ID a plain name but no S/MS id",
    );
    let b = edit(icecube(c), &|v| {
        let o = v.as_object_mut().unwrap();
        o.remove("alert_datetime");
        o.remove("trigger_time");
    });
    c.reject(
        "icecube-no-time",
        b,
        "alert_datetime or trigger_time",
        "no time to name the directory by",
    );
    let id = c.next_id();
    let b = to_bytes(&json!({"$schema": icecube(c)["$schema"], "ref_ID": id, "alert_datetime": t}));
    c.write(
        "icecube-only-what-makes-the-path",
        b,
        "no p-values, no direction: written, EXTRA.missing says so",
    );
    let b = edit(icecube(c), &|v| {
        v["pval_generic"] = json!("0.01");
        v["pval_bayesian"] = json!([1, 2]);
        v["most_probable_direction"] = json!({"ra": 1e300, "dec": -1e300});
        v["coincident_events"] = json!("none");
    });
    c.write(
        "icecube-fields-of-the-wrong-type",
        b,
        "p-values as text and a list, a direction off the sphere",
    );

    c.kind = Kind::Circular;
    let circular = |c: &Corpus| {
        notices::circular(
            33_000 + c.cases.len() as u64,
            &format!("LIGO/Virgo/KAGRA {}: x", c.next_id()),
            None,
            1_682_294_524_000,
        )
    };
    let b = edit(circular(c), &|v| v["circularId"] = json!("1/../../x"));
    c.reject(
        "circular-id-traversal",
        b,
        "field `circularId`",
        "circularId with slashes",
    );
    let b = edit(circular(c), &|v| v["circularId"] = json!(-5));
    c.reject(
        "circular-id-negative",
        b,
        "field `circularId`",
        "a negative circular id",
    );
    let b = edit(circular(c), &|v| v["createdOn"] = json!("last Tuesday"));
    c.reject(
        "circular-created-on-not-a-time",
        b,
        "field `createdOn`",
        "createdOn as words",
    );
    let b = edit(circular(c), &|v| {
        v["subject"] = json!(format!(
            "{} ☃ \u{202e} S230424 MS2304240a SS230424a",
            v["subject"].as_str().unwrap()
        ));
        v["eventId"] = json!(7);
    });
    c.write(
        "circular-subject-with-near-ids",
        b,
        "a subject with unicode and almost-ids: only the real id counts",
    );

    c.kind = Kind::Boom;
    let boom =
        |c: &Corpus, name: &str| notices::boom(t, &[(name, 10.0, 20.0, &[c.next_id().as_str()])]);
    c.reject(
        "boom-event-name-traversal",
        to_bytes(&boom(c, "../ZTF")),
        "event_name",
        "a candidate name with a path",
    );
    let b = edit(boom(c, "ZTF23a"), &|v| {
        v["data"]["targets"] = json!({"a": 1})
    });
    c.reject(
        "boom-targets-not-a-list",
        b,
        "data.targets",
        "targets as a mapping",
    );
    let b = edit(boom(c, "ZTF23b"), &|v| {
        v["data"]["targets"][0]["gcn_crossmatch"] = json!([{"ref_ID": "GRB1"}])
    });
    c.reject(
        "boom-crossmatched-to-no-superevent",
        b,
        "no target is crossmatched",
        "crossmatched to a GRB only",
    );
    let id = c.next_id();
    let ids = [id.as_str()];
    let many: Vec<(String, f64, f64)> = (0..40).map(|i| (format!("ZTF23m{i}"), 1.0, 2.0)).collect();
    let targets: Vec<(&str, f64, f64, &[&str])> = many
        .iter()
        .map(|(n, r, d)| (n.as_str(), *r, *d, &ids[..]))
        .collect();
    c.reject(
        "boom-forty-targets",
        to_bytes(&notices::boom(t, &targets)),
        "more than the 32",
        "40 directories from one message",
    );
    let b = edit(boom(c, "ZTF23c"), &|v| {
        v["data"]["targets"][0]["ra"] = json!("east");
        v["data"]["targets"][0]["classification_scores"] = json!({"x": "high"});
    });
    c.write(
        "boom-target-without-a-position",
        b,
        "a candidate whose position is text: written, no picture",
    );

    c.kind = Kind::EinsteinProbe;
    let ep =
        |c: &Corpus| notices::einstein_probe(&format!("0170{}", c.cases.len()), t, 1.0, 2.0, 0.1);
    let b = edit(ep(c), &|v| v["id"] = json!([]));
    c.reject(
        "ep-id-empty-list",
        b,
        "an empty list",
        "no id to name the folder by",
    );
    let b = edit(ep(c), &|v| v["id"] = json!(["a/b"]));
    c.reject(
        "ep-id-with-a-slash",
        b,
        "field `id[0]`",
        "an id with a slash",
    );

    c.kind = Kind::SwiftGuano;
    let guano = |c: &Corpus| {
        notices::swift_guano(&format!("7000{}", c.cases.len()), "update", t, None, None)
    };
    let b = edit(guano(c), &|v| v["alert_type"] = json!("../initial"));
    c.reject(
        "guano-alert-type-traversal",
        b,
        "field `alert_type`",
        "an alert type with a path",
    );
    let b = edit(guano(c), &|v| v["healpix_file"] = json!("hhhh..."));
    c.reject(
        "guano-healpix-not-base64",
        b,
        "healpix_file",
        "the schema example's placeholder",
    );
    let b = edit(guano(c), &|v| {
        v["healpix_file"] = json!(b64(b"SIMPLE  =                    T"))
    });
    c.reject(
        "guano-healpix-not-a-map",
        b,
        "healpix_file",
        "base64 of a FITS card, not a map",
    );
    c.kind = Kind::Lvk;
}

/// Names that are plain but begin with `-` (a plugin or shell command given
/// `circulars/-rf/` or `GOCART_SUPEREVENT_ID=-rf` reads an option), times
/// outside 1990..2100 (`createdOn: 8210266876799999` would be the stamp
/// `+2621421231T235959`), and a circular naming more superevents than one
/// message may make directories: every kind, each rejected naming its field.
fn odd_names_and_times(c: &mut Corpus) {
    let t = "2023-04-24T00:02:04Z";
    let edit = |mut v: Value, f: &dyn Fn(&mut Value)| {
        f(&mut v);
        to_bytes(&v)
    };
    c.kind = Kind::Lvk;
    let b = c.edited(|v| v["superevent_id"] = json!("-rf"));
    c.reject(
        "name-id-leading-dash",
        b,
        "field `superevent_id`: \"-rf\" begins with `-`",
        "superevent_id -rf",
    );
    let b = c.edited(|v| v["alert_type"] = json!("--help"));
    c.reject(
        "name-type-leading-dash",
        b,
        "field `alert_type`: \"--help\" begins with `-`",
        "alert_type --help",
    );
    for (name, time) in [
        ("time-created-before-1990", "1989-12-31T23:59:59Z"),
        ("time-created-in-2100", "2100-01-01T00:00:00Z"),
    ] {
        let b = c.edited(|v| v["time_created"] = json!(time));
        c.reject(
            name,
            b,
            "field `time_created`",
            &format!("time_created {time}: outside 1990..2100"),
        );
    }

    c.kind = Kind::Circular;
    let circular = |c: &Corpus| {
        notices::circular(
            33_000 + c.cases.len() as u64,
            &format!("LIGO/Virgo/KAGRA {}: x", c.next_id()),
            None,
            1_682_294_524_000,
        )
    };
    let b = edit(circular(c), &|v| v["circularId"] = json!("-rf"));
    c.reject(
        "circular-id-leading-dash",
        b,
        "field `circularId`: \"-rf\" begins with `-`",
        "circularId -rf",
    );
    let b = edit(circular(c), &|v| {
        v["createdOn"] = json!(8_210_266_876_799_999_i64)
    });
    c.reject(
        "circular-created-on-year-262142",
        b,
        "field `createdOn`",
        "createdOn in the year 262142",
    );
    let b = edit(circular(c), &|v| {
        let ids: Vec<String> = (0..200)
            .map(|i| format!("S2305{:02}{}", i % 25 + 1, (b'a' + (i / 25) as u8) as char))
            .collect();
        v["subject"] = json!(format!("LIGO/Virgo/KAGRA {}", ids.join(", ")));
    });
    c.reject(
        "circular-naming-200-superevents",
        b,
        "field `eventId/subject`: 200 superevents named: more than the 32",
        "200 superevents in the subject: refused whole, not cut to 32",
    );

    c.kind = Kind::Icecube;
    let b = edit(notices::icecube(&c.next_id(), t, (0.1, 0.2), 1), &|v| {
        v["alert_datetime"] = json!("2150-01-01T00:00:00Z")
    });
    c.reject(
        "icecube-time-in-2150",
        b,
        "field `alert_datetime`",
        "a time after 2100",
    );

    c.kind = Kind::Boom;
    let b = to_bytes(&notices::boom(
        t,
        &[("-ZTF23x", 10.0, 20.0, &[c.next_id().as_str()])],
    ));
    c.reject(
        "boom-event-name-leading-dash",
        b,
        "field `data.targets[0].event_name`: \"-ZTF23x\" begins with `-`",
        "a candidate name read as an option",
    );

    c.kind = Kind::EinsteinProbe;
    let b = to_bytes(&notices::einstein_probe("-rf", t, 1.0, 2.0, 0.1));
    c.reject(
        "ep-id-leading-dash",
        b,
        "field `id[0]`: \"-rf\" begins with `-`",
        "an id read as an option",
    );

    c.kind = Kind::SwiftGuano;
    let b = to_bytes(&notices::swift_guano("70001", "-initial", t, None, None));
    c.reject(
        "guano-alert-type-leading-dash",
        b,
        "field `alert_type`: \"-initial\" begins with `-`",
        "an alert type read as an option",
    );
    c.kind = Kind::Lvk;
}

/// Escape sequences and line breaks in fields that are printed: the report
/// and the log must show them, never obey them (the test checks that no raw
/// ESC, CSI or CR and no line starting `FAKE` reaches stdout or stderr).
fn terminal(c: &mut Corpus) {
    const TITLE: &str = "\u{1b}]0;gocart owned\u{7}";
    const CLEAR: &str = "\u{1b}[2J";
    const FAKE_LINE: &str = "\r\nFAKE: WRITTEN ok\r\n";
    let bytes = c.edited(|v| {
        v["event"]["group"] = json!(format!("CBC{CLEAR}{FAKE_LINE}"));
        v["event"]["classification"] = json!({
            format!("BNS{TITLE}"): 0.9,
            format!("BBH{CLEAR}"): 0.05,
            format!("NSBH{FAKE_LINE}"): 0.05,
        });
        v["event"]["properties"] = json!({format!("HasNS\u{9b}31m"): 0.5});
        v["time_created"] = json!(format!("\r\n{CREATED}\t"));
    });
    c.write(
        "terminal-escapes-in-printed-fields",
        bytes,
        "window-title and clear-screen sequences in classification keys and event.group, \
         CR/LF forging a `FAKE: WRITTEN ok` line, a C1 CSI in a property",
    );
    let bytes = c.edited(|v| {
        v["event"]["classification"] = json!({format!("BNS{TITLE}{FAKE_LINE}"): "high"});
    });
    c.reject(
        "terminal-escapes-in-a-rejection-reason",
        bytes,
        "event.classification.BNS",
        "a rejected value whose key (quoted in the reason) carries escape sequences",
    );
}

/// Messages that are not a JSON object, or not JSON at all.
fn json_structure(c: &mut Corpus) {
    c.reject(
        "json-not-json",
        b"this is not JSON".to_vec(),
        "not a JSON alert",
        "plain text",
    );
    c.reject(
        "json-empty",
        Vec::new(),
        "the message is empty",
        "zero bytes",
    );
    c.reject(
        "json-whitespace-only",
        b" \n\t\r\n ".to_vec(),
        "the message is empty",
        "only whitespace",
    );
    c.reject(
        "json-top-level-array",
        b"[{\"superevent_id\": \"MS230424a\"}]".to_vec(),
        "expected a JSON object, found an array",
        "an array holding an alert-like object",
    );
    c.reject(
        "json-top-level-string",
        b"\"MS230424a\"".to_vec(),
        "expected a JSON object, found a string",
        "a bare string",
    );
    c.reject(
        "json-top-level-null",
        b"null".to_vec(),
        "expected a JSON object, found null",
        "null",
    );
    let good = to_bytes(&c.alert());
    c.reject(
        "json-truncated-half",
        good[..good.len() / 2].to_vec(),
        "not a JSON alert",
        "a valid alert cut in the middle of its base64 sky map",
    );
    let mut trailing = to_bytes(&c.alert());
    trailing.extend_from_slice(b"\n}}]garbage");
    c.reject(
        "json-trailing-garbage",
        trailing,
        "trailing characters",
        "a valid alert followed by junk",
    );
    c.reject(
        "json-nested-100k-arrays",
        "[".repeat(100_000).into_bytes(),
        "recursion limit exceeded",
        "100 000 opening brackets (a stack overflow for a recursive parser)",
    );
    c.reject(
        "json-nested-50k-objects",
        "{\"a\":".repeat(50_000).into_bytes(),
        "recursion limit exceeded",
        "50 000 nested objects",
    );
    let deep = format!("{}1{}", "[".repeat(1_000), "]".repeat(1_000));
    let nested = String::from_utf8(c.edited(|v| v["event"]["properties"]["HasNS"] = json!(0.5)))
        .unwrap()
        .replacen("\"HasNS\": 0.5", &format!("\"HasNS\": {deep}"), 1);
    c.reject(
        "json-nested-deep-inside-event",
        nested.into_bytes(),
        "recursion limit exceeded",
        "a valid alert with 1000 nested arrays as a property",
    );
    let mut invalid_utf8 = to_bytes(&c.alert());
    let at = find(&invalid_utf8, b"gstlal").unwrap();
    invalid_utf8[at..at + 2].copy_from_slice(&[0xff, 0xfe]);
    c.reject(
        "json-invalid-utf8",
        invalid_utf8,
        "not a JSON alert",
        "bytes that are not UTF-8 inside a string",
    );
    let mut bom = "\u{feff}".as_bytes().to_vec();
    bom.extend(to_bytes(&c.alert()));
    c.reject(
        "json-byte-order-mark",
        bom,
        "not a JSON alert",
        "a valid alert behind a UTF-8 byte-order mark",
    );
    let lone = String::from_utf8(c.edited(|v| v["event"]["pipeline"] = json!("PIPELINE")))
        .unwrap()
        .replacen("\"PIPELINE\"", "\"\\ud800\"", 1);
    c.reject(
        "json-lone-surrogate",
        lone.into_bytes(),
        "not a JSON alert",
        "a \\ud800 escape with no trailing surrogate",
    );
    let id = c.next_id();
    let duplicate = String::from_utf8(c.edited(|v| v["superevent_id"] = json!("DUPLICATE")))
        .unwrap()
        .replacen(
            "\"superevent_id\": \"DUPLICATE\"",
            &format!("\"superevent_id\": \"{id}\", \"superevent_id\": \"../../dup\""),
            1,
        );
    c.reject(
        "json-duplicate-key-traversal",
        duplicate.into_bytes(),
        "field `superevent_id`",
        "superevent_id given twice, the second one a path traversal",
    );
}

/// Missing and mistyped fields.
fn fields(c: &mut Corpus) {
    for field in ["superevent_id", "alert_type", "time_created"] {
        let bytes = c.edited(|v| {
            v.as_object_mut().unwrap().shift_remove(field);
        });
        c.reject(
            &format!("field-missing-{}", field.replace('_', "-")),
            bytes,
            &format!("field `{field}`: missing"),
            &format!("no {field}"),
        );
    }
    // (case, event key, reason fragment, value, about)
    let mistyped: [(&str, &str, &str, Value, &str); 12] = [
        (
            "far-string",
            "far",
            "field `event.far`",
            json!("often"),
            "far as a string",
        ),
        (
            "far-negative",
            "far",
            "field `event.far`",
            json!(-1e-9),
            "a negative false-alarm rate",
        ),
        (
            "significant-string",
            "significant",
            "event.significant",
            json!("yes"),
            "significant as a string",
        ),
        (
            "instruments-numbers",
            "instruments",
            "event.instruments",
            json!([1, 2]),
            "instruments as numbers",
        ),
        (
            "classification-string",
            "classification",
            "event.classification.BNS",
            json!({"BNS": "high"}),
            "a classification that is not a number",
        ),
        (
            "properties-array",
            "properties",
            "event.properties",
            json!([0.5]),
            "properties as an array",
        ),
        (
            "skymap-number",
            "skymap",
            "field `event.skymap`: expected a base64 string",
            json!(12),
            "skymap as a number",
        ),
        (
            "skymap-array",
            "skymap",
            "field `event.skymap`: expected a base64 string",
            json!(["AAAA"]),
            "skymap as an array of strings",
        ),
        (
            "time-not-a-time",
            "time",
            "field `event.time`",
            json!("yesterday"),
            "event.time that is not a time",
        ),
        (
            "time-number",
            "time",
            "event.time",
            json!(1682294460.5),
            "event.time as a Unix timestamp",
        ),
        (
            "group-object",
            "group",
            "event.group",
            json!({"CBC": true}),
            "group as an object",
        ),
        (
            "pipeline-bool",
            "pipeline",
            "event.pipeline",
            json!(false),
            "pipeline as a boolean",
        ),
    ];
    for (name, key, reason, value, about) in mistyped {
        let bytes = c.edited(|v| v["event"][key] = value);
        c.reject(&format!("field-{name}"), bytes, reason, about);
    }
    let bytes = c.edited(|v| v["event"] = json!([1, 2, 3]));
    c.reject(
        "field-event-array",
        bytes,
        "field `event[0]`",
        "event as an array (serde reads a struct from a sequence, field by field)",
    );
    let bytes = c.edited(|v| v["superevent_id"] = json!(230424));
    c.reject(
        "field-superevent-id-number",
        bytes,
        "field `superevent_id`",
        "superevent_id as a number",
    );
    let bytes = c.edited(|v| v["time_created"] = json!("24/04/2023 00:02"));
    c.reject(
        "field-time-created-not-iso",
        bytes,
        "field `time_created`",
        "time_created in a local format",
    );
    let bytes = c.edited(|v| v["external_coinc"] = json!({"combined_skymap": {"a": 1}}));
    c.reject(
        "field-combined-skymap-object",
        bytes,
        "field `external_coinc.combined_skymap`: expected a base64 string",
        "combined_skymap as an object",
    );
}

/// Numbers JSON can write but a float cannot hold, and literals JSON forbids.
fn numbers(c: &mut Corpus) {
    let cases = [
        ("number-far-1e400", "1e400", "number out of range"),
        ("number-far-minus-1e400", "-1e400", "number out of range"),
        ("nan-far-literal", "NaN", "not a JSON alert"),
        ("nan-far-infinity-literal", "Infinity", "not a JSON alert"),
        (
            "nan-far-minus-infinity-literal",
            "-Infinity",
            "not a JSON alert",
        ),
    ];
    for (name, literal, reason) in cases {
        let bytes = c.with_far_literal(literal);
        c.reject(name, bytes, reason, &format!("\"far\": {literal}"));
    }
    let bytes = c.edited(|v| v["event"]["far"] = json!("NaN"));
    c.reject(
        "nan-far-string",
        bytes,
        "field `event.far`",
        "far as the string \"NaN\"",
    );
    let text = String::from_utf8(c.edited(|v| v["event"]["classification"]["BNS"] = json!(0.25)))
        .unwrap()
        .replacen("\"BNS\": 0.25", "\"BNS\": NaN", 1);
    c.reject(
        "nan-classification-literal",
        text.into_bytes(),
        "not a JSON alert",
        "a NaN literal in the classification",
    );
    // A 30-digit integer is a valid JSON number: as a rate it is absurd but finite,
    // and an alert is not refused for an implausible value.
    let bytes = c.with_far_literal("123456789012345678901234567890");
    c.write(
        "number-far-30-digit-integer",
        bytes,
        "far as a 30-digit integer (read as 1.2e29 Hz)",
    );
    let bytes = c.with_far_literal("5e-324");
    c.write(
        "number-far-smallest-subnormal",
        bytes,
        "far as the smallest subnormal float (\"1 per inf yrs\")",
    );
    let text = String::from_utf8(c.edited(|v| v["event"]["time"] = json!("TIME")))
        .unwrap()
        .replacen("\"TIME\"", "123456789012345678901234567890", 1);
    c.reject(
        "number-time-30-digit-integer",
        text.into_bytes(),
        "field `event.time`",
        "event.time as a 30-digit integer",
    );
    let text = String::from_utf8(c.edited(|v| v["time_created"] = json!("TIME")))
        .unwrap()
        .replacen("\"TIME\"", "-123456789012345678901234567890", 1);
    c.reject(
        "number-time-created-30-digit-integer",
        text.into_bytes(),
        "field `time_created`",
        "time_created as a negative 30-digit integer",
    );
    let bytes = c.edited(|v| v["time_created"] = json!("99999-12-31T23:59:59Z"));
    c.reject(
        "number-time-created-year-99999",
        bytes,
        "field `time_created`",
        "a five-digit year",
    );
    let text = String::from_utf8(c.edited(|v| v["event"]["properties"]["HasNS"] = json!(0.5)))
        .unwrap()
        .replacen(
            "\"HasNS\": 0.5",
            &format!("\"HasNS\": 1{}", "0".repeat(400)),
            1,
        );
    c.reject(
        "number-property-401-digits",
        text.into_bytes(),
        "number out of range",
        "a property written with 401 digits",
    );
}

/// Superevent ids and alert types that are not plain names: they become path
/// components, so each must be refused before anything touches the disk.
fn names(c: &mut Corpus) {
    let too_long = format!("MS230424{}", "x".repeat(57));
    let ids: [(&str, &str); 17] = [
        ("dotdot-slash", "../x"),
        ("escape-tree", "../../escape"),
        ("deep-escape", "../../../../../../../../tmp/gocart-escape"),
        ("absolute", "/tmp/gocart-escape"),
        ("dotdot", ".."),
        ("dot", "."),
        ("empty", ""),
        ("slash", "MS230424a/b"),
        ("backslash", "MS230424a\\b"),
        ("nul", "MS230424\u{0}a"),
        ("newline-log-injection", "MS230424a\nWRITTEN: /etc/passwd"),
        ("accented", "MS230424é"),
        ("rtl-override", "MS\u{202e}a424032"),
        ("emoji", "MS230424\u{1f30a}"),
        ("fullwidth-slash", "MS230424\u{ff0f}x"),
        ("zero-width-space", "MS230424\u{200b}a"),
        ("65-characters", &too_long),
    ];
    for (name, id) in ids {
        let bytes = c.edited(|v| v["superevent_id"] = json!(id));
        c.reject(
            &format!("name-id-{name}"),
            bytes,
            "field `superevent_id`",
            &format!("superevent_id {id:?}"),
        );
    }
    let types: [(&str, &str); 7] = [
        ("traversal", "../../etc"),
        ("slash", "a/b"),
        ("empty", ""),
        ("nul", "INITIAL\u{0}"),
        ("emoji", "INITIAL\u{1f680}"),
        ("rtl-override", "\u{202e}LAITINI"),
        ("dotdot", ".."),
    ];
    for (name, t) in types {
        let bytes = c.edited(|v| v["alert_type"] = json!(t));
        c.reject(
            &format!("name-type-{name}"),
            bytes,
            "field `alert_type`",
            &format!("alert_type {t:?}"),
        );
    }
    // Free text fields never become paths: any Unicode there is kept as sent.
    let bytes = c.edited(|v| {
        v["event"]["instruments"] = json!(["H1", "L1\u{202e}", "\u{1f30a}"]);
        v["event"]["pipeline"] = json!("gst\u{0}lal\u{200b}");
        v["urls"]["gracedb"] = json!("https://example.org/../../etc/passwd");
    });
    c.write(
        "name-unicode-in-free-text-fields",
        bytes,
        "emoji, RTL override, NUL and a traversal in fields that are never paths",
    );
}

/// Sky-map strings that are not base64 of a FITS file.
fn base64_cases(c: &mut Corpus) {
    let bytes = c.edited(|v| v["event"]["skymap"] = json!("!!!! this is not base64 !!!!"));
    c.reject(
        "b64-invalid-characters",
        bytes,
        "field `event.skymap`: not valid base64",
        "punctuation instead of base64",
    );
    let encoded = b64(&c.fits);
    let cut = &encoded[..encoded.len() - 3];
    let bytes = c.edited(|v| v["event"]["skymap"] = json!(cut));
    c.reject(
        "b64-truncated",
        bytes,
        "field `event.skymap`: not valid base64",
        "the map's base64 with its last 3 characters cut",
    );
    let cut = &encoded[..(encoded.len() / 2) & !3];
    let bytes = c.edited(|v| v["event"]["skymap"] = json!(cut));
    c.reject(
        "b64-truncated-on-a-quad",
        bytes,
        "field `event.skymap`",
        "half the map's base64, cut on a 4-character boundary: valid base64, half a FITS file",
    );
    let url_safe = encoded.replace('+', "-").replace('/', "_");
    assert_ne!(url_safe, encoded);
    let bytes = c.edited(|v| v["event"]["skymap"] = json!(url_safe));
    c.reject(
        "b64-url-safe-alphabet",
        bytes,
        "not valid base64",
        "the map in the URL-safe base64 alphabet",
    );
    let wrapped: String = encoded
        .as_bytes()
        .chunks(76)
        .map(|l| std::str::from_utf8(l).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = c.edited(|v| v["event"]["skymap"] = json!(wrapped));
    c.write(
        "b64-wrapped-lines",
        bytes,
        "the map's base64 wrapped at 76 characters, as MIME encoders do",
    );
    let bytes = c.edited(|v| v["event"]["skymap"] = json!(""));
    c.write(
        "b64-empty-string",
        bytes,
        "an empty sky-map string: an alert without a map, like null",
    );
    let blob: Vec<u8> = (0..6000u32).map(|i| (i * 7 % 251) as u8).collect();
    let bytes = c.with_map(&blob);
    c.reject(
        "b64-non-fits-blob",
        bytes,
        "field `event.skymap`: not a FITS file",
        "6000 bytes of noise",
    );
    let bytes = c.with_map(&gzip(&c.fits));
    c.reject(
        "b64-gzip-compressed-fits",
        bytes,
        "field `event.skymap`: not a FITS file: it is gzip-compressed",
        "a valid map, gzip-compressed: cfitsio would inflate it in memory (a gzip bomb)",
    );
    let bytes = c.edited(|v| {
        v["external_coinc"] = json!({"observatory": "Fermi", "combined_skymap": "%%%%"})
    });
    c.reject(
        "b64-combined-invalid",
        bytes,
        "field `external_coinc.combined_skymap`: not valid base64",
        "a combined sky map that is not base64",
    );
    let bytes = c.edited(|v| {
        v["external_coinc"] =
            json!({"observatory": "Fermi", "combined_skymap": b64(b"SIMPLE  = T")})
    });
    c.reject(
        "b64-combined-not-a-map",
        bytes,
        "field `external_coinc.combined_skymap`",
        "a combined sky map of 11 bytes",
    );
}

/// FITS files whose header lies about the table.
fn fits_headers(c: &mut Corpus) {
    let rows = table_rows(&c.fits);
    let header_cases: Vec<(String, &str, String, &str, String)> = vec![
        (
            "fits-naxis2-beyond-the-data".into(),
            "NAXIS2",
            (rows + 300).to_string(),
            "not a readable FITS file",
            format!("NAXIS2 = {} for a table of {rows} rows", rows + 300),
        ),
        (
            "fits-naxis2-huge".into(),
            "NAXIS2",
            "1000000000000000".into(),
            "the header claims 1000000000000000 rows",
            "NAXIS2 = 10^15 (a terabyte allocation if believed)".into(),
        ),
        (
            "fits-naxis2-negative".into(),
            "NAXIS2",
            "-1".into(),
            "the first extension is a table whose NAXIS2 is not a non-negative integer in card 5",
            "NAXIS2 = -1: cfitsio then allocated a size it never read (found by fuzzing)".into(),
        ),
        (
            "fits-naxis2-text".into(),
            "NAXIS2",
            "'many    '".into(),
            "the first extension is a table whose NAXIS2 is not a non-negative integer",
            "NAXIS2 = 'many'".into(),
        ),
        (
            "fits-pcount-negative".into(),
            "PCOUNT",
            "-2880".into(),
            "the first extension is a table whose PCOUNT is not a non-negative integer",
            "PCOUNT = -2880".into(),
        ),
        (
            "fits-naxis1-negative".into(),
            "NAXIS1",
            "-40".into(),
            "the first extension is a table whose NAXIS1 is not a non-negative integer in card 4",
            "NAXIS1 = -40".into(),
        ),
        (
            "fits-naxis2-zero".into(),
            "NAXIS2",
            "0".into(),
            "the sky map has no pixels",
            "a zero-row table".into(),
        ),
        (
            "fits-naxis1-narrower-than-columns".into(),
            "NAXIS1",
            "8".into(),
            "the header of the extension after the primary HDU is invalid",
            "rows 8 bytes wide holding 40 bytes of columns".into(),
        ),
        (
            "fits-tfields-more-than-columns".into(),
            "TFIELDS",
            "9".into(),
            "the header of the extension after the primary HDU is invalid",
            "TFIELDS = 9 with 5 columns described".into(),
        ),
        (
            "fits-tfields-one".into(),
            "TFIELDS",
            "1".into(),
            "the header of the extension after the primary HDU is invalid",
            "TFIELDS = 1: only UNIQ is seen".into(),
        ),
        (
            "fits-tfields-zero".into(),
            "TFIELDS",
            "0".into(),
            "the header of the extension after the primary HDU is invalid",
            "TFIELDS = 0".into(),
        ),
        (
            "fits-tfields-huge".into(),
            "TFIELDS",
            "999999999".into(),
            "the first extension declares TFIELDS = 999999999",
            "TFIELDS = 999999999: cfitsio allocated 160 GB for it (found by fuzzing)".into(),
        ),
        (
            "fits-tfields-50-million".into(),
            "TFIELDS",
            "50000000".into(),
            "the first extension declares TFIELDS = 50000000",
            "TFIELDS = 50 million: 8 GB that cfitsio would allocate and fill".into(),
        ),
        (
            "fits-tfields-negative".into(),
            "TFIELDS",
            "-5".into(),
            "the first extension declares TFIELDS = -5",
            "TFIELDS = -5".into(),
        ),
        (
            "fits-tform-unknown-code".into(),
            "TFORM2",
            "'Z       '".into(),
            "the header of the extension after the primary HDU is invalid",
            "PROBDENSITY with TFORM 'Z' (no such type)".into(),
        ),
        (
            "fits-tform-huge-repeat".into(),
            "TFORM1",
            "'99999999999K'".into(),
            "the header of the extension after the primary HDU is invalid",
            "UNIQ with a repeat count of 10^11".into(),
        ),
        (
            "fits-uniq-as-text-column".into(),
            "TFORM1",
            "'8A      '".into(),
            "column UNIQ holds String values, not integers",
            "UNIQ declared as 8 characters of text".into(),
        ),
        (
            "fits-probdensity-as-logical-column".into(),
            "TFORM2",
            "'8L      '".into(),
            "column PROBDENSITY holds Logical values, not numbers",
            "PROBDENSITY declared as 8 logicals".into(),
        ),
        (
            "fits-uniq-as-double-column".into(),
            "TFORM1",
            "'D       '".into(),
            "column UNIQ holds Double values, not integers",
            "UNIQ declared as doubles (its integers would read as tiny subnormals)".into(),
        ),
        (
            "fits-tform-complex".into(),
            "TFORM3",
            "'C       '".into(),
            "column 3 (DISTMU) has TFORM type \"C\"",
            "DISTMU declared complex: the fitsio crate panicked describing it".into(),
        ),
        (
            "fits-tform-variable-length".into(),
            "TFORM4",
            "'1PD(10) '".into(),
            "column 4 (DISTSIGMA) has TFORM type",
            "DISTSIGMA as a variable-length array: the fitsio crate panicked describing it".into(),
        ),
        (
            "fits-xtension-ascii-table".into(),
            "XTENSION",
            "'TABLE   '".into(),
            "the first extension is not a binary table",
            "the binary table's header says it is an ASCII table".into(),
        ),
        (
            "fits-no-uniq-column".into(),
            "TTYPE1",
            "'IPIX    '".into(),
            "no UNIQ column",
            "the UNIQ column renamed IPIX".into(),
        ),
        (
            "fits-no-probdensity-column".into(),
            "TTYPE2",
            "'PROB    '".into(),
            "no PROBDENSITY column",
            "the PROBDENSITY column renamed PROB".into(),
        ),
        (
            "fits-xtension-image".into(),
            "XTENSION",
            "'IMAGE   '".into(),
            "the first extension is not a binary table",
            "the table's header says it is an image".into(),
        ),
        (
            "fits-bitpix-lie".into(),
            "BITPIX",
            "-64".into(),
            "the first extension is a table whose BITPIX is not 8 in card 2",
            "a binary table with BITPIX = -64".into(),
        ),
    ];
    for (name, keyword, value, reason, about) in header_cases {
        let fits = c.map_with_card(keyword, &value);
        let bytes = c.with_map(&fits);
        c.reject(&name, bytes, reason, &about);
    }
    // Odd but harmless cards: the alert is written.
    let harmless_cards = [
        // FITS column names are case-insensitive.
        (
            "fits-lower-case-column-name",
            "TTYPE1",
            "'uniq    '",
            "TTYPE1 = 'uniq': FITS names are case-insensitive",
        ),
        (
            "fits-creator-path-traversal",
            "CREATOR",
            "'../../../etc/passwd'",
            "CREATOR names the file: '../../../etc/passwd' becomes a plain name",
        ),
        (
            "fits-distmean-nan",
            "DISTMEAN",
            "NAN",
            "a header card whose value is NAN",
        ),
    ];
    for (name, keyword, value, about) in harmless_cards {
        let fits = c.map_with_card(keyword, value);
        let bytes = c.with_map(&fits);
        c.write(name, bytes, about);
    }
    let mut fits = c.fits.clone();
    let end = card_offset(&fits, "END").unwrap();
    fits[end..end + 3].copy_from_slice(b"   ");
    let bytes = c.with_map(&fits);
    c.reject(
        "fits-no-end-card",
        bytes,
        "not a readable FITS file",
        "the table header's END card blanked",
    );
    // Found by fuzzing: the checks must not wait for an END card cfitsio does not wait for.
    let at = card_offset(&c.fits, "XTENSION").unwrap();
    let mut fits = c.fits[..at + 20].to_vec();
    fits.extend([0xff; 96]);
    fits.extend(&c.fits[at + 20..c.fits.len() - 96]);
    let bytes = c.with_map(&fits);
    c.reject(
        "fits-xtension-bintable-then-bytes",
        bytes,
        "the first extension is a table whose BITPIX is not 8 in card 2",
        "XTENSION = 'BINTABLE' followed by 0xff bytes (and the cards shifted; found by fuzzing)",
    );
    let mut fits = c.map_with_card("TFIELDS", "999999999");
    let end = card_offset_in(&fits, 0, "END").unwrap();
    fits[end + 5] = 0x16;
    let bytes = c.with_map(&fits);
    c.reject(
        "fits-primary-end-card-with-a-control-byte",
        bytes,
        "the first extension declares TFIELDS = 999999999",
        "the primary header's END card with a 0x16 byte (cfitsio still ends the header there; \
         found by fuzzing) before a table of TFIELDS = 999999999",
    );
    let mut fits = c.map_with_card("TFIELDS", "999999999");
    let end = card_offset(&fits, "END").unwrap();
    fits[end..end + 3].copy_from_slice(b"   ");
    let bytes = c.with_map(&fits);
    c.reject(
        "fits-tfields-huge-without-end-card",
        bytes,
        "the first extension declares TFIELDS = 999999999",
        "TFIELDS = 999999999 in a header with no END card (160 GB for cfitsio)",
    );
    // Found by fuzzing: cfitsio copied this into a 70-byte buffer and glibc aborted.
    let mut fits = c.fits.clone();
    let at = card_offset(&fits, "TTYPE1").unwrap();
    fits[at..at + CARD].copy_from_slice(format!("TTYPE1  ={}", "w".repeat(71)).as_bytes());
    let bytes = c.with_map(&fits);
    c.reject(
        "fits-ttype-unquoted-71-characters",
        bytes,
        "the first extension's TTYPE1 is not a quoted string",
        "an unquoted TTYPE1 of 71 characters: a buffer overflow in cfitsio, abort()",
    );
    // Found by fuzzing: cfitsio reads the mandatory keywords by position and,
    // when one is out of place, allocated a size it never read.
    let mut fits = c.fits.clone();
    let (naxis2, tfields) = (
        card_offset(&fits, "NAXIS2").unwrap(),
        card_offset(&fits, "TFIELDS").unwrap(),
    );
    let moved: Vec<u8> = fits[naxis2..naxis2 + CARD].to_vec();
    fits.copy_within(tfields..tfields + CARD, naxis2);
    fits[tfields..tfields + CARD].copy_from_slice(&moved);
    let bytes = c.with_map(&fits);
    c.reject(
        "fits-naxis2-out-of-place",
        bytes,
        "the first extension is a table whose NAXIS2 is not a non-negative integer in card 5",
        "NAXIS2 and TFIELDS swapped: the mandatory keywords out of order",
    );
    let fits = c.map_with_card("TFORM2", "1D");
    let bytes = c.with_map(&fits);
    c.reject(
        "fits-tform-unquoted",
        bytes,
        "the first extension's TFORM2 is not a quoted string",
        "TFORM2 = 1D without quotes",
    );
    let fits = c.fits[..c.fits.len() - 1000].to_vec();
    let bytes = c.with_map(&fits);
    c.reject(
        "fits-truncated-in-data",
        bytes,
        "not a readable FITS file",
        "the last 1000 bytes of the table cut",
    );
    let fits = c.fits[..4000].to_vec();
    let bytes = c.with_map(&fits);
    c.reject(
        "fits-truncated-in-header",
        bytes,
        "not a readable FITS file",
        "cut in the middle of the table's header",
    );
    let fits = c.fits[..2880].to_vec();
    let bytes = c.with_map(&fits);
    c.reject(
        "fits-primary-hdu-only",
        bytes,
        "not a multi-order sky map",
        "the primary header alone, no table",
    );
    let bytes = c.with_map(&image_fits());
    c.reject(
        "fits-image-extension",
        bytes,
        "not a multi-order sky map",
        "a primary HDU and an image extension, no table",
    );
    let mut fits = c.fits.clone();
    let simple = card_offset_in(&fits, 0, "SIMPLE").unwrap();
    fits[simple..simple + 80].copy_from_slice(&card("SIMPLE", "F"));
    let bytes = c.with_map(&fits);
    c.reject(
        "fits-simple-false",
        bytes,
        "not a FITS file: its first card is not `SIMPLE = T`",
        "SIMPLE = F: a file that says it does not follow the standard",
    );
}

/// Valid FITS files whose table holds values that are not a sky map.
fn fits_cells(c: &mut Corpus) {
    let uniqs: [(&str, i64, &str); 7] = [
        ("zero", 0, "UNIQ 0 is not a valid pixel"),
        ("three", 3, "UNIQ 3 is not a valid pixel"),
        ("negative", -1, "UNIQ -1 is not a valid pixel"),
        ("i64-min", i64::MIN, "is not a valid pixel"),
        ("order-30", 4 << 60, "is not a valid pixel"),
        ("i64-max", i64::MAX, "is not a valid pixel"),
        ("just-past-order-29", 16 << 58, "is not a valid pixel"),
    ];
    for (name, uniq, reason) in uniqs {
        let fits = c.map_with_uniq(5, uniq);
        let bytes = c.with_map(&fits);
        c.reject(
            &format!("uniq-{name}"),
            bytes,
            reason,
            &format!("row 5's UNIQ set to {uniq}"),
        );
    }
    let first = read_uniq(&c.fits, 0);
    let fits = c.map_with_uniq(1, first);
    let bytes = c.with_map(&fits);
    c.reject(
        "uniq-duplicate",
        bytes,
        "pixels overlap",
        "two rows with the same UNIQ",
    );
    // The parent (one level up) of row 0's pixel, in place of row 7.
    let (depth, ipix) = gocart_ingest::skymap::decode_uniq(first).unwrap();
    assert!(depth > 0);
    let parent = 4 * 4i64.pow(depth as u32 - 1) + (ipix as i64 >> 2);
    let fits = c.map_with_uniq(7, parent);
    let bytes = c.with_map(&fits);
    c.reject(
        "uniq-overlapping-parent",
        bytes,
        "pixels overlap",
        "a row holding the parent pixel of another row",
    );
    // Row 3's pixel replaced by its first descendant at order 29.
    let (depth, ipix) = gocart_ingest::skymap::decode_uniq(read_uniq(&c.fits, 3)).unwrap();
    let deepest = 4 * 4i64.pow(29) + ((ipix as i64) << (2 * (29 - depth as u32)));
    let fits = c.map_with_uniq(3, deepest);
    let bytes = c.with_map(&fits);
    c.write(
        "uniq-order-29-pixel",
        bytes,
        "one pixel replaced by a pixel of the deepest order, 29",
    );
    let densities: [(&str, f64, &str); 4] = [
        ("nan", f64::NAN, "PROBDENSITY NaN is not a finite"),
        ("infinite", f64::INFINITY, "PROBDENSITY inf is not a finite"),
        ("negative", -1.0, "PROBDENSITY -1.0 is not a finite"),
        ("huge", 1e300, "the total probability is"),
    ];
    for (name, density, reason) in densities {
        let fits = c.map_with_density(2, density);
        let bytes = c.with_map(&fits);
        c.reject(
            &format!("density-{name}"),
            bytes,
            reason,
            &format!("row 2's PROBDENSITY set to {density}"),
        );
    }
    let mut fits = c.fits.clone();
    for row in 0..table_rows(&fits) {
        set_cell(&mut fits, row, 8, &0f64.to_be_bytes());
    }
    let bytes = c.with_map(&fits);
    c.reject(
        "density-all-zero",
        bytes,
        "the total probability is 0.0,",
        "every PROBDENSITY zero",
    );
    let mut fits = c.fits.clone();
    set_cell(&mut fits, 4, 16, &f64::NAN.to_be_bytes());
    set_cell(&mut fits, 5, 24, &f64::NEG_INFINITY.to_be_bytes());
    let bytes = c.with_map(&fits);
    c.write(
        "distance-nan-and-minus-infinity",
        bytes,
        "a NaN DISTMU and a -inf DISTSIGMA: distances are not checked, only shown",
    );
}

/// Messages over the size limit and strings of a megabyte.
fn sizes(c: &mut Corpus) {
    let mut big = to_bytes(&c.alert());
    big.resize(16 * 1024 * 1024 + 10, b' ');
    c.reject(
        "size-over-16-mib",
        big,
        "larger than the limit of 16777216 bytes",
        "a valid alert padded past 16 MiB",
    );
    let huge = "M".repeat(1 << 20);
    let bytes = c.edited(|v| v["superevent_id"] = json!(huge));
    c.reject(
        "size-1-mib-superevent-id",
        bytes,
        "field `superevent_id`",
        "a superevent_id of one mebibyte",
    );
    let huge = "9".repeat(1 << 20);
    let bytes = c.edited(|v| v["event"]["far"] = json!(huge));
    c.reject(
        "size-1-mib-far-string",
        bytes,
        "field `event.far`",
        "far as a string of one mebibyte",
    );
    let huge = "x".repeat(1 << 20);
    let bytes = c.edited(|v| v["time_created"] = json!(huge));
    c.reject(
        "size-1-mib-time-created",
        bytes,
        "field `time_created`",
        "time_created as a string of one mebibyte",
    );
    let huge = "https://example.org/".to_string() + &"a".repeat(1 << 20);
    let bytes = c.edited(|v| v["urls"]["gracedb"] = json!(huge));
    c.write(
        "size-1-mib-url",
        bytes,
        "a one-mebibyte URL in a free text field: kept as sent",
    );
}

/// Writes the committed corpus: each small case as `<name>.json`, and
/// `manifest.json` listing every case with its expected outcome.
pub fn write_corpus(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut manifest = Vec::new();
    for case in cases() {
        let file = case.committed().then(|| case.file_name());
        if let Some(file) = &file {
            std::fs::write(dir.join(file), &case.bytes)?;
        }
        let (expect, reason) = match &case.expect {
            Expect::Rejected(reason) => ("rejected", Some(reason.clone())),
            Expect::Written => ("written", None),
        };
        let mut entry = json!({
            "name": case.name,
            "file": file,
            "expect": expect,
            "reason": reason,
            "about": case.about,
        });
        if case.kind != Kind::Lvk {
            entry["kind"] = json!(case.kind.as_str());
        }
        manifest.push(entry);
    }
    let mut text = serde_json::to_string_pretty(&Value::from(manifest))?;
    text.push('\n');
    std::fs::write(dir.join("manifest.json"), text)
}

// ---- FITS surgery: one card or one cell of a valid file, rewritten in place.

const BLOCK: usize = 2880;
const CARD: usize = 80;

/// An 80-byte card `KEYWORD = value` (value right-aligned as fixed format asks).
fn card(keyword: &str, value: &str) -> [u8; CARD] {
    let text = if value.starts_with('\'') {
        format!("{keyword:<8}= {value}")
    } else {
        format!("{keyword:<8}= {value:>20}")
    };
    let mut out = [b' '; CARD];
    out[..text.len()].copy_from_slice(text.as_bytes());
    out
}

/// Where the table's header starts: the block holding `XTENSION`.
fn table_header(fits: &[u8]) -> usize {
    (0..fits.len())
        .step_by(BLOCK)
        .find(|&at| fits[at..].starts_with(b"XTENSION"))
        .expect("the map has a table extension")
}

/// The offset of `keyword`'s card in the header starting at `start`.
fn card_offset_in(fits: &[u8], start: usize, keyword: &str) -> Option<usize> {
    (start..fits.len()).step_by(CARD).find(|&at| {
        let name = &fits[at..at + 8];
        std::str::from_utf8(name).is_ok_and(|n| n.trim_end() == keyword)
    })
}

/// The offset of `keyword`'s card in the table's header.
fn card_offset(fits: &[u8], keyword: &str) -> Option<usize> {
    card_offset_in(fits, table_header(fits), keyword)
}

/// Rewrites one card of the table's header.
fn set_card(fits: &mut [u8], keyword: &str, value: &str) {
    let at = card_offset(fits, keyword).unwrap_or_else(|| panic!("no {keyword} card"));
    fits[at..at + CARD].copy_from_slice(&card(keyword, value));
}

/// An integer card of the table's header.
fn int_card(fits: &[u8], keyword: &str) -> usize {
    let at = card_offset(fits, keyword).unwrap();
    std::str::from_utf8(&fits[at + 10..at + 30])
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn table_rows(fits: &[u8]) -> usize {
    int_card(fits, "NAXIS2")
}

/// The offset of byte `column_offset` of `row` in the table's data.
fn cell_offset(fits: &[u8], row: usize, column_offset: usize) -> usize {
    let end = card_offset(fits, "END").unwrap();
    let data = (end / BLOCK + 1) * BLOCK;
    data + row * int_card(fits, "NAXIS1") + column_offset
}

fn set_cell(fits: &mut [u8], row: usize, column_offset: usize, value: &[u8]) {
    let at = cell_offset(fits, row, column_offset);
    fits[at..at + value.len()].copy_from_slice(value);
}

fn read_uniq(fits: &[u8], row: usize) -> i64 {
    let at = cell_offset(fits, row, 0);
    i64::from_be_bytes(fits[at..at + 8].try_into().unwrap())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A FITS file with an empty primary HDU and a small image extension.
fn image_fits() -> Vec<u8> {
    use fitsio::images::{ImageDescription, ImageType};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("image.fits");
    let mut f = fitsio::FitsFile::create(&path).open().unwrap();
    let description = ImageDescription {
        data_type: ImageType::Double,
        dimensions: &[4, 3],
    };
    let hdu = f.create_image("PROBDENSITY", &description).unwrap();
    hdu.write_image(&mut f, &[0.25f64; 12]).unwrap();
    drop(f);
    std::fs::read(path).unwrap()
}

/// `bytes` gzip-compressed (deterministic: no name, no time in the header).
fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

//! Support for the ingest tests: a scratch settings file and tree, running the
//! real binary, reading its CSV; the alert messages built around sky maps we
//! generate are in the test-support crate (`gocart_tests::messages`).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub use gocart_tests::messages::{alert_json, b64, fits_bytes, synthetic_alert, to_bytes, MapSpec};
use gocart_tests::unique;
use serde_json::Value;

/// A scratch settings file and alert tree.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub settings: PathBuf,
    pub tree: PathBuf,
}

impl Env {
    /// Settings with the tree in a temp dir, real alerts on, the picture off
    /// (its own tests cover it), plus `extra` YAML under `lvk:`.
    pub fn new(extra_lvk: &str) -> Env {
        Env::with_settings(&format!(
            "lvk:\n  parse_real_events: true\n  aitoff: {{convert: false}}\n{extra_lvk}"
        ))
    }

    /// Settings text as given; `TREE` in it is replaced by the tree's path.
    pub fn with_settings(text: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        let settings = dir.path().join("gocart.yaml");
        let mut text = text.replace("TREE", &tree.display().to_string());
        if !text.contains("download_dir") {
            text = text.replacen(
                "lvk:\n",
                &format!("lvk:\n  download_dir: {}\n", tree.display()),
                1,
            );
        }
        std::fs::write(&settings, text).unwrap();
        Env {
            dir,
            settings,
            tree,
        }
    }

    pub fn command(&self) -> Command {
        gocart_tests::with_settings(env!("CARGO_BIN_EXE_gocart-ingest"), &self.settings)
    }

    pub fn import(&self, paths: &[&Path]) -> Run {
        let output = self.command().arg("import").args(paths).output().unwrap();
        Run::from(output)
    }

    /// Imports messages given as bytes (written to files named `NN.json`).
    pub fn import_messages(&self, messages: &[Vec<u8>]) -> Run {
        let inbox = self.dir.path().join(format!("inbox-{}", unique()));
        std::fs::create_dir_all(&inbox).unwrap();
        for (i, m) in messages.iter().enumerate() {
            std::fs::write(inbox.join(format!("{i:03}.json")), m).unwrap();
        }
        self.import(&[&inbox])
    }

    /// Every directory two levels under mockevents/ and superevents/.
    pub fn alert_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = Vec::new();
        for kind in ["mockevents", "superevents"] {
            for event in subdirs(&self.tree.join(kind)) {
                dirs.extend(subdirs(&event));
            }
        }
        dirs.sort();
        dirs
    }

    /// Every file in the tree outside `.staging` and `.rejected`, with its bytes.
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files = Vec::new();
        walk(&self.tree, &mut files);
        files.retain(|(p, _)| {
            !p.components()
                .any(|c| c.as_os_str() == ".staging" || c.as_os_str() == ".rejected")
        });
        files.sort();
        files
    }
}

fn walk(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
}

pub fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// The result of running the binary.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            status: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn assert_status(&self, code: i32) -> &Run {
        assert_eq!(
            self.status, code,
            "exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    pub fn assert_says(&self, text: &str) -> &Run {
        assert!(
            self.stdout.contains(text),
            "expected {text:?} in stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// The CSV of an alert directory: header lines, column names, rows.
pub struct Csv {
    pub comments: Vec<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<f64>>,
}

impl Csv {
    pub fn read(path: &Path) -> Csv {
        let text = std::fs::read_to_string(path).unwrap();
        let mut lines = text.lines();
        let mut comments = Vec::new();
        let mut header = "";
        for line in lines.by_ref() {
            if let Some(c) = line.strip_prefix("# ") {
                comments.push(c.to_string());
            } else {
                header = line;
                break;
            }
        }
        let columns: Vec<String> = header.split(',').map(String::from).collect();
        let rows = lines
            .map(|l| {
                l.split(',')
                    .map(|x| {
                        x.parse::<f64>()
                            .unwrap_or_else(|_| panic!("bad number {x:?}"))
                    })
                    .collect()
            })
            .collect();
        Csv {
            comments,
            columns,
            rows,
        }
    }

    pub fn column(&self, name: &str) -> Vec<f64> {
        let i = self
            .columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        self.rows.iter().map(|r| r[i]).collect()
    }
}

/// Loads YAML with PyYAML and prints it back as JSON: what a plugin sees.
pub fn pyyaml_as_json(path: &Path) -> Value {
    let out = Command::new("python3")
        .arg("-c")
        .arg("import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))")
        .arg(path)
        .stderr(Stdio::inherit())
        .output()
        .expect("python3 with PyYAML is needed for this test");
    assert!(
        out.status.success(),
        "PyYAML could not read {}",
        path.display()
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

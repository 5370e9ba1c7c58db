//! The README's first command, taken from the README and run exactly as
//! written: the whole pipeline (trigger, ingest through a local broker or the
//! import path, plugins) on mock alerts, ending cleanly.

use std::path::Path;
use std::process::Command;

/// The line of the README's opening block that starts with `scripts/demo.sh`,
/// without its comment.
fn readme_demo_command(root: &Path) -> String {
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let line = readme
        .lines()
        .find(|l| l.starts_with("scripts/demo.sh"))
        .expect("the README opens with the demo command");
    line.split('#')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn the_readme_demo_runs_the_whole_pipeline() {
    let root = gocart_tests::workspace_root();
    let command = readme_demo_command(&root);
    let out = Command::new("bash")
        .arg("-c")
        .arg(&command)
        .current_dir(&root)
        .output()
        .expect("bash runs the demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{command} failed\n{stdout}\n{stderr}");
    // Six alerts, two plugins each, all run once and ok.
    assert!(
        stdout.contains("runs: pending 0, running 0, queued 0, ok 12, failed 0"),
        "{stdout}\n{stderr}"
    );
    let tree = root.join("demo/lvk_events/mockevents");
    let complete: usize = std::fs::read_dir(&tree)
        .expect("the demo leaves its tree")
        .flatten()
        .flat_map(|event| {
            std::fs::read_dir(event.path())
                .into_iter()
                .flatten()
                .flatten()
        })
        .filter(|alert| alert.path().join(".gocart-complete").is_file())
        .count();
    assert_eq!(complete, 6);
    assert!(stdout.contains("EXTRA of"), "{stdout}");
}

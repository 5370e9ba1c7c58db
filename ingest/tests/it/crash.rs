//! A crash at any moment (`kill -9` while alerts are being written) leaves no
//! directory in the tree without its marker, and a re-run completes every alert.

use crate::common;

use std::path::Path;
use std::time::Duration;

use gocart_shared::Marker;

/// Every alert directory in the tree is complete and matches its marker.
fn assert_tree_consistent(env: &common::Env) {
    for dir in env.alert_dirs() {
        Marker::read_checked(&dir).unwrap_or_else(|e| panic!("torn directory: {e}"));
    }
}

#[test]
fn kill_9_at_random_moments_never_leaves_a_torn_directory() {
    let env = common::Env::new("  json: true\n");
    let inbox = env.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let count = 12;
    for i in 0..count {
        let id = format!("MS2304{:02}a", 10 + i);
        std::fs::write(
            inbox.join(format!("{i:02}.json")),
            common::synthetic_alert(&id, "PRELIMINARY", "2023-04-24T00:02:04Z"),
        )
        .unwrap();
    }
    // A fixed pseudo-random sequence of kill delays, so a failure can be replayed.
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    for _ in 0..15 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = Duration::from_millis(20 + (seed >> 33) % 400);
        let mut child = env
            .command()
            .arg("import")
            .arg(&inbox)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        assert_tree_consistent(&env);
    }
    let run = env.import(&[Path::new(&inbox)]);
    run.assert_status(0);
    assert_tree_consistent(&env);
    assert_eq!(env.alert_dirs().len(), count);
}

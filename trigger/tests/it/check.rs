//! `gocart-trigger check`, run as a user would: one line per check, exit 1 on
//! any failure, each failing line naming what is wrong.

use crate::common;

use std::os::unix::fs::PermissionsExt;

use common::Env;

struct Checked {
    status: i32,
    stdout: String,
}

fn check(env: &Env) -> Checked {
    let output = env.command(&["check"]);
    Checked {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    }
}

fn line_starting<'a>(out: &'a str, start: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{out}"))
}

fn python_plugin(env: &Env, name: &str) {
    let path = env.plugins.join(name);
    std::fs::write(&path, "import yaml\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
}

#[test]
fn a_good_setup_passes_every_check() {
    let env = Env::new();
    env.logging_plugin("gp_log.sh");
    python_plugin(&env, "gp_template.py");
    let run = check(&env);
    assert_eq!(run.status, 0, "{}", run.stdout);
    line_starting(
        &run.stdout,
        &format!("ok   settings {}", env.settings.display()),
    );
    line_starting(&run.stdout, "ok   alert tree");
    line_starting(&run.stdout, "ok   state dir");
    line_starting(&run.stdout, "ok   record");
    line_starting(
        &run.stdout,
        &format!("ok   plugins folder {}", env.plugins.display()),
    );
    line_starting(&run.stdout, "ok   plugin gp_log.sh runs as");
    line_starting(&run.stdout, "ok   plugin gp_template.py runs as");
    line_starting(&run.stdout, "ok   python");
    assert!(!run.stdout.contains("FAIL"), "{}", run.stdout);
    // The record is only created by the trigger itself.
    assert!(!env.state.exists());
}

#[test]
fn a_missing_plugins_folder_fails_naming_it() {
    let env = Env::new();
    std::fs::remove_dir(&env.plugins).unwrap();
    let run = check(&env);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let line = line_starting(&run.stdout, "FAIL plugins folder");
    assert!(
        line.contains(&env.plugins.display().to_string()) && line.contains("does not exist"),
        "{line}"
    );
}

#[test]
fn an_empty_plugins_folder_fails() {
    let env = Env::new();
    let run = check(&env);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let line = line_starting(&run.stdout, "FAIL plugins folder");
    assert!(line.contains("holds no runnable plugin"), "{line}");
}

#[test]
fn a_plugin_without_its_execute_bit_fails_naming_it() {
    let env = Env::new();
    env.logging_plugin("gp_ok.sh");
    let stuck = env.logging_plugin("gp_stuck.sh");
    std::fs::set_permissions(&stuck, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = check(&env);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let line = line_starting(&run.stdout, "FAIL plugin");
    assert!(
        line.contains("gp_stuck.sh") && line.contains("not executable"),
        "{line}"
    );
    line_starting(&run.stdout, "ok   plugin gp_ok.sh");
}

#[test]
fn a_python_without_pyyaml_fails_saying_what_to_install() {
    // An "interpreter" that behaves like a Python lacking PyYAML.
    let env = Env::new();
    let fake = env.tmp.path().join("python-without-yaml");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'yaml'\" >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = std::fs::read_to_string(&env.settings).unwrap();
    std::fs::write(
        &env.settings,
        format!("{text}  python: {}\n", fake.display()),
    )
    .unwrap();
    python_plugin(&env, "gp_template.py");
    let run = check(&env);
    assert_eq!(run.status, 1, "{}", run.stdout);
    let line = line_starting(&run.stdout, "FAIL python");
    assert!(
        line.contains("No module named 'yaml'") && line.contains("pyyaml"),
        "{line}"
    );
}

#[test]
fn a_typo_is_a_warn_line_and_not_a_failure() {
    let env = Env::with_trigger_settings("timeot: 5");
    env.logging_plugin("gp_log.sh");
    let run = check(&env);
    assert_eq!(run.status, 0, "{}", run.stdout);
    let line = line_starting(&run.stdout, "warn settings");
    assert!(
        line.ends_with(":6: trigger.timeot is not a setting; did you mean timeout?"),
        "{line}"
    );
    // Every other command prints it once at start, in the programs' format.
    let status = env.command(&["status"]);
    let stderr = String::from_utf8_lossy(&status.stderr);
    let warning = format!(
        "gocart-trigger: warning: {}:6: trigger.timeot is not a setting; did you mean timeout?",
        env.settings.display()
    );
    assert_eq!(stderr.matches(&warning).count(), 1, "{stderr}");
}

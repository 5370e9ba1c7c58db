//! The two programs behave alike at the command line, run as a user runs
//! them: errors as `PROGRAM: error: ...`, exit 0/1/2 with the same meaning,
//! `-v`/`-q` and `GOCART_LOG` (or `RUST_LOG`) on both, the same `-s` help, an
//! answer for the original's `-p`; `replay` says when nothing matched; and the
//! README's section on each program names every command and flag `--help`
//! shows.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use gocart_tests::binaries;

/// Environment variables to set for a run.
type Env<'a> = &'a [(&'a str, &'a str)];

/// What a finished run printed, and its status.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn expect(&self, status: i32) -> &Run {
        assert_eq!(
            self.status, status,
            "exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Whether the log holds a line of this level (`DEBUG`, `INFO`...).
    fn logs(&self, level: &str) -> bool {
        self.stderr
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some(level))
    }
}

/// Runs `program` with `args` and nothing from the caller's environment
/// that would change the settings file or the log.
fn run(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_remove("GOCART_SETTINGS")
        .env_remove("GOCART_LOG")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied());
    let out = command.output().expect("the program starts");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ingest(args: &[&str]) -> Run {
    run(&binaries().ingest, args, &[])
}

fn trigger(args: &[&str]) -> Run {
    run(&binaries().trigger, args, &[])
}

/// A settings file, an alert tree, a plugins folder with one plugin that
/// succeeds, and a state folder, all in a temporary directory.
struct Setup {
    dir: tempfile::TempDir,
    settings: String,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().canonicalize().unwrap();
        let plugins = base.join("plugins");
        std::fs::create_dir(&plugins).unwrap();
        let plugin = plugins.join("gp_ok");
        std::fs::write(&plugin, "#!/bin/sh\necho \"looked at $1\"\n").unwrap();
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let settings = base.join("gocart.yaml");
        std::fs::write(
            &settings,
            format!(
                "lvk:\n  download_dir: {b}/tree\n  aitoff: {{convert: false}}\n  json: true\n\
                 trigger:\n  plugins_dir: {b}/plugins\n  state_dir: {b}/state\n  timeout: 20\n",
                b = base.display()
            ),
        )
        .unwrap();
        Setup {
            dir,
            settings: settings.display().to_string(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `-s <settings>` then `args`.
    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["-s", self.settings.as_str()];
        all.extend_from_slice(args);
        all
    }

    /// One complete mock alert directory in the tree.
    fn one_alert(&self) {
        ingest(&self.args(&["mock", "--count", "1", "--seed", "7"])).expect(0);
    }
}

#[test]
fn errors_read_alike_and_exit_statuses_mean_the_same() {
    let missing = "/nonexistent/gocart.yaml";
    for (name, program) in [
        ("gocart-ingest", &binaries().ingest),
        ("gocart-trigger", &binaries().trigger),
    ] {
        let run = run(program, &["-s", missing, "status"], &[]);
        run.expect(2);
        let want = format!("{name}: error: settings file {missing} does not exist");
        assert!(run.stderr.starts_with(&want), "{}", run.stderr);
        run_usage_errors(program);
    }

    // A wrong value in the settings is a settings error for both: 2.
    let setup = Setup::new();
    std::fs::write(setup.path("bad.yaml"), "lvk:\n  ascii_map: {nside: 100}\n").unwrap();
    let bad = setup.path("bad.yaml").display().to_string();
    let run = trigger(&["-s", &bad, "status"]);
    run.expect(2);
    assert!(
        run.stderr
            .starts_with("gocart-trigger: error: settings file")
            && run.stderr.contains("nside"),
        "{}",
        run.stderr
    );
    ingest(&["-s", &bad, "status"]).expect(2);

    // A failure while running is 1, said the same way, causes on one line.
    let file = setup.path("a-file");
    std::fs::write(&file, "").unwrap();
    std::fs::write(
        setup.path("under-file.yaml"),
        format!("lvk:\n  download_dir: {}/tree\n", file.display()),
    )
    .unwrap();
    let under_file = setup.path("under-file.yaml").display().to_string();
    let run = trigger(&["-s", &under_file, "replay"]);
    run.expect(1);
    assert!(
        run.stderr
            .starts_with("gocart-trigger: error: cannot create the alert tree")
            && run.stderr.lines().count() == 1,
        "{}",
        run.stderr
    );
    let nested = format!("{}/gocart.yaml", file.display());
    let run = ingest(&["-s", &nested, "init"]);
    run.expect(1);
    assert!(
        run.stderr.starts_with("gocart-ingest: error: "),
        "{}",
        run.stderr
    );
}

/// Command-line mistakes are 2 on both, before anything is attempted.
fn run_usage_errors(program: &Path) {
    run(program, &["--no-such-flag"], &[]).expect(2);
    run(program, &["-v", "-q", "status"], &[]).expect(2);
}

/// `import` of one alert already written (ingest) or `replay --force` of it
/// (trigger), with `flags` before the command and `env` set.
fn logged(setup: &Setup, alert: &str, program: &str, flags: &[&str], env: &[(&str, &str)]) -> Run {
    let mut args = setup.args(flags);
    if program == "ingest" {
        args.extend(["import", alert]);
        run(&binaries().ingest, &args, env)
    } else {
        args.extend(["replay", "--force"]);
        run(&binaries().trigger, &args, env)
    }
}

#[test]
fn verbose_quiet_and_gocart_log_set_the_log_of_both() {
    let setup = Setup::new();
    setup.one_alert();
    let alert = gocart_tests::alert_dirs(&setup.path("tree"))
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap().flatten())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("lvk.json: true keeps the message in its directory");
    let alert = alert.display().to_string();
    for name in ["ingest", "trigger"] {
        let run = |flags: &[&str], env: &[(&str, &str)]| logged(&setup, &alert, name, flags, env);
        let plain = run(&[], &[]);
        plain.expect(0);
        assert!(!plain.logs("DEBUG"), "{name} without -v:\n{}", plain.stderr);
        let cases: [(&[&str], Env); 5] = [
            (&["-v"], &[]),
            (&["-vv"], &[]),
            (&[], &[("GOCART_LOG", "debug")]),
            (&[], &[("RUST_LOG", "debug")]),
            (&["-v"], &[("GOCART_LOG", "error")]),
        ];
        for (flags, env) in cases {
            let verbose = run(flags, env);
            verbose.expect(0);
            assert!(
                verbose.logs("DEBUG"),
                "{name} {flags:?} {env:?}:\n{}",
                verbose.stderr
            );
        }
        let bad = run(&[], &[("GOCART_LOG", "gocart=loud")]);
        bad.expect(0);
        assert!(
            bad.stderr.contains(&format!(
                "gocart-{name}: warning: GOCART_LOG=\"gocart=loud\" is not a log filter"
            )),
            "{}",
            bad.stderr
        );
    }
    // Each plugin run is logged at info: gone with -q, as with GOCART_LOG=warn.
    let replay =
        |flags: &[&str], env: &[(&str, &str)]| logged(&setup, &alert, "trigger", flags, env);
    let plain = replay(&[], &[]);
    assert!(plain.logs("INFO"), "{}", plain.stderr);
    for quiet in [replay(&["-q"], &[]), replay(&[], &[("GOCART_LOG", "warn")])] {
        quiet.expect(0);
        assert!(!quiet.logs("INFO"), "{}", quiet.stderr);
    }
    // -q keeps errors.
    std::fs::write(setup.path("broken.json"), "{").unwrap();
    let broken = setup.path("broken.json").display().to_string();
    let run = logged(&setup, &broken, "ingest", &["-q"], &[]);
    run.expect(1);
    assert!(run.logs("ERROR"), "{}", run.stderr);
}

/// The help of `-s/--settings` in `--help`: its lines up to the next option.
fn settings_help(help: &str) -> String {
    help.lines()
        .skip_while(|l| !l.trim_start().starts_with("-s, --settings"))
        .take_while(|l| !l.trim_start().starts_with("-v"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn both_programs_explain_settings_alike() {
    let ingest_help = settings_help(&ingest(&["--help"]).stdout);
    let trigger_help = settings_help(&trigger(&["--help"]).stdout);
    assert_eq!(ingest_help, trigger_help);
    for part in ["GOCART_SETTINGS", "~/.config/gocart/gocart.yaml"] {
        assert!(ingest_help.contains(part), "{ingest_help}");
    }
    // The same file is found from the variable by both.
    let setup = Setup::new();
    let env = [("GOCART_SETTINGS", setup.settings.as_str())];
    // Exit 1, not 2: the settings were found; no trigger runs there yet.
    run(&binaries().trigger, &["status"], &env).expect(1);
    run(&binaries().ingest, &["import", "-"], &env);
    assert!(setup.path("tree").is_dir(), "ingest read GOCART_SETTINGS");
}

#[test]
fn the_original_plugins_flag_gets_an_answer_not_a_usage_error() {
    for args in [
        &["-p", "listen"][..],
        &["listen", "--plugins"],
        &["-s", "my.yaml", "echo", "2", "-p"],
        &["-p"],
    ] {
        let run = ingest(args);
        run.expect(2);
        assert!(
            run.stderr.starts_with("gocart-ingest: error: -p/--plugins")
                && run.stderr.contains("plugins are now run by gocart-trigger"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("Usage:"), "{}", run.stderr);
    }
    let run = ingest(&["-s", "my.yaml", "echo", "2", "-p"]);
    let commands: Vec<&str> = run.stderr.lines().skip(1).map(str::trim).collect();
    assert_eq!(
        commands,
        [
            "gocart-ingest -s my.yaml echo 2",
            "gocart-trigger -s my.yaml"
        ]
    );
}

#[test]
fn replay_says_when_nothing_matched_and_counts_in_good_english() {
    let setup = Setup::new();
    let run = trigger(&setup.args(&["replay"]));
    run.expect(0);
    assert!(
        run.stdout
            .contains("replay: no complete alert directory in the alert tree"),
        "{}",
        run.stdout
    );
    setup.one_alert();
    // A filter or a plugin that matches nothing is a mistake (a mistyped
    // event id or plugin name): a usage error naming it, not a quiet exit 0.
    let run = trigger(&setup.args(&["replay", "--event", "MS000000x"]));
    run.expect(2);
    assert!(
        run.stderr.contains(
            "error: no directory matches --event MS000000x (1 complete directory in the alert tree"
        ),
        "{}",
        run.stderr
    );
    let run = trigger(&setup.args(&["replay", "--alert-type", "update", "--since", "1h"]));
    run.expect(2);
    assert!(
        run.stderr
            .contains("no directory matches --alert-type update --since 1h"),
        "{}",
        run.stderr
    );
    let run = trigger(&setup.args(&["replay", "--plugin", "gp_nothere"]));
    run.expect(2);
    assert!(
        run.stderr
            .contains("--plugin gp_nothere matches none of the plugins")
            && run.stderr.contains("(they are gp_ok)"),
        "{}",
        run.stderr
    );
    let run = trigger(&setup.args(&["replay"]));
    run.expect(0);
    assert!(
        run.stdout
            .contains("replayed 1 directory: 1 run, 0 failed, 0 invalid markers"),
        "{}",
        run.stdout
    );
    let run = trigger(&setup.args(&["replay"]));
    assert!(
        run.stdout
            .contains("0 runs, 0 failed, 0 invalid markers (runs already ok are left alone"),
        "{}",
        run.stdout
    );
    let run = trigger(&setup.args(&["replay", "--dry-run"]));
    assert!(
        run.stdout.contains("nothing would run on the 1 directory"),
        "{}",
        run.stdout
    );
    let run = trigger(&setup.args(&["replay", "--since", "yesterday"]));
    run.expect(2);
    assert!(
        run.stderr.starts_with("gocart-trigger: error: --since"),
        "{}",
        run.stderr
    );
    trigger(&setup.args(&["replay", "/nonexistent/alert"])).expect(2);
}

/// Every subcommand (as `PROGRAM SUB ...`) and every long flag of `--help`,
/// of the program and of each subcommand, recursively.
fn help_words(program: &Path, name: &str) -> (Vec<String>, Vec<String>) {
    let mut commands = Vec::new();
    let mut flags = Vec::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = run(program, &args, &[]);
        help.expect(0);
        for sub in help_commands(&help.stdout) {
            let mut sub_path = path.clone();
            sub_path.push(sub.clone());
            commands.push(format!("{name} {}", sub_path.join(" ")));
            if sub != "help" {
                todo.push(sub_path);
            }
        }
        for flag in help_flags(&help.stdout) {
            if !flags.contains(&flag) {
                flags.push(flag);
            }
        }
    }
    (commands, flags)
}

/// The names listed under `Commands:`.
fn help_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The `--long` flags of the option lines (not of the help text under them).
fn help_flags(help: &str) -> Vec<String> {
    help.lines()
        .filter(|l| {
            let indent = l.len() - l.trim_start().len();
            (2..=6).contains(&indent) && l.trim_start().starts_with('-')
        })
        .flat_map(|l| {
            l.split_whitespace()
                .filter(|w| w.starts_with("--"))
                .map(|w| {
                    w.trim_end_matches(',')
                        .split(['=', '<', '.'])
                        .next()
                        .unwrap_or(w)
                        .to_string()
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The README's `## \`NAME\`` section, up to the next `## ` heading.
fn readme_section(readme: &str, name: &str) -> String {
    let heading = format!("## `{name}`");
    let mut lines = readme.lines().skip_while(|l| *l != heading);
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("README.md has no {heading}"));
    std::iter::once(first)
        .chain(lines.take_while(|l| !l.starts_with("## ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `word` occurs in `text` as a whole word (`--poll` is not in
/// `--polling`).
fn mentions(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(at, _)| {
        let next = text[at + word.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

#[test]
fn the_readme_names_every_command_and_flag_of_both_programs() {
    let readme = std::fs::read_to_string(gocart_tests::workspace_root().join("README.md"))
        .expect("README.md");
    let mut missing = Vec::new();
    for (name, program) in [
        ("gocart-ingest", &binaries().ingest),
        ("gocart-trigger", &binaries().trigger),
    ] {
        let section = readme_section(&readme, name);
        let (commands, flags) = help_words(program, name);
        assert!(
            commands.len() > 2 && flags.len() > 3,
            "{commands:?} {flags:?}"
        );
        for word in commands.iter().chain(&flags) {
            if !mentions(&section, word) {
                missing.push(format!("{name} section: {word}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README.md does not mention what --help shows:\n{}",
        missing.join("\n")
    );
}

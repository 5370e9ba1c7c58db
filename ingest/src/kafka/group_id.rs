//! The one edit gocart makes to a user's settings file: `listen` saves the
//! consumer group id it generated, so that every later run resumes the same
//! group. A line edit, not a YAML rewrite, so that the user's comments, order
//! and other keys (plugins keep theirs in the same file) survive.

use std::path::Path;

use gocart_shared::atomic::write_atomic;
use gocart_shared::Settings;

/// The group id could not be saved; the text names the file.
#[derive(Debug, thiserror::Error)]
#[error("cannot write settings file {path}: {message}")]
pub struct GroupIdError {
    pub path: std::path::PathBuf,
    pub message: String,
}

/// Writes `group_id` into the `gcn-kafka:` section of the settings file at `path`,
/// changing nothing else: comments, order, other keys and the file's mode stay as
/// they were. The id is generated on the first `listen` and must survive every
/// later run, or the next run would start at the end of the topic again.
///
/// The file is rewritten through a temporary file and a rename, so a crash leaves
/// either the old file or the new one, never half of either.
pub fn write_group_id(path: &Path, group_id: &str) -> Result<(), GroupIdError> {
    let fail = |message: String| GroupIdError {
        path: path.to_path_buf(),
        message,
    };
    if !is_plain_id(group_id) {
        return Err(fail(format!("`{group_id}` is not a plain group id")));
    }
    // Write through a symlink to the file it names, not over the link.
    let target = std::fs::canonicalize(path).map_err(|e| fail(e.to_string()))?;
    let text = std::fs::read_to_string(&target).map_err(|e| fail(e.to_string()))?;
    let edited = with_group_id(&text, group_id).map_err(fail)?;
    // Never write a file that would not load, or that says something else.
    match Settings::parse(&edited, path) {
        Ok(s) if s.gcn_kafka.group_id == group_id => {}
        _ => {
            return Err(fail(
                "the edited file would not read back the new group_id; set `gcn-kafka.group_id` yourself"
                    .into(),
            ))
        }
    }
    write_atomic(&target, edited.as_bytes()).map_err(|e| fail(e.to_string()))
}

/// Group ids we generate or accept for writing: no YAML-special characters.
fn is_plain_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The settings text with `group_id` set inside `gcn-kafka:`, as a line edit.
fn with_group_id(text: &str, group_id: &str) -> Result<String, String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let Some(header) = lines.iter().position(|l| is_section_header(l, "gcn-kafka")) else {
        let sep = if text.is_empty() || text.ends_with('\n') {
            ""
        } else {
            "\n"
        };
        return Ok(format!("{text}{sep}gcn-kafka:\n    group_id: {group_id}\n"));
    };
    let after_colon = lines[header]
        .trim_end()
        .strip_prefix("gcn-kafka:")
        .unwrap_or_default()
        .trim();
    if after_colon.starts_with('{') {
        return flow_with_group_id(&lines, header, group_id);
    }
    let block_end = (header + 1..lines.len())
        .find(|&i| is_top_level(lines[i]))
        .unwrap_or(lines.len());
    let body = &lines[header + 1..block_end];
    let indent = body
        .iter()
        .find(|l| !is_blank_or_comment(l))
        .map(|l| l.len() - l.trim_start().len())
        .unwrap_or(4);
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    let existing = body.iter().position(|l| {
        l.len() - l.trim_start().len() == indent && l.trim_start().starts_with("group_id:")
    });
    match existing {
        Some(i) => out[header + 1 + i] = group_id_line(lines[header + 1 + i], indent, group_id),
        None => {
            if !out[header].ends_with('\n') {
                out[header].push('\n');
            }
            out.insert(
                header + 1,
                format!("{}group_id: {group_id}\n", " ".repeat(indent)),
            );
        }
    }
    Ok(out.concat())
}

/// `group_id: <id>` replacing the old value, keeping a trailing comment.
fn group_id_line(old: &str, indent: usize, group_id: &str) -> String {
    let value = old.trim_start()["group_id:".len()..].trim_end_matches(['\r', '\n']);
    // A ` #` starts a comment unless it is inside quotes; old values are plain.
    let comment = value.find(" #").map(|i| &value[i..]).unwrap_or("");
    let ending = if old.ends_with("\r\n") {
        "\r\n"
    } else if old.ends_with('\n') {
        "\n"
    } else {
        ""
    };
    format!(
        "{}group_id: {group_id}{comment}{ending}",
        " ".repeat(indent)
    )
}

/// `gcn-kafka: {a: b}` on one line: add `group_id` first, unless one is there.
fn flow_with_group_id(lines: &[&str], header: usize, group_id: &str) -> Result<String, String> {
    let line = lines[header];
    if line.contains("group_id") || !line.trim_end().ends_with('}') {
        return Err(
            "gcn-kafka is written in flow style {...}; set `group_id` in it yourself".into(),
        );
    }
    let open = line.find('{').unwrap_or(0);
    let rest = line[open + 1..].trim_start();
    let sep = if rest.starts_with('}') { "" } else { ", " };
    let edited = format!("{}{{group_id: {group_id}{sep}{rest}", &line[..open]);
    let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    out[header] = edited;
    Ok(out.concat())
}

fn is_section_header(line: &str, name: &str) -> bool {
    line.strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(':'))
        .is_some()
}

fn is_top_level(line: &str) -> bool {
    !is_blank_or_comment(line) && !line.starts_with([' ', '\t'])
}

fn is_blank_or_comment(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;
    use gocart_shared::settings::DEFAULT_FILE;
    use gocart_shared::SettingsError;

    fn parse(text: &str) -> Result<Settings, SettingsError> {
        Settings::parse(text, Path::new("/etc/gocart.yaml"))
    }

    /// The settings file of the original gocart, byte for byte as it ships.
    const ORIGINAL: &str = include_str!("../../../shared/src/settings/original.yaml");

    #[test]
    fn group_id_replaces_the_placeholder_and_keeps_everything_else() {
        let edited = with_group_id(ORIGINAL, "gocart-abc123").unwrap();
        let expected = ORIGINAL.replace("    group_id: XXXX\n", "    group_id: gocart-abc123\n");
        assert_eq!(edited, expected);
        assert_eq!(parse(&edited).unwrap().gcn_kafka.group_id, "gocart-abc123");
        // The shipped file: its comments (one mentions group_id) survive.
        let edited = with_group_id(DEFAULT_FILE, "g-1").unwrap();
        assert_eq!(
            edited,
            DEFAULT_FILE.replace("    group_id: XXXX\n", "    group_id: g-1\n")
        );
    }

    #[test]
    fn group_id_is_added_when_absent() {
        let text = "lvk:\n  json: true\ngcn-kafka:\n  # broker\n  bootstrap_servers: 127.0.0.1:9\nother: 1\n";
        let edited = with_group_id(text, "g-2").unwrap();
        assert_eq!(
            edited,
            "lvk:\n  json: true\ngcn-kafka:\n  group_id: g-2\n  # broker\n  bootstrap_servers: 127.0.0.1:9\nother: 1\n"
        );
        let s = parse(&edited).unwrap();
        assert_eq!(s.gcn_kafka.group_id, "g-2");
        assert_eq!(s.gcn_kafka.bootstrap_servers, "127.0.0.1:9");
        // No section at all: one is appended.
        let edited = with_group_id("lvk:\n  json: true", "g-3").unwrap();
        assert_eq!(
            edited,
            "lvk:\n  json: true\ngcn-kafka:\n    group_id: g-3\n"
        );
        // Flow style gets the key inside the braces.
        let edited = with_group_id("gcn-kafka: {topics: [a]}\n", "g-4").unwrap();
        assert_eq!(parse(&edited).unwrap().gcn_kafka.group_id, "g-4");
        assert_eq!(parse(&edited).unwrap().gcn_kafka.topics, vec!["a"]);
    }

    #[test]
    fn group_id_keeps_a_trailing_comment_and_ignores_nested_keys() {
        let text = "gcn-kafka:\n  config:\n    group_id: nested\n  group_id: '' # mine\n";
        let edited = with_group_id(text, "g-5").unwrap();
        assert_eq!(
            edited,
            "gcn-kafka:\n  config:\n    group_id: nested\n  group_id: g-5 # mine\n"
        );
    }

    #[test]
    fn write_group_id_rewrites_the_file_keeping_its_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.yaml");
        std::fs::write(&path, ORIGINAL).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        write_group_id(&path, "gocart-x1").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            ORIGINAL.replace("group_id: XXXX", "group_id: gocart-x1")
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
        assert!(write_group_id(&path, "bad id: {x}").is_err());
    }
}

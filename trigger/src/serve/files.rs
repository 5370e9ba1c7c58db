//! Which paths a request may name: only complete alert directories, their
//! event directories and the plain files inside them, after every symlink is
//! resolved, and plugin logs inside the state dir. Everything else (`..`,
//! encoded or not, absolute paths, hidden names, a symlink out of the tree)
//! is `None`, which the routes answer with 404 and a warning.

use std::path::{Path, PathBuf};

use gocart_shared::{Level, Tree, MARKER_NAME};

/// The plain names of a relative path (already percent-decoded), or `None`
/// if one is empty (an absolute path, `//`), `.`, `..`, hidden, or holds a
/// NUL or a backslash.
fn plain_names(rel: &str) -> Option<Vec<&str>> {
    let names: Vec<&str> = rel.split('/').collect();
    let plain =
        |n: &&str| !n.is_empty() && !n.starts_with('.') && !n.contains('\0') && !n.contains('\\');
    names.iter().all(plain).then_some(names)
}

/// `path` with its symlinks resolved, if that is still at `level` in the tree.
fn resolved_at(tree: &Tree, path: &Path, level: Level) -> Option<PathBuf> {
    let real = path.canonicalize().ok()?;
    (tree.level_of(&real) == Some(level) && real.is_dir()).then_some(real)
}

/// `<kind>/<superevent_id>` (or `transients/<kind>/<id>`, `feed`): an
/// event folder, as the tree's levels define it.
pub fn event_dir(tree: &Tree, rel: &str) -> Option<PathBuf> {
    plain_names(rel)?;
    resolved_at(tree, &tree.root().join(rel), Level::Event)
}

/// `<kind>/<superevent_id>/<dir>` (or one level deeper under `transients`,
/// one less under `feed`): a complete alert directory.
pub fn alert_dir(tree: &Tree, rel: &str) -> Option<PathBuf> {
    plain_names(rel)?;
    let real = resolved_at(tree, &tree.root().join(rel), Level::Alert)?;
    real.join(MARKER_NAME).is_file().then_some(real)
}

/// `<kind>/<superevent_id>/<dir>/<file>`: a regular file of a complete alert
/// directory (its marker and other hidden files are not served).
pub fn alert_file(tree: &Tree, rel: &str) -> Option<PathBuf> {
    let (dir, name) = rel.rsplit_once('/')?;
    plain_names(name)?;
    let dir = alert_dir(tree, dir)?;
    let real = dir.join(name).canonicalize().ok()?;
    let parent = real.parent()?;
    let inside = tree.level_of(parent) == Some(Level::Alert) && parent.join(MARKER_NAME).is_file();
    (inside && real.is_file()).then_some(real)
}

/// A plugin's log as the record names it, if it really is inside
/// `<state_dir>/logs` once resolved.
pub fn plugin_log(state_dir: &Path, recorded: &str) -> Option<PathBuf> {
    let logs = state_dir.join("logs").canonicalize().ok()?;
    let real = Path::new(recorded).canonicalize().ok()?;
    (real.starts_with(&logs) && real.is_file()).then_some(real)
}

/// The path of an alert or event directory relative to the tree, as URLs carry it.
pub fn relative(tree: &Tree, path: &Path) -> Option<String> {
    let rest = path.strip_prefix(tree.root()).ok()?;
    let names: Vec<&str> = rest
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect::<Option<_>>()?;
    Some(names.join("/"))
}

/// What part of a file a `Range` header asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Span {
    /// No range, or one we do not take (several ranges, bad syntax): RFC 9110
    /// lets a server answer those with the whole file.
    Whole,
    /// Bytes `start..=end`, within the file.
    Part { start: u64, end: u64 },
    /// A range wholly past the end (416).
    Unsatisfiable,
}

/// The one range of `bytes=a-b`, `bytes=a-` or `bytes=-n` in a file of `len` bytes.
pub fn byte_range(header: Option<&str>, len: u64) -> Span {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Span::Whole;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return Span::Whole;
    };
    let (first, last) = (first.trim(), last.trim());
    if spec.contains(',') || !digits_or_empty(first) || !digits_or_empty(last) {
        return Span::Whole;
    }
    // Only digits: a number too large for u64 is past any end.
    let number = |text: &str| text.parse::<u64>().unwrap_or(u64::MAX);
    match (first.is_empty(), last.is_empty()) {
        (true, true) => Span::Whole,
        // The last n bytes.
        (true, false) => match number(last) {
            0 => Span::Unsatisfiable,
            _ if len == 0 => Span::Unsatisfiable,
            n => Span::Part {
                start: len - n.min(len),
                end: len - 1,
            },
        },
        (false, _) => {
            let start = number(first);
            let end = if last.is_empty() {
                u64::MAX
            } else {
                number(last)
            };
            if end < start {
                Span::Whole
            } else if start >= len {
                Span::Unsatisfiable
            } else {
                Span::Part {
                    start,
                    end: end.min(len - 1),
                }
            }
        }
    }
}

fn digits_or_empty(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_byte_range_is_understood() {
        let part = |start, end| Span::Part { start, end };
        let cases = [
            (None, Span::Whole),
            (Some("bytes=0-9"), part(0, 9)),
            (Some("bytes=10-"), part(10, 99)),
            (Some("bytes=-10"), part(90, 99)),
            (Some("bytes=-1000"), part(0, 99)),
            (Some("bytes=50-5000"), part(50, 99)),
            (Some("bytes=99-99"), part(99, 99)),
            (Some("bytes=100-"), Span::Unsatisfiable),
            (Some("bytes=100-200"), Span::Unsatisfiable),
            (Some("bytes=-0"), Span::Unsatisfiable),
            (Some("bytes=99999999999999999999999-"), Span::Unsatisfiable),
            (Some("bytes=9-0"), Span::Whole),
            (Some("bytes=0-1,5-6"), Span::Whole),
            (Some("bytes=-"), Span::Whole),
            (Some("bytes=a-b"), Span::Whole),
            (Some("items=0-9"), Span::Whole),
            (Some("bytes=+1-2"), Span::Whole),
        ];
        for (header, wanted) in cases {
            assert_eq!(byte_range(header, 100), wanted, "{header:?}");
        }
        assert_eq!(byte_range(Some("bytes=0-"), 0), Span::Unsatisfiable);
        assert_eq!(byte_range(Some("bytes=-5"), 0), Span::Unsatisfiable);
    }

    fn tree_with_alert() -> (tempfile::TempDir, Tree) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap().join("tree");
        let dir = root.join("mockevents/MS1/20260101T000000_initial");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("meta.yaml"), "x").unwrap();
        std::fs::write(dir.join(MARKER_NAME), "{}").unwrap();
        std::fs::write(tmp.path().join("secret"), "s").unwrap();
        (tmp, Tree::new(root))
    }

    #[test]
    fn only_plain_paths_into_complete_directories_resolve() {
        let (_tmp, tree) = tree_with_alert();
        let rel = "mockevents/MS1/20260101T000000_initial";
        assert!(alert_dir(&tree, rel).is_some());
        assert!(event_dir(&tree, "mockevents/MS1").is_some());
        assert!(alert_file(&tree, &format!("{rel}/meta.yaml")).is_some());
        for bad in [
            format!("{rel}/{MARKER_NAME}"),
            format!("{rel}/../../../../secret"),
            format!("{rel}/missing"),
            format!("/{rel}/meta.yaml"),
            format!("{rel}//meta.yaml"),
            format!("{rel}\\..\\meta.yaml"),
            "mockevents/MS1/meta.yaml".into(),
            "other/MS1/x/meta.yaml".into(),
        ] {
            assert!(alert_file(&tree, &bad).is_none(), "{bad}");
        }
        assert!(alert_dir(&tree, "mockevents/MS1").is_none());
        assert!(event_dir(&tree, "mockevents/..").is_none());
    }

    #[test]
    fn the_dossier_folders_are_served_too() {
        let (_tmp, tree) = tree_with_alert();
        for rel in [
            "transients/swift_guano/694215995/20230101T032436_initial",
            "circulars/33603/20240101T000000_circular",
            "feed/20240101T000000_silent",
        ] {
            let dir = tree.root().join(rel);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("meta.yaml"), "x").unwrap();
            assert!(alert_dir(&tree, rel).is_none(), "{rel}: no marker yet");
            std::fs::write(dir.join(MARKER_NAME), "{}").unwrap();
            assert!(alert_dir(&tree, rel).is_some(), "{rel}");
            assert!(
                alert_file(&tree, &format!("{rel}/meta.yaml")).is_some(),
                "{rel}"
            );
        }
        assert!(event_dir(&tree, "transients/swift_guano/694215995").is_some());
        assert!(event_dir(&tree, "feed").is_some());
        assert!(alert_dir(&tree, "transients/swift_guano/694215995").is_none());
    }

    #[test]
    fn symlinks_out_of_the_tree_are_refused() {
        let (tmp, tree) = tree_with_alert();
        let dir = tree.root().join("mockevents/MS1/20260101T000000_initial");
        std::os::unix::fs::symlink(tmp.path().join("secret"), dir.join("link")).unwrap();
        let rel = "mockevents/MS1/20260101T000000_initial/link";
        assert!(alert_file(&tree, rel).is_none());
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join(MARKER_NAME), "{}").unwrap();
        std::os::unix::fs::symlink(&outside, tree.root().join("mockevents/MS1/linked")).unwrap();
        assert!(alert_dir(&tree, "mockevents/MS1/linked").is_none());
    }
}

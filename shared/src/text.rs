//! Text from a message, made safe to print. An alert's fields (a
//! classification key, `event.group`, a rejected value quoted in a reason)
//! reach the terminal and the log; raw, an escape sequence in them could
//! retitle the window, clear the screen or forge a line ("FAKE: WRITTEN").
//! Both programs print such text only through `escape_control`.

use std::borrow::Cow;
use std::fmt;

/// `text` with every control character written out visibly: `\n`, `\r`,
/// `\t`, other C0 controls and DEL as `\xNN`, C1 controls and the Unicode
/// bidirectional overrides (which reorder what a reader sees) as `\u{NNNN}`.
/// A backslash is left as it is, so escaping twice changes nothing: each
/// place that prints may escape without knowing whether another did.
pub fn escape_control(text: &str) -> Cow<'_, str> {
    if text.chars().any(needs_escape) {
        Cow::Owned(Escaped(text).to_string())
    } else {
        Cow::Borrowed(text)
    }
}

/// `text` escaped as `escape_control` does, for `format!` and the log
/// macros without an intermediate string.
#[derive(Debug, Clone, Copy)]
pub struct Escaped<'a>(pub &'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let Some(c) = rest[at..].chars().next() else {
                break;
            };
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if (c as u32) < 0x80 => write!(f, "\\x{:02x}", c as u32)?,
                c => write!(f, "\\u{{{:04x}}}", c as u32)?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

/// C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and
/// isolates (U+202A-U+202E, U+2066-U+2069).
fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_line_breaks_become_visible() {
        let hostile =
            "\u{1b}]0;owned\u{7}Burst\u{1b}[2J\r\nFAKE: WRITTEN ok\t\u{7f}\u{9b}x\u{202e}";
        let shown = escape_control(hostile);
        assert_eq!(
            shown,
            "\\x1b]0;owned\\x07Burst\\x1b[2J\\r\\nFAKE: WRITTEN ok\\t\\x7f\\u{009b}x\\u{202e}"
        );
        assert!(!shown.chars().any(needs_escape));
        assert_eq!(format!("{}", Escaped(hostile)), shown);
    }

    #[test]
    fn plain_text_is_borrowed_and_escaping_twice_changes_nothing() {
        for text in ["MS230423x", "área90 ☃ 🌊", "C:\\x1b is text", ""] {
            assert!(matches!(escape_control(text), Cow::Borrowed(_)), "{text}");
        }
        let once = escape_control("a\u{0}b\nc").into_owned();
        assert_eq!(escape_control(&once), once);
    }
}

//! Finds where a value sits in a RON file, so an error about it can point at it.
//!
//! serde tells us *that* a name is unknown or a window is backwards, not *where*; ron only
//! reports positions for syntax errors. This module walks the file's text along a path like
//! `faults[2].restart` (tracking brackets, skipping strings and comments) and returns the byte
//! span of that value. When the text cannot be followed (a path that does not exist), the
//! caller falls back to the whole file.

use std::ops::Range;

/// One step of a path into a RON value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// A named field of a struct or struct-like variant.
    Field(&'a str),
    /// The entry of a map whose key is the quoted string `"name"`.
    Key(&'a str),
    /// The n-th element of a list or tuple (0-based).
    Index(usize),
}

/// The byte span of the value at `path`, or `None` if the text does not have it.
pub fn locate(source: &str, path: &[Step<'_>]) -> Option<Range<usize>> {
    let mut span = 0..source.len();
    for step in path {
        let open = container_start(source, span.clone())?;
        span = match *step {
            Step::Field(_) | Step::Key(_) => field_value(source, open, *step)?,
            Step::Index(index) => element(source, open, index)?,
        };
    }
    Some(trim(source, span))
}

/// The byte span of the first occurrence of the quoted string `"text"` inside `within`.
pub fn locate_string(source: &str, within: Range<usize>, text: &str) -> Option<Range<usize>> {
    let quoted = format!("\"{text}\"");
    let start = within.start + source.get(within.clone())?.find(&quoted)?;
    Some(start..start + quoted.len())
}

/// Calls `visit(position, byte, depth)` for every byte outside strings and comments, from
/// `start`. Depth counts brackets opened since `start`: an opening bracket is visited at the
/// depth outside it, a closing one at the depth after it closes (so the close of a bracket
/// opened before `start` is visited at -1). Stops when `visit` returns `Some`.
fn scan<T>(source: &str, start: usize, mut visit: impl FnMut(usize, u8, i64) -> Option<T>) -> Option<T> {
    let bytes = source.as_bytes();
    let mut depth = 0i64;
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b @ (b'(' | b'[' | b'{') => {
                if let Some(found) = visit(i, b, depth) {
                    return Some(found);
                }
                depth += 1;
            }
            b @ (b')' | b']' | b'}') => {
                depth -= 1;
                if let Some(found) = visit(i, b, depth) {
                    return Some(found);
                }
            }
            b => {
                if let Some(found) = visit(i, b, depth) {
                    return Some(found);
                }
            }
        }
        i += 1;
    }
    None
}

/// Position of the first opening bracket in `span` (the container a value's fields are in).
fn container_start(source: &str, span: Range<usize>) -> Option<usize> {
    scan(source, span.start, |pos, b, _| {
        if pos >= span.end {
            return Some(None);
        }
        matches!(b, b'(' | b'[' | b'{').then_some(Some(pos))
    })
    .flatten()
}

/// The value of the field or map entry `step` directly inside the container opening at `open`.
fn field_value(source: &str, open: usize, step: Step<'_>) -> Option<Range<usize>> {
    let colon = scan(source, open, |pos, b, depth| match (b, depth) {
        (b')' | b']' | b'}', 0) => Some(None),
        (b':', 1) => {
            let key_end = source[..pos].trim_end().len();
            let name = match step {
                Step::Field(name) => name,
                Step::Key(name) => {
                    let quoted = source[..key_end].strip_suffix('"')?.strip_suffix(name)?;
                    return quoted.ends_with('"').then_some(Some(pos));
                }
                Step::Index(_) => unreachable!("an index is not a field"),
            };
            // The key starts after the last character that cannot be part of it; that
            // character may be wider than a byte (ron takes U+0085 as whitespace).
            let key_start = source[..key_end]
                .char_indices()
                .rev()
                .find(|&(_, c)| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |(p, c)| p + c.len_utf8());
            (&source[key_start..key_end] == name).then_some(Some(pos))
        }
        _ => None,
    })??;
    Some(colon + 1..value_end(source, colon + 1))
}

/// The `index`-th element directly inside the container opening at `open`.
fn element(source: &str, open: usize, index: usize) -> Option<Range<usize>> {
    let mut start = open + 1;
    let mut seen = 0;
    scan(source, open, |pos, b, depth| match (b, depth) {
        (b',', 1) | (b')' | b']' | b'}', 0) => {
            let is_blank = source[start..pos].trim().is_empty();
            if seen == index && !is_blank {
                return Some(Some(start..pos));
            }
            if b != b',' {
                return Some(None);
            }
            seen += 1;
            start = pos + 1;
            None
        }
        _ => None,
    })?
}

/// Where a value starting at `start` ends: the next comma or closing bracket at its level.
fn value_end(source: &str, start: usize) -> usize {
    scan(source, start, |pos, b, depth| match (b, depth) {
        (b',', 0) | (b')' | b']' | b'}', -1) => Some(pos),
        _ => None,
    })
    .unwrap_or(source.len())
}

fn trim(source: &str, span: Range<usize>) -> Range<usize> {
    let text = &source[span.clone()];
    let start = span.start + (text.len() - text.trim_start().len());
    let end = span.end - (text.len() - text.trim_end().len());
    start..end.max(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"Scenario( // a comment with ( and "
    model: "../models/x.ron",
    faults: [
        Crash(node: "a", at: "1ms"),
        Crash(node: "b,c", at: "9ms", restart: "3ms"),
    ],
)"#;

    fn text_at(path: &[Step<'_>]) -> &'static str {
        &FILE[locate(FILE, path).expect("path exists")]
    }

    #[test]
    fn follows_fields_and_indexes() {
        assert_eq!(text_at(&[Step::Field("model")]), "\"../models/x.ron\"");
        assert_eq!(
            text_at(&[Step::Field("faults"), Step::Index(1), Step::Field("restart")]),
            "\"3ms\""
        );
        assert_eq!(
            text_at(&[Step::Field("faults"), Step::Index(1), Step::Field("node")]),
            "\"b,c\""
        );
        assert!(text_at(&[Step::Field("faults"), Step::Index(0)]).starts_with("Crash(node: \"a\""));
    }

    #[test]
    fn missing_paths_are_none() {
        assert_eq!(locate(FILE, &[Step::Field("seed")]), None);
        assert_eq!(locate(FILE, &[Step::Field("faults"), Step::Index(2)]), None);
    }

    #[test]
    fn a_field_after_a_multi_byte_character_is_found() {
        for space in ['\u{85}', '\u{2028}'] {
            let source = format!("Scenario({space}seed: 1,{space}model: \"m\")");
            let span = locate(&source, &[Step::Field("model")]).expect("model is there");
            assert_eq!(&source[span], "\"m\"", "after {space:?}");
        }
    }

    #[test]
    fn follows_map_keys() {
        let source = r#"System(services: {
            "bank_a": Service(tables: {"accounts": Table(rows: 1)}),
            "bank_b": Service(tables: {"accounts": Table(rows: 2)}),
        })"#;
        let path = [
            Step::Field("services"),
            Step::Key("bank_b"),
            Step::Field("tables"),
            Step::Key("accounts"),
            Step::Field("rows"),
        ];
        let span = locate(source, &path).expect("path exists");
        assert_eq!(&source[span.clone()], "2");
        assert_eq!(source[..span.start].lines().count(), 3);
        assert_eq!(
            locate(source, &[Step::Field("services"), Step::Key("bank")]),
            None
        );
    }

    #[test]
    fn finds_a_quoted_name() {
        let span = locate_string(FILE, 0..FILE.len(), "b,c").unwrap();
        assert_eq!(&FILE[span], "\"b,c\"");
    }
}

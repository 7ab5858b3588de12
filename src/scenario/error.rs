//! Errors in scenario and model files, rendered with the file, line, column and a hint.

use std::ops::Range;
use std::path::Path;

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

/// One mistake in one file, located.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
pub struct FileError {
    /// What is wrong, lowercase, naming the thing.
    pub message: String,
    #[source_code]
    source_code: NamedSource<String>,
    #[label("{label}")]
    span: SourceSpan,
    label: String,
    #[help]
    help: Option<String>,
    /// 1-based line of the span start, for one-line summaries and tests.
    pub line: usize,
    /// 1-based column of the span start.
    pub column: usize,
    /// The file, as given.
    pub file: String,
}

impl FileError {
    /// An error about `span` of `source` (the text of `file`).
    pub fn new(
        file: &Path,
        source: &str,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        let (line, column) = line_and_column(source, span.start);
        let file = file.display().to_string();
        FileError {
            message: message.into(),
            source_code: NamedSource::new(file.clone(), source.to_string()),
            span: (span.start, span.end - span.start).into(),
            label: label.into(),
            help: None,
            line,
            column,
            file,
        }
    }

    /// Adds a hint: valid choices, the likely intended name, the accepted format.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col: message`, for one-line output.
    pub fn summary(&self) -> String {
        format!("{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// Why a scenario could not be loaded.
#[derive(Debug, Error, Diagnostic)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    #[diagnostic(help("check the path; model paths are relative to the scenario file"))]
    Unreadable {
        /// The path tried.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// A `--set path=value` that cannot apply to the file.
    #[error("{0}")]
    #[diagnostic(help(
        "write --set path=value with the field's place in the file, e.g. --set workload.requests=100 or --set workload.arrival.rate_per_s=900.0"
    ))]
    BadSet(String),
    /// One or more mistakes in the files; all are reported, not only the first.
    #[error("{} in {file}", plural(.errors.len()))]
    Invalid {
        /// The file the first mistake is in.
        file: String,
        /// Every mistake found.
        #[related]
        errors: Vec<FileError>,
    },
}

fn plural(count: usize) -> String {
    if count == 1 {
        "1 error".to_string()
    } else {
        format!("{count} errors")
    }
}

impl ScenarioError {
    /// Wraps located errors (at least one).
    pub fn invalid(errors: Vec<FileError>) -> Self {
        let file = errors.first().map(|e| e.file.clone()).unwrap_or_default();
        ScenarioError::Invalid { file, errors }
    }

    /// The located errors, by value, to render one by one.
    pub fn into_errors(self) -> Vec<FileError> {
        match self {
            ScenarioError::Invalid { errors, .. } => errors,
            ScenarioError::Unreadable { .. } | ScenarioError::BadSet(_) => Vec::new(),
        }
    }

    /// The located errors, if any.
    pub fn errors(&self) -> &[FileError] {
        match self {
            ScenarioError::Invalid { errors, .. } => errors,
            ScenarioError::Unreadable { .. } | ScenarioError::BadSet(_) => &[],
        }
    }
}

/// 1-based line and column (in characters) of byte `offset`.
pub fn line_and_column(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Byte offset of a 1-based line and column (as ron reports them).
pub fn offset_of(source: &str, line: usize, column: usize) -> usize {
    let line_start: usize = source
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &source[line_start.min(source.len())..];
    let in_line: usize = rest
        .chars()
        .take(column.saturating_sub(1))
        .map(char::len_utf8)
        .sum();
    (line_start + in_line).min(source.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_positions_round_trip() {
        let text = "ab\ncdé\nf";
        for (line, col) in [(1, 1), (2, 3), (2, 4), (3, 1)] {
            assert_eq!(line_and_column(text, offset_of(text, line, col)), (line, col));
        }
    }
}

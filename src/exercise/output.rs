//! A grade as people read it, and a class's grades as a CSV.

use std::fmt::Write as _;

use serde::Serialize;

use super::{Exercise, Grade};

/// The grade as text: a line per criterion (PASS or FAIL and what was measured), under a
/// failing one its seed, the commands to look at it and the hint; a last line with the
/// total.
pub fn to_text(exercise: &Exercise, grade: &Grade) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "exercise {} ({}): {}",
        exercise.id,
        exercise.spec.kind.name(),
        exercise.title
    );
    let _ = writeln!(out, "graded: {}\n", grade.graded);
    for result in &grade.results {
        let mark = if result.passed { "PASS" } else { "FAIL" };
        let _ = writeln!(out, "  {mark}  {}", result.name);
        let _ = writeln!(out, "        {}", result.summary);
        if let Some(failing) = &result.failing {
            let kind = if failing.swarm { "swarm seed" } else { "seed" };
            let _ = writeln!(
                out,
                "        first failing {kind} {}: {}",
                failing.seed, failing.violation
            );
            for command in &failing.commands {
                let _ = writeln!(out, "        {command}");
            }
        }
        if let Some(hint) = &result.hint {
            let mut lines = textwrap(hint, 86).into_iter();
            let _ = writeln!(out, "        hint: {}", lines.next().unwrap_or_default());
            for line in lines {
                let _ = writeln!(out, "              {line}");
            }
        }
    }
    let passed = grade.results.iter().filter(|r| r.passed).count();
    let verdict = if grade.passed() { "PASSED" } else { "NOT YET" };
    let _ = writeln!(
        out,
        "\n{passed} of {} criteria pass: {verdict}",
        grade.results.len()
    );
    out
}

/// Words of `text` in lines of at most `width` characters.
fn textwrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// One CSV row of a class's grades: a student's result on one criterion.
#[derive(Clone, Debug, Serialize)]
pub struct CsvRow {
    /// The student (their folder's name).
    pub student: String,
    /// The exercise.
    pub exercise: String,
    /// The criterion, or `(files)` when the student's files could not be read.
    pub criterion: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was measured, or what is wrong with the files.
    pub detail: String,
    /// The first failing seed, if any.
    pub failing_seed: Option<u64>,
}

/// The rows of one student's grade.
pub fn csv_rows(student: &str, grade: &Grade) -> Vec<CsvRow> {
    grade
        .results
        .iter()
        .map(|r| CsvRow {
            student: student.to_string(),
            exercise: grade.exercise.clone(),
            criterion: r.name.clone(),
            passed: r.passed,
            detail: r.summary.clone(),
            failing_seed: r.failing.as_ref().map(|f| f.seed),
        })
        .collect()
}

/// Rows as CSV text with a header.
pub fn to_csv(rows: &[CsvRow]) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer.serialize(row).expect("plain fields serialise");
    }
    String::from_utf8(writer.into_inner().expect("a Vec takes every write")).expect("UTF-8 fields")
}

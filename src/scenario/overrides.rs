//! `--set path=value`: changes one field of a scenario file's text before it is read, so the
//! result is checked exactly like the file (a wrong value is located in the edited line).
//!
//! The path is the field's place in the file, dot-separated, with `[n]` for a list element:
//! `workload.requests`, `workload.arrival.rate_per_s`, `faults[0].until`. A field the file
//! leaves at its default is added to its struct; a struct the file leaves out must be
//! written first.

use super::locate::{Step, locate};

/// The file's text with `set` (`path=value`) applied; an error says what is wrong with it.
pub fn apply(source: &str, set: &str) -> Result<String, String> {
    let (path, value) = set
        .split_once('=')
        .ok_or_else(|| format!("--set {set}: expected path=value, e.g. workload.requests=100"))?;
    let (path, value) = (path.trim(), value.trim());
    let names = steps(path).map_err(|e| format!("--set {set}: {e}"))?;
    let path_steps: Vec<Step<'_>> = names
        .iter()
        .map(|(name, index)| match index {
            Some(i) if name.is_empty() => Step::Index(*i),
            _ => Step::Field(name.as_str()),
        })
        .collect();
    if let Some(span) = locate(source, &path_steps) {
        let old = &source[span.clone()];
        // A duration or a name is written quoted; keep the file's quoting.
        let new = if old.starts_with('"') && !value.starts_with('"') {
            format!("\"{value}\"")
        } else {
            value.to_string()
        };
        return Ok(format!("{}{new}{}", &source[..span.start], &source[span.end..]));
    }
    let (Step::Field(field), parent) = path_steps.split_last().expect("a path has a step") else {
        return Err(format!("--set {set}: the file has no such element"));
    };
    let open = if parent.is_empty() {
        // The scenario itself (a header comment may hold parentheses of its own).
        source.find("Scenario(").map(|i| i + "Scenario".len())
    } else {
        let Some(parent_span) = locate(source, parent) else {
            let missing = path.rsplit_once('.').map_or(path, |(p, _)| p);
            return Err(format!(
                "--set {set}: the file has no `{missing}` to set `{field}` in; write it in the file first"
            ));
        };
        source[parent_span.clone()]
            .find('(')
            .map(|i| parent_span.start + i)
    }
    .ok_or_else(|| format!("--set {set}: `{field}` belongs in a struct, and its parent is not one"))?;
    let quoted = if value.chars().next().is_some_and(|c| c.is_ascii_digit()) && value.ends_with('s') {
        format!("\"{value}\"") // A duration such as 250ms.
    } else {
        value.to_string()
    };
    Ok(format!(
        "{}{field}: {quoted}, {}",
        &source[..=open],
        &source[open + 1..]
    ))
}

/// `a.b[2].c` as `(name, index)` steps: `[2]` becomes its own step with an empty name.
fn steps(path: &str) -> Result<Vec<(String, Option<usize>)>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, rest) = part.split_once('[').unwrap_or((part, ""));
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`{part}` is not a field name"));
        }
        out.push((name.to_string(), None));
        if !rest.is_empty() {
            let index = rest
                .strip_suffix(']')
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("`{part}`: write an element as name[3]"))?;
            out.push((String::new(), Some(index)));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"Scenario(
    model: "m.ron",
    seed: 1,
    workload: Workload(requests: 2000, arrival: Poisson(rate_per_s: 400.0)),
    faults: [Crash(node: "a", at: "1s", restart: "2s")],
)"#;

    #[test]
    fn a_field_is_replaced_in_place_keeping_its_quoting() {
        let out = apply(FILE, "workload.requests=100").unwrap();
        assert!(out.contains("Workload(requests: 100, arrival"), "{out}");
        let out = apply(FILE, "workload.arrival.rate_per_s=900.0").unwrap();
        assert!(out.contains("Poisson(rate_per_s: 900.0)"), "{out}");
        let out = apply(FILE, "faults[0].restart=3s").unwrap();
        assert!(out.contains(r#"restart: "3s""#), "{out}");
    }

    #[test]
    fn a_defaulted_field_is_added_and_a_missing_struct_is_an_error() {
        let out = apply(FILE, "workload.key_count=10").unwrap();
        assert!(out.contains("Workload(key_count: 10, requests: 2000"), "{out}");
        let error = apply(FILE, "gateway.retries=5").unwrap_err();
        assert!(error.contains("no `gateway`"), "{error}");
        assert!(
            apply(FILE, "workload.requests")
                .unwrap_err()
                .contains("path=value")
        );
        assert!(
            apply(FILE, "work load.x=1")
                .unwrap_err()
                .contains("not a field name")
        );
    }
}

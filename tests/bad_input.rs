//! Bad input is UI: every file under tests/data/bad/ must fail to load with a located,
//! readable message, and the rendering is snapshotted so wording changes are reviewed.

use std::path::Path;

use consim::scenario::{self, ScenarioError};
use miette::{GraphicalReportHandler, GraphicalTheme};

fn load_error(file: &str) -> ScenarioError {
    let path = Path::new("tests/data/bad").join(file);
    scenario::load(&path).expect_err("a bad file must not load")
}

/// Renders every located error the way the CLI does, without colour, at a fixed width.
fn render(error: &ScenarioError) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor()).with_width(100);
    let mut out = String::new();
    for e in error.errors() {
        handler
            .render_report(&mut out, e)
            .expect("rendering to a string cannot fail");
    }
    out
}

/// `(file, line, message fragment)` for every error, to assert positions exactly.
fn located(error: &ScenarioError) -> Vec<(String, usize, String)> {
    error
        .errors()
        .iter()
        .map(|e| (e.file.clone(), e.line, e.message.clone()))
        .collect()
}

#[test]
fn every_bad_file_renders_a_located_diagnostic() {
    insta::glob!("data/bad/*.ron", |path| {
        // Relative, so the rendering (which names the file) is the same in any checkout.
        let path = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .expect("inside the package");
        let error = scenario::load(path).expect_err("a bad file must not load");
        assert!(!error.errors().is_empty(), "{}: no located error", path.display());
        insta::assert_snapshot!(render(&error));
    });
}

#[test]
fn an_unknown_field_is_named_with_its_line() {
    let [(file, line, message)] = located(&load_error("unknown_field.ron")).try_into().unwrap();
    assert_eq!((file.as_str(), line), ("tests/data/bad/unknown_field.ron", 4));
    assert!(message.contains("sede"), "{message}");
}

#[test]
fn an_unknown_node_suggests_the_likely_name() {
    let error = load_error("unknown_node.ron");
    let [e] = error.errors() else {
        panic!("one error expected: {error:?}")
    };
    assert_eq!((e.line, e.column), (6, 43));
    assert_eq!(e.message, "unknown node `nn3`");
    assert!(render(&error).contains("did you mean `n3`?"));
}

#[test]
fn a_probability_out_of_range_is_located_at_its_value() {
    let error = load_error("probability.ron");
    assert_eq!(
        located(&error),
        [(
            "tests/data/bad/probability.ron".to_string(),
            4,
            "default link loss: probability 1.5 is outside [0, 1]".to_string()
        )]
    );
}

#[test]
fn restart_before_crash_points_at_the_restart() {
    let error = load_error("restart_before_crash.ron");
    let [e] = error.errors() else {
        panic!("one error expected")
    };
    assert_eq!((e.line, e.column), (5, 46));
    assert!(
        e.message
            .contains("restarts at 1s, which is not after its crash at 5s"),
        "{}",
        e.message
    );
}

#[test]
fn a_zero_width_distribution_and_a_bad_duration_are_rejected() {
    let e = load_error("zero_width_latency.ron");
    assert!(located(&e)[0].2.contains("zero width"), "{e:?}");
    let e = load_error("bad_duration.ron");
    assert!(located(&e)[0].2.contains("`5 weeks` is not a duration"), "{e:?}");
}

#[test]
fn all_errors_in_a_file_are_reported_not_only_the_first() {
    let lines: Vec<usize> = located(&load_error("several_errors.ron"))
        .into_iter()
        .map(|(_, line, _)| line)
        .collect();
    assert_eq!(lines, [5, 6, 9, 10]);
}

#[test]
fn errors_in_a_model_point_into_the_model_file() {
    let error = load_error("bad_model.ron");
    let files: Vec<(String, usize)> = located(&error).into_iter().map(|(f, l, _)| (f, l)).collect();
    assert_eq!(
        files,
        [
            ("tests/data/bad/models/one_node.ron".to_string(), 1),
            ("tests/data/bad/models/one_node.ron".to_string(), 1)
        ]
    );
}

#[test]
fn a_missing_model_points_at_the_model_field() {
    let error = load_error("missing_model.ron");
    let [e] = error.errors() else {
        panic!("one error expected")
    };
    assert_eq!(e.line, 2);
    assert!(e.message.starts_with("cannot read model file"), "{}", e.message);
}

#[test]
fn a_syntax_error_and_an_unreadable_file_are_reported_not_panicked() {
    let error = load_error("syntax.ron");
    assert_eq!(error.errors()[0].line, 6);
    let missing = scenario::load(Path::new("tests/data/bad/does_not_exist.ron")).unwrap_err();
    assert!(
        missing
            .to_string()
            .starts_with("cannot read tests/data/bad/does_not_exist.ron")
    );
}

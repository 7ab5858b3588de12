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

#[test]
fn the_documented_optional_sections_load() {
    // README.md writes them `Broker(...)`, `Gateway(...)`, `Services(...)`, `Checks(...)`; ron
    // checks those names against the types.
    let scenario = scenario::load(Path::new("tests/data/good/documented_sections.ron"))
        .unwrap_or_else(|e| panic!("the documented form must load: {e:?}"));
    assert!(scenario.system_config().is_some());
    assert_eq!(scenario.must_hold().len(), 6);
    let setup = scenario.system_config().unwrap();
    assert_eq!(setup.converge_within, consim::check::DEFAULT_CONVERGE_WITHIN);
}

#[test]
fn a_typo_in_a_variant_field_is_an_error_not_ignored() {
    let [(file, line, message)] = located(&load_error("typo_in_fault.ron")).try_into().unwrap();
    assert_eq!((file.as_str(), line), ("tests/data/bad/typo_in_fault.ron", 5));
    assert!(message.contains("restrat"), "{message}");
    let [(file, line, message)] = located(&load_error("typo_in_action.ron")).try_into().unwrap();
    assert_eq!(
        (file.as_str(), line),
        ("tests/data/bad/models/typo_in_action.ron", 4)
    );
    assert!(message.contains("mn"), "{message}");
}

#[test]
fn compensations_that_can_be_refused_and_set_actions_are_rejected() {
    let messages: Vec<String> = located(&load_error("refusable_compensations.ron"))
        .into_iter()
        .map(|(_, line, message)| format!("{line}: {message}"))
        .collect();
    assert_eq!(
        messages,
        [
            "11: the compensation of step `charge` has a `max`, so it could be refused",
            "17: the compensation of step `cancel` inserts a row, which is refused if the row exists",
            "22: step `restock` has a Set as its action; a Set is only a compensation",
        ]
    );
}

#[test]
fn model_limits_and_overflows_are_located() {
    let lines: Vec<(usize, String)> = located(&load_error("impossible_rows.ron"))
        .into_iter()
        .map(|(_, line, message)| (line, message))
        .collect();
    let want = [
        (6, "table `bank.huge` has 20000000 rows, more than 10000000"),
        (7, "table `bank.ledger` overflows"),
        (11, "row 2 is not in table `fees`, which has 2 rows"),
        (
            12,
            "step `drain` adds -9223372036854775808, which has no opposite",
        ),
    ];
    assert_eq!(lines.len(), want.len(), "{lines:?}");
    for ((line, message), (want_line, want_start)) in lines.iter().zip(want) {
        assert_eq!(*line, want_line, "{message}");
        assert!(message.starts_with(want_start), "{message}");
    }
    let [(_, line, message)] = located(&load_error("too_many_steps.ron")).try_into().unwrap();
    assert_eq!(line, 68, "the 65th step");
    assert_eq!(message, "the business transaction has 65 steps, more than 64");
}

#[test]
fn a_workload_needs_a_row_for_every_key_and_a_bounded_size() {
    let [(_, line, message)] = located(&load_error("more_keys_than_rows.ron"))
        .try_into()
        .unwrap();
    assert_eq!(line, 5);
    assert_eq!(
        message,
        "workload key_count 50 is more than the 10 rows of table `flight.seats`"
    );
    let [(_, line, message)] = located(&load_error("too_many_requests.ron")).try_into().unwrap();
    assert_eq!(line, 5);
    assert!(message.contains("100000001"), "{message}");
    let [(file, _, message)] = located(&load_error("too_many_nodes.ron")).try_into().unwrap();
    assert_eq!(file, "tests/data/bad/models/too_many_nodes.ron");
    assert_eq!(message, "a pingmesh has at most 1024 nodes, got 1025");
}

#[test]
fn switching_to_two_pc_on_a_model_it_cannot_run_says_why() {
    // The same model under a saga loads and runs; `--strategy two_pc` is refused.
    let path = Path::new("tests/data/bad/saga_two_steps_one_table.ron");
    let source = std::fs::read_to_string("tests/data/bad/two_pc_two_steps_one_table.ron")
        .unwrap()
        .replace("TwoPc()", "SagaOrchestrated()");
    let saga = scenario::load_source(path, &source).expect("a saga runs two steps on one table");
    let err = saga.with_strategy("2pc").unwrap_err();
    assert!(
        err.starts_with("two_pc cannot run steps `debit` and `credit`"),
        "{err}"
    );
    assert!(saga.with_strategy("eventual").is_ok());
}

//! Fuzzing the file readers: mutated scenario and model files go through `check` (loading)
//! and, when they load, through `run` with a tiny event budget. Nothing may panic or hang,
//! and every mistake found in a file is located (a line and column inside it).

use std::path::Path;

use consim::scenario::{self, ScenarioError};
use consim::sim::TraceLevel;
use proptest::prelude::*;

/// The bundled files the mutations start from.
const SCENARIOS: [&str; 4] = [
    "scenarios/food_happy_path.ron",
    "scenarios/food_partition.ron",
    "scenarios/twin_2pc_no_log.ron",
    "scenarios/tcc_coordinator_crash.ron",
];
const MODELS: [&str; 2] = ["models/food_delivery.ron", "models/bank_transfer.ron"];

/// One edit of a text: what fuzzers do to files.
#[derive(Clone, Debug)]
enum Edit {
    /// Delete `len` characters at `at` (fractions of the text length, so edits apply to any
    /// file).
    Delete { at: f64, len: usize },
    /// Insert text at `at`.
    Insert { at: f64, text: String },
    /// Replace the `nth` number in the text with `value`.
    Number { nth: usize, value: String },
    /// Cut the text at `at`.
    Truncate { at: f64 },
}

fn edit() -> impl Strategy<Value = Edit> {
    let token = prop_oneof![
        Just("(".to_string()),
        Just(")".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\"".to_string()),
        Just("Crash(node: \"nobody\", at: \"1s\")".to_string()),
        Just("requests: 0".to_string()),
        Just("Stop(events: 0)".to_string()),
        "[a-z_]{1,8}",
        "[ -~]{0,6}",
    ];
    let number = prop_oneof![
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("1e308".to_string()),
        Just("18446744073709551616".to_string()),
        Just("0.5".to_string()),
        Just("\"1ms\"".to_string()),
        "[0-9]{1,12}",
    ];
    prop_oneof![
        (0.0..1.0f64, 1..20usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (0.0..1.0f64, token).prop_map(|(at, text)| Edit::Insert { at, text }),
        (0..40usize, number).prop_map(|(nth, value)| Edit::Number { nth, value }),
        (0.0..1.0f64).prop_map(|at| Edit::Truncate { at }),
    ]
}

/// The char boundary at fraction `at` of `text`.
fn position(text: &str, at: f64) -> usize {
    let mut i = ((text.len() as f64) * at) as usize;
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, edit: &Edit) -> String {
    match edit {
        Edit::Delete { at, len } => {
            let start = position(text, *at);
            let mut end = (start + len).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            format!("{}{}", &text[..start], &text[end..])
        }
        Edit::Insert { at, text: new } => {
            let i = position(text, *at);
            format!("{}{new}{}", &text[..i], &text[i..])
        }
        Edit::Number { nth, value } => {
            let mut count = 0;
            let bytes = text.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i].is_ascii_digit() && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) {
                    let end = (i..bytes.len())
                        .find(|&j| !(bytes[j].is_ascii_digit() || bytes[j] == b'.'))
                        .unwrap_or(bytes.len());
                    if count == *nth {
                        return format!("{}{value}{}", &text[..i], &text[end..]);
                    }
                    count += 1;
                    i = end;
                } else {
                    i += 1;
                }
            }
            text.to_string()
        }
        Edit::Truncate { at } => text[..position(text, *at)].to_string(),
    }
}

/// Every located mistake points inside the file it names.
fn assert_located(error: &ScenarioError, sources: &[(&str, &str)]) {
    if let ScenarioError::Invalid { errors, .. } = error {
        assert!(!errors.is_empty(), "an invalid file reports at least one mistake");
        for e in errors {
            let source = sources
                .iter()
                .find(|(name, _)| e.file.ends_with(name))
                .map(|(_, text)| *text)
                .unwrap_or_else(|| panic!("a mistake in an unexpected file {}: {e:?}", e.file));
            let lines = source.lines().count().max(1);
            assert!(
                e.line >= 1 && e.line <= lines + 1,
                "{}: line {} of {lines}",
                e.file,
                e.line
            );
            assert!(e.column >= 1, "{}: column {}", e.file, e.column);
        }
    }
}

/// A loaded scenario runs at most this many events: enough to exercise the actors, short
/// enough for many cases.
const EVENT_BUDGET: &str = "stop: Stop(events: 3000),";

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_are_refused_with_located_errors_or_run_without_panicking(
        which in 0..SCENARIOS.len(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let path = Path::new(SCENARIOS[which]);
        let original = std::fs::read_to_string(path).unwrap();
        // Bound every run first, so that a mutation that loads stops quickly.
        let bounded = original.replacen("Scenario(", &format!("Scenario(\n    {EVENT_BUDGET}"), 1);
        let text = edits.iter().fold(bounded, |text, e| apply(&text, e));
        match scenario::load_source(path, &text) {
            Err(error) => assert_located(&error, &[(SCENARIOS[which], &text), ("food_delivery.ron", ""), ("bank_transfer.ron", "")]),
            // Run only a mutant that kept its event budget: one that lost it may run a whole
            // scenario, which is slow, not wrong.
            Ok(loaded) if text.contains(EVENT_BUDGET) => {
                let run = consim::runner::run(&loaded, loaded.seed, TraceLevel::Hash);
                prop_assert!(run.report.events <= 3_000, "{} events", run.report.events);
            }
            Ok(_) => {}
        }
    }

    #[test]
    fn mutated_models_are_refused_with_located_errors_or_load(
        which in 0..MODELS.len(),
        edits in prop::collection::vec(edit(), 1..4),
    ) {
        let path = Path::new(MODELS[which]);
        let original = std::fs::read_to_string(path).unwrap();
        let text = edits.iter().fold(original, |text, e| apply(&text, e));
        if let Err(error) = scenario::load_model(path, &text) {
            assert_located(&error, &[(MODELS[which], &text)]);
        }
    }
}

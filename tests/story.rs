//! The story behind a violation: `explain` names the fault behind each twin's violation, and
//! `diagram` draws it; both are snapshots of the bundled twins.

use std::path::Path;

use consim::scenario;
use consim::story::{DiagramOptions, Story, diagram, explain};

/// Each twin with what its story must name: the fault behind the violation.
const TWINS: [(&str, &str); 7] = [
    (
        "twin_dual_write",
        "bank_a crashed at 34.932ms right after local_commit for gtx 0 (at 34.932ms): it never reached event_published",
    ),
    (
        "twin_eventual_dual_write",
        "order crashed at 26.308ms right after local_commit for gtx 0 (at 26.308ms): it never reached event_published",
    ),
    (
        "twin_2pc_no_log",
        "coordinator crashed at 20.577ms right after decision_sent for gtx 0",
    ),
    (
        "twin_no_idempotency",
        "Deliver [step 0] from broker to bank_b arrived 2 times",
    ),
    (
        "twin_saga_no_idempotency",
        "Action [step 1] from orchestrator to payment arrived 2 times",
    ),
    (
        "twin_saga_no_compensation_retries",
        "Compensation from orchestrator to bank_b at 139.248ms was lost (aimed) and never arrived again",
    ),
    (
        "twin_shared_database",
        "bank_a -> bank_b             DirectDbAccess",
    ),
];

fn story(name: &str) -> Story {
    let path = format!("scenarios/{name}.ron");
    let scenario = scenario::load(Path::new(&path)).unwrap();
    Story::of(&scenario, scenario.seed, None).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn explain_names_the_fault_behind_each_twin_s_violation() {
    for (name, names) in TWINS {
        let text = explain(&story(name));
        assert!(text.contains(names), "{name}:\n{text}");
        assert!(
            text.contains("\n  => "),
            "{name}: the story ends at the broken invariant:\n{text}"
        );
        insta::assert_snapshot!(format!("explain_{name}"), text);
    }
}

#[test]
fn diagram_draws_a_twin_as_mermaid_and_refuses_one_too_long() {
    let options = DiagramOptions {
        max_lines: 300,
        points: true,
        ..DiagramOptions::default()
    };
    for (name, _) in TWINS {
        let text = diagram(&story(name), &options).unwrap();
        assert!(
            text.starts_with("sequenceDiagram\n    participant "),
            "{name}:\n{text}"
        );
        insta::assert_snapshot!(format!("diagram_{name}"), text);
    }
    let dual = story("twin_dual_write");
    let text = diagram(&dual, &options).unwrap();
    assert!(text.contains("Note over bank_a: CRASH (34.932ms)"), "{text}");
    let capped = DiagramOptions {
        max_lines: 5,
        ..options
    };
    let error = diagram(&dual, &capped).unwrap_err();
    assert!(error.contains("more than --max-lines 5"), "{error}");
}

#[test]
fn a_run_without_a_violated_transaction_has_no_story_to_tell_unless_one_is_named() {
    let scenario = scenario::load(Path::new("scenarios/food_happy_path.ron")).unwrap();
    let error = Story::of(&scenario, 1, None).err().unwrap();
    assert!(error.contains("nothing to explain"), "{error}");
    assert!(Story::of(&scenario, 1, Some(3)).is_ok());
    assert!(
        Story::of(&scenario, 1, Some(1_000_000))
            .err()
            .unwrap()
            .contains("no transaction")
    );
}

/// The Chrome trace of the 2PC twin: a named track per actor, every message's flow from its
/// send to its delivery, local transactions and in-doubt periods as slices, the crash as an
/// instant on the coordinator's track.
#[test]
fn the_chrome_trace_has_tracks_flows_slices_and_fault_instants() {
    let scenario = scenario::load(Path::new("scenarios/twin_2pc_no_log.ron")).unwrap();
    let run = consim::runner::run(&scenario, scenario.seed, consim::sim::TraceLevel::Full);
    let document = consim::chrome::chrome_trace(run.trace.entries(), &run.names);
    let events = document["traceEvents"].as_array().unwrap();
    let of = |ph: &'static str| events.iter().filter(move |e| e["ph"] == ph);
    let tracks: Vec<&str> = of("M")
        .filter(|e| e["name"] == "thread_name")
        .map(|e| e["args"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tracks, run.names.iter().map(String::as_str).collect::<Vec<_>>());
    let starts: std::collections::BTreeSet<u64> = of("s").map(|e| e["id"].as_u64().unwrap()).collect();
    let ends: std::collections::BTreeSet<u64> = of("f").map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(!starts.is_empty());
    assert_eq!(
        starts, ends,
        "every message sent is delivered or lost on arrival, and each flow has both ends"
    );
    for name in ["local tx (locks held)", "in doubt"] {
        let begun = of("b").filter(|e| e["name"] == name).count();
        let ended = of("e").filter(|e| e["name"] == name).count();
        assert!(
            begun > 0 && begun == ended,
            "{name}: {begun} begun, {ended} ended"
        );
    }
    let coordinator = run.names.iter().position(|n| n == "coordinator").unwrap() + 1;
    assert!(of("i").any(|e| e["name"] == "CRASH" && e["tid"] == coordinator));
    // Timestamps are virtual microseconds.
    assert!(
        events
            .iter()
            .filter_map(|e| e["ts"].as_u64())
            .all(|ts| ts <= run.report.virtual_duration_us)
    );
}

/// The dual-write twin against its fix, on one seed: the traces part where the fixed run's
/// relay publishes after the restart, and the one request the twin left timed out committed.
#[test]
fn diff_aligns_two_runs_by_request_and_names_the_first_divergence() {
    let twin = scenario::load(Path::new("scenarios/twin_dual_write.ron")).unwrap();
    let mut fixed = twin.clone();
    let outbox = consim::strategy::registry::named("saga_choreographed").unwrap();
    fixed.system_config_mut().unwrap().strategy = outbox;
    let a = consim::story::Side::of("dual write".into(), &twin, twin.seed);
    let b = consim::story::Side::of("outbox".into(), &fixed, twin.seed);
    let text = consim::story::diff(&a, &b);
    assert!(text.contains("1 x timed_out (a) vs committed (b)"), "{text}");
    assert!(text.contains("first divergence"), "{text}");
    insta::assert_snapshot!("diff_twin_dual_write_against_its_fix", text);
    let same = consim::story::Side::of("again".into(), &twin, twin.seed);
    assert!(consim::story::diff(&a, &same).contains("the same run, event for event"));
}

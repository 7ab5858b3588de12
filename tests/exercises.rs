//! The classroom pack: every exercise as it ships fails the criteria it is about, showing
//! the hint meant for it; its reference solution (in `exercises/teacher/`) passes, also on
//! seeds the student never saw; the grade's output is a snapshot.

use std::path::PathBuf;

use consim::exercise::grade::Work;
use consim::exercise::output::to_text;
use consim::exercise::{self, Grade, Options};

/// Exercise 12's starting code, compiled here as the grading program compiles it.
#[path = "../exercises/12-write-a-saga-runner/student.rs"]
mod student_12;

/// Exercise 12's reference solution.
#[path = "../exercises/teacher/12-write-a-saga-runner/student.rs"]
mod solution_12;

fn pool() -> rayon::ThreadPool {
    consim::seeds::pool(None).expect("a pool")
}

fn grade(id: &str, work: &Work, options: &Options) -> (exercise::Exercise, Grade) {
    let found = exercise::find(exercise::DEFAULT_ROOT.as_ref(), id).expect("a bundled exercise");
    let grade = exercise::grade(&found, work, options, &pool()).expect("the exercise grades");
    (found, grade)
}

/// The exercise as it ships fails exactly `failing` (criteria names), one of them showing a
/// hint containing `hint`; the grade's text is a snapshot.
fn fails(id: &str, failing: &[&str], hint: &str, options: &Options) {
    let (found, start) = grade(id, &Work::Starting, options);
    let failed: Vec<&str> = start
        .results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(failed, failing, "{}", to_text(&found, &start));
    assert!(
        start
            .results
            .iter()
            .filter_map(|r| r.hint.as_deref())
            .any(|h| h.contains(hint)),
        "no hint with {hint:?}:\n{}",
        to_text(&found, &start)
    );
    insta::assert_snapshot!(format!("grade_{id}"), to_text(&found, &start));
}

/// `work` passes every criterion on the students' seeds and on seeds a teacher keeps.
fn passes(id: &str, work: &Work, options: &Options) {
    for seed_base in [1, 4_242] {
        let options = Options {
            seed_base,
            ..options.clone()
        };
        let (found, solved) = grade(id, work, &options);
        assert!(solved.passed(), "{}", to_text(&found, &solved));
    }
}

/// A configure or predict exercise: it fails as it ships, and the teacher's folder passes.
fn configure(id: &str, failing: &[&str], hint: &str) {
    fails(id, failing, hint, &Options::default());
    let found = exercise::find(exercise::DEFAULT_ROOT.as_ref(), id).expect("a bundled exercise");
    let solution = PathBuf::from("exercises/teacher").join(&found.id);
    passes(id, &Work::Folder(solution), &Options::default());
}

#[test]
fn exercise_01_a_duplicate_delivery_charges_twice_until_consumers_are_idempotent() {
    configure(
        "01",
        &[
            "no customer is charged twice",
            "every order ends whole, and the client is told the truth",
        ],
        "what must a consumer remember",
    );
}

#[test]
fn exercise_02_a_crash_between_commit_and_publish_loses_the_event_until_the_outbox() {
    // The hint keyed by the point the order service crashed right after.
    configure(
        "02",
        &[
            "every order is charged, cooked and delivered, or not at all",
            "no order is left waiting forever",
        ],
        "crashed right after committing the order",
    );
}

#[test]
fn exercise_03_predictions_of_the_blocking_are_graded_without_showing_the_answer() {
    let (found, start) = grade("03", &Work::Starting, &Options::default());
    assert!(
        start.results[1].summary.contains("no prediction yet"),
        "{:?}",
        start.results
    );
    let text = to_text(&found, &start);
    assert!(!text.contains("2090") && !text.contains("2.09"), "{text}");
    // The coordinator crashed right after logging, so the story names that point and not
    // the send it would have reached next in the same handler.
    let scenario = consim::scenario::load("exercises/03-blocked-by-the-coordinator/scenario.ron".as_ref())
        .expect("loads");
    let story = consim::story::Story::of(&scenario, 1, Some(19)).expect("gtx 19 ran");
    assert_eq!(consim::story::crash_points(&story), ["decision_logged"]);
    configure(
        "03",
        &[
            "how long a prepared service is left in doubt",
            "how long the slowest clients wait",
        ],
        "may not decide alone",
    );
}

#[test]
fn exercise_04_a_coordinator_that_sends_before_logging_splits_the_outcome() {
    configure(
        "04",
        &[
            "all services commit, or all abort",
            "the client is told what happened",
        ],
        "crashed right after sending its decision",
    );
}

#[test]
fn exercise_05_a_compensation_tried_once_leaves_the_courier_assigned() {
    configure(
        "05",
        &[
            "a cancelled order leaves nothing behind",
            "the same holds when delivery is silent for a whole minute",
            "every order reaches an end",
        ],
        "what must the orchestrator do until it is acknowledged",
    );
}

#[test]
fn exercise_06_an_undo_that_resets_the_stock_loses_other_orders_updates() {
    configure(
        "06",
        &[
            "no update is lost",
            "the stock adds up, and no dish is sold twice",
        ],
        "which kind of update commutes",
    );
    // The anomalies the report counts all fire here: lost updates, dirty reads and
    // inconsistent audits, on every seed graded.
    let scenario =
        consim::scenario::load("exercises/06-lost-update-on-restock/scenario.ron".as_ref()).expect("loads");
    for seed in 1..=5 {
        let report = consim::runner::run(&scenario, seed, consim::sim::TraceLevel::Off).report;
        let a = report.anomalies.expect("a system run");
        assert!(a.lost_updates.count > 0, "seed {seed}: {a:?}");
        assert!(a.dirty_reads.count > 0, "seed {seed}: {a:?}");
        assert!(a.inconsistent_audit_reads.count > 0, "seed {seed}: {a:?}");
    }
}

#[test]
fn exercise_07_a_slow_outbox_relay_leaves_the_dashboard_stale() {
    configure(
        "07",
        &[
            "the dashboard sees a change within 20 ms on average",
            "services agree within 200 ms for 99% of orders",
        ],
        "How often does it look?",
    );
}

#[test]
fn exercise_08_availability_under_a_partition_is_predicted_per_strategy() {
    configure(
        "08",
        &[
            "two-phase commit's availability during the partition",
            "the orchestrated saga's availability during the partition",
            "eventual consistency's availability during the partition",
            "the share of all orders two-phase commit commits",
        ],
        "Who has to answer before the client is told yes?",
    );
}

#[test]
fn exercise_09_a_hot_dish_under_2pc_aborts_orders_on_lock_timeouts() {
    configure(
        "09",
        &[
            "at least 95% of orders go through",
            "an order waits for locks under 5 ms on average",
        ],
        "holds its lock from its vote until the decision arrives",
    );
}

#[test]
fn exercise_10_three_phase_commit_splits_under_a_partition() {
    configure(
        "10",
        &[
            "every order commits everywhere or nowhere",
            "every order reaches an end",
        ],
        "safe only if silence really means a crash",
    );
}

#[test]
fn exercise_11_two_phase_commit_costs_are_predicted_for_two_and_four_participants() {
    configure(
        "11",
        &[
            "messages per order, two participants",
            "forced writes per order, two participants",
            "messages per order, four participants",
            "forced writes per order, four participants",
        ],
        "Draw one order's sequence diagram",
    );
}

#[test]
fn exercise_12_a_bare_saga_fails_on_a_lossy_network_and_the_reference_runner_passes() {
    let student = Options {
        strategy: Some(student_12::strategy()),
        command: "cargo run --release --example exercise_12 --".into(),
        ..Options::default()
    };
    fails(
        "12",
        &[
            "every order ends whole or not at all, charged once",
            "every order reaches an end",
        ],
        "Set a timer when you call a step",
        &student,
    );
    let solution = Options {
        strategy: Some(solution_12::strategy()),
        ..Options::default()
    };
    passes("12", &Work::Starting, &solution);
}

#[test]
fn exercise_13_two_orders_read_one_balance_until_the_read_is_guarded() {
    configure(
        "13",
        &[
            "no charge is lost",
            "no customer spends money they do not have",
            "no decision is made on an outdated balance",
        ],
        "the second write replaced the first",
    );
}

#[test]
fn a_fix_that_only_outlasts_the_fault_or_drops_the_lesson_does_not_pass() {
    let dir = std::env::temp_dir().join(format!("consim-exercise-cheats-{}", std::process::id()));
    let copy = |exercise: &str, name: &str, edit: &dyn Fn(String) -> String| {
        let to = dir.join(name);
        std::fs::create_dir_all(&to).expect("a temp dir");
        for entry in std::fs::read_dir(format!("exercises/{exercise}")).expect("an exercise") {
            let path = entry.expect("an entry").path();
            if path.extension().is_some_and(|e| e == "ron") {
                let text = std::fs::read_to_string(&path).expect("reads");
                let file = path.file_name().expect("a name");
                std::fs::write(to.join(file), edit(text)).expect("written");
            }
        }
        to
    };
    // 05: retrying the forward step a hundred times outlasts the 5 s silence, not a minute.
    let retries = copy("05-compensation-gives-up", "05", &|t| {
        t.replace(
            "compensation_retries: false",
            "compensation_retries: false, retry_max: 100",
        )
    });
    // 06: removing the reserve_dish step removes its lost updates too.
    let no_step = copy("06-lost-update-on-restock", "06", &|t| match t
        .find("        Step(\n            name: \"reserve_dish\"")
    {
        Some(start) => {
            let end = t
                .find("        Step(name: \"assign_courier\"")
                .expect("the next step");
            format!("{}{}", &t[..start], &t[end..])
        }
        None => t,
    });
    // 02: another strategy has no dual write to fix.
    let other = copy("02-the-lost-event", "02", &|t| {
        t.replace("SagaChoreographed(dual_write: true)", "SagaOrchestrated()")
    });
    let failed = |id: &str, work: PathBuf| -> Vec<String> {
        let (_, graded) = grade(id, &Work::Folder(work), &Options::default());
        graded
            .results
            .iter()
            .filter(|r| !r.passed)
            .map(|r| r.name.clone())
            .collect()
    };
    let (f05, f06, f02) = (failed("05", retries), failed("06", no_step), failed("02", other));
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(f05, ["the same holds when delivery is silent for a whole minute"]);
    assert_eq!(f06, ["every order still goes through all four steps"]);
    assert_eq!(
        f02,
        ["leaves faults, workload, strategy_name, model.ron as they were"]
    );
}

#[test]
fn the_pack_covers_every_kind_and_at_least_ten_exercises() {
    let all = exercise::list(exercise::DEFAULT_ROOT.as_ref()).expect("the pack reads");
    assert!(all.len() >= 10, "{} exercises", all.len());
    for kind in [
        exercise::Kind::Configure,
        exercise::Kind::Predict,
        exercise::Kind::Implement,
    ] {
        assert!(all.iter().any(|e| e.spec.kind == kind), "no {kind:?} exercise");
    }
    // Every exercise has its answers and reference solution in the teacher's folder.
    for e in &all {
        let teacher = PathBuf::from("exercises/teacher").join(&e.id);
        assert!(teacher.join("ANSWERS.md").is_file(), "{} has no ANSWERS.md", e.id);
    }
}

/// The binary's `exercise` command: its exit codes and outputs.
mod command {
    use crate::cli::consim;

    #[test]
    fn list_and_show_name_every_exercise_and_how_to_grade_it() {
        let (code, out, _) = consim(&["exercise", "list"]);
        assert_eq!(code, 0);
        insta::assert_snapshot!("exercise_list", out);
        let (code, out, _) = consim(&["exercise", "show", "12"]);
        assert_eq!(code, 0);
        assert!(
            out.contains("grade: cargo run --release --example exercise_12"),
            "{out}"
        );
        let (code, out, _) = consim(&["exercise", "show", "01-charged-twice"]);
        assert_eq!(code, 0);
        assert!(out.contains("you edit: scenario.ron"), "{out}");
    }

    #[test]
    fn grade_exits_two_on_a_failing_criterion_zero_when_all_pass_one_on_bad_input() {
        let (code, out, _) = consim(&["exercise", "grade", "1"]);
        assert_eq!(code, 2, "{out}");
        assert!(out.contains("NOT YET"), "{out}");
        let (code, out, _) = consim(&["exercise", "grade", "1", "exercises/teacher/01-charged-twice"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.ends_with("3 of 3 criteria pass: PASSED\n"), "{out}");
        // A single file stands for the exercise file of its name.
        let (code, out, _) = consim(&[
            "exercise",
            "grade",
            "11",
            "exercises/teacher/11-predict-2pc-costs/predictions.ron",
        ]);
        assert_eq!(code, 0, "{out}");
        let (code, _, err) = consim(&["exercise", "grade", "99"]);
        assert_eq!(code, 1);
        assert!(
            err.contains("no exercise `99`") && err.contains("01-charged-twice"),
            "{err}"
        );
        let (code, _, err) = consim(&["exercise", "grade", "3", "Cargo.toml", "README.md"]);
        assert_eq!(code, 1);
        assert!(err.contains("Cargo.toml is not a file of exercise 03"), "{err}");
        let (code, _, err) = consim(&["exercise", "grade", "12"]);
        assert_eq!(code, 1);
        assert!(err.contains("cargo run --release --example exercise_12"), "{err}");
    }

    #[test]
    fn a_broken_grader_is_reported_with_its_places_and_hints() {
        let (code, _, err) = consim(&["exercise", "grade", "1", "--dir", "tests/data/exercises"]);
        assert_eq!(code, 1);
        for expected in [
            "grader.ron:4:14",
            "cannot pin `fautls`",
            "grader.ron:9:21",
            "did you mean `messages_per_tx`?",
            "no scenario `missing.ron`",
            "give it seeds",
        ] {
            assert!(err.contains(expected), "{expected}:\n{err}");
        }
    }

    #[test]
    fn a_student_who_removes_the_fault_is_caught_by_the_pinned_fields() {
        let dir = std::env::temp_dir().join(format!("consim-exercise-pinned-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        std::fs::copy("exercises/01-charged-twice/model.ron", dir.join("model.ron")).expect("copied");
        let scenario = std::fs::read_to_string("exercises/01-charged-twice/scenario.ron").expect("reads");
        let without_fault = scenario.replace(
            "OnMessage(from: \"broker\", to: \"payment\", kind: \"Deliver\", nth: 1, effect: Duplicate),",
            "",
        );
        assert_ne!(without_fault, scenario);
        std::fs::write(dir.join("scenario.ron"), without_fault).expect("written");
        let (code, out, _) = consim(&["exercise", "grade", "1", dir.to_str().expect("utf-8")]);
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(code, 2, "{out}");
        assert!(
            out.contains("FAIL  leaves faults, workload, strategy_name, model.ron as they were"),
            "{out}"
        );
        assert!(out.contains("changed: faults in scenario.ron"), "{out}");
    }

    #[test]
    fn a_class_is_graded_in_batch_into_a_csv_per_student_and_criterion() {
        let class = std::env::temp_dir().join(format!("consim-exercise-class-{}", std::process::id()));
        let student = |name: &str, from: &str| {
            let dir = class.join(name);
            std::fs::create_dir_all(&dir).expect("a student folder");
            for file in ["scenario.ron", "model.ron"] {
                std::fs::copy(format!("{from}/{file}"), dir.join(file)).expect("copied");
            }
        };
        student("ada", "exercises/teacher/01-charged-twice");
        student("bob", "exercises/01-charged-twice");
        std::fs::create_dir_all(class.join("eve")).expect("a student folder");
        std::fs::write(
            class.join("eve/scenario.ron"),
            "Scenario(model: \"model.ron\", seed: 1, strategy: Nope())",
        )
        .expect("written");
        let csv = class.join("grades.csv");
        let (code, out, _) = consim(&[
            "exercise",
            "grade",
            "1",
            "--batch",
            class.to_str().expect("utf-8"),
            "--csv",
            csv.to_str().expect("utf-8"),
        ]);
        let rows = std::fs::read_to_string(&csv).expect("the CSV was written");
        std::fs::remove_dir_all(&class).ok();
        assert_eq!(code, 2, "{out}");
        assert!(
            out.contains("ada                      3 of 3 criteria pass"),
            "{out}"
        );
        assert!(
            out.contains("bob                      1 of 3 criteria pass"),
            "{out}"
        );
        assert!(
            out.contains("eve                      files do not load"),
            "{out}"
        );
        assert!(out.ends_with("1 of 3 students pass every criterion\n"), "{out}");
        let lines: Vec<&str> = rows.lines().collect();
        assert_eq!(lines[0], "student,exercise,criterion,passed,detail,failing_seed");
        assert_eq!(lines.len(), 1 + 3 + 3 + 1, "{rows}");
        assert!(
            lines.iter().any(
                |l| l.starts_with("bob,01-charged-twice,no customer is charged twice,false,")
                    && l.ends_with(",1")
            ),
            "{rows}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("eve,01-charged-twice,(files),false,")
                    && l.contains("unknown strategy")),
            "{rows}"
        );
    }
}

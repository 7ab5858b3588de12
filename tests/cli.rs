//! The `consim` binary as a user meets it: exit codes, the default run, JSON, traces.

use std::process::Command;

/// Runs the binary with `args`: its exit code, stdout and stderr.
pub(crate) fn consim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_consim"))
        .args(args)
        .output()
        .expect("consim runs");
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("utf-8 output");
    (
        out.status.code().expect("exited"),
        text(out.stdout),
        text(out.stderr),
    )
}

#[test]
fn a_run_exits_zero_and_prints_a_report_with_the_replay_command() {
    let (code, out, _) = consim(&["run", "scenarios/food_happy_path.ron", "--seed", "3"]);
    assert_eq!(code, 0);
    assert!(out.contains("strategy               saga_orchestrated"), "{out}");
    assert!(
        out.contains("replay: consim run scenarios/food_happy_path.ron --seed 3"),
        "{out}"
    );
}

#[test]
fn no_arguments_runs_the_default_scenario_and_says_so() {
    let (code, out, err) = consim(&[]);
    assert_eq!(code, 0);
    assert!(
        err.contains("running the bundled default scenario scenarios/food_happy_path.ron"),
        "{err}"
    );
    assert!(out.contains("food_happy_path"), "{out}");
}

#[test]
fn bad_input_exits_one_with_a_located_message() {
    let (code, _, err) = consim(&["run", "tests/data/bad/unknown_node.ron"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("unknown node `nn3`") && err.contains("unknown_node.ron:6:43"),
        "{err}"
    );
    let (code, _, err) = consim(&["run", "scenarios/food_partition.ron", "--strategy", "paxos"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("unknown strategy `paxos`; valid: two_pc, saga_orchestrated"),
        "{err}"
    );
}

#[test]
fn a_violated_must_hold_check_exits_two() {
    let (code, out, err) = consim(&["run", "tests/data/cli/must_hold_broken.ron"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("checks the scenario requires were violated or could not be judged: no_double_effect"),
        "{err}"
    );
}

#[test]
fn a_scenario_without_must_hold_requires_every_check() {
    // The twins list no must_hold: every check is required, so a caught twin exits 2 from
    // `run` just as from `sweep`.
    let (code, out, err) = consim(&["run", "scenarios/twin_no_idempotency.ron"]);
    assert_eq!(code, 2, "{out}");
    assert!(err.contains("no_double_effect"), "{err}");
    let (code, _, err) = consim(&["run", "scenarios/food_happy_path.ron"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn json_reports_and_traces_are_machine_readable() {
    let (code, out, _) = consim(&["run", "scenarios/food_partition.ron", "--format", "json"]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).expect("a JSON report");
    assert_eq!(report["strategy"], "two_pc");
    assert!(report["transactions"]["started"].as_u64().unwrap() > 1_000);
    let trace = std::env::temp_dir().join(format!("consim-cli-trace-{}.jsonl", std::process::id()));
    let (code, _, _) = consim(&[
        "run",
        "scenarios/pingmesh_faults.ron",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    let text = std::fs::read_to_string(&trace).unwrap();
    std::fs::remove_file(&trace).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    for field in [
        "at_us", "seq", "event", "src", "dst", "note", "gtx", "step", "kind", "fields",
    ] {
        assert!(first.get(field).is_some(), "missing {field}: {first}");
    }
    assert!(text.lines().any(|l| l.contains("\"note\":\"partition\"")));
    // A business run's lines name the transaction, the step, the kind and the fields as JSON;
    // a local transaction's completion is named by its gtx.
    let (code, _, _) = consim(&[
        "run",
        "scenarios/twin_dual_write.ron",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "the twin is caught");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    std::fs::remove_file(&trace).unwrap();
    let done = lines
        .iter()
        .find(|l| l["kind"] == "LocalDone")
        .expect("a local transaction ended");
    assert!(
        done["gtx"].is_u64() && done["step"].is_u64() && done["fields"]["local"].is_u64(),
        "{done}"
    );
    let commit = lines
        .iter()
        .find(|l| l["event"] == "point" && l["note"] == "local_commit")
        .expect("a commit point");
    assert_eq!(commit["src"], "bank_a");
    assert!(commit["gtx"].is_u64(), "{commit}");
}

#[test]
fn check_graph_and_list_work_on_the_bundled_files() {
    let (code, out, _) = consim(&["check", "models/food_delivery.ron", "scenarios/food_crash.ron"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok   scenarios/food_crash.ron"), "{out}");
    let (code, out, _) = consim(&["graph", "models/bank_transfer.ron"]);
    assert_eq!(code, 0);
    assert!(out.contains("label = \"0: debit\""), "{out}");
    let (code, out, _) = consim(&["list"]);
    assert_eq!(code, 0);
    assert!(out.contains("scenarios/twin_dual_write.ron"), "{out}");
}

#[test]
fn compare_runs_every_strategy_on_the_same_seeds_in_every_format() {
    let args = [
        "compare",
        "scenarios/food_partition.ron",
        "--strategies",
        "two_pc,saga",
        "--seeds",
        "0..=1",
    ];
    let (code, out, err) = consim(&args);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("food_partition over seeds 0..2"), "{out}");
    assert!(
        out.contains("two_pc") && out.contains("saga_orchestrated"),
        "{out}"
    );
    let (code, csv, _) = consim(&[&args[..], &["--format", "csv"]].concat());
    assert_eq!(code, 0);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("variant,strategy,seed,started,"), "{csv}");
    assert_eq!(lines.len(), 1 + 2 * 2, "a row per strategy and seed: {csv}");
    let (code, json, _) = consim(&[&args[..], &["--format", "json"]].concat());
    assert_eq!(code, 0);
    let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(parsed["summaries"].as_array().unwrap().len(), 2);
    // A twin breaks a check it requires in some runs: the table is printed, then exit 2.
    let (code, out, err) = consim(&["compare", "scenarios/twin_dual_write.ron", "--seeds", "0..2"]);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("runs violating a required check"), "{out}");
    assert!(err.contains("runs failed a required check"), "{err}");
}

#[test]
fn compare_rejects_bad_seed_ranges_and_unknown_strategies_in_one_line() {
    for (args, expected) in [
        (
            ["compare", "scenarios/food_partition.ron", "--seeds", "9..3"],
            "is an empty seed range",
        ),
        (
            ["compare", "scenarios/food_partition.ron", "--seeds", "x..y"],
            "is not a seed range",
        ),
        (
            ["compare", "scenarios/food_partition.ron", "--strategies", "paxos"],
            "unknown strategy `paxos`",
        ),
        (
            [
                "compare",
                "scenarios/food_partition.ron",
                "--seeds",
                "0..20000000",
            ],
            "a comparison runs at most 10000000 per strategy",
        ),
        (
            [
                "compare",
                "scenarios/food_partition.ron",
                "--strategies",
                "saga,saga_orchestrated",
            ],
            "`saga` and `saga_orchestrated` name the same strategy",
        ),
    ] {
        let (code, _, err) = consim(&args);
        assert_eq!(code, 1, "{args:?}");
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}

#[test]
fn a_sweep_prints_failing_seeds_with_replay_commands_and_exits_two() {
    let (code, out, err) = consim(&[
        "sweep",
        "scenarios/twin_no_idempotency.ron",
        "--seeds",
        "0..4",
        "--quiet",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("4 seeds run from 0..4 (shard 1/1)"), "{out}");
    assert!(
        out.contains("replay: consim run scenarios/twin_no_idempotency.ron --seed 3"),
        "{out}"
    );
    let (code, out, _) = consim(&[
        "sweep",
        "scenarios/food_happy_path.ron",
        "--seeds",
        "0..3",
        "--quiet",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("3 seeds run from 0..3 (shard 1/1), 0 failing"),
        "{out}"
    );
}

#[test]
fn sweep_arguments_are_validated_with_one_line_saying_what_is_accepted() {
    for (args, expected) in [
        (
            vec!["--shard", "17/16"],
            "`17/16` names no shard: write i/n with 1 <= i <= n",
        ),
        (vec!["--shard", "x"], "`x` is not a shard"),
        (vec!["--seeds", "5..5"], "`5..5` is an empty seed range"),
        (vec!["--seeds", "1-9"], "`1-9` is not a seed range"),
        (vec!["--threads", "0"], "give at least one thread"),
        (
            vec!["--seeds", "0..25000000"],
            "spread the range over at least 3 shards with --shard i/n",
        ),
        (vec!["--strategy", "paxos"], "unknown strategy `paxos`; valid:"),
    ] {
        let mut all = vec!["sweep", "scenarios/food_happy_path.ron", "--quiet"];
        all.extend(args);
        let (code, _, err) = consim(&all);
        assert_eq!(code, 1, "{all:?}: {err}");
        assert!(err.contains(expected), "{all:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
}

#[test]
fn shrink_writes_a_scenario_that_replays_the_failure_and_rejects_bad_arguments() {
    let out = std::env::temp_dir().join(format!("consim-cli-shrunk-{}.ron", std::process::id()));
    let out_text = out.display().to_string();
    let (code, stdout, err) = consim(&[
        "shrink",
        "scenarios/twin_no_idempotency.ron",
        "--seed",
        "2",
        "--out",
        &out_text,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("seed 2 still violates atomicity"), "{stdout}");
    let (code, report, _) = consim(&["run", &out_text]);
    assert_eq!(code, 2, "{report}");
    let _ = std::fs::remove_file(&out);
    for (args, expected) in [
        (
            vec!["--seed", "1", "--check", "acid"],
            "unknown check `acid`; valid: atomicity",
        ),
        (
            vec!["--seed", "1", "--max-runs", "1"],
            "--max-runs must be at least 2",
        ),
    ] {
        let mut all = vec!["shrink", "scenarios/twin_no_idempotency.ron"];
        all.extend(args);
        let (code, _, err) = consim(&all);
        assert_eq!(code, 1, "{all:?}: {err}");
        assert!(err.contains(expected), "{all:?}: {err}");
    }
    let (code, _, err) = consim(&["shrink", "scenarios/food_happy_path.ron", "--seed", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("fails no check"), "{err}");
}

#[test]
fn merging_half_the_shards_is_incomplete_and_exits_one() {
    let dir = std::env::temp_dir().join(format!("consim-cli-merge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shard = |index: &str| {
        let (code, out, err) = consim(&[
            "sweep",
            "scenarios/food_happy_path.ron",
            "--seeds",
            "0..4",
            "--shard",
            index,
            "--format",
            "jsonl",
            "--quiet",
        ]);
        assert_eq!(code, 0, "{err}");
        let file = dir.join(format!("shard{}.jsonl", &index[..1]));
        std::fs::write(&file, out).unwrap();
        file.display().to_string()
    };
    let (first, second) = (shard("1/2"), shard("2/2"));
    let (code, out, err) = consim(&["merge", &first]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("missing 2 seeds: 1, 3"), "{out}");
    assert!(err.contains("the merge is incomplete"), "{err}");
    let (code, out, err) = consim(&["merge", &first, &second, &first]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("4 of 4 seeds (0..4) merged, 0 failing; 2 repeated lines ignored"),
        "{out}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compare_puts_scenario_files_side_by_side_to_compare_a_setting() {
    let (code, out, err) = consim(&[
        "compare",
        "scenarios/food_lossy.ron",
        "scenarios/food_lossy_async.ron",
        "--seeds",
        "0..3",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(parsed["scenario"], "food_lossy vs food_lossy_async");
    let labels: Vec<&str> = parsed["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["variant"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        ["food_lossy", "food_lossy_async"],
        "each file's own strategy, by file"
    );
    assert_eq!(parsed["differences"][0]["baseline"], "food_lossy");
    // Async calls notice a lost call later (250 ms against 20 ms): the inconsistency
    // window's tail is hundreds of milliseconds longer.
    let tail = &parsed["differences"][0]["metrics"]["inconsistency_window_p99_us"];
    assert!(tail["mean"].as_f64().unwrap() > 100_000.0, "{tail}");
    let (code, _, err) = consim(&["compare", "scenarios/food_lossy.ron", "scenarios/food_lossy.ron"]);
    assert_eq!(code, 1);
    assert!(err.contains("two columns are named `food_lossy`"), "{err}");
}

/// Clap's own exit code for a bad argument is 2, which here means "a check failed": every
/// mistake in the arguments exits 1 instead, and `--help` still exits 0.
#[test]
fn argument_mistakes_exit_one_not_two() {
    for args in [
        &["run", "scenarios/food_happy_path.ron", "--format", "xml"][..],
        &["run", "scenarios/food_happy_path.ron", "--seed", "-1"],
        &["frobnicate"],
        &["run"],
    ] {
        let (code, _, err) = consim(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains("error"), "{args:?}: {err}");
    }
    assert_eq!(consim(&["--help"]).0, 0);
}

/// `consim ... | head -1`: the reader goes away; consim stops quietly with the shell's code
/// for a closed pipe, never a panic, whichever command printed.
#[test]
fn a_closed_stdout_ends_quietly_with_141() {
    use std::process::Stdio;
    for args in [
        &[
            "sweep",
            "scenarios/food_lossy.ron",
            "--seeds",
            "0..400",
            "--format",
            "jsonl",
        ][..],
        &["list"],
        &["run", "scenarios/food_happy_path.ron", "--format", "json"],
    ] {
        // A pipe whose read end is closed before consim starts: its first write fails.
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_consim"))
            .args(args)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("consim runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// A run a limit stopped before its workload was done proves nothing: its checks are not
/// judged and it exits 2, even when nothing had started (no transaction in flight).
#[test]
fn a_run_stopped_before_its_work_was_done_never_passes() {
    for file in [
        "tests/data/cli/stopped_before_any_work.ron",
        "tests/data/cli/stopped_after_one_ms.ron",
        "tests/data/memory_limited.ron",
        "tests/data/cli/stopped_with_safety_only.ron",
    ] {
        let (code, out, err) = consim(&["run", file]);
        assert_eq!(code, 2, "{file}: {out}{err}");
        assert!(out.contains("no_double_effect     not judged"), "{file}: {out}");
        assert!(err.contains("could not be judged"), "{file}: {err}");
    }
}

/// Inputs that would exhaust the machine are refused or capped up front: an endless file is
/// read only up to its limit, a request plan larger than `stop.memory_mb` is refused before
/// it is drawn, and `--threads` is capped at a few per core, with a note.
#[test]
fn endless_files_oversized_plans_and_thread_counts_are_bounded() {
    for args in [
        &["check", "/dev/zero"][..],
        &["run", "/dev/zero"],
        &["run", "tests/data/bad/model_is_dev_zero.ron"],
    ] {
        let (code, _, err) = consim(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert!(err.contains("larger than 16 MiB"), "{args:?}: {err}");
    }
    let (code, _, err) = consim(&["run", "tests/data/bad/plan_over_memory_limit.ron"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("takes 4578 MiB"), "{err}");
    assert!(err.contains("stop.memory_mb (64 MiB)"), "{err}");
    let (code, _, err) = consim(&[
        "sweep",
        "scenarios/food_happy_path.ron",
        "--seeds",
        "0..2",
        "--threads",
        "100000",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("--threads 100000: using"), "{err}");
}

/// A file whose description takes several comment lines is listed with all of them.
#[test]
fn list_prints_whole_descriptions() {
    let (code, out, _) = consim(&["list"]);
    assert_eq!(code, 0);
    let line = out
        .lines()
        .find(|l| l.starts_with("scenarios/food_lossy_async.ron"))
        .expect("listed");
    assert!(
        line.contains("sent again") && line.contains("paired by seed"),
        "{line}"
    );
}

/// A scenario file whose name holds a comma still gives one CSV field per column: the
/// label is quoted.
#[test]
fn compare_csv_quotes_a_label_with_a_comma() {
    let dir = std::env::temp_dir().join(format!("consim-csv-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("models")).unwrap();
    std::fs::create_dir_all(dir.join("scenarios")).unwrap();
    std::fs::copy("models/bank_transfer.ron", dir.join("models/bank_transfer.ron")).unwrap();
    let scenario = "Scenario(model: \"../models/bank_transfer.ron\", seed: 1, strategy: TwoPc(), \
         workload: Workload(requests: 20, arrival: Poisson(rate_per_s: 200.0), key_count: 20))";
    let (a, b) = (dir.join("scenarios/one,two.ron"), dir.join("scenarios/three.ron"));
    std::fs::write(&a, scenario).unwrap();
    std::fs::write(&b, scenario).unwrap();
    let (code, csv, err) = consim(&[
        "compare",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--seeds",
        "0..1",
        "--format",
        "csv",
    ]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = csv.lines().collect();
    let fields = lines[0].split(',').count();
    assert!(lines[1].starts_with("\"one,two\","), "{csv}");
    // The quoted label is one field: the rest of the row splits like the header.
    assert_eq!(lines[1].split(',').count(), fields + 1, "{csv}");
    assert_eq!(lines[2].split(',').count(), fields, "{csv}");
}

/// `--time-limit` must be a positive duration.
#[test]
fn shrink_refuses_a_time_limit_that_is_not_a_positive_duration() {
    for limit in ["0s", "soon"] {
        let (code, _, err) = consim(&[
            "shrink",
            "scenarios/twin_dual_write.ron",
            "--seed",
            "0",
            "--time-limit",
            limit,
        ]);
        assert_eq!(code, 1, "{limit}: {err}");
        assert!(err.contains("--time-limit"), "{err}");
    }
}

/// `consim points` lists the services' points, then every strategy's, one
/// `role point — meaning` per line; `--strategy` narrows it; an unknown name exits 1.
#[test]
fn points_lists_each_role_s_points() {
    let (code, out, _) = consim(&["points"]);
    assert_eq!(code, 0);
    assert!(out.contains("service local_commit — "), "{out}");
    assert!(out.contains("\ntwo_pc:\ncoordinator prepare_sent — "), "{out}");
    assert!(out.contains("participant vote_sent — "), "{out}");
    assert!(out.contains("\nthree_pc:\n"), "{out}");
    let (code, out, _) = consim(&["points", "--strategy", "saga"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("saga_orchestrated:") && !out.contains("two_pc:"),
        "{out}"
    );
    assert_eq!(consim(&["points", "--strategy", "paxos"]).0, 1);
}

/// A fault that never heals is legal but rarely meant: loading says so, and the run, which
/// would otherwise retry to its event limit, stops at a bounded virtual time and says why.
#[test]
fn a_fault_that_never_heals_is_warned_about_and_the_run_is_bounded() {
    let (code, out, err) = consim(&["run", "tests/data/cli/never_heals.ron"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("fault #1 (crash) never heals"), "{err}");
    assert!(err.contains("the run stops at 60.5s of virtual time"), "{err}");
    assert!(out.contains("time limit: stopped at 60.5s"), "{out}");
}

/// README's "Aiming faults" table is what `consim points --markdown` prints from the code.
#[test]
fn the_readme_points_table_is_the_one_the_code_declares() {
    let (code, table, err) = consim(&["points", "--markdown"]);
    assert_eq!(code, 0, "{err}");
    let readme = std::fs::read_to_string("README.md").unwrap();
    assert!(
        readme.contains(&table),
        "README.md's points table is stale; paste `consim points --markdown`:\n{table}"
    );
}

/// `--set` changes a field before the file is read and is checked like it; a path the file
/// cannot take is refused with exit 1.
#[test]
fn set_overrides_a_field_and_a_bad_one_exits_one() {
    let (code, out, _) = consim(&[
        "run",
        "scenarios/food_happy_path.ron",
        "--set",
        "workload.requests=7",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["transactions"]["requests"], 7);
    let (code, _, err) = consim(&[
        "run",
        "scenarios/food_happy_path.ron",
        "--set",
        "workload.requests=many",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("requests: many"), "the edited line is shown: {err}");
    let (code, _, err) = consim(&[
        "run",
        "scenarios/food_happy_path.ron",
        "--set",
        "broker.ack_timeout=1s",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no `broker`"), "{err}");
}

/// A load curve over a few rates: each strategy's throughput, p99 and availability, and its
/// saturation point; a snapshot.
#[test]
fn compare_vary_draws_load_curves_with_saturation_points() {
    let args = [
        "compare",
        "scenarios/food_capacity.ron",
        "--strategies",
        "two_pc,saga_choreographed",
        "--vary",
        "workload.arrival.rate_per_s=300..900:300",
        "--seeds",
        "0..2",
    ];
    let (code, out, err) = consim(&args);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("saturation") && out.contains("two_pc: at 900"),
        "{out}"
    );
    insta::assert_snapshot!("load_curve_food_capacity", out);
    let (code, out, _) = consim(&[&args[..], &["--format", "json"]].concat());
    assert_eq!(code, 0);
    let curve: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(curve["points"].as_array().unwrap().len(), 6);
    let (code, _, err) = consim(&[
        "compare",
        "scenarios/food_capacity.ron",
        "--vary",
        "workload.requests=10..1",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("no step"), "{err}");
}

//! `consim sweep` and `consim compare` spread runs over threads; a seed's result must not
//! depend on which thread ran it, nor on how many there were.

use std::path::Path;

use consim::compare::compare;
use consim::scenario;
use consim::seeds::{Shard, pool};
use consim::sweep::{SweepOptions, merge, sweep};

fn options(seeds: std::ops::Range<u64>, shard: Shard, stop_at_first: bool) -> SweepOptions {
    SweepOptions {
        seeds,
        shard,
        stop_at_first,
        strategy_override: None,
        swarm: false,
    }
}

#[test]
fn sweep_gives_identical_per_seed_results_on_one_thread_and_on_many() {
    let scenario = scenario::load(Path::new("scenarios/food_lossy.ron")).expect("bundled");
    let opts = options(0..12, Shard::WHOLE, false);
    let one = sweep(&scenario, &opts, &pool(Some(1)).unwrap(), &|| {});
    let many = sweep(&scenario, &opts, &pool(Some(4)).unwrap(), &|| {});
    assert_eq!(one, many);
    assert_eq!(one.outcomes.len(), 12);
    assert!(one.outcomes.iter().all(|o| o.trace_hash.is_some()));
    let hashes: std::collections::BTreeSet<_> = one.outcomes.iter().map(|o| &o.trace_hash).collect();
    assert_eq!(hashes.len(), 12, "every seed is a different run");
}

#[test]
fn compare_gives_identical_per_seed_results_on_one_thread_and_on_many() {
    let scenario = scenario::load(Path::new("scenarios/food_partition.ron")).expect("bundled");
    let strategies = ["two_pc".to_string(), "eventual".to_string()];
    let one = compare(&scenario, &strategies, 0..4, &pool(Some(1)).unwrap()).unwrap();
    let many = compare(&scenario, &strategies, 0..4, &pool(Some(3)).unwrap()).unwrap();
    assert_eq!(one, many);
    assert_eq!(one.runs.len(), 8);
    assert_eq!(one.runs[4].strategy, "eventual");
    // Common random numbers: on each seed both strategies got the same requests through.
    for seed in 0..4 {
        let started: Vec<u64> = one
            .runs
            .iter()
            .filter(|r| r.seed == seed)
            .map(|r| r.started)
            .collect();
        assert_eq!(started[0], started[1], "seed {seed}: {started:?}");
    }
    let per_seed: std::collections::BTreeSet<u64> = one.runs.iter().map(|r| r.started).collect();
    assert!(per_seed.len() > 1, "different seeds draw different workloads");
}

#[test]
fn stop_at_first_ends_at_the_lowest_failing_seed_whatever_the_threads() {
    // Rare duplicates make this twin fail on a few seeds only (19 and 27 of 1..31): the
    // lowest failing seed is a property of the scenario, and the sweep must find exactly it.
    let scenario = scenario::load(Path::new("tests/data/sweep/rare_duplicates.ron")).expect("valid");
    let seeds = 1..31;
    let full = sweep(
        &scenario,
        &options(seeds.clone(), Shard::WHOLE, false),
        &pool(Some(1)).unwrap(),
        &|| {},
    );
    let lowest = full.failures().next().expect("the twin fails somewhere").seed;
    assert!(
        lowest > seeds.start && full.failures().count() < 30,
        "{}",
        full.to_table()
    );
    for threads in [1, 2, 4] {
        let stopped = sweep(
            &scenario,
            &options(seeds.clone(), Shard::WHOLE, true),
            &pool(Some(threads)).unwrap(),
            &|| {},
        );
        assert_eq!(
            stopped.outcomes,
            full.outcomes[..=(lowest - seeds.start) as usize],
            "{threads} threads"
        );
        assert_eq!(stopped.stopped_early, lowest < seeds.end - 1);
    }
}

#[test]
fn shards_merged_from_json_lines_equal_the_whole_sweep() {
    let scenario = scenario::load(Path::new("scenarios/twin_no_idempotency.ron")).expect("bundled");
    let p = pool(Some(2)).unwrap();
    let whole = sweep(&scenario, &options(0..10, Shard::WHOLE, false), &p, &|| {});
    let files: Vec<(String, String)> = (1..=3)
        .map(|index| {
            let shard = Shard { index, count: 3 };
            let part = sweep(&scenario, &options(0..10, shard, false), &p, &|| {});
            (format!("shard{index}.jsonl"), part.to_json_lines())
        })
        .collect();
    let merged = merge(&files).expect("valid lines");
    assert_eq!(merged.outcomes, whole.outcomes);
    assert!(merged.missing.is_empty());
    assert_eq!(merged.duplicates, 0);
    // The same shard twice merges to itself, and the rest of the range is named missing.
    let again = merge(&[files[0].clone(), files[0].clone()]).unwrap();
    assert_eq!(again.outcomes.len(), 4);
    assert_eq!(again.duplicates, 4);
    assert_eq!(again.missing_count(), 6);
    assert!(
        again.to_table().contains("missing 6 seeds"),
        "{}",
        again.to_table()
    );
    // A seed with two different results is refused, naming both files.
    let tampered = files[0].1.replacen("\"events\":", "\"events\":1", 1);
    let err = merge(&[files[0].clone(), ("bad.jsonl".into(), tampered)]).unwrap_err();
    assert!(
        err.contains("different results") && err.contains("bad.jsonl:1"),
        "{err}"
    );
    let err = merge(&[("junk.jsonl".into(), "{\"seed\": 1}\n".into())]).unwrap_err();
    assert!(err.starts_with("junk.jsonl:1: not a sweep outcome"), "{err}");
}

#[test]
fn merge_refuses_lines_of_another_sweep() {
    let scenario = scenario::load(Path::new("scenarios/twin_no_idempotency.ron")).expect("bundled");
    let p = pool(Some(1)).unwrap();
    let lines = |scenario: &scenario::Scenario, seeds| {
        sweep(scenario, &options(seeds, Shard::WHOLE, false), &p, &|| {}).to_json_lines()
    };
    let ours = ("a.jsonl".to_string(), lines(&scenario, 0..2));
    // Another seed range: the shards of `--seeds 0..2` and `--seeds 0..3` are not one sweep.
    let wider = ("b.jsonl".to_string(), lines(&scenario, 0..3));
    let err = merge(&[ours.clone(), wider]).unwrap_err();
    assert!(err.starts_with("b.jsonl:1 comes from another sweep"), "{err}");
    // The same name and seeds but another scenario text: a different fingerprint.
    let source = std::fs::read_to_string("scenarios/twin_no_idempotency.ron").unwrap();
    let edited = scenario::load_source(
        Path::new("scenarios/twin_no_idempotency.ron"),
        &format!("{source}\n// edited\n"),
    )
    .expect("still valid");
    assert_ne!(edited.fingerprint, scenario.fingerprint);
    let err = merge(&[ours.clone(), ("c.jsonl".into(), lines(&edited, 0..2))]).unwrap_err();
    assert!(err.contains("fingerprint"), "{err}");
    // A seed moved outside its range was edited by hand.
    let moved = ours.1.replacen("\"seed\":0", "\"seed\":7", 1);
    let err = merge(&[("d.jsonl".into(), moved)]).unwrap_err();
    assert!(err.contains("outside its sweep's range 0..2"), "{err}");
}

/// The cluster recipes in `deploy/`, run here with their schedulers' index variables set:
/// every Slurm array task and every pod of the Kubernetes Indexed Job runs its shard, the
/// merge step reads the shard files, and the merged summary is the one-machine sweep's.
#[test]
fn the_deploy_recipes_merge_to_the_one_machine_sweep() {
    use std::process::Command;
    let consim = env!("CARGO_BIN_EXE_consim");
    let scenario = "tests/data/sweep/rare_duplicates.ron";
    let seeds = "0..32";
    let whole = Command::new(consim)
        .args(["sweep", scenario, "--seeds", seeds, "--quiet"])
        .output()
        .expect("consim runs");
    let whole = String::from_utf8(whole.stdout).unwrap();
    // Everything after the first line: the failing seeds and their replay commands.
    let body = |text: &str| text.lines().skip(1).collect::<Vec<_>>().join("\n");

    // The Kubernetes Job's container command, as the manifest writes it.
    let manifest = std::fs::read_to_string("deploy/kubernetes/sweep-job.yaml").unwrap();
    let pod_command = manifest
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("args: ['")
                .and_then(|l| l.strip_suffix("']"))
        })
        .expect("the manifest's args line");
    let completions: u32 = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("completions: "))
        .expect("completions")
        .parse()
        .unwrap();
    assert!(manifest.contains("completionMode: Indexed"));

    /// A scheduler's name, its task count, and the command of task `index`.
    type Recipe<'a> = (&'a str, u32, Box<dyn Fn(u32) -> Command + 'a>);
    let runs: [Recipe<'_>; 2] = [
        (
            "slurm",
            4,
            Box::new(|index| {
                let mut c = Command::new("sh");
                c.arg("deploy/slurm/sweep.sbatch")
                    .env("SLURM_ARRAY_TASK_ID", index.to_string())
                    .env("SLURM_ARRAY_TASK_COUNT", "4");
                c
            }),
        ),
        (
            "kubernetes",
            completions,
            Box::new(move |index| {
                let mut c = Command::new("sh");
                c.args(["-c", pod_command])
                    .env("JOB_COMPLETION_INDEX", index.to_string());
                c
            }),
        ),
    ];
    for (name, count, task) in runs {
        let out = std::env::temp_dir().join(format!("consim-deploy-{name}-{}", std::process::id()));
        for index in 0..count {
            let status = task(index)
                .env("SCENARIO", scenario)
                .env("SEEDS", seeds)
                .env("OUT", &out)
                .env("CONSIM", consim)
                .stderr(std::process::Stdio::null())
                .status()
                .expect("the shard script runs");
            assert!(status.success(), "{name} task {index}: {status}");
        }
        let merged = Command::new("sh")
            .args(["deploy/merge.sh", out.to_str().unwrap()])
            .env("CONSIM", consim)
            .output()
            .expect("merge runs");
        std::fs::remove_dir_all(&out).unwrap();
        let merged = String::from_utf8(merged.stdout).unwrap();
        assert!(merged.contains("32 of 32 seeds"), "{name}: {merged}");
        assert_eq!(body(&merged), body(&whole), "{name}");
    }
}

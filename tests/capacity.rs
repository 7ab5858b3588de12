//! Services with workers and queues, held to queueing theory: M/M/1's mean and p99 response
//! times, M/M/c's mean wait by Erlang's C formula, M/D/1's by Pollaczek–Khinchine, and
//! Little's law between the queue's length and its waits. Each run sends enough requests for
//! the stated tolerance (the estimates' own spread is a fraction of it).

use consim::scenario;
use consim::sim::TraceLevel;
use consim::system::service::{Load, Service};
use consim::world::Limits;

/// One service, `workers` of them, taking `processing` per call and nothing for its database,
/// fed `requests` Poisson arrivals at `rate` per second through a one-step saga whose
/// timeouts never fire; what its pool measured.
fn queue(name: &str, processing: &str, workers: u32, rate: f64, requests: u64) -> Load {
    queue_with_db(
        name,
        (processing, r#"Db(op: "0us", forced_write: "0us")"#),
        workers,
        rate,
        requests,
    )
}

/// [`queue`] with the database's times `db` (a `Db(...)`).
fn queue_with_db(name: &str, (processing, db): (&str, &str), workers: u32, rate: f64, requests: u64) -> Load {
    let dir = std::env::temp_dir().join(format!("consim-queue-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let model = format!(
        r#"System(
            services: {{
                "server": Service(tables: {{"jobs": Table(rows: 0, initial: 0)}}, processing: {processing},
                    db: {db}, workers: {workers}),
            }},
            steps: [Step(name: "serve", service: "server", action: Insert(table: "jobs", key: Tx, value: 1))],
        )"#
    );
    std::fs::write(dir.join("queue.ron"), model).unwrap();
    let source = format!(
        r#"Scenario(
            model: "queue.ron",
            seed: 7,
            strategy: SagaOrchestrated(step_timeout: "1h", async_timeout: "2h", retry_max: 1),
            workload: Workload(requests: {requests}, arrival: Poisson(rate_per_s: {rate}), key_count: 1),
            gateway: Gateway(timeout: "1h", retries: 0),
            stop: Stop(memory_mb: 4096),
        )"#
    );
    let scenario =
        scenario::load_source(&dir.join("queue_run.ron"), &source).unwrap_or_else(|e| panic!("{e:?}"));
    let mut run = scenario
        .system_config()
        .unwrap()
        .build(7, TraceLevel::Off)
        .unwrap();
    let outcome = run.world.run(Limits::default());
    assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
    let server: &Service = run.services().next().unwrap();
    let [(_, load)] = server
        .load(outcome.end)
        .try_into()
        .expect("one bounded instance measures its load");
    let _ = std::fs::remove_dir_all(&dir);
    load
}

fn mean(values: &[u64]) -> f64 {
    values.iter().sum::<u64>() as f64 / values.len() as f64
}

fn percentile(values: &[u64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)] as f64
}

fn within(what: &str, measured: f64, expected: f64, tolerance: f64) {
    let error = (measured - expected).abs() / expected;
    eprintln!(
        "{what}: measured {measured:.1}, theory {expected:.1} ({:+.2}%)",
        (measured - expected) / expected * 100.0
    );
    assert!(
        error <= tolerance,
        "{what}: measured {measured:.1}, theory {expected:.1} ({:.2}% off, allowed {:.0}%)",
        error * 100.0,
        tolerance * 100.0
    );
}

#[test]
fn m_m_1_response_time_mean_and_p99_match_the_theory() {
    // μ = 1000/s, λ = 700/s: mean response 1/(μ−λ) = 3.333 ms, p99 ln(100)/(μ−λ) = 15.35 ms.
    let load = queue("mm1", r#"Exponential(mean: "1ms")"#, 1, 700.0, 300_000);
    let gap = 1_000.0 - 700.0;
    within(
        "M/M/1 mean response, µs",
        mean(&load.responses_us),
        1e6 / gap,
        0.03,
    );
    within(
        "M/M/1 p99 response, µs",
        percentile(&load.responses_us, 0.99),
        100f64.ln() / gap * 1e6,
        0.05,
    );
    within(
        "M/M/1 utilisation",
        load.busy_area_us as f64 / load.until.as_us() as f64,
        0.7,
        0.03,
    );
}

#[test]
fn m_m_c_mean_wait_matches_erlang_c() {
    // c = 3, μ = 1000/s each, λ = 2400/s: a = λ/μ = 2.4, ρ = 0.8.
    let (c, mu, lambda) = (3u32, 1_000.0, 2_400.0);
    let load = queue("mmc", r#"Exponential(mean: "1ms")"#, c, lambda, 300_000);
    let a: f64 = lambda / mu;
    let rho = a / f64::from(c);
    let factorial = |n: u32| (1..=n).map(f64::from).product::<f64>();
    let below: f64 = (0..c).map(|k| a.powi(k as i32) / factorial(k)).sum();
    let top = a.powi(c as i32) / factorial(c) / (1.0 - rho);
    let erlang_c = top / (below + top);
    let wait = erlang_c / (f64::from(c) * mu - lambda) * 1e6;
    within("M/M/3 mean wait, µs", mean(&load.waits_us), wait, 0.05);
}

#[test]
fn m_d_1_mean_wait_matches_pollaczek_khinchine() {
    // Deterministic 1 ms service, λ = 700/s: W = ρ / (2μ(1−ρ)) = 1.1667 ms.
    let load = queue("md1", r#""1ms""#, 1, 700.0, 200_000);
    let (mu, rho) = (1_000.0, 0.7);
    within(
        "M/D/1 mean wait, µs",
        mean(&load.waits_us),
        rho / (2.0 * mu * (1.0 - rho)) * 1e6,
        0.05,
    );
}

#[test]
fn littles_law_holds_between_queue_length_and_waits() {
    let load = queue("little", r#"Exponential(mean: "1ms")"#, 2, 1_600.0, 100_000);
    let elapsed = load.until.as_us() as f64;
    let length = load.queue_area_us as f64 / elapsed;
    // L = λ W: the calls that entered the queue (all of them, waits of 0 included) per µs,
    // times their mean wait.
    let arrivals_per_us = load.waits_us.len() as f64 / elapsed;
    within(
        "Little's law, L vs λW",
        length,
        arrivals_per_us * mean(&load.waits_us),
        0.01,
    );
    assert!(load.max_queue > 0 && load.refused == 0);
}

#[test]
fn a_full_queue_answers_busy_and_counts_it() {
    let dir = std::env::temp_dir().join(format!("consim-busy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("queue.ron"),
        r#"System(
            services: {"server": Service(tables: {"jobs": Table(rows: 0, initial: 0)}, processing: "10ms", workers: 1, queue: 2)},
            steps: [Step(name: "serve", service: "server", action: Insert(table: "jobs", key: Tx, value: 1))],
        )"#,
    )
    .unwrap();
    let source = r#"Scenario(
        model: "queue.ron",
        seed: 1,
        strategy: SagaOrchestrated(step_timeout: "1h", async_timeout: "2h", retry_max: 1),
        workload: Workload(requests: 50, arrival: Bursts(size: 10, within: "1ms", every: "1s"), key_count: 1),
        gateway: Gateway(timeout: "1h", retries: 0),
    )"#;
    let scenario = scenario::load_source(&dir.join("busy.ron"), source).unwrap();
    let report = consim::runner::run(&scenario, 1, TraceLevel::Hash).report;
    // Each burst of 10: one runs, two wait, seven are turned away; the saga retries a busy
    // step once after a backoff (busy again: the burst is still being served), then aborts.
    let t = report.transactions.as_ref().unwrap();
    assert_eq!((t.committed, t.aborted), (15, 35), "{}", report.to_table());
    assert!(
        report.counters["service.refused_busy"] >= 35,
        "{}",
        report.to_table()
    );
    // The report shows the pool's load, in the table and in JSON.
    let load = &report.metrics.as_ref().unwrap().load;
    assert_eq!(
        (load.len(), load[0].workers, load[0].queue_max),
        (1, 1, 2),
        "{load:?}"
    );
    assert_eq!(load[0].refused, report.counters["service.refused_busy"]);
    assert!(
        report
            .to_table()
            .contains("load                   server: 1 workers"),
        "{}",
        report.to_table()
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["metrics"]["load"][0]["queue_max"], 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Database times drawn per forced write: with no processing time and one forced write per
/// call drawn from an exponential of mean 1 ms, the server is an M/M/1 again (μ = 1000/s);
/// at λ = 500/s its mean response is 1/(μ−λ) = 2 ms.
#[test]
fn database_times_drawn_per_forced_write_make_an_m_m_1_too() {
    let db = r#"Db(op: "0us", forced_write: Exponential(mean: "1ms"))"#;
    let load = queue_with_db("db", (r#""0us""#, db), 1, 500.0, 200_000);
    within(
        "M/M/1 by forced writes, mean response, µs",
        mean(&load.responses_us),
        2_000.0,
        0.03,
    );
}

/// The orchestrator behind one worker taking an exponential 1 ms per message: at 200 orders/s
/// it handles two messages per order (the `Begin` and the step's reply), so it is busy 40% of
/// the time; naming a service or an unknown actor in `actors` is an error.
#[test]
fn a_strategy_actor_given_workers_queues_its_messages_and_reports_its_load() {
    let dir = std::env::temp_dir().join(format!("consim-paced-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("queue.ron"),
        r#"System(
            services: {"server": Service(tables: {"jobs": Table(rows: 0, initial: 0)}, processing: "0us", db: Db(op: "0us", forced_write: "0us"))},
            steps: [Step(name: "serve", service: "server", action: Insert(table: "jobs", key: Tx, value: 1))],
        )"#,
    )
    .unwrap();
    let source = |actors: &str| {
        format!(
            r#"Scenario(
                model: "queue.ron",
                seed: 3,
                strategy: SagaOrchestrated(step_timeout: "1h", async_timeout: "2h", retry_max: 1),
                workload: Workload(requests: 50000, arrival: Poisson(rate_per_s: 200.0), key_count: 1),
                gateway: Gateway(timeout: "1h", retries: 0),
                actors: {{{actors}}},
            )"#
        )
    };
    let path = dir.join("paced.ron");
    let scenario = scenario::load_source(
        &path,
        &source(r#""orchestrator": Pace(workers: 1, processing: Exponential(mean: "1ms"))"#),
    )
    .unwrap();
    let report = consim::runner::run(&scenario, 3, TraceLevel::Off).report;
    let load = &report.metrics.as_ref().unwrap().load;
    let orchestrator = load
        .iter()
        .find(|l| l.service == "orchestrator")
        .expect("its load is reported");
    within("orchestrator utilisation", orchestrator.utilisation, 0.4, 0.05);
    assert!(orchestrator.queue_max > 0);
    assert_eq!(report.transactions.as_ref().unwrap().committed, 50_000);
    for wrong in [
        r#""server": Pace(workers: 1, processing: "1ms")"#,
        r#""orchestrater": Pace(workers: 1, processing: "1ms")"#,
    ] {
        let error = format!(
            "{:?}",
            scenario::load_source(&path, &source(wrong)).expect_err("refused")
        );
        assert!(error.contains("cannot be given workers"), "{error}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

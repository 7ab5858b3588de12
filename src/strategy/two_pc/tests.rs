//! 2PC end to end: the textbook costs, atomicity under faults, blocking while the coordinator
//! is down, and the broken twin caught by the checks.

use std::sync::Arc;

use super::{Config, Coordinator, TwoPc};
use crate::assembly::{SystemConfig, SystemWorld};
use crate::check;
use crate::net::{FaultSpec, LatencyDist, LinkSpec, Probability};
use crate::sim::{Duration, Instant, TraceKind, TraceLevel};
use crate::store::{Bounds, TableId};
use crate::strategy::testing::broken_checks;
use crate::system::examples::bank_transfer;
use crate::system::history::HistoryEvent;
use crate::system::model::{Action, KeyRef, Model, ServiceId, ServiceSpec, StepSpec, TableSpec};
use crate::system::msg::{CallMode, LocalResult, RequestOutcome};
use crate::workload::{ArrivalProcess, KeyPopularity, WorkloadSpec};
use crate::world::Limits;

// ----- helpers -----------------------------------------------------------------------------

/// `n` services `s0..`, each with one step adding `deltas[i]` to an account (never below
/// zero): one participant per service.
fn ledger(deltas: &[i64]) -> Model {
    let table = TableId(0);
    let services = (0..deltas.len())
        .map(|i| {
            let accounts = TableSpec {
                name: "accounts".into(),
                key_count: 10,
                initial: 1_000,
            };
            ServiceSpec::new(format!("s{i}"), vec![accounts])
        })
        .collect();
    let steps = deltas
        .iter()
        .enumerate()
        .map(|(i, delta)| StepSpec {
            name: format!("add{i}"),
            service: ServiceId(i as u16),
            action: Action::Add {
                table,
                key: KeyRef::Request,
                delta: *delta,
                bounds: Bounds::at_least(0),
            },
            compensation: Action::Add {
                table,
                key: KeyRef::Request,
                delta: -delta,
                bounds: Bounds::ANY,
            },
        })
        .collect();
    Model {
        name: "ledger".into(),
        services,
        steps,
        audit: Vec::new(),
        entry_checks_replica: None,
        entry_queries: None,
    }
}

fn lossy_link(loss_per_100: u64, duplicate_per_100: u64) -> LinkSpec {
    LinkSpec {
        latency: LatencyDist::Uniform {
            min_us: 500,
            max_us: 5_000,
        },
        loss: Probability::ratio("loss", loss_per_100, 100).unwrap(),
        duplicate: Probability::ratio("duplicate", duplicate_per_100, 100).unwrap(),
        fifo: false,
    }
}

fn system(
    model: Model,
    config: Config,
    requests: u64,
    link: LinkSpec,
    faults: Vec<FaultSpec>,
) -> SystemConfig {
    assert!(config.validate().is_empty(), "{:?}", config.validate());
    // Participants ask soon: these runs are short.
    let config = Config {
        in_doubt_query_after: Duration::from_ms(30),
        ..config
    };
    SystemConfig {
        model: Arc::new(model),
        strategy: crate::strategy::StrategyChoice::new(TwoPc { config }),
        workload: WorkloadSpec {
            request_count: requests,
            arrival: ArrivalProcess::Poisson { rate_per_s: 1_000.0 },
            keys: KeyPopularity::Uniform,
            key_count: 20,
            audit_share: Probability::NEVER,
        },
        unauthenticated: Probability::NEVER,
        request_timeout: Duration::from_ms(100),
        retries: 2,
        lock_timeout: Duration::from_ms(20),
        broker_ack_timeout: Duration::from_ms(100),
        broker_per_key_ordering: false,
        default_link: link,
        links: Vec::new(),
        faults,
        converge_within: crate::check::DEFAULT_CONVERGE_WITHIN,
        heal_at: None,
        intrusions: Vec::new(),
        instance_crashes: Vec::new(),
        shared_database: false,
        max_client_uncertainty: None,
        paces: Default::default(),
    }
}

/// One request on a reliable network, with nobody asking in doubt during the run.
fn one_transaction(model: Model, config: Config) -> SystemConfig {
    let mut system = system(model, config, 1, LinkSpec::reliable(300), Vec::new());
    system.workload.arrival = ArrivalProcess::Constant {
        interval: Duration::from_ms(1),
    };
    set_in_doubt_query_after(&mut system, config, Duration::from_secs(10));
    system
}

/// Runs `system` under `config` with participants asking after `after`.
fn set_in_doubt_query_after(system: &mut SystemConfig, config: Config, after: Duration) {
    let config = Config {
        in_doubt_query_after: after,
        ..config
    };
    system.strategy = crate::strategy::StrategyChoice::new(TwoPc { config });
}

fn coordinator(run: &SystemWorld) -> &Coordinator {
    run.world
        .actor::<Coordinator>(run.wiring.extras[0])
        .expect("the coordinator sits in the first extra slot")
}

fn crash(node: &str, at_ms: u64, restart_ms: u64) -> FaultSpec {
    FaultSpec::Crash {
        node: node.into(),
        at: Instant::from_ms(at_ms),
        restart_at: Some(Instant::from_ms(restart_ms)),
    }
}

fn partition(a: &[&str], b: &[&str], from_ms: u64, until_ms: u64) -> FaultSpec {
    let group = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
    FaultSpec::Partition {
        groups: vec![group(a), group(b)],
        from: Instant::from_ms(from_ms),
        until: Some(Instant::from_ms(until_ms)),
    }
}

fn money(run: &SystemWorld) -> i64 {
    run.services()
        .flat_map(|s| {
            s.db()
                .rows(TableId(0))
                .map(|(_, v)| v.as_int().expect("integer balances"))
        })
        .sum()
}

/// Seeds `1..=n`, `n` from `CONSIM_SEEDS` when set.
fn seeds(default: u64) -> std::ops::RangeInclusive<u64> {
    let n = std::env::var("CONSIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    1..=n
}

fn decisions(run: &SystemWorld) -> Vec<(u16, bool, u64)> {
    run.history()
        .records()
        .iter()
        .filter_map(|r| match r.event {
            HistoryEvent::Decided {
                step,
                commit,
                in_doubt_us,
                ..
            } => Some((step, commit, in_doubt_us)),
            _ => None,
        })
        .collect()
}

// ----- costs -------------------------------------------------------------------------------

#[test]
fn a_commit_costs_four_n_messages_and_two_n_plus_one_forced_writes_for_two_to_six_participants() {
    for n in 2..=6u64 {
        let config = one_transaction(ledger(&vec![1; n as usize]), Config::default());
        let mut run = config.build(7, TraceLevel::Full).unwrap();
        let outcome = run.world.run(Limits::default());
        assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
        assert_eq!(
            decisions(&run).iter().filter(|d| d.1).count() as u64,
            n,
            "all {n} commit"
        );

        // Per kind, between the coordinator and the services (all on their own nodes).
        let coordinator_id = run.wiring.extras[0];
        let mut counts = [0u64; 4]; // Prepare, vote, Decide, DecideAck
        for entry in run.world.trace().entries() {
            let ends = (entry.src, entry.dst);
            let involved = ends.0 == Some(coordinator_id) || ends.1 == Some(coordinator_id);
            let services = run
                .wiring
                .services
                .iter()
                .any(|s| ends.0 == Some(*s) || ends.1 == Some(*s));
            if entry.kind != TraceKind::Deliver || !involved || !services {
                continue;
            }
            // The full trace names each message's kind (2PC's own by `msg::KINDS`).
            let kind = ["Prepare", "LocalReply", "Decide", "DecideAck"]
                .iter()
                .position(|k| entry.msg_kind == *k)
                .unwrap_or_else(|| panic!("unexpected 2PC message {} {}", entry.msg_kind, entry.detail));
            counts[kind] += 1;
        }
        assert_eq!(counts, [n; 4], "n = {n}: prepare, vote, decide, ack");
        // Gray & Lamport count the messages the commit needs until every participant has
        // applied the decision: acks come after, so none may arrive by then. Their 3N - 1
        // folds the first RM's prepare and vote into the message that starts the commit.
        let all_decided_at = run
            .history()
            .records()
            .iter()
            .filter_map(|r| matches!(r.event, HistoryEvent::Decided { .. }).then_some(r.at))
            .max()
            .expect("decided");
        let needed = run
            .world
            .trace()
            .entries()
            .iter()
            .filter(|e| e.kind == TraceKind::Deliver && e.at <= all_decided_at)
            .filter(|e| [e.src, e.dst].contains(&Some(coordinator_id)))
            .filter(|e| {
                run.wiring
                    .services
                    .iter()
                    .any(|s| [e.src, e.dst].contains(&Some(*s)))
            })
            .count() as u64;
        assert_eq!(needed, 3 * n, "n = {n}: 3N (G&L's 3N - 1 with the fold)");
        // Request, Begin, Outcome, Response are the client's and the gateway's.
        assert_eq!(run.world.stats().sent, 4 * n + 4, "n = {n}: 4N messages plus 4");

        let participant_writes: u64 = run.services().map(|s| s.db().stats().forced_writes).sum();
        let coordinator_writes = coordinator(&run).stats().forced_writes;
        assert_eq!(
            participant_writes,
            2 * n,
            "n = {n}: N prepares and N commit records"
        );
        assert_eq!(coordinator_writes, 1, "n = {n}: the commit record");
        // Gray & Lamport count the writes the commit waits for: every prepare record, which
        // comes before the decision, and the decision itself; the participants' commit
        // records come after it.
        let history = run.history();
        let decision_at = history
            .records()
            .iter()
            .filter_map(|r| match r.event {
                HistoryEvent::Decided { .. } => Some(r.at),
                _ => None,
            })
            .min()
            .expect("decided");
        let prepare_records = history
            .records()
            .iter()
            .filter(|r| {
                r.at < decision_at
                    && matches!(
                        r.event,
                        HistoryEvent::Local {
                            mode: CallMode::Prepare,
                            result: LocalResult::Prepared,
                            ..
                        }
                    )
            })
            .count() as u64;
        assert_eq!(
            prepare_records + coordinator_writes,
            n + 1,
            "n = {n}: G&L's N + 1"
        );
        assert_eq!(run.world.counters()["two_pc.coordinator_forced_writes"], 1);
        assert_eq!(
            coordinator(&run).stats().lazy_writes,
            1,
            "the end record, not forced"
        );
    }
}

#[test]
fn with_presumed_abort_an_abort_costs_the_coordinator_no_forced_write_and_no_wait_for_acks() {
    // The first step would overdraw: it votes no, the other two may have prepared.
    let model = || ledger(&[-5_000, 1, 1]);
    let mut measured = Vec::new();
    for presumed_abort in [true, false] {
        let config = Config {
            presumed_abort,
            ..Config::default()
        };
        let mut run = one_transaction(model(), config)
            .build(3, TraceLevel::Hash)
            .unwrap();
        let outcome = run.world.run(Limits::default());
        assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
        assert!(broken_checks(&run, &outcome).is_empty());
        assert!(decisions(&run).iter().all(|d| !d.1), "nothing commits");
        let stats = *coordinator(&run).stats();
        assert_eq!(stats.aborts, 1);
        measured.push((stats.forced_writes, stats.lazy_writes));
    }
    // Presumed abort: one lazy note, no forced write. Presumed nothing: a forced abort
    // record, then a lazy end record once every participant has acked.
    assert_eq!(measured, [(0, 1), (1, 1)]);
}

// ----- atomicity under faults --------------------------------------------------------------

#[test]
fn every_transfer_is_all_or_nothing_and_money_is_conserved_under_loss_duplicates_partitions_and_crashes() {
    let mut committed = 0;
    for seed in seeds(50) {
        // A partition cuts one bank off the coordinator; then someone crashes and restarts.
        let crashed = ["coordinator", "bank_a", "bank_b"][(seed % 3) as usize];
        let at = 15 + seed % 20;
        let faults = vec![
            partition(&["coordinator"], &["bank_b"], 5, 25),
            crash(crashed, at, at + 10 + seed % 40),
        ];
        let config = system(bank_transfer(), Config::default(), 100, lossy_link(5, 3), faults);
        let mut run = config.build(seed, TraceLevel::Hash).unwrap();
        let outcome = run.world.run(Limits::default());
        let replay = format!("seed {seed}, {crashed} crashes at {at} ms");
        assert!(outcome.stop.is_quiescent(), "{replay}: {}", outcome.stop);
        let broken = broken_checks(&run, &outcome);
        assert!(broken.is_empty(), "{replay}: {broken:#?}");
        assert_eq!(money(&run), 200_000, "{replay}");
        assert!(run.services().all(|s| s.in_doubt_count() == 0), "{replay}");
        assert_eq!(
            coordinator(&run).active_count(),
            0,
            "{replay}: nothing left to do"
        );
        committed += coordinator(&run).stats().commits;
    }
    assert!(committed > 0, "the faults must not stop every transfer");
}

// ----- blocking ----------------------------------------------------------------------------

/// A transfer between two services, fault-free: when its participants prepared, and how long
/// they were in doubt.
fn calm_transfer() -> (Instant, u64) {
    let mut calm = one_transaction(ledger(&[-100, 100]), Config::default())
        .build(1, TraceLevel::Hash)
        .unwrap();
    calm.world.run(Limits::default());
    let prepared_at = calm
        .history()
        .records()
        .iter()
        .filter(|r| {
            matches!(
                r.event,
                HistoryEvent::Local {
                    mode: CallMode::Prepare,
                    result: LocalResult::Prepared,
                    ..
                }
            )
        })
        .map(|r| r.at)
        .max()
        .expect("both participants prepared");
    let in_doubt_us = decisions(&calm).iter().map(|d| d.2).max().expect("decided");
    (prepared_at, in_doubt_us)
}

/// The same transfer, with the coordinator crashing while it forces the decision (the last
/// vote arrives 300 µs after the last prepare; the write takes 1 ms), down for `downtime`.
fn crash_while_forcing(downtime: Duration) -> (SystemConfig, Instant, Instant) {
    let (prepared_at, _) = calm_transfer();
    let crash_at = prepared_at + Duration::from_us(800);
    let restart_at = crash_at + downtime;
    let mut config = one_transaction(ledger(&[-100, 100]), Config::default());
    set_in_doubt_query_after(&mut config, Config::default(), Duration::from_ms(10));
    config.faults = vec![FaultSpec::Crash {
        node: "coordinator".into(),
        at: crash_at,
        restart_at: Some(restart_at),
    }];
    (config, crash_at, restart_at)
}

#[test]
fn a_coordinator_crash_blocks_prepared_participants_with_their_locks_until_it_restarts() {
    let (_, calm_in_doubt) = calm_transfer();
    assert!(
        calm_in_doubt < 5_000,
        "a fault-free decision is quick: {calm_in_doubt} µs"
    );
    let (config, crash_at, restart_at) = crash_while_forcing(Duration::from_ms(200));
    let mut run = config.build(1, TraceLevel::Hash).unwrap();
    run.world
        .run(Limits::until(Instant::from_us(restart_at.as_us() - 1_000)));
    for service in run.services() {
        assert_eq!(
            service.in_doubt_count(),
            1,
            "in doubt while the coordinator is down"
        );
        assert_eq!(
            service.db().prepared().count(),
            1,
            "holding the prepared tx and its locks"
        );
    }
    assert!(
        run.world.counters()["service.in_doubt_queries"] >= 2 * 15,
        "they keep asking"
    );

    let outcome = run.world.run(Limits::default());
    assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
    assert!(
        run.services().all(|s| s.in_doubt_count() == 0),
        "the restart unblocks them"
    );
    let decided = decisions(&run);
    assert_eq!(decided.len(), 2);
    assert_eq!(decided[0].1, decided[1].1, "both steps get the same decision");
    let downtime = (restart_at - crash_at).as_us();
    for (_, _, in_doubt_us) in &decided {
        assert!(
            (downtime..downtime + 20_000).contains(in_doubt_us),
            "in doubt for {in_doubt_us} µs, the coordinator was down {downtime} µs"
        );
    }
    assert!(broken_checks(&run, &outcome).is_empty());
}

#[test]
fn a_restarted_coordinator_resends_its_logged_decision_without_being_asked() {
    // The commit record is durable 1.3 ms after the last prepare (vote 300 µs, write 1 ms), but
    // a partition cuts off every `Decide`; the coordinator crashes inside it and restarts after
    // it heals. The participants would not ask for 10 s: only the re-send from the log can
    // unblock them within the downtime.
    let (prepared_at, _) = calm_transfer();
    let at = |us: u64| Instant::from_us(prepared_at.as_us() + us);
    let mut config = one_transaction(ledger(&[-100, 100]), Config::default());
    config.faults = vec![
        FaultSpec::Partition {
            groups: vec![vec!["coordinator".into()], vec!["s0".into(), "s1".into()]],
            from: at(1_000),
            until: Some(at(40_000)),
        },
        FaultSpec::Crash {
            node: "coordinator".into(),
            at: at(20_000),
            restart_at: Some(at(100_000)),
        },
    ];
    let mut run = config.build(1, TraceLevel::Hash).unwrap();
    let outcome = run.world.run(Limits::until(at(200_000)));
    let decided = decisions(&run);
    assert_eq!(decided.len(), 2, "both participants learn the decision");
    for (step, commit, in_doubt_us) in &decided {
        assert!(*commit, "step {step}: the logged decision was commit");
        assert!(
            (100_000..120_000).contains(in_doubt_us),
            "step {step}: in doubt {in_doubt_us} µs, until the restart's re-send"
        );
    }
    assert_eq!(coordinator(&run).stats().recoveries, 1);
    assert!(run.services().all(|s| s.in_doubt_count() == 0));
    assert!(broken_checks(&run, &outcome).is_empty());
}

#[test]
fn once_the_coordinator_has_presumed_abort_a_gateway_retry_does_not_reopen_the_transaction() {
    // Restarted at about 155 ms, the coordinator is asked by a participant (every 10 ms)
    // before the gateway's last retry of `Begin` (at about 201 ms) reaches it.
    let (config, _, _) = crash_while_forcing(Duration::from_ms(150));
    let mut run = config.build(1, TraceLevel::Hash).unwrap();
    let outcome = run.world.run(Limits::default());
    assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
    let stats = *coordinator(&run).stats();
    assert!(stats.presumed_aborts >= 1, "{stats:?}");
    assert_eq!(stats.begun, 1, "no second round after saying abort: {stats:?}");
    assert!(decisions(&run).iter().all(|d| !d.1), "both participants abort");
    let ended: Vec<RequestOutcome> = run
        .history()
        .records()
        .iter()
        .filter_map(|r| match r.event {
            HistoryEvent::RequestEnded { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    assert_eq!(
        ended,
        [RequestOutcome::Aborted],
        "the retry is told what was decided"
    );
}

// ----- the broken twin ---------------------------------------------------------------------

#[test]
fn a_coordinator_that_sends_its_decision_before_logging_it_breaks_atomicity_when_it_crashes() {
    // A slow disk (10 ms per forced write), decisions to bank_b lost to the network and to a
    // partition, then the coordinator crashes: whatever it had sent but not yet logged, it
    // presumes aborted on recovery, and a participant that missed the commit is told abort.
    let faults = || {
        vec![
            partition(&["coordinator"], &["bank_b"], 45, 60),
            crash("coordinator", 50, 80),
        ]
    };
    let run_with = |log_before_send: bool, seed: u64| {
        let config = Config {
            log_before_send,
            forced_write: Duration::from_ms(10),
            ..Config::default()
        };
        let mut system = system(bank_transfer(), config, 150, lossy_link(10, 0), faults());
        system.workload.arrival = ArrivalProcess::Poisson { rate_per_s: 2_000.0 };
        system.workload.key_count = 100;
        let mut run = system.build(seed, TraceLevel::Hash).unwrap();
        let outcome = run.world.run(Limits::default());
        assert!(outcome.stop.is_quiescent(), "seed {seed}: {}", outcome.stop);
        let broken: Vec<_> = broken_checks(&run, &outcome).iter().map(|v| v.check).collect();
        (broken, money(&run))
    };
    let mut caught = 0;
    for seed in 1..=5 {
        // Money alone may not show it: a lost debit and a lost credit cancel out.
        let (broken, _) = run_with(false, seed);
        if !broken.is_empty() {
            caught += 1;
            assert!(
                broken.contains(&check::CheckKind::Atomicity),
                "seed {seed}: {broken:?}"
            );
        }
        let (broken, money) = run_with(true, seed);
        assert!(
            broken.is_empty(),
            "seed {seed}: the correct coordinator must pass: {broken:?}"
        );
        assert_eq!(money, 200_000, "seed {seed}");
    }
    eprintln!("the broken twin was caught on {caught} of 5 seeds");
    assert!(caught > 0, "the twin must be caught on some seed");
}

#[test]
fn a_gateway_retry_of_a_decided_transaction_gets_the_outcome_again_without_a_second_round() {
    // The Outcome to the gateway is lost (the link drops it), so the gateway retries Begin.
    let mut config = one_transaction(ledger(&[1, 1]), Config::default());
    let mut lossy = LinkSpec::reliable(300);
    lossy.loss = Probability::ALWAYS;
    config.links = vec![("coordinator".into(), "gateway".into(), lossy)];
    config.retries = 2;
    let mut run = config.build(1, TraceLevel::Hash).unwrap();
    let outcome = run.world.run(Limits::default());
    assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
    assert_eq!(run.world.counters()["gateway.retries"], 2);
    let stats = coordinator(&run).stats();
    assert_eq!(
        (stats.begun, stats.commits),
        (1, 1),
        "one round, whatever the retries"
    );
    assert_eq!(decisions(&run).len(), 2, "each participant decided once");
}

#[test]
fn config_validation_names_every_zero_timeout() {
    let config = Config {
        vote_timeout: Duration::ZERO,
        decision_retry: Duration::ZERO,
        ..Config::default()
    };
    let problems = config.validate();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].starts_with("vote_timeout"));
    assert!(problems[1].starts_with("decision_retry"));
    assert!(Config::default().validate().is_empty());
}

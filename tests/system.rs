//! The business-system actors end to end: services with their databases, the gateway, the
//! client and the workload, under a deliberately naive strategy written here (run the steps
//! one after another, never compensate), so these tests depend on no real strategy.

use std::collections::BTreeMap;
use std::sync::Arc;

use consim::assembly::{SystemConfig, TOKEN};
use consim::net::{FaultSpec, LinkSpec, Probability};
use consim::sim::{ActorId, Duration, Instant, TraceKind, TraceLevel};
use consim::store::{Bounds, Key, TableId, Value};
use consim::strategy::{Strategy, Wiring};
use consim::system::history::HistoryEvent;
use consim::system::model::{Action, KeyRef, Model, ServiceId, ServiceSpec, StepSpec, TableSpec};
use consim::system::msg::{
    CallMode, GlobalTxId, LocalCall, LocalResult, Msg, RequestOutcome, StepKind, TxOutcome,
};
use consim::system::service::Service;
use consim::workload::{ArrivalProcess, KeyPopularity, WorkloadSpec};
use consim::world::{Actor, Ctx, Limits};

/// Two banks; a transfer debits an account at `bank_a` (never below zero) and credits one at
/// `bank_b`. The audit sums both, which a transfer conserves.
pub fn bank_model(accounts: u64, balance: i64, amount: i64) -> Model {
    let bank = |name: &str| {
        let accounts = TableSpec {
            name: "accounts".into(),
            key_count: accounts,
            initial: balance,
        };
        ServiceSpec {
            processing: consim::net::LatencyDist::Constant { us: 100 },
            ..ServiceSpec::new(name, vec![accounts])
        }
    };
    let accounts_table = TableId(0);
    let leg = |service: u16, key: KeyRef, delta: i64| StepSpec {
        name: if delta < 0 {
            "debit".into()
        } else {
            "credit".into()
        },
        service: ServiceId(service),
        action: Action::Add {
            table: accounts_table,
            key,
            delta,
            bounds: Bounds::at_least(0),
        },
        compensation: Action::Add {
            table: accounts_table,
            key,
            delta: -delta,
            bounds: Bounds::ANY,
        },
    };
    Model {
        name: "bank".into(),
        services: vec![bank("bank_a"), bank("bank_b")],
        steps: vec![leg(0, KeyRef::Request, -amount), leg(1, KeyRef::Other, amount)],
        audit: vec![(ServiceId(0), accounts_table), (ServiceId(1), accounts_table)],
        entry_checks_replica: None,
        entry_queries: None,
    }
}

/// Runs the steps in order and reports the first refusal as an abort, without compensating.
#[derive(Debug, serde::Serialize)]
struct Naive;

#[derive(Debug)]
struct NaiveRunner {
    wiring: Wiring,
    running: BTreeMap<GlobalTxId, consim::system::model::RequestKeys>,
}

impl Strategy for Naive {
    fn name(&self) -> &'static str {
        "naive"
    }
    fn extra_actor_names(&self) -> Vec<&'static str> {
        vec!["runner"]
    }
    fn extra_actors(&self, wiring: &Wiring) -> Vec<Box<dyn Actor<Msg>>> {
        vec![Box::new(NaiveRunner {
            wiring: wiring.clone(),
            running: BTreeMap::new(),
        })]
    }
    fn entry(&self, wiring: &Wiring) -> ActorId {
        wiring.extras[0]
    }
}

impl NaiveRunner {
    fn call(&self, ctx: &mut Ctx<'_, Msg>, gtx: GlobalTxId, step: u16) {
        let keys = self.running[&gtx];
        let call = LocalCall {
            gtx,
            step,
            kind: StepKind::Action,
            mode: CallMode::Commit,
            keys,
            idempotent: true,
            emit_on_commit: None,
            emit_on_refusal: None,
            token: self.wiring.token,
        };
        ctx.send(self.wiring.step_service(step), Msg::Local(call));
    }
}

impl Actor<Msg> for NaiveRunner {
    fn on_start(&mut self, _ctx: &mut Ctx<'_, Msg>) {}
    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _src: ActorId, msg: Msg) {
        match msg {
            Msg::Begin { gtx, keys, .. } if self.running.insert(gtx, keys).is_none() => {
                self.call(ctx, gtx, 0)
            }
            Msg::LocalReply {
                gtx, step, result, ..
            } => {
                let last = self.wiring.model.steps.len() as u16 - 1;
                let outcome = match result {
                    LocalResult::Committed if step < last => return self.call(ctx, gtx, step + 1),
                    LocalResult::Committed => TxOutcome::Committed,
                    _ => TxOutcome::Aborted,
                };
                self.running.remove(&gtx);
                ctx.send(self.wiring.gateway, Msg::Outcome { gtx, outcome });
            }
            _ => {}
        }
    }
    fn on_crash(&mut self, _now: consim::sim::Instant) {
        self.running.clear();
    }
}

fn config(model: Model, requests: u64, faults: Vec<FaultSpec>) -> SystemConfig {
    let workload = WorkloadSpec {
        request_count: requests,
        arrival: ArrivalProcess::Poisson { rate_per_s: 2_000.0 },
        keys: KeyPopularity::Uniform,
        key_count: 10,
        audit_share: Probability::ratio("audit", 1, 10).unwrap(),
    };
    SystemConfig {
        unauthenticated: Probability::ratio("anonymous", 1, 20).unwrap(),
        request_timeout: Duration::from_ms(100),
        lock_timeout: Duration::from_ms(20),
        default_link: LinkSpec::reliable(300),
        faults,
        ..SystemConfig::new(
            Arc::new(model),
            consim::strategy::StrategyChoice::new(Naive),
            workload,
        )
    }
}

fn balances(run: &consim::assembly::SystemWorld) -> Vec<i64> {
    run.services()
        .map(|s| s.db().rows(TableId(0)).map(|(_, v)| v.as_int().unwrap()).sum())
        .collect()
}

#[test]
fn every_request_gets_an_answer_and_a_fault_free_run_conserves_money() {
    let config = config(bank_model(10, 1_000, 30), 500, Vec::new());
    let mut run = config.build(1, TraceLevel::Hash).unwrap();
    let outcome = run.world.run(Limits::default());
    assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
    let history = run.history();
    let ended: Vec<RequestOutcome> = history
        .records()
        .iter()
        .filter_map(|r| match r.event {
            HistoryEvent::RequestEnded { outcome, .. } => Some(outcome),
            _ => None,
        })
        .collect();
    assert_eq!(ended.len(), 500, "every request is answered once");
    let count = |o| ended.iter().filter(|e| **e == o).count();
    assert!(count(RequestOutcome::Committed) > 100, "{ended:?}");
    assert!(
        count(RequestOutcome::Aborted) > 0,
        "some debits must hit the zero floor"
    );
    assert!(count(RequestOutcome::Unauthorized) > 0);
    assert!(count(RequestOutcome::AuditDone) > 0);
    assert_eq!(
        count(RequestOutcome::TimedOut),
        0,
        "nothing is lost on a reliable network"
    );
    // The credit never fails, so every committed debit was credited: money is conserved.
    assert_eq!(balances(&run).iter().sum::<i64>(), 2 * 10 * 1_000);
    // The gateway counted the anonymous requests, and the audits saw the conserved total at
    // quiet moments at least.
    assert_eq!(
        run.world.counters()["gateway.unauthorized"] as usize,
        count(RequestOutcome::Unauthorized)
    );
    let audits: Vec<i64> = history
        .records()
        .iter()
        .filter_map(|r| match r.event {
            HistoryEvent::Audit {
                total,
                complete: true,
                ..
            } => Some(total),
            _ => None,
        })
        .collect();
    assert!(audits.contains(&20_000), "{audits:?}");
}

#[test]
fn a_naive_strategy_loses_money_when_a_service_crashes_between_steps() {
    // bank_b is down for a while: debits commit at bank_a, credits are lost, and nothing
    // compensates. The checks issue turns this into a verdict; here we see the raw effect.
    let crash = FaultSpec::Crash {
        node: "bank_b".into(),
        at: Instant::from_ms(20),
        restart_at: Some(Instant::from_ms(80)),
    };
    let config = config(bank_model(10, 100, 30), 300, vec![crash]);
    let mut run = config.build(2, TraceLevel::Hash).unwrap();
    run.world.run(Limits::default());
    assert!(
        balances(&run).iter().sum::<i64>() < 2 * 10 * 100,
        "money should have vanished"
    );
}

#[test]
fn runs_are_deterministic_and_depend_on_the_seed() {
    let hash = |seed| {
        let mut run = config(bank_model(10, 100, 30), 200, Vec::new())
            .build(seed, TraceLevel::Hash)
            .unwrap();
        run.world.run(Limits::default()).trace_hash.unwrap()
    };
    assert_eq!(hash(5), hash(5));
    assert_ne!(hash(5), hash(6));
}

/// Sends one direct database access to `bank_a`, and one local call without the token.
#[derive(Debug)]
struct Rogue {
    target: ActorId,
}

impl Actor<Msg> for Rogue {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let access = Msg::DirectDbAccess {
            by: ServiceId(1),
            during: None,
            table: 0,
            key: 0,
            delta: -10,
        };
        ctx.send(self.target, access);
        let keys = consim::system::model::RequestKeys {
            key: 1,
            other: 2,
            tx: 0,
        };
        let call = LocalCall {
            gtx: GlobalTxId(0),
            step: 0,
            kind: StepKind::Action,
            mode: CallMode::Commit,
            keys,
            idempotent: false,
            emit_on_commit: None,
            emit_on_refusal: None,
            token: consim::system::msg::Token(1),
        };
        ctx.send(self.target, Msg::Local(call));
    }
    fn on_message(&mut self, _ctx: &mut Ctx<'_, Msg>, _src: ActorId, _msg: Msg) {}
    fn on_crash(&mut self, _now: consim::sim::Instant) {}
}

#[test]
fn a_direct_database_access_or_a_call_without_the_token_is_refused_and_reported() {
    let model = Arc::new(bank_model(3, 100, 30));
    let mut builder = consim::world::WorldBuilder::<Msg>::new(1, Some(LinkSpec::reliable(10)));
    let config = consim::system::service::ServiceConfig {
        id: ServiceId(0),
        token: TOKEN,
        broker: None,
        relay: consim::system::service::Relay::None,
        lock_timeout: Duration::from_ms(10),
        intrusions: Vec::new(),
        instance_crashes: Vec::new(),
        semantic_locks: false,
        shared_database: false,
        capacity: Default::default(),
    };
    let bank = builder
        .add_actor("bank_a", Service::new(config, model, ActorId(0), None))
        .unwrap();
    builder.add_actor("rogue", Rogue { target: bank }).unwrap();
    let mut world = builder.build().unwrap();
    world.run(Limits::default());
    let service = world.actor::<Service>(bank).unwrap();
    assert_eq!(service.db().stats().access_denied, 1);
    assert_eq!(world.counters()["service.direct_access_refused"], 1);
    assert_eq!(world.counters()["service.token_rejected"], 1);
    let refused: Vec<&HistoryEvent> = service.history().records().iter().map(|r| &r.event).collect();
    assert!(
        matches!(
            refused[0],
            HistoryEvent::AccessRefused {
                caller: ActorId(1),
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(
        matches!(
            refused[1],
            HistoryEvent::TokenRejected {
                caller: ActorId(1),
                ..
            }
        ),
        "{refused:?}"
    );
    // Nothing was applied.
    assert_eq!(service.db().committed(TableId(0), Key(1)), Some(&Value::Int(100)));
}

#[test]
fn the_checks_pass_a_fault_free_naive_run_and_catch_its_crash() {
    let verdicts = |faults: Vec<FaultSpec>| {
        let mut run = config(bank_model(10, 1_000, 30), 300, faults)
            .build(2, TraceLevel::Hash)
            .unwrap();
        let outcome = run.world.run(Limits::default());
        run.check(&outcome)
    };
    assert!(
        verdicts(Vec::new()).iter().all(|v| v.holds()),
        "{:?}",
        verdicts(Vec::new())
    );
    let crash = FaultSpec::Crash {
        node: "bank_b".into(),
        at: Instant::from_ms(20),
        restart_at: Some(Instant::from_ms(80)),
    };
    let failed: Vec<&str> = verdicts(vec![crash])
        .iter()
        .filter(|v| !v.passed)
        .map(|v| v.check.name())
        .collect();
    // The half-applied transfers are stuck (work lost) and never converge either.
    assert_eq!(
        failed,
        ["atomicity", "conservation", "no_lost_work", "convergence"]
    );
}

#[test]
fn every_audit_completes_when_the_audited_tables_of_services_interleave() {
    // bank_a holds two audited tables, listed around bank_b's: the gateway must still ask
    // each service once, or it waits for answers that never come.
    let mut model = bank_model(10, 1_000, 30);
    model.services[0].tables.push(TableSpec {
        name: "savings".into(),
        key_count: 10,
        initial: 500,
    });
    model.audit = vec![
        (ServiceId(0), TableId(0)),
        (ServiceId(1), TableId(0)),
        (ServiceId(0), TableId(1)),
    ];
    let workload = WorkloadSpec {
        request_count: 200,
        arrival: ArrivalProcess::Poisson { rate_per_s: 2_000.0 },
        keys: KeyPopularity::Uniform,
        key_count: 10,
        audit_share: Probability::ratio("audit", 1, 4).unwrap(),
    };
    let config = SystemConfig {
        default_link: LinkSpec::reliable(300),
        ..SystemConfig::new(
            Arc::new(model),
            consim::strategy::StrategyChoice::new(Naive),
            workload,
        )
    };
    let mut run = config.build(3, TraceLevel::Hash).unwrap();
    let outcome = run.world.run(Limits::default());
    assert!(outcome.stop.is_quiescent(), "{}", outcome.stop);
    let history = run.history();
    let records = history.records();
    let asked = records
        .iter()
        .filter(|r| matches!(r.event, HistoryEvent::RequestStarted { audit: true, .. }))
        .count();
    let done = records
        .iter()
        .filter(|r| {
            matches!(
                r.event,
                HistoryEvent::RequestEnded {
                    outcome: RequestOutcome::AuditDone,
                    ..
                }
            )
        })
        .count();
    assert!(asked > 20, "{asked} audits asked");
    assert_eq!(done, asked, "every audit completes");
    let totals: Vec<i64> = records
        .iter()
        .filter_map(|r| match r.event {
            HistoryEvent::Audit { total, complete, .. } => {
                assert!(complete, "an audit timed out");
                Some(total)
            }
            _ => None,
        })
        .collect();
    // Both banks' accounts and bank_a's savings, all counted once at quiet moments.
    assert!(totals.contains(&(2 * 10 * 1_000 + 10 * 500)), "{totals:?}");
}

#[test]
fn system_config_new_has_the_defaults_of_a_scenario_file_that_sets_nothing() {
    // food_happy_path sets no gateway, services or broker settings and no faults.
    let scenario = consim::scenario::load(std::path::Path::new("scenarios/food_happy_path.ron")).unwrap();
    let from_file = scenario.system_config().unwrap();
    let SystemConfig {
        model,
        strategy,
        workload,
        ..
    } = scenario.system_config().unwrap().clone();
    let defaults = SystemConfig::new(model, strategy, workload);
    assert_eq!(defaults.unauthenticated, from_file.unauthenticated);
    assert_eq!(defaults.request_timeout, from_file.request_timeout);
    assert_eq!(defaults.retries, from_file.retries);
    assert_eq!(defaults.lock_timeout, from_file.lock_timeout);
    assert_eq!(defaults.broker_ack_timeout, from_file.broker_ack_timeout);
    assert_eq!(
        defaults.broker_per_key_ordering,
        from_file.broker_per_key_ordering
    );
    assert_eq!(defaults.links, from_file.links);
    assert_eq!(defaults.faults, from_file.faults);
    assert_eq!(defaults.default_link, LinkSpec::default());
}

/// A one-way cut loses what its senders send and nothing else: payment, unheard for 300ms,
/// still gets its `Prepare`s (it prepares), but its votes are lost (the transactions abort),
/// and every safety check holds.
#[test]
fn a_one_way_cut_loses_only_the_senders_messages() {
    let scenario =
        consim::scenario::load(std::path::Path::new("tests/data/good/one_way_payment.ron")).unwrap();
    let run = consim::runner::run(&scenario, scenario.seed, TraceLevel::Full);
    let payment = run.names.iter().position(|n| n == "payment").unwrap() as u32;
    let in_window = |at: consim::sim::Instant| (200_000..500_000).contains(&at.as_us());
    let (mut lost_from, mut lost_to, mut delivered_to) = (0, 0, 0);
    for e in run.trace.entries() {
        if !in_window(e.at) {
            continue;
        }
        let from_payment = e.src.is_some_and(|s| s.0 == payment);
        let to_payment = e.dst.is_some_and(|d| d.0 == payment);
        match e.kind {
            TraceKind::Drop if e.note.contains("partition") && from_payment => lost_from += 1,
            TraceKind::Drop if e.note.contains("partition") && to_payment => lost_to += 1,
            TraceKind::Deliver if to_payment => delivered_to += 1,
            _ => {}
        }
    }
    assert!(
        lost_from > 0 && delivered_to > 0,
        "{lost_from} lost, {delivered_to} delivered"
    );
    assert_eq!(lost_to, 0, "nothing sent to payment is cut");
    let t = run.report.transactions.as_ref().unwrap();
    assert!(t.aborted > 0, "the window's votes were lost");
    assert!(
        run.report.checks.iter().all(|v| v.holds()),
        "{:?}",
        run.report.checks
    );
}

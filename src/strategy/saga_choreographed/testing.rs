//! Test harness shared by the choreographed saga's and eventual consistency's tests: a
//! system config, a fault plan drawn from a seed, a run to rest, and the checks.
//!
//! An outbox relay polls for ever, so a run with one never goes quiescent by itself; it runs
//! to a horizon well after the last fault and is judged only if it has come to rest by then:
//! every outbox published and acknowledged, nothing stored at the broker.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::assembly::{SystemConfig, SystemWorld, TOKEN};
use crate::broker::Broker;
use crate::check::{self, RunFacts, Verdict};
use crate::net::{FaultSpec, LatencyDist, LinkSpec, Probability};
use crate::sim::{ActorId, Duration, Instant, TraceLevel};
use crate::strategy::Wiring;
use crate::system::history::{History, HistoryEvent};
use crate::system::model::Model;
use crate::system::msg::{DomainEvent, GlobalTxId, RequestOutcome, StepKind};
use crate::workload::{ArrivalProcess, KeyPopularity, WorkloadSpec};
use crate::world::{Limits, StopReason};

/// Requests per run: at 2,000 per second the workload lasts about 100 ms.
pub(crate) const REQUESTS: u64 = 200;

/// Runs stop here at the latest: seconds after the last fault (all before 250 ms), far more
/// than a redelivery (50 ms) or a relay resend (four intervals) takes.
pub(crate) const HORIZON: Instant = Instant::from_ms(3_000);

/// The seeds a property runs over: 30, or `CONSIM_SEEDS` of them.
pub(crate) fn seeds() -> Vec<u64> {
    let count = std::env::var("CONSIM_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(30);
    (1..=count).collect()
}

/// Where `assembly` puts every actor of a run of `model` with a broker.
pub(crate) fn wiring(model: Model) -> Wiring {
    let count = model.services.len() as u32;
    Wiring {
        model: Arc::new(model),
        token: TOKEN,
        client: ActorId(0),
        gateway: ActorId(1),
        services: (0..count).map(|i| ActorId(2 + i)).collect(),
        broker: Some(ActorId(2 + count)),
        extras: Vec::new(),
    }
}

/// A business system under `strategy`: `REQUESTS` requests over 20 keys, a 100 ms gateway
/// deadline with two retries, a 50 ms broker redelivery timeout.
pub(crate) fn system(
    model: Model,
    strategy: crate::strategy::StrategyChoice,
    link: LinkSpec,
    faults: Vec<FaultSpec>,
) -> SystemConfig {
    SystemConfig {
        model: Arc::new(model),
        strategy,
        workload: WorkloadSpec {
            request_count: REQUESTS,
            arrival: ArrivalProcess::Poisson { rate_per_s: 2_000.0 },
            keys: KeyPopularity::Uniform,
            key_count: 20,
            audit_share: Probability::NEVER,
        },
        unauthenticated: Probability::NEVER,
        request_timeout: Duration::from_ms(100),
        retries: 2,
        lock_timeout: Duration::from_ms(20),
        broker_ack_timeout: Duration::from_ms(50),
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

/// A LAN with no faults: 0.3–3 ms, reordering allowed.
pub(crate) fn clean_link() -> LinkSpec {
    LinkSpec {
        latency: LatencyDist::Uniform {
            min_us: 300,
            max_us: 3_000,
        },
        loss: Probability::NEVER,
        duplicate: Probability::NEVER,
        fifo: false,
    }
}

/// The same LAN losing 5% and duplicating 2% of messages.
pub(crate) fn lossy_link() -> LinkSpec {
    LinkSpec {
        loss: Probability::ratio("loss", 5, 100).expect("a valid ratio"),
        duplicate: Probability::ratio("duplicate", 2, 100).expect("a valid ratio"),
        ..clean_link()
    }
}

/// The same LAN duplicating `percent`% of messages and losing none.
pub(crate) fn duplicating_link(percent: u64) -> LinkSpec {
    LinkSpec {
        duplicate: Probability::ratio("duplicate", percent, 100).expect("a valid ratio"),
        ..clean_link()
    }
}

/// A fault plan drawn from `seed` (a splitmix64 sequence, independent of the run's streams):
/// one service cut off from everyone for 30–80 ms, a crash and restart of one service and
/// one of the broker, all within the first 250 ms, all healed.
pub(crate) fn random_faults(model: &Model, seed: u64) -> Vec<FaultSpec> {
    let mut draw = SplitMix(seed);
    let services: Vec<String> = model.services.iter().map(|s| s.name.clone()).collect();
    let cut = draw.below(services.len() as u64) as usize;
    let mut rest: Vec<String> = services
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != cut)
        .map(|(_, name)| name.clone())
        .collect();
    rest.extend(["broker".to_string(), "gateway".to_string()]);
    let cut_from = draw.between(10, 60);
    let crashed = draw.below(services.len() as u64) as usize;
    let crash_at = draw.between(30, 120);
    let broker_at = draw.between(50, 150);
    vec![
        FaultSpec::Partition {
            groups: vec![vec![services[cut].clone()], rest],
            from: Instant::from_ms(cut_from),
            until: Some(Instant::from_ms(cut_from + draw.between(30, 80))),
        },
        crash(&services[crashed], crash_at, draw.between(20, 60)),
        crash("broker", broker_at, draw.between(10, 40)),
    ]
}

/// `node` crashes at `at_ms` and restarts `down_ms` later.
pub(crate) fn crash(node: &str, at_ms: u64, down_ms: u64) -> FaultSpec {
    FaultSpec::Crash {
        node: node.into(),
        at: Instant::from_ms(at_ms),
        restart_at: Some(Instant::from_ms(at_ms + down_ms)),
    }
}

/// food_delivery with `couriers` couriers per zone: with 20 zones and 200 orders, most
/// orders find no courier at the last step and must be compensated.
pub(crate) fn scarce_couriers(couriers: i64) -> Model {
    let mut model = crate::system::examples::food_delivery();
    let delivery = model
        .service_id("delivery")
        .expect("food_delivery has a delivery service");
    model.services[delivery.index()].tables[0].initial = couriers;
    model
}

/// A finished run, as the checks see it.
pub(crate) struct Finished {
    /// The seed, for failure messages.
    pub seed: u64,
    /// Everything recorded.
    pub history: History,
    /// Final committed rows per service and table.
    pub rows: Vec<Vec<BTreeMap<u64, i64>>>,
    /// Quiescent, or only relays polling empty outboxes and nothing left at the broker.
    pub settled: bool,
    /// Why the run stopped.
    pub stop: StopReason,
    /// When it stopped.
    pub end: Instant,
}

/// Runs `config` under `seed` to [`HORIZON`].
pub(crate) fn run(config: &SystemConfig, seed: u64) -> Finished {
    let mut system = config.build(seed, TraceLevel::Hash).expect("a valid system");
    let outcome = system.world.run(Limits::until(HORIZON));
    let settled = outcome.stop.is_quiescent() || at_rest(&system);
    Finished {
        seed,
        history: system.history(),
        rows: RunFacts::rows_of(system.services().map(|s| s.db())),
        settled,
        stop: outcome.stop,
        end: outcome.end,
    }
}

/// Every outbox published and acknowledged, and nothing stored at the broker.
fn at_rest(system: &SystemWorld) -> bool {
    let outboxes_empty = system
        .services()
        .all(|s| s.db().outbox().pending().next().is_none());
    let broker_empty = system
        .wiring
        .broker
        .and_then(|id| system.world.actor::<Broker<DomainEvent>>(id))
        .is_none_or(|broker| broker.stored_count() == 0);
    outboxes_empty && broker_empty
}

impl Finished {
    /// What the checks and measurements read about this run.
    pub fn facts<'a>(&self, model: &'a Model) -> RunFacts<'a> {
        RunFacts::new(model, &self.history, self.rows.clone(), self.settled, self.end)
    }

    /// The verdicts of the checks a choreography must pass: atomicity, no double effect,
    /// conservation.
    pub fn verdicts(&self, model: &Model) -> Vec<Verdict> {
        let facts = self.facts(model);
        vec![
            check::atomicity(&facts),
            check::no_double_effect(&facts),
            check::conservation(&facts),
        ]
    }

    /// The checks that failed, with their first violations, for assertion messages.
    pub fn failures(&self, model: &Model) -> Vec<String> {
        self.verdicts(model)
            .into_iter()
            .filter(|v| !v.passed)
            .map(|v| {
                let first: Vec<&str> = v.violations.iter().take(3).map(|x| x.detail.as_str()).collect();
                format!(
                    "{} ({} violations: {})",
                    v.check,
                    v.violation_count,
                    first.join("; ")
                )
            })
            .collect()
    }

    /// Asserts the run came to rest and passed every check, naming the seed otherwise.
    pub fn assert_consistent(&self, model: &Model) {
        assert!(
            self.settled,
            "seed {}: not at rest at the horizon ({})",
            self.seed, self.stop
        );
        let failures = self.failures(model);
        assert!(failures.is_empty(), "seed {}: {failures:?}", self.seed);
    }

    /// How the gateway answered each request.
    pub fn outcomes(&self) -> Vec<RequestOutcome> {
        self.history
            .records()
            .iter()
            .filter_map(|r| match r.event {
                HistoryEvent::RequestEnded { outcome, .. } => Some(outcome),
                _ => None,
            })
            .collect()
    }

    /// How many requests ended with `outcome`.
    pub fn count(&self, outcome: RequestOutcome) -> usize {
        self.outcomes().iter().filter(|o| **o == outcome).count()
    }

    /// Per transaction, the steps whose compensation applied, in the order they applied.
    pub fn compensation_orders(&self) -> BTreeMap<GlobalTxId, Vec<u16>> {
        let mut orders: BTreeMap<GlobalTxId, Vec<u16>> = BTreeMap::new();
        for record in self.history.records() {
            if let HistoryEvent::Local {
                gtx,
                step,
                kind: StepKind::Compensation,
                replay: false,
                write: Some(_),
                ..
            } = record.event
            {
                orders.entry(gtx).or_default().push(step);
            }
        }
        orders
    }
}

/// splitmix64 (Steele, Lea & Flood 2014): a tiny deterministic sequence for fault plans.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }
}

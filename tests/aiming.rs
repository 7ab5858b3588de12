//! Faults aimed at protocol points: every point a strategy declares is reached, and faults
//! aimed at 2PC's points give the outcomes the literature predicts.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use consim::assembly::{SystemConfig, actor_names};
use consim::chaos;
use consim::check::CheckKind;
use consim::net::LinkSpec;
use consim::sim::{Duration, Instant, TraceKind, TraceLevel};
use consim::strategy::{SERVICE_POINTS, StrategyChoice, points_of, registry};
use consim::system::examples::food_delivery;
use consim::workload::{ArrivalProcess, KeyPopularity, WorkloadSpec};
use consim::world::Limits;
use consim::{runner, scenario};

/// Food delivery with two dishes of each kind in stock, so `reserve_dish` (step 2) refuses
/// some orders and every strategy undoes the steps before it.
fn scarce_food() -> consim::system::model::Model {
    let mut model = food_delivery();
    let restaurant = model
        .services
        .iter_mut()
        .find(|s| s.name == "restaurant")
        .expect("a restaurant");
    restaurant.tables[0].initial = 2;
    model
}

/// `(actor, point)` pairs reached in a chaotic food-delivery run (a later step can refuse, so
/// sagas compensate) of `strategy` on `seed`.
fn points_reached(strategy: &StrategyChoice, seed: u64) -> BTreeSet<(String, &'static str)> {
    let model = Arc::new(scarce_food());
    let targets: Vec<String> = actor_names(&model, &**strategy)
        .into_iter()
        .filter(|n| n != "client" && n != "gateway")
        .collect();
    let chaos = chaos::draw(seed, &targets, Duration::from_ms(400));
    let workload = WorkloadSpec {
        request_count: 40,
        arrival: ArrivalProcess::Poisson { rate_per_s: 200.0 },
        keys: KeyPopularity::Zipf { exponent: 1.0 },
        key_count: 20,
        audit_share: consim::net::Probability::NEVER,
    };
    let config = SystemConfig {
        lock_timeout: Duration::from_ms(20),
        broker_ack_timeout: Duration::from_ms(50),
        default_link: LinkSpec {
            loss: chaos.loss,
            duplicate: chaos.duplicate,
            ..LinkSpec::default()
        },
        faults: chaos.faults,
        ..SystemConfig::new(model, strategy.clone(), workload)
    };
    let mut run = config.build(seed, TraceLevel::Full).expect("a valid chaotic run");
    run.world.run(Limits::until(Instant::from_ms(60_000)));
    let names = run.world.names().to_vec();
    run.world
        .trace()
        .entries()
        .iter()
        .filter(|e| e.kind == TraceKind::Point)
        .map(|e| {
            (
                names[e.src.expect("a point has its actor").index()].clone(),
                e.note,
            )
        })
        .collect()
}

#[test]
fn every_declared_point_is_reached_and_only_by_an_actor_that_declares_it() {
    let model = food_delivery();
    let services: Vec<&str> = model.services.iter().map(|s| s.name.as_str()).collect();
    let mut service_points_seen = BTreeSet::new();
    for strategy in registry::defaults() {
        let mut seen = BTreeSet::new();
        for seed in 0..30 {
            seen.extend(points_reached(&strategy, seed));
        }
        for (actor, point) in &seen {
            let declared = points_of(&*strategy, actor, services.contains(&actor.as_str()));
            assert!(
                declared.iter().any(|p| p.name == *point),
                "{}: {actor} reached `{point}`, which it does not declare",
                strategy.name()
            );
        }
        for point in strategy.points() {
            assert!(
                seen.iter().any(|(actor, name)| *name == point.name
                    && points_of(&*strategy, actor, services.contains(&actor.as_str())).contains(point)),
                "{}: no run reached {} `{}`",
                strategy.name(),
                point.role,
                point.name
            );
        }
        service_points_seen.extend(seen.into_iter().map(|(_, point)| point));
    }
    for point in SERVICE_POINTS {
        assert!(
            service_points_seen.contains(point.name),
            "no run reached service `{}`",
            point.name
        );
    }
}

/// Each bundled twin with the check it breaks: with faults aimed at its weak point, a
/// handful of requests show the flaw on every seed.
const TWINS: [(&str, CheckKind); 6] = [
    ("scenarios/twin_no_idempotency.ron", CheckKind::NoDoubleEffect),
    ("scenarios/twin_dual_write.ron", CheckKind::Atomicity),
    ("scenarios/twin_2pc_no_log.ron", CheckKind::Atomicity),
    (
        "scenarios/twin_saga_no_compensation_retries.ron",
        CheckKind::Atomicity,
    ),
    (
        "scenarios/twin_saga_no_idempotency.ron",
        CheckKind::NoDoubleEffect,
    ),
    ("scenarios/twin_eventual_dual_write.ron", CheckKind::Convergence),
];

#[test]
fn every_twin_fails_on_every_seed_with_ten_requests_or_fewer_and_its_fix_on_none() {
    for (file, breaks) in TWINS {
        let twin = scenario::load(Path::new(file)).unwrap_or_else(|e| panic!("{file}: {e:?}"));
        let requests = twin.system_config().unwrap().workload.request_count;
        assert!(requests <= 10, "{file}: {requests} requests");
        let mut fixed = twin.clone();
        let name = twin.system_config().unwrap().strategy.name();
        fixed.system_config_mut().unwrap().strategy = registry::named(name).unwrap();
        let (mut twin_failing, mut fixed_failing) = (0, 0);
        for seed in 0..100 {
            let report = runner::run(&twin, seed, TraceLevel::Hash).report;
            let failed: Vec<CheckKind> = twin.failures(&report).map(|v| v.check).collect();
            if failed.contains(&breaks) {
                twin_failing += 1;
            }
            let report = runner::run(&fixed, seed, TraceLevel::Hash).report;
            if fixed.failures(&report).next().is_some() {
                fixed_failing += 1;
            }
        }
        assert_eq!(
            twin_failing, 100,
            "{file}: {breaks} caught on {twin_failing} of 100 seeds"
        );
        assert_eq!(
            fixed_failing, 0,
            "{file} with correct {name}: {fixed_failing} of 100 seeds fail"
        );
    }
}

//! Local transactions per wall-clock second: the database alone, and a service actor running
//! local calls through the kernel (network, timers, locks, idempotency, commit).
//!
//! Run: `cargo bench --bench store`.

use std::hint::black_box;
use std::sync::Arc;

use consim::assembly::TOKEN;
use consim::net::LinkSpec;
use consim::sim::{ActorId, Instant, TraceLevel};
use consim::store::{Bounds, Database, Key, LocalTxId, TableId, Value};
use consim::system::examples::bank_transfer;
use consim::system::model::RequestKeys;
use consim::system::msg::{CallMode, GlobalTxId, LocalCall, Msg, StepKind};
use consim::system::service::{Relay, Service, ServiceConfig};
use consim::world::{Actor, Ctx, Limits, WorldBuilder};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const TXS: u64 = 100_000;

/// Debit-then-commit transactions straight on the database, spread over 1,000 accounts.
fn database_transactions() -> u64 {
    let rows = (0..1_000).map(|k| (Key(k), Value::Int(i64::MAX / 2)));
    let mut db = Database::new(ActorId(0), [("accounts", rows.collect::<Vec<_>>())]).unwrap();
    let mut session = db.access(ActorId(0)).unwrap();
    for tx in 0..TXS {
        let id = LocalTxId(tx);
        session.begin(id, Instant::ZERO).unwrap();
        let outcome = session
            .add(id, TableId(0), Key(tx % 1_000), -1, Bounds::at_least(0))
            .unwrap();
        assert!(outcome.is_done());
        session.commit(id, Instant::ZERO).unwrap();
    }
    db.stats().commits
}

/// Keeps `in_flight` idempotent debit calls outstanding against one service.
struct Driver {
    service: ActorId,
    sent: u64,
    in_flight: u64,
}

impl Driver {
    fn send(&mut self, ctx: &mut Ctx<'_, Msg>) {
        let gtx = GlobalTxId(self.sent);
        let keys = RequestKeys {
            key: self.sent % 100,
            other: 0,
            tx: self.sent,
        };
        self.sent += 1;
        let call = LocalCall {
            gtx,
            step: 0,
            kind: StepKind::Action,
            mode: CallMode::Commit,
            keys,
            idempotent: true,
            emit_on_commit: None,
            emit_on_refusal: None,
            token: TOKEN,
        };
        ctx.send(self.service, Msg::Local(call));
    }
}

impl Actor<Msg> for Driver {
    fn on_start(&mut self, ctx: &mut Ctx<'_, Msg>) {
        for _ in 0..self.in_flight {
            self.send(ctx);
        }
    }
    fn on_message(&mut self, ctx: &mut Ctx<'_, Msg>, _src: ActorId, _msg: Msg) {
        if self.sent < TXS {
            self.send(ctx);
        }
    }
    fn on_crash(&mut self, _now: consim::sim::Instant) {}
}

fn service_local_calls() -> u64 {
    let mut model = bank_transfer();
    model.services[0].tables[0].initial = i64::MAX / 2;
    let config = ServiceConfig {
        id: consim::system::model::ServiceId(0),
        token: TOKEN,
        broker: None,
        relay: Relay::None,
        lock_timeout: consim::sim::Duration::from_ms(50),
        intrusions: Vec::new(),
        instance_crashes: Vec::new(),
        semantic_locks: false,
        shared_database: false,
        capacity: Default::default(),
    };
    let mut builder = WorldBuilder::<Msg>::new(1, Some(LinkSpec::reliable(100)));
    builder.trace_level(TraceLevel::Off);
    let service = builder
        .add_actor("bank_a", Service::new(config, Arc::new(model), ActorId(0), None))
        .unwrap();
    builder
        .add_actor(
            "driver",
            Driver {
                service,
                sent: 0,
                in_flight: 32,
            },
        )
        .unwrap();
    let mut world = builder.build().unwrap();
    world.run(Limits::default());
    world.actor::<Service>(service).unwrap().db().stats().commits
}

fn local_transactions(c: &mut Criterion) {
    assert_eq!(database_transactions(), TXS);
    assert_eq!(service_local_calls(), TXS);
    let mut group = c.benchmark_group("local_transactions");
    group.sample_size(10);
    group.throughput(Throughput::Elements(TXS));
    group.bench_function("database", |b| b.iter(|| black_box(database_transactions())));
    group.bench_function("service_actor", |b| b.iter(|| black_box(service_local_calls())));
    group.finish();
}

criterion_group!(benches, local_transactions);
criterion_main!(benches);

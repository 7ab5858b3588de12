//! What the kernel promises, observed from outside through small actors.

use consim::net::{
    DropReason, FaultSpec, LatencyDist, LinkSpec, MessageEffect, MessageFault, PointEffect, PointFault,
    Probability,
};
use consim::sim::{ActorId, Duration, Instant, TraceKind, TraceLevel};
use consim::world::{Limits, StopReason, World, WorldBuilder};

use crate::support::{Echo, Recorder, TestMsg, test_msg_kind};

fn ms(v: u64) -> Instant {
    Instant::from_ms(v)
}

fn builder(seed: u64, link: LinkSpec) -> WorldBuilder<TestMsg> {
    WorldBuilder::new(seed, Some(link))
}

fn recorder(world: &World<TestMsg>, id: ActorId) -> &Recorder {
    world.actor::<Recorder>(id).expect("a Recorder")
}

#[test]
fn adding_an_actor_or_drawing_more_leaves_other_streams_unchanged() {
    let link = LinkSpec {
        latency: LatencyDist::Uniform {
            min_us: 100,
            max_us: 10_000,
        },
        ..LinkSpec::default()
    };
    // Baseline: a sends 50 messages to b.
    let run = |extra_actor: bool, a_extra_draws: usize| {
        let mut b = builder(99, link);
        let dst = ActorId(1);
        let mut sender = Recorder::sending(dst, Duration::from_ms(1), 50);
        sender.extra_draws = a_extra_draws;
        b.add_actor("a", sender).unwrap();
        b.add_actor("b", Recorder::default()).unwrap();
        if extra_actor {
            // A newcomer that sends to b too, drawing from its own streams.
            b.add_actor("c", Recorder::sending(dst, Duration::from_us(700), 50))
                .unwrap();
        }
        let mut world = b.build().unwrap();
        world.run(Limits::default());
        let from_a: Vec<(u64, ActorId, u64)> = recorder(&world, dst)
            .received
            .iter()
            .filter(|(_, src, _)| *src == ActorId(0))
            .copied()
            .collect();
        (
            recorder(&world, ActorId(0)).first_draws.clone(),
            recorder(&world, dst).first_draws.clone(),
            from_a,
        )
    };
    let (a_draws, b_draws, a_arrivals) = run(false, 0);
    let (a_draws2, b_draws2, a_arrivals2) = run(true, 0);
    assert_eq!(a_draws, a_draws2, "a's actor stream moved when c was added");
    assert_eq!(b_draws, b_draws2, "b's actor stream moved when c was added");
    assert_eq!(
        a_arrivals, a_arrivals2,
        "a's network draws moved when c was added"
    );
    let (a_draws3, b_draws3, a_arrivals3) = run(false, 1000);
    assert_ne!(a_draws, a_draws3, "extra draws must shift a's own stream");
    assert_eq!(b_draws, b_draws3, "a drawing more moved b's stream");
    assert_eq!(a_arrivals, a_arrivals3, "a's own draws moved its network stream");
}

#[test]
fn a_crash_drops_volatile_state_timers_and_incoming_messages() {
    let mut b = builder(1, LinkSpec::reliable(100));
    let sender = b
        .add_actor("sender", Recorder::sending(ActorId(1), Duration::from_ms(1), 20))
        .unwrap();
    let mut target = Recorder {
        timer_at_start: Some(Duration::from_ms(8)),
        ..Recorder::default()
    };
    target.volatile_count = 0;
    let target_id = b.add_actor("target", target).unwrap();
    b.fault(FaultSpec::Crash {
        node: "target".into(),
        at: ms(5) + Duration::from_us(500),
        restart_at: Some(ms(10) + Duration::from_us(500)),
    });
    let mut world = b.build().unwrap();
    let outcome = world.run(Limits::default());
    assert_eq!(outcome.stop, StopReason::Quiescent);
    let target = recorder(&world, target_id);
    // Sends leave at 0,1,..,19 ms and arrive 100us later; 6..=10 ms arrive while it is down.
    let got: Vec<u64> = target.received.iter().map(|r| r.2).collect();
    let expected: Vec<u64> = (0..20).filter(|i| !(6..=10).contains(i)).collect();
    assert_eq!(got, expected);
    assert_eq!(world.stats().dropped(DropReason::Crashed), 5);
    assert!(
        target.timer_fired_at.is_empty(),
        "the 8ms timer belonged to the crashed incarnation"
    );
    assert_eq!(
        target.volatile_count, 9,
        "volatile state restarts from zero after recovery"
    );
    assert_eq!(target.recoveries, 1);
    assert_eq!(world.stats().crashes, 1);
    assert!(world.is_up(target_id));
    assert_eq!(recorder(&world, sender).received.len(), 0);
}

#[test]
fn a_partition_drops_exactly_the_messages_that_cross_it() {
    let mut b = builder(3, LinkSpec::reliable(50));
    let a = b
        .add_actor("a", Recorder::sending(ActorId(1), Duration::from_ms(1), 100))
        .unwrap();
    let bb = b
        .add_actor("b", Recorder::sending(ActorId(2), Duration::from_ms(1), 100))
        .unwrap();
    let c = b.add_actor("c", Recorder::default()).unwrap();
    b.fault(FaultSpec::Partition {
        groups: vec![vec!["a".into()], vec!["b".into()]],
        from: ms(20),
        until: Some(ms(40)),
    });
    let mut world = b.build().unwrap();
    world.run(Limits::default());
    // a -> b crosses the partition: sends at 20..40 ms (send-time decision) are lost.
    let got: Vec<u64> = recorder(&world, bb).received.iter().map(|r| r.2).collect();
    let expected: Vec<u64> = (0..100).filter(|i| !(20..40).contains(i)).collect();
    assert_eq!(got, expected);
    // b -> c does not cross it: c got everything.
    assert_eq!(recorder(&world, c).received.len(), 100);
    assert_eq!(world.stats().dropped(DropReason::Partition), 20);
    assert_eq!(world.stats().dropped_total(), 20);
    assert!(recorder(&world, a).received.is_empty());
}

#[test]
fn a_link_down_cuts_both_directions_only_between_its_ends() {
    let mut b = builder(3, LinkSpec::reliable(50));
    b.add_actor("a", Recorder::sending(ActorId(1), Duration::from_ms(1), 10))
        .unwrap();
    let bb = b
        .add_actor("b", Recorder::sending(ActorId(0), Duration::from_ms(1), 10))
        .unwrap();
    b.fault(FaultSpec::LinkDown {
        a: "a".into(),
        b: "b".into(),
        from: ms(2),
        until: Some(ms(5)),
    });
    let mut world = b.build().unwrap();
    world.run(Limits::default());
    assert_eq!(world.stats().dropped(DropReason::LinkDown), 6);
    assert_eq!(recorder(&world, bb).received.len(), 7);
}

#[test]
fn duplication_through_the_world_matches_its_probability() {
    let messages = 200_000u64;
    let link = LinkSpec {
        duplicate: Probability::new("duplicate", 0.02).unwrap(),
        ..LinkSpec::reliable(10)
    };
    let mut b = builder(5, link);
    b.add_actor("a", Recorder::sending(ActorId(1), Duration::from_us(1), messages))
        .unwrap();
    b.add_actor("b", Recorder::default()).unwrap();
    let mut world = b.build().unwrap();
    world.run(Limits::default());
    let stats = world.stats();
    let (p, n) = (0.02, messages as f64);
    let sd = (n * p * (1.0 - p)).sqrt();
    let observed = stats.duplicated as f64;
    assert!(
        (observed - n * p).abs() <= 5.0 * sd,
        "duplicated {observed}, expected {} ± {}",
        n * p,
        5.0 * sd
    );
    assert_eq!(stats.delivered, messages + stats.duplicated);
}

#[test]
fn clock_drift_applies_to_timers_set_after_it() {
    let mut b = builder(1, LinkSpec::reliable(1));
    // The sender's data timers are set every 10ms on a clock running 25% fast: 8ms real.
    let s = b
        .add_actor("s", Recorder::sending(ActorId(1), Duration::from_ms(10), 3))
        .unwrap();
    let r = b.add_actor("r", Recorder::default()).unwrap();
    b.fault(FaultSpec::ClockDrift {
        node: "s".into(),
        at: Instant::ZERO,
        drift_ppm: 250_000,
    });
    let mut world = b.build().unwrap();
    world.run(Limits::default());
    let arrivals: Vec<u64> = recorder(&world, r).received.iter().map(|x| x.0).collect();
    assert_eq!(arrivals, vec![1, 8_001, 16_001]);
    assert!(recorder(&world, s).received.is_empty());
    // A clock running 20% slow stretches the same 10ms timers to 12.5ms.
    let mut b = builder(1, LinkSpec::reliable(1));
    b.add_actor("s", Recorder::sending(ActorId(1), Duration::from_ms(10), 3))
        .unwrap();
    let r = b.add_actor("r", Recorder::default()).unwrap();
    b.fault(FaultSpec::ClockDrift {
        node: "s".into(),
        at: Instant::ZERO,
        drift_ppm: -200_000,
    });
    let mut world = b.build().unwrap();
    world.run(Limits::default());
    let arrivals: Vec<u64> = recorder(&world, r).received.iter().map(|x| x.0).collect();
    assert_eq!(arrivals, vec![1, 12_501, 25_001]);
}

#[test]
fn every_limit_stops_the_run_with_its_reason() {
    // Ping-pong forever: only a limit stops it.
    let ping_pong = |limits: Limits| {
        let mut b = builder(1, LinkSpec::reliable(1_000));
        b.add_actor(
            "a",
            Echo {
                fan_out: 1,
                kick_off: Some(ActorId(1)),
            },
        )
        .unwrap();
        b.add_actor(
            "b",
            Echo {
                fan_out: 1,
                kick_off: None,
            },
        )
        .unwrap();
        let mut world = b.build().unwrap();
        world.run(limits)
    };
    let by_time = ping_pong(Limits::until(ms(10)));
    assert_eq!(by_time.stop, StopReason::TimeLimit(ms(10)));
    assert_eq!((by_time.end, by_time.event_count), (ms(10), 10));
    let by_events = ping_pong(Limits {
        max_events: 25,
        ..Limits::default()
    });
    assert_eq!(by_events.stop, StopReason::EventLimit(25));
    assert!(by_events.stop.to_string().contains("may loop forever"));
    // Doubling messages: the pending-event bound ends it.
    let mut b = builder(1, LinkSpec::reliable(1_000));
    b.add_actor(
        "a",
        Echo {
            fan_out: 2,
            kick_off: Some(ActorId(1)),
        },
    )
    .unwrap();
    b.add_actor(
        "b",
        Echo {
            fan_out: 2,
            kick_off: None,
        },
    )
    .unwrap();
    let mut world = b.build().unwrap();
    let flood = world.run(Limits {
        max_pending: 1_000,
        ..Limits::default()
    });
    assert_eq!(flood.stop, StopReason::PendingLimit(1_000));
    assert!(flood.stop.to_string().starts_with("memory limit"));
    // And a finite run ends quiescent.
    let mut b = builder(1, LinkSpec::reliable(1_000));
    b.add_actor("a", Recorder::sending(ActorId(1), Duration::from_ms(1), 3))
        .unwrap();
    b.add_actor("b", Recorder::default()).unwrap();
    let mut world = b.build().unwrap();
    assert_eq!(world.run(Limits::default()).stop, StopReason::Quiescent);
}

#[test]
fn bad_configuration_is_rejected_with_a_clear_message() {
    let build_err = |link: LinkSpec, fault: Option<FaultSpec>| {
        let mut b = builder(1, link);
        b.add_actor("payment", Recorder::default()).unwrap();
        b.add_actor("order", Recorder::default()).unwrap();
        if let Some(f) = fault {
            b.fault(f);
        }
        b.build().err().expect("the configuration is bad").to_string()
    };
    let zero_width = LinkSpec {
        latency: LatencyDist::Uniform { min_us: 5, max_us: 5 },
        ..LinkSpec::default()
    };
    assert!(build_err(zero_width, None).contains("default link latency: uniform latency has zero width"));
    let negative = LinkSpec {
        latency: LatencyDist::Exponential { mean_us: -3.0 },
        ..LinkSpec::default()
    };
    assert!(build_err(negative, None).contains("mean must be a positive number, got -3"));
    let unknown = FaultSpec::Crash {
        node: "paymnt".into(),
        at: ms(1),
        restart_at: None,
    };
    assert!(
        build_err(LinkSpec::default(), Some(unknown))
            .contains("unknown node `paymnt` (did you mean `payment`?)")
    );
    let backwards = FaultSpec::Crash {
        node: "order".into(),
        at: ms(9),
        restart_at: Some(ms(3)),
    };
    assert!(
        build_err(LinkSpec::default(), Some(backwards))
            .contains("restarts at 3ms, which is not after its crash at 9ms")
    );
    let err = Probability::new("link order->payment loss", 1.5)
        .unwrap_err()
        .to_string();
    assert_eq!(err, "link order->payment loss: probability 1.5 is outside [0, 1]");
    let mut b = builder(1, LinkSpec::default());
    b.add_actor("x", Recorder::default()).unwrap();
    assert!(
        b.add_actor("x", Recorder::default())
            .unwrap_err()
            .to_string()
            .contains("defined twice")
    );
}

#[test]
fn pairs_without_a_link_have_no_route_when_there_is_no_default() {
    let mut b = WorldBuilder::<TestMsg>::new(1, None);
    let a = b
        .add_actor("a", Recorder::sending(ActorId(1), Duration::from_ms(1), 3))
        .unwrap();
    let c = b.add_actor("c", Recorder::default()).unwrap();
    let mut world = b.build().unwrap();
    world.run(Limits::default());
    assert_eq!(world.stats().dropped(DropReason::NoRoute), 3);
    let mut b = WorldBuilder::<TestMsg>::new(1, None);
    b.add_actor("a", Recorder::sending(ActorId(1), Duration::from_ms(1), 3))
        .unwrap();
    b.add_actor("c", Recorder::default()).unwrap();
    b.link(a, c, LinkSpec::reliable(5));
    let mut world = b.build().unwrap();
    world.run(Limits::default());
    assert_eq!(recorder(&world, c).received.len(), 3);
}

#[test]
fn a_run_whose_record_outgrows_its_memory_limit_stops_at_the_same_event_however_it_is_split() {
    let record_limit = |chunk: Option<u64>| {
        let mut b = builder(1, LinkSpec::reliable(1_000));
        b.add_actor(
            "a",
            Recorder::sending(ActorId(1), Duration::from_us(100), 1_000_000),
        )
        .unwrap();
        b.add_actor("b", Recorder::default()).unwrap();
        let mut world = b.build().unwrap();
        let limits = Limits {
            max_retained_bytes: 24 * 10_000,
            ..Limits::default()
        };
        let outcome = match chunk {
            None => world.run(limits),
            Some(events) => loop {
                let outcome = world.run(Limits {
                    max_events: events,
                    ..limits
                });
                if !matches!(outcome.stop, StopReason::EventLimit(_)) {
                    break outcome;
                }
            },
        };
        let kept = recorder(&world, ActorId(1)).received.len();
        (outcome, kept)
    };
    let (whole, kept) = record_limit(None);
    assert_eq!(whole.stop, StopReason::RecordLimit(24 * 10_000));
    let message = whole.stop.to_string();
    assert!(
        message.starts_with("memory limit") && message.contains("stop.memory_mb"),
        "{message}"
    );
    // Checked every few thousand events: it stops soon after the record passes the limit.
    assert!(
        (10_000..10_000 + 2 * 4_096).contains(&kept),
        "kept {kept} messages"
    );
    for chunk in [1, 777, 5_000] {
        let (split, _) = record_limit(Some(chunk));
        assert_eq!(
            (split.stop, split.event_count, split.end),
            (whole.stop, whole.event_count, whole.end),
            "chunks of {chunk}"
        );
    }
}

fn payloads(world: &World<TestMsg>, id: ActorId) -> Vec<u64> {
    recorder(world, id).received.iter().map(|r| r.2).collect()
}

#[test]
fn a_crash_aimed_at_a_point_loses_what_the_handler_did_after_it() {
    let mut b = builder(1, LinkSpec::reliable(100));
    b.trace_level(TraceLevel::Full);
    let sender = b
        .add_actor("sender", Recorder::sending(ActorId(1), Duration::from_ms(1), 20))
        .unwrap();
    let target = b.add_actor("target", Recorder::default()).unwrap();
    b.fault(FaultSpec::AtPoint(PointFault {
        node: "sender".into(),
        point: "send".into(),
        nth: 1,
        tx: Some(5),
        effect: PointEffect::Crash {
            restart_after: Some(Duration::from_ms(3)),
        },
    }));
    let mut world = b.build().unwrap();
    assert_eq!(world.run(Limits::default()).stop, StopReason::Quiescent);
    // It crashed between reaching the point and sending Data(5): neither that send nor the
    // timer for Data(6) happened, and a restarted Recorder does not resume its plan.
    assert_eq!(payloads(&world, target), vec![0, 1, 2, 3, 4]);
    assert_eq!(world.stats().crashes, 1);
    assert_eq!(recorder(&world, sender).recoveries, 1);
    assert_eq!(
        world.last_heal(),
        Some(ms(8)),
        "restarted 3 ms after the crash at 5 ms"
    );
    let points: Vec<_> = world
        .trace()
        .entries()
        .iter()
        .filter(|e| e.kind == TraceKind::Point)
        .map(|e| (e.note, e.tx))
        .collect();
    assert_eq!(points.len(), 6, "points 0..=5 are in the full trace: {points:?}");
    assert_eq!(points[5], ("send", Some(5)));
}

#[test]
fn points_are_not_hashed_so_a_trace_hash_does_not_depend_on_them() {
    let hash = |with_fault: bool| {
        let mut b = builder(4, LinkSpec::reliable(100));
        b.add_actor("sender", Recorder::sending(ActorId(1), Duration::from_ms(1), 5))
            .unwrap();
        b.add_actor("target", Recorder::default()).unwrap();
        if with_fault {
            // Aimed at a point nobody reaches: it never goes off.
            b.fault(FaultSpec::AtPoint(PointFault {
                node: "target".into(),
                point: "send".into(),
                nth: 1,
                tx: None,
                effect: PointEffect::Crash { restart_after: None },
            }));
        }
        b.build().unwrap().run(Limits::default()).trace_hash
    };
    assert_eq!(hash(false), hash(true));
}

#[test]
fn a_partition_aimed_at_a_point_starts_before_the_handler_sends() {
    let mut b = builder(3, LinkSpec::reliable(50));
    b.add_actor("a", Recorder::sending(ActorId(1), Duration::from_ms(1), 30))
        .unwrap();
    let receiver = b.add_actor("b", Recorder::default()).unwrap();
    b.fault(FaultSpec::AtPoint(PointFault {
        node: "a".into(),
        point: "send".into(),
        nth: 11,
        tx: None,
        effect: PointEffect::OneWay {
            senders: vec!["a".into()],
            receivers: vec!["b".into()],
            lasts: Some(Duration::from_us(4_500)),
        },
    }));
    let mut world = b.build().unwrap();
    world.run(Limits::default());
    // The 11th visit is Data(10), sent at 10 ms; the cut lasts until 14.5 ms.
    let expected: Vec<u64> = (0..30).filter(|i| !(10..15).contains(i)).collect();
    assert_eq!(payloads(&world, receiver), expected);
    assert_eq!(world.stats().dropped(DropReason::Partition), 5);
}

#[test]
fn a_message_fault_drops_delays_or_duplicates_exactly_the_nth_match() {
    // Not FIFO, so the delayed message does not hold back the ones behind it.
    let mut b = builder(
        3,
        LinkSpec {
            fifo: false,
            ..LinkSpec::reliable(50)
        },
    );
    b.message_kind(test_msg_kind);
    b.add_actor("a", Recorder::sending(ActorId(1), Duration::from_ms(1), 10))
        .unwrap();
    let receiver = b.add_actor("b", Recorder::default()).unwrap();
    let aim = |nth, effect| {
        FaultSpec::OnMessage(MessageFault {
            from: "a".into(),
            to: "*".into(),
            kind: "Data".into(),
            nth,
            effect,
        })
    };
    b.fault(aim(3, MessageEffect::Drop));
    b.fault(aim(5, MessageEffect::Delay(Duration::from_ms(10))));
    b.fault(aim(7, MessageEffect::Duplicate));
    let mut world = b.build().unwrap();
    world.run(Limits::default());
    // Data(2) lost, Data(4) after everything else, Data(6) twice.
    assert_eq!(payloads(&world, receiver), vec![0, 1, 3, 5, 6, 6, 7, 8, 9, 4]);
    assert_eq!(world.stats().dropped(DropReason::Aimed), 1);
    assert_eq!(world.stats().duplicated, 1);
}

#[test]
fn a_message_fault_needs_a_world_that_names_its_messages() {
    let mut b = builder(3, LinkSpec::reliable(50));
    b.add_actor("a", Recorder::default()).unwrap();
    b.fault(FaultSpec::OnMessage(MessageFault {
        from: "a".into(),
        to: "a".into(),
        kind: "Data".into(),
        nth: 1,
        effect: MessageEffect::Drop,
    }));
    let error = b.build().err().expect("refused").to_string();
    assert!(error.contains("does not name its messages"), "{error}");
}

#[test]
fn heal_at_lifts_every_fault_and_disarms_what_is_aimed() {
    let mut b = builder(
        5,
        LinkSpec {
            loss: Probability::new("loss", 0.5).unwrap(),
            ..LinkSpec::reliable(50)
        },
    );
    b.add_actor("a", Recorder::sending(ActorId(1), Duration::from_ms(1), 40))
        .unwrap();
    let receiver = b.add_actor("b", Recorder::default()).unwrap();
    b.add_actor("c", Recorder::default()).unwrap();
    b.fault(FaultSpec::Partition {
        groups: vec![vec!["a".into()], vec!["b".into()]],
        from: ms(5),
        until: None,
    });
    b.fault(FaultSpec::Crash {
        node: "c".into(),
        at: ms(1),
        restart_at: None,
    });
    // Aimed at a visit that comes only after the heal: it never goes off.
    b.fault(FaultSpec::AtPoint(PointFault {
        node: "a".into(),
        point: "send".into(),
        nth: 30,
        tx: None,
        effect: PointEffect::Crash { restart_after: None },
    }));
    b.heal_at(ms(20));
    let mut world = b.build().unwrap();
    world.run(Limits::default());
    // From 20 ms on nothing is lost: no partition, no loss; `a` never crashes.
    let got = payloads(&world, receiver);
    assert!((20..40).all(|i| got.contains(&i)), "{got:?}");
    assert!(
        !(5..20).any(|i| got.contains(&i)),
        "partitioned before the heal: {got:?}"
    );
    assert_eq!(world.stats().crashes, 1);
    assert_eq!(world.stats().restarts, 1, "c restarted at the heal");
    assert!(world.is_up(ActorId(2)));
    assert_eq!(world.last_heal(), Some(ms(20)));
}

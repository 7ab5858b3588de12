//! Small actors for kernel tests, each doing one thing the tests can observe; and the runs of
//! bundled scenarios the system tests share.

use consim::sim::{ActorId, Duration};
use consim::world::{Actor, Ctx};
use rand::Rng as _;

/// Messages of the test actors.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum TestMsg {
    Tick,
    Data(u64),
}

/// Names test messages for faults aimed at a kind of message.
pub fn test_msg_kind(msg: &TestMsg) -> &'static str {
    match msg {
        TestMsg::Tick => "Tick",
        TestMsg::Data(_) => "Data",
    }
}

/// Records everything that happens to it, split into volatile and durable state.
#[derive(Debug, Default)]
pub struct Recorder {
    /// (time, src, payload) of every delivered message; durable.
    pub received: Vec<(u64, ActorId, u64)>,
    /// Timer firings (time); durable, so the test can see what fired after a crash.
    pub timer_fired_at: Vec<u64>,
    /// Volatile: forgotten by a crash.
    pub volatile_count: u64,
    /// How many times it recovered.
    pub recoveries: u32,
    /// The first draws from its own stream, taken at start.
    pub first_draws: Vec<u64>,
    /// Extra draws taken at start (to test that they do not shift other streams).
    pub extra_draws: usize,
    /// A timer to set at start.
    pub timer_at_start: Option<Duration>,
    /// Send `Data(i)` to `dst` every `every` until `count` messages were sent.
    pub sends: Option<Sends>,
}

/// A periodic sending plan.
#[derive(Clone, Copy, Debug)]
pub struct Sends {
    pub dst: ActorId,
    pub every: Duration,
    pub count: u64,
}

impl Recorder {
    pub fn sending(dst: ActorId, every: Duration, count: u64) -> Self {
        Recorder {
            sends: Some(Sends { dst, every, count }),
            ..Recorder::default()
        }
    }
}

impl Actor<TestMsg> for Recorder {
    fn retained_bytes(&self) -> usize {
        consim::world::footprint::vec_bytes::<(u64, ActorId, u64)>(self.received.len())
    }

    fn on_start(&mut self, ctx: &mut Ctx<'_, TestMsg>) {
        for _ in 0..self.extra_draws {
            ctx.rng().next_u64();
        }
        self.first_draws = (0..4).map(|_| ctx.rng().next_u64()).collect();
        if let Some(after) = self.timer_at_start {
            ctx.set_timer(after, TestMsg::Tick);
        }
        if self.sends.is_some() {
            ctx.set_timer(Duration::ZERO, TestMsg::Data(0));
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, TestMsg>, src: ActorId, msg: TestMsg) {
        self.volatile_count += 1;
        if let TestMsg::Data(i) = msg {
            self.received.push((ctx.now().as_us(), src, i));
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, TestMsg>, msg: TestMsg) {
        match msg {
            TestMsg::Tick => self.timer_fired_at.push(ctx.now().as_us()),
            TestMsg::Data(i) => {
                let plan = self.sends.expect("only senders set data timers");
                // Where faults aimed at "send" go off: before the send.
                ctx.point("send", Some(i));
                ctx.send(plan.dst, TestMsg::Data(i));
                if i + 1 < plan.count {
                    ctx.set_timer(plan.every, TestMsg::Data(i + 1));
                }
            }
        }
    }

    fn on_crash(&mut self, _now: consim::sim::Instant) {
        self.volatile_count = 0;
    }

    fn on_recover(&mut self, _ctx: &mut Ctx<'_, TestMsg>) {
        self.recoveries += 1;
    }
}

/// Answers every message with `fan_out` messages back to its sender: with 1 it ping-pongs
/// forever, with 2 it multiplies messages without bound.
#[derive(Debug)]
pub struct Echo {
    pub fan_out: u32,
    pub kick_off: Option<ActorId>,
}

impl Actor<TestMsg> for Echo {
    fn on_start(&mut self, ctx: &mut Ctx<'_, TestMsg>) {
        if let Some(dst) = self.kick_off {
            ctx.send(dst, TestMsg::Data(0));
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, TestMsg>, src: ActorId, msg: TestMsg) {
        for _ in 0..self.fan_out {
            ctx.send(src, msg.clone());
        }
    }

    fn on_crash(&mut self, _now: consim::sim::Instant) {}
}

/// The report of `scenario` run on `seed`, untraced.
pub fn report(scenario: &consim::scenario::Scenario, seed: u64) -> consim::report::RunReport {
    consim::runner::run(scenario, seed, consim::sim::TraceLevel::Off).report
}

/// The checks a report says did not hold.
pub fn failed_checks(report: &consim::report::RunReport) -> Vec<&'static str> {
    report
        .checks
        .iter()
        .filter(|v| !v.holds())
        .map(|v| v.check.name())
        .collect()
}

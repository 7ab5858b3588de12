//! Swarm testing: each seed draws its own fault mix, VOPR style.
//!
//! A fixed fault schedule tests one corner; every seed of a swarm sweep draws which kinds of
//! fault are on (loss, duplication, partitions, one-way cuts, crashes, clock drift, crashes
//! aimed at protocol points, faults aimed at messages), their rates and their timing, within
//! the scenario's `swarm` bounds. Every fault happens before the horizon, which becomes the
//! run's `heal_at`: after it the system must also finish its work, so a swarm seed tests
//! safety under the faults and liveness after them.
//!
//! The draw is made of the file's own forms (`raw::Fault`), from the seed's `Faults` stream,
//! and the swarmed scenario is the file rewritten and loaded again: so a failing seed's draw
//! can be written out as a plain scenario file that fails the same way, and it is checked
//! like any file a user writes.

use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use crate::duration_text::HumanDuration;
use crate::scenario::raw::{self, Fault, to_ron};
use crate::scenario::{Scenario, ScenarioError, load_source};
use crate::sim::{Duration, Purpose, Rng, SeedTree};

/// The shortest horizon drawn faults spread over.
const MIN_HORIZON: Duration = Duration::from_ms(100);

/// What one seed drew, as the sweep's JSON lines record it under `swarm`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwarmDraw {
    /// Loss on every link.
    pub loss: f64,
    /// Duplication on every link.
    pub duplicate: f64,
    /// When every fault is lifted, µs.
    pub heal_at_us: u64,
    /// The faults, each as a scenario file writes it.
    pub faults: Vec<String>,
}

/// A seed's swarmed scenario: the run, what was drawn, and the file that replays it.
pub struct Swarmed {
    /// The scenario to run.
    pub scenario: Scenario,
    /// What the seed drew.
    pub draw: SwarmDraw,
    /// A plain scenario file (no `swarm` section) that runs exactly this.
    pub text: String,
}

/// The scenario `scenario` becomes under `seed` in a swarm sweep: its own faults, loss and
/// duplication replaced by the seed's draw, `heal_at` at the horizon, the seed pinned.
pub fn swarmed(scenario: &Scenario, seed: u64) -> Result<Swarmed, ScenarioError> {
    let bounds = scenario.raw.swarm.clone().unwrap_or_default();
    let horizon = bounds.horizon.map_or_else(
        || {
            let expected = scenario
                .raw
                .workload
                .as_ref()
                .map_or(Duration::ZERO, crate::scenario::expected_duration);
            Duration::from_us(expected.as_us().max(MIN_HORIZON.as_us()))
        },
        |h| h.0,
    );
    let mut rng = SeedTree::new(seed).stream(Purpose::Faults);
    let (loss, duplicate, faults) = draw(&mut rng, &bounds, horizon, scenario);
    let mut raw = scenario.raw.clone();
    raw.seed = seed;
    raw.swarm = None;
    raw.network.default.loss = loss;
    raw.network.default.duplicate = duplicate;
    raw.faults = faults;
    raw.heal_at = Some(HumanDuration(horizon));
    let text = format!(
        "// Swarm seed {seed} of {}: its drawn faults, as a plain scenario.\n{}",
        scenario.path.display(),
        to_ron(&raw)
    );
    let swarmed = load_source(&scenario.path, &text)?;
    let draw = SwarmDraw {
        loss,
        duplicate,
        heal_at_us: horizon.as_us(),
        faults: raw.faults.iter().map(one_line).collect(),
    };
    Ok(Swarmed {
        scenario: swarmed,
        draw,
        text,
    })
}

/// A fault as one line of RON, as a file writes it (`until: "2s"`, not `Some("2s")`).
fn one_line(fault: &Fault) -> String {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME)
        .to_string(fault)
        .expect("a fault serialises")
}

/// Draws the rates and faults: each kind is on with probability one half (one-way cuts and
/// drift a quarter), and then drawn within the bounds and before `horizon`.
fn draw(
    rng: &mut Rng,
    bounds: &raw::Swarm,
    horizon: Duration,
    scenario: &Scenario,
) -> (f64, f64, Vec<Fault>) {
    let h = horizon.as_us().max(100);
    let on = |rng: &mut Rng, per_four: u32| rng.random_range(0..4u32) < per_four;
    let rate =
        |rng: &mut Rng, max: f64| (rng.random_range(0..=1000u32) as f64 / 1000.0 * max * 1e4).round() / 1e4;
    let loss = if on(rng, 2) {
        rate(rng, bounds.max_loss)
    } else {
        0.0
    };
    let duplicate = if on(rng, 2) {
        rate(rng, bounds.max_duplicate)
    } else {
        0.0
    };
    // Faults strike the system's actors, never the client or the gateway (whose records are
    // how the run is judged).
    let targets: Vec<(&String, &Vec<&'static str>)> = scenario
        .targets
        .points()
        .iter()
        .filter(|(name, _)| name.as_str() != "client" && name.as_str() != "gateway")
        .collect();
    let mut faults = Vec::new();
    if targets.is_empty() {
        return (loss, duplicate, faults);
    }
    let at = |rng: &mut Rng, from: u64, to: u64| {
        HumanDuration(Duration::from_us(rng.random_range(h * from / 100..h * to / 100)))
    };
    let pick = |rng: &mut Rng| targets[rng.random_range(0..targets.len())].0.clone();
    let window = |rng: &mut Rng| {
        let from = at(rng, 0, 80);
        let length = rng.random_range(h / 100..=h / 4).max(1);
        let until = Duration::from_us((from.0.as_us() + length).min(h - 1))
            .max(Duration::from_us(from.0.as_us() + 1));
        (from, HumanDuration(until))
    };
    if bounds.partitions && on(rng, 2) {
        let (from, until) = window(rng);
        faults.push(Fault::Partition {
            groups: vec![
                vec![pick(rng)],
                vec![crate::net::fault::EVERYONE_ELSE.to_string()],
            ],
            from,
            until: Some(until),
        });
    }
    if bounds.partitions && on(rng, 1) {
        let (from, until) = window(rng);
        faults.push(Fault::OneWay {
            senders: vec![pick(rng)],
            receivers: vec![crate::net::fault::EVERYONE_ELSE.to_string()],
            from,
            until: Some(until),
        });
    }
    let crashes = if on(rng, 2) {
        rng.random_range(1..=bounds.max_crashes.max(1))
    } else {
        0
    };
    let mut crashed: Vec<String> = Vec::new();
    for _ in 0..crashes.min(bounds.max_crashes) {
        let node = pick(rng);
        let (at, restart) = window(rng);
        if crashed.contains(&node) {
            continue; // One crash window per actor: windows may not overlap.
        }
        crashed.push(node.clone());
        faults.push(Fault::Crash {
            node,
            at,
            restart: Some(restart),
        });
    }
    if on(rng, 1) {
        let ppm = rng.random_range(-50_000..=50_000i64);
        faults.push(Fault::ClockDrift {
            node: pick(rng),
            at: at(rng, 0, 80),
            ppm,
        });
    }
    if bounds.aimed {
        aimed(rng, bounds, h, &targets, scenario.targets.kinds(), &mut faults);
    }
    (loss, duplicate, faults)
}

/// Crashes aimed at points of actors that reach some, and faults aimed at messages.
fn aimed(
    rng: &mut Rng,
    bounds: &raw::Swarm,
    h: u64,
    targets: &[(&String, &Vec<&'static str>)],
    kinds: &[&'static str],
    faults: &mut Vec<Fault>,
) {
    let with_points: Vec<_> = targets.iter().filter(|(_, points)| !points.is_empty()).collect();
    if !with_points.is_empty() && rng.random_range(0..2u32) == 0 {
        for _ in 0..rng.random_range(1..=bounds.max_crashes.max(1)) {
            let (node, points) = with_points[rng.random_range(0..with_points.len())];
            let point = points[rng.random_range(0..points.len())];
            let restart = Duration::from_us(rng.random_range(h / 100..=h / 5).max(1));
            faults.push(Fault::CrashAt {
                node: (*node).clone(),
                point: point.to_string(),
                nth: rng.random_range(1..=5),
                tx: None,
                restart_after: Some(HumanDuration(restart)),
            });
        }
    }
    if !kinds.is_empty() && rng.random_range(0..2u32) == 0 {
        for _ in 0..rng.random_range(1..=3u32) {
            let effect = match rng.random_range(0..3u32) {
                0 => raw::MessageEffect::Drop,
                1 => raw::MessageEffect::Duplicate,
                _ => raw::MessageEffect::Delay(HumanDuration(Duration::from_us(
                    rng.random_range(1_000..=50_000),
                ))),
            };
            faults.push(Fault::OnMessage {
                from: crate::net::aim::ANY_NODE.to_string(),
                to: crate::net::aim::ANY_NODE.to_string(),
                kind: kinds[rng.random_range(0..kinds.len())].to_string(),
                nth: rng.random_range(1..=20),
                effect,
            });
        }
    }
}

//! Scheduled faults: partitions, links going down, crashes with restarts, clock drift.
//!
//! A [`FaultSpec`] names nodes as the user wrote them. [`FaultPlan::compile`] checks them
//! against the topology and turns them into timed [`FaultAction`]s that the world schedules
//! as ordinary events before the run starts, so faults interleave with messages in the one
//! `(time, seq)` order and a fault plan is printed and replayed like anything else.

use std::collections::BTreeMap;

use super::aim::{ANY_NODE, AimedEffect, AimedMessage, AimedPoint, MessageFault, PointEffect, PointFault};
use super::error::ConfigError;
use super::topology::Topology;
use crate::sim::{ActorId, Instant};

/// In a partition group, stands for every node not named in another group.
pub const EVERYONE_ELSE: &str = "*";

/// A fault as the user describes it, by node names.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultSpec {
    /// Nodes in different groups cannot reach each other from `from` until `until` (forever
    /// when `None`). Nodes in no group are unaffected; a group `["*"]` holds every node not
    /// named in another group.
    Partition {
        /// At least two disjoint, non-empty groups.
        groups: Vec<Vec<String>>,
        /// Start.
        from: Instant,
        /// Heal time.
        until: Option<Instant>,
    },
    /// Messages from `senders` to `receivers` are lost from `from` until `until`; the other
    /// direction still works (an asymmetric partition: a node that hears but is not heard, or
    /// one link cut one way). `["*"]` on either side means every node not on the other.
    OneWay {
        /// Whose messages are lost.
        senders: Vec<String>,
        /// Who does not get them.
        receivers: Vec<String>,
        /// Start.
        from: Instant,
        /// Heal time.
        until: Option<Instant>,
    },
    /// The link between `a` and `b` is down in both directions.
    LinkDown {
        /// One end.
        a: String,
        /// The other end.
        b: String,
        /// Start.
        from: Instant,
        /// Back up at (never when `None`).
        until: Option<Instant>,
    },
    /// `node` crashes at `at`, losing volatile state and timers, and restarts at `restart_at`.
    Crash {
        /// Who crashes.
        node: String,
        /// When.
        at: Instant,
        /// When it comes back (stays down when `None`).
        restart_at: Option<Instant>,
    },
    /// From `at`, `node`'s clock runs `drift_ppm` parts per million fast (positive) or slow
    /// (negative), so its timers fire early or late in real (virtual) time. Within
    /// (-1,000,000, 1,000,000].
    ClockDrift {
        /// Whose clock.
        node: String,
        /// From when.
        at: Instant,
        /// Parts per million; must be above -1,000,000 (a clock cannot stop or go back).
        drift_ppm: i64,
    },
    /// A fault set off when a node reaches a protocol point (see `aim.rs`).
    AtPoint(PointFault),
    /// A fault that hits the nth message of a kind between two nodes (see `aim.rs`).
    OnMessage(MessageFault),
}

/// What happens when a scheduled fault event fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Cut number `cut` (an index into [`FaultPlan::cuts`]) starts.
    CutStart(u32),
    /// Cut number `cut` heals.
    CutEnd(u32),
    /// A node crashes.
    Crash(ActorId),
    /// A crashed node restarts.
    Restart(ActorId),
    /// A node's clock drift changes.
    Drift(ActorId, i64),
    /// Every fault is lifted (`heal_at`): cuts end, crashed nodes restart, clocks keep time,
    /// links stop losing and duplicating, and aimed faults that have not gone off never will.
    HealAll,
}

impl FaultAction {
    /// The word a trace prints for it.
    pub fn note(self, plan: &FaultPlan) -> &'static str {
        match self {
            FaultAction::CutStart(c) => match plan.cuts[c as usize].kind {
                CutKind::Partition => "partition",
                CutKind::LinkDown => "link-down",
            },
            FaultAction::CutEnd(c) => match plan.cuts[c as usize].kind {
                CutKind::Partition => "heal",
                CutKind::LinkDown => "link-up",
            },
            FaultAction::Crash(_) => "crash",
            FaultAction::Restart(_) => "restart",
            FaultAction::Drift(..) => "clock-drift",
            FaultAction::HealAll => "heal-all",
        }
    }
}

/// Whether a cut is a partition or a single link going down (drops are counted apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutKind {
    /// Between groups of nodes.
    Partition,
    /// One link, both directions.
    LinkDown,
}

/// A set of directed node pairs that cannot talk while the cut is active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    /// Partition or link.
    pub kind: CutKind,
    /// Every blocked `(src, dst)` pair.
    pub pairs: Vec<(ActorId, ActorId)>,
}

/// The checked fault schedule of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultPlan {
    /// Fault events, sorted by time (stable, so same-time faults keep their written order).
    pub events: Vec<(Instant, FaultAction)>,
    /// The cuts that `CutStart`/`CutEnd` and aimed partitions refer to.
    pub cuts: Vec<Cut>,
    /// Faults waiting for a node to reach a point.
    pub points: Vec<AimedPoint>,
    /// Faults waiting for a message.
    pub messages: Vec<AimedMessage>,
}

impl FaultPlan {
    /// Checks `specs` against `topology` and schedules them.
    pub fn compile(specs: &[FaultSpec], topology: &Topology) -> Result<FaultPlan, ConfigError> {
        let mut plan = FaultPlan::default();
        let mut down_windows: BTreeMap<ActorId, Vec<(Instant, Option<Instant>)>> = BTreeMap::new();
        for (index, spec) in specs.iter().enumerate() {
            plan.add(index, spec, topology, &mut down_windows)?;
        }
        check_crashes_do_not_overlap(&down_windows, topology)?;
        // Stable: same-time faults keep the order they were written in.
        plan.events.sort_by_key(|(at, _)| *at);
        Ok(plan)
    }

    /// Checks one fault on its own, numbered `index` (0-based) in messages, so a loader can
    /// report every bad fault rather than the first.
    pub fn check_fault(index: usize, spec: &FaultSpec, topology: &Topology) -> Result<(), ConfigError> {
        FaultPlan::default().add(index, spec, topology, &mut BTreeMap::new())
    }

    fn add(
        &mut self,
        index: usize,
        spec: &FaultSpec,
        topology: &Topology,
        down_windows: &mut BTreeMap<ActorId, Vec<(Instant, Option<Instant>)>>,
    ) -> Result<(), ConfigError> {
        let what = format!("fault #{} ({})", index + 1, spec.kind_name());
        match spec {
            FaultSpec::Partition { groups, from, until } => {
                check_window(&what, *from, *until)?;
                let pairs = partition_pairs(&what, groups, topology)?;
                self.add_cut(CutKind::Partition, pairs, *from, *until);
            }
            FaultSpec::OneWay {
                senders,
                receivers,
                from,
                until,
            } => {
                check_window(&what, *from, *until)?;
                let pairs = one_way_pairs(&what, senders, receivers, topology)?;
                self.add_cut(CutKind::Partition, pairs, *from, *until);
            }
            FaultSpec::LinkDown { a, b, from, until } => {
                check_window(&what, *from, *until)?;
                let (a, b) = (topology.resolve(a)?, topology.resolve(b)?);
                if a == b {
                    return Err(bad(&what, "a link needs two different nodes"));
                }
                self.add_cut(CutKind::LinkDown, vec![(a, b), (b, a)], *from, *until);
            }
            FaultSpec::Crash { node, at, restart_at } => {
                let id = topology.resolve(node)?;
                if let Some(restart) = restart_at {
                    if restart <= at {
                        return Err(bad(
                            &what,
                            &format!("`{node}` restarts at {restart}, which is not after its crash at {at}"),
                        ));
                    }
                    self.events.push((*restart, FaultAction::Restart(id)));
                }
                self.events.push((*at, FaultAction::Crash(id)));
                down_windows.entry(id).or_default().push((*at, *restart_at));
            }
            FaultSpec::ClockDrift { node, at, drift_ppm } => {
                let id = topology.resolve(node)?;
                if *drift_ppm <= -1_000_000 {
                    return Err(bad(
                        &what,
                        &format!(
                            "drift {drift_ppm} ppm would stop or reverse the clock; use a value above -1000000"
                        ),
                    ));
                }
                if *drift_ppm > 1_000_000 {
                    return Err(bad(
                        &what,
                        &format!(
                            "drift {drift_ppm} ppm is more than a clock running twice as fast; use at most 1000000"
                        ),
                    ));
                }
                self.events.push((*at, FaultAction::Drift(id, *drift_ppm)));
            }
            FaultSpec::AtPoint(fault) => self.add_point(&what, fault, topology)?,
            FaultSpec::OnMessage(fault) => {
                check_nth(&what, fault.nth)?;
                let node = |name: &str| match name {
                    ANY_NODE => Ok(None),
                    name => topology.resolve(name).map(Some),
                };
                let (src, dst) = (node(&fault.from)?, node(&fault.to)?);
                self.messages.push(AimedMessage::new(
                    src,
                    dst,
                    fault.kind.clone(),
                    fault.nth,
                    fault.effect,
                ));
            }
        }
        Ok(())
    }

    /// A point fault: its node resolved and, for a partition, its cut compiled but not
    /// scheduled (the point starts it).
    fn add_point(&mut self, what: &str, fault: &PointFault, topology: &Topology) -> Result<(), ConfigError> {
        check_nth(what, fault.nth)?;
        let actor = topology.resolve(&fault.node)?;
        let mut cut = |kind, pairs, lasts| {
            self.cuts.push(Cut { kind, pairs });
            AimedEffect::Cut {
                cut: self.cuts.len() as u32 - 1,
                lasts,
            }
        };
        let effect = match &fault.effect {
            PointEffect::Crash { restart_after } => AimedEffect::Crash {
                restart_after: *restart_after,
            },
            PointEffect::Partition { groups, lasts } => cut(
                CutKind::Partition,
                partition_pairs(what, groups, topology)?,
                *lasts,
            ),
            PointEffect::OneWay {
                senders,
                receivers,
                lasts,
            } => cut(
                CutKind::Partition,
                one_way_pairs(what, senders, receivers, topology)?,
                *lasts,
            ),
        };
        if let AimedEffect::Crash {
            restart_after: Some(d),
        }
        | AimedEffect::Cut { lasts: Some(d), .. } = effect
            && d.as_us() == 0
        {
            return Err(bad(
                what,
                "a fault that lasts 0 does nothing; give it a duration above 0",
            ));
        }
        self.points.push(AimedPoint::new(
            actor,
            fault.point.clone(),
            fault.nth,
            fault.tx,
            effect,
        ));
        Ok(())
    }

    fn add_cut(
        &mut self,
        kind: CutKind,
        pairs: Vec<(ActorId, ActorId)>,
        from: Instant,
        until: Option<Instant>,
    ) {
        let cut = self.cuts.len() as u32;
        self.cuts.push(Cut { kind, pairs });
        self.events.push((from, FaultAction::CutStart(cut)));
        if let Some(until) = until {
            self.events.push((until, FaultAction::CutEnd(cut)));
        }
    }
}

impl FaultSpec {
    fn kind_name(&self) -> &'static str {
        match self {
            FaultSpec::Partition { .. } => "partition",
            FaultSpec::OneWay { .. } => "one-way cut",
            FaultSpec::LinkDown { .. } => "link down",
            FaultSpec::Crash { .. } => "crash",
            FaultSpec::ClockDrift { .. } => "clock drift",
            FaultSpec::AtPoint(_) => "fault at a point",
            FaultSpec::OnMessage(_) => "fault on a message",
        }
    }
}

fn bad(what: &str, problem: &str) -> ConfigError {
    ConfigError::BadFault {
        what: what.to_string(),
        problem: problem.to_string(),
    }
}

fn check_nth(what: &str, nth: u32) -> Result<(), ConfigError> {
    if nth == 0 {
        return Err(bad(what, "`nth` counts from 1 (the first time)"));
    }
    Ok(())
}

fn check_window(what: &str, from: Instant, until: Option<Instant>) -> Result<(), ConfigError> {
    match until {
        Some(until) if until <= from => Err(ConfigError::EmptyWindow {
            what: what.to_string(),
            from,
            until,
        }),
        _ => Ok(()),
    }
}

/// The directed pairs a one-way cut drops: every sender to every receiver. The two sides
/// are checked like a partition's two groups (disjoint, not empty, at most one `"*"`).
fn one_way_pairs(
    what: &str,
    senders: &[String],
    receivers: &[String],
    topology: &Topology,
) -> Result<Vec<(ActorId, ActorId)>, ConfigError> {
    let both_ways = partition_pairs(what, &[senders.to_vec(), receivers.to_vec()], topology)?;
    let named: Vec<ActorId> = receivers
        .iter()
        .filter(|name| *name != EVERYONE_ELSE)
        .map(|name| topology.resolve(name))
        .collect::<Result<_, _>>()?;
    let receivers_are_the_rest = receivers.iter().any(|name| name == EVERYONE_ELSE);
    let sends = |id: ActorId| {
        if receivers_are_the_rest {
            senders.iter().any(|name| topology.resolve(name) == Ok(id))
        } else {
            !named.contains(&id)
        }
    };
    Ok(both_ways.into_iter().filter(|&(src, _)| sends(src)).collect())
}

fn partition_pairs(
    what: &str,
    groups: &[Vec<String>],
    topology: &Topology,
) -> Result<Vec<(ActorId, ActorId)>, ConfigError> {
    if groups.len() < 2 {
        return Err(bad(what, "a partition needs at least two groups"));
    }
    let mut group_of: BTreeMap<ActorId, usize> = BTreeMap::new();
    let mut rest_group = None;
    for (g, group) in groups.iter().enumerate() {
        if group.is_empty() {
            return Err(bad(what, &format!("group {} is empty", g + 1)));
        }
        for name in group {
            if name == EVERYONE_ELSE {
                if rest_group.replace(g).is_some() {
                    return Err(bad(what, "only one group can be \"*\" (everyone else)"));
                }
                continue;
            }
            let id = topology.resolve(name)?;
            if group_of.insert(id, g).is_some() {
                return Err(bad(what, &format!("`{name}` is in more than one group")));
            }
        }
    }
    if let Some(g) = rest_group {
        for index in 0..topology.node_count() {
            group_of.entry(ActorId(index as u32)).or_insert(g);
        }
    }
    let mut pairs = Vec::new();
    for (&a, &ga) in &group_of {
        for (&b, &gb) in &group_of {
            if ga != gb {
                pairs.push((a, b));
            }
        }
    }
    Ok(pairs)
}

fn check_crashes_do_not_overlap(
    windows: &BTreeMap<ActorId, Vec<(Instant, Option<Instant>)>>,
    topology: &Topology,
) -> Result<(), ConfigError> {
    let names = topology.names();
    for (id, list) in windows {
        let mut list = list.clone();
        list.sort_by_key(|(at, _)| *at);
        for pair in list.windows(2) {
            let (at, restart) = pair[0];
            let (next_at, _) = pair[1];
            if restart.is_none_or(|r| next_at <= r) {
                let until = restart.map_or("never restarts".to_string(), |r| format!("restarts at {r}"));
                return Err(bad(
                    "crash faults",
                    &format!(
                        "`{}` crashes again at {next_at} while still down (crashed at {at}, {until})",
                        names[id.index()]
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        let mut t = Topology::new(None);
        for name in ["order", "payment", "delivery"] {
            t.add_node(name).unwrap();
        }
        t
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn error_of(spec: FaultSpec) -> String {
        FaultPlan::compile(&[spec], &topology()).unwrap_err().to_string()
    }

    #[test]
    fn a_one_way_cut_drops_only_what_its_senders_send() {
        let top = topology(); // order, payment, delivery
        let (order, payment, delivery) = (ActorId(0), ActorId(1), ActorId(2));
        let one_way = |senders: &[&str], receivers: &[&str]| {
            let spec = FaultSpec::OneWay {
                senders: senders.iter().map(|s| s.to_string()).collect(),
                receivers: receivers.iter().map(|s| s.to_string()).collect(),
                from: Instant::from_ms(1),
                until: Some(Instant::from_ms(2)),
            };
            let plan = FaultPlan::compile(&[spec], &top).unwrap();
            let mut pairs = plan.cuts[0].pairs.clone();
            pairs.sort();
            pairs
        };
        // Payment is not heard, but hears everyone.
        assert_eq!(
            one_way(&["payment"], &["*"]),
            [(payment, order), (payment, delivery)]
        );
        // Nobody reaches payment; payment's own messages get through.
        assert_eq!(
            one_way(&["*"], &["payment"]),
            [(order, payment), (delivery, payment)]
        );
        // One link, one way.
        assert_eq!(one_way(&["order"], &["delivery"]), [(order, delivery)]);
        let spec = FaultSpec::OneWay {
            senders: vec!["order".into()],
            receivers: vec!["order".into()],
            from: Instant::from_ms(1),
            until: None,
        };
        let err = FaultPlan::compile(&[spec], &top).unwrap_err().to_string();
        assert!(err.contains("more than one group"), "{err}");
    }

    #[test]
    fn unknown_node_is_named_with_a_suggestion() {
        let err = error_of(FaultSpec::Crash {
            node: "paymnt".into(),
            at: Instant::from_ms(1),
            restart_at: None,
        });
        assert_eq!(
            err,
            "unknown node `paymnt` (did you mean `payment`?); known nodes: delivery, order, payment"
        );
    }

    #[test]
    fn restart_before_crash_is_rejected() {
        let err = error_of(FaultSpec::Crash {
            node: "order".into(),
            at: Instant::from_ms(10),
            restart_at: Some(Instant::from_ms(5)),
        });
        assert!(
            err.contains("restarts at 5ms, which is not after its crash at 10ms"),
            "{err}"
        );
    }

    #[test]
    fn overlapping_crashes_and_bad_partitions_are_rejected() {
        let crash = |at, restart: Option<u64>| FaultSpec::Crash {
            node: "order".into(),
            at: Instant::from_ms(at),
            restart_at: restart.map(Instant::from_ms),
        };
        let err = FaultPlan::compile(&[crash(10, Some(30)), crash(20, None)], &topology())
            .unwrap_err()
            .to_string();
        assert!(err.contains("crashes again at 20ms while still down"), "{err}");
        // Crashing at the very instant of the restart is ambiguous (which comes first?).
        let err = FaultPlan::compile(&[crash(10, Some(20)), crash(20, Some(30))], &topology())
            .unwrap_err()
            .to_string();
        assert!(err.contains("crashes again at 20ms while still down"), "{err}");
        let drift = |ppm| FaultSpec::ClockDrift {
            node: "order".into(),
            at: Instant::ZERO,
            drift_ppm: ppm,
        };
        assert!(error_of(drift(2_000_000)).contains("twice as fast"));
        assert!(error_of(drift(-1_000_000)).contains("stop or reverse"));
        let partition = |groups: Vec<Vec<String>>, until| FaultSpec::Partition {
            groups,
            from: Instant::from_ms(5),
            until: Some(Instant::from_ms(until)),
        };
        assert!(error_of(partition(vec![names(&["order"])], 9)).contains("at least two groups"));
        assert!(
            error_of(partition(vec![names(&["order"]), names(&["order"])], 9))
                .contains("more than one group")
        );
        assert!(
            error_of(partition(vec![names(&["order"]), names(&["payment"])], 5))
                .contains("not after its start")
        );
    }

    #[test]
    fn a_star_group_holds_everyone_not_named_elsewhere() {
        let spec = FaultSpec::Partition {
            groups: vec![names(&["payment"]), names(&["*"])],
            from: Instant::from_ms(5),
            until: None,
        };
        let plan = FaultPlan::compile(&[spec], &topology()).unwrap();
        let (o, p, d) = (ActorId(0), ActorId(1), ActorId(2));
        let mut pairs = plan.cuts[0].pairs.clone();
        pairs.sort();
        assert_eq!(pairs, vec![(o, p), (p, o), (p, d), (d, p)]);
    }

    #[test]
    fn a_partition_blocks_exactly_the_pairs_across_groups() {
        let spec = FaultSpec::Partition {
            groups: vec![names(&["order"]), names(&["payment", "delivery"])],
            from: Instant::from_ms(5),
            until: Some(Instant::from_ms(9)),
        };
        let plan = FaultPlan::compile(&[spec], &topology()).unwrap();
        let (o, p, d) = (ActorId(0), ActorId(1), ActorId(2));
        let mut pairs = plan.cuts[0].pairs.clone();
        pairs.sort();
        assert_eq!(pairs, vec![(o, p), (o, d), (p, o), (d, o)]);
        assert_eq!(
            plan.events,
            vec![
                (Instant::from_ms(5), FaultAction::CutStart(0)),
                (Instant::from_ms(9), FaultAction::CutEnd(0))
            ]
        );
    }
}

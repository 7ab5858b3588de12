//! The compiled network: one decision per message.
//!
//! Every message sent in a run passes [`Network::decide`], and nothing else delays, drops or
//! duplicates a message. The topology is flattened into a dense `src × dst` table of link
//! indexes and a table of active cuts, so a decision is two array reads plus the draws the
//! link needs.
//!
//! Draw order per message (from the sender's network stream): loss (skipped when the link
//! never loses), latency, duplication (skipped when the link never duplicates), and the
//! duplicate's own latency. Partitions and down links are decided at send time, without a draw,
//! and so is a drop by an aimed message fault; an aimed delay or duplicate keeps the draws.

use super::aim::{AimedMessage, MessageEffect};
use super::fault::{Cut, CutKind};
use super::link::LinkSpec;
use super::topology::Topology;
use crate::sim::{ActorId, Duration, Instant, Rng};

/// Why a message was not delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    /// Random loss on the link.
    Loss,
    /// Sender and receiver were on different sides of a partition.
    Partition,
    /// The link between them was down.
    LinkDown,
    /// No link and no default link between them.
    NoRoute,
    /// The receiver was crashed when the message arrived.
    Crashed,
    /// An aimed message fault dropped it.
    Aimed,
}

impl DropReason {
    /// Every reason, in report order.
    pub const ALL: [DropReason; 6] = [
        DropReason::Loss,
        DropReason::Partition,
        DropReason::LinkDown,
        DropReason::NoRoute,
        DropReason::Crashed,
        DropReason::Aimed,
    ];

    /// The word traces and reports print.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Loss => "loss",
            DropReason::Partition => "partition",
            DropReason::LinkDown => "link-down",
            DropReason::NoRoute => "no-route",
            DropReason::Crashed => "crashed",
            DropReason::Aimed => "aimed",
        }
    }
}

/// The network's decision about one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver at `at`, and a second copy at `duplicate_at` if duplicated.
    Deliver {
        /// Arrival of the message.
        at: Instant,
        /// Arrival of the duplicate, if any.
        duplicate_at: Option<Instant>,
    },
    /// Lost.
    Drop(DropReason),
}

const NO_ROUTE: u32 = u32::MAX;

/// Per-pair state: which link, when the last FIFO message arrives, and active cuts.
#[derive(Clone, Copy, Debug, Default)]
struct Pair {
    link: u32,
    partition_cuts: u16,
    link_cuts: u16,
    last_arrival: Instant,
}

/// The network as the run loop uses it.
#[derive(Clone, Debug)]
pub struct Network {
    node_count: usize,
    links: Vec<LinkSpec>,
    pairs: Vec<Pair>,
    aimed: Vec<AimedMessage>,
}

impl Network {
    /// Flattens a (validated) topology.
    pub fn new(topology: &Topology) -> Self {
        let n = topology.node_count();
        let mut links: Vec<LinkSpec> = Vec::new();
        let mut pairs = vec![Pair::default(); n * n];
        for src in 0..n {
            for dst in 0..n {
                let (s, d) = (ActorId(src as u32), ActorId(dst as u32));
                pairs[src * n + dst].link = match topology.link(s, d) {
                    Some(spec) => match links.iter().position(|l| l == spec) {
                        Some(i) => i as u32,
                        None => {
                            links.push(*spec);
                            links.len() as u32 - 1
                        }
                    },
                    None => NO_ROUTE,
                };
            }
        }
        Network {
            node_count: n,
            links,
            pairs,
            aimed: Vec::new(),
        }
    }

    /// Decides the fate of a message sent now from `src` to `dst`, drawing from `rng` (the
    /// sender's network stream). Inlined into the world's one send path: it runs once per
    /// message.
    #[inline(always)]
    pub fn decide(&mut self, src: ActorId, dst: ActorId, now: Instant, rng: &mut Rng) -> Verdict {
        let pair = &mut self.pairs[src.index() * self.node_count + dst.index()];
        if pair.link == NO_ROUTE {
            return Verdict::Drop(DropReason::NoRoute);
        }
        if pair.partition_cuts > 0 {
            return Verdict::Drop(DropReason::Partition);
        }
        if pair.link_cuts > 0 {
            return Verdict::Drop(DropReason::LinkDown);
        }
        let link = &self.links[pair.link as usize];
        if link.loss.sample(rng) {
            return Verdict::Drop(DropReason::Loss);
        }
        let at = arrival(link, pair, now, link.latency.sample(rng));
        let duplicate_at = if link.duplicate.sample(rng) {
            Some(arrival(link, pair, now, link.latency.sample(rng)))
        } else {
            None
        };
        Verdict::Deliver { at, duplicate_at }
    }

    /// [`Network::decide`] for a message an aimed message fault hit (see [`Network::aim`]): a
    /// drop needs no draw; a delay or a duplicate keeps the link's draws and then adds the
    /// delay or a copy arriving with the message. A partition or a lost route still wins.
    #[inline(never)]
    pub fn decide_aimed(
        &mut self,
        (src, dst): (ActorId, ActorId),
        now: Instant,
        rng: &mut Rng,
        effect: MessageEffect,
    ) -> Verdict {
        let index = src.index() * self.node_count + dst.index();
        let pair = self.pairs[index];
        if effect == MessageEffect::Drop
            && pair.link != NO_ROUTE
            && pair.partition_cuts == 0
            && pair.link_cuts == 0
        {
            return Verdict::Drop(DropReason::Aimed);
        }
        let verdict = self.decide(src, dst, now, rng);
        let Verdict::Deliver { at, duplicate_at } = verdict else {
            return verdict;
        };
        match effect {
            MessageEffect::Drop => unreachable!("decided above"),
            MessageEffect::Delay(extra) => {
                let (at, duplicate_at) = (at + extra, duplicate_at.map(|d| d + extra));
                let pair = &mut self.pairs[index];
                pair.last_arrival = pair.last_arrival.max(at).max(duplicate_at.unwrap_or(at));
                Verdict::Deliver { at, duplicate_at }
            }
            MessageEffect::Duplicate => Verdict::Deliver {
                at,
                duplicate_at: duplicate_at.or(Some(at)),
            },
        }
    }

    /// Lifts the links' own faults for good: no more loss or duplication (cuts are ended by
    /// whoever started them), and no aimed message fault is left waiting.
    pub fn heal_links(&mut self) {
        for link in &mut self.links {
            link.loss = super::Probability::NEVER;
            link.duplicate = super::Probability::NEVER;
        }
        self.aimed.clear();
    }

    /// Adds the aimed message faults of a plan; [`Network::aim`] counts messages against them.
    pub fn aim_at_messages(&mut self, faults: Vec<AimedMessage>) {
        self.aimed = faults;
    }

    /// Whether any aimed message fault waits, so the world names a message's kind only then.
    #[inline(always)]
    pub fn aims_at_messages(&self) -> bool {
        !self.aimed.is_empty()
    }

    /// Counts a message of `kind` from `src` to `dst` against every aimed message fault; what
    /// the first one it sets off does to it.
    pub fn aim(&mut self, src: ActorId, dst: ActorId, kind: &str) -> Option<MessageEffect> {
        let mut hit = None;
        for fault in &mut self.aimed {
            if let Some(effect) = fault.sent(src, dst, kind) {
                hit = hit.or(Some(effect));
            }
        }
        hit
    }

    /// Starts (`+1`) or heals (`-1`) a cut; cuts nest, so overlapping partitions heal
    /// independently.
    pub fn apply_cut(&mut self, cut: &Cut, starting: bool) {
        for &(src, dst) in &cut.pairs {
            let pair = &mut self.pairs[src.index() * self.node_count + dst.index()];
            let counter = match cut.kind {
                CutKind::Partition => &mut pair.partition_cuts,
                CutKind::LinkDown => &mut pair.link_cuts,
            };
            *counter = if starting {
                counter.checked_add(1).expect("fewer than 65536 nested cuts")
            } else {
                counter.checked_sub(1).expect("a cut heals only after it started")
            };
        }
    }
}

/// Arrival time on `link`; a FIFO link never delivers before its previous message.
#[inline]
fn arrival(link: &LinkSpec, pair: &mut Pair, now: Instant, delay: Duration) -> Instant {
    let at = now + delay;
    if link.fifo {
        let at = at.max(pair.last_arrival);
        pair.last_arrival = at;
        at
    } else {
        at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{LatencyDist, Probability};
    use crate::sim::{Purpose, SeedTree};

    fn two_nodes(spec: LinkSpec) -> Network {
        let mut t = Topology::new(Some(spec));
        t.add_node("a").unwrap();
        t.add_node("b").unwrap();
        Network::new(&t)
    }

    fn sample_rate(spec: LinkSpec, trials: u64, hit: impl Fn(Verdict) -> bool) -> f64 {
        let mut net = two_nodes(spec);
        let mut rng = SeedTree::new(11).stream(Purpose::Network(0));
        let hits = (0..trials)
            .filter(|_| hit(net.decide(ActorId(0), ActorId(1), Instant::ZERO, &mut rng)))
            .count();
        hits as f64 / trials as f64
    }

    /// Asserts an observed rate is within 5 standard deviations of the binomial expectation.
    fn assert_rate(what: &str, observed: f64, p: f64, trials: u64) {
        let sd = (p * (1.0 - p) / trials as f64).sqrt();
        assert!(
            (observed - p).abs() <= 5.0 * sd,
            "{what}: observed {observed}, configured {p}, 5 sd = {}",
            5.0 * sd
        );
    }

    #[test]
    fn loss_and_duplication_match_their_probabilities() {
        let trials = 1_000_000;
        let spec = LinkSpec {
            loss: Probability::new("loss", 0.01).unwrap(),
            duplicate: Probability::new("dup", 0.05).unwrap(),
            ..LinkSpec::default()
        };
        let lost = sample_rate(spec, trials, |v| v == Verdict::Drop(DropReason::Loss));
        assert_rate("loss", lost, 0.01, trials);
        let duplicated = sample_rate(spec, trials, |v| {
            matches!(
                v,
                Verdict::Deliver {
                    duplicate_at: Some(_),
                    ..
                }
            )
        });
        // Duplication is only decided for messages that were not lost.
        assert_rate("duplication", duplicated, 0.99 * 0.05, trials);
    }

    #[test]
    fn fifo_links_never_reorder_and_random_links_do() {
        let spec = LinkSpec {
            latency: LatencyDist::Uniform {
                min_us: 1,
                max_us: 1_000,
            },
            ..LinkSpec::default()
        };
        let arrivals = |fifo: bool| {
            let mut net = two_nodes(LinkSpec { fifo, ..spec });
            let mut rng = SeedTree::new(5).stream(Purpose::Network(0));
            (0..1_000u64)
                .map(
                    |t| match net.decide(ActorId(0), ActorId(1), Instant::from_us(t), &mut rng) {
                        Verdict::Deliver { at, .. } => at,
                        Verdict::Drop(r) => panic!("dropped: {r:?}"),
                    },
                )
                .collect::<Vec<_>>()
        };
        assert!(arrivals(true).is_sorted());
        assert!(!arrivals(false).is_sorted());
    }

    #[test]
    fn cuts_nest_and_heal_independently() {
        let mut net = two_nodes(LinkSpec::reliable(10));
        let mut rng = SeedTree::new(5).stream(Purpose::Network(0));
        let cut = Cut {
            kind: CutKind::Partition,
            pairs: vec![(ActorId(0), ActorId(1))],
        };
        net.apply_cut(&cut, true);
        net.apply_cut(&cut, true);
        net.apply_cut(&cut, false);
        let verdict = net.decide(ActorId(0), ActorId(1), Instant::ZERO, &mut rng);
        assert_eq!(verdict, Verdict::Drop(DropReason::Partition));
        // The reverse direction was not cut.
        assert!(matches!(
            net.decide(ActorId(1), ActorId(0), Instant::ZERO, &mut rng),
            Verdict::Deliver { .. }
        ));
        net.apply_cut(&cut, false);
        assert!(matches!(
            net.decide(ActorId(0), ActorId(1), Instant::ZERO, &mut rng),
            Verdict::Deliver { .. }
        ));
    }
}

//! What a consistency strategy costs, per business transaction: bytes on the wire, forced
//! log writes, time rows spent locked and requests spent blocked, 2PC's in-doubt time, the
//! inconsistency window, the read model's staleness; and what the client got: throughput and
//! availability during a partition.
//!
//! Everything is read after the run from the world's counters, the databases' statistics,
//! the history and the checks' facts (the one fold of the history): measuring changes
//! nothing. Per-transaction figures divide by the transactions the gateway started; they are
//! `None` when it started none. Throughput and availability are the client's view: from the
//! moment it sent a request to the first answer it got.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Percentiles;
use crate::assembly::{SystemConfig, SystemWorld};
use crate::check::{RunFacts, TxFacts};
use crate::net::FaultSpec;
use crate::sim::Instant;
use crate::system::history::{History, HistoryEvent};
use crate::system::msg::{CallMode, RequestId, RequestOutcome};
use crate::system::service::Service;

/// The cost figures of one business-system run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    /// Business transactions the gateway started: what `per_tx` figures divide by.
    pub transactions: u64,
    /// Traffic.
    pub bytes: Bytes,
    /// Forced (synchronous) log writes.
    pub forced_writes: ForcedWrites,
    /// Lock hold and blocked time in the services' databases.
    pub locks: Locks,
    /// Prepared steps' in-doubt time (zero for strategies that prepare nothing); its "still
    /// in doubt" counts steps still held, too.
    pub in_doubt: InDoubt,
    /// Reserved steps' hold time (TCC's reservations; absent for strategies that hold
    /// nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holds: Option<Holds>,
    /// Read-then-write decisions across the services' databases, and those made on data
    /// another transaction had changed since it was read (absent without such steps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outdated: Option<crate::store::Outdated>,
    /// Inconsistency windows: per transaction, from its first change at any service to the
    /// change after which every step agreed (applied, or undone).
    pub inconsistency_window: Window,
    /// The eventual strategy's read model (`None` for strategies without one).
    pub replica_staleness: Option<Staleness>,
    /// Business requests the client got answered successfully, per second.
    pub throughput: Throughput,
    /// Business requests answered successfully within the client's deadline.
    pub availability: Availability,
    /// The load on each service whose workers are bounded (none unless the model says), then
    /// on each other actor given workers (the scenario's `actors`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub load: Vec<ServiceLoad>,
}

/// What a service with bounded workers went through.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ServiceLoad {
    /// The service.
    pub service: String,
    /// Its workers.
    pub workers: u32,
    /// Busy workers over all workers, time-averaged over the run.
    pub utilisation: f64,
    /// Calls waiting for a worker, time-averaged.
    pub queue_mean: f64,
    /// The most calls waiting at once.
    pub queue_max: u32,
    /// Each started call's wait for a worker, µs.
    pub wait_us: Option<Percentiles>,
    /// Each finished call's time from arrival to end (wait and work), µs.
    pub response_us: Option<Percentiles>,
    /// Calls answered busy because the queue was full.
    pub refused: u64,
}

impl ServiceLoad {
    /// The figures of `service`'s pool, measured up to `load.until`.
    pub fn of(service: &str, load: crate::system::service::Load) -> Self {
        let elapsed = load.until.as_us().max(1) as f64;
        ServiceLoad {
            service: service.to_string(),
            workers: load.workers,
            utilisation: load.busy_area_us as f64 / (elapsed * f64::from(load.workers.max(1))),
            queue_mean: load.queue_area_us as f64 / elapsed,
            queue_max: load.max_queue,
            wait_us: Percentiles::of(load.waits_us),
            response_us: Percentiles::of(load.responses_us),
            refused: load.refused,
        }
    }
}

/// Business requests the client got answered committed or accepted, per virtual second from
/// its first request sent to the last answer it got.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Throughput {
    /// Business requests answered committed or accepted (first answers only).
    pub served: u64,
    /// From the first request sent to the last answer received, µs.
    pub span_us: u64,
    /// `served` per second of that span (`None` when it is empty).
    pub per_s: Option<f64>,
}

/// Messages and bytes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Bytes {
    /// Bytes handed to the network (`Msg::wire_size` estimates; duplicates made by the
    /// network not counted, like `messages.sent`).
    pub sent: u64,
    /// Bytes sent per started transaction.
    pub per_tx: Option<f64>,
    /// Messages sent per started transaction.
    pub messages_per_tx: Option<f64>,
}

/// Forced log writes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ForcedWrites {
    /// By the services' databases (commits, prepares, prepared aborts).
    pub services: u64,
    /// By the 2PC coordinator (its decision records).
    pub coordinator: u64,
    /// Both.
    pub total: u64,
    /// Both, per started transaction.
    pub per_tx: Option<f64>,
}

/// Lock hold and blocked time, summed over the services' databases.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Locks {
    /// Sum over local transactions of begin-to-end time (how long locks were held), µs.
    pub hold_us: u64,
    /// Sum over lock requests that queued of the time they waited, µs.
    pub blocked_us: u64,
    /// Lock requests that had to queue.
    pub waits: u64,
    /// `hold_us` per started transaction, µs.
    pub hold_us_per_tx: Option<f64>,
    /// `blocked_us` per started transaction, µs.
    pub blocked_us_per_tx: Option<f64>,
}

/// 2PC participants prepared and waiting for a decision, holding their locks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InDoubt {
    /// Prepared steps that were decided.
    pub decided: u64,
    /// Their in-doubt time (prepare to decision), summed, µs.
    pub total_us: u64,
    /// The longest, µs.
    pub max_us: u64,
    /// Transactions with a step still prepared and undecided at the end.
    pub still_in_doubt: u64,
    /// The longest any of those steps had been in doubt at the end, µs (`None` when none
    /// was): `max_us` counts decided steps only, and a blocked participant is the worst case.
    pub still_in_doubt_max_us: Option<u64>,
}

/// Steps reserved as holds (no locks kept) until confirmed or released.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Holds {
    /// Holds that ended (confirmed or released).
    pub ended: u64,
    /// Of those, confirmed.
    pub confirmed: u64,
    /// Their hold time (reserve to confirm or release), summed, µs.
    pub total_us: u64,
    /// The longest, µs.
    pub max_us: u64,
}

/// Inconsistency windows over the transactions that changed anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Percentiles of the windows of transactions whose steps came to agree, µs (`None` if
    /// none did).
    pub us: Option<Percentiles>,
    /// Transactions whose steps still disagreed at the end.
    pub diverged: u64,
}

/// How far the read model lagged its sources.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Staleness {
    /// Changes the read model saw.
    pub seen: u64,
    /// Mean lag from a change at its service to the read model seeing it, µs.
    pub mean_lag_us: Option<u64>,
    /// The longest lag, µs (`None` when it saw no change).
    pub max_lag_us: Option<u64>,
    /// Changes it never saw.
    pub missed: u64,
    /// Rows compared with their source at the end.
    pub rows: u64,
    /// Rows that disagreed at the end.
    pub mismatches: u64,
}

/// Availability, at the client: of the business requests it sent with credentials, the share
/// answered successfully within its deadline (the gateway's timeout per attempt ×
/// (retries + 1)), measured from sending to the first answer. Successfully: committed,
/// accepted, or refused for a business reason (aborted because a step's bound or row said
/// no: the system answered; it was not the system failing). A request never answered, or
/// answered timed out or aborted for want of a participant, was not served.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Availability {
    /// The client's deadline, µs.
    pub deadline_us: u64,
    /// Requests sent while a partition was active (`None` when the scenario has no
    /// partition).
    pub during_partition: Option<Share>,
    /// Requests sent while no partition was active.
    pub outside_partition: Share,
}

/// A share of business requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Share {
    /// Business requests sent (with credentials).
    pub requests: u64,
    /// Those answered successfully within the deadline.
    pub available: u64,
    /// Of `available`, those refused for a business reason.
    pub refused: u64,
    /// Those the client never got an answer to: not available.
    pub still_waiting: u64,
    /// `available / requests` (`None` without requests).
    pub share: Option<f64>,
}

impl Metrics {
    /// Measures a finished run of `config` built as `built`; `history` and `facts` are its
    /// merged history and the checks' facts.
    pub fn measure(
        built: &SystemWorld,
        config: &SystemConfig,
        history: &History,
        facts: &RunFacts<'_>,
    ) -> Self {
        let stats = built.world.stats();
        let transactions = facts.txs.values().filter(|tx| tx.started.is_some()).count() as u64;
        let per_tx = |total: u64| (transactions > 0).then(|| total as f64 / transactions as f64);
        let dbs: Vec<&crate::store::StoreStats> =
            built.services().map(|s: &Service| s.db().stats()).collect();
        let services_forced = dbs.iter().map(|s| s.forced_writes).sum();
        let outdated = built
            .services()
            .map(|s: &Service| s.db().outdated())
            .fold(crate::store::Outdated::default(), crate::store::Outdated::plus);
        let coordinator = config.strategy.own_forced_writes(built.world.counters());
        let (hold_us, blocked_us, waits) = dbs.iter().fold((0, 0, 0), |(h, b, w), s| {
            (h + s.lock_hold_us, b + s.lock_wait_us, w + s.lock_waits)
        });
        let windows: Vec<u64> = facts.txs.values().filter_map(|tx| tx.window.span_us()).collect();
        let diverged = facts.txs.values().filter(|tx| tx.window.diverged()).count() as u64;
        let now = built.world.now();
        let load = built
            .services()
            .flat_map(|s| {
                let name = &built.wiring.model.services[s.id().index()].name;
                let several = s.instance_count() > 1;
                // A service of several instances has a row per instance: `payment#1`.
                s.load(now)
                    .into_iter()
                    .map(move |(instance, load)| match several {
                        true => ServiceLoad::of(&format!("{name}#{instance}"), load),
                        false => ServiceLoad::of(name, load),
                    })
            })
            .chain(
                built
                    .paced_loads()
                    .into_iter()
                    .map(|(name, load)| ServiceLoad::of(&name, load)),
            )
            .collect();
        Metrics {
            load,
            outdated: (outdated.decisions > 0).then_some(outdated),
            transactions,
            bytes: Bytes {
                sent: stats.bytes_sent,
                per_tx: per_tx(stats.bytes_sent),
                messages_per_tx: per_tx(stats.sent),
            },
            forced_writes: ForcedWrites {
                services: services_forced,
                coordinator,
                total: services_forced + coordinator,
                per_tx: per_tx(services_forced + coordinator),
            },
            locks: Locks {
                hold_us,
                blocked_us,
                waits,
                hold_us_per_tx: per_tx(hold_us),
                blocked_us_per_tx: per_tx(blocked_us),
            },
            in_doubt: in_doubt(history, facts),
            holds: holds(history),
            inconsistency_window: Window {
                us: Percentiles::of(windows),
                diverged,
            },
            replica_staleness: facts.read_model.as_ref().map(|view| {
                let view = crate::check::ReadModel::of(view);
                Staleness {
                    seen: view.lag.count,
                    mean_lag_us: view.lag.mean_us(),
                    max_lag_us: view.lag.max_us,
                    missed: view.missed as u64,
                    rows: view.rows as u64,
                    mismatches: view.mismatches as u64,
                }
            }),
            throughput: throughput(history, facts),
            availability: availability(history, facts, client_deadline_us(config), &config.faults),
        }
    }
}

fn in_doubt(history: &History, facts: &RunFacts<'_>) -> InDoubt {
    let mut in_doubt = InDoubt::default();
    for record in history.records() {
        if let HistoryEvent::Decided {
            in_doubt_us,
            mode: CallMode::Prepare,
            ..
        } = record.event
        {
            in_doubt.decided += 1;
            in_doubt.total_us += in_doubt_us;
            in_doubt.max_us = in_doubt.max_us.max(in_doubt_us);
        }
    }
    in_doubt.still_in_doubt = facts.txs.values().filter(|tx| tx.in_doubt()).count() as u64;
    in_doubt.still_in_doubt_max_us = facts
        .txs
        .values()
        .flat_map(|tx| tx.steps.iter().filter_map(|s| s.prepared_at))
        .map(|prepared| facts.end.saturating_since(prepared).as_us())
        .max();
    in_doubt
}

/// What the run's holds cost, if it made any.
fn holds(history: &History) -> Option<Holds> {
    let mut holds = Holds::default();
    for record in history.records() {
        if let HistoryEvent::Decided {
            commit,
            mode: CallMode::Reserve,
            in_doubt_us,
            ..
        } = record.event
        {
            holds.ended += 1;
            holds.confirmed += u64::from(commit);
            holds.total_us += in_doubt_us;
            holds.max_us = holds.max_us.max(in_doubt_us);
        }
    }
    (holds.ended > 0).then_some(holds)
}

/// The business requests the client sent with credentials, by id: when, and the facts of
/// the transaction the gateway started for each (if it did).
fn business_requests<'f>(
    history: &History,
    facts: &'f RunFacts<'_>,
) -> BTreeMap<RequestId, (Instant, Option<&'f TxFacts>)> {
    let txs: BTreeMap<RequestId, &TxFacts> =
        facts.txs.values().filter_map(|tx| Some((tx.req?, tx))).collect();
    history
        .records()
        .iter()
        .filter_map(|record| match record.event {
            HistoryEvent::ClientSent {
                req,
                audit: false,
                authenticated: true,
            } => Some((req, (record.at, txs.get(&req).copied()))),
            _ => None,
        })
        .collect()
}

/// A successful answer: committed, accepted, or aborted because a step was refused for a
/// business reason (then `Some(true)`); `None` for anything else.
fn served(outcome: RequestOutcome, tx: Option<&TxFacts>) -> Option<bool> {
    match outcome {
        RequestOutcome::Committed | RequestOutcome::Accepted => Some(false),
        RequestOutcome::Aborted if tx.is_some_and(|tx| tx.refused) => Some(true),
        _ => None,
    }
}

/// Business requests answered committed or accepted, per second from the first sent to the
/// last answered.
fn throughput(history: &History, facts: &RunFacts<'_>) -> Throughput {
    let sent = business_requests(history, facts);
    let first = sent.values().map(|(at, _)| *at).min();
    let (mut served, mut last) = (0, None);
    for record in history.records() {
        if let HistoryEvent::ClientAnswered { req, outcome, .. } = record.event
            && sent.contains_key(&req)
        {
            last = last.max(Some(record.at));
            served += u64::from(matches!(
                outcome,
                RequestOutcome::Committed | RequestOutcome::Accepted
            ));
        }
    }
    let span_us = match (first, last) {
        (Some(first), Some(last)) => last.saturating_since(first).as_us(),
        _ => 0,
    };
    Throughput {
        served,
        span_us,
        per_s: (span_us > 0).then(|| served as f64 * 1_000_000.0 / span_us as f64),
    }
}

/// The deadline a client sees: the gateway's timeout per attempt × (retries + 1), µs.
fn client_deadline_us(config: &SystemConfig) -> u64 {
    config
        .request_timeout
        .as_us()
        .saturating_mul(u64::from(config.retries) + 1)
}

/// Business requests by whether a partition of `faults` was active when the client sent
/// them, and whether it got a successful answer within `deadline_us`.
fn availability(
    history: &History,
    facts: &RunFacts<'_>,
    deadline_us: u64,
    faults: &[FaultSpec],
) -> Availability {
    let partitions: Vec<(Instant, Instant)> = faults
        .iter()
        .filter_map(|fault| match fault {
            FaultSpec::Partition { from, until, .. } | FaultSpec::OneWay { from, until, .. } => {
                Some((*from, until.unwrap_or(Instant::MAX)))
            }
            _ => None,
        })
        .collect();
    let partitioned = |at: Instant| partitions.iter().any(|(from, until)| *from <= at && at < *until);
    let mut waiting = business_requests(history, facts);
    let (mut during, mut outside) = (Share::default(), Share::default());
    for (at, _) in waiting.values() {
        let share = if partitioned(*at) {
            &mut during
        } else {
            &mut outside
        };
        share.requests += 1;
    }
    for record in history.records() {
        let HistoryEvent::ClientAnswered {
            req,
            outcome,
            latency_us,
        } = record.event
        else {
            continue;
        };
        let Some((at, tx)) = waiting.remove(&req) else {
            continue;
        };
        let share = if partitioned(at) {
            &mut during
        } else {
            &mut outside
        };
        if let (Some(refused), true) = (served(outcome, tx), latency_us <= deadline_us) {
            share.available += 1;
            share.refused += u64::from(refused);
        }
    }
    for (at, _) in waiting.values() {
        let share = if partitioned(*at) {
            &mut during
        } else {
            &mut outside
        };
        share.still_waiting += 1;
    }
    let finish = |mut share: Share| {
        share.share = (share.requests > 0).then(|| share.available as f64 / share.requests as f64);
        share
    };
    Availability {
        deadline_us,
        during_partition: (!partitions.is_empty()).then(|| finish(during)),
        outside_partition: finish(outside),
    }
}

impl Metrics {
    /// The figures as `(label, value)` rows of the report's table.
    pub fn table_rows(&self) -> Vec<(&'static str, String)> {
        let d = |us: u64| crate::sim::Duration::from_us(us).to_string();
        let df = |us: Option<f64>| us.map_or_else(|| "-".to_string(), |us| d(us.round() as u64));
        let f = |x: Option<f64>| x.map_or_else(|| "-".to_string(), |x| format!("{x:.1}"));
        let pct = |s: &Share| {
            let share = s
                .share
                .map_or_else(|| "-".to_string(), |s| format!("{:.1}%", s * 100.0));
            format!("{share} of {} ({} waiting)", s.requests, s.still_waiting)
        };
        let mut rows = vec![
            (
                "bytes / tx",
                format!("{} ({} bytes sent)", f(self.bytes.per_tx), self.bytes.sent),
            ),
            (
                "forced writes / tx",
                format!(
                    "{} (services {}, coordinator {})",
                    f(self.forced_writes.per_tx),
                    self.forced_writes.services,
                    self.forced_writes.coordinator
                ),
            ),
            (
                "locks held / tx",
                format!(
                    "{} (blocked {} / tx, {} waits)",
                    df(self.locks.hold_us_per_tx),
                    df(self.locks.blocked_us_per_tx),
                    self.locks.waits
                ),
            ),
            (
                "in doubt",
                format!(
                    "{} decided, total {}, max {}, {} still in doubt{}",
                    self.in_doubt.decided,
                    d(self.in_doubt.total_us),
                    d(self.in_doubt.max_us),
                    self.in_doubt.still_in_doubt,
                    self.in_doubt
                        .still_in_doubt_max_us
                        .map_or_else(String::new, |us| format!(" (longest {})", d(us)))
                ),
            ),
        ];
        if let Some(holds) = &self.holds {
            rows.push((
                "reservation holds",
                format!(
                    "{} ended ({} confirmed), total {}, mean {}, max {}",
                    holds.ended,
                    holds.confirmed,
                    d(holds.total_us),
                    d(holds.total_us / holds.ended.max(1)),
                    d(holds.max_us)
                ),
            ));
        }
        if let Some(o) = &self.outdated {
            rows.push((
                "outdated decisions",
                format!(
                    "{} of {} read-then-writes ({:.1} / 1k), age mean {} max {}; {} write conflicts, {} optimistic retries, {} write skews, {} of {} reads not repeatable",
                    o.outdated,
                    o.decisions,
                    o.per_1k().unwrap_or(0.0),
                    d(o.age_us / o.outdated.max(1)),
                    d(o.max_age_us),
                    o.conflicts,
                    o.retries,
                    o.skews,
                    o.non_repeatable,
                    o.reads
                ),
            ));
        }
        let w = &self.inconsistency_window;
        rows.push((
            "inconsistency window",
            match &w.us {
                Some(p) => format!(
                    "p50/p99/max {} / {} / {} ({} txs, {} diverged)",
                    d(p.p50),
                    d(p.p99),
                    d(p.max),
                    p.count,
                    w.diverged
                ),
                None => format!("none ({} diverged)", w.diverged),
            },
        ));
        if let Some(s) = &self.replica_staleness {
            rows.push((
                "read model lag",
                format!(
                    "mean {}, max {} ({} missed, {} of {} rows stale)",
                    s.mean_lag_us.map_or_else(|| "-".to_string(), d),
                    s.max_lag_us.map_or_else(|| "-".to_string(), d),
                    s.missed,
                    s.mismatches,
                    s.rows
                ),
            ));
        }
        let t = &self.throughput;
        rows.push((
            "throughput",
            format!("{} / s ({} served in {})", f(t.per_s), t.served, d(t.span_us)),
        ));
        for load in &self.load {
            let p = |p: &Option<Percentiles>| {
                p.map_or_else(|| "-".to_string(), |p| format!("{} / {}", d(p.p50), d(p.p99)))
            };
            rows.push((
                "load",
                format!(
                    "{}: {} workers {:.1}% busy, queue mean {:.2} max {}, wait p50/p99 {}, response p50/p99 {}, {} refused",
                    load.service,
                    load.workers,
                    load.utilisation * 100.0,
                    load.queue_mean,
                    load.queue_max,
                    p(&load.wait_us),
                    p(&load.response_us),
                    load.refused
                ),
            ));
        }
        let a = &self.availability;
        rows.push((
            "available",
            match &a.during_partition {
                Some(during) => format!(
                    "{} during partitions, {} outside (deadline {})",
                    pct(during),
                    pct(&a.outside_partition),
                    d(a.deadline_us)
                ),
                None => format!("{} (deadline {})", pct(&a.outside_partition), d(a.deadline_us)),
            },
        ));
        rows
    }
}

#[cfg(test)]
mod tests;

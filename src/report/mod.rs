//! Reports: the numbers of one run, as a table for people and JSON for scripts.
//!
//! The JSON schema is stable: fields are only added, never renamed or removed (README.md
//! names the one reviewed exception, the anomaly rates), and README.md documents each one.
//! The table is for reading, not parsing.

mod metrics;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

pub use metrics::{
    Availability, Bytes, ForcedWrites, InDoubt, Locks, Metrics, Share, Staleness, Throughput, Window,
};

use crate::net::DropReason;
use crate::world::{Message, RunOutcome, World};

/// The numbers of one run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    /// Scenario name (file stem).
    pub scenario: String,
    /// Model kind.
    pub model: String,
    /// The seed this run used.
    pub seed: u64,
    /// Why the run stopped, in words.
    pub stop: String,
    /// True when it stopped because no events were left.
    pub quiescent: bool,
    /// Virtual time at the end, in microseconds.
    pub virtual_duration_us: u64,
    /// Events processed.
    pub events: u64,
    /// The trace hash as 16 hex digits (absent when tracing was off).
    pub trace_hash: Option<String>,
    /// What happened to messages.
    pub messages: Messages,
    /// Crashes, restarts, timers.
    pub lifecycle: Lifecycle,
    /// Counters actors recorded, by name.
    pub counters: BTreeMap<String, u64>,
    /// The strategy (system models only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Business transactions (system models only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactions: Option<Transactions>,
    /// End-to-end latency of business requests, from the client sending one to its first
    /// answer, timed-out and refused-at-the-gateway answers left out (system models only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<Percentiles>,
    /// Check verdicts (system models only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<crate::check::Verdict>,
    /// What audit reads saw: isolation anomalies (system models only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anomalies: Option<crate::check::Anomalies>,
    /// What the strategy cost per transaction (system models only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// The command that explains a violated transaction, without its `--gtx` (set by the
    /// command line, which knows the file): each violation line naming a transaction is
    /// followed by it.
    #[serde(skip)]
    pub explain_with: Option<String>,
}

/// What happened to business transactions and requests.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Transactions {
    /// Requests the client sent that reached the gateway.
    pub requests: u64,
    /// Business transactions the gateway started.
    pub started: u64,
    /// Answered committed.
    pub committed: u64,
    /// Answered aborted (business failure, undone).
    pub aborted: u64,
    /// Answered accepted (finished asynchronously).
    pub accepted: u64,
    /// Answered timed out after every retry.
    pub timed_out: u64,
    /// Refused at the gateway for missing credentials.
    pub unauthorized: u64,
    /// Audit reads completed.
    pub audits: u64,
    /// Audit reads answered timed out (some audited service did not answer in time).
    pub audits_timed_out: u64,
    /// Transactions with at least one compensation applied.
    pub compensated: u64,
    /// Transactions half applied at the end (stuck) or prepared and undecided (in doubt).
    pub stuck_or_in_doubt: u64,
}

/// Latency percentiles in virtual microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
    /// How many samples.
    pub count: u64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples` (sorted here).
    pub fn of(mut samples: Vec<u64>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let rank =
            |p: u64| samples[((samples.len() as u64 * p).div_ceil(100) as usize).clamp(1, samples.len()) - 1];
        Some(Percentiles {
            p50: rank(50),
            p95: rank(95),
            p99: rank(99),
            max: *samples.last().expect("non-empty"),
            count: samples.len() as u64,
        })
    }
}

/// Message counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Messages {
    /// Handed to the network.
    pub sent: u64,
    /// Bytes of the messages handed to the network (each message's estimated wire size).
    pub bytes_sent: u64,
    /// Reached a live actor (duplicates included).
    pub delivered: u64,
    /// Extra copies made by the network.
    pub duplicated: u64,
    /// Lost, all reasons.
    pub dropped: u64,
    /// Lost, by reason: loss, partition, link-down, no-route, crashed.
    pub dropped_by_reason: BTreeMap<String, u64>,
}

/// Lifecycle counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lifecycle {
    /// Crashes that took effect.
    pub crashes: u64,
    /// Restarts.
    pub restarts: u64,
    /// Timers that fired.
    pub timers_fired: u64,
}

impl RunReport {
    /// Collects the numbers of a finished run of scenario `scenario` on a `model` model.
    pub fn new<M: Message>(
        scenario: &str,
        model: &str,
        seed: u64,
        world: &World<M>,
        outcome: RunOutcome,
    ) -> Self {
        let stats = world.stats();
        RunReport {
            scenario: scenario.to_string(),
            model: model.to_string(),
            seed,
            stop: outcome.stop.to_string(),
            quiescent: outcome.stop.is_quiescent(),
            virtual_duration_us: outcome.end.as_us(),
            events: outcome.event_count,
            trace_hash: outcome.trace_hash.map(|h| h.to_string()),
            messages: Messages {
                sent: stats.sent,
                bytes_sent: stats.bytes_sent,
                delivered: stats.delivered,
                duplicated: stats.duplicated,
                dropped: stats.dropped_total(),
                dropped_by_reason: DropReason::ALL
                    .iter()
                    .map(|r| (r.as_str().to_string(), stats.dropped(*r)))
                    .collect(),
            },
            lifecycle: Lifecycle {
                crashes: stats.crashes,
                restarts: stats.restarts,
                timers_fired: stats.timers_fired,
            },
            counters: world
                .counters()
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            strategy: None,
            transactions: None,
            latency_us: None,
            checks: Vec::new(),
            anomalies: None,
            metrics: None,
            explain_with: None,
        }
    }

    /// Adds the anomalies audit reads saw and the strategy's costs.
    pub fn with_metrics(mut self, anomalies: crate::check::Anomalies, metrics: Metrics) -> Self {
        self.anomalies = Some(anomalies);
        self.metrics = Some(metrics);
        self
    }

    /// Adds what a business-system run measured: transactions, latency and check verdicts.
    pub fn with_system(
        mut self,
        strategy: &str,
        history: &crate::system::history::History,
        facts: &crate::check::RunFacts<'_>,
        checks: Vec<crate::check::Verdict>,
    ) -> Self {
        use crate::system::history::HistoryEvent;
        use crate::system::msg::RequestOutcome;
        let mut t = Transactions::default();
        let mut latencies = Vec::new();
        // Business requests the client sent: end-to-end latency is measured at the client.
        let mut business = std::collections::BTreeSet::new();
        for record in history.records() {
            match &record.event {
                HistoryEvent::ClientSent {
                    req, audit: false, ..
                } => {
                    business.insert(*req);
                }
                HistoryEvent::ClientAnswered {
                    req,
                    outcome,
                    latency_us,
                } => {
                    let answered =
                        !matches!(outcome, RequestOutcome::TimedOut | RequestOutcome::Unauthorized);
                    if answered && business.contains(req) {
                        latencies.push(*latency_us);
                    }
                }
                HistoryEvent::RequestStarted { gtx, .. } => {
                    t.requests += 1;
                    t.started += u64::from(gtx.is_some());
                }
                HistoryEvent::RequestEnded { outcome, gtx, .. } => {
                    match outcome {
                        RequestOutcome::Committed => t.committed += 1,
                        RequestOutcome::Aborted => t.aborted += 1,
                        RequestOutcome::Accepted => t.accepted += 1,
                        // Only an audit times out without a business transaction.
                        RequestOutcome::TimedOut if gtx.is_some() => t.timed_out += 1,
                        RequestOutcome::TimedOut => t.audits_timed_out += 1,
                        RequestOutcome::Unauthorized => t.unauthorized += 1,
                        RequestOutcome::AuditDone => t.audits += 1,
                    }
                }
                _ => {}
            }
        }
        for tx in facts.txs.values() {
            t.compensated += u64::from(tx.steps.iter().any(|s| s.compensations > 0));
            t.stuck_or_in_doubt += u64::from(tx.half_applied() || tx.in_doubt());
        }
        self.strategy = Some(strategy.to_string());
        self.transactions = Some(t);
        self.latency_us = Percentiles::of(latencies);
        self.checks = checks;
        self
    }

    /// True when every check in `must_hold` was judged and passed: a check that could not
    /// judge (the run stopped at a limit with work in flight) does not hold.
    pub fn holds(&self, must_hold: &[crate::check::CheckKind]) -> bool {
        self.not_holding(must_hold).next().is_none()
    }

    /// The verdicts of checks in `must_hold` that failed or could not judge.
    pub fn not_holding<'a>(
        &'a self,
        must_hold: &'a [crate::check::CheckKind],
    ) -> impl Iterator<Item = &'a crate::check::Verdict> {
        self.checks
            .iter()
            .filter(|v| !v.holds() && must_hold.contains(&v.check))
    }

    /// The report as pretty JSON (the documented, stable schema).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report serialises")
    }

    /// The report as an aligned table for the terminal.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let duration = crate::sim::Duration::from_us(self.virtual_duration_us);
        let mut row = |k: &str, v: String| {
            let _ = writeln!(out, "  {k:<22} {v}");
        };
        row("scenario", format!("{} ({} model)", self.scenario, self.model));
        if let Some(strategy) = &self.strategy {
            row("strategy", strategy.clone());
        }
        row("seed", self.seed.to_string());
        row("stop", self.stop.clone());
        row("virtual time", duration.to_string());
        row("events", self.events.to_string());
        row(
            "trace hash",
            self.trace_hash.clone().unwrap_or_else(|| "off".into()),
        );
        let m = &self.messages;
        row("messages sent", m.sent.to_string());
        row("  delivered", m.delivered.to_string());
        row("  duplicated", m.duplicated.to_string());
        let reasons: Vec<String> = m
            .dropped_by_reason
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        let detail = if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        };
        row("  dropped", format!("{}{detail}", m.dropped));
        let l = &self.lifecycle;
        row("crashes / restarts", format!("{} / {}", l.crashes, l.restarts));
        row("timers fired", l.timers_fired.to_string());
        if let Some(t) = &self.transactions {
            row(
                "requests",
                format!(
                    "{} ({} audits, {} audits timed out, {} unauthorized)",
                    t.requests, t.audits, t.audits_timed_out, t.unauthorized
                ),
            );
            row("transactions started", t.started.to_string());
            row("  committed", t.committed.to_string());
            row("  aborted", t.aborted.to_string());
            row("  accepted (async)", t.accepted.to_string());
            row("  timed out", t.timed_out.to_string());
            row("  compensated", t.compensated.to_string());
            row("  stuck or in doubt", t.stuck_or_in_doubt.to_string());
        }
        if let Some(l) = &self.latency_us {
            let d = |us: u64| crate::sim::Duration::from_us(us).to_string();
            row(
                "latency p50/p95/p99",
                format!("{} / {} / {}", d(l.p50), d(l.p95), d(l.p99)),
            );
            row("latency max", d(l.max));
        }
        if let Some(m) = &self.metrics {
            for (k, v) in m.table_rows() {
                row(k, v);
            }
        }
        if let Some(a) = &self.anomalies {
            let rate = |c: &crate::check::AnomalyCount, of: u64, per: &str| {
                let per_1k = c.per_1k.map_or_else(|| "-".to_string(), |r| format!("{r:.1}"));
                format!("{} of {of} {per} ({per_1k} / 1k)", c.count)
            };
            row(
                "inconsistent audits",
                rate(&a.inconsistent_audit_reads, a.complete_audits, "audits"),
            );
            row("dirty reads", rate(&a.dirty_reads, a.reads, "reads"));
            row("lost updates", rate(&a.lost_updates, a.writes, "writes"));
        }
        for (name, value) in &self.counters {
            row(name, value.to_string());
        }
        if !self.checks.is_empty() {
            let _ = writeln!(out, "  checks");
            for verdict in &self.checks {
                let status = match (verdict.passed, verdict.judged) {
                    (true, true) => "ok".to_string(),
                    (true, false) => "not judged".to_string(),
                    (false, true) => format!("VIOLATED ({})", verdict.violation_count),
                    (false, false) => format!("VIOLATED ({}); not judged in full", verdict.violation_count),
                };
                let _ = writeln!(out, "    {:<20} {status}", verdict.check.name());
                for v in &verdict.violations {
                    let gtx = v.gtx.map(|g| format!("gtx {g}: ")).unwrap_or_default();
                    let at = v
                        .at_us
                        .map(|us| format!(" (at {})", crate::sim::Instant::from_us(us)))
                        .unwrap_or_default();
                    let rows = if v.rows.is_empty() {
                        String::new()
                    } else {
                        format!(" [{}]", v.rows.join(", "))
                    };
                    let _ = writeln!(out, "      - {gtx}{}{rows}{at}", v.detail);
                    if let (Some(command), Some(g)) = (&self.explain_with, v.gtx) {
                        let _ = writeln!(out, "          why: {command} --gtx {g}");
                    }
                    for e in &v.events {
                        let _ = writeln!(
                            out,
                            "          seq {} at {}: {}",
                            e.seq,
                            crate::sim::Instant::from_us(e.at_us),
                            e.detail
                        );
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::check::{CheckKind, RunFacts};
    use crate::sim::{ActorId, Instant};
    use crate::system::examples::bank_transfer;
    use crate::system::history::{History, HistoryEvent, RowWrite};
    use crate::system::model::ServiceId;
    use crate::system::msg::{CallMode, GlobalTxId, LocalResult, RequestId, RequestOutcome, StepKind};

    fn empty_report() -> RunReport {
        RunReport {
            scenario: "hand_made".into(),
            model: "bank_transfer".into(),
            seed: 1,
            stop: "time limit".into(),
            quiescent: false,
            virtual_duration_us: 1_000,
            events: 0,
            trace_hash: None,
            messages: Messages {
                sent: 0,
                bytes_sent: 0,
                delivered: 0,
                duplicated: 0,
                dropped: 0,
                dropped_by_reason: BTreeMap::new(),
            },
            lifecycle: Lifecycle {
                crashes: 0,
                restarts: 0,
                timers_fired: 0,
            },
            counters: BTreeMap::new(),
            strategy: None,
            transactions: None,
            latency_us: None,
            checks: Vec::new(),
            anomalies: None,
            metrics: None,
            explain_with: None,
        }
    }

    /// Both banks' accounts at their initial 1,000.
    fn rows() -> Vec<Vec<BTreeMap<u64, i64>>> {
        let bank = || vec![(0..100).map(|k| (k, 1_000)).collect()];
        vec![bank(), bank()]
    }

    fn started(history: &mut History, at: u64, req: u64, gtx: Option<u64>, audit: bool) {
        let event = HistoryEvent::RequestStarted {
            req: RequestId(req),
            gtx: gtx.map(GlobalTxId),
            audit,
        };
        history.record(Instant::from_us(at), at, ActorId(1), event);
    }

    fn ended(history: &mut History, at: u64, req: u64, gtx: Option<u64>, outcome: RequestOutcome) {
        let event = HistoryEvent::RequestEnded {
            req: RequestId(req),
            gtx: gtx.map(GlobalTxId),
            outcome,
            latency_us: 10,
        };
        history.record(Instant::from_us(at), at, ActorId(1), event);
    }

    #[test]
    fn requests_add_up_when_an_audit_times_out() {
        let model = bank_transfer();
        let mut history = History::default();
        started(&mut history, 1, 1, Some(0), false);
        ended(&mut history, 2, 1, Some(0), RequestOutcome::Committed);
        started(&mut history, 3, 2, None, true);
        ended(&mut history, 4, 2, None, RequestOutcome::AuditDone);
        started(&mut history, 5, 3, None, true);
        let incomplete = HistoryEvent::Audit {
            req: RequestId(3),
            total: 1_000,
            complete: false,
        };
        history.record(Instant::from_us(6), 6, ActorId(1), incomplete);
        ended(&mut history, 6, 3, None, RequestOutcome::TimedOut);
        started(&mut history, 7, 4, None, false);
        ended(&mut history, 7, 4, None, RequestOutcome::Unauthorized);
        started(&mut history, 8, 5, Some(1), false);
        ended(&mut history, 9, 5, Some(1), RequestOutcome::TimedOut);
        let facts = RunFacts::new(&model, &history, rows(), true, Instant::from_us(10));
        let report = empty_report().with_system("naive", &history, &facts, Vec::new());
        let t = report.transactions.clone().expect("a system report");
        assert_eq!(
            (t.requests, t.started, t.committed, t.timed_out),
            (5, 2, 1, 1),
            "{t:?}"
        );
        assert_eq!((t.audits, t.audits_timed_out, t.unauthorized), (1, 1, 1), "{t:?}");
        assert_eq!(
            t.requests,
            t.started + t.audits + t.audits_timed_out + t.unauthorized
        );
        assert!(
            report
                .to_table()
                .contains("5 (1 audits, 1 audits timed out, 1 unauthorized)"),
            "{}",
            report.to_table()
        );
        assert!(report.to_json().contains("\"audits_timed_out\": 1"));
    }

    #[test]
    fn latency_is_measured_at_the_client_from_sending_to_the_first_answer() {
        let model = bank_transfer();
        let mut history = History::default();
        let client = |history: &mut History, at: u64, event: HistoryEvent| {
            history.record(Instant::from_us(at), at, ActorId(0), event);
        };
        let sent = HistoryEvent::ClientSent {
            req: RequestId(1),
            audit: false,
            authenticated: true,
        };
        client(&mut history, 0, sent);
        started(&mut history, 1_000, 1, Some(0), false);
        ended(&mut history, 1_010, 1, Some(0), RequestOutcome::Committed);
        let answered = HistoryEvent::ClientAnswered {
            req: RequestId(1),
            outcome: RequestOutcome::Committed,
            latency_us: 3_000,
        };
        client(&mut history, 3_000, answered);
        let facts = RunFacts::new(&model, &history, rows(), true, Instant::from_us(4_000));
        let report = empty_report().with_system("naive", &history, &facts, Vec::new());
        let latency = report.latency_us.expect("one answer");
        // Not the gateway's 10 µs: the two network crossings count.
        assert_eq!((latency.p50, latency.count), (3_000, 1), "{latency:?}");
    }

    #[test]
    fn a_must_hold_check_that_was_not_judged_does_not_hold() {
        let model = bank_transfer();
        let mut history = History::default();
        started(&mut history, 1, 1, Some(7), false);
        let debit = HistoryEvent::Local {
            service: ServiceId(0),
            gtx: GlobalTxId(7),
            step: 0,
            kind: StepKind::Action,
            mode: CallMode::Commit,
            result: LocalResult::Committed,
            replay: false,
            write: Some(RowWrite {
                table: 0,
                key: 0,
                delta: -100,
            }),
        };
        history.record(Instant::from_us(2), 2, ActorId(2), debit);
        let mut rows = rows();
        rows[0][0].insert(0, 900);
        // Stopped at a limit halfway through the transfer.
        let facts = RunFacts::new(&model, &history, rows, false, Instant::from_us(3));
        let checks = crate::check::run_all(&facts);
        let report = empty_report().with_system("naive", &history, &facts, checks);
        let atomicity = &report.checks[0];
        assert_eq!(atomicity.check, CheckKind::Atomicity);
        assert!(atomicity.passed && !atomicity.judged, "{atomicity:?}");
        assert!(!report.holds(&[CheckKind::Atomicity]));
        let not_holding: Vec<CheckKind> = report.not_holding(&CheckKind::ALL).map(|v| v.check).collect();
        assert_eq!(
            not_holding,
            [
                CheckKind::Atomicity,
                CheckKind::Conservation,
                CheckKind::NoLostWork,
                CheckKind::Convergence,
                CheckKind::ClientAnswers
            ]
        );
        assert!(report.holds(&[CheckKind::NoDoubleEffect, CheckKind::NoOversell]));
        let table = report.to_table();
        assert!(table.contains("    atomicity            not judged\n"), "{table}");
        assert!(table.contains("    no_double_effect     ok\n"), "{table}");
        assert!(report.to_json().contains("\"judged\": false"));
    }
}

//! Availability and throughput are the client's view: shown on histories built by hand.

use super::*;
use crate::sim::ActorId;
use crate::system::examples::bank_transfer;
use crate::system::model::ServiceId;
use crate::system::msg::{CallMode, GlobalTxId, LocalResult, StepKind};

/// A history recorded by hand, one event per call, at the given µs.
#[derive(Default)]
struct Builder {
    history: History,
}

impl Builder {
    fn at(&mut self, at: u64, actor: u32, event: HistoryEvent) -> &mut Self {
        self.history
            .record(Instant::from_us(at), at, ActorId(actor), event);
        self
    }

    fn sent(&mut self, at: u64, req: u64) -> &mut Self {
        self.sent_as(at, req, false, true)
    }

    fn sent_as(&mut self, at: u64, req: u64, audit: bool, authenticated: bool) -> &mut Self {
        let event = HistoryEvent::ClientSent {
            req: RequestId(req),
            audit,
            authenticated,
        };
        self.at(at, 0, event)
    }

    fn started(&mut self, at: u64, req: u64) -> &mut Self {
        let event = HistoryEvent::RequestStarted {
            req: RequestId(req),
            gtx: Some(GlobalTxId(req)),
            audit: false,
        };
        self.at(at, 1, event)
    }

    fn answered(&mut self, at: u64, sent: u64, req: u64, outcome: RequestOutcome) -> &mut Self {
        let event = HistoryEvent::ClientAnswered {
            req: RequestId(req),
            outcome,
            latency_us: at - sent,
        };
        self.at(at, 0, event)
    }

    /// Step 0 of transaction `req` refused for a business reason (insufficient funds).
    fn refused(&mut self, at: u64, req: u64) -> &mut Self {
        let event = HistoryEvent::Local {
            service: ServiceId(0),
            gtx: GlobalTxId(req),
            step: 0,
            kind: StepKind::Action,
            mode: CallMode::Commit,
            result: LocalResult::Refused,
            replay: false,
            write: None,
        };
        self.at(at, 2, event)
    }
}

fn partition(from_us: u64, until_us: u64) -> FaultSpec {
    FaultSpec::Partition {
        groups: vec![vec!["bank_a".into()], vec!["bank_b".into()]],
        from: Instant::from_us(from_us),
        until: Some(Instant::from_us(until_us)),
    }
}

#[test]
fn availability_counts_requests_by_when_the_client_sent_them_and_what_it_got_back() {
    let model = bank_transfer();
    let mut b = Builder::default();
    // Before the partition: sent, answered committed.
    b.sent(100, 0)
        .started(105, 0)
        .answered(200, 100, 0, RequestOutcome::Committed);
    // Sent during the partition, reaching the gateway after it healed: still "during".
    b.sent(1_500, 1)
        .started(2_100, 1)
        .answered(2_200, 1_500, 1, RequestOutcome::Committed);
    // Sent during it and never answered: not available, and still waiting.
    b.sent(1_600, 2);
    // Refused for a business reason: the system answered, so it was available.
    b.sent(1_700, 3).started(1_705, 3).refused(1_710, 3);
    b.answered(1_720, 1_700, 3, RequestOutcome::Aborted);
    // Aborted for want of a participant (no refusal anywhere): not available.
    b.sent(1_800, 4)
        .started(1_805, 4)
        .answered(1_900, 1_800, 4, RequestOutcome::Aborted);
    // Committed, but after the client's deadline.
    b.sent(1_900, 5)
        .started(1_905, 5)
        .answered(9_000, 1_900, 5, RequestOutcome::Committed);
    // Neither an anonymous request nor an audit is a business request to serve.
    b.sent_as(1_950, 6, false, false)
        .answered(1_960, 1_950, 6, RequestOutcome::Unauthorized);
    b.sent_as(1_960, 7, true, true)
        .answered(1_970, 1_960, 7, RequestOutcome::AuditDone);
    let history = b.history.clone();
    let facts = RunFacts::new(&model, &history, Vec::new(), true, Instant::from_us(10_000));
    let a = availability(&history, &facts, 5_000, &[partition(1_000, 2_000)]);
    let during = a.during_partition.expect("the scenario has a partition");
    assert_eq!(
        (
            during.requests,
            during.available,
            during.refused,
            during.still_waiting
        ),
        (5, 2, 1, 1),
        "{during:?}"
    );
    assert_eq!(during.share, Some(0.4));
    let outside = a.outside_partition;
    assert_eq!((outside.requests, outside.available), (1, 1), "{outside:?}");
    // Without a partition there is nothing to measure during one.
    let none = availability(&history, &facts, 5_000, &[]);
    assert_eq!(none.during_partition, None);
    assert_eq!(none.outside_partition.requests, 6);
    assert_eq!(none.outside_partition.still_waiting, 1);
}

#[test]
fn throughput_counts_requests_served_per_second_of_the_clients_busy_span() {
    let model = bank_transfer();
    let mut b = Builder::default();
    b.sent(0, 0)
        .started(5, 0)
        .answered(250_000, 0, 0, RequestOutcome::Committed);
    b.sent(100_000, 1)
        .started(100_005, 1)
        .answered(500_000, 100_000, 1, RequestOutcome::Accepted);
    b.sent(200_000, 2)
        .started(200_005, 2)
        .answered(300_000, 200_000, 2, RequestOutcome::Aborted);
    let facts = RunFacts::new(&model, &b.history, Vec::new(), true, Instant::from_ms(600));
    let t = throughput(&b.history, &facts);
    assert_eq!((t.served, t.span_us), (2, 500_000), "{t:?}");
    assert_eq!(t.per_s, Some(4.0));
    // Nothing sent: no rate rather than zero.
    let empty = History::default();
    let facts = RunFacts::new(&model, &empty, Vec::new(), true, Instant::ZERO);
    assert_eq!(throughput(&empty, &facts).per_s, None);
}

#[test]
fn a_business_refusal_found_by_the_idempotency_table_is_no_business_refusal() {
    let model = bank_transfer();
    let mut b = Builder::default();
    b.sent(0, 0).started(5, 0);
    // The late action of a saga that gave up: its compensation left a fence.
    let fenced = HistoryEvent::Local {
        service: ServiceId(0),
        gtx: GlobalTxId(0),
        step: 0,
        kind: StepKind::Action,
        mode: CallMode::Commit,
        result: LocalResult::Refused,
        replay: true,
        write: None,
    };
    b.at(10, 2, fenced).answered(20, 0, 0, RequestOutcome::Aborted);
    let facts = RunFacts::new(&model, &b.history, Vec::new(), true, Instant::from_us(30));
    assert!(!facts.txs[&GlobalTxId(0)].refused);
    let a = availability(&b.history, &facts, 5_000, &[]);
    assert_eq!(a.outside_partition.available, 0);
}

#[test]
fn a_step_still_in_doubt_at_the_end_counts_with_how_long_it_has_waited() {
    let model = bank_transfer();
    let mut b = Builder::default();
    let local = |gtx: u64, step: u16| HistoryEvent::Local {
        service: ServiceId(step),
        gtx: GlobalTxId(gtx),
        step,
        kind: StepKind::Action,
        mode: CallMode::Prepare,
        result: LocalResult::Prepared,
        replay: false,
        write: Some(crate::system::history::RowWrite {
            table: 0,
            key: 0,
            delta: -100,
        }),
    };
    // gtx 1's debit waits 2 ms for its decision; gtx 2's credit never gets one.
    b.at(1_000, 2, local(1, 0));
    let decided = HistoryEvent::Decided {
        mode: CallMode::Prepare,
        service: ServiceId(0),
        gtx: GlobalTxId(1),
        step: 0,
        commit: true,
        in_doubt_us: 2_000,
    };
    b.at(3_000, 2, decided).at(4_000, 3, local(2, 1));
    let facts = RunFacts::new(&model, &b.history, Vec::new(), true, Instant::from_us(10_000));
    let d = in_doubt(&b.history, &facts);
    assert_eq!((d.decided, d.total_us, d.max_us), (1, 2_000, 2_000), "{d:?}");
    assert_eq!((d.still_in_doubt, d.still_in_doubt_max_us), (1, Some(6_000)));
    // Nothing in doubt: no longest wait rather than a zero one.
    let empty = History::default();
    let facts = RunFacts::new(&model, &empty, Vec::new(), true, Instant::ZERO);
    assert_eq!(in_doubt(&empty, &facts).still_in_doubt_max_us, None);
}

//! The convergence check: transactions and read models within the stated time.

use super::*;
use crate::system::examples::bank_transfer;

#[test]
fn convergence_fails_on_a_transfer_that_never_converges_and_on_one_that_converges_late() {
    let model = bank_transfer();
    let mut history = History::default();
    commit(&mut history, 1_000, 1, 0, StepKind::Action);
    commit(&mut history, 2_000, 1, 1, StepKind::Action);
    assert!(convergence(&facts(&model, &history, rows(900, 1_100))).holds());
    // gtx 2 converges 6 s after its first change; gtx 3 never does.
    commit(&mut history, 1_000_000, 2, 0, StepKind::Action);
    commit(&mut history, 3_000_000, 3, 0, StepKind::Action);
    commit(&mut history, 7_000_000, 2, 1, StepKind::Action);
    let end = RunFacts::new(&model, &history, rows(700, 1_200), true, Instant::from_ms(8_000));
    let verdict = convergence(&end);
    assert!(verdict.judged && !verdict.passed, "{verdict:?}");
    assert_eq!(verdict.violation_count, 2, "{verdict:?}");
    assert_eq!(verdict.violations[0].gtx, Some(2));
    assert_eq!(verdict.violations[0].at_us, Some(7_000_000));
    assert!(
        verdict.violations[0]
            .detail
            .starts_with("converged 6s after its first change, 1s past its deadline"),
        "{verdict:?}"
    );
    assert_eq!(verdict.violations[1].gtx, Some(3));
    assert_eq!(verdict.violations[1].detail, "never converged: debit=1, credit=0");
    // A partition that healed at 3 s moves gtx 2's deadline to 8 s: only gtx 3 is left.
    let partition = crate::net::FaultSpec::Partition {
        groups: vec![vec!["bank_a".into()], vec!["bank_b".into()]],
        from: Instant::from_ms(500),
        until: Some(Instant::from_ms(3_000)),
    };
    let rule = ConvergenceRule::new(DEFAULT_CONVERGE_WITHIN, &[partition]);
    assert_eq!(rule.last_heal, Some(Instant::from_ms(3_000)));
    let healed = RunFacts::new(&model, &history, rows(700, 1_200), true, Instant::from_ms(8_000))
        .with_convergence(rule);
    let verdict = convergence(&healed);
    assert_eq!(verdict.violation_count, 1, "{verdict:?}");
    assert_eq!(verdict.violations[0].gtx, Some(3));
}

#[test]
fn convergence_counts_a_2pc_commit_when_it_is_decided_not_when_it_is_prepared() {
    let model = bank_transfer();
    let mut history = History::default();
    for step in 0..2 {
        local(
            &mut history,
            1_000,
            4,
            step,
            StepKind::Action,
            CallMode::Prepare,
            LocalResult::Prepared,
        );
    }
    let decided = |h: &mut History, at: u64, step: u16| {
        let event = HistoryEvent::Decided {
            mode: CallMode::Prepare,
            service: ServiceId(step),
            gtx: GlobalTxId(4),
            step,
            commit: true,
            in_doubt_us: at - 1_000,
        };
        h.record(Instant::from_us(at), at, ActorId(2), event);
    };
    decided(&mut history, 2_000, 0);
    decided(&mut history, 2_500, 1);
    let facts = facts(&model, &history, rows(900, 1_100));
    let window = &facts.txs[&GlobalTxId(4)].window;
    assert_eq!(window.first_change, Some(Instant::from_us(2_000)));
    assert_eq!(window.span_us(), Some(500));
    let tight = ConvergenceRule {
        within: crate::sim::Duration::from_us(100),
        ..ConvergenceRule::default()
    };
    let verdict = convergence(&facts.clone().with_convergence(tight));
    assert_eq!(verdict.violation_count, 1, "{verdict:?}");
}

#[test]
fn convergence_reports_read_model_rows_that_disagree_with_their_source() {
    let model = bank_transfer();
    let mut history = History::default();
    commit(&mut history, 1_000, 5, 0, StepKind::Action);
    commit(&mut history, 2_000, 5, 1, StepKind::Action);
    let stale = StaleRow {
        gtx: GlobalTxId(5),
        step: 1,
        at: Some(Instant::from_us(2_000)),
        detail: "read model shows step credit not applied, its service has it applied".into(),
    };
    let view = ReadModelFacts {
        rows: 1,
        stale: vec![stale],
        sightings: Vec::new(),
    };
    let with_view = facts(&model, &history, rows(900, 1_100)).with_read_model(view);
    let verdict = convergence(&with_view);
    assert!(!verdict.passed, "{verdict:?}");
    assert_eq!(verdict.violations[0].rows, ["bank_a.read_model[5, credit]"]);
    let clean = facts(&model, &history, rows(900, 1_100)).with_read_model(ReadModelFacts::default());
    assert!(convergence(&clean).holds());
}

#[test]
fn convergence_is_not_judged_when_a_fault_never_heals_or_the_run_is_moving() {
    let model = bank_transfer();
    let mut history = History::default();
    commit(&mut history, 1_000, 6, 0, StepKind::Action);
    let crash = crate::net::FaultSpec::Crash {
        node: "bank_b".into(),
        at: Instant::from_us(500),
        restart_at: None,
    };
    let rule = ConvergenceRule::new(DEFAULT_CONVERGE_WITHIN, &[crash]);
    let verdict = convergence(&facts(&model, &history, rows(900, 1_000)).with_convergence(rule));
    assert!(
        verdict.passed && !verdict.judged && !verdict.holds(),
        "{verdict:?}"
    );
    let moving = RunFacts::new(&model, &history, rows(900, 1_000), false, Instant::from_ms(1));
    let verdict = convergence(&moving);
    assert!(!verdict.judged && verdict.notes[0] == NOT_JUDGED, "{verdict:?}");
}

#[test]
fn convergence_fails_when_a_read_model_catches_up_after_the_stated_time() {
    let model = bank_transfer();
    let mut history = History::default();
    commit(&mut history, 1_000, 5, 0, StepKind::Action);
    commit(&mut history, 2_000, 5, 1, StepKind::Action);
    let sighting = |caught_up_us: u64| Sighting {
        gtx: GlobalTxId(5),
        step: 1,
        changed: Instant::from_us(2_000),
        seen: Some(Instant::from_us(caught_up_us)),
        caught_up: Some(Instant::from_us(caught_up_us)),
    };
    let view = |caught_up_us: u64| ReadModelFacts {
        rows: 1,
        stale: Vec::new(),
        sightings: vec![sighting(caught_up_us)],
    };
    // Seen 3 s after the change: within the default 5 s.
    let prompt = RunFacts::new(&model, &history, rows(900, 1_100), true, Instant::from_ms(9_000))
        .with_read_model(view(3_002_000));
    assert!(convergence(&prompt).holds());
    // Seen 6 s after it: the read model was stale past its deadline, though it ends equal.
    let late = RunFacts::new(&model, &history, rows(900, 1_100), true, Instant::from_ms(9_000))
        .with_read_model(view(6_002_000));
    let verdict = convergence(&late);
    assert_eq!(verdict.violation_count, 1, "{verdict:?}");
    let violation = &verdict.violations[0];
    assert_eq!((violation.gtx, violation.at_us), (Some(5), Some(6_002_000)));
    assert_eq!(violation.rows, ["bank_a.read_model[5, credit]"]);
    assert_eq!(
        violation.detail,
        "read model caught up 6s after its source changed at 2ms, 1s past its deadline"
    );
    // It points at the source's change of that step.
    let seqs: Vec<u64> = violation.events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [2_000]);
    assert!(
        verdict.notes[1].starts_with("read model: 1 changes caught up late or never"),
        "{verdict:?}"
    );
}

//! `consim diff`: two runs of the same workload (two strategies, or two files) side by side,
//! aligned by request: where their traces first part, and which requests ended differently.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::runner::Run;
use crate::scenario::Scenario;
use crate::sim::{TraceEntry, TraceKind, TraceLevel};

/// One side of a diff: a label and the run.
pub struct Side {
    /// What the side is (a strategy, a file).
    pub label: String,
    /// Its run, traced in full.
    pub run: Run,
}

impl Side {
    /// Runs `scenario` on `seed`, traced in full.
    pub fn of(label: String, scenario: &Scenario, seed: u64) -> Side {
        Side {
            label,
            run: crate::runner::run(scenario, seed, TraceLevel::Full),
        }
    }

    /// What the client was told, by request id (the `Response` messages it received).
    fn answers(&self) -> BTreeMap<u64, String> {
        self.run
            .trace
            .entries()
            .iter()
            .filter(|e| e.kind == TraceKind::Deliver && e.msg_kind == "Response")
            .filter_map(|e| {
                let fields: serde_json::Value = serde_json::from_str(&e.detail).ok()?;
                Some((fields["req"].as_u64()?, fields["outcome"].as_str()?.to_string()))
            })
            .fold(BTreeMap::new(), |mut answers, (req, outcome)| {
                answers.entry(req).or_insert(outcome);
                answers
            })
    }

    fn name(&self, actor: Option<crate::sim::ActorId>) -> &str {
        actor.map_or("-", |a| self.run.names[a.index()].as_str())
    }

    /// An event in words, for the first divergence.
    fn event(&self, e: &TraceEntry) -> String {
        let what = if e.msg_kind.is_empty() { e.note } else { e.msg_kind };
        let gtx = e.tx.map(|g| format!(" gtx {g}")).unwrap_or_default();
        format!(
            "{} {} {} -> {}: {what}{gtx}",
            e.at,
            e.kind.as_str(),
            self.name(e.src),
            self.name(e.dst)
        )
    }
}

/// The two runs compared: their first divergence and every request answered differently.
pub fn diff(a: &Side, b: &Side) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "a: {}\nb: {}", a.label, b.label);
    let hashes = (&a.run.report.trace_hash, &b.run.report.trace_hash);
    if hashes.0 == hashes.1 {
        let _ = writeln!(
            out,
            "the same run, event for event (trace hash {})",
            hashes.0.clone().unwrap_or_default()
        );
        return out;
    }
    // Events as both sides see them: kind, actors by name, message kind (sends and points are
    // consequences, and their numbering differs between worlds).
    let shown = |side: &Side| -> Vec<(usize, String)> {
        side.run
            .trace
            .entries()
            .iter()
            .enumerate()
            .filter(|(_, e)| {
                matches!(
                    e.kind,
                    TraceKind::Deliver | TraceKind::Drop | TraceKind::Timer | TraceKind::Fault
                )
            })
            .map(|(i, e)| {
                (
                    i,
                    format!(
                        "{} {} {} {} {}",
                        e.kind.as_str(),
                        side.name(e.src),
                        side.name(e.dst),
                        e.msg_kind,
                        e.note
                    ),
                )
            })
            .collect()
    };
    let (ea, eb) = (shown(a), shown(b));
    let first = ea.iter().zip(&eb).position(|(x, y)| x.1 != y.1);
    match first {
        Some(n) => {
            let (ia, ib) = (ea[n].0, eb[n].0);
            let _ = writeln!(out, "first divergence, at event {n} of each:");
            let _ = writeln!(out, "  a: {}", a.event(&a.run.trace.entries()[ia]));
            let _ = writeln!(out, "  b: {}", b.event(&b.run.trace.entries()[ib]));
        }
        None => {
            let _ = writeln!(
                out,
                "the same events up to the end of the shorter run ({} against {})",
                ea.len(),
                eb.len()
            );
        }
    }
    let (answers_a, answers_b) = (a.answers(), b.answers());
    let requests: std::collections::BTreeSet<u64> =
        answers_a.keys().chain(answers_b.keys()).copied().collect();
    let unanswered = "no answer".to_string();
    let differing: Vec<(u64, &String, &String)> = requests
        .iter()
        .map(|req| {
            (
                *req,
                answers_a.get(req).unwrap_or(&unanswered),
                answers_b.get(req).unwrap_or(&unanswered),
            )
        })
        .filter(|(_, x, y)| x != y)
        .collect();
    let _ = writeln!(
        out,
        "requests answered: {} and {}; {} answered differently",
        answers_a.len(),
        answers_b.len(),
        differing.len()
    );
    let mut tally: BTreeMap<(&String, &String), usize> = BTreeMap::new();
    for (_, x, y) in &differing {
        *tally.entry((x, y)).or_default() += 1;
    }
    for ((x, y), count) in tally {
        let _ = writeln!(out, "  {count} x {x} (a) vs {y} (b)");
    }
    for (req, x, y) in differing.iter().take(20) {
        let _ = writeln!(out, "  request {req}: {x} vs {y}");
    }
    if differing.len() > 20 {
        let _ = writeln!(out, "  ... and {} more", differing.len() - 20);
    }
    out
}

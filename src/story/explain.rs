//! `consim explain`: one transaction's causal chain as text, ending at the broken invariant,
//! then what never happened.

use std::fmt::Write as _;

use super::Story;
use crate::sim::{Duration, Instant, TraceEntry, TraceKind};

/// How long after a transaction's last line a crash of an actor involved still counts.
const CRASH_WINDOW: Duration = Duration::from_secs(1);

/// The story as text: a header naming the transaction and its violation, one line per
/// event, the invariant it broke, and what never happened.
pub fn explain(story: &Story) -> String {
    let mut out = String::new();
    let _ = match &story.violation {
        Some((check, v)) => writeln!(out, "gtx {}: {check} broke: {}", story.gtx, v.detail),
        None => writeln!(out, "gtx {}: no check found it violated", story.gtx),
    };
    let lines = story.lines();
    let _ = writeln!(out);
    for e in &lines {
        let _ = writeln!(out, "  {}", line(story, e));
    }
    if let Some((check, v)) = &story.violation {
        let at = v
            .at_us
            .map(|us| format!(" (visible at {})", Instant::from_us(us)))
            .unwrap_or_default();
        let _ = writeln!(out, "  => {check}: {}{at}", v.detail);
    }
    let twice = happened_twice(story, &lines);
    if !twice.is_empty() {
        let _ = writeln!(out, "\nwhat happened twice:");
        for t in twice {
            let _ = writeln!(out, "  - {t}");
        }
    }
    let missing = never_happened(story, &lines);
    if !missing.is_empty() {
        let _ = writeln!(out, "\nwhat never happened:");
        for m in missing {
            let _ = writeln!(out, "  - {m}");
        }
    }
    out
}

/// One event as a line: time, who, what.
fn line(story: &Story, e: &TraceEntry) -> String {
    let who = match e.kind {
        TraceKind::Deliver | TraceKind::Drop | TraceKind::Send => {
            format!("{} -> {}", story.name(e.src), story.name(e.dst))
        }
        _ => story.name(e.src).to_string(),
    };
    let what = match e.kind {
        TraceKind::Deliver => format!("{}{}", e.msg_kind, fields(e)),
        TraceKind::Drop => format!("{} LOST ({}){}", e.msg_kind, e.note, fields(e)),
        TraceKind::Timer => format!("timer {}{}", e.msg_kind, fields(e)),
        TraceKind::Fault => format!("FAULT {}", e.note),
        TraceKind::Point => format!("reached {}", e.note),
        TraceKind::Note => format!("noted: {}", e.note),
        TraceKind::Send => format!("sent {}", e.msg_kind),
    };
    let step = e.step.map(|s| format!(" [step {s}]")).unwrap_or_default();
    format!("{:>12}  {who:<28} {what}{step}", e.at.to_string())
}

fn fields(e: &TraceEntry) -> String {
    if e.detail.is_empty() || e.detail == "{}" {
        String::new()
    } else {
        format!(" {}", e.detail)
    }
}

/// Messages of the transaction delivered more than once, fields and all: a duplicate the
/// network or a retry made, which an idempotent receiver absorbs (a `noted` line) and any
/// other applies again.
fn happened_twice(story: &Story, lines: &[&TraceEntry]) -> Vec<String> {
    let mut seen: Vec<(&TraceEntry, usize)> = Vec::new();
    for e in lines
        .iter()
        .filter(|e| e.kind == TraceKind::Deliver && e.tx == Some(story.gtx))
    {
        let same = |(s, _): &&mut (&TraceEntry, usize)| {
            (s.src, s.dst, s.msg_kind, s.step, &s.detail) == (e.src, e.dst, e.msg_kind, e.step, &e.detail)
        };
        match seen.iter_mut().find(same) {
            Some((_, count)) => *count += 1,
            None => seen.push((e, 1)),
        }
    }
    seen.into_iter()
        .filter(|(_, count)| *count > 1)
        .map(|(e, count)| {
            let step = e.step.map(|s| format!(" [step {s}]")).unwrap_or_default();
            format!(
                "{}{step} from {} to {} arrived {count} times, first at {}",
                e.msg_kind,
                story.name(e.src),
                story.name(e.dst),
                e.at
            )
        })
        .collect()
}

/// Each crash of an actor involved while the transaction ran, with the protocol point that
/// actor had last reached for it (`None`: none yet).
fn crashes<'s>(story: &'s Story, lines: &[&'s TraceEntry]) -> Vec<(&'s TraceEntry, Option<&'s TraceEntry>)> {
    let entries = story.run.trace.entries();
    let (Some(first), Some(end)) = (lines.first(), lines.iter().rfind(|e| e.tx == Some(story.gtx))) else {
        return Vec::new();
    };
    lines
        .iter()
        .filter(|e| {
            e.kind == TraceKind::Fault
                && e.note == "crash"
                && e.src.is_some()
                && e.at >= first.at
                && e.at <= end.at + CRASH_WINDOW
        })
        .map(|crash| {
            let point = entries.iter().rfind(|e| {
                e.kind == TraceKind::Point
                    && e.src == crash.src
                    && e.tx == Some(story.gtx)
                    && e.seq <= crash.seq
                    && e.at <= crash.at
            });
            (*crash, point)
        })
        .collect()
}

/// The protocol points the transaction's actors had just reached when they crashed: what a
/// hint keyed by a point (`consim exercise`) matches.
pub fn crash_points(story: &Story) -> Vec<&'static str> {
    let lines = story.lines();
    crashes(story, &lines)
        .into_iter()
        .filter_map(|(_, point)| point.map(|p| p.note))
        .collect()
}

/// What the chain lacks: for each crash of an actor involved while the transaction ran, the
/// point it had just reached and what it does next for other transactions but never did for
/// this one; and messages lost and never sent again.
fn never_happened(story: &Story, lines: &[&TraceEntry]) -> Vec<String> {
    let mut out = Vec::new();
    let entries = story.run.trace.entries();
    for (crash, point) in crashes(story, lines) {
        let actor = crash.src;
        let name = story.name(actor);
        let reached = |e: &&TraceEntry| e.kind == TraceKind::Point && e.src == actor;
        let Some(point) = point else {
            out.push(format!(
                "{name} crashed at {} while working on gtx {}",
                crash.at, story.gtx
            ));
            continue;
        };
        // What this actor goes on to reach after that point for other transactions, and
        // never reached for this one.
        let mut usual: Vec<&'static str> = Vec::new();
        for visit in entries
            .iter()
            .filter(reached)
            .filter(|e| e.note == point.note && e.tx != Some(story.gtx))
        {
            let later = |e: &&TraceEntry| {
                e.tx == visit.tx && e.note != point.note && (e.at, e.seq) >= (visit.at, visit.seq)
            };
            for next in entries.iter().filter(reached).filter(later) {
                if !usual.contains(&next.note) {
                    usual.push(next.note);
                }
            }
        }
        let never: Vec<&str> = usual
            .into_iter()
            .filter(|p| {
                !entries
                    .iter()
                    .filter(reached)
                    .any(|e| e.tx == Some(story.gtx) && e.note == *p)
            })
            .collect();
        let mut said = format!(
            "{name} crashed at {} right after {} for gtx {} (at {})",
            crash.at, point.note, story.gtx, point.at
        );
        if !never.is_empty() {
            said += &format!(
                ": it never reached {} for gtx {}, which it goes on to do for other transactions",
                never.join(", "),
                story.gtx
            );
        }
        out.push(said);
    }
    for lost in lines.iter().filter(|e| e.kind == TraceKind::Drop) {
        let sent_again = lines.iter().any(|e| {
            e.kind == TraceKind::Deliver
                && e.at >= lost.at
                && (e.src, e.dst, e.msg_kind, e.step) == (lost.src, lost.dst, lost.msg_kind, lost.step)
        });
        if !sent_again {
            out.push(format!(
                "{} from {} to {} at {} was lost ({}) and never arrived again",
                lost.msg_kind,
                story.name(lost.src),
                story.name(lost.dst),
                lost.at,
                lost.note
            ));
        }
    }
    out
}

//! The trace: every event of a run, and a stable hash over them.
//!
//! Three levels trade detail for speed. `Off` records nothing (benchmarks). `Hash` folds each
//! event into a running [`StableHasher`] and keeps no entries, so memory stays flat however
//! long the run; this is the default, and its hash is what "same seed, same run" is checked
//! with. `Full` also keeps one [`TraceEntry`] per event for rendering and export.
//!
//! What is hashed per event: time, sequence number, kind, source, destination, the note (drop
//! reason or fault kind) and the message's own `Hash`. The hasher is fixed (see `hash.rs`), so
//! the hash is the same in debug and release and on every 64-bit machine.

use std::fmt::{self, Debug, Write as _};
use std::hash::{Hash, Hasher};

use super::ActorId;
use super::hash::StableHasher;
use super::time::Instant;

/// How much of a run the trace keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TraceLevel {
    /// Nothing: no hash, no entries. For benchmarks.
    Off,
    /// The running hash only; memory stays constant.
    #[default]
    Hash,
    /// The hash and every entry.
    Full,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TraceKind {
    /// A message reached its destination's handler.
    Deliver,
    /// A message was lost; the note says why (loss, partition, crashed, ...).
    Drop,
    /// A timer fired.
    Timer,
    /// A scheduled fault took effect; the note says which.
    Fault,
    /// An actor reached a protocol point (the note); kept in full traces, never hashed.
    Point,
    /// Something an actor noticed and absorbed (a deduplicated retry, a dropped duplicate);
    /// the note says what. Kept in full traces, never hashed.
    Note,
    /// A message left its sender and will arrive as the `Deliver` event whose `seq` is the
    /// entry's `flow`. Kept in full traces, never hashed (its delivery is).
    Send,
}

impl TraceKind {
    /// The word printed in the `event` column.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceKind::Deliver => "deliver",
            TraceKind::Drop => "drop",
            TraceKind::Timer => "timer",
            TraceKind::Fault => "fault",
            TraceKind::Point => "point",
            TraceKind::Note => "note",
            TraceKind::Send => "send",
        }
    }
}

/// One recorded event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// When it happened.
    pub at: Instant,
    /// The queue sequence number of the event (unique within a run).
    pub seq: u64,
    /// What happened.
    pub kind: TraceKind,
    /// The sender of a message, the owner of a timer, or the node a fault is about.
    pub src: Option<ActorId>,
    /// The receiver of a message.
    pub dst: Option<ActorId>,
    /// Drop reason, fault kind or point; empty otherwise.
    pub note: &'static str,
    /// The transaction the event concerns, where there is one (a message's, a point's).
    pub tx: Option<u64>,
    /// The step of that transaction, where there is one.
    pub step: Option<u16>,
    /// The message's kind (`Prepare`, `Decide`, `LocalDone`); empty without a message.
    pub msg_kind: &'static str,
    /// For a `Send`, the `seq` of the `Deliver` it becomes.
    pub flow: Option<u64>,
    /// The message's fields: a JSON object when the world describes its messages
    /// ([`Described`]), else `Debug` text.
    pub detail: String,
}

/// What a message says, for people and tools: its kind, the transaction and step it
/// concerns, and its fields as a JSON object. A world that can describe its messages gives
/// a function returning this (`WorldBuilder::describe`); otherwise entries carry `Debug`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Described {
    /// The message's kind.
    pub kind: &'static str,
    /// The transaction it concerns.
    pub tx: Option<u64>,
    /// The step it concerns.
    pub step: Option<u16>,
    /// Its fields, as a JSON object's text.
    pub fields: String,
}

/// The recorder a `World` writes every event into.
#[derive(Clone, Debug)]
pub struct Trace {
    level: TraceLevel,
    hasher: StableHasher,
    recorded_count: u64,
    entries: Vec<TraceEntry>,
    /// Bytes the entries' `detail` strings hold, kept as they are pushed.
    detail_bytes: u64,
}

impl Trace {
    /// An empty trace at `level`.
    pub fn new(level: TraceLevel) -> Self {
        Trace {
            level,
            hasher: StableHasher::new(),
            recorded_count: 0,
            entries: Vec::new(),
            detail_bytes: 0,
        }
    }

    /// The level this trace records at.
    pub fn level(&self) -> TraceLevel {
        self.level
    }

    /// Records one event; a no-op at [`TraceLevel::Off`]. The level test is inlined into the
    /// loop, so a run without a trace does not pay a call per event.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)] // one call site per event kind, all in world.rs
    pub fn record<M: Hash + Debug>(
        &mut self,
        at: Instant,
        seq: u64,
        kind: TraceKind,
        src: Option<ActorId>,
        dst: Option<ActorId>,
        note: &'static str,
        msg: Option<&M>,
    ) {
        self.record_described(at, seq, kind, (src, dst, note), msg, None);
    }

    /// [`Trace::record`], with `describe` to turn the message into the full trace's
    /// structured entry (only called at [`TraceLevel::Full`]).
    #[inline(always)]
    pub fn record_described<M: Hash + Debug>(
        &mut self,
        at: Instant,
        seq: u64,
        kind: TraceKind,
        (src, dst, note): (Option<ActorId>, Option<ActorId>, &'static str),
        msg: Option<&M>,
        describe: Option<&dyn Fn(&M) -> Described>,
    ) {
        if self.level != TraceLevel::Off {
            self.record_on(at, seq, kind, src, dst, note, msg);
            if self.level == TraceLevel::Full {
                let described = match (msg, describe) {
                    (Some(m), Some(describe)) => describe(m),
                    (Some(m), None) => Described {
                        fields: format!("{m:?}"),
                        ..Described::default()
                    },
                    (None, _) => Described::default(),
                };
                self.keep(TraceEntry {
                    at,
                    seq,
                    kind,
                    src,
                    dst,
                    note,
                    tx: described.tx,
                    step: described.step,
                    msg_kind: described.kind,
                    flow: None,
                    detail: described.fields,
                });
            }
        }
    }

    /// At [`TraceLevel::Full`], keeps a `Send` line for a message that will be delivered as
    /// event `flow`, unhashed: its delivery is what the hash covers.
    pub fn record_send<M: Debug>(
        &mut self,
        at: Instant,
        seq: u64,
        (src, dst, flow): (ActorId, ActorId, u64),
        msg: &M,
        describe: Option<&dyn Fn(&M) -> Described>,
    ) {
        if self.level == TraceLevel::Full {
            let described = match describe {
                Some(describe) => describe(msg),
                None => Described {
                    fields: format!("{msg:?}"),
                    ..Described::default()
                },
            };
            self.keep(TraceEntry {
                at,
                seq,
                kind: TraceKind::Send,
                src: Some(src),
                dst: Some(dst),
                note: "",
                tx: described.tx,
                step: described.step,
                msg_kind: described.kind,
                flow: Some(flow),
                detail: described.fields,
            });
        }
    }

    /// Whether entries are kept (the level is [`TraceLevel::Full`]).
    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.level == TraceLevel::Full
    }

    /// [`Trace::record`] when the level is `Hash` or `Full`.
    #[allow(clippy::too_many_arguments)] // as `record`
    fn record_on<M: Hash + Debug>(
        &mut self,
        at: Instant,
        seq: u64,
        kind: TraceKind,
        src: Option<ActorId>,
        dst: Option<ActorId>,
        note: &'static str,
        msg: Option<&M>,
    ) {
        self.recorded_count += 1;
        let h = &mut self.hasher;
        h.write_u64(at.as_us());
        h.write_u64(seq);
        kind.hash(h);
        src.hash(h);
        dst.hash(h);
        note.hash(h);
        msg.hash(h);
    }

    /// Keeps one entry, counting its detail's bytes.
    fn keep(&mut self, entry: TraceEntry) {
        self.detail_bytes += entry.detail.len() as u64;
        self.entries.push(entry);
    }

    /// Keeps an entry at [`TraceLevel::Full`] without hashing it or counting it as an event:
    /// for what follows from events already recorded (a protocol point reached), so the hash
    /// stays what it was without it. `tx`, if any, is its detail.
    #[inline]
    pub fn note(
        &mut self,
        at: Instant,
        seq: u64,
        kind: TraceKind,
        src: Option<ActorId>,
        note: &'static str,
        tx: Option<u64>,
    ) {
        if self.level == TraceLevel::Full {
            self.keep(TraceEntry {
                at,
                seq,
                kind,
                src,
                dst: None,
                note,
                tx,
                step: None,
                msg_kind: "",
                flow: None,
                detail: String::new(),
            });
        }
    }

    /// Bytes the kept entries hold (none below [`TraceLevel::Full`]), for the world's
    /// bound on a run's record.
    pub fn retained_bytes(&self) -> u64 {
        (self.entries.len() * std::mem::size_of::<TraceEntry>()) as u64 + self.detail_bytes
    }

    /// The stable hash of everything recorded so far; `None` when tracing is off.
    pub fn hash(&self) -> Option<TraceHash> {
        (self.level != TraceLevel::Off).then(|| TraceHash(self.hasher.finish()))
    }

    /// How many events were recorded.
    pub fn recorded_count(&self) -> u64 {
        self.recorded_count
    }

    /// The entries (empty unless the level is `Full`).
    pub fn entries(&self) -> &[TraceEntry] {
        &self.entries
    }

    /// Renders the entries as fixed-width lines, one event a line, with actor names:
    /// `at_us seq event src dst note msg`.
    pub fn render(&self, names: &[String]) -> String {
        let name = |id: Option<ActorId>| match id {
            Some(id) => names.get(id.index()).cloned().unwrap_or_else(|| id.to_string()),
            None => "-".to_string(),
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:>10} {:>6}  {:<8} {:<12} {:<12} {:<12} msg",
            "at_us", "seq", "event", "src", "dst", "note"
        );
        for e in &self.entries {
            let note = if e.note.is_empty() { "-" } else { e.note };
            let _ = writeln!(
                out,
                "{:>10} {:>6}  {:<8} {:<12} {:<12} {:<12} {}",
                e.at.as_us(),
                e.seq,
                e.kind.as_str(),
                name(e.src),
                name(e.dst),
                note,
                e.detail
            );
        }
        out
    }
}

/// A run's trace hash, printed as 16 hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceHash(pub u64);

impl fmt::Display for TraceHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_two(trace: &mut Trace, second_at: u64) {
        trace.record(
            Instant::from_us(5),
            0,
            TraceKind::Deliver,
            Some(ActorId(0)),
            Some(ActorId(1)),
            "",
            Some(&"ping"),
        );
        trace.record::<()>(
            Instant::from_us(second_at),
            1,
            TraceKind::Fault,
            Some(ActorId(1)),
            None,
            "crash",
            None,
        );
    }

    #[test]
    fn hash_level_keeps_no_entries_but_full_does_and_both_agree() {
        let mut hashed = Trace::new(TraceLevel::Hash);
        let mut full = Trace::new(TraceLevel::Full);
        record_two(&mut hashed, 9);
        record_two(&mut full, 9);
        assert!(hashed.entries().is_empty());
        assert_eq!(full.entries().len(), 2);
        assert_eq!(hashed.hash(), full.hash());
        assert_eq!(Trace::new(TraceLevel::Off).hash(), None);
    }

    #[test]
    fn any_difference_changes_the_hash() {
        let mut a = Trace::new(TraceLevel::Hash);
        let mut b = Trace::new(TraceLevel::Hash);
        record_two(&mut a, 9);
        record_two(&mut b, 10);
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn render_is_fixed_width_with_names() {
        let mut full = Trace::new(TraceLevel::Full);
        record_two(&mut full, 9);
        let names = ["orders".to_string(), "payments".to_string()];
        let text = full.render(&names);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[1].contains("deliver  orders       payments"), "{text}");
        assert!(
            lines[2].contains("fault    payments     -            crash"),
            "{text}"
        );
    }
}

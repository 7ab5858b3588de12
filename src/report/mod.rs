//! Reports: the numbers of one run, as a table for people and JSON for scripts.
//!
//! The JSON schema is stable: fields are only added, never renamed or removed, and
//! README.md documents each one. The table is for reading, not parsing.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::net::DropReason;
use crate::world::{Message, RunOutcome, World};

/// The numbers of one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
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
}

/// Message counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Messages {
    /// Handed to the network.
    pub sent: u64,
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
        }
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
        for (name, value) in &self.counters {
            row(name, value.to_string());
        }
        out
    }
}

//! Running a checked scenario: build its world, run it, check it, and make its report.
//!
//! `scenario/` only reads and checks files; this module sits above it (and above the
//! assembly, the checks and the report), so reading a file never depends on how it runs.
//! `run`, `sweep`, `compare` and `shrink` all run scenarios through [`run`].

use crate::pingmesh::PingActor;
use crate::report::RunReport;
use crate::scenario::{Scenario, Setup};
use crate::sim::{Trace, TraceLevel};
use crate::world::{Message, WorldBuilder};

/// What one run produced.
#[derive(Clone, Debug)]
pub struct Run {
    /// The numbers.
    pub report: RunReport,
    /// The trace (entries only at `TraceLevel::Full`).
    pub trace: Trace,
    /// Actor names in id order, to render the trace.
    pub names: Vec<String>,
}

/// Runs `scenario` with `seed`, keeping the trace at `trace_level`.
pub fn run(scenario: &Scenario, seed: u64, trace_level: TraceLevel) -> Run {
    match (&scenario.model, &scenario.setup) {
        (_, Setup::System { config, .. }) => {
            let mut built = config.build(seed, trace_level).expect("validated at load");
            let outcome = built.world.run(scenario.limits);
            let history = built.history();
            let facts = built.facts(&history, &outcome);
            let checks = crate::check::run_all(&facts);
            let anomalies = crate::check::anomalies(&facts, &history);
            let metrics = crate::report::Metrics::measure(&built, config, &history, &facts);
            let model_name = &built.wiring.model.name;
            let report = RunReport::new(&scenario.name, model_name, seed, &built.world, outcome)
                .with_system(config.strategy.name(), &history, &facts, checks)
                .with_metrics(anomalies, metrics);
            Run {
                report,
                trace: built.world.trace().clone(),
                names: built.world.names().to_vec(),
            }
        }
        (crate::scenario::Model::Pingmesh(config), Setup::Pingmesh { .. }) => {
            let mut builder = WorldBuilder::new(seed, Some(scenario.default_link()));
            for i in 0..config.node_count {
                builder
                    .add_actor(&format!("n{i}"), PingActor::new(*config))
                    .expect("unique names");
            }
            configure(scenario, &mut builder, trace_level);
            builder.message_size(crate::pingmesh::Ping::wire_size);
            let mut world = builder.build().expect("validated at load");
            let outcome = world.run(scenario.limits);
            Run {
                report: RunReport::new(&scenario.name, "pingmesh", seed, &world, outcome),
                trace: world.trace().clone(),
                names: world.names().to_vec(),
            }
        }
        (crate::scenario::Model::System(_), Setup::Pingmesh { .. }) => {
            unreachable!("a system model's scenario has a system setup")
        }
    }
}

/// Adds the scenario's link overrides, faults and trace level to a pingmesh world.
fn configure<M: Message>(scenario: &Scenario, builder: &mut WorldBuilder<M>, trace_level: TraceLevel) {
    for (from, to, spec) in scenario.links() {
        let topology = builder.topology();
        let (a, b) = (
            topology.resolve(from).expect("validated"),
            topology.resolve(to).expect("validated"),
        );
        builder.link(a, b, *spec);
    }
    for fault in scenario.faults() {
        builder.fault(fault.clone());
    }
    if let Some(at) = scenario.heal_at() {
        builder.heal_at(at);
    }
    builder.trace_level(trace_level);
}

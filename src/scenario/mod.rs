//! Scenario and model files: reading them, checking them, and building the world they
//! describe.
//!
//! A scenario names its model (a path relative to the scenario file), a seed, the network,
//! the fault schedule and the stop condition. `load` parses both files with serde + ron,
//! then `validate.rs` checks names, probabilities, distributions and fault windows, and
//! reports every mistake with file, line, column and a hint (`error.rs`, `locate.rs`).
//!
//! **Boundary:** the raw serde types (`raw.rs`) stay in this module; nothing below it
//! derives `Deserialize`.

pub mod duration;
pub mod error;
pub mod locate;
pub mod raw;
pub mod validate;

use std::path::{Path, PathBuf};

pub use error::{FileError, ScenarioError};

use crate::net::{LinkSpec, Topology};
use crate::pingmesh::{PingActor, PingmeshConfig};
use crate::report::RunReport;
use crate::sim::{Trace, TraceLevel};
use crate::world::{Limits, WorldBuilder};
use locate::Step;
use validate::Checker;

/// The system a model file describes.
#[derive(Clone, Debug)]
pub enum Model {
    /// The kernel's reference workload: actors passing message chains (see `pingmesh`).
    Pingmesh(PingmeshConfig),
}

impl Model {
    /// Node names in actor-id order.
    pub fn node_names(&self) -> Vec<String> {
        match self {
            Model::Pingmesh(config) => (0..config.node_count).map(|i| format!("n{i}")).collect(),
        }
    }

    /// The model's kind, as reports print it.
    pub fn kind(&self) -> &'static str {
        match self {
            Model::Pingmesh(_) => "pingmesh",
        }
    }
}

/// A checked scenario, ready to run with any seed.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The scenario file's stem, e.g. `pingmesh_partition`.
    pub name: String,
    /// The scenario file.
    pub path: PathBuf,
    /// The model file.
    pub model_path: PathBuf,
    /// The system.
    pub model: Model,
    /// The seed written in the file.
    pub seed: u64,
    /// The link every pair uses unless overridden.
    pub default_link: LinkSpec,
    /// Per-pair overrides, by node names, one direction each.
    pub links: Vec<(String, String, LinkSpec)>,
    /// The fault schedule.
    pub faults: Vec<crate::net::FaultSpec>,
    /// When the run stops.
    pub limits: Limits,
}

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

/// Reads and checks a scenario file and the model it names.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let source = read(path)?;
    let raw: raw::Scenario = validate::parse(path, &source)?;
    let model_path = path.parent().unwrap_or(Path::new(".")).join(&raw.model);
    let model_source = std::fs::read_to_string(&model_path).map_err(|e| {
        let mut check = Checker::new(path, &source);
        check.error(
            &[Step::Field("model")],
            format!("cannot read model file {}: {e}", model_path.display()),
            "no such model",
            Some(
                "the model path is relative to the scenario file, e.g. \"../models/food_delivery.ron\""
                    .into(),
            ),
        );
        ScenarioError::invalid(check.errors)
    })?;
    let model = load_model(&model_path, &model_source)?;
    let mut check = Checker::new(path, &source);
    let mut topology = Topology::new(None);
    for name in model.node_names() {
        topology.add_node(&name).expect("model node names are unique");
    }
    let default_link = validate::link(
        &mut check,
        &raw.network.default,
        &[Step::Field("network"), Step::Field("default")],
        "default link",
    );
    let mut links = Vec::new();
    for (index, over) in raw.network.links.iter().enumerate() {
        let path = [Step::Field("network"), Step::Field("links"), Step::Index(index)];
        let what = format!("link {}->{}", over.from, over.to);
        let spec = validate::link(
            &mut check,
            &over.link,
            &[&path[..], &[Step::Field("link")]].concat(),
            &what,
        );
        for name in [&over.from, &over.to] {
            if let Err(e) = topology.resolve(name) {
                check.error_at_name(
                    &path,
                    name,
                    format!("unknown node `{name}`"),
                    "not a node of the model",
                    Some(e.to_string()),
                );
            }
        }
        links.push((over.from.clone(), over.to.clone(), spec));
        if over.both_ways {
            links.push((over.to.clone(), over.from.clone(), spec));
        }
    }
    let faults = validate::faults(&mut check, &raw.faults, &topology);
    if !check.errors.is_empty() {
        return Err(ScenarioError::invalid(check.errors));
    }
    Ok(Scenario {
        name: path
            .file_stem()
            .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned()),
        path: path.to_path_buf(),
        model_path,
        model,
        seed: raw.seed,
        default_link,
        links,
        faults,
        limits: validate::limits(&raw.stop),
    })
}

fn read(path: &Path) -> Result<String, ScenarioError> {
    std::fs::read_to_string(path).map_err(|e| ScenarioError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Reads and checks a model file on its own (`consim check` on a model).
pub fn load_model(path: &Path, source: &str) -> Result<Model, ScenarioError> {
    let raw: raw::Model = validate::parse(path, source)?;
    let mut check = Checker::new(path, source);
    let model = match raw {
        raw::Model::Pingmesh {
            nodes,
            chains,
            resend_after,
        } => {
            if nodes < 2 {
                check.error(
                    &[Step::Field("nodes")],
                    format!("a pingmesh needs at least 2 nodes, got {nodes}"),
                    "too few",
                    Some("each hop goes to another node".into()),
                );
            }
            if chains == 0 {
                check.error(
                    &[Step::Field("chains")],
                    "a pingmesh needs at least 1 chain",
                    "no work",
                    None,
                );
            }
            validate::nonzero(
                &mut check,
                resend_after.0,
                &[Step::Field("resend_after")],
                "resend_after",
            );
            Model::Pingmesh(PingmeshConfig {
                node_count: nodes,
                chain_count: chains,
                resend_after: resend_after.0,
                ..PingmeshConfig::default()
            })
        }
    };
    if check.errors.is_empty() {
        Ok(model)
    } else {
        Err(ScenarioError::invalid(check.errors))
    }
}

impl Scenario {
    /// Runs the scenario with `seed`, keeping the trace at `trace_level`.
    pub fn run(&self, seed: u64, trace_level: TraceLevel) -> Run {
        match &self.model {
            Model::Pingmesh(config) => {
                let mut builder = WorldBuilder::new(seed, Some(self.default_link));
                for name in self.model.node_names() {
                    builder
                        .add_actor(&name, PingActor::new(*config))
                        .expect("unique names");
                }
                self.configure(&mut builder, trace_level);
                let mut world = builder.build().expect("validated at load");
                let outcome = world.run(self.limits);
                Run {
                    report: RunReport::new(&self.name, self.model.kind(), seed, &world, outcome),
                    trace: world.trace().clone(),
                    names: world.names().to_vec(),
                }
            }
        }
    }

    fn configure<M: crate::world::Message>(&self, builder: &mut WorldBuilder<M>, trace_level: TraceLevel) {
        for (from, to, spec) in &self.links {
            let topology = builder.topology();
            let (a, b) = (
                topology.resolve(from).expect("validated"),
                topology.resolve(to).expect("validated"),
            );
            builder.link(a, b, *spec);
        }
        for fault in &self.faults {
            builder.fault(fault.clone());
        }
        builder.trace_level(trace_level);
    }
}

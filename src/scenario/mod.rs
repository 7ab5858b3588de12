//! Scenario and model files: reading them and checking them. Running a checked scenario is
//! `runner`'s; this module runs nothing.
//!
//! A scenario names its model (a path relative to the scenario file), a seed, the network,
//! the fault schedule and the stop condition. `load` parses both files with serde + ron,
//! then `validate.rs` checks names, probabilities, distributions and fault windows, and
//! reports every mistake with file, line, column and a hint (`error.rs`, `locate.rs`).
//! `graph.rs` draws a checked model's topology for `consim graph`.
//!
//! **Boundary:** the raw serde types (`raw.rs`) stay in this module; nothing below it
//! derives `Deserialize`.

pub mod aim;
mod decisions;
pub mod error;
pub mod graph;
mod instances;
pub mod locate;
mod overrides;
pub mod raw;
pub mod system_model;
pub mod system_setup;
pub mod validate;

use std::hash::Hasher as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use error::{FileError, ScenarioError};
pub use graph::{dot, topology};

use crate::assembly::SystemConfig;
use crate::check::{CheckKind, Verdict};
use crate::net::{FaultSpec, LinkSpec, Topology};
use crate::pingmesh::PingmeshConfig;
use crate::report::RunReport;
use crate::sim::hash::StableHasher;
use crate::world::Limits;
use locate::Step;
use validate::Checker;

/// The system a model file describes.
#[derive(Clone, Debug)]
pub enum Model {
    /// The kernel's reference workload: actors passing message chains (see `pingmesh`).
    Pingmesh(PingmeshConfig),
    /// Services, their data and a business transaction.
    System(Arc<crate::system::model::Model>),
}

impl Model {
    /// The model's kind, as reports print it.
    pub fn kind(&self) -> &'static str {
        match self {
            Model::Pingmesh(_) => "pingmesh",
            Model::System(_) => "system",
        }
    }
}

/// A checked scenario, ready to run with any seed: names are resolved and every default
/// applied, so a run reads its settings from here and nowhere else.
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
    /// When the run stops.
    pub limits: Limits,
    /// What the run is built from.
    pub setup: Setup,
    /// What is legal but probably not meant (a fault that never heals), one line each, for
    /// the command line to print before it runs.
    pub warnings: Vec<String>,
    /// A stable hash of the scenario and model files' text and of any strategy switch, so
    /// outcomes of different runs (sweep shards on other machines) can be told to come from
    /// the same scenario or not. See [`Scenario::fingerprint_hex`].
    pub fingerprint: u64,
    /// What faults can aim at: each actor's points, the message kinds (swarm testing draws
    /// from them).
    pub targets: aim::Targets,
    /// The file as read, for what rewrites it (swarm testing, shrink).
    pub raw: raw::Scenario,
}

/// What a scenario's run is built from, by kind of model.
#[derive(Clone, Debug)]
pub enum Setup {
    /// A pingmesh: its nodes are the model's; the network is the scenario's.
    Pingmesh {
        /// The link every pair uses unless overridden.
        default_link: LinkSpec,
        /// Per-pair overrides, by node names, one direction each.
        links: Vec<(String, String, LinkSpec)>,
        /// The fault schedule.
        faults: Vec<FaultSpec>,
        /// When every fault is lifted, if ever.
        heal_at: Option<crate::sim::Instant>,
    },
    /// A business system: the configuration its actors are built from (network and faults
    /// included), and the checks that must hold.
    System {
        /// Everything the run is made of but the seed (boxed: it is far larger than a
        /// pingmesh's setup).
        config: Box<SystemConfig>,
        /// Checks that must hold (exit code 2 otherwise); empty means all.
        must_hold: Vec<CheckKind>,
    },
}

/// Reads and checks a scenario file and the model it names.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_source(path, &read(path)?)
}

/// The file's text with each `path=value` of `sets` applied (`--set`), to be checked like
/// the file itself; an error names the `--set` that cannot apply.
pub fn with_sets(source: &str, sets: &[String]) -> Result<String, String> {
    sets.iter()
        .try_fold(source.to_string(), |text, set| overrides::apply(&text, set))
}

/// [`load`] with `sets` applied first.
pub fn load_with_sets(path: &Path, sets: &[String]) -> Result<Scenario, ScenarioError> {
    let source = read(path)?;
    let edited = with_sets(&source, sets).map_err(ScenarioError::BadSet)?;
    load_source(path, &edited)
}

/// Checks scenario text as if it were the file at `path` (its model path is relative to
/// `path`'s directory). The shrinker checks the scenarios it writes this way.
pub fn load_source(path: &Path, source: &str) -> Result<Scenario, ScenarioError> {
    let raw: raw::Scenario = validate::parse(path, source)?;
    let model_path = path.parent().unwrap_or(Path::new(".")).join(&raw.model);
    let model_source = read_bounded(&model_path, MAX_FILE_BYTES).map_err(|e| {
        let mut check = Checker::new(path, source);
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
    let fingerprint = {
        let mut hasher = StableHasher::new();
        hasher.write(source.as_bytes());
        hasher.write(model_source.as_bytes());
        hasher.finish()
    };
    let mut check = Checker::new(path, source);
    let (system, node_names, targets) = match &model {
        Model::Pingmesh(config) => {
            reject_system_sections(&mut check, &raw);
            let names: Vec<String> = (0..config.node_count).map(|i| format!("n{i}")).collect();
            let targets = aim::Targets::none(&names);
            aim::no_intrusions(&mut check, &raw.faults);
            (None, names, targets)
        }
        Model::System(system_model) => {
            let setup = system_setup::setup(&mut check, &raw, system_model);
            let mut setup = setup;
            let (names, targets) = match &mut setup {
                Some((config, _)) => {
                    let names = crate::assembly::actor_names(system_model, &*config.strategy);
                    let targets = aim::Targets::of_system(system_model, &*config.strategy, &names);
                    config.intrusions = aim::intrusions(&mut check, &raw.faults, system_model, &targets);
                    config.instance_crashes = instances::crashes(&mut check, &raw.faults, system_model);
                    config.paces = system_model::paces(&mut check, &raw.actors, &config.strategy);
                    (names, targets)
                }
                None => {
                    let mut names = vec!["client".to_string(), "gateway".to_string()];
                    names.extend(system_model.services.iter().map(|s| s.name.clone()));
                    (names, aim::Targets::unchecked())
                }
            };
            (setup, names, targets)
        }
    };
    let mut topology = Topology::new(None);
    for name in &node_names {
        topology.add_node(name).expect("actor names are unique");
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
                validate::unknown_node(&mut check, &path, name, &e);
            }
        }
        links.push((over.from.clone(), over.to.clone(), spec));
        if over.both_ways {
            links.push((over.to.clone(), over.from.clone(), spec));
        }
    }
    let faults = validate::faults(&mut check, &raw.faults, &topology, &targets);
    if let Some(swarm) = &raw.swarm {
        validate::swarm(&mut check, swarm);
    }
    let heal_at = raw.heal_at.map(|d| crate::sim::Instant::ZERO + d.0);
    if let Some(heal) = heal_at
        && check.errors.is_empty()
    {
        validate::faults_start_before(&mut check, &raw.faults, heal);
    }
    if !check.errors.is_empty() {
        return Err(ScenarioError::invalid(check.errors));
    }
    let mut limits = validate::limits(&raw.stop);
    let warnings = match heal_at {
        Some(_) => Vec::new(),
        None => never_healing(&faults, &mut limits, raw.workload.as_ref()),
    };
    let setup = match system {
        Some((config, must_hold)) => Setup::System {
            config: Box::new(SystemConfig {
                default_link,
                links,
                faults,
                heal_at,
                ..config
            }),
            must_hold,
        },
        None => Setup::Pingmesh {
            default_link,
            links,
            faults,
            heal_at,
        },
    };
    Ok(Scenario {
        name: path
            .file_stem()
            .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned()),
        path: path.to_path_buf(),
        model_path,
        model,
        seed: raw.seed,
        limits,
        setup,
        warnings,
        fingerprint,
        targets,
        raw,
    })
}

/// Virtual time a run with a fault that never heals gets after the latest fault starts and
/// its workload's expected end, when the file sets no `stop.time`.
pub const NEVER_HEALS_GRACE: crate::sim::Duration = crate::sim::Duration::from_secs(60);

/// Warnings for faults that never heal, and, unless the file bounds the run's time itself,
/// a time limit: such a run would otherwise go on to its event limit (10^8 events) with
/// retries and timers that can never succeed.
fn never_healing(faults: &[FaultSpec], limits: &mut Limits, workload: Option<&raw::Workload>) -> Vec<String> {
    let mut warnings = Vec::new();
    let mut latest_start = crate::sim::Instant::ZERO;
    for (index, fault) in faults.iter().enumerate() {
        let (kind, start, heals) = match fault {
            FaultSpec::Partition { from, until, .. } => ("partition", *from, until.is_some()),
            FaultSpec::OneWay { from, until, .. } => ("one-way cut", *from, until.is_some()),
            FaultSpec::LinkDown { from, until, .. } => ("link down", *from, until.is_some()),
            FaultSpec::Crash { at, restart_at, .. } => ("crash", *at, restart_at.is_some()),
            FaultSpec::AtPoint(fault) => (
                "fault at a point",
                crate::sim::Instant::ZERO,
                !fault.effect.lasts_for_good(),
            ),
            FaultSpec::OnMessage(_) | FaultSpec::ClockDrift { .. } => continue,
        };
        if !heals {
            latest_start = latest_start.max(start);
            warnings.push(format!(
                "fault #{} ({kind}) never heals: nothing is promised after it (convergence is not judged)",
                index + 1
            ));
        }
    }
    if !warnings.is_empty() && limits.until.is_none() {
        let workload_end = workload.map_or(crate::sim::Duration::ZERO, expected_duration);
        let bound = latest_start.max(crate::sim::Instant::ZERO + workload_end) + NEVER_HEALS_GRACE;
        limits.until = Some(bound);
        warnings.push(format!(
            "so the run stops at {} of virtual time (the workload's expected end or the fault, whichever is later, plus {NEVER_HEALS_GRACE}); set `stop: Stop(time: ...)` to choose",
            bound.saturating_since(crate::sim::Instant::ZERO)
        ));
    }
    warnings
}

/// How long a workload takes to send, on average.
pub fn expected_duration(workload: &raw::Workload) -> crate::sim::Duration {
    let requests = workload.requests;
    let us = match workload.arrival {
        raw::Arrival::Poisson { rate_per_s } if rate_per_s > 0.0 => {
            (requests as f64 / rate_per_s * 1e6) as u64
        }
        raw::Arrival::Poisson { .. } => 0,
        raw::Arrival::Constant(interval) => requests.saturating_mul(interval.0.as_us()),
        raw::Arrival::Bursts { size, every, .. } => {
            (requests / u64::from(size.max(1))).saturating_mul(every.0.as_us())
        }
    };
    crate::sim::Duration::from_us(us)
}

/// A pingmesh scenario has no services: strategy, workload and the rest make no sense.
fn reject_system_sections(check: &mut Checker<'_>, raw: &raw::Scenario) {
    let present = [
        ("strategy", raw.strategy.is_some()),
        ("workload", raw.workload.is_some()),
        ("gateway", raw.gateway.is_some()),
        ("services", raw.services.is_some()),
        ("broker", raw.broker.is_some()),
        ("checks", raw.checks.is_some()),
    ];
    for (field, is_present) in present {
        if is_present {
            check.error(
                &[Step::Field(field)],
                format!("a pingmesh model takes no `{field}`"),
                "not for this model",
                Some("these sections belong to System models (models/food_delivery.ron, ...)".into()),
            );
        }
    }
}

/// The largest scenario or model file read: both are a few kilobytes of text, and reading
/// stops here, so a wrong path such as `/dev/zero` cannot exhaust memory or never end.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Reads a text file of at most `max` bytes, refusing a larger one (or an endless one)
/// with an error that says so, without reading more than `max + 1` bytes.
pub fn read_bounded(path: &Path, max: u64) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(max + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB, more than this command reads from one file (is it the right file?)",
            max >> 20
        )));
    }
    Ok(text)
}

fn read(path: &Path) -> Result<String, ScenarioError> {
    read_bounded(path, MAX_FILE_BYTES).map_err(|e| ScenarioError::Unreadable {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// The most nodes a pingmesh may have: partitions list the node pairs they cut, n² of them.
pub const MAX_PINGMESH_NODES: u32 = 1_024;

/// Reads and checks a model file on its own (`consim check` on a model).
pub fn load_model(path: &Path, source: &str) -> Result<Model, ScenarioError> {
    let raw: raw::Model = validate::parse(path, source)?;
    let mut check = Checker::new(path, source);
    let name = path
        .file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned());
    let model = match raw {
        raw::Model::System(system) => match system_model::system(&mut check, &system, &name) {
            Some(model) => Model::System(Arc::new(model)),
            None => return Err(ScenarioError::invalid(check.errors)),
        },
        raw::Model::Pingmesh {
            nodes,
            chains,
            resend_after,
        } => {
            if nodes > MAX_PINGMESH_NODES {
                check.error(
                    &[Step::Field("nodes")],
                    format!("a pingmesh has at most {MAX_PINGMESH_NODES} nodes, got {nodes}"),
                    "too many",
                    Some("partitions list every pair of nodes they cut, so costs grow with the square of the count".into()),
                );
            }
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
    /// The configuration a business-system run is built from (system models only).
    pub fn system_config(&self) -> Option<&SystemConfig> {
        match &self.setup {
            Setup::System { config, .. } => Some(config),
            Setup::Pingmesh { .. } => None,
        }
    }

    /// The same, to change (a test that tightens a setting).
    pub fn system_config_mut(&mut self) -> Option<&mut SystemConfig> {
        match &mut self.setup {
            Setup::System { config, .. } => Some(config),
            Setup::Pingmesh { .. } => None,
        }
    }

    /// The link every pair uses unless overridden.
    pub fn default_link(&self) -> LinkSpec {
        match &self.setup {
            Setup::System { config, .. } => config.default_link,
            Setup::Pingmesh { default_link, .. } => *default_link,
        }
    }

    /// Per-pair link overrides, by actor names, one direction each.
    pub fn links(&self) -> &[(String, String, LinkSpec)] {
        match &self.setup {
            Setup::System { config, .. } => &config.links,
            Setup::Pingmesh { links, .. } => links,
        }
    }

    /// The fault schedule.
    pub fn faults(&self) -> &[FaultSpec] {
        match &self.setup {
            Setup::System { config, .. } => &config.faults,
            Setup::Pingmesh { faults, .. } => faults,
        }
    }

    /// When every fault is lifted, if the scenario says.
    pub fn heal_at(&self) -> Option<crate::sim::Instant> {
        match &self.setup {
            Setup::System { config, .. } => config.heal_at,
            Setup::Pingmesh { heal_at, .. } => *heal_at,
        }
    }

    /// The fault schedule, to change (a test that lifts a fault to compare).
    pub fn faults_mut(&mut self) -> &mut Vec<FaultSpec> {
        match &mut self.setup {
            Setup::System { config, .. } => &mut config.faults,
            Setup::Pingmesh { faults, .. } => faults,
        }
    }

    /// The same scenario under another strategy (its default settings, or the scenario's own
    /// when it names the same strategy). Errors list the valid names.
    pub fn with_strategy(&self, name: &str) -> Result<Scenario, String> {
        let Some(config) = self.system_config() else {
            return Err(format!(
                "{} runs a pingmesh model, which has no strategy",
                self.path.display()
            ));
        };
        let strategy = match crate::strategy::registry::named(name)? {
            named if named.name() == config.strategy.name() => config.strategy.clone(),
            named => named,
        };
        if let Some(problem) = crate::strategy::misfits(&*strategy, &config.model)
            .into_iter()
            .next()
        {
            return Err(problem.message);
        }
        // Faults and links name actors; another strategy has other actors.
        let mut topology = Topology::new(None);
        for name in crate::assembly::actor_names(&config.model, &*strategy) {
            topology.add_node(&name).expect("actor names are unique");
        }
        let misfit = |e: crate::net::ConfigError| {
            format!("the scenario does not fit strategy {}: {e}", strategy.name())
        };
        for (from, to, _) in &config.links {
            topology.resolve(from).map_err(misfit)?;
            topology.resolve(to).map_err(misfit)?;
        }
        crate::net::FaultPlan::compile(&config.faults, &topology).map_err(misfit)?;
        let mut hasher = StableHasher::new();
        hasher.write_u64(self.fingerprint);
        hasher.write(strategy.name().as_bytes());
        let mut scenario = self.clone();
        let names = crate::assembly::actor_names(&config.model, &*strategy);
        scenario.targets = aim::Targets::of_system(&config.model, &*strategy, &names);
        scenario.raw.strategy = Some(strategy.clone());
        if let Setup::System { config, .. } = &mut scenario.setup {
            config.strategy = strategy;
        }
        scenario.fingerprint = hasher.finish();
        Ok(scenario)
    }

    /// Checks the scenario lists under `must_hold` (possibly none).
    pub fn must_hold(&self) -> &[CheckKind] {
        match &self.setup {
            Setup::System { must_hold, .. } => must_hold,
            Setup::Pingmesh { .. } => &[],
        }
    }

    /// The checks whose failure fails a run of this scenario: those under `must_hold`, or
    /// every check when it lists none. `run`'s exit code, `sweep`'s failing seeds,
    /// `compare`'s violation counts and `shrink`'s default target all ask this, so they
    /// never disagree on what a failing seed is.
    pub fn required_checks(&self) -> &[CheckKind] {
        match self.must_hold() {
            [] => &CheckKind::ALL,
            listed => listed,
        }
    }

    /// The verdicts of `report` that fail this scenario: required checks violated or not
    /// judged (a run stopped by a limit with work in flight proves nothing).
    pub fn failures<'a>(&'a self, report: &'a RunReport) -> impl Iterator<Item = &'a Verdict> {
        report.not_holding(self.required_checks())
    }

    /// The fingerprint as 16 hex digits, as sweep outcomes carry it.
    pub fn fingerprint_hex(&self) -> String {
        format!("{:016x}", self.fingerprint)
    }
}

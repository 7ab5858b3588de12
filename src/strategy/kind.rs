//! The closed list of strategies a scenario can pick, with their settings.

use super::{Strategy, eventual, saga_choreographed, saga_orchestrated, two_pc};

/// A strategy and its settings, as a scenario selects it. This enum holds the only `match`
/// over strategies; adding one is a new variant here and a new module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StrategyKind {
    /// Two-phase commit with a coordinator.
    TwoPc(two_pc::Config),
    /// A saga run by an orchestrator.
    SagaOrchestrated(saga_orchestrated::Config),
    /// A saga by events, no coordinator.
    SagaChoreographed(saga_choreographed::Config),
    /// Eventual consistency through events and an outbox.
    Eventual(eventual::Config),
}

impl StrategyKind {
    /// Every strategy's name, in report order.
    pub const NAMES: [&'static str; 4] = ["two_pc", "saga_orchestrated", "saga_choreographed", "eventual"];

    /// Every strategy with its default settings, in report order.
    pub fn all() -> [StrategyKind; 4] {
        [
            StrategyKind::TwoPc(two_pc::Config::default()),
            StrategyKind::SagaOrchestrated(saga_orchestrated::Config::default()),
            StrategyKind::SagaChoreographed(saga_choreographed::Config::default()),
            StrategyKind::Eventual(eventual::Config::default()),
        ]
    }

    /// The strategy called `name` with default settings; also accepts the short forms
    /// `2pc`, `saga`, `saga-orchestrated`, `saga-choreographed`, `choreography`.
    pub fn named(name: &str) -> Option<StrategyKind> {
        let canonical = match name.replace('-', "_").as_str() {
            "2pc" | "two_pc" | "twopc" => "two_pc",
            "saga" | "saga_orchestrated" | "orchestration" => "saga_orchestrated",
            "saga_choreographed" | "choreography" => "saga_choreographed",
            "eventual" => "eventual",
            _ => return None,
        };
        Self::all().into_iter().find(|k| k.name() == canonical)
    }

    /// The stable name: reports, snapshots, `--strategy`.
    pub fn name(&self) -> &'static str {
        match self {
            StrategyKind::TwoPc(_) => "two_pc",
            StrategyKind::SagaOrchestrated(_) => "saga_orchestrated",
            StrategyKind::SagaChoreographed(_) => "saga_choreographed",
            StrategyKind::Eventual(_) => "eventual",
        }
    }

    /// Why this strategy cannot run `model`, if it cannot. Under two-phase commit each step
    /// is its own prepared local transaction holding its locks until the decision, so two
    /// steps of one service on one table can wait on each other's lock until the lock
    /// timeout aborts the transaction: every transaction that draws the same row for both
    /// would fail for no business reason.
    pub fn misfit(&self, model: &crate::system::model::Model) -> Option<String> {
        let StrategyKind::TwoPc(_) = self else {
            return None;
        };
        let steps = &model.steps;
        for (i, a) in steps.iter().enumerate() {
            for b in &steps[i + 1..] {
                if a.service == b.service && a.action.table() == b.action.table() {
                    return Some(format!(
                        "two_pc cannot run steps `{}` and `{}`: both write table `{}` of service `{}`, and each prepared step would hold its lock until the decision, blocking the other",
                        a.name,
                        b.name,
                        model.services[a.service.index()].tables[usize::from(a.action.table().0)].name,
                        model.services[a.service.index()].name
                    ));
                }
            }
        }
        None
    }

    /// Every problem with the settings, each naming its field.
    pub fn validate(&self) -> Vec<String> {
        match self {
            StrategyKind::TwoPc(c) => c.validate(),
            StrategyKind::SagaOrchestrated(c) => c.validate(),
            StrategyKind::SagaChoreographed(c) => c.validate(),
            StrategyKind::Eventual(c) => c.validate(),
        }
    }

    /// The strategy, ready to wire into a run.
    pub fn build(&self) -> Box<dyn Strategy> {
        match self {
            StrategyKind::TwoPc(c) => Box::new(two_pc::TwoPc { config: *c }),
            StrategyKind::SagaOrchestrated(c) => Box::new(saga_orchestrated::SagaOrchestrated::new(*c)),
            StrategyKind::SagaChoreographed(c) => Box::new(saga_choreographed::SagaChoreographed::new(*c)),
            StrategyKind::Eventual(c) => Box::new(eventual::Eventual::new(*c)),
        }
    }
}

//! The commands that tell a run's story: `explain` (a transaction's causal chain as text) and
//! `diagram` (as a Mermaid sequence diagram).

use std::path::Path;

use clap::Args;
use consim::story::{DiagramOptions, Story};

use super::{Failure, bad_input, load_scenario};

/// What `explain` and `diagram` share: which run, and which transaction in it.
#[derive(Args, Debug)]
pub(super) struct StoryArgs {
    /// The scenario file (RON).
    scenario: std::path::PathBuf,
    /// The seed (default: the file's).
    #[arg(long)]
    seed: Option<u64>,
    /// The transaction (default: the first one a check found violated).
    #[arg(long)]
    gtx: Option<u64>,
    /// Run under this strategy instead of the file's.
    #[arg(long)]
    strategy: Option<String>,
}

/// `diagram`'s filters.
#[derive(Args, Debug)]
pub(super) struct DiagramArgs {
    #[command(flatten)]
    story: StoryArgs,
    /// Only these actors, comma-separated.
    #[arg(long, value_delimiter = ',')]
    actors: Vec<String>,
    /// Nothing before this virtual time ("250ms").
    #[arg(long)]
    from: Option<String>,
    /// Nothing after this virtual time.
    #[arg(long)]
    until: Option<String>,
    /// Refuse a diagram longer than this many lines.
    #[arg(long, default_value_t = 300)]
    max_lines: usize,
    /// Draw protocol points and absorbed duplicates as notes too.
    #[arg(long)]
    points: bool,
}

fn story(args: &StoryArgs) -> Result<Story, Failure> {
    let mut scenario = load_scenario(&args.scenario)?;
    if let Some(name) = &args.strategy {
        scenario = scenario.with_strategy(name).map_err(bad_input)?;
    }
    if scenario.system_config().is_none() {
        return Err(bad_input(format!(
            "{} runs a pingmesh model: it has no transactions to explain",
            args.scenario.display()
        )));
    }
    let seed = args.seed.unwrap_or(scenario.seed);
    Story::of(&scenario, seed, args.gtx).map_err(bad_input)
}

pub(super) fn explain(args: &StoryArgs) -> Result<(), Failure> {
    out!("{}", consim::story::explain(&story(args)?));
    Ok(())
}

pub(super) fn diagram(args: &DiagramArgs) -> Result<(), Failure> {
    let time = |text: &Option<String>, what: &str| -> Result<Option<consim::sim::Instant>, Failure> {
        text.as_deref()
            .map(|t| {
                consim::duration_text::parse_duration(t)
                    .map(|d| consim::sim::Instant::ZERO + d)
                    .map_err(|e| bad_input(format!("--{what} {t}: {e}")))
            })
            .transpose()
    };
    let options = DiagramOptions {
        actors: args.actors.clone(),
        from: time(&args.from, "from")?,
        until: time(&args.until, "until")?,
        max_lines: args.max_lines,
        points: args.points,
    };
    let story = story(&args.story)?;
    let text = consim::story::diagram(&story, &options).map_err(bad_input)?;
    out!("{text}");
    Ok(())
}

/// The command that tells the story of `gtx` in a run of `path` on `seed`.
pub(super) fn explain_command(path: &Path, seed: u64, strategy: Option<&str>) -> String {
    let strategy = strategy.map(|s| format!(" --strategy {s}")).unwrap_or_default();
    format!("consim explain {} --seed {seed}{strategy}", path.display())
}

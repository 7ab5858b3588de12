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

/// `diff`'s arguments.
#[derive(Args, Debug)]
pub(super) struct DiffArgs {
    /// One scenario file run under two strategies (`--strategies`), or two files.
    #[arg(required = true, num_args = 1..=2)]
    scenarios: Vec<std::path::PathBuf>,
    /// With one file: the two strategies, comma-separated.
    #[arg(long, value_delimiter = ',')]
    strategies: Vec<String>,
    /// The seed (default: the first file's).
    #[arg(long)]
    seed: Option<u64>,
    /// Also draw this transaction in both runs, one Mermaid diagram after the other.
    #[arg(long)]
    gtx: Option<u64>,
}

pub(super) fn diff(args: &DiffArgs) -> Result<(), Failure> {
    let first = load_scenario(&args.scenarios[0])?;
    let pair = match (args.scenarios.len(), args.strategies.as_slice()) {
        (1, [a, b]) => [
            (a.clone(), first.with_strategy(a).map_err(bad_input)?),
            (b.clone(), first.with_strategy(b).map_err(bad_input)?),
        ],
        (2, []) => {
            let second = load_scenario(&args.scenarios[1])?;
            let label = |p: &std::path::Path| p.display().to_string();
            [
                (label(&args.scenarios[0]), first.clone()),
                (label(&args.scenarios[1]), second),
            ]
        }
        _ => {
            return Err(bad_input(
                "give one scenario and --strategies A,B, or two scenarios (and no --strategies)".into(),
            ));
        }
    };
    for (label, scenario) in &pair {
        if scenario.system_config().is_none() {
            return Err(bad_input(format!(
                "{label}: a pingmesh has no requests to compare"
            )));
        }
    }
    let seed = args.seed.unwrap_or(first.seed);
    let [(label_a, a), (label_b, b)] = pair;
    let (a, b) = (
        consim::story::Side::of(label_a, &a, seed),
        consim::story::Side::of(label_b, &b, seed),
    );
    out!("{}", consim::story::diff(&a, &b));
    if let Some(gtx) = args.gtx {
        let options = DiagramOptions {
            max_lines: 300,
            ..DiagramOptions::default()
        };
        for side in [a, b] {
            let label = side.label.clone();
            let story = Story::from_run(side.run, seed, Some(gtx)).map_err(bad_input)?;
            let text = consim::story::diagram(&story, &options).map_err(bad_input)?;
            outln!("\n%% {label}, gtx {gtx}\n{text}");
        }
    }
    Ok(())
}

//! The `consim` command line: parse arguments, load, run, print, exit.
//!
//! Exit codes: 0 the run completed and every required check held, 1 bad input (a message
//! with file, line and column is printed, or a mistake in the arguments), 2 a required check (those the scenario lists under
//! `must_hold`, every check if it lists none) failed or could not be judged (for `sweep`,
//! `merge` and `compare`: in some run, after printing the whole result; for `exercise grade`:
//! a criterion), 141 the reader of
//! stdout went away before the output was written, 101 a bug in consim (Rust's panic code).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use consim::scenario::{self, Scenario, ScenarioError};
use consim::sim::TraceLevel;

/// Prints to stdout like `print!`, but a reader that went away (`consim sweep ... | head -1`)
/// ends the program quietly with the shell's code for it, 141, instead of a panic: the
/// output was cut short, so the exit code must not say it was all delivered.
macro_rules! out {
    ($($arg:tt)*) => { $crate::emit(format_args!($($arg)*), false) };
}

/// [`out!`] with a newline, like `println!`.
macro_rules! outln {
    ($($arg:tt)*) => { $crate::emit(format_args!($($arg)*), true) };
}

/// Writes to stdout; a closed pipe exits with 141 (128 + SIGPIPE), any other failure with 1.
fn emit(text: std::fmt::Arguments<'_>, newline: bool) {
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_fmt(text)
        .and_then(|()| if newline { stdout.write_all(b"\n") } else { Ok(()) });
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        eprintln!("error: cannot write the output: {e}");
        std::process::exit(1);
    }
}

/// The binary's own modules live in `src/cli/`, apart from the library's.
#[path = "cli/catalog.rs"]
mod catalog;
#[path = "cli/compare.rs"]
mod compare;
#[path = "cli/exercise.rs"]
mod exercise;
#[path = "cli/story.rs"]
mod story;

use catalog::{check, graph, list, points};
use compare::compare;

/// The scenario `consim` runs when given no arguments.
const DEFAULT_SCENARIO: &str = "scenarios/food_happy_path.ron";

/// consim: a deterministic simulator of microservices and their consistency strategies.
///
/// Every run is reproducible: the same scenario and seed give the same trace hash, on every
/// machine. Start with `consim run scenarios/food_happy_path.ron`, then change the seed or the
/// faults in the file and compare.
#[derive(Parser, Debug)]
#[command(
    version,
    about,
    long_about,
    after_help = "With no command, runs the bundled default scenario (scenarios/food_happy_path.ron)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Change one field of the scenario before it is read, checked like the file:
    /// --set workload.requests=100 --set workload.arrival.rate_per_s=900.0 (repeatable).
    #[arg(long = "set", value_name = "PATH=VALUE", global = true)]
    set: Vec<String>,
}

/// The `--set` overrides, applied to every scenario a command loads.
static SETS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

#[derive(Subcommand, Debug)]
enum Command {
    /// Run one scenario and print its report.
    ///
    /// The report says why the run stopped, how long it took in virtual time, how many
    /// events it processed, what happened to messages, and the trace hash that anyone can
    /// use to check they reproduced the same run.
    Run {
        /// The scenario file (RON), e.g. scenarios/pingmesh.ron.
        scenario: PathBuf,
        /// Use this seed instead of the one in the file.
        #[arg(long)]
        seed: Option<u64>,
        /// Run under this strategy instead of the file's (`consim list` names them; default
        /// settings unless the file names the same one).
        #[arg(long)]
        strategy: Option<String>,
        /// Report format: a table for people, JSON (stable schema, see README) for scripts.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Also write every event to FILE: JSON lines (at_us, seq, event, src, dst, note, gtx,
        /// step, kind, fields; see README), or with --trace-format chrome a Chrome trace that
        /// ui.perfetto.dev opens.
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
        /// The --trace file's format.
        #[arg(long, value_enum, default_value_t = TraceFormat::Jsonl, requires = "trace")]
        trace_format: TraceFormat,
        /// Also write a self-contained HTML report (the report, charts, and the transactions
        /// with their sequence diagrams) to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// Run the seed's swarm draw (as `sweep --swarm` does) instead of the file's faults.
        #[arg(long)]
        swarm: bool,
        /// With --swarm, also write the drawn scenario to FILE: a plain scenario that
        /// replays the seed without --swarm.
        #[arg(long, value_name = "FILE", requires = "swarm")]
        swarm_out: Option<PathBuf>,
    },
    /// Run one scenario under several strategies and seeds, side by side (or several
    /// scenario files that differ in a setting).
    ///
    /// Every seed gives every column the same arrivals and the same faults (common random
    /// numbers), so the columns differ only by strategy (or setting). Means with 95%
    /// confidence intervals, and each column's paired difference from the first.
    Compare {
        /// The scenario file (RON) of a system model; several files make one column each
        /// (per strategy), for comparing settings.
        #[arg(required = true, num_args = 1..)]
        scenarios: Vec<PathBuf>,
        /// Strategies, comma-separated (default: all four for one file; each file's own
        /// strategy for several).
        #[arg(long, value_delimiter = ',')]
        strategies: Option<Vec<String>>,
        /// Seeds: 7, 0..100 (end excluded) or 0..=99.
        #[arg(long, default_value = "0..10")]
        seeds: String,
        /// Output: a table, JSON (summaries and every run) or CSV (every run).
        #[arg(long, value_enum, default_value_t = CompareFormat::Table)]
        format: CompareFormat,
        /// Worker threads (default: all cores). Results do not depend on it.
        #[arg(long)]
        threads: Option<usize>,
        /// Also write a self-contained HTML report (table, charts, each column's first-seed
        /// transactions with their diagrams) to FILE.
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
        /// A load curve: run the comparison at each value of one setting,
        /// PATH=FROM..TO:STEP (e.g. workload.arrival.rate_per_s=200..3000:200), and print
        /// throughput, p99 latency and availability against it, with each strategy's
        /// saturation point.
        #[arg(long, value_name = "PATH=FROM..TO:STEP")]
        vary: Option<String>,
    },
    /// Run one scenario over many seeds on every core and report the seeds that break a check.
    ///
    /// A seed fails when a check the scenario lists under `must_hold` (every check if it
    /// lists none) is violated or cannot be judged. Each failing seed is printed with the
    /// command that replays it. Exit code 2 when some seed failed.
    Sweep(SweepArgs),
    /// Shrink a failing seed to a smaller scenario file that still violates the same check.
    ///
    /// Drops faults, shortens fault windows, halves requests, removes audits, loss and
    /// duplication while the seed still violates the check, then writes the result as a
    /// scenario file (seed pinned, the check under must_hold) that `consim run` replays.
    Shrink(ShrinkArgs),
    /// Merge the JSON lines of sweep shards into one summary (failing seeds, replays).
    Merge {
        /// JSON-lines files written by `consim sweep --format jsonl`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check scenario or model files without running them; reports every mistake found.
    Check {
        /// Files to check.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Draw a model's topology as a graph (Graphviz DOT): who calls whom, per step.
    ///
    /// Pipe it into `dot -Tsvg > model.svg` to see it.
    Graph {
        /// The model file (RON), e.g. models/food_delivery.ron.
        model: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// List the bundled models, scenarios and strategies, one line each.
    List,
    /// Tell the story of a transaction: every message, local commit, timer, retry,
    /// deduplication and fault on the actors involved, in order, ending at the invariant it
    /// broke, and what never happened (default: the first violated transaction).
    Explain(story::StoryArgs),
    /// Draw a transaction as a Mermaid sequenceDiagram (GitHub and most Markdown viewers
    /// render it): messages as arrows, lost ones crossed, faults as notes.
    Diagram(story::DiagramArgs),
    /// Compare two runs of one workload (two strategies, or two files) on one seed: where
    /// their traces first part, and which requests were answered differently.
    Diff(story::DiffArgs),
    /// Classroom exercises: `list` them, `show` one, `grade` a student's work.
    Exercise {
        #[command(subcommand)]
        command: exercise::ExerciseCommand,
    },
    /// List the protocol points (where a role does something durable or visible), one
    /// `role point — meaning` per line: the services' own, then each strategy's with the
    /// message kinds faults can aim at.
    Points {
        /// Only this strategy's (and the services').
        #[arg(long)]
        strategy: Option<String>,
        /// As the Markdown table README.md's "Aiming faults" shows.
        #[arg(long)]
        markdown: bool,
    },
}

/// What `--trace` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TraceFormat {
    /// One JSON object per event.
    Jsonl,
    /// Chrome trace-event JSON (ui.perfetto.dev, chrome://tracing).
    Chrome,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum CompareFormat {
    Table,
    Json,
    Csv,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SweepFormat {
    Table,
    Jsonl,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum GraphFormat {
    Dot,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Json,
}

fn main() -> ExitCode {
    let cli: Cli = match consim::args::parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    let _ = SETS.set(cli.set);
    let result = match cli.command {
        None => {
            eprintln!(
                "no command given: running the bundled default scenario {DEFAULT_SCENARIO} (see `consim --help`)"
            );
            run(
                Path::new(DEFAULT_SCENARIO),
                None,
                None,
                Format::Table,
                (None, None),
                None,
            )
        }
        Some(Command::Run {
            scenario,
            seed,
            strategy,
            format,
            trace,
            trace_format,
            html,
            swarm,
            swarm_out,
        }) => {
            let swarm = swarm.then_some(swarm_out.as_deref());
            let trace = trace.as_deref().map(|path| (path, trace_format));
            let outputs = (trace, html.as_deref());
            run(&scenario, seed, strategy.as_deref(), format, outputs, swarm)
        }
        Some(Command::Compare {
            scenarios,
            strategies,
            seeds,
            format,
            threads,
            html,
            vary,
        }) => compare(
            &scenarios,
            strategies.as_deref(),
            &seeds,
            (format, html.as_deref()),
            (threads, vary.as_deref()),
        ),
        Some(Command::Sweep(args)) => sweep(&args),
        Some(Command::Merge { files }) => merge(&files),
        Some(Command::Shrink(args)) => shrink(&args),
        Some(Command::Check { files }) => check(&files),
        Some(Command::Graph {
            model,
            format: GraphFormat::Dot,
        }) => graph(&model),
        Some(Command::List) => list(),
        Some(Command::Points { strategy, markdown }) => points(strategy.as_deref(), markdown),
        Some(Command::Explain(args)) => story::explain(&args),
        Some(Command::Diagram(args)) => story::diagram(&args),
        Some(Command::Diff(args)) => story::diff(&args),
        Some(Command::Exercise { command }) => exercise::exercise(&command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(report)) => {
            eprintln!("{report:?}");
            ExitCode::from(1)
        }
        Err(Failure::BadArgument(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
        Err(Failure::MustHoldViolated(checks)) => {
            eprintln!(
                "checks the scenario requires were violated or could not be judged: {}",
                checks.join(", ")
            );
            ExitCode::from(2)
        }
        Err(Failure::SeedsFailed(count)) => {
            eprintln!("{count} seeds failed a required check (see above for replay commands)");
            ExitCode::from(2)
        }
        Err(Failure::RunsFailed(count)) => {
            eprintln!(
                "{count} runs failed a required check (the `violated` field of JSON and CSV names them)"
            );
            ExitCode::from(2)
        }
        Err(Failure::CriteriaFailed) => ExitCode::from(2),
    }
}

enum Failure {
    /// Mistakes located in files, drawn with their excerpts.
    BadInput(miette::Report),
    /// A mistake in the arguments, in one line.
    BadArgument(String),
    /// The run completed but a check the scenario requires failed.
    MustHoldViolated(Vec<String>),
    /// A sweep or merge found this many failing seeds.
    SeedsFailed(usize),
    /// A comparison found this many (strategy, seed) runs failing a required check.
    RunsFailed(usize),
    /// A graded exercise failed a criterion (the output says which).
    CriteriaFailed,
}

impl From<ScenarioError> for Failure {
    fn from(e: ScenarioError) -> Self {
        Failure::BadInput(render(e))
    }
}

/// Every located error drawn with its source excerpt, then a one-line count.
fn render(error: ScenarioError) -> miette::Report {
    if error.errors().is_empty() {
        // An unreadable file or a `--set` that cannot apply: its own message and help.
        return miette::Report::new(error);
    }
    let errors = error.into_errors();
    let count = errors.len();
    for (i, e) in errors.into_iter().enumerate() {
        if i + 1 < count {
            eprintln!("{:?}", miette::Report::new(e));
        } else {
            return miette::Report::new(e);
        }
    }
    unreachable!("the last error is returned")
}

/// A mistake with no place in a file (an argument, an unreadable path): one line, so
/// scripts and people read it whole.
fn bad_input(message: String) -> Failure {
    Failure::BadArgument(message)
}

/// `consim run`; `swarm` is `Some(where to write the draw, if anywhere)` with `--swarm`.
fn run(
    path: &Path,
    seed: Option<u64>,
    strategy: Option<&str>,
    format: Format,
    (trace, html): (Option<(&Path, TraceFormat)>, Option<&Path>),
    swarm: Option<Option<&Path>>,
) -> Result<(), Failure> {
    let mut scenario = load_scenario(path)?;
    if let Some(name) = strategy {
        scenario = scenario.with_strategy(name).map_err(bad_input)?;
    }
    let seed = seed.unwrap_or(scenario.seed);
    let file_path = scenario.path.clone();
    if let Some(out) = swarm {
        let swarmed = consim::swarm::swarmed(&scenario, seed)
            .unwrap_or_else(|e| panic!("swarm seed {seed} drew an invalid scenario: {e:?}"));
        if let Some(out) = out {
            std::fs::write(out, &swarmed.text)
                .map_err(|e| bad_input(format!("cannot write {}: {e}", out.display())))?;
        }
        scenario = swarmed.scenario;
    }
    let level = if trace.is_some() || html.is_some() {
        TraceLevel::Full
    } else {
        TraceLevel::Hash
    };
    let mut run = consim::runner::run(&scenario, seed, level);
    if swarm.is_none() {
        run.report.explain_with = Some(story::explain_command(&file_path, seed, strategy));
    }
    if let Some(path) = html {
        let title = format!("consim run: {}, seed {seed}", file_path.display());
        std::fs::write(path, consim::html::run_page(&title, &run))
            .map_err(|e| bad_input(format!("cannot write {}: {e}", path.display())))?;
    }
    match trace {
        Some((path, TraceFormat::Jsonl)) => write_trace(path, &run)?,
        Some((path, TraceFormat::Chrome)) => {
            let document = consim::chrome::chrome_trace(run.trace.entries(), &run.names);
            std::fs::write(path, document.to_string())
                .map_err(|e| bad_input(format!("cannot write trace to {}: {e}", path.display())))?;
        }
        None => {}
    }
    match format {
        Format::Table => {
            out!("{}", run.report.to_table());
            let strategy = strategy.map(|s| format!(" --strategy {s}")).unwrap_or_default();
            let swarm = if swarm.is_some() { " --swarm" } else { "" };
            outln!(
                "  replay: consim run {} --seed {seed}{strategy}{swarm}",
                file_path.display()
            );
        }
        Format::Json => outln!("{}", run.report.to_json()),
    }
    let not_holding: Vec<String> = scenario
        .failures(&run.report)
        .map(|v| v.check.name().to_string())
        .collect();
    if !not_holding.is_empty() {
        return Err(Failure::MustHoldViolated(not_holding));
    }
    Ok(())
}

fn write_trace(path: &Path, run: &consim::runner::Run) -> Result<(), Failure> {
    let file = std::fs::File::create(path)
        .map_err(|e| bad_input(format!("cannot write trace to {}: {e}", path.display())))?;
    let mut out = std::io::BufWriter::new(file);
    let name = |id: Option<consim::sim::ActorId>| id.map(|id| run.names[id.index()].clone());
    for e in run.trace.entries() {
        // Fields are a JSON object when the world describes its messages, else Debug text.
        let fields = serde_json::from_str::<serde_json::Value>(&e.detail)
            .unwrap_or_else(|_| serde_json::Value::String(e.detail.clone()));
        let line = serde_json::json!({
            "at_us": e.at.as_us(),
            "seq": e.seq,
            "event": e.kind.as_str(),
            "src": name(e.src),
            "dst": name(e.dst),
            "note": e.note,
            "gtx": e.tx,
            "step": e.step,
            "kind": (!e.msg_kind.is_empty()).then_some(e.msg_kind),
            "delivered_as": e.flow,
            "fields": (!e.detail.is_empty()).then_some(fields),
        });
        writeln!(out, "{line}")
            .map_err(|e| bad_input(format!("cannot write trace to {}: {e}", path.display())))?;
    }
    out.flush()
        .map_err(|e| bad_input(format!("cannot write trace to {}: {e}", path.display())))
}

/// `consim sweep`'s arguments.
#[derive(Args, Debug)]
struct SweepArgs {
    /// The scenario file (RON).
    scenario: PathBuf,
    /// Seeds: 7, 0..100000 (end excluded) or 0..=99.
    #[arg(long, default_value = "0..100")]
    seeds: String,
    /// Run only shard i of n (every n-th seed from the i-th, 1-based), e.g. 3/16, to
    /// spread a sweep over machines; merge their JSON lines with `consim merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Stop at the lowest failing seed instead of running every seed.
    #[arg(long)]
    stop_at_first: bool,
    /// Swarm testing: each seed draws its own fault mix (kinds, rates, timing) within the
    /// file's `swarm` bounds, replacing the file's faults; see README "Swarm testing".
    #[arg(long)]
    swarm: bool,
    /// Run under this strategy instead of the file's.
    #[arg(long)]
    strategy: Option<String>,
    /// Output: a summary with replay commands, or one JSON line per seed.
    #[arg(long, value_enum, default_value_t = SweepFormat::Table)]
    format: SweepFormat,
    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// No progress bar (it is drawn on stderr only when stderr is a terminal).
    #[arg(long)]
    quiet: bool,
}

fn sweep(args: &SweepArgs) -> Result<(), Failure> {
    let path = args.scenario.as_path();
    use consim::seeds::{Shard, parse_seeds};
    let seeds = parse_seeds(&args.seeds).map_err(bad_input)?;
    let shard = match &args.shard {
        Some(text) => Shard::parse(text).map_err(bad_input)?,
        None => Shard::WHOLE,
    };
    consim::seeds::check_runs(&seeds, shard).map_err(bad_input)?;
    let pool = worker_pool(args.threads)?;
    let mut scenario = load_scenario(path)?;
    if let Some(name) = &args.strategy {
        scenario = scenario.with_strategy(name).map_err(bad_input)?;
    }
    let options = consim::sweep::SweepOptions {
        seeds: seeds.clone(),
        shard,
        stop_at_first: args.stop_at_first,
        strategy_override: args.strategy.clone(),
        swarm: args.swarm,
    };
    let total = shard.len(&seeds);
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} seeds, {per_sec}, eta {eta}")
            .expect("a valid template"),
    );
    let result = consim::sweep::sweep(&scenario, &options, &pool, &|| bar.inc(1));
    bar.finish_and_clear();
    match args.format {
        SweepFormat::Table => out!("{}", result.to_table()),
        SweepFormat::Jsonl => out!("{}", result.to_json_lines()),
    }
    match result.failures().count() {
        0 => Ok(()),
        n => Err(Failure::SeedsFailed(n)),
    }
}

/// `consim shrink`'s arguments.
#[derive(Args, Debug)]
struct ShrinkArgs {
    /// The scenario file (RON).
    scenario: PathBuf,
    /// The failing seed (from `consim sweep`).
    #[arg(long)]
    seed: u64,
    /// Run under this strategy instead of the file's (naming the file's own strategy keeps
    /// its settings).
    #[arg(long)]
    strategy: Option<String>,
    /// The check to keep violated (default: the first required check the seed fails).
    #[arg(long)]
    check: Option<String>,
    /// Where to write the shrunk scenario (default: NAME_seedN_shrunk.ron in the current
    /// directory, never among the bundled scenarios).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The most runs to spend.
    #[arg(long, default_value_t = 400)]
    max_runs: usize,
    /// The most wall-clock time to spend, e.g. 90s or 10m: no new round starts after it,
    /// and the file says it may not be minimal.
    #[arg(long, default_value = "5m")]
    time_limit: String,
    /// Worker threads (default: all cores). The result does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
}

fn shrink(args: &ShrinkArgs) -> Result<(), Failure> {
    let path = args.scenario.as_path();
    use consim::check::CheckKind;
    let check = match &args.check {
        None => None,
        Some(name) => Some(
            CheckKind::ALL
                .into_iter()
                .find(|c| c.name() == name)
                .ok_or_else(|| {
                    let valid: Vec<&str> = CheckKind::ALL.iter().map(|c| c.name()).collect();
                    bad_input(format!("unknown check `{name}`; valid: {}", valid.join(", ")))
                })?,
        ),
    };
    if args.max_runs < 2 {
        return Err(bad_input(
            "--max-runs must be at least 2: one run to confirm, one to shrink".into(),
        ));
    }
    let pool = worker_pool(args.threads)?;
    load_scenario(path)?;
    let source = scenario::read_bounded(path, scenario::MAX_FILE_BYTES)
        .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
    let out = args.out.clone().unwrap_or_else(|| {
        let stem = path
            .file_stem()
            .map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
        PathBuf::from(format!("{stem}_seed{}_shrunk.ron", args.seed))
    });
    let out_dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let time_limit = consim::duration_text::parse_duration(&args.time_limit)
        .ok()
        .filter(|d| d.as_us() > 0)
        .ok_or_else(|| {
            bad_input(format!(
                "--time-limit {}: write a positive duration such as 90s or 10m",
                args.time_limit
            ))
        })?;
    let on_round = |r: &consim::shrink::Round| {
        eprintln!(
            "shrink: round {}, {} runs: {} faults, {} requests",
            r.round, r.runs, r.size.faults, r.size.requests
        );
    };
    // The user's wall-clock budget, read between shrink rounds, never inside a run: it
    // decides how many rounds run, not what any run does.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let budget = std::time::Duration::from_micros(time_limit.as_us());
    let out_of_time = move || started.elapsed() >= budget;
    let request = consim::shrink::ShrinkRequest {
        path,
        source: &source,
        seed: args.seed,
        strategy: args.strategy.as_deref(),
        check,
        max_runs: args.max_runs,
        out_of_time: &out_of_time,
        on_round: &on_round,
    };
    let shrunk = consim::shrink::shrink(&request, &out_dir, &pool).map_err(bad_input)?;
    std::fs::write(&out, &shrunk.text)
        .map_err(|e| bad_input(format!("cannot write {}: {e}", out.display())))?;
    let (b, a) = (shrunk.before, shrunk.after);
    outln!(
        "seed {} still violates {} with faults {} -> {}, requests {} -> {}, fault time {} -> {}, loss {} -> {}, duplication {} -> {} ({} runs{})",
        args.seed,
        shrunk.check,
        b.faults,
        a.faults,
        b.requests,
        a.requests,
        consim::sim::Duration::from_us(b.fault_time_us),
        consim::sim::Duration::from_us(a.fault_time_us),
        b.loss,
        a.loss,
        b.duplicate,
        a.duplicate,
        shrunk.runs,
        if shrunk.minimal { "" } else { ", budget spent" }
    );
    outln!("wrote {}; replay: consim run {}", out.display(), out.display());
    Ok(())
}

/// Loads a scenario and prints its warnings (a fault that never heals) on stderr.
fn load_scenario(path: &Path) -> Result<Scenario, ScenarioError> {
    load_scenario_with(path, &[])
}

/// [`load_scenario`] with `extra` settings after the command line's `--set`s.
fn load_scenario_with(path: &Path, extra: &[String]) -> Result<Scenario, ScenarioError> {
    let sets: Vec<String> = SETS.get().into_iter().flatten().chain(extra).cloned().collect();
    let scenario = scenario::load_with_sets(path, &sets)?;
    for warning in &scenario.warnings {
        eprintln!("warning: {}: {warning}", path.display());
    }
    Ok(scenario)
}

/// The worker threads for `sweep`, `compare` and `shrink`: `--threads`, capped at a few per
/// core with a note on stderr.
fn worker_pool(threads: Option<usize>) -> Result<rayon::ThreadPool, Failure> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let (threads, note) = consim::seeds::cap_threads(threads, cores);
    if let Some(note) = note {
        eprintln!("note: {note}");
    }
    consim::seeds::pool(threads).map_err(bad_input)
}

/// The largest sweep shard `merge` reads: a JSON line per seed is a few hundred bytes, so
/// 1 GiB holds millions of seeds, and a wrong path cannot exhaust memory.
const MAX_SHARD_BYTES: u64 = 1 << 30;

fn merge(files: &[PathBuf]) -> Result<(), Failure> {
    let texts = files
        .iter()
        .map(|f| {
            scenario::read_bounded(f, MAX_SHARD_BYTES)
                .map(|text| (f.display().to_string(), text))
                .map_err(|e| bad_input(format!("cannot read {}: {e}", f.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let merged = consim::sweep::merge(&texts).map_err(bad_input)?;
    out!("{}", merged.to_table());
    match merged.failures().count() {
        0 if merged.missing_count() > 0 => Err(bad_input(format!(
            "the merge is incomplete: {} seeds of {}..{} are in no file; run or add the missing shards",
            merged.missing_count(),
            merged.seeds.start,
            merged.seeds.end
        ))),
        0 => Ok(()),
        n => Err(Failure::SeedsFailed(n)),
    }
}

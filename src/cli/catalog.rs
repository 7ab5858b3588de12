//! The commands that describe files rather than run them: `check`, `graph`, `list`,
//! `points`.

use std::path::{Path, PathBuf};

use consim::scenario::{self, Scenario, ScenarioError};

use super::{Failure, bad_input, load_scenario, render};

pub(super) fn check(files: &[PathBuf]) -> Result<(), Failure> {
    let mut failed = 0;
    for file in files {
        match check_one(file) {
            Ok(what) => outln!("ok   {} ({what})", file.display()),
            Err(e) => {
                failed += 1;
                eprintln!("{:?}", render(e));
            }
        }
    }
    if failed > 0 {
        return Err(bad_input(format!(
            "{failed} of {} files have errors",
            files.len()
        )));
    }
    Ok(())
}

/// Checks a file as a scenario, or as a model if it is one.
fn check_one(file: &Path) -> Result<String, ScenarioError> {
    let source =
        scenario::read_bounded(file, scenario::MAX_FILE_BYTES).map_err(|e| ScenarioError::Unreadable {
            path: file.display().to_string(),
            reason: e.to_string(),
        })?;
    if source
        .trim_start_matches(|c: char| c.is_whitespace())
        .starts_with("Scenario")
        || looks_like_scenario(&source)
    {
        let scenario: Scenario = load_scenario(file)?;
        Ok(format!("scenario of a {} model", scenario.model.kind()))
    } else {
        let model = scenario::load_model(file, &source)?;
        Ok(format!("{} model", model.kind()))
    }
}

fn looks_like_scenario(source: &str) -> bool {
    source
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .any(|l| l.starts_with("Scenario("))
}

pub(super) fn graph(path: &Path) -> Result<(), Failure> {
    let source = scenario::read_bounded(path, scenario::MAX_FILE_BYTES)
        .map_err(|e| bad_input(format!("cannot read {}: {e}", path.display())))?;
    let model = scenario::load_model(path, &source)?;
    out!("{}", scenario::dot(&model));
    Ok(())
}

/// `consim points`: the services' points, then each strategy's (or only the one named) and
/// the message kinds a fault can aim at under it; or all that as one Markdown table.
pub(super) fn points(strategy: Option<&str>, markdown: bool) -> Result<(), Failure> {
    use consim::strategy::{SERVICE_POINTS, StrategyChoice, registry};
    let chosen: Vec<StrategyChoice> = match strategy {
        Some(name) => vec![registry::named(name).map_err(bad_input)?],
        None => registry::defaults(),
    };
    if markdown {
        outln!("| strategy | role | point | what has just happened |");
        outln!("|---|---|---|---|");
        for point in SERVICE_POINTS {
            outln!("| any | {} | `{}` | {} |", point.role, point.name, point.meaning);
        }
        for choice in &chosen {
            for point in choice.points() {
                outln!(
                    "| {} | {} | `{}` | {} |",
                    choice.name(),
                    point.role,
                    point.name,
                    point.meaning
                );
            }
        }
        outln!("");
        for choice in &chosen {
            outln!(
                "- `{}` messages: {}",
                choice.name(),
                consim::strategy::message_kinds_sent(&**choice).join(", ")
            );
        }
        return Ok(());
    }
    let line = |p: &consim::strategy::ProtocolPoint| format!("{} {} — {}", p.role, p.name, p.meaning);
    for point in SERVICE_POINTS {
        outln!("{}", line(point));
    }
    for choice in chosen {
        outln!("\n{}:", choice.name());
        for point in choice.points() {
            outln!("{}", line(point));
        }
        outln!(
            "messages: {}",
            consim::strategy::message_kinds_sent(&*choice).join(", ")
        );
    }
    Ok(())
}

/// A file's description: its leading `//` comment lines, joined into one line (a comment of
/// several lines is one description, not its first line).
fn description(source: &str) -> String {
    source
        .lines()
        .map_while(|line| line.trim_start().strip_prefix("//"))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn list() -> Result<(), Failure> {
    for dir in ["models", "scenarios"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| {
                bad_input(format!(
                    "cannot list {dir}/: {e} (run consim from the repository root)"
                ))
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "ron"))
            .collect();
        entries.sort();
        for path in entries {
            let summary = scenario::read_bounded(&path, scenario::MAX_FILE_BYTES)
                .ok()
                .map(|s| description(&s))
                .unwrap_or_default();
            outln!("{:<40} {summary}", path.display());
        }
    }
    for strategy in consim::strategy::REGISTRY {
        let aliases = match strategy.aliases {
            [] => String::new(),
            aliases => format!(" (also {})", aliases.join(", ")),
        };
        outln!(
            "{:<40} {}{aliases}",
            format!("strategy {}", strategy.name),
            strategy.summary
        );
    }
    Ok(())
}

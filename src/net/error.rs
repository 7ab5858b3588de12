//! Errors in a kernel configuration: a link, a distribution or a fault that makes no sense.
//!
//! These are the user's mistakes, so each message names the thing, says what is wrong and,
//! where it can, what would be right. The scenario layer adds file positions on top.

use thiserror::Error;

use crate::sim::Instant;

/// A configuration the kernel refuses to run.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ConfigError {
    /// A probability outside [0, 1].
    #[error("{what}: probability {value} is outside [0, 1]")]
    ProbabilityOutOfRange {
        /// Which setting.
        what: String,
        /// The value given.
        value: f64,
    },
    /// A latency distribution with impossible parameters.
    #[error("{what}: {problem}")]
    BadDistribution {
        /// Which setting.
        what: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// A name that is not a node of the topology.
    #[error("unknown node `{name}`{}; known nodes: {}", suggestion_text(.suggestion), .known.join(", "))]
    UnknownNode {
        /// The name given.
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
        /// Every known name, sorted.
        known: Vec<String>,
    },
    /// Two nodes with one name.
    #[error("node `{0}` is defined twice")]
    DuplicateNode(String),
    /// A fault whose end is not after its start.
    #[error("{what}: ends at {until}, which is not after its start at {from}")]
    EmptyWindow {
        /// Which fault.
        what: String,
        /// Its start.
        from: Instant,
        /// Its end.
        until: Instant,
    },
    /// A fault whose shape is wrong (a partition with one group, a node in two groups...).
    #[error("{what}: {problem}")]
    BadFault {
        /// Which fault.
        what: String,
        /// What is wrong.
        problem: String,
    },
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!(" (did you mean `{s}`?)"),
        None => String::new(),
    }
}

/// The known name closest to `name`, if it is close enough to be a likely typo: at most one
/// edit per three characters (at least one), ties going to the alphabetically first.
pub fn closest_name<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let allowed = (name.chars().count() / 3).max(1);
    known
        .into_iter()
        .map(|k| (strsim::damerau_levenshtein(name, k), k))
        .filter(|(distance, _)| *distance <= allowed)
        .min()
        .map(|(_, k)| k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_the_nearest_name_only_when_close() {
        let known = ["payment", "orders", "delivery"];
        assert_eq!(closest_name("paymnt", known), Some("payment".into()));
        assert_eq!(closest_name("order", known), Some("orders".into()));
        assert_eq!(closest_name("zzz", known), None);
        assert_eq!(closest_name("nn3", ["n3", "n4"]), Some("n3".into()));
    }
}

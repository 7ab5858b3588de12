//! The table of strategies: one [`Registration`] per strategy, one line each in [`REGISTRY`].
//!
//! Names, aliases, the scenario-file form, `consim list`, the CLI's `--strategy` values, the
//! did-you-mean for a misspelt name and the shrinker's output all come from this table, so a
//! new strategy is its folder plus one line here (`compare/metric.rs`'s `METRICS` is the same
//! idea for metrics).

use std::fmt;
use std::sync::Arc;

use serde::de::{self, DeserializeOwned, EnumAccess, MapAccess, VariantAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{
    Strategy, StrategyChoice, eventual, saga_choreographed, saga_orchestrated, tcc, three_pc, two_pc,
};

/// Every strategy, in report order.
pub static REGISTRY: &[Registration] = &[
    two_pc::REGISTRATION,
    saga_orchestrated::REGISTRATION,
    saga_choreographed::REGISTRATION,
    eventual::REGISTRATION,
    tcc::REGISTRATION,
    three_pc::REGISTRATION,
];

/// What the rest of consim knows of one strategy before it picks it.
#[derive(Clone, Copy)]
pub struct Registration {
    /// The stable name: reports, snapshot files, `--strategy`, JSON.
    pub name: &'static str,
    /// Its name in scenario files: `TwoPc(vote_timeout: "50ms")`.
    pub file_name: &'static str,
    /// Other names `--strategy` accepts (`2pc`, `saga`).
    pub aliases: &'static [&'static str],
    /// One sentence for `consim list`.
    pub summary: &'static str,
    /// The strategy with its default settings.
    pub default: fn() -> StrategyChoice,
    /// Reads the settings written inside `file_name(...)`.
    pub parse: fn(&mut dyn erased_serde::Deserializer<'_>) -> Result<StrategyChoice, erased_serde::Error>,
}

impl Registration {
    /// The registration of `S`, whose serde form is its settings (every field optional, the
    /// rest from `S::default()`).
    pub const fn of<S: Strategy + Default + DeserializeOwned + 'static>(
        name: &'static str,
        file_name: &'static str,
        aliases: &'static [&'static str],
        summary: &'static str,
    ) -> Registration {
        Registration {
            name,
            file_name,
            aliases,
            summary,
            default: default_of::<S>,
            parse: parse_as::<S>,
        }
    }
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

fn default_of<S: Strategy + Default + 'static>() -> StrategyChoice {
    StrategyChoice(Arc::new(S::default()))
}

fn parse_as<S: Strategy + DeserializeOwned + 'static>(
    settings: &mut dyn erased_serde::Deserializer<'_>,
) -> Result<StrategyChoice, erased_serde::Error> {
    let strategy: S = erased_serde::deserialize(settings)?;
    Ok(StrategyChoice(Arc::new(strategy)))
}

/// Every strategy's stable name, in report order.
pub fn names() -> Vec<&'static str> {
    REGISTRY.iter().map(|r| r.name).collect()
}

/// Every strategy with its default settings, in report order.
pub fn defaults() -> Vec<StrategyChoice> {
    REGISTRY.iter().map(|r| (r.default)()).collect()
}

/// The registration `name` picks: a stable name, an alias or a file name, with `-` read as
/// `_` and case ignored.
pub fn find(name: &str) -> Option<&'static Registration> {
    let wanted = name.replace('-', "_").to_ascii_lowercase();
    REGISTRY.iter().find(|r| {
        r.name == wanted || r.file_name.eq_ignore_ascii_case(&wanted) || r.aliases.contains(&wanted.as_str())
    })
}

/// The strategy called `name` with default settings, or an error naming the nearest valid
/// name and listing them all.
pub fn named(name: &str) -> Result<StrategyChoice, String> {
    match find(name) {
        Some(registration) => Ok((registration.default)()),
        None => Err(unknown(name, |r| r.name)),
    }
}

/// "unknown strategy `x`; did you mean `y`? valid: ...", spelling names with `spell`.
fn unknown(name: &str, spell: fn(&Registration) -> &'static str) -> String {
    let valid: Vec<&str> = REGISTRY.iter().map(spell).collect();
    let nearest = REGISTRY
        .iter()
        .flat_map(|r| {
            std::iter::once(spell(r))
                .chain(r.aliases.iter().copied())
                .map(move |n| (n, spell(r)))
        })
        .map(|(alias, canonical)| {
            (
                strsim::levenshtein(&name.to_ascii_lowercase(), &alias.to_ascii_lowercase()),
                canonical,
            )
        })
        .min_by_key(|(distance, _)| *distance)
        .filter(|(distance, _)| *distance <= 3);
    let hint = nearest.map_or(String::new(), |(_, n)| format!(" did you mean `{n}`?"));
    format!("unknown strategy `{name}`;{hint} valid: {}", valid.join(", "))
}

impl Serialize for StrategyChoice {
    /// The file form: `TwoPc(vote_timeout: "50ms", ...)`, every setting written out.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        erased_serde::serialize(&*self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for StrategyChoice {
    /// Reads `Name(settings...)`: the name picks the registration, which reads the settings.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_enum("Strategy", &[], ChoiceVisitor)
    }
}

struct ChoiceVisitor;

impl<'de> Visitor<'de> for ChoiceVisitor {
    type Value = StrategyChoice;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a strategy such as SagaOrchestrated() or TwoPc(vote_timeout: \"50ms\")")
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<StrategyChoice, A::Error> {
        let (Name(name), settings) = data.variant()?;
        let Some(registration) = REGISTRY.iter().find(|r| r.file_name == name) else {
            return Err(de::Error::custom(unknown(&name, |r| r.file_name)));
        };
        settings.struct_variant(&[], SettingsVisitor(registration))
    }
}

/// Hands the settings' fields to the registration's parser, type-erased.
struct SettingsVisitor(&'static Registration);

impl<'de> Visitor<'de> for SettingsVisitor {
    type Value = StrategyChoice;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the settings of {}", self.0.file_name)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StrategyChoice, A::Error> {
        let fields = de::value::MapAccessDeserializer::new(map);
        let mut erased = <dyn erased_serde::Deserializer>::erase(fields);
        (self.0.parse)(&mut erased).map_err(de::Error::custom)
    }
}

/// A strategy's name as the file writes it (an identifier, not a quoted string).
struct Name(String);

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a strategy name")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Name, E> {
                Ok(Name(v.to_string()))
            }
        }
        deserializer.deserialize_identifier(NameVisitor)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_strategy_declares_its_protocol_points_once_each_in_snake_case() {
        for strategy in defaults() {
            let points = strategy.points();
            assert!(points.len() >= 2, "{}: {points:?}", strategy.name());
            let mut seen = std::collections::BTreeSet::new();
            for point in points.iter().chain(super::super::SERVICE_POINTS) {
                assert!(
                    seen.insert((point.role, point.name)),
                    "{}: {point:?} twice",
                    strategy.name()
                );
                assert!(
                    point.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{}: {}",
                    strategy.name(),
                    point.name
                );
                assert!(!point.meaning.is_empty());
            }
        }
    }

    use super::*;

    #[test]
    fn names_aliases_and_file_names_are_unique_across_the_registry() {
        let (mut names, mut file_names) = (
            std::collections::BTreeSet::new(),
            std::collections::BTreeSet::new(),
        );
        for r in REGISTRY {
            for n in std::iter::once(r.name).chain(r.aliases.iter().copied()) {
                assert!(names.insert(n), "`{n}` names two strategies");
            }
            assert!(
                file_names.insert(r.file_name.to_ascii_lowercase()),
                "{} twice",
                r.file_name
            );
            assert!(!r.summary.is_empty(), "{} has no summary", r.name);
        }
        for r in REGISTRY {
            assert_eq!(
                find(r.file_name).map(|f| f.name),
                Some(r.name),
                "{} picks another",
                r.file_name
            );
        }
    }

    #[test]
    fn every_registration_builds_a_strategy_of_its_own_name_that_round_trips_through_ron() {
        for r in REGISTRY {
            let choice = (r.default)();
            assert_eq!(choice.name(), r.name);
            let text = ron::ser::to_string_pretty(&choice, ron::ser::PrettyConfig::new().struct_names(true))
                .unwrap();
            assert!(text.starts_with(r.file_name), "{text}");
            let again: StrategyChoice =
                ron::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}\n{text}", r.name));
            assert_eq!(again.name(), r.name);
            let twice =
                ron::ser::to_string_pretty(&again, ron::ser::PrettyConfig::new().struct_names(true)).unwrap();
            assert_eq!(text, twice);
        }
    }

    #[test]
    fn a_misspelt_name_gets_the_nearest_one() {
        let err = named("two-pcc").unwrap_err();
        assert!(err.contains("did you mean `two_pc`"), "{err}");
        assert!(named("2pc").is_ok() && named("saga").is_ok() && named("TwoPc").is_ok());
        let err = ron::from_str::<StrategyChoice>("SagaOrchestrate()")
            .unwrap_err()
            .to_string();
        assert!(err.contains("did you mean `SagaOrchestrated`"), "{err}");
    }
}

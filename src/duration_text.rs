//! Durations as humans write them in files: `"250ms"`, `"2s"`, `"1.5s"`, `"800us"`, `"1m"`.
//!
//! Below `scenario` because strategies own the file form of their settings too (each
//! strategy's `Config` derives serde with [`as_text`] on its durations).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::{Serialize, Serializer};

use crate::sim::Duration;

/// A duration read from a file; converted to integer microseconds when parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

/// Units accepted, longest suffix first so `ms` is not read as `m` + `s`.
const UNITS: [(&str, u64); 5] = [
    ("us", 1),
    ("ms", 1_000),
    ("s", 1_000_000),
    ("m", 60_000_000),
    ("h", 3_600_000_000),
];

/// Written in the largest unit that keeps it exact (`"1500us"`, `"250ms"`, `"2s"`), so a
/// file consim writes (a shrunk scenario) reads back to the same microseconds.
pub fn format_duration(duration: Duration) -> String {
    let us = duration.as_us();
    let (suffix, scale) = UNITS
        .iter()
        .rev()
        .find(|(_, scale)| us.is_multiple_of(*scale) && us != 0)
        .copied()
        .unwrap_or(("us", 1));
    format!("{}{suffix}", us / scale)
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format_duration(self.0))
    }
}

/// Parses `"<number><unit>"`; the error says what is accepted.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let hint = "write a number and a unit, like \"250ms\", \"2s\", \"1.5s\", \"800us\" or \"1m\"";
    let Some((number, scale)) = UNITS
        .iter()
        .filter_map(|(suffix, scale)| text.strip_suffix(suffix).map(|n| (n, *scale)))
        .find(|(n, _)| !n.is_empty() && !n.ends_with(['m', 'u']))
    else {
        return Err(format!("`{text}` is not a duration: {hint}"));
    };
    let number = number.trim();
    if number.starts_with('-') {
        return Err(format!("`{text}`: a duration cannot be negative"));
    }
    let us = match number.split_once('.') {
        None => number.parse::<u64>().ok().and_then(|n| n.checked_mul(scale)),
        Some((whole, frac)) => parse_decimal(whole, frac, scale),
    };
    match us {
        Some(us) => Ok(Duration::from_us(us)),
        None => Err(format!("`{text}` is not a duration: {hint}")),
    }
}

/// `whole.frac × scale` in integer arithmetic; `None` if it is not a whole number of µs.
fn parse_decimal(whole: &str, frac: &str, scale: u64) -> Option<u64> {
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return None;
    }
    let whole: u64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let frac_value: u64 = frac.parse().ok()?;
    let denominator = 10u64.pow(frac.len() as u32);
    let frac_us = frac_value.checked_mul(scale)?;
    if frac_us % denominator != 0 {
        return None;
    }
    whole.checked_mul(scale)?.checked_add(frac_us / denominator)
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a duration string like \"250ms\" or \"2s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HumanDuration, E> {
                parse_duration(v).map(HumanDuration).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(DurationVisitor)
    }
}

/// Serde for a [`Duration`] field written as text: `#[serde(with = "crate::duration_text::as_text")]`.
pub mod as_text {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::HumanDuration;
    use crate::sim::Duration;

    /// Writes the duration as [`super::format_duration`] spells it.
    pub fn serialize<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        HumanDuration(*duration).serialize(serializer)
    }

    /// Reads `"250ms"` and the like.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        HumanDuration::deserialize(deserializer).map(|d| d.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_usual_units_and_decimals() {
        let us = |t: &str| parse_duration(t).unwrap().as_us();
        assert_eq!(us("250ms"), 250_000);
        assert_eq!(us("2s"), 2_000_000);
        assert_eq!(us("1.5s"), 1_500_000);
        assert_eq!(us("800us"), 800);
        assert_eq!(us("1m"), 60_000_000);
        assert_eq!(us("0.25ms"), 250);
        assert_eq!(us(" 3 ms"), 3_000);
    }

    #[test]
    fn rejects_what_is_not_a_duration_and_says_what_is() {
        for bad in ["250", "ms", "-5ms", "1.0000001ms", "2 weeks", "1.5.2s", "0.5us"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains(bad.trim()), "{bad}: {err}");
        }
        assert!(parse_duration("-5ms").unwrap_err().contains("cannot be negative"));
    }

    #[test]
    fn formatted_durations_read_back_to_the_same_microseconds() {
        for us in [
            0,
            1,
            999,
            1_000,
            1_500,
            250_000,
            2_000_000,
            90_000_000,
            3_600_000_000,
            7_200_000_001,
        ] {
            let text = format_duration(Duration::from_us(us));
            assert_eq!(parse_duration(&text), Ok(Duration::from_us(us)), "{text}");
        }
        assert_eq!(format_duration(Duration::from_ms(250)), "250ms");
        assert_eq!(format_duration(Duration::from_us(1_500)), "1500us");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
    }
}

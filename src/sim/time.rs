//! Virtual time: integer microseconds since the start of a run.
//!
//! Nothing in a run reads the wall clock; every timestamp is an [`Instant`] and every delay a
//! [`Duration`], both plain `u64` microsecond counts so arithmetic is exact and identical on
//! every machine and in every build profile.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// A point in virtual time, in microseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

/// A span of virtual time in microseconds; never negative, so "restart before crash" and
/// similar mistakes are caught where durations are built, not in the loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(u64);

impl Instant {
    /// The start of every run.
    pub const ZERO: Instant = Instant(0);
    /// Later than any event a run can schedule; used as "no limit".
    pub const MAX: Instant = Instant(u64::MAX);

    /// An instant `us` microseconds after the start.
    pub const fn from_us(us: u64) -> Self {
        Instant(us)
    }

    /// An instant `ms` milliseconds after the start.
    pub const fn from_ms(ms: u64) -> Self {
        Instant(ms * 1_000)
    }

    /// Microseconds since the start; the unit traces and reports print.
    pub const fn as_us(self) -> u64 {
        self.0
    }

    /// Time elapsed since `earlier`, or zero if `earlier` is in the future.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration(self.0.saturating_sub(earlier.0))
    }
}

impl Duration {
    /// No time at all.
    pub const ZERO: Duration = Duration(0);

    /// `us` microseconds.
    pub const fn from_us(us: u64) -> Self {
        Duration(us)
    }

    /// `ms` milliseconds.
    pub const fn from_ms(ms: u64) -> Self {
        Duration(ms * 1_000)
    }

    /// `s` seconds.
    pub const fn from_secs(s: u64) -> Self {
        Duration(s * 1_000_000)
    }

    /// The span in microseconds.
    pub const fn as_us(self) -> u64 {
        self.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at [`Instant::MAX`] so a huge sampled latency cannot wrap into the past.
    fn add(self, rhs: Duration) -> Instant {
        Instant(self.0.saturating_add(rhs.0))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, rhs: Duration) {
        *self = *self + rhs;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}

impl Add for Duration {
    type Output = Duration;
    fn add(self, rhs: Duration) -> Duration {
        Duration(self.0.saturating_add(rhs.0))
    }
}

/// Prints microseconds in the largest unit that keeps them exact enough to read: `750us`,
/// `12.5ms`, `3s`.
fn write_us(f: &mut fmt::Formatter<'_>, us: u64) -> fmt::Result {
    if us < 1_000 {
        write!(f, "{us}us")
    } else if us < 1_000_000 {
        write_scaled(f, us, 1_000, "ms")
    } else {
        write_scaled(f, us, 1_000_000, "s")
    }
}

fn write_scaled(f: &mut fmt::Formatter<'_>, us: u64, unit: u64, suffix: &str) -> fmt::Result {
    let whole = us / unit;
    let frac = us % unit;
    if frac == 0 {
        return write!(f, "{whole}{suffix}");
    }
    let digits = if unit == 1_000 { 3 } else { 6 };
    let frac = format!("{frac:0digits$}");
    write!(f, "{whole}.{}{suffix}", frac.trim_end_matches('0'))
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_us(f, self.0)
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_us(f, self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_picks_a_readable_unit() {
        assert_eq!(Duration::from_us(750).to_string(), "750us");
        assert_eq!(Duration::from_us(12_500).to_string(), "12.5ms");
        assert_eq!(Duration::from_secs(3).to_string(), "3s");
        assert_eq!(Instant::from_us(1_000_001).to_string(), "1.000001s");
    }

    #[test]
    fn adding_saturates_instead_of_wrapping() {
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::from_ms(1) - Instant::from_ms(2), Duration::ZERO);
    }
}

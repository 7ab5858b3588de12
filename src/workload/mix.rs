//! Which kind of request each arrival is: a read-only audit or a business request.
//!
//! Audits read several services at once and are how a run catches a strategy showing an
//! inconsistent state; business requests change data. The share is a [`Probability`], an
//! integer threshold, so the decision never depends on float rounding (style 2.5.7).

use crate::net::Probability;
use crate::sim::Rng;

/// The split between audit and business requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RequestMix {
    audit_share: Probability,
}

impl RequestMix {
    /// A mix where each request is an audit with probability `audit_share`.
    pub fn new(audit_share: Probability) -> Self {
        RequestMix { audit_share }
    }

    /// The configured audit share, for reports.
    pub fn audit_share(self) -> Probability {
        self.audit_share
    }

    /// Decides whether one request is an audit: one `u32` draw, none when audits never happen,
    /// so a workload without audits leaves the stream as if the mix did not exist.
    #[inline]
    pub fn is_audit(self, rng: &mut Rng) -> bool {
        self.audit_share.sample(rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Purpose, SeedTree};

    #[test]
    fn audit_share_is_respected_within_tolerance() {
        let mix = RequestMix::new(Probability::ratio("audit", 1, 5).unwrap());
        let mut rng = SeedTree::new(9).stream(Purpose::Workload);
        let draws = 100_000u32;
        let audits = (0..draws).filter(|_| mix.is_audit(&mut rng)).count() as f64;
        // 5 standard errors of a binomial(100000, 0.2): 5 * sqrt(16000) ≈ 632.
        assert!((audits - 20_000.0).abs() <= 632.0, "{audits} audits");
    }

    #[test]
    fn never_and_always_audit_are_exact() {
        let mut rng = SeedTree::new(1).stream(Purpose::Workload);
        let never = RequestMix::new(Probability::NEVER);
        let always = RequestMix::new(Probability::ALWAYS);
        assert!((0..1_000).all(|_| !never.is_audit(&mut rng)));
        assert!((0..1_000).all(|_| always.is_audit(&mut rng)));
    }
}

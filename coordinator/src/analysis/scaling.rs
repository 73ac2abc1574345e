//! Scaling policies' arithmetic (`[[scaling]]`, the Nomad Autoscaler's target tracking for
//! any fleet): from a group's current size and its metric, the size that would bring the
//! metric to the target, within `min`..`max`, and whether acting now is allowed (one action
//! per cooldown). Pure: the caller reads the history, the clock and the group, and carries
//! out (or, in dry-run, only reports) the decision.

/// What one evaluation sees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub now_unix_ms: i64,
    /// Hosts in the group now (matching the policy's selector, online).
    pub current: u32,
    /// The group's metric over the evaluation window (mean of the hosts' means); `None`
    /// when the history holds nothing for it.
    pub value: Option<f64>,
}

/// The policy's bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub target: f64,
    pub min: u32,
    pub max: u32,
    pub cooldown_ms: i64,
    /// A metric within this fraction of the target changes nothing (Nomad's `threshold`),
    /// so a group does not flap around its target.
    pub tolerance: f64,
}

/// Tolerance when a policy names none.
pub const DEFAULT_TOLERANCE: f64 = 0.05;

/// What an evaluation decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing to read: no sample of the metric in the window.
    NoData,
    /// The group is the size it should be.
    Hold { desired: u32 },
    /// The group should change size, and may now.
    Scale { current: u32, desired: u32 },
    /// The group should change size but the last action was too recent.
    Cooldown {
        current: u32,
        desired: u32,
        until_unix_ms: i64,
    },
}

impl Decision {
    /// The size the group should have, where the evaluation could say.
    pub fn desired(&self) -> Option<u32> {
        match self {
            Decision::NoData => None,
            Decision::Hold { desired }
            | Decision::Scale { desired, .. }
            | Decision::Cooldown { desired, .. } => Some(*desired),
        }
    }
}

/// The size that brings `value` to `target` if load spreads evenly: `ceil(current * value /
/// target)`, within `min`..`max`. An empty group scales to `min` (there is no load to
/// spread); a value within the tolerance, or not a number, keeps the current size (clamped
/// into the bounds).
pub fn desired(current: u32, value: f64, bounds: &Bounds) -> u32 {
    let clamp = |n: f64| {
        let n = if n.is_finite() { n.max(0.0) } else { 0.0 };
        (n.min(f64::from(u32::MAX)) as u32).clamp(bounds.min, bounds.max.max(bounds.min))
    };
    if current == 0 || bounds.target <= 0.0 {
        return clamp(f64::from(bounds.min));
    }
    if !value.is_finite() {
        return clamp(f64::from(current));
    }
    let ratio = value / bounds.target;
    if (ratio - 1.0).abs() <= bounds.tolerance {
        return clamp(f64::from(current));
    }
    // A little slack below the ceiling so that 4 hosts at exactly 2x the target ask for 8,
    // not 9 through float error.
    clamp((f64::from(current) * ratio - 1e-9).ceil())
}

/// One evaluation: what the group should be and whether to act now, given when the policy
/// last acted.
pub fn decide(obs: &Observation, bounds: &Bounds, last_action_unix_ms: Option<i64>) -> Decision {
    let Some(value) = obs.value.filter(|v| v.is_finite()) else {
        return Decision::NoData;
    };
    let desired = desired(obs.current, value, bounds);
    if desired == obs.current {
        return Decision::Hold { desired };
    }
    match last_action_unix_ms {
        Some(at) if obs.now_unix_ms < at.saturating_add(bounds.cooldown_ms) => Decision::Cooldown {
            current: obs.current,
            desired,
            until_unix_ms: at.saturating_add(bounds.cooldown_ms),
        },
        _ => Decision::Scale {
            current: obs.current,
            desired,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNDS: Bounds = Bounds {
        target: 60.0,
        min: 2,
        max: 10,
        cooldown_ms: 600_000,
        tolerance: DEFAULT_TOLERANCE,
    };

    #[test]
    fn desired_follows_the_target() {
        // (current, value, expected)
        let cases = [
            (4, 60.0, 4),   // at target
            (4, 62.0, 4),   // within 5 %
            (4, 120.0, 8),  // twice the load: twice the hosts, exactly
            (4, 90.0, 6),   // 4 * 1.5
            (4, 91.0, 7),   // a little over: round up
            (4, 30.0, 2),   // half the load
            (4, 10.0, 2),   // would be 1: the minimum
            (4, 600.0, 10), // would be 40: the maximum
            (0, 80.0, 2),   // an empty group goes to the minimum
            (12, 60.0, 10), // above max at target: clamped
            (1, 60.0, 2),   // below min at target: clamped
        ];
        for (current, value, expected) in cases {
            assert_eq!(
                desired(current, value, &BOUNDS),
                expected,
                "current {current}, value {value}"
            );
        }
    }

    #[test]
    fn bad_numbers_never_make_a_huge_or_negative_group() {
        assert_eq!(desired(4, f64::INFINITY, &BOUNDS), 4);
        assert_eq!(desired(4, f64::NAN, &BOUNDS), 4);
        assert_eq!(desired(4, -50.0, &BOUNDS), 2);
        let odd = Bounds {
            min: 5,
            max: 3,
            ..BOUNDS
        };
        // max below min: min wins.
        assert_eq!(desired(4, 600.0, &odd), 5);
    }

    #[test]
    fn one_action_per_cooldown() {
        let obs = |now, value| Observation {
            now_unix_ms: now,
            current: 4,
            value: Some(value),
        };
        assert_eq!(
            decide(&obs(1_000, 120.0), &BOUNDS, None),
            Decision::Scale {
                current: 4,
                desired: 8
            }
        );
        // Acted at 1,000: until 601,000 it only says what it would do.
        assert_eq!(
            decide(&obs(300_000, 120.0), &BOUNDS, Some(1_000)),
            Decision::Cooldown {
                current: 4,
                desired: 8,
                until_unix_ms: 601_000
            }
        );
        assert_eq!(
            decide(&obs(601_000, 120.0), &BOUNDS, Some(1_000)),
            Decision::Scale {
                current: 4,
                desired: 8
            }
        );
        // At target: nothing to do, cooldown or not.
        assert_eq!(
            decide(&obs(300_000, 60.0), &BOUNDS, Some(1_000)),
            Decision::Hold { desired: 4 }
        );
        let none = Observation {
            value: None,
            ..obs(0, 0.0)
        };
        assert_eq!(decide(&none, &BOUNDS, None), Decision::NoData);
        assert_eq!(Decision::NoData.desired(), None);
    }
}

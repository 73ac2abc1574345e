//! Rate knobs written as operators write them: `N` hosts or `P%` of the targets. Shared
//! by the job scheduler (`--concurrency`, `--max-errors`) and the rollout engine (canary and
//! batch sizes); pure.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    Count(u32),
    Percent(u32),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {why}")]
pub struct RateError {
    pub what: &'static str,
    pub input: String,
    pub why: &'static str,
}

impl Rate {
    /// Parses `N` or `P%`. `allow_zero` is false for concurrency (zero would never run).
    pub fn parse(input: &str, what: &'static str, allow_zero: bool) -> Result<Self, RateError> {
        let err = |why| RateError {
            what,
            input: input.to_string(),
            why,
        };
        let trimmed = input.trim();
        let rate =
            if let Some(number) = trimmed.strip_suffix('%') {
                let percent: u32 = number.trim().parse().map_err(|_| {
                    err("expected a whole number of hosts or a percentage like 25%")
                })?;
                if percent > 100 {
                    return Err(err("a percentage cannot be over 100%"));
                }
                Rate::Percent(percent)
            } else {
                Rate::Count(trimmed.parse().map_err(|_| {
                    err("expected a whole number of hosts or a percentage like 25%")
                })?)
            };
        if !allow_zero && matches!(rate, Rate::Count(0) | Rate::Percent(0)) {
            return Err(err("must be at least 1 host"));
        }
        Ok(rate)
    }

    /// The number of hosts this rate means for `total` targets. A non-zero percentage is
    /// at least one host; percentages round up.
    pub fn resolve(self, total: u32) -> u32 {
        match self {
            Rate::Count(n) => n,
            Rate::Percent(0) => 0,
            Rate::Percent(p) => {
                let hosts = (u64::from(total) * u64::from(p)).div_ceil(100);
                u32::try_from(hosts).unwrap_or(u32::MAX).max(1)
            }
        }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rate::Count(n) => write!(f, "{n}"),
            Rate::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl FromStr for Rate {
    type Err = RateError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rate::parse(s, "rate", true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves() {
        assert_eq!(
            Rate::parse("3", "concurrency", false).unwrap().resolve(10),
            3
        );
        assert_eq!(
            Rate::parse("25%", "concurrency", false)
                .unwrap()
                .resolve(10),
            3
        );
        assert_eq!(
            Rate::parse(" 1% ", "concurrency", false)
                .unwrap()
                .resolve(10),
            1
        );
        assert_eq!(
            Rate::parse("100%", "concurrency", false)
                .unwrap()
                .resolve(7),
            7
        );
        assert_eq!(Rate::parse("0", "max-errors", true).unwrap().resolve(7), 0);
        assert_eq!(Rate::parse("0%", "max-errors", true).unwrap().resolve(7), 0);
        assert_eq!(
            Rate::parse("50%", "max-errors", true).unwrap().to_string(),
            "50%"
        );
    }

    #[test]
    fn refuses_bad_rates() {
        for (input, allow_zero, why) in [
            ("0", false, "at least 1"),
            ("0%", false, "at least 1"),
            ("101%", true, "over 100%"),
            ("-1", true, "whole number"),
            ("x", true, "whole number"),
            ("", true, "whole number"),
            ("2.5", true, "whole number"),
        ] {
            let err = Rate::parse(input, "concurrency", allow_zero).unwrap_err();
            assert!(err.to_string().contains(why), "{input}: {err}");
        }
    }
}

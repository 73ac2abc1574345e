//! The one retry pacing both binaries use: a delay that grows with each attempt
//! (exponentially or linearly) up to a cap, drawn with jitter so that many clients that
//! failed at the same instant do not retry at the same instant.
//!
//! Pure arithmetic plus one random draw: no sleeping, no clock. Each loop keeps its own
//! numbers (base, cap, growth, jitter); this module only computes the delays.

use std::time::Duration;

use rand::Rng as _;

/// How the delay window grows with the attempt number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Growth {
    /// `base * 2^attempt`.
    Exponential,
    /// `base * (attempt + 1)`.
    Linear,
}

/// Where in the window the delay falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Uniform in `[0, window]`.
    Full,
    /// Uniform in `[window / 2, window]`: spread out, but never bunched at zero.
    Half,
    /// Exactly the window.
    None,
}

/// Capped backoff: the delay before retry number `attempt + 1` lies in a window of
/// `min(cap, growth(base, attempt))`, placed by the jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    growth: Growth,
    jitter: Jitter,
    attempt: u32,
}

impl Backoff {
    /// Exponential growth with full jitter (the agent's reconnect).
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            growth: Growth::Exponential,
            jitter: Jitter::Full,
            attempt: 0,
        }
    }

    /// Linear growth without jitter: `step`, `2 * step`, … up to `cap`.
    pub fn linear(step: Duration, cap: Duration) -> Self {
        Self {
            growth: Growth::Linear,
            jitter: Jitter::None,
            ..Self::new(step, cap)
        }
    }

    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The same pacing, as if `attempt` retries had already been waited for.
    pub fn at_attempt(mut self, attempt: u32) -> Self {
        self.attempt = attempt;
        self
    }

    /// Retries waited for so far (since the last [`Backoff::reset`]).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The window of the next delay (its upper bound).
    pub fn ceiling(&self) -> Duration {
        match self.growth {
            Growth::Exponential => {
                let factor = 2u32.saturating_pow(self.attempt.min(20));
                self.base.saturating_mul(factor)
            }
            Growth::Linear => self.base.saturating_mul(self.attempt.saturating_add(1)),
        }
        .min(self.cap)
    }

    /// The next delay for a draw `unit` in `[0, 1]` (0 is the shortest the jitter allows,
    /// 1 the whole window), without advancing.
    pub fn delay_for(&self, unit: f64) -> Duration {
        let window = self.ceiling();
        let unit = unit.clamp(0.0, 1.0);
        match self.jitter {
            Jitter::Full => window.mul_f64(unit),
            Jitter::Half => window.mul_f64(0.5 + unit / 2.0),
            Jitter::None => window,
        }
    }

    /// The next delay, drawn at random; counts one more attempt.
    pub fn next_delay(&mut self) -> Duration {
        let window = self.ceiling();
        let delay = match self.jitter {
            Jitter::Full => rand::rng().random_range(Duration::ZERO..=window),
            Jitter::Half => rand::rng().random_range(window / 2..=window),
            Jitter::None => window,
        };
        self.attempt = self.attempt.saturating_add(1);
        delay
    }

    /// For failures a retry cannot fix soon (a refused certificate): between half the cap
    /// and the cap, whatever the attempt; counts one more attempt.
    pub fn slow_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        rand::rng().random_range(self.cap / 2..=self.cap)
    }

    /// Back to the first window (after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_windows_double_up_to_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let windows: Vec<_> = (0..10)
            .map(|_| {
                let window = backoff.ceiling();
                assert!(backoff.next_delay() <= window);
                window
            })
            .collect();
        assert_eq!(windows[0], Duration::from_millis(100));
        assert_eq!(windows[3], Duration::from_millis(800));
        assert_eq!(windows[9], Duration::from_secs(5));
        backoff.reset();
        assert_eq!(backoff.ceiling(), Duration::from_millis(100));
    }

    #[test]
    fn linear_without_jitter_is_exact() {
        let mut backoff = Backoff::linear(Duration::from_millis(200), Duration::from_secs(5));
        let delays: Vec<_> = (0..30).map(|_| backoff.next_delay()).collect();
        assert_eq!(delays[0], Duration::from_millis(200));
        assert_eq!(delays[4], Duration::from_secs(1));
        assert_eq!(delays[24], Duration::from_secs(5));
        assert_eq!(delays[29], Duration::from_secs(5));
    }

    #[test]
    fn half_jitter_stays_in_the_upper_half() {
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(300))
            .with_jitter(Jitter::Half)
            .at_attempt(2);
        assert_eq!(backoff.delay_for(0.0), Duration::from_secs(2));
        assert_eq!(backoff.delay_for(1.0), Duration::from_secs(4));
        let mut drawn = backoff.clone();
        for _ in 0..50 {
            let mut one = drawn.clone();
            let delay = one.next_delay();
            assert!(delay >= Duration::from_secs(2) && delay <= Duration::from_secs(4));
        }
        drawn.reset();
        assert_eq!(drawn.ceiling(), Duration::from_secs(1));
    }

    #[test]
    fn huge_attempts_saturate_at_the_cap() {
        let backoff =
            Backoff::new(Duration::from_secs(1), Duration::from_secs(300)).at_attempt(u32::MAX);
        assert_eq!(backoff.ceiling(), Duration::from_secs(300));
        let linear =
            Backoff::linear(Duration::from_secs(1), Duration::from_secs(9)).at_attempt(u32::MAX);
        assert_eq!(linear.ceiling(), Duration::from_secs(9));
    }
}

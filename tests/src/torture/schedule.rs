//! The fault schedule: a pure function of the seed, so a failing run replays the same
//! faults in the same order (timing of the system under test is not replayed; the faults,
//! their targets, delays and durations are).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// One fault; `agent` indexes the fleet's agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// kill -9 the coordinator, restart it after `down`.
    KillCoordinator { down: Duration },
    /// kill -9 an agent, restart it after `down`.
    KillAgent { agent: usize, down: Duration },
    /// Start a 2 s command on the agent, kill -9 it `after` the command started.
    KillAgentMidCommand {
        agent: usize,
        after: Duration,
        down: Duration,
    },
    /// Added latency on the agent's link for `hold`.
    Latency {
        agent: usize,
        latency: Duration,
        hold: Duration,
    },
    /// Bandwidth limit (bytes/s) on the agent's link for `hold`.
    Bandwidth {
        agent: usize,
        bytes_per_sec: u64,
        hold: Duration,
    },
    /// Every connection of the agent's link reset (RST).
    Reset { agent: usize },
    /// The agent's link black-holed (open, silent) for `hold`.
    Blackhole { agent: usize, hold: Duration },
    /// Agent → coordinator bytes held for `hold`.
    PartitionUp { agent: usize, hold: Duration },
    /// Coordinator → agent bytes held for `hold`.
    PartitionDown { agent: usize, hold: Duration },
    /// The coordinator's (or agent a0's) data dir, a small tmpfs, filled up for `hold`.
    DiskFull { coordinator: bool, hold: Duration },
}

impl Fault {
    /// The kind, for the report.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::KillCoordinator { .. } => "kill -9 coordinator",
            Self::KillAgent { .. } => "kill -9 agent",
            Self::KillAgentMidCommand { .. } => "kill -9 agent mid-command",
            Self::Latency { .. } => "latency",
            Self::Bandwidth { .. } => "bandwidth limit",
            Self::Reset { .. } => "connection reset",
            Self::Blackhole { .. } => "half-open blackhole",
            Self::PartitionUp { .. } => "one-way partition (agent→coordinator)",
            Self::PartitionDown { .. } => "one-way partition (coordinator→agent)",
            Self::DiskFull {
                coordinator: true, ..
            } => "disk full (coordinator)",
            Self::DiskFull {
                coordinator: false, ..
            } => "disk full (agent)",
        }
    }

    #[cfg(test)]
    pub const KINDS: [&'static str; 9] = [
        "kill -9 coordinator",
        "kill -9 agent",
        "kill -9 agent mid-command",
        "latency",
        "bandwidth limit",
        "connection reset",
        "half-open blackhole",
        "one-way partition (agent→coordinator)",
        "one-way partition (coordinator→agent)",
    ];
}

/// Which faults a schedule draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Every kind, kills and network faults alike.
    All,
    /// Only kill -9s (coordinator and agents).
    Kills,
    /// Only network faults.
    Network,
}

fn ms(rng: &mut StdRng, low: u64, high: u64) -> Duration {
    Duration::from_millis(rng.random_range(low..=high))
}

/// `count` faults for a fleet of `agents` agents, from `seed`; with `disk`, disk-full
/// faults too.
pub fn generate(seed: u64, count: usize, agents: usize, mix: Mix, disk: bool) -> Vec<Fault> {
    assert!(agents > 0, "a schedule needs at least one agent");
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count)
        .map(|_| {
            let agent = rng.random_range(0..agents);
            let pick = match mix {
                Mix::All => rng.random_range(0..9u32),
                Mix::Kills => rng.random_range(0..3u32),
                Mix::Network => rng.random_range(3..9u32),
            };
            if disk && rng.random_bool(0.1) {
                return Fault::DiskFull {
                    coordinator: rng.random_bool(0.5),
                    hold: ms(&mut rng, 500, 4_000),
                };
            }
            match pick {
                0 => Fault::KillCoordinator {
                    down: ms(&mut rng, 0, 2_000),
                },
                1 => Fault::KillAgent {
                    agent,
                    down: ms(&mut rng, 0, 2_000),
                },
                2 => Fault::KillAgentMidCommand {
                    agent,
                    after: ms(&mut rng, 0, 1_500),
                    down: ms(&mut rng, 0, 1_000),
                },
                3 => Fault::Latency {
                    agent,
                    latency: ms(&mut rng, 20, 500),
                    hold: ms(&mut rng, 500, 4_000),
                },
                4 => Fault::Bandwidth {
                    agent,
                    bytes_per_sec: rng.random_range(2_000..=200_000),
                    hold: ms(&mut rng, 500, 4_000),
                },
                5 => Fault::Reset { agent },
                6 => Fault::Blackhole {
                    agent,
                    hold: ms(&mut rng, 500, 5_000),
                },
                7 => Fault::PartitionUp {
                    agent,
                    hold: ms(&mut rng, 500, 5_000),
                },
                _ => Fault::PartitionDown {
                    agent,
                    hold: ms(&mut rng, 500, 5_000),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        assert_eq!(
            generate(7, 200, 3, Mix::All, false),
            generate(7, 200, 3, Mix::All, false)
        );
        assert_ne!(
            generate(7, 200, 3, Mix::All, false),
            generate(8, 200, 3, Mix::All, false)
        );
    }

    #[test]
    fn every_kind_appears_and_targets_stay_in_the_fleet() {
        let schedule = generate(1, 500, 3, Mix::All, false);
        for kind in Fault::KINDS {
            assert!(schedule.iter().any(|f| f.kind() == kind), "{kind} missing");
        }
        for fault in &schedule {
            let agent = match *fault {
                Fault::KillCoordinator { .. } => 0,
                Fault::KillAgent { agent, .. }
                | Fault::KillAgentMidCommand { agent, .. }
                | Fault::Latency { agent, .. }
                | Fault::Bandwidth { agent, .. }
                | Fault::Reset { agent }
                | Fault::Blackhole { agent, .. }
                | Fault::PartitionUp { agent, .. }
                | Fault::PartitionDown { agent, .. } => agent,
                Fault::DiskFull { .. } => 0,
            };
            assert!(agent < 3);
        }
    }

    #[test]
    fn disk_faults_come_only_when_asked_for() {
        assert!(
            !generate(4, 300, 3, Mix::All, false)
                .iter()
                .any(|f| matches!(f, Fault::DiskFull { .. }))
        );
        assert!(
            generate(4, 300, 3, Mix::All, true)
                .iter()
                .any(|f| matches!(f, Fault::DiskFull { .. }))
        );
    }

    #[test]
    fn mixes_keep_to_their_kinds() {
        assert!(
            generate(3, 200, 2, Mix::Kills, false)
                .iter()
                .all(|f| f.kind().starts_with("kill"))
        );
        assert!(
            generate(3, 200, 2, Mix::Network, false)
                .iter()
                .all(|f| !f.kind().starts_with("kill"))
        );
    }
}

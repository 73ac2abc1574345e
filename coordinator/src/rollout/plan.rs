//! A rollout's plan: the target hosts (those matching the selector when the rollout
//! starts, minus those already running the version healthy) cut into waves: a canary wave,
//! then batches, or an explicit ramp of cumulative `--steps`; with `--group-by` a wave never
//! mixes values of the label and groups go one after another. Pure: no I/O.

use std::collections::BTreeMap;
use std::fmt;

use crate::rate::{Rate, RateError};
use crate::selector::Selector;

/// Hosts per batch when `--batch` is not given.
pub const DEFAULT_BATCH: Rate = Rate::Percent(10);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Rate(#[from] RateError),
    #[error("invalid steps {input:?}: {why}")]
    Steps { input: String, why: String },
    #[error("--steps and --canary cannot be combined: the first step is the canary")]
    StepsWithCanary,
    #[error("invalid --group-by label {0:?}: it must not be empty")]
    GroupBy(String),
}

/// What the planner needs to know about one host of the fleet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Host {
    pub id: String,
    pub labels: BTreeMap<String, String>,
    /// The version of the app the host runs now, if any.
    pub version: Option<String>,
    pub healthy: bool,
    pub online: bool,
}

/// How the targets are cut into waves. Percentages are of the hosts to update (the
/// targets minus those already current), rounded up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strategy {
    /// The first wave; with `group_by`, capped at the first group.
    pub canary: Rate,
    /// Hosts per later wave (default [`DEFAULT_BATCH`]); with `steps`, the hosts in flight
    /// at once within a step after the first; also the size of each rollback wave.
    pub batch: Option<Rate>,
    /// Cumulative shares of the targets, e.g. `1,10%,50%,100%`; replaces canary and batch.
    pub steps: Option<Vec<Rate>>,
    pub group_by: Option<String>,
}

impl Default for Strategy {
    fn default() -> Self {
        Strategy {
            canary: Rate::Count(1),
            batch: None,
            steps: None,
            group_by: None,
        }
    }
}

impl Strategy {
    /// Builds a strategy from the CLI's strings, checking each.
    pub fn parse(
        canary: Option<&str>,
        batch: Option<&str>,
        steps: Option<&str>,
        group_by: Option<&str>,
    ) -> Result<Strategy, PlanError> {
        if steps.is_some() && canary.is_some() {
            return Err(PlanError::StepsWithCanary);
        }
        let canary = match canary {
            Some(text) => Rate::parse(text, "--canary", false)?,
            None => Rate::Count(1),
        };
        let batch = batch
            .map(|b| Rate::parse(b, "--batch", false))
            .transpose()?;
        let steps = steps.map(parse_steps).transpose()?;
        let group_by = match group_by {
            Some(label) if label.trim().is_empty() => {
                return Err(PlanError::GroupBy(label.to_string()));
            }
            Some(label) => Some(label.trim().to_string()),
            None => None,
        };
        Ok(Strategy {
            canary,
            batch,
            steps,
            group_by,
        })
    }
}

/// Parses `1,10%,50%,100%`: each step a cumulative share, never decreasing, the last 100%
/// (or a count, checked against the fleet when planning).
pub fn parse_steps(input: &str) -> Result<Vec<Rate>, PlanError> {
    let err = |why: String| PlanError::Steps {
        input: input.to_string(),
        why,
    };
    let mut steps = Vec::new();
    for (index, part) in input.split(',').enumerate() {
        let rate = Rate::parse(part, "step", false)
            .map_err(|e| err(format!("step {} ({:?}): {}", index + 1, part.trim(), e.why)))?;
        if let (Some(Rate::Percent(previous)), Rate::Percent(now)) = (steps.last(), rate) {
            if now < *previous {
                return Err(err(format!(
                    "step {} ({now}%) is below the step before it ({previous}%); steps are cumulative",
                    index + 1
                )));
            }
        }
        if let (Some(Rate::Count(previous)), Rate::Count(now)) = (steps.last(), rate) {
            if now < *previous {
                return Err(err(format!(
                    "step {} ({now}) is below the step before it ({previous}); steps are cumulative",
                    index + 1
                )));
            }
        }
        steps.push(rate);
    }
    Ok(steps)
}

/// One host the rollout will move, with what it runs now (for rollback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedHost {
    pub id: String,
    pub previous_version: Option<String>,
    pub online: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wave {
    /// The `--group-by` label value of every host in the wave ("" when absent).
    pub group: Option<String>,
    pub hosts: Vec<PlannedHost>,
    /// Hosts in flight at once within the wave.
    pub parallel: u32,
}

/// A validated plan: waves are non-empty and every host appears once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub version: String,
    /// Hosts that matched the selector.
    pub matched: u32,
    /// Hosts already running the version healthy.
    pub already_current: Vec<String>,
    pub waves: Vec<Wave>,
    /// Hosts in flight at once in later waves, and per wave of a rollback.
    pub batch_size: u32,
}

impl Plan {
    /// Hosts the rollout will move.
    pub fn targets(&self) -> u32 {
        let count: usize = self.waves.iter().map(|w| w.hosts.len()).sum();
        u32::try_from(count).unwrap_or(u32::MAX)
    }

    /// The plan as lines for `--dry-run`.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!(
            "version {}: {} hosts matched, {} already current, {} to update in {} waves",
            self.version,
            self.matched,
            self.already_current.len(),
            self.targets(),
            self.waves.len()
        )];
        for (index, wave) in self.waves.iter().enumerate() {
            let kind = if index == 0 { " (canary)" } else { "" };
            let group = match &wave.group {
                Some(value) => format!(" [group {value:?}]"),
                None => String::new(),
            };
            let ids: Vec<&str> = wave.hosts.iter().map(|h| h.id.as_str()).collect();
            lines.push(format!(
                "wave {}{kind}{group}: {} hosts, {} at once: {}",
                index + 1,
                wave.hosts.len(),
                wave.parallel,
                ids.join(", ")
            ));
        }
        lines
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for line in self.describe() {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

/// Cuts the hosts matching `selector` into waves.
pub fn build(
    version: &str,
    selector: &Selector,
    hosts: &[Host],
    strategy: &Strategy,
) -> Result<Plan, PlanError> {
    let matching: Vec<&Host> = hosts
        .iter()
        .filter(|h| selector.matches_host(&h.id, &h.labels))
        .collect();
    let matched = u32::try_from(matching.len()).unwrap_or(u32::MAX);
    let mut already_current = Vec::new();
    let mut groups: BTreeMap<String, Vec<&Host>> = BTreeMap::new();
    for host in matching {
        if host.version.as_deref() == Some(version) && host.healthy {
            already_current.push(host.id.clone());
            continue;
        }
        let key = match &strategy.group_by {
            Some(label) => host.labels.get(label).cloned().unwrap_or_default(),
            None => String::new(),
        };
        groups.entry(key).or_default().push(host);
    }
    already_current.sort();
    for members in groups.values_mut() {
        members.sort_by(|a, b| a.id.cmp(&b.id));
    }
    let total: usize = groups.values().map(Vec::len).sum();
    let total_u32 = u32::try_from(total).unwrap_or(u32::MAX);
    let batch_size = strategy
        .batch
        .unwrap_or(DEFAULT_BATCH)
        .resolve(total_u32)
        .max(1);

    // Cut points (exclusive ends) in the concatenation of the groups, in order.
    let mut cuts: Vec<usize> = Vec::new();
    let mut boundaries = Vec::new();
    let mut end = 0;
    for members in groups.values() {
        end += members.len();
        boundaries.push(end);
    }
    if let Some(steps) = &strategy.steps {
        for step in steps {
            cuts.push(resolve(*step, total_u32).min(total));
        }
        if let Some(last) = cuts.last() {
            if *last < total {
                return Err(PlanError::Steps {
                    input: steps
                        .iter()
                        .map(Rate::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    why: format!(
                        "the steps end at {last} of {total} hosts; the last step must be 100%"
                    ),
                });
            }
        }
        cuts.extend(boundaries.iter().copied());
    } else {
        let canary = resolve(strategy.canary, total_u32).max(1);
        let mut start = 0;
        for (index, group_end) in boundaries.iter().enumerate() {
            let mut at = start;
            if index == 0 {
                at = (at + canary).min(*group_end);
                cuts.push(at);
            }
            while at < *group_end {
                at = (at + batch_size as usize).min(*group_end);
                cuts.push(at);
            }
            start = *group_end;
        }
    }
    cuts.sort_unstable();
    cuts.dedup();

    let ordered: Vec<(&String, &Host)> = groups
        .iter()
        .flat_map(|(key, members)| members.iter().map(move |h| (key, *h)))
        .collect();
    let mut waves = Vec::new();
    let mut start = 0;
    for cut in cuts {
        if cut <= start {
            continue;
        }
        let slice = &ordered[start..cut];
        let size = u32::try_from(slice.len()).unwrap_or(u32::MAX);
        let parallel = match (&strategy.steps, strategy.batch) {
            (Some(_), Some(_)) if !waves.is_empty() => batch_size.min(size),
            _ => size,
        };
        waves.push(Wave {
            group: strategy.group_by.as_ref().map(|_| slice[0].0.clone()),
            hosts: slice
                .iter()
                .map(|(_, h)| PlannedHost {
                    id: h.id.clone(),
                    previous_version: h.version.clone(),
                    online: h.online,
                })
                .collect(),
            parallel,
        });
        start = cut;
    }
    Ok(Plan {
        version: version.to_string(),
        matched,
        already_current,
        waves,
        batch_size,
    })
}

fn resolve(rate: Rate, total: u32) -> usize {
    rate.resolve(total) as usize
}

#[cfg(test)]
mod tests;

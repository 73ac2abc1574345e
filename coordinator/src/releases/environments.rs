//! Which environments a release reached: a rollout of that app and version, started with
//! `--env`, that succeeded (and was not rolled back since). Read by `convoy release list`
//! and by the promotion rule of `convoy rollout start --env` (`requires`). Pure: it reads
//! only the rollout records it is given.

use convoy_proto::v1::{ReleaseEnvironment, RolloutRecord, RolloutState};

/// The environments `app` `version` reached, each with its first success, in the order of
/// `order` (coordinator.toml); the others (or all, with an empty `order`) by time.
pub fn reached(
    records: &[RolloutRecord],
    app: &str,
    version: &str,
    order: &[String],
) -> Vec<ReleaseEnvironment> {
    let mut out: Vec<ReleaseEnvironment> = Vec::new();
    for record in records {
        let Some(spec) = &record.spec else { continue };
        if spec.env.is_empty()
            || spec.app != app
            || spec.version != version
            || record.state() != RolloutState::Succeeded
        {
            continue;
        }
        match out.iter_mut().find(|e| e.env == spec.env) {
            Some(seen) if seen.reached_unix_ms <= record.finished_unix_ms => {}
            Some(seen) => {
                seen.reached_unix_ms = record.finished_unix_ms;
                seen.rollout = record.id.clone();
            }
            None => out.push(ReleaseEnvironment {
                env: spec.env.clone(),
                reached_unix_ms: record.finished_unix_ms,
                rollout: record.id.clone(),
            }),
        }
    }
    let rank = |env: &str| order.iter().position(|o| o == env).unwrap_or(usize::MAX);
    out.sort_by(|a, b| {
        (rank(&a.env), a.reached_unix_ms, &a.env).cmp(&(rank(&b.env), b.reached_unix_ms, &b.env))
    });
    out
}

/// Whether `app` `version` succeeded in `env`.
pub fn succeeded_in(records: &[RolloutRecord], app: &str, version: &str, env: &str) -> bool {
    reached(records, app, version, &[])
        .iter()
        .any(|e| e.env == env)
}

#[cfg(test)]
mod tests {
    use convoy_proto::v1::RolloutSpec;

    use super::*;

    fn record(id: &str, env: &str, version: &str, state: RolloutState, at: i64) -> RolloutRecord {
        RolloutRecord {
            id: id.into(),
            spec: Some(RolloutSpec {
                app: "web".into(),
                version: version.into(),
                env: env.into(),
                ..Default::default()
            }),
            state: state.into(),
            finished_unix_ms: at,
            ..Default::default()
        }
    }

    #[test]
    fn only_succeeded_rollouts_of_that_version_count_first_success_wins() {
        let records = vec![
            record("r1", "prod", "2.0", RolloutState::Succeeded, 300),
            record("r2", "staging", "2.0", RolloutState::Failed, 100),
            record("r3", "staging", "2.0", RolloutState::Succeeded, 200),
            record("r4", "staging", "2.0", RolloutState::Succeeded, 150),
            record("r5", "staging", "1.0", RolloutState::Succeeded, 50),
            record("r6", "", "2.0", RolloutState::Succeeded, 50),
            record("r7", "qa", "2.0", RolloutState::RolledBack, 50),
        ];
        let order = vec!["staging".to_string(), "prod".to_string()];
        let got = reached(&records, "web", "2.0", &order);
        let got: Vec<(&str, i64, &str)> = got
            .iter()
            .map(|e| (e.env.as_str(), e.reached_unix_ms, e.rollout.as_str()))
            .collect();
        assert_eq!(got, vec![("staging", 150, "r4"), ("prod", 300, "r1")]);
        assert!(succeeded_in(&records, "web", "2.0", "staging"));
        assert!(!succeeded_in(&records, "web", "2.0", "qa"));
        assert!(!succeeded_in(&records, "web", "1.1", "staging"));
    }
}

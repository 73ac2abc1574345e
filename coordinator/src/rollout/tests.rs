//! Property tests: random fleets, strategies and event sequences (a deterministic xorshift
//! PRNG, fixed seeds, bounded steps) against the rollout's invariants.

use std::collections::{BTreeMap, BTreeSet};

use super::gate::{Baseline, Gate, MetricsView};
use super::machine::{Action, Event, HostState, Offline, OnFailure, Rollout, Settings, State};
use super::plan::{self, Host, Strategy};
use crate::dispatch::rate::Rate;
use crate::selector::Selector;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &'a [String]) -> Option<&'a String> {
        if items.is_empty() {
            return None;
        }
        Some(&items[self.below(items.len() as u64) as usize])
    }
}

fn random_rollout(rng: &mut Rng) -> Rollout {
    let n = rng.below(25) as usize + 1;
    let zones = ["a", "b", "c"];
    let fleet: Vec<Host> = (0..n)
        .map(|i| {
            let mut labels = BTreeMap::new();
            if rng.chance(80) {
                labels.insert("zone".to_string(), zones[rng.below(3) as usize].to_string());
            }
            Host {
                id: format!("h{i}"),
                labels,
                version: Some("1".to_string()),
                healthy: true,
                online: rng.chance(85),
            }
        })
        .collect();
    let canary = format!("{}", rng.below(3) + 1);
    let batch = if rng.chance(50) {
        format!("{}", rng.below(5) + 1)
    } else {
        format!("{}%", rng.below(60) + 1)
    };
    let group = rng.chance(30).then_some("zone");
    let strategy = if rng.chance(25) {
        Strategy::parse(
            None,
            rng.chance(50).then_some(batch.as_str()),
            Some("1,25%,60%,100%"),
            group,
        )
    } else {
        Strategy::parse(Some(&canary), Some(&batch), None, group)
    };
    let plan = plan::build("2", &Selector::default(), &fleet, &strategy.unwrap()).unwrap();
    let settings = Settings {
        max_failures: Rate::Count(rng.below(3) as u32),
        bake_ms: if rng.chance(50) { 100 } else { 0 },
        gates: vec![Gate::parse("cpu<90").unwrap()],
        auto_promote: rng.chance(50),
        on_failure: if rng.chance(50) {
            OnFailure::Pause
        } else {
            OnFailure::Rollback
        },
        pause_timeout_ms: rng.chance(30).then_some(5_000),
        offline: if rng.chance(50) {
            Offline::Wait
        } else {
            Offline::Skip
        },
        offline_timeout_ms: 1_000,
        late_window_ms: 10_000,
    };
    Rollout::new(&plan, settings)
}

/// What the test knows independently of the machine's own bookkeeping.
#[derive(Default)]
struct Model {
    deploying: Vec<String>,
    rolling_back: Vec<String>,
    deployed: BTreeSet<String>,
    succeeded_at: BTreeMap<String, i64>,
    promoted: bool,
    aborted: bool,
    rollback_after_abort: bool,
}

fn apply(rollout: &mut Rollout, model: &mut Model, now: i64, event: Event) {
    if matches!(event, Event::Promote) && rollout.phase != State::Aborted {
        model.promoted = true;
    }
    // An operator may roll an aborted rollout back: rollbacks (never deploys) may follow.
    if matches!(event, Event::Rollback) && rollout.phase == State::Aborted {
        model.rollback_after_abort = true;
    }
    let actions = rollout.on_event(now, event);
    check_actions(rollout, model, now, &actions);
    // The driver ticks at the next deadline: one already due would make it spin.
    if let Some(at) = rollout.next_deadline() {
        assert!(
            at > now,
            "deadline {at} is not after {now}: {:?}",
            rollout.status()
        );
    }
}

fn check_actions(rollout: &Rollout, model: &mut Model, now: i64, actions: &[Action]) {
    for action in actions {
        match action {
            Action::Deploy { host } => {
                assert!(!model.aborted, "deploy {host} after abort");
                assert!(
                    model.deployed.insert(host.clone()),
                    "second deploy of {host}"
                );
                assert!(
                    rollout.failures.saturating_sub(rollout.acknowledged) <= rollout.budget,
                    "deploy {host} beyond the failure budget"
                );
                let wave = rollout.hosts[rollout.index[host]].wave;
                assert_eq!(wave, rollout.wave, "deploy {host} outside the current wave");
                if wave > 0 {
                    let previous = &rollout.waves[wave - 1];
                    let mut last_success = None;
                    for &i in &previous.hosts {
                        let id = &rollout.hosts[i].id;
                        assert!(
                            !model.deploying.contains(id),
                            "wave {wave} started while {id} deploys"
                        );
                        if let Some(at) = model.succeeded_at.get(id) {
                            last_success = last_success.max(Some(*at));
                        }
                    }
                    if let Some(at) = last_success {
                        assert!(
                            now >= at + rollout.settings.bake_ms,
                            "wave {wave} started before the bake ended"
                        );
                    }
                    if wave == 1 && !rollout.settings.auto_promote {
                        assert!(model.promoted, "wave 1 started without promotion");
                    }
                }
                model.deploying.push(host.clone());
            }
            Action::RollbackHost { host, .. } => {
                assert!(
                    !model.aborted || model.rollback_after_abort,
                    "rollback {host} after abort without an operator rollback"
                );
                model.rolling_back.push(host.clone());
            }
            Action::Finished { state } => {
                if *state == State::Aborted {
                    model.aborted = true;
                }
            }
            Action::WaitUntil { .. } | Action::ConvergeLate { .. } => {}
        }
    }
    let parallel = rollout.waves.get(rollout.wave).map_or(0, |w| w.parallel) as usize;
    assert!(
        model.deploying.len() <= parallel,
        "{} deploying, wave allows {parallel}",
        model.deploying.len()
    );
    assert!(model.rolling_back.len() <= rollout.batch_size as usize);
    let deploying = rollout
        .hosts
        .iter()
        .filter(|h| h.state == HostState::Deploying)
        .count();
    assert_eq!(deploying, model.deploying.len());
}

fn take(rng: &mut Rng, list: &mut Vec<String>) -> Option<String> {
    let host = rng.pick(list)?.clone();
    list.retain(|h| *h != host);
    Some(host)
}

fn random_step(rng: &mut Rng, rollout: &mut Rollout, model: &mut Model, now: &mut i64) {
    let ids: Vec<String> = rollout.hosts.iter().map(|h| h.id.clone()).collect();
    let event = match rng.below(100) {
        0..=29 => match take(rng, &mut model.deploying) {
            Some(host) if rng.chance(80) => {
                model.succeeded_at.insert(host.clone(), *now);
                Event::DeploySucceeded { host }
            }
            Some(host) if rng.chance(25) => Event::DeployUndelivered { host },
            Some(host) => Event::DeployFailed {
                host,
                reason: "boom".to_string(),
            },
            None => Event::Tick,
        },
        30..=44 => match take(rng, &mut model.rolling_back) {
            Some(host) if rng.chance(90) => Event::RollbackSucceeded { host },
            Some(host) => Event::RollbackFailed {
                host,
                reason: "boom".to_string(),
            },
            None => Event::Tick,
        },
        45..=64 => {
            *now += rng.below(400) as i64;
            Event::Tick
        }
        65..=74 => Event::Metrics {
            host: rng.pick(&ids).cloned().unwrap_or_default(),
            view: MetricsView {
                cpu_percent: if rng.chance(90) { 10.0 } else { 99.0 },
                healthy: rng.chance(97),
                ..MetricsView::default()
            },
            baseline: Baseline::default(),
        },
        75..=84 => Event::HostOnline {
            host: rng.pick(&ids).cloned().unwrap_or_default(),
        },
        85..=88 => Event::HostOffline {
            host: rng.pick(&ids).cloned().unwrap_or_default(),
        },
        89 => Event::HostRemoved {
            host: rng.pick(&ids).cloned().unwrap_or_default(),
        },
        90..=92 => Event::Promote,
        93..=95 => Event::Resume,
        96 => Event::Pause,
        97 => Event::Rollback,
        _ if rng.chance(50) => Event::Abort,
        _ => Event::Promote,
    };
    apply(rollout, model, *now, event);
}

/// The environment answers everything, promotes and lets time pass until the rollout rests.
fn settle(rollout: &mut Rollout, model: &mut Model, now: &mut i64) {
    for _ in 0..10_000 {
        let state = rollout.state();
        let quiet = model.deploying.is_empty() && model.rolling_back.is_empty();
        if quiet && (state.is_terminal() || state == State::Paused) {
            return;
        }
        let event = if let Some(host) = model.deploying.pop() {
            model.succeeded_at.insert(host.clone(), *now);
            Event::DeploySucceeded { host }
        } else if let Some(host) = model.rolling_back.pop() {
            Event::RollbackSucceeded { host }
        } else if state == State::AwaitingPromotion {
            Event::Promote
        } else {
            *now += 500;
            Event::Tick
        };
        apply(rollout, model, *now, event);
    }
    panic!("the rollout never came to rest: {:?}", rollout.status());
}

#[test]
fn invariants_hold_over_random_event_sequences() {
    let mut tally: BTreeMap<&str, u32> = BTreeMap::new();
    let mut deploys = 0;
    for seed in 1..=400u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut rollout = random_rollout(&mut rng);
        let mut model = Model::default();
        let mut now = 0;
        let actions = rollout.start(now);
        check_actions(&rollout, &mut model, now, &actions);
        let steps = rng.below(200);
        for _ in 0..steps {
            random_step(&mut rng, &mut rollout, &mut model, &mut now);
        }
        settle(&mut rollout, &mut model, &mut now);
        let ended = [
            State::Succeeded,
            State::Failed,
            State::Aborted,
            State::RolledBack,
            State::Paused,
        ];
        assert!(
            ended.contains(&rollout.state()),
            "seed {seed}: {:?}",
            rollout.state()
        );
        *tally.entry(rollout.state().as_str()).or_insert(0) += 1;
        deploys += model.deployed.len();
    }
    eprintln!("end states {tally:?}, {deploys} deploys");
    // The random walks reach every kind of ending, so the invariants were really exercised.
    for end in ["succeeded", "rolled_back", "aborted", "paused"] {
        assert!(tally.contains_key(end), "no walk ended {end}: {tally:?}");
    }
}

#[test]
fn a_quiet_environment_always_succeeds() {
    for seed in 1..=100u64 {
        let mut rng = Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1);
        let mut rollout = random_rollout(&mut rng);
        let mut model = Model::default();
        let mut now = 0;
        let actions = rollout.start(now);
        check_actions(&rollout, &mut model, now, &actions);
        settle(&mut rollout, &mut model, &mut now);
        assert_eq!(rollout.state(), State::Succeeded, "seed {seed}");
        for host in &rollout.hosts {
            assert!(matches!(
                host.state,
                HostState::Succeeded | HostState::Skipped | HostState::Unreachable
            ));
        }
    }
}

#[test]
fn ten_thousand_hosts() {
    let fleet: Vec<Host> = (0..10_000)
        .map(|i| Host {
            id: format!("host-{i:05}"),
            version: Some("1".to_string()),
            healthy: true,
            online: true,
            ..Host::default()
        })
        .collect();
    let strategy = Strategy::parse(Some("1%"), Some("2%"), None, None).unwrap();
    let plan = plan::build("2", &Selector::default(), &fleet, &strategy).unwrap();
    let mut rollout = Rollout::new(
        &plan,
        Settings {
            auto_promote: true,
            ..Settings::default()
        },
    );
    let started = std::time::Instant::now();
    let mut pending: Vec<String> = Vec::new();
    let collect = |actions: Vec<Action>, pending: &mut Vec<String>| {
        for action in actions {
            if let Action::Deploy { host } = action {
                pending.push(host);
            }
        }
    };
    collect(rollout.start(0), &mut pending);
    let mut events = 0;
    while let Some(host) = pending.pop() {
        events += 1;
        collect(
            rollout.on_event(events, Event::DeploySucceeded { host }),
            &mut pending,
        );
    }
    eprintln!("10,000 hosts: {:?} of engine time", started.elapsed());
    assert_eq!(events, 10_000);
    assert_eq!(rollout.state(), State::Succeeded);
    // The target is < 1 ms of engine CPU per host; debug builds included.
    assert!(
        started.elapsed().as_millis() < 10_000,
        "{:?}",
        started.elapsed()
    );
}

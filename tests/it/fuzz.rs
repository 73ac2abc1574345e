//! A short fuzz run of every target (`convoy_tests::fuzz`): the committed seed corpus, then
//! generated and mutated inputs, no panic allowed. `CONVOY_FUZZ_INPUTS` sets the inputs per
//! target (default 3,000: a few seconds each in a debug build) and `CONVOY_FUZZ_SEED` the
//! seed (default fixed, so CI is reproducible); the long run in RELIABILITY.md sets both.

use convoy_tests::fuzz::{self, targets::TARGETS};

fn inputs() -> u64 {
    std::env::var("CONVOY_FUZZ_INPUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(3_000)
}

fn seed() -> u64 {
    std::env::var("CONVOY_FUZZ_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(20_261_203)
}

fn fuzz_target(name: &str) {
    let target = TARGETS
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no fuzz target {name}"));
    match fuzz::run(target, seed(), inputs()) {
        Ok(stats) => eprintln!(
            "fuzz {name}: {} inputs in {:.1?}, no panic",
            stats.inputs, stats.elapsed
        ),
        Err(finding) => panic!("{finding}"),
    }
}

macro_rules! targets {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            fuzz_target(stringify!($name));
        }
    )*};
}

targets!(
    selector,
    gate,
    alert_rule,
    analysis,
    enroll_csr,
    rate,
    cron,
    coordinator_config,
    agent_config,
    release_manifest,
    san_uri,
    names,
    backup_manifest,
    archive,
    backup_archive,
    snapshot,
    agent_message,
    coordinator_message,
    operator_request,
);

#[test]
fn every_target_has_a_test_and_a_seed_corpus() {
    for target in TARGETS {
        assert!(
            !fuzz::corpus(target.name).is_empty() || target.generate.is_some(),
            "{} has neither a seed corpus nor a generator",
            target.name
        );
    }
    assert_eq!(TARGETS.len(), 19, "add the new target to targets! above");
}

#[test]
fn the_mutator_is_replayable() {
    use rand::SeedableRng as _;
    let seeds = vec![b"role=web".to_vec()];
    let run = |seed| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..100)
            .map(|_| fuzz::mutate(&mut rng, &seeds, &["=", ","]))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

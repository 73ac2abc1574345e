//! `revocation`: from an admin's `Revoke` call until the revoked agent's live session ends.
//! A coordinator in this process (real mTLS, certificates minted per run) and one
//! `HostileAgent` holding a session per trial, revoked by agent id; the time runs from the
//! call's start until the session's stream ends. The requirement is ≤ 1 s.

use std::time::Duration;

use anyhow::{Context as _, ensure};
use convoy_proto::identity::Role;
use convoy_proto::v1::RevokeRequest;
use convoy_proto::v1::certs_client::CertsClient;
use convoy_proto::v1::revoke_request::Target;
use convoy_tests::hostile::agent::{HostileAgent, hello};
use convoy_tests::{TestCoordinator, TestPki, channel};
use tokio::time::Instant;

use crate::procfs::median;

#[derive(Debug, clap::Args)]
pub struct RevocationArgs {
    /// Sessions revoked per run.
    #[arg(long, default_value_t = 20)]
    trials: usize,
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

/// A session that has not ended this long after the call counts as a failure.
const GIVE_UP: Duration = Duration::from_secs(10);

pub async fn revocation_bench(args: &RevocationArgs) -> anyhow::Result<()> {
    println!(
        "revocation: {} live sessions revoked one at a time, {} runs",
        args.trials, args.runs
    );
    let mut p50s = Vec::new();
    let mut p95s = Vec::new();
    for run in 1..=args.runs {
        let pki = TestPki::new();
        let coordinator = TestCoordinator::start(&pki).await;
        let admin = pki.operator("root", Role::Admin);
        let mut api = CertsClient::new(
            channel(&coordinator.url(), &pki.ca_cert(), Some(&admin))
                .await
                .context("operator channel")?,
        );
        let mut times = Vec::new();
        for trial in 0..args.trials {
            let id = format!("rev-{run}-{trial}");
            let mut agent = HostileAgent::connect(&pki, &coordinator, &id, hello(&id, &[]))
                .await
                .with_context(|| format!("session of {id}"))?;
            let started = Instant::now();
            api.revoke(RevokeRequest {
                target: Some(Target::AgentId(id.clone())),
                reason: String::new(),
            })
            .await
            .context("revoke")?;
            // Until the stream ends (None) or nothing has come for GIVE_UP.
            while agent.next_message(GIVE_UP).await.is_some() {}
            let took = started.elapsed();
            ensure!(
                took < GIVE_UP,
                "{id}'s session was still open {took:?} after its revocation"
            );
            times.push(took);
        }
        coordinator.stop().await;
        times.sort();
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "run {run}: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            ms(at(0.5)),
            ms(at(0.95)),
            ms(at(1.0))
        );
        p50s.push(ms(at(0.5)));
        p95s.push(ms(at(0.95)));
    }
    println!(
        "median of {} runs: p50 {:.1} ms, p95 {:.1} ms (requirement: ≤ 1000 ms)",
        args.runs,
        median(&p50s),
        median(&p95s)
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

//! `rollout`: a rolling release across N simulated agents over real mTLS. `convoy serve`
//! runs in its own process; the swarm's agents answer each deploy at once (or after
//! `--command-delay`) and then report the new version healthy, as real agents do after
//! their health check. Measures the time from `StartRollout` until the rollout
//! succeeded and the coordinator's CPU time meanwhile, per host.

use std::time::Duration;

use anyhow::{Context as _, bail};
use convoy_proto::v1::rollouts_client::RolloutsClient;
use convoy_proto::v1::{
    GetRolloutRequest, PushReleaseChunk, ReleaseMeta, RolloutSpec, StartRolloutRequest,
    push_release_chunk,
};
use tokio::time::Instant;

use crate::procfs::{CLK_TCK, cpu_ticks, median};
use crate::stage::{ConnectArgs, Stage, StageOptions};

#[derive(Debug, clap::Args)]
pub struct RolloutArgs {
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    /// Hosts per wave after the canary.
    #[arg(long, default_value = "10%")]
    batch: String,
    /// Rollouts to run, one after another (each to a new version), on the same swarm.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Time each simulated deploy takes from Started to Finished.
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    command_delay: Duration,
    /// A rollout that has not succeeded this long after its start fails the bench.
    #[arg(long, default_value = "300s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// A tiny tar.gz: the swarm never unpacks it, but the coordinator checks it is an archive.
fn artifact(version: &str) -> anyhow::Result<Vec<u8>> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    let mut header = tar::Header::new_gnu();
    let body = format!("{version}\n");
    header.set_size(body.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, "VERSION", body.as_bytes())?;
    Ok(builder.into_inner()?.finish()?)
}

pub async fn rollout_bench(args: &RolloutArgs) -> anyhow::Result<()> {
    let mut options = StageOptions::new(args.agents, &args.connect);
    options.apps = vec!["web".to_string()];
    options.command_delay = args.command_delay;
    let stage = Stage::start(&options).await?;
    println!(
        "rollout across {} simulated agents: canary 1, batch {}, deploy delay {:?}; all connected after {:.2} s",
        args.agents,
        args.batch,
        args.command_delay,
        stage.storm.all_connected_after.as_secs_f64()
    );
    let result = runs(&stage, args).await;
    let report = stage.stop().await?;
    let (totals, per_host) = result?;
    println!(
        "median: total {:.2} s, coordinator CPU {:.1} µs per host (target: bounded by the agents)",
        median(&totals),
        median(&per_host)
    );
    println!("swarm: {report}");
    Ok(())
}

async fn runs(stage: &Stage, args: &RolloutArgs) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    let mut admin = stage.fleet.admin().await?;
    let ca = stage
        .fleet
        .ca_dir()
        .join(convoy_coordinator::pki::CA_CERT_FILE);
    let channel =
        convoy_tests::channel(&stage.fleet.url(), &ca, Some(stage.fleet.operator())).await?;
    // A 10,000-host rollout's view lists every host: a few MiB.
    let mut rollouts = RolloutsClient::new(channel).max_decoding_message_size(64 << 20);
    let mut totals = Vec::new();
    let mut per_host = Vec::new();
    for run in 1..=args.runs {
        let version = format!("{run}.0");
        let bytes = artifact(&version)?;
        let mut chunks = vec![PushReleaseChunk {
            body: Some(push_release_chunk::Body::Meta(ReleaseMeta {
                app: "web".into(),
                version: version.clone(),
                ..Default::default()
            })),
        }];
        chunks.push(PushReleaseChunk {
            body: Some(push_release_chunk::Body::Data(bytes)),
        });
        admin
            .push_release(tokio_stream::iter(chunks))
            .await
            .context("push release")?;
        let pid = stage.coordinator.pid();
        let ticks_before = cpu_ticks(pid)?;
        let started_at = Instant::now();
        let id = rollouts
            .start_rollout(StartRolloutRequest {
                spec: Some(RolloutSpec {
                    app: "web".into(),
                    version: version.clone(),
                    batch: args.batch.clone(),
                    auto_promote: true,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .context("start rollout")?
            .into_inner()
            .id;
        let view = loop {
            let view = rollouts
                .get_rollout(GetRolloutRequest { id: id.clone() })
                .await?
                .into_inner();
            if view.state().name() == "succeeded" {
                break view;
            }
            if matches!(
                view.state().name(),
                "failed" | "aborted" | "rolled_back" | "paused"
            ) {
                bail!(
                    "rollout {id} ended {}: {}",
                    view.state().name(),
                    view.waiting_for
                );
            }
            if started_at.elapsed() > args.timeout {
                bail!(
                    "rollout {id} not done after {:?}: {}",
                    args.timeout,
                    view.waiting_for
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let total = started_at.elapsed().as_secs_f64();
        #[allow(clippy::cast_precision_loss)]
        let cpu = (cpu_ticks(pid)? - ticks_before) as f64 / *CLK_TCK as f64;
        #[allow(clippy::cast_precision_loss)]
        let micros = cpu * 1e6 / args.agents as f64;
        println!(
            "run {run}: {} waves, {} hosts, total {total:.2} s, coordinator CPU {cpu:.2} s = {micros:.1} µs/host",
            view.waves.len(),
            view.targets
        );
        totals.push(total);
        per_host.push(micros);
    }
    Ok((totals, per_host))
}

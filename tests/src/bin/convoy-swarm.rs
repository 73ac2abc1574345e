//! `convoy-swarm`: runs N simulated agents against a coordinator for a fixed time, then
//! closes every stream and prints a summary. The agents advertise one action, `noop`,
//! and answer its commands with the real command events. Thin: parses flags and calls
//! [`convoy_tests::swarm`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use convoy_tests::swarm::{self, Swarm, SwarmConfig};

#[derive(Debug, Parser)]
#[command(
    name = "convoy-swarm",
    about = "Simulated agents over real mTLS sessions, for load tests on loopback"
)]
struct Cli {
    /// The coordinator's address.
    #[arg(long, default_value = "https://127.0.0.1:7443")]
    coordinator: String,
    /// Directory with the fleet CA's ca.pem and ca.key (agent certificates are minted
    /// from it in memory).
    #[arg(long, default_value = "pki")]
    ca_dir: PathBuf,
    /// Number of simulated agents.
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    /// Heartbeat interval of every agent.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    heartbeat: Duration,
    /// Total run time, connecting included; then every stream is closed.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Agent ids are this prefix and a zero-padded index.
    #[arg(long, default_value = "sim-")]
    id_prefix: String,
    /// Labels of every agent, as k=v,k=v.
    #[arg(long, default_value = "role=sim", value_parser = parse_labels)]
    labels: BTreeMap<String, String>,
    /// Connects in flight at once.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// Time each command takes from Started to Finished (0 = answer at once).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    command_delay: Duration,
    /// Share of agents (0.0 to 1.0, spread evenly by index) whose commands fail with exit
    /// code 1.
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    fail_share: f64,
}

fn parse_share(text: &str) -> Result<f64, String> {
    let share: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if (0.0..=1.0).contains(&share) {
        Ok(share)
    } else {
        Err(format!("{share} is not between 0.0 and 1.0"))
    }
}

fn parse_labels(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut labels = BTreeMap::new();
    for pair in text.split(',').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("label {pair:?} is not key=value"))?;
        convoy_proto::labels::validate_label(key, value)?;
        labels.insert(key.to_string(), value.to_string());
    }
    Ok(labels)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let files = swarm::raise_open_file_limit().context("cannot raise the open-file limit")?;
    let config = SwarmConfig {
        labels: cli.labels,
        heartbeat: cli.heartbeat,
        id_prefix: cli.id_prefix,
        connect_concurrency: cli.connect_concurrency,
        command_delay: cli.command_delay,
        fail_share: cli.fail_share,
        ..SwarmConfig::new(cli.coordinator, cli.ca_dir, cli.agents)
    };
    let deadline = tokio::time::Instant::now() + cli.duration;
    println!(
        "minting {} agent certificates (open-file limit {files})",
        config.agents
    );
    let mut swarm = Swarm::start(config).await?;
    let settled = tokio::select! {
        progress = swarm.settled(cli.duration) => Some(progress),
        _ = tokio::signal::ctrl_c() => None,
    };
    if let Some(progress) = settled {
        println!(
            "connected {}, failed {}{}",
            progress.connected,
            progress.failed,
            progress
                .all_connected_after
                .map(|d| format!(", all connected after {:.2} s", d.as_secs_f64()))
                .unwrap_or_default()
        );
        tokio::select! {
            () = tokio::time::sleep_until(deadline) => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    println!("stopping");
    let report = swarm.stop().await;
    println!("{report}");
    anyhow::ensure!(
        report.failed == 0 && report.dropped == 0,
        "{} agents failed to connect and {} streams dropped",
        report.failed,
        report.dropped
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_parse_and_validate() {
        let labels = parse_labels("role=sim,zone=a").unwrap();
        assert_eq!(labels["zone"], "a");
        assert!(parse_labels("").unwrap().is_empty());
        assert!(parse_labels("role").is_err());
        assert!(parse_labels("ro le=x").is_err());
    }

    #[test]
    fn shares_are_between_zero_and_one() {
        assert_eq!(parse_share("0.25"), Ok(0.25));
        assert_eq!(parse_share("1"), Ok(1.0));
        assert!(parse_share("1.5").is_err());
        assert!(parse_share("-0.1").is_err());
        assert!(parse_share("half").is_err());
    }
}

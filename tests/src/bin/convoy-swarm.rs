//! `convoy-swarm`: runs N simulated agents against a coordinator for a fixed time, then
//! closes every stream and prints a summary. The agents advertise one action, `noop`,
//! and the apps of `--apps`, and answer commands with the real command events (deploys
//! and rollbacks are fake: the reported version changes). Thin: parses flags and calls
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
    /// Apps every agent allows, as a,b (fake deploys and rollbacks); empty for none.
    #[arg(long, default_value = "sim", value_parser = parse_apps)]
    apps: Apps,
    /// Reconnect dropped sessions with the real agent's backoff (0.5 s doubling to 60 s,
    /// full jitter) instead of counting them as lost.
    #[arg(long)]
    reconnect: bool,
    /// Spread connections over the source addresses 127.0.0.1 ..= 127.0.0.N (each has
    /// about 28,000 ephemeral ports); 0 lets the kernel choose one.
    #[arg(long, default_value_t = 8)]
    source_addresses: u8,
}

/// App names (a type of its own so that clap does not parse a list per value).
#[derive(Debug, Clone)]
struct Apps(Vec<String>);

fn parse_apps(text: &str) -> Result<Apps, String> {
    let apps: Vec<String> = text
        .split(',')
        .filter(|app| !app.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = apps
        .iter()
        .find(|app| !convoy_proto::labels::valid_action_name(app))
    {
        return Err(format!("{bad:?} is not a valid app name"));
    }
    Ok(Apps(apps))
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
        apps: cli.apps.0,
        reconnect: cli.reconnect,
        source_addresses: cli.source_addresses,
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
    let now = swarm.progress();
    println!(
        "stopping: {} online, {} dropped, {} reconnected",
        now.online, now.dropped, now.reconnects
    );
    let report = swarm.stop().await;
    println!("{report}");
    // With --reconnect, drops that came back are expected (e.g. a coordinator restart).
    let lost = if cli.reconnect {
        report.dropped.saturating_sub(report.reconnects)
    } else {
        report.dropped
    };
    anyhow::ensure!(
        report.failed == 0 && lost == 0,
        "{} agents failed to connect and {lost} streams were lost",
        report.failed,
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
    fn apps_parse_and_validate() {
        assert_eq!(parse_apps("web,db").unwrap().0, ["web", "db"]);
        assert!(parse_apps("").unwrap().0.is_empty());
        assert!(parse_apps("we b").is_err());
    }

    #[test]
    fn the_documented_interface_parses() {
        let cli = Cli::try_parse_from([
            "convoy-swarm",
            "--coordinator",
            "https://127.0.0.1:7443",
            "--ca-dir",
            "pki",
            "--agents",
            "10000",
            "--heartbeat",
            "1s",
            "--duration",
            "60s",
            "--id-prefix",
            "sim-",
            "--labels",
            "role=sim",
            "--fail-share",
            "0.0",
        ])
        .unwrap();
        assert_eq!(cli.agents, 10_000);
        assert_eq!(cli.duration, Duration::from_secs(60));
        assert_eq!(cli.source_addresses, 8);
        assert!(!cli.reconnect);
        assert!(Cli::try_parse_from(["convoy-swarm", "--agents", "many"]).is_err());
        assert!(Cli::try_parse_from(["convoy-swarm", "--fail-share", "2"]).is_err());
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

//! `convoy serve --check --config F`: loads the config as `serve` would, builds the TLS
//! setup from its files and reads every release key, then says what the config means.
//! Any problem is an error (exit 1); nothing is bound, opened or written.

use std::fmt::Write as _;
use std::path::Path;

use crate::config::Config;

/// Checks `path`; returns the description to print.
pub fn check(path: &Path) -> anyhow::Result<String> {
    let config = Config::load(path)?;
    crate::grpc::listener::server_config(&config.tls.ca, &config.tls.cert, &config.tls.key)?;
    let mut keys = Vec::new();
    for key in &config.release_public_keys {
        convoy_proto::signing::load_public(key)
            .map_err(|err| anyhow::anyhow!("release_public_keys: {}: {err}", key.display()))?;
        keys.push(key.display().to_string());
    }
    Ok(describe(&config, &keys))
}

fn describe(config: &Config, keys: &[String]) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        let _ = writeln!(out, "{text}");
    };
    let human = |d: std::time::Duration| humantime::format_duration(d).to_string();
    line(format!(
        "listen:            {} (TLS 1.3, mTLS)",
        config.listen
    ));
    line(format!("data dir:          {}", config.data_dir.display()));
    line(format!(
        "tls:               ca {}, cert {}, key {}",
        config.tls.ca.display(),
        config.tls.cert.display(),
        config.tls.key.display()
    ));
    line(format!(
        "agents:            heartbeat every {}, offline after {}",
        human(config.agents.heartbeat_interval),
        human(config.agents.offline_after)
    ));
    line(format!(
        "jobs:              output kept per command {} bytes",
        config.jobs.output_cap_bytes
    ));
    line(format!(
        "release keys:      {}",
        if keys.is_empty() {
            "none: signatures are stored as claimed, shown unverified".to_string()
        } else {
            keys.join(", ")
        }
    ));
    let backups = &config.backups;
    line(format!(
        "backups:           min retention {}, keep {}, quota {}",
        human(backups.min_retention),
        if backups.keep == 0 {
            "all".to_string()
        } else {
            backups.keep.to_string()
        },
        backups
            .max_bytes_per_host
            .map_or("none".to_string(), |b| format!("{b} bytes per host"))
    ));
    for rule in &backups.retention {
        line(format!(
            "  retention:       set {} hosts {}: keep {}",
            rule.set, rule.hosts, rule.keep
        ));
    }
    out
}

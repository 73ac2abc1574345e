//! `convoy-agent check --config F`: loads the config as `run` would, reads every file it
//! names (TLS material, release keys), and says what the config means. Any problem is an
//! error (the caller exits non-zero); nothing is contacted and nothing is written.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use convoy_proto::identity::Identity as ConvoyIdentity;

use crate::Config;

/// Why a config's files do not hold up; the text is what `convoy-agent check` prints.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("cannot read {what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// The agent certificate names no Convoy identity.
    #[error("{}: {message}", path.display())]
    Identity { path: PathBuf, message: String },
    #[error("{} is not an agent certificate (it is for {identity})", path.display())]
    NotAgent { path: PathBuf, identity: String },
    #[error("release_public_keys: {}: {message}", path.display())]
    ReleaseKey { path: PathBuf, message: String },
}

/// Checks the files `config` names; returns the description to print.
pub fn check(config: &Config) -> Result<String, CheckError> {
    let read = |path: &Path, what: &'static str| {
        std::fs::read(path).map_err(|source| CheckError::Read {
            what,
            path: path.to_path_buf(),
            source,
        })
    };
    read(&config.tls.ca, "the CA certificate")?;
    let cert = read(&config.tls.cert, "the agent certificate")?;
    read(&config.tls.key, "the agent key")?;
    let id = match ConvoyIdentity::from_cert_pem(&cert).map_err(|err| CheckError::Identity {
        path: config.tls.cert.clone(),
        message: err.to_string(),
    })? {
        ConvoyIdentity::Agent(id) => id,
        other => {
            return Err(CheckError::NotAgent {
                path: config.tls.cert.clone(),
                identity: other.to_string(),
            });
        }
    };
    let mut keys = Vec::new();
    for path in &config.release_public_keys {
        convoy_proto::signing::load_public(path).map_err(|err| CheckError::ReleaseKey {
            path: path.clone(),
            message: err.to_string(),
        })?;
        keys.push(path.display().to_string());
    }
    Ok(describe(config, id.as_str(), &keys))
}

fn describe(config: &Config, id: &str, keys: &[String]) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        let _ = writeln!(out, "{text}");
    };
    line(format!(
        "agent id:      {id} (from {})",
        config.tls.cert.display()
    ));
    line(format!("coordinator:   {}", config.coordinator));
    line(format!("data dir:      {}", config.data_dir.display()));
    let labels: Vec<String> = config
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    line(format!("labels:        {}", none_or(&labels.join(", "))));
    line(format!("actions:       {}", config.actions.len()));
    for (name, action) in &config.actions {
        let mut text = format!(
            "  {name}: {:?}, timeout {}",
            action.run,
            humantime::format_duration(action.timeout)
        );
        for (param, rule) in &action.params {
            match (&rule.allow, &rule.pattern) {
                (Some(allow), _) => {
                    let _ = write!(text, "; {{{param}}} one of {}", allow.join("|"));
                }
                (None, Some(pattern)) => {
                    let _ = write!(text, "; {{{param}}} matching ^(?:{pattern})$");
                }
                (None, None) => {}
            }
        }
        line(text);
    }
    let apps: Vec<&str> = config.apps.keys().map(String::as_str).collect();
    line(format!("apps:          {}", none_or(&apps.join(", "))));
    for (app, signals) in &config.app_signals {
        let names: Vec<&str> = signals.signals.keys().map(String::as_str).collect();
        line(format!(
            "  {app} signals: {} from {} (timeout {:?})",
            names.join(", "),
            signals.url,
            signals.timeout
        ));
    }
    let sets: Vec<&str> = config.backup_sets.keys().map(String::as_str).collect();
    line(format!("backup sets:   {}", none_or(&sets.join(", "))));
    line(format!(
        "releases:      {}",
        if !keys.is_empty() {
            format!("signed by one of {}", keys.join(", "))
        } else if config.allow_unsigned_releases {
            "UNSIGNED ALLOWED (allow_unsigned_releases = true)".to_string()
        } else {
            "every deploy refused: no release_public_keys".to_string()
        }
    ));
    line(format!("keep releases: {}", config.keep_releases));
    out
}

fn none_or(text: &str) -> &str {
    if text.is_empty() { "(none)" } else { text }
}

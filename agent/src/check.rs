//! `convoy-agent check --config F`: loads the config as `run` would, reads every file it
//! names (TLS material, release keys), and says what the config means. Any problem is an
//! error (the caller exits non-zero); nothing is contacted and nothing is written.

use std::fmt::Write as _;

use convoy_proto::identity::Identity as ConvoyIdentity;

use crate::Config;

/// Checks the files `config` names; returns the description to print.
pub fn check(config: &Config) -> Result<String, String> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).map_err(|err| format!("cannot read {what} {}: {err}", path.display()))
    };
    read(&config.tls.ca, "the CA certificate")?;
    let cert = read(&config.tls.cert, "the agent certificate")?;
    read(&config.tls.key, "the agent key")?;
    let id = match ConvoyIdentity::from_cert_pem(&cert)
        .map_err(|err| format!("{}: {err}", config.tls.cert.display()))?
    {
        ConvoyIdentity::Agent(id) => id,
        other => {
            return Err(format!(
                "{} is not an agent certificate (it is for {other})",
                config.tls.cert.display()
            ));
        }
    };
    let mut keys = Vec::new();
    for path in &config.release_public_keys {
        convoy_proto::signing::load_public(path)
            .map_err(|err| format!("release_public_keys: {}: {err}", path.display()))?;
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

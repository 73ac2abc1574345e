//! What a host may say about itself. A Hello is refused (InvalidArgument, nothing stored)
//! when it claims another identity or carries fields out of bounds; a heartbeat is cut to
//! its bounds and rate-limited per session. Every string a host sends ends up in tables,
//! JSON and logs, so control characters are refused outright.

use std::time::Instant;

use convoy_proto::identity::AgentId;
use convoy_proto::v1::{AppStatus, DiskUsage, Hello};
use tonic::Status;
use tracing::warn;

const MAX_LABELS: usize = 64;
/// The agent's software version.
pub const MAX_VERSION_CHARS: usize = 128;
/// A DNS name.
const MAX_HOSTNAME_CHARS: usize = 253;
/// OS name and version, kernel, architecture.
const MAX_FACT_CHARS: usize = 128;
const MAX_ACTIONS: usize = 256;
const MAX_APPS: usize = 64;
/// An app name, version or kept release.
const MAX_APP_FIELD_CHARS: usize = 128;
const MAX_KEPT: usize = 64;
/// Commands held in the agent's journal and reported in its Hello.
const MAX_HELD: usize = 100_000;
/// Disks in one heartbeat, and the length of a mount point.
pub const MAX_DISKS: usize = 64;
const MAX_MOUNT_CHARS: usize = 512;

/// Heartbeats one session may send in a burst, and then per second. An agent sends one
/// per `metrics_interval` plus one when an app's state changes; anything faster is dropped.
const HEARTBEAT_BURST: f64 = 20.0;
const HEARTBEATS_PER_SEC: f64 = 10.0;

fn text(field: &str, value: &str, max_chars: usize) -> Result<(), Status> {
    if value.chars().count() > max_chars {
        return Err(Status::invalid_argument(format!(
            "{field} is longer than {max_chars} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Status::invalid_argument(format!(
            "{field} contains control characters"
        )));
    }
    Ok(())
}

fn count(field: &str, len: usize, max: usize) -> Result<(), Status> {
    if len > max {
        return Err(Status::invalid_argument(format!(
            "{len} {field}; at most {max} are allowed"
        )));
    }
    Ok(())
}

fn app_status(app: &AppStatus) -> Result<(), Status> {
    text("app name", &app.app, MAX_APP_FIELD_CHARS)?;
    text("app version", &app.version, MAX_APP_FIELD_CHARS)?;
    text("previous release", &app.previous, MAX_APP_FIELD_CHARS)?;
    count("kept releases", app.kept.len(), MAX_KEPT)?;
    app.kept
        .iter()
        .try_for_each(|kept| text("kept release", kept, MAX_APP_FIELD_CHARS))
}

/// Refuses a Hello that claims another identity or carries unusable fields.
pub fn check_hello(cert_id: &AgentId, hello: &Hello) -> Result<(), Status> {
    if hello.agent_id != cert_id.as_str() {
        warn!(
            certificate = %cert_id,
            claimed = %hello.agent_id.escape_debug(),
            "hello claims an id that differs from the certificate; refused"
        );
        return Err(Status::permission_denied(format!(
            "hello claims agent id {:?} but the certificate is for {:?}",
            hello.agent_id,
            cert_id.as_str()
        )));
    }
    count("labels", hello.labels.len(), MAX_LABELS)?;
    for (key, value) in &hello.labels {
        convoy_proto::labels::validate_label(key, value).map_err(Status::invalid_argument)?;
    }
    text("version", &hello.version, MAX_VERSION_CHARS)?;
    if let Some(facts) = &hello.facts {
        text("hostname", &facts.hostname, MAX_HOSTNAME_CHARS)?;
        text("os", &facts.os, MAX_FACT_CHARS)?;
        text("os_version", &facts.os_version, MAX_FACT_CHARS)?;
        text("kernel", &facts.kernel, MAX_FACT_CHARS)?;
        text("arch", &facts.arch, MAX_FACT_CHARS)?;
    }
    count("actions", hello.actions.len(), MAX_ACTIONS)?;
    if let Some(bad) = hello.actions.iter().find(|a| {
        let name = a
            .strip_prefix(convoy_proto::labels::BACKUP_SET_PREFIX)
            .unwrap_or(a);
        !convoy_proto::labels::valid_action_name(name)
    }) {
        return Err(Status::invalid_argument(format!(
            "invalid action name {:?}",
            bad.escape_debug().to_string()
        )));
    }
    count("apps", hello.apps.len(), MAX_APPS)?;
    hello.apps.iter().try_for_each(app_status)?;
    count("held commands", hello.commands.len(), MAX_HELD)?;
    Ok(())
}

/// Cuts a heartbeat's lists to their bounds: disks past [`MAX_DISKS`] or with an unusable
/// mount point, apps past their bound or with unusable fields, are left out. Returns how
/// many entries were left out.
pub fn bound_heartbeat(disks: &mut Vec<DiskUsage>, apps: &mut Vec<AppStatus>) -> usize {
    let before = disks.len() + apps.len();
    disks.retain(|d| text("mount", &d.mount, MAX_MOUNT_CHARS).is_ok());
    disks.truncate(MAX_DISKS);
    apps.retain(|a| app_status(a).is_ok());
    apps.truncate(MAX_APPS);
    before - disks.len() - apps.len()
}

/// The longest signal key, `APP.NAME` (a 63-character app name, a dot, a label key).
const MAX_SIGNAL_KEY_CHARS: usize = 63 + 1 + 253 + 1 + 63;

/// Cuts a heartbeat's app signals to their bounds: a key that is not `APP.NAME` (a valid
/// app name, a dot, a valid label key: one of the ways to split it at a dot), or a value
/// that is not finite, is left out, and then all past the first
/// [`convoy_proto::MAX_SIGNALS_PER_HEARTBEAT`] (by key). Trimmed, like disks and apps,
/// rather than refused: the heartbeat's liveness and host metrics still count. Returns how
/// many were left out.
pub fn bound_signals(signals: &mut std::collections::BTreeMap<String, f64>) -> usize {
    let before = signals.len();
    signals.retain(|key, value| value.is_finite() && valid_signal_key(key));
    while signals.len() > convoy_proto::MAX_SIGNALS_PER_HEARTBEAT {
        signals.pop_last();
    }
    before - signals.len()
}

fn valid_signal_key(key: &str) -> bool {
    key.chars().count() <= MAX_SIGNAL_KEY_CHARS
        && key.match_indices('.').any(|(at, _)| {
            convoy_proto::labels::valid_app_name(&key[..at])
                && convoy_proto::labels::valid_key(&key[at + 1..])
        })
}

/// One session's heartbeat budget.
#[derive(Debug)]
pub struct HeartbeatBudget {
    tokens: f64,
    at: Instant,
    /// Heartbeats dropped since the last warning.
    dropped: u64,
    warned: Option<Instant>,
}

impl HeartbeatBudget {
    pub fn new(now: Instant) -> Self {
        Self {
            tokens: HEARTBEAT_BURST,
            at: now,
            dropped: 0,
            warned: None,
        }
    }

    /// Whether a heartbeat arriving `now` is within the budget. Dropped ones are logged at
    /// most once a minute per session, with how many there were.
    pub fn allow(&mut self, agent_id: &AgentId, now: Instant) -> bool {
        let refill = now.duration_since(self.at).as_secs_f64() * HEARTBEATS_PER_SEC;
        self.tokens = (self.tokens + refill).min(HEARTBEAT_BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return true;
        }
        self.dropped += 1;
        if self
            .warned
            .is_none_or(|at| now.duration_since(at).as_secs() >= 60)
        {
            warn!(%agent_id, dropped = self.dropped, "heartbeats faster than {HEARTBEATS_PER_SEC}/s dropped");
            self.warned = Some(now);
            self.dropped = 0;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use convoy_proto::v1::Facts;

    fn hello() -> Hello {
        Hello {
            agent_id: "web-1".into(),
            version: "1.0".into(),
            facts: Some(Facts {
                hostname: "web-1.example".into(),
                ..Default::default()
            }),
            actions: vec!["restart".into(), "backup:db".into()],
            ..Default::default()
        }
    }

    #[test]
    fn hello_fields_are_bounded_and_printable() {
        let id = AgentId::new("web-1").unwrap();
        check_hello(&id, &hello()).unwrap();
        type Change = Box<dyn Fn(&mut Hello)>;
        let cases: Vec<(&str, Change)> = vec![
            ("version", Box::new(|h| h.version = "x".repeat(129))),
            ("version", Box::new(|h| h.version = "1.0\u{1b}[2J".into())),
            (
                "hostname",
                Box::new(|h| h.facts.as_mut().unwrap().hostname = "a\rb".into()),
            ),
            (
                "kernel",
                Box::new(|h| h.facts.as_mut().unwrap().kernel = "k".repeat(500)),
            ),
            ("action", Box::new(|h| h.actions = vec!["rm -rf".into()])),
            (
                "app",
                Box::new(|h| {
                    h.apps = vec![AppStatus {
                        app: "web".into(),
                        version: "1\u{7}".into(),
                        ..Default::default()
                    }]
                }),
            ),
        ];
        for (field, change) in cases {
            let mut bad = hello();
            change(&mut bad);
            let status = check_hello(&id, &bad).unwrap_err();
            assert_eq!(status.code(), tonic::Code::InvalidArgument, "{field}");
            assert!(
                status.message().contains(field),
                "{field}: {}",
                status.message()
            );
        }
    }

    #[test]
    fn heartbeats_are_cut_to_their_bounds() {
        let mut disks: Vec<DiskUsage> = (0..100)
            .map(|i| DiskUsage {
                mount: format!("/m{i}"),
                ..Default::default()
            })
            .collect();
        disks[0].mount = "/evil\u{1b}]0;x".into();
        let mut apps = vec![AppStatus::default(); 70];
        assert_eq!(bound_heartbeat(&mut disks, &mut apps), 36 + 6);
        assert_eq!(disks.len(), MAX_DISKS);
        assert_eq!(disks[0].mount, "/m1");
        assert_eq!(apps.len(), MAX_APPS);
    }

    #[test]
    fn heartbeat_signals_are_cut_to_their_bounds() {
        let mut signals: std::collections::BTreeMap<String, f64> = (0..100)
            .map(|i| (format!("web.s{i:03}"), f64::from(i)))
            .collect();
        signals.insert("web.nan".into(), f64::NAN);
        signals.insert("no-dot".into(), 1.0);
        signals.insert("web.\u{1b}]0;x".into(), 1.0);
        signals.insert("Web!.x".into(), 1.0);
        assert_eq!(bound_signals(&mut signals), 4 + 36);
        assert_eq!(signals.len(), convoy_proto::MAX_SIGNALS_PER_HEARTBEAT);
        assert_eq!(signals.keys().next().map(String::as_str), Some("web.s000"));
        assert!(signals.contains_key("web.s063") && !signals.contains_key("web.s064"));
        let mut fine = std::collections::BTreeMap::from([("a.b.c".to_string(), 0.5)]);
        assert_eq!(bound_signals(&mut fine), 0);
    }

    #[test]
    fn heartbeats_past_the_rate_are_dropped() {
        let id = AgentId::new("web-1").unwrap();
        let start = Instant::now();
        let mut budget = HeartbeatBudget::new(start);
        let allowed = (0..100).filter(|_| budget.allow(&id, start)).count();
        assert_eq!(allowed, 20, "the burst");
        // One second later, ten more.
        let later = start + Duration::from_secs(1);
        let allowed = (0..100).filter(|_| budget.allow(&id, later)).count();
        assert_eq!(allowed, 10);
    }
}

//! Prometheus exposition: the `[metrics] listen` plain-HTTP listener (off unless set)
//! serving `GET /metrics` in the text format through `prometheus-client`. Counters that
//! change as things happen ([`Counters`]: commands, gRPC calls, heartbeats) live here and
//! are bumped by their sources; everything else (agents, rollouts, backups, certificates,
//! store size, alerts) is read at scrape time. Per-host gauges are opt-in
//! (`per_host = true`) with a bounded label set: the id plus at most 4 configured labels.

pub mod grpc;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64};

use http_body_util::Full;
use hyper::body::Bytes;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry as Metrics, Unit};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::alerts::Alerts;
use crate::config::monitor::MetricsConfig;
use crate::registry::Registry;
use crate::store::Store;

type Labels = Vec<(String, String)>;
type FloatGauge = Gauge<f64, AtomicU64>;

/// Counters kept between scrapes.
#[derive(Debug, Clone)]
pub struct Counters {
    pub commands: Family<Labels, Counter>,
    pub command_seconds: Histogram,
    pub grpc: grpc::Calls,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            commands: Family::default(),
            command_seconds: Histogram::new([0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 1800.0]),
            grpc: Family::default(),
        }
    }
}

impl Counters {
    /// Counts the commands of a settled job (`convoy_commands_total{kind,state}` and
    /// their durations).
    pub fn job_settled(&self, job: &convoy_proto::v1::Job) {
        let first = job.action.split(' ').next().unwrap_or_default();
        let known = ["deploy", "rollback", "backup", "restore", "drill"];
        let kind = if known.contains(&first) { first } else { "run" };
        for host in &job.hosts {
            let state = convoy_proto::v1::CommandState::try_from(host.state)
                .map(|s| {
                    s.as_str_name()
                        .trim_start_matches("COMMAND_STATE_")
                        .to_ascii_lowercase()
                })
                .unwrap_or_else(|_| "unknown".into());
            self.commands
                .get_or_create(&vec![("kind".into(), kind.into()), ("state".into(), state)])
                .inc();
            if host.started_unix_ms > 0 && host.finished_unix_ms >= host.started_unix_ms {
                self.command_seconds
                    .observe((host.finished_unix_ms - host.started_unix_ms) as f64 / 1000.0);
            }
        }
    }
}

/// What a scrape reads.
#[derive(Debug, Clone)]
pub struct Exposition {
    pub config: MetricsConfig,
    pub registry: Arc<Registry>,
    pub store: Store,
    pub alerts: Arc<Alerts>,
    pub counters: Counters,
    pub certs: Vec<PathBuf>,
    pub recorder: crate::history::Recorder,
    pub events: crate::events::Events,
}

fn family() -> Family<Labels, Gauge> {
    Family::default()
}

fn float_family() -> Family<Labels, FloatGauge> {
    Family::default()
}

fn l(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

impl Exposition {
    /// The text exposition of everything, now.
    pub fn render(&self) -> String {
        let mut m = Metrics::default();
        let info = family();
        info.get_or_create(&l(&[("version", env!("CARGO_PKG_VERSION"))]))
            .set(1);
        m.register(
            "convoy_build_info",
            "Build of the running coordinator",
            info,
        );
        self.agents(&mut m);
        self.counters(&mut m);
        self.rollouts(&mut m);
        self.backups(&mut m);
        self.certs_and_store(&mut m);
        self.snapshots(&mut m);
        self.alerts(&mut m);
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut out, &m);
        out
    }

    /// Agents by state, and the opt-in per-host gauges.
    fn agents(&self, m: &mut Metrics) {
        let agents = family();
        let (mut online, mut offline) = (0i64, 0i64);
        let per_host = self.config.per_host;
        let cpu = float_family();
        let mem = float_family();
        let load = float_family();
        let disk = float_family();
        let up = family();
        self.registry.visit(|record, is_online| {
            if is_online {
                online += 1
            } else {
                offline += 1
            }
            if !per_host {
                return;
            }
            let mut labels = vec![("id".to_string(), record.id.clone())];
            for key in &self.config.per_host_labels {
                labels.push((
                    key.clone(),
                    record.labels.get(key).cloned().unwrap_or_default(),
                ));
            }
            up.get_or_create(&labels).set(i64::from(is_online));
            if let Some(sample) = &record.last_metrics {
                cpu.get_or_create(&labels).set(sample.cpu_percent);
                let pct = |u: u64, t: u64| {
                    if t == 0 {
                        0.0
                    } else {
                        u as f64 * 100.0 / t as f64
                    }
                };
                mem.get_or_create(&labels)
                    .set(pct(sample.mem_used_bytes, sample.mem_total_bytes));
                load.get_or_create(&labels).set(sample.load1);
                for d in sample.disks.iter().take(crate::history::MAX_DISKS) {
                    let mut with_mount = labels.clone();
                    with_mount.push(("mount".into(), d.mount.clone()));
                    disk.get_or_create(&with_mount)
                        .set(pct(d.used_bytes, d.total_bytes));
                }
            }
        });
        agents.get_or_create(&l(&[("state", "online")])).set(online);
        agents
            .get_or_create(&l(&[("state", "offline")]))
            .set(offline);
        m.register(
            "convoy_agents",
            "Agents known to the coordinator, by state",
            agents,
        );
        if per_host {
            m.register("convoy_host_up", "Whether the host has a live session", up);
            m.register("convoy_host_cpu_percent", "Host CPU use, percent", cpu);
            m.register(
                "convoy_host_memory_used_percent",
                "Host memory used, percent",
                mem,
            );
            m.register("convoy_host_load1", "Host one-minute load average", load);
            m.register(
                "convoy_host_disk_used_percent",
                "Host disk space used, percent",
                disk,
            );
        }
    }

    /// The counters kept as things happen: commands, gRPC calls, heartbeats, events.
    fn counters(&self, m: &mut Metrics) {
        m.register(
            "convoy_commands",
            "Commands finished, by kind and final state",
            self.counters.commands.clone(),
        );
        m.register_with_unit(
            "convoy_command_duration",
            "Time from a command's start to its end on the host",
            Unit::Seconds,
            self.counters.command_seconds.clone(),
        );
        m.register(
            "convoy_grpc_requests",
            "gRPC calls served, by method and status code",
            self.counters.grpc.clone(),
        );
        m.register(
            "convoy_heartbeats",
            "Agent heartbeats with metrics received",
            self.recorder.heartbeats.clone(),
        );
        let appended = Counter::<u64, AtomicU64>::default();
        appended.inc_by(self.events.last_seq());
        m.register(
            "convoy_events",
            "Events appended to the event log",
            appended,
        );
        let dropped = Counter::<u64, AtomicU64>::default();
        dropped.inc_by(self.recorder.dropped());
        m.register(
            "convoy_history_samples_dropped",
            "Heartbeat samples the history could not queue",
            dropped,
        );
    }

    /// Rollouts by state and the hosts they moved, from the store.
    fn rollouts(&self, m: &mut Metrics) {
        let rollouts = family();
        let hosts = Family::<Labels, Counter>::default();
        if let Ok(records) = self.store.rollouts() {
            let (mut ok, mut failed) = (0u64, 0u64);
            for record in &records {
                rollouts
                    .get_or_create(&l(&[("state", record.state().name())]))
                    .inc();
                ok += u64::from(record.succeeded);
                failed += u64::from(record.failures);
            }
            hosts
                .get_or_create(&l(&[("result", "succeeded")]))
                .inc_by(ok);
            hosts
                .get_or_create(&l(&[("result", "failed")]))
                .inc_by(failed);
        }
        m.register("convoy_rollouts", "Rollouts, by state", rollouts);
        m.register(
            "convoy_rollout_hosts",
            "Hosts rollouts moved, by result",
            hosts,
        );
    }

    /// The last complete backup and the last passed drill of each set on each host.
    fn backups(&self, m: &mut Metrics) {
        let backups = float_family();
        let drills = float_family();
        if let Ok(all) = self.store.backups() {
            for backup in all {
                let labels = l(&[("host", &backup.host), ("set", &backup.set)]);
                if backup.state == convoy_proto::v1::BackupState::Complete as i32 {
                    let g = backups.get_or_create(&labels);
                    g.set(g.get().max(backup.completed_unix_ms as f64 / 1000.0));
                }
                if let Some(drill) = backup.last_drill.as_ref().filter(|d| d.ok) {
                    let g = drills.get_or_create(&labels);
                    g.set(g.get().max(drill.at_unix_ms as f64 / 1000.0));
                }
            }
        }
        m.register(
            "convoy_backup_last_success_timestamp_seconds",
            "When the last complete backup of a set on a host finished",
            backups,
        );
        m.register(
            "convoy_backup_last_drill_timestamp_seconds",
            "When the last passed recovery drill of a set on a host ran",
            drills,
        );
    }

    /// The coordinator's certificate expiry and its store's size.
    fn certs_and_store(&self, m: &mut Metrics) {
        let certs = float_family();
        for path in &self.certs {
            if let Some(at) = crate::alerts::facts::cert_not_after(path) {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                certs
                    .get_or_create(&l(&[("cert", &name)]))
                    .set(at as f64 / 1000.0);
            }
        }
        m.register(
            "convoy_cert_expiry_timestamp_seconds",
            "When the coordinator's certificates expire",
            certs,
        );
        let size = Gauge::<i64, AtomicI64>::default();
        size.set(i64::try_from(self.store.size_on_disk().unwrap_or(0)).unwrap_or(i64::MAX));
        m.register_with_unit(
            "convoy_store_size",
            "Size of the coordinator's store on disk",
            Unit::Bytes,
            size,
        );
    }

    /// When the last scheduled snapshot was saved and the last one drilled (from the
    /// store's event marks; absent until the first).
    fn snapshots(&self, m: &mut Metrics) {
        let marks = [
            (
                crate::server::snapshots::LAST_SUCCESS,
                "convoy_snapshot_last_success_timestamp_seconds",
                "When the last scheduled snapshot of the coordinator was saved",
            ),
            (
                crate::server::snapshots::LAST_DRILL,
                "convoy_snapshot_last_drill_timestamp_seconds",
                "When the last scheduled snapshot passed its drill",
            ),
        ];
        for (key, name, help) in marks {
            let Some(ms) = self
                .store
                .event_mark(key)
                .ok()
                .flatten()
                .and_then(|v| v.parse::<i64>().ok())
            else {
                continue;
            };
            let gauge = FloatGauge::default();
            gauge.set(ms as f64 / 1000.0);
            m.register(name, help, gauge);
        }
    }

    /// Alert instances firing, by rule (0 for every rule that is not).
    fn alerts(&self, m: &mut Metrics) {
        let firing = family();
        for rule in self.alerts.rules().iter() {
            firing.get_or_create(&l(&[("rule", &rule.name)])).set(0);
        }
        for alert in self.alerts.list(false) {
            firing.get_or_create(&l(&[("rule", &alert.rule)])).inc();
        }
        m.register(
            "convoy_alerts_firing",
            "Alert instances firing, by rule",
            firing,
        );
    }
}

/// Serves `/metrics` on `listen` until shutdown.
pub async fn serve(
    listen: SocketAddr,
    exposition: Arc<Exposition>,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    let connections = tracker.clone();
    tracker.spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok(pair) => pair,
                    Err(err) => {
                        tracing::warn!(error = %err, "metrics listener accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let exposition = exposition.clone();
            let stop = shutdown.clone();
            connections.spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let exposition = exposition.clone();
                        async move {
                            Ok::<_, std::convert::Infallible>(answer(&request, exposition).await)
                        }
                    },
                );
                let connection = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                tokio::select! {
                    _ = connection => {}
                    () = stop.cancelled() => {}
                }
            });
        }
    });
    Ok(local)
}

/// OpenMetrics text as the classic Prometheus text format: counter families are named
/// with their `_total` suffix in `# HELP`/`# TYPE`, and `# UNIT` and `# EOF` go.
pub fn to_classic(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .filter(|name| !name.ends_with("_total"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

async fn answer(
    request: &hyper::Request<hyper::body::Incoming>,
    exposition: Arc<Exposition>,
) -> hyper::Response<Full<Bytes>> {
    let reply = |status: u16, kind: &str, body: String| {
        let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() =
            hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
        if let Ok(value) = kind.parse() {
            response
                .headers_mut()
                .insert(hyper::header::CONTENT_TYPE, value);
        }
        response
    };
    match (request.method(), request.uri().path()) {
        (&hyper::Method::GET, "/metrics") => {
            // OpenMetrics for those who ask for it (Prometheus does); the classic text
            // format (0.0.4) for everyone else (curl, promtool).
            let openmetrics = request
                .headers()
                .get(hyper::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("application/openmetrics-text"));
            let body = tokio::task::spawn_blocking(move || exposition.render())
                .await
                .unwrap_or_default();
            if openmetrics {
                reply(
                    200,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    body,
                )
            } else {
                reply(
                    200,
                    "text/plain; version=0.0.4; charset=utf-8",
                    to_classic(&body),
                )
            }
        }
        (&hyper::Method::GET, "/") => reply(
            200,
            "text/plain",
            "convoy coordinator: see /metrics\n".into(),
        ),
        _ => reply(404, "text/plain", "not found\n".into()),
    }
}

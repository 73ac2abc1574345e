//! `Monitor.CapacityReport` and `Monitor.ScalingStatus` (issue 16): the wire side of
//! `capacity` and `scaling`. Both only read (viewers may call them).

use convoy_proto::v1::{
    CapacityGroup, CapacityReportRequest, CapacityReportResponse, GrowthTrend, ScalingPolicyStatus,
    ScalingStatusResponse, Utilisation,
};
use tonic::Status;

use super::MonitorService;
use crate::analysis::capacity::{DEFAULT_TARGET, GroupReport, Spread, Thresholds, Trend};
use crate::analysis::scaling::Decision;
use crate::clock::now_unix_ms;
use crate::config::scaling::millis;
use crate::selector::Selector;

/// The window when the request names none.
pub const DEFAULT_SINCE_MS: u64 = 14 * 86_400_000;

fn spread(s: Option<Spread>) -> Option<Utilisation> {
    s.map(|s| Utilisation {
        p50: s.p50,
        p95: s.p95,
    })
}

fn trend(
    trend: Option<Trend>,
    first: Option<(String, f64)>,
    now_day: f64,
    full: f64,
) -> GrowthTrend {
    let (first_full_host, first_full_days) =
        first.map_or((String::new(), None), |(h, d)| (h, Some(d)));
    GrowthTrend {
        slope_per_day: trend.map_or(0.0, |t| t.slope_per_day),
        now: trend.map_or(0.0, |t| t.slope_per_day * now_day + t.intercept),
        days_until_full: trend.and_then(|t| t.days_until(now_day, full)),
        first_full_host,
        first_full_days,
    }
}

fn group(name: String, r: GroupReport, now_day: f64, full: f64) -> CapacityGroup {
    CapacityGroup {
        name,
        hosts: u32::try_from(r.hosts).unwrap_or(u32::MAX),
        hosts_with_data: u32::try_from(r.hosts_with_data).unwrap_or(u32::MAX),
        cpu: spread(r.cpu),
        mem: spread(r.mem),
        disk: spread(r.disk),
        load_per_core: spread(r.load_per_core),
        hot: r.hot,
        idle: r.idle,
        disk_trend: Some(trend(r.disk_trend, r.disk_full_first, now_day, full)),
        mem_trend: Some(trend(r.mem_trend, r.mem_full_first, now_day, full)),
        recommended_hosts: r.recommended_hosts,
        sized_by: r.sized_by.unwrap_or_default().to_string(),
    }
}

impl MonitorService {
    pub(super) async fn capacity(
        &self,
        body: CapacityReportRequest,
    ) -> Result<CapacityReportResponse, Status> {
        let selector = Selector::parse(&body.selector)
            .map_err(|err| Status::invalid_argument(format!("selector: {}", err.render())))?;
        let group_by = if body.group_by.is_empty() {
            None
        } else if convoy_proto::labels::valid_key(&body.group_by) {
            Some(body.group_by.clone())
        } else {
            return Err(Status::invalid_argument(format!(
                "--group-by {:?} is not a label key",
                body.group_by
            )));
        };
        let target = if body.target == 0.0 {
            DEFAULT_TARGET
        } else {
            body.target
        };
        if !(target > 0.0 && target <= 1.0) {
            return Err(Status::invalid_argument(format!(
                "--target {target}: expected a fraction above 0 and at most 1 (0.6 = 60 %)"
            )));
        }
        let keep = u64::try_from(self.history.keep_15m.as_millis()).unwrap_or(u64::MAX);
        let since = if body.since_ms == 0 {
            DEFAULT_SINCE_MS
        } else {
            body.since_ms
        }
        .min(keep);
        if since < crate::capacity::MIN_SINCE_MS as u64 {
            return Err(Status::invalid_argument("--since must be at least 1m"));
        }
        let thresholds = Thresholds {
            target: target * 100.0,
            ..Thresholds::default()
        };
        let request = crate::capacity::Request {
            selector,
            group_by,
            name: if body.selector.is_empty() {
                "all".into()
            } else {
                body.selector.clone()
            },
            since_ms: i64::try_from(since).unwrap_or(i64::MAX),
            thresholds,
        };
        let (store, history, registry) = (
            self.events.store().clone(),
            self.history,
            self.registry.clone(),
        );
        let now = now_unix_ms();
        let report = tokio::task::spawn_blocking(move || {
            crate::capacity::report(&store, &history, &registry, &request, now)
        })
        .await
        .map_err(|_| Status::internal("capacity report failed"))??;
        let now_day = (report.to - report.from) as f64 / 86_400_000.0;
        Ok(CapacityReportResponse {
            groups: report
                .groups
                .into_iter()
                .map(|g| group(g.name, g.report, now_day, thresholds.full_at))
                .collect(),
            from_unix_ms: report.from,
            to_unix_ms: report.to,
            step_ms: u64::try_from(report.step).unwrap_or(0),
            target,
            hot_above: thresholds.hot_above,
            idle_below: thresholds.idle_below,
            full_at: thresholds.full_at,
            selector: body.selector,
            group_by: body.group_by,
        })
    }

    pub(super) async fn scaling_status(&self) -> Result<ScalingStatusResponse, Status> {
        let store = self.events.store().clone();
        let mut policies = Vec::new();
        for policy in self.scaling.policies() {
            let c = &policy.config;
            let record = store.scaling_record(&c.name)?.unwrap_or_default();
            let last = if c.dry_run {
                record.last_dry_run
            } else {
                record.last_action
            };
            let latest = self.scaling.latest(&c.name);
            let next_action = last
                .as_ref()
                .map(|a| a.at_unix_ms.saturating_add(millis(c.cooldown)))
                .filter(|at| *at > now_unix_ms())
                .unwrap_or(0);
            let action = match (&c.command, &c.notify) {
                (Some(_), Some(sink)) => format!("command, notify {sink}"),
                (Some(_), None) => "command".to_string(),
                (None, Some(sink)) => format!("notify {sink}"),
                (None, None) => "nothing".to_string(),
            };
            let decision = match &latest {
                None => "pending",
                Some(e) if e.running => "running",
                Some(e) => match e.decision {
                    Decision::NoData => "no_data",
                    Decision::Hold { .. } => "hold",
                    Decision::Scale { .. } => "scale",
                    Decision::Cooldown { .. } => "cooldown",
                },
            };
            policies.push(ScalingPolicyStatus {
                name: c.name.clone(),
                selector: c.selector.clone(),
                metric: c.metric.clone(),
                target: c.target,
                min: c.min,
                max: c.max,
                cooldown_ms: u64::try_from(millis(c.cooldown)).unwrap_or(0),
                interval_ms: u64::try_from(millis(c.interval)).unwrap_or(0),
                dry_run: c.dry_run,
                action,
                evaluated_unix_ms: latest.as_ref().map_or(0, |e| e.at_unix_ms),
                value: latest.as_ref().and_then(|e| e.value),
                current: latest.as_ref().map_or(0, |e| e.current),
                desired: latest.as_ref().and_then(|e| e.decision.desired()),
                decision: decision.to_string(),
                last_action: last,
                next_action_unix_ms: next_action,
            });
        }
        Ok(ScalingStatusResponse { policies })
    }
}

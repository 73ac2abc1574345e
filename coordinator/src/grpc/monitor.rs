//! The `Monitor` service (`monitor.proto`): `convoy metrics`, `alerts`, `events` and
//! `notify`. Reads need a viewer certificate; `TestNotify` needs an operator and is
//! audited. Converts between the wire and `history`, `alerts`, `events` and `notify`;
//! `capacity.rs` holds the capacity report and the scaling status.

mod capacity;

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;

use convoy_proto::identity::Role;
use convoy_proto::v1::monitor_server::Monitor as MonitorRpc;
use convoy_proto::v1::{
    CapacityReportRequest, CapacityReportResponse, ScalingStatusRequest, ScalingStatusResponse,
};
use convoy_proto::v1::{
    Event, ListAlertsRequest, ListAlertsResponse, ListEventsRequest, ListEventsResponse,
    NotifyLogRequest, NotifyLogResponse, QueryMetricsRequest, QueryMetricsResponse, Series,
    SeriesPoint, TestNotifyRequest, TestNotifyResponse,
};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use super::{audit, auth};
use crate::alerts::Alerts;
use crate::clock::now_unix_ms;
use crate::events::{Events, kind_matches};
use crate::history::{HistoryConfig, QueryError, SeriesId};
use crate::registry::Registry;
use crate::selector::Selector;

/// Series one query may ask for.
pub const MAX_SERIES: usize = 16;
/// Points one series may return.
pub const MAX_POINTS: u64 = 2_000;
/// Events one list may return.
pub const MAX_EVENTS: u32 = 10_000;

pub struct MonitorService {
    pub registry: Arc<Registry>,
    pub events: Events,
    pub alerts: Arc<Alerts>,
    pub history: HistoryConfig,
    /// The running outbox; its sink list is swapped by a SIGHUP reload.
    pub notifier: crate::notify::Notifier,
    /// The `[[scaling]]` policies and their latest evaluations.
    pub scaling: crate::scaling::Scaling,
}

impl From<QueryError> for Status {
    fn from(err: QueryError) -> Self {
        match err {
            QueryError::Store(store) => store.into(),
            QueryError::Invalid(why) => Status::invalid_argument(why),
        }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<Event, Status>> + Send>>;

fn filter(request: &ListEventsRequest) -> impl Fn(&Event) -> bool + Send + Clone + 'static {
    let kind = request.kind.clone();
    let since = request.since_unix_ms;
    move |event: &Event| {
        (kind.is_empty() || kind_matches(&kind, &event.kind)) && event.at_unix_ms >= since
    }
}

fn point(p: &crate::history::query::Point) -> SeriesPoint {
    SeriesPoint {
        at_unix_ms: p.at,
        min: f64::from(p.stat.min),
        max: f64::from(p.stat.max),
        avg: f64::from(p.stat.avg),
        count: p.count,
    }
}

#[tonic::async_trait]
impl MonitorRpc for MonitorService {
    async fn query_metrics(
        &self,
        request: Request<QueryMetricsRequest>,
    ) -> Result<Response<QueryMetricsResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let body = request.into_inner();
        if body.series.is_empty() || body.series.len() > MAX_SERIES {
            return Err(Status::invalid_argument(format!(
                "ask for 1 to {MAX_SERIES} series"
            )));
        }
        let series = body
            .series
            .iter()
            .map(|s| SeriesId::parse(s))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Status::invalid_argument)?;
        let now = now_unix_ms();
        let keep = u64::try_from(self.history.keep_15m.as_millis()).unwrap_or(u64::MAX);
        let since = if body.since_ms == 0 {
            3_600_000
        } else {
            body.since_ms.min(keep)
        };
        let step = if body.step_ms == 0 {
            (since / 60).max(1000)
        } else {
            body.step_ms
        };
        if since / step > MAX_POINTS {
            return Err(Status::invalid_argument(format!(
                "--step is too small: at most {MAX_POINTS} points per series"
            )));
        }
        let (from, step) = (now - since as i64, step as i64);
        let range = (from, now + 1, step);
        let history = self.history;
        let store = self.events.store().clone();
        if !body.host.is_empty() {
            if !self.registry.is_known(&body.host) {
                return Err(Status::not_found(format!("no agent {:?}", body.host)));
            }
            let host = body.host.clone();
            let ids = series.clone();
            let points = tokio::task::spawn_blocking(move || {
                crate::history::query_host(&store, &history, &host, &ids, range, now)
            })
            .await
            .map_err(|_| Status::internal("query failed"))??;
            return Ok(Response::new(QueryMetricsResponse {
                series: body
                    .series
                    .iter()
                    .zip(points)
                    .map(|(name, points)| Series {
                        host: body.host.clone(),
                        name: name.clone(),
                        points: points.iter().map(point).collect(),
                    })
                    .collect(),
                step_ms: step as u64,
                hosts: 1,
            }));
        }
        let selector = Selector::parse(&body.selector)
            .map_err(|err| Status::invalid_argument(err.to_string()))?;
        let agg = crate::history::query::Agg::parse(&body.agg).map_err(Status::invalid_argument)?;
        let hosts: HashSet<String> = self
            .registry
            .list(&selector)
            .into_iter()
            .map(|a| a.id)
            .collect();
        let ids = series.clone();
        let (answers, covered) = tokio::task::spawn_blocking(move || {
            let mut answers = Vec::new();
            let mut covered = 0;
            for id in &ids {
                let (points, n) =
                    crate::history::query_selector(&store, &history, &hosts, id, agg, range, now)?;
                covered = covered.max(n);
                answers.push(points);
            }
            Ok::<_, QueryError>((answers, covered))
        })
        .await
        .map_err(|_| Status::internal("query failed"))??;
        Ok(Response::new(QueryMetricsResponse {
            series: body
                .series
                .iter()
                .zip(answers)
                .map(|(name, points)| Series {
                    host: body.selector.clone(),
                    name: name.clone(),
                    points: points.iter().map(point).collect(),
                })
                .collect(),
            step_ms: step.max(crate::history::MINUTE_MS) as u64,
            hosts: u32::try_from(covered).unwrap_or(u32::MAX),
        }))
    }

    async fn list_alerts(
        &self,
        request: Request<ListAlertsRequest>,
    ) -> Result<Response<ListAlertsResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        Ok(Response::new(ListAlertsResponse {
            alerts: self.alerts.list(request.get_ref().pending),
        }))
    }

    async fn list_events(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<Response<ListEventsResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let body = request.into_inner();
        let limit = if body.limit == 0 {
            1000
        } else {
            body.limit.min(MAX_EVENTS)
        } as usize;
        let keep = filter(&body);
        let store = self.events.store().clone();
        let events = tokio::task::spawn_blocking(move || store.events_newest(limit, keep))
            .await
            .map_err(|_| Status::internal("listing failed"))??;
        Ok(Response::new(ListEventsResponse { events }))
    }

    type FollowEventsStream = EventStream;

    async fn follow_events(
        &self,
        request: Request<ListEventsRequest>,
    ) -> Result<Response<EventStream>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let body = request.into_inner();
        let limit = if body.limit == 0 {
            100
        } else {
            body.limit.min(MAX_EVENTS)
        } as usize;
        let keep = filter(&body);
        // Subscribe first: an event appended while the backlog is read is then seen twice
        // (and skipped by its sequence number) rather than never.
        let mut live = self.events.subscribe();
        let store = self.events.store().clone();
        let backlog_keep = keep.clone();
        let backlog = tokio::task::spawn_blocking(move || store.events_newest(limit, backlog_keep))
            .await
            .map_err(|_| Status::internal("listing failed"))??;
        let events = self.events.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(async move {
            let mut last = 0;
            for event in backlog {
                last = event.seq;
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
            loop {
                let event = tokio::select! {
                    () = tx.closed() => return,
                    next = live.recv() => next,
                };
                match event {
                    Ok(event) if event.seq > last => {
                        last = event.seq;
                        if keep(&event) && tx.send(Ok(event)).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        // Fell behind the broadcast: catch up from the store.
                        let store = events.store().clone();
                        let missed = keep.clone();
                        let Ok(Ok(caught)) = tokio::task::spawn_blocking(move || {
                            store.events_after(last, MAX_EVENTS as usize, missed)
                        })
                        .await
                        else {
                            return;
                        };
                        for event in caught {
                            last = event.seq;
                            if tx.send(Ok(event)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn test_notify(
        &self,
        request: Request<TestNotifyRequest>,
    ) -> Result<Response<TestNotifyResponse>, Status> {
        super::limits::check(request.get_ref())?;
        let name = request.get_ref().name.clone();
        let sink = self
            .notifier
            .sinks()
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .find(|s| s.name == name)
            .cloned();
        let store = self.events.store().clone();
        let reply = audit::audited(
            &store,
            &request,
            "TestNotify",
            format!("sink={name}"),
            |_| async move {
                let Some(sink) = sink else {
                    return Err(Status::not_found(format!(
                        "no [[notify]] sink named {name:?}"
                    )));
                };
                let outcome = crate::notify::test(&sink).await;
                let summary = if outcome.ok {
                    format!("delivered ({})", outcome.status)
                } else {
                    format!("failed: {}", outcome.error)
                };
                Ok((
                    TestNotifyResponse {
                        ok: outcome.ok,
                        status: u32::from(outcome.status),
                        error: outcome.error,
                    },
                    summary,
                ))
            },
        )
        .await?;
        Ok(Response::new(reply))
    }

    async fn notify_log(
        &self,
        request: Request<NotifyLogRequest>,
    ) -> Result<Response<NotifyLogResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let body = request.into_inner();
        let limit = if body.limit == 0 {
            100
        } else {
            body.limit.min(MAX_EVENTS)
        } as usize;
        let failed_only = body.failed_only;
        let store = self.events.store().clone();
        let deliveries = tokio::task::spawn_blocking(move || {
            store.deliveries_newest(limit, |d| !failed_only || d.status == "failed")
        })
        .await
        .map_err(|_| Status::internal("listing failed"))??;
        Ok(Response::new(NotifyLogResponse { deliveries }))
    }

    async fn capacity_report(
        &self,
        request: Request<CapacityReportRequest>,
    ) -> Result<Response<CapacityReportResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        Ok(Response::new(self.capacity(request.into_inner()).await?))
    }

    async fn scaling_status(
        &self,
        request: Request<ScalingStatusRequest>,
    ) -> Result<Response<ScalingStatusResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        Ok(Response::new(self.scaling_status().await?))
    }
}

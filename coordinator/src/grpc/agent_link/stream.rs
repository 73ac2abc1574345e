//! One agent's session stream, once its certificate is checked: the Hello and the Welcome
//! (flushed first), heartbeats, command events (acked once durable), renewals, until the
//! stream or the coordinator ends it.

use super::*;

/// Applies a command event and any others already waiting on the stream, makes them
/// durable with one flush, then acks them. Acks go out only for what is on disk.
async fn apply_events(
    dispatcher: &Dispatcher,
    (registry, generation, heartbeats): (&Registry, u64, &mut HeartbeatBudget),
    agent_id: &AgentId,
    first: convoy_proto::v1::CommandEvent,
    inbound: &mut Streaming<AgentMessage>,
    tx: &mpsc::Sender<Result<CoordinatorMessage, Status>>,
) -> Result<(), String> {
    use futures_util::FutureExt as _;
    let mut acks = Vec::new();
    let mut ended = None;
    let mut next = Some(first);
    while let Some(event) = next.take() {
        match dispatcher.on_event(agent_id.as_str(), &event) {
            Ok(Some(ack)) => acks.push(ack),
            Ok(None) => {}
            Err(err) => {
                tracing::error!(%agent_id, error = %err, "cannot store a command event");
                return Err("store failure".into());
            }
        }
        // Batch what has already arrived, up to a bound, under one flush.
        if acks.len() < 256 && ended.is_none() {
            match inbound.message().now_or_never() {
                Some(Ok(Some(AgentMessage {
                    body: Some(agent_message::Body::Event(more)),
                }))) => next = Some(more),
                // Between events: within the same per-session budget as any other (so
                // interleaving events cannot get heartbeats past it).
                // Past the budget it falls through to the arm below and is dropped.
                Some(Ok(Some(AgentMessage {
                    body: Some(agent_message::Body::Heartbeat(heartbeat)),
                }))) if heartbeats.allow(agent_id, std::time::Instant::now()) => {
                    record_heartbeat(registry, agent_id, generation, heartbeat);
                }
                Some(Ok(None)) => ended = Some(reason::STREAM_CLOSED.to_string()),
                Some(Err(status)) => ended = Some(format!("stream error: {}", status.message())),
                // Nothing waiting, or a message that has no business here.
                _ => {}
            }
        }
    }
    if let Err(err) = dispatcher.store().flush_async().await {
        tracing::error!(%agent_id, error = %err, "cannot flush command events");
        return Err("store failure".into());
    }
    for ack in acks {
        if tx.send(Ok(ack)).await.is_err() {
            return Err(reason::STREAM_CLOSED.into());
        }
    }
    ended.map_or(Ok(()), Err)
}

/// Records a heartbeat, cut to its bounds; false when the session was replaced.
fn record_heartbeat(
    registry: &Registry,
    agent_id: &AgentId,
    generation: u64,
    heartbeat: convoy_proto::v1::Heartbeat,
) -> bool {
    let convoy_proto::v1::Heartbeat {
        mut metrics,
        mut apps,
    } = heartbeat;
    let mut no_disks = Vec::new();
    let disks = metrics.as_mut().map_or(&mut no_disks, |m| &mut m.disks);
    let mut left_out = bound_heartbeat(disks, &mut apps);
    left_out += metrics
        .as_mut()
        .map_or(0, |m| bound_signals(&mut m.signals));
    if left_out > 0 {
        debug!(%agent_id, left_out, "heartbeat entries out of bounds left out");
    }
    registry.heartbeat(agent_id, generation, metrics, apps)
}

/// The Welcome promises the agent is in the inventory on disk, so the registration is
/// flushed first. Then every command still owed to this agent goes out again (it runs an
/// id at most once). Returns whether the session can go on.
async fn greet(
    registry: &Registry,
    dispatcher: &Dispatcher,
    agent_id: &AgentId,
    tx: &mpsc::Sender<Result<CoordinatorMessage, Status>>,
    welcome: CoordinatorMessage,
) -> bool {
    match registry.sync().await {
        Ok(()) => match dispatcher.on_connect(agent_id.as_str()) {
            Ok(owed) => {
                let mut ok = tx.send(Ok(welcome)).await.is_ok();
                for message in owed {
                    ok = ok && tx.send(Ok(message)).await.is_ok();
                }
                ok
            }
            Err(err) => {
                tracing::error!(%agent_id, error = %err, "cannot read commands owed to the agent");
                let _ = tx
                    .send(Err(Status::unavailable("coordinator store failure")))
                    .await;
                false
            }
        },
        Err(err) => {
            tracing::error!(%agent_id, error = %err, "cannot persist agent registration");
            let _ = tx
                .send(Err(Status::unavailable("coordinator store failure")))
                .await;
            false
        }
    }
}

/// The issuing CA and the session's verified certificate, when renewal is on.
pub(super) type Renewal = Option<(
    Arc<crate::enroll::Enroller>,
    Arc<crate::revocation::CertFacts>,
)>;

/// Answers a renewal request: certified for the session certificate's identity only.
async fn renew(
    renewal: &Renewal,
    agent_id: &AgentId,
    request: convoy_proto::v1::RenewRequest,
) -> CoordinatorMessage {
    let result = match renewal.clone() {
        None => Err("renewal is off: the coordinator has no [ca] configured".to_string()),
        Some((enroller, cert)) => tokio::task::spawn_blocking(move || {
            enroller
                .renew(&cert, &request.csr_der)
                .map(|renewed| (renewed, enroller.issuer().ca.cert_pem().to_string()))
        })
        .await
        .map_err(|err| err.to_string())
        .and_then(|result| result.map_err(|err| err.to_string())),
    };
    let renewed = match result {
        Ok((renewed, _)) => {
            info!(%agent_id, not_after_unix_ms = renewed.not_after_unix_ms, "agent certificate renewed");
            convoy_proto::v1::Renewed {
                cert_pem: renewed.cert_pem,
                ca_pem: String::new(),
                not_after_unix_ms: renewed.not_after_unix_ms,
                error: String::new(),
                trust: None,
            }
        }
        Err(error) => {
            warn!(%agent_id, %error, "certificate renewal refused");
            convoy_proto::v1::Renewed {
                error,
                ..Default::default()
            }
        }
    };
    CoordinatorMessage {
        body: Some(coordinator_message::Body::Renewed(renewed)),
    }
}

pub(super) async fn run_session(
    (registry, renewal): (Arc<Registry>, Renewal),
    dispatcher: Arc<Dispatcher>,
    agent_id: AgentId,
    ticket: SessionTicket,
    mut inbound: Streaming<AgentMessage>,
    tx: mpsc::Sender<Result<CoordinatorMessage, Status>>,
    welcome: CoordinatorMessage,
) {
    // Large futures awaited only now and then are boxed: this task lives as long as the
    // session, and its size is memory per connected agent.
    let synced = Box::pin(greet(&registry, &dispatcher, &agent_id, &tx, welcome)).await;
    let mut heartbeats = HeartbeatBudget::new(std::time::Instant::now());
    let why = loop {
        if !synced {
            break "registration failed".to_string();
        }
        let message = tokio::select! {
            () = ticket.cancel.cancelled() => {
                let why = registry
                    .end_reason(&agent_id, ticket.generation)
                    .unwrap_or(reason::STREAM_CLOSED);
                let status = if why == reason::SHUTDOWN {
                    Status::unavailable(why)
                } else {
                    Status::aborted(why)
                };
                let _ = tx.send(Err(status)).await;
                break why.to_string();
            }
            message = inbound.message() => message,
        };
        match message {
            Ok(Some(AgentMessage {
                body: Some(agent_message::Body::Heartbeat(heartbeat)),
            })) => {
                if !heartbeats.allow(&agent_id, std::time::Instant::now()) {
                    continue;
                }
                if !record_heartbeat(&registry, &agent_id, ticket.generation, heartbeat) {
                    break reason::REPLACED.to_string();
                }
            }
            Ok(Some(AgentMessage {
                body: Some(agent_message::Body::Event(event)),
            })) => {
                let session = (&*registry, ticket.generation, &mut heartbeats);
                let applying =
                    apply_events(&dispatcher, session, &agent_id, event, &mut inbound, &tx);
                if let Err(why) = Box::pin(applying).await {
                    break why;
                }
            }
            Ok(Some(AgentMessage {
                body: Some(agent_message::Body::Renew(request)),
            })) => {
                let answer = Box::pin(renew(&renewal, &agent_id, request)).await;
                if tx.send(Ok(answer)).await.is_err() {
                    break reason::STREAM_CLOSED.to_string();
                }
            }
            Ok(Some(AgentMessage {
                body: Some(agent_message::Body::Hello(_)),
            })) => {
                let _ = tx
                    .send(Err(Status::invalid_argument(
                        "hello sent twice in one session",
                    )))
                    .await;
                break "protocol error: second hello".to_string();
            }
            Ok(Some(AgentMessage { body: None })) => {
                debug!(%agent_id, "empty message ignored");
            }
            Ok(None) => break reason::STREAM_CLOSED.to_string(),
            Err(status) => {
                warn!(%agent_id, code = ?status.code(), message = status.message(), "agent stream failed");
                break format!("stream error: {}", status.message());
            }
        }
    };
    info!(%agent_id, reason = %why, "agent disconnected");
    if let Err(err) = registry.disconnect(&agent_id, ticket.generation, &why) {
        warn!(%agent_id, error = %err, "could not record disconnect");
    }
}

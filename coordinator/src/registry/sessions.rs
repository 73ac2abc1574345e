//! A session's life in the registry: connect (replacing an earlier session), the Hello's facts,
//! heartbeats, and the end of a session with its reason (the agent's own, the liveness sweep's,
//! or the coordinator's shutdown).

use super::*;

impl Registry {
    /// Registers a new session for `id` (already checked against its certificate),
    /// replacing and ending any earlier session of the same agent.
    pub fn connect(
        &self,
        id: &AgentId,
        hello: Hello,
        remote: Option<SocketAddr>,
        sender: SessionSender,
    ) -> Result<SessionTicket, StoreError> {
        let now = now_unix_ms();
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        let cancel = CancellationToken::new();
        let back;
        let taken_over;
        let record = {
            let mut agents = self.lock();
            let entry = agents.entry(id.to_string()).or_insert_with(|| Entry {
                record: AgentRecord {
                    id: id.to_string(),
                    first_seen_unix_ms: now,
                    ..Default::default()
                },
                session: None,
                history: VecDeque::new(),
                dirty: false,
                replacements: VecDeque::new(),
            });
            // Back after a real outage (not a replaced session or a coordinator restart).
            back = entry.session.is_none()
                && entry
                    .record
                    .connections
                    .last()
                    .is_some_and(|c| is_outage(&c.reason));
            let mut taken = false;
            if let Some(old) = entry.session.take() {
                close_connection(&mut entry.record, now, reason::REPLACED);
                old.cancel.cancel();
                taken = note_replacement(id, entry, now);
            }
            taken_over = taken;
            self.apply_hello(&mut entry.record, hello, remote, now);
            // A session that arrives while the coordinator shuts down ends at once.
            let closing = self.closed.load(Ordering::Relaxed);
            if closing {
                cancel.cancel();
            }
            entry.session = Some(LiveSession {
                generation,
                cancel: cancel.clone(),
                last_heartbeat: Instant::now(),
                end_reason: closing.then_some(reason::SHUTDOWN),
                sender,
            });
            entry.dirty = false;
            entry.record.clone()
        };
        self.store.put_agent(&record)?;
        self.tell_presence(id.as_str(), true);
        self.announce_connect(id, remote, taken_over, back);
        Ok(SessionTicket { generation, cancel })
    }

    /// What a Hello says about the host, on its record, and the new connection.
    fn apply_hello(
        &self,
        record: &mut AgentRecord,
        hello: Hello,
        remote: Option<SocketAddr>,
        now: i64,
    ) {
        record.labels = hello.labels.into_iter().collect();
        // Labels an enrollment token granted win over what the host claims.
        if let Some(granted) = self
            .granted
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(record.id.as_str())
        {
            record.labels.extend(granted.clone());
        }
        record.version = hello.version;
        record.facts = hello.facts;
        record.actions = hello.actions;
        record.apps = hello.apps;
        record.allow_unsigned_releases = hello.allow_unsigned_releases;
        record.last_seen_unix_ms = now;
        record.connections.push(Connection {
            connected_unix_ms: now,
            disconnected_unix_ms: 0,
            remote_addr: remote.map(|a| a.to_string()).unwrap_or_default(),
            reason: String::new(),
        });
        let excess = record.connections.len().saturating_sub(CONNECTION_HISTORY);
        record.connections.drain(..excess);
    }

    /// The events a new session may raise: a session takeover, or a host back after an
    /// outage.
    fn announce_connect(
        &self,
        id: &AgentId,
        remote: Option<SocketAddr>,
        taken_over: bool,
        back: bool,
    ) {
        if let (true, Some((events, _))) = (taken_over, self.monitoring.get()) {
            events.append(
                crate::events::Draft::new(
                    "session.takeover",
                    crate::events::Severity::Warning,
                    format!(
                        "agent {id} keeps replacing its own session (more than \
                         {TAKEOVER_REPLACEMENTS} times within {}s): a stolen key racing the \
                         real agent?",
                        TAKEOVER_WINDOW.as_secs()
                    ),
                )
                .host(id.as_str())
                .field("remote", remote.map(|a| a.to_string()).unwrap_or_default()),
            );
        }
        if let (true, Some((events, _))) = (back, self.monitoring.get()) {
            events.append(
                crate::events::Draft::new(
                    "agent.back",
                    crate::events::Severity::Info,
                    format!("agent {id} is back online"),
                )
                .host(id.as_str()),
            );
        }
    }

    /// Records a heartbeat. Returns false if this session is no longer the agent's
    /// current one (it was replaced or timed out), in which case the caller ends it.
    pub fn heartbeat(
        &self,
        id: &AgentId,
        generation: u64,
        metrics: Option<MetricsSample>,
        apps: Vec<AppStatus>,
    ) -> bool {
        if let (Some(sample), Some((_, recorder))) = (&metrics, self.monitoring.get()) {
            recorder.record(id.as_str(), sample);
        }
        let mut agents = self.lock();
        let Some(entry) = agents.get_mut(id.as_str()) else {
            return false;
        };
        match &mut entry.session {
            Some(session) if session.generation == generation => {
                session.last_heartbeat = Instant::now();
            }
            _ => return false,
        }
        entry.record.last_seen_unix_ms = now_unix_ms();
        if !apps.is_empty() {
            entry.record.apps = apps;
        }
        if let Some(sample) = metrics {
            if entry.history.len() == HISTORY_POINTS {
                entry.history.pop_front();
            }
            entry.history.push_back(MetricsPoint {
                sampled_at_unix_ms: sample.sampled_at_unix_ms,
                cpu_percent: sample.cpu_percent,
                mem_used_bytes: sample.mem_used_bytes,
                load1: sample.load1,
            });
            entry.record.last_metrics = Some(sample);
        }
        entry.dirty = true;
        true
    }

    /// Why the current session of `id` was told to end, if it was.
    pub fn end_reason(&self, id: &AgentId, generation: u64) -> Option<&'static str> {
        let agents = self.lock();
        let entry = agents.get(id.as_str())?;
        match &entry.session {
            Some(session) if session.generation == generation => session.end_reason,
            // Not current any more: it was replaced.
            _ => Some(reason::REPLACED),
        }
    }

    /// Ends a session. A session that was already replaced changes nothing.
    pub fn disconnect(&self, id: &AgentId, generation: u64, why: &str) -> Result<(), StoreError> {
        let (record, why) = {
            let mut agents = self.lock();
            let Some(entry) = agents.get_mut(id.as_str()) else {
                return Ok(());
            };
            match &entry.session {
                Some(session) if session.generation == generation => {}
                _ => return Ok(()),
            }
            let why = entry
                .session
                .take()
                .and_then(|s| s.end_reason)
                .unwrap_or(why);
            close_connection(&mut entry.record, now_unix_ms(), why);
            entry.dirty = false;
            (entry.record.clone(), why)
        };
        self.tell_presence(id.as_str(), false);
        if let (true, Some((events, _))) = (is_outage(why), self.monitoring.get()) {
            events.append(
                crate::events::Draft::new(
                    "agent.offline",
                    crate::events::Severity::Warning,
                    format!("agent {id} went offline: {why}"),
                )
                .host(id.as_str())
                .field("reason", why),
            );
        }
        self.store.put_agent(&record)
    }
}

impl Registry {
    /// Ends every session whose last heartbeat is older than `offline_after`. The
    /// session's own task then records the disconnect. Returns the ids it ended.
    pub fn sweep(&self, now: Instant) -> Vec<String> {
        let mut ended = Vec::new();
        let mut agents = self.lock();
        for (id, entry) in agents.iter_mut() {
            if let Some(session) = &mut entry.session {
                if session.end_reason.is_none()
                    && now.saturating_duration_since(session.last_heartbeat) > self.offline_after
                {
                    session.end_reason = Some(reason::HEARTBEAT_TIMEOUT);
                    session.cancel.cancel();
                    ended.push(id.clone());
                }
            }
        }
        ended
    }

    /// Tells every live session to end (coordinator shutdown).
    pub fn end_all_sessions(&self) {
        let mut agents = self.lock();
        self.closed.store(true, Ordering::Relaxed);
        for entry in agents.values_mut() {
            if let Some(session) = &mut entry.session {
                session.end_reason.get_or_insert(reason::SHUTDOWN);
                session.cancel.cancel();
            }
        }
    }
}

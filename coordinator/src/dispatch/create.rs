//! Creating jobs. From an operator request ([`Dispatcher::start_job`]): parse and check the knobs, answer a replayed
//! request id with the job it made, choose the hosts (cordoned and ineligible ones left
//! out, with the reason kept on the job), then write every command and the job before
//! the scheduler may send anything. From the rollout driver ([`Dispatcher::create_host_jobs`]):
//! one job per host under the caller's ids.

use std::time::Duration;

use convoy_proto::v1::{AgentSummary, CommandRecord, CommandState, JobRecord, JobState};

use super::{
    ActiveJob, BackupWork, DEFAULT_DELIVERY_TIMEOUT, DispatchError, Dispatcher, HostJob,
    JobRequest, Work, admit, new_job_id, valid_action_name,
};
use crate::clock::now_unix_ms;
use crate::rate::Rate;
use crate::selector::Selector;

/// A request's knobs, parsed.
struct Knobs {
    selector: Selector,
    concurrency: Option<Rate>,
    max_errors: Rate,
    delivery_timeout: Duration,
}

impl Knobs {
    fn parse(request: &JobRequest) -> Result<Self, DispatchError> {
        let selector = Selector::parse(&request.selector)?;
        let concurrency = if request.concurrency.trim().is_empty() {
            None
        } else {
            Some(Rate::parse(&request.concurrency, "concurrency", false)?)
        };
        let max_errors = if request.max_errors.trim().is_empty() {
            Rate::Count(0)
        } else {
            Rate::parse(&request.max_errors, "max-errors", true)?
        };
        Ok(Self {
            selector,
            concurrency,
            max_errors,
            delivery_timeout: request.delivery_timeout.unwrap_or(DEFAULT_DELIVERY_TIMEOUT),
        })
    }

    fn delivery_timeout_ms(&self) -> u64 {
        u64::try_from(self.delivery_timeout.as_millis()).unwrap_or(u64::MAX)
    }
}

/// The hosts a job goes to, and those it leaves out and why.
struct Targets {
    hosts: Vec<AgentSummary>,
    left_out: Vec<String>,
    cordoned: Vec<String>,
}

impl Dispatcher {
    /// Creates a job: one pending command per host matching the selector now.
    pub async fn start_job(
        &self,
        created_by: &str,
        request: &JobRequest,
    ) -> Result<JobRecord, DispatchError> {
        let work = self.work(request)?;
        if !request.params.is_empty() && !matches!(work, Work::Run(_)) {
            return Err(DispatchError::ParamsNotAllowed);
        }
        let knobs = Knobs::parse(request)?;
        if let Some(job) = self.replayed(request, &work, &knobs)? {
            return Ok(job);
        }
        let targets = self.targets(request, &work, &knobs.selector)?;
        let total = u32::try_from(targets.hosts.len()).unwrap_or(u32::MAX);
        let now = now_unix_ms();
        let job_id = new_job_id(now);
        let commands: Vec<CommandRecord> = targets
            .hosts
            .iter()
            .map(|agent| {
                let mut command = self.command_record(&job_id, &agent.id, &work);
                command.params = request.params.clone();
                command
            })
            .collect();
        let record = JobRecord {
            id: job_id.clone(),
            action: work.describe(),
            selector: knobs.selector.to_string(),
            state: JobState::Running.into(),
            created_by: created_by.to_string(),
            created_unix_ms: now,
            concurrency: knobs.concurrency.map(|r| r.to_string()).unwrap_or_default(),
            concurrency_limit: knobs.concurrency.map_or(total, |r| r.resolve(total)),
            max_errors: knobs.max_errors.to_string(),
            max_errors_limit: knobs.max_errors.resolve(total),
            delivery_timeout_ms: knobs.delivery_timeout_ms(),
            output_cap_bytes: self.output_cap,
            command_ids: commands.iter().map(|c| c.id.clone()).collect(),
            request_id: request.request_id.clone(),
            left_out: targets.left_out,
            cordoned: targets.cordoned,
            params: request.params.clone(),
            ..Default::default()
        };
        for command in &commands {
            self.store.put_command(command)?;
        }
        self.store.put_job(&record)?;
        self.store.flush_async().await?;
        {
            let mut state = self.lock();
            for command in &commands {
                state.owners.insert(command.id.clone(), job_id.clone());
            }
            state
                .jobs
                .insert(job_id.clone(), ActiveJob::new(record.clone(), commands));
        }
        tracing::info!(%job_id, action = %record.action, hosts = total, by = created_by, "job started");
        self.wake();
        Ok(record)
    }

    /// The job an earlier request with the same request id made, if the parameters are the
    /// same; a refusal naming the differences if not.
    fn replayed(
        &self,
        request: &JobRequest,
        work: &Work,
        knobs: &Knobs,
    ) -> Result<Option<JobRecord>, DispatchError> {
        if request.request_id.is_empty() {
            return Ok(None);
        }
        let Some(existing) = self.store.job_for_request(&request.request_id)? else {
            return Ok(None);
        };
        let Some(job) = self.store.job(&existing)? else {
            return Ok(None);
        };
        let (action, selector, concurrency, max_errors) = (
            admit::describe_with_params(&work.describe(), &request.params),
            knobs.selector.to_string(),
            knobs.concurrency.map(|r| r.to_string()).unwrap_or_default(),
            knobs.max_errors.to_string(),
        );
        let asked = admit::Asked {
            action: &action,
            selector: &selector,
            concurrency: &concurrency,
            max_errors: &max_errors,
            delivery_timeout_ms: knobs.delivery_timeout_ms(),
        };
        let differences = admit::differences(&job, &asked);
        if differences.is_empty() {
            return Ok(Some(job));
        }
        Err(DispatchError::RequestIdReused {
            request_id: request.request_id.clone(),
            job: job.id,
            differences,
        })
    }

    /// The hosts matching now, less cordoned ones and those without the action or backup
    /// set the work needs; refused when none is left or none knows the work.
    fn targets(
        &self,
        request: &JobRequest,
        work: &Work,
        selector: &Selector,
    ) -> Result<Targets, DispatchError> {
        let mut targets = self.registry.list(selector);
        if let Work::Backup(BackupWork::Restore { host, .. }) = work {
            targets.retain(|agent| &agent.id == host);
        }
        if targets.is_empty() {
            return Err(DispatchError::NoTargets(request.selector.clone()));
        }
        // Cordoned hosts take no new work.
        let (cordoned, open): (Vec<_>, Vec<_>) =
            targets.into_iter().partition(|agent| agent.cordoned);
        let cordoned: Vec<String> = cordoned.into_iter().map(|agent| agent.id).collect();
        if open.is_empty() {
            return Err(DispatchError::AllCordoned(cordoned));
        }
        // Work that needs an action or a backup set goes only to the hosts that have it
        // (a restore names its one host and is judged there).
        let needed = match work {
            Work::Run(action) => Some(action.clone()),
            Work::Backup(backup @ (BackupWork::Backup(_) | BackupWork::Drill(_))) => Some(
                convoy_proto::labels::backup_set_action(&crate::backups::set_of(backup)),
            ),
            _ => None,
        };
        // None has it: keep them all, for the error below to say what they do allow.
        let everyone = open.clone();
        let (kept, left_out) = admit::eligible(open, needed.as_deref());
        let hosts = if kept.is_empty() { everyone } else { kept };
        known_somewhere(&hosts, work, &request.action)?;
        Ok(Targets {
            hosts,
            left_out,
            cordoned,
        })
    }

    /// Creates jobs on explicit hosts under the caller's ids, skipping ids that exist, and
    /// flushes once for all of them. Hosts the registry does not know are left out.
    pub async fn create_host_jobs(&self, jobs: Vec<HostJob>) -> Result<(), DispatchError> {
        let now = now_unix_ms();
        let mut created = Vec::new();
        for job in jobs {
            if self.store.job(&job.id)?.is_some() {
                continue;
            }
            let action = job.work.describe();
            let commands: Vec<CommandRecord> = job
                .hosts
                .iter()
                .map(|host| self.command_record(&job.id, host, &job.work))
                .collect();
            let total = u32::try_from(commands.len()).unwrap_or(u32::MAX);
            let record = JobRecord {
                id: job.id.clone(),
                action,
                selector: job.origin.clone(),
                state: JobState::Running.into(),
                created_by: job.created_by.clone(),
                created_unix_ms: now,
                concurrency_limit: total,
                // Every host's result matters to the caller: one failure stops nothing.
                max_errors: "100%".to_string(),
                max_errors_limit: total,
                delivery_timeout_ms: u64::try_from(job.delivery_timeout.as_millis())
                    .unwrap_or(u64::MAX),
                output_cap_bytes: self.output_cap,
                command_ids: commands.iter().map(|c| c.id.clone()).collect(),
                ..Default::default()
            };
            for command in &commands {
                self.store.put_command(command)?;
            }
            self.store.put_job(&record)?;
            created.push((record, commands));
        }
        if created.is_empty() {
            return Ok(());
        }
        self.store.flush_async().await?;
        {
            let mut state = self.lock();
            for (record, commands) in created {
                for command in &commands {
                    state.owners.insert(command.id.clone(), record.id.clone());
                }
                tracing::info!(job_id = %record.id, action = %record.action, hosts = commands.len(), origin = %record.selector, "job started");
                state
                    .jobs
                    .insert(record.id.clone(), ActiveJob::new(record, commands));
            }
        }
        self.wake();
        Ok(())
    }

    fn command_record(&self, job_id: &str, host: &str, work: &Work) -> CommandRecord {
        CommandRecord {
            id: format!("{job_id}/{host}"),
            job_id: job_id.to_string(),
            agent_id: host.to_string(),
            action: work.describe(),
            state: CommandState::Pending.into(),
            output_cap_bytes: self.output_cap,
            deploy: match work {
                Work::Deploy(d) => Some(d.clone()),
                _ => None,
            },
            rollback: match work {
                Work::Rollback(r) => Some(r.clone()),
                _ => None,
            },
            backup: match work {
                Work::Backup(BackupWork::Backup(b)) => Some(b.clone()),
                _ => None,
            },
            restore: match work {
                Work::Backup(BackupWork::Restore { action, .. }) => Some(action.clone()),
                _ => None,
            },
            drill: match work {
                Work::Backup(BackupWork::Drill(d)) => Some(d.clone()),
                _ => None,
            },
            ..Default::default()
        }
    }

    /// What the request asks each host to do, checked.
    fn work(&self, request: &JobRequest) -> Result<Work, DispatchError> {
        use crate::releases::{validate_app, validate_version};
        if let Some(backup) = &request.backup {
            let set = crate::backups::set_of(backup);
            if !valid_action_name(&set) {
                return Err(DispatchError::BadSet(set));
            }
            return Ok(Work::Backup(backup.clone()));
        }
        if let Some(spec) = &request.deploy {
            return Ok(Work::Deploy(crate::releases::deploy_command(
                &self.store,
                &spec.app,
                &spec.version,
            )?));
        }
        if let Some(spec) = &request.rollback {
            validate_app(&spec.app)?;
            if !spec.version.is_empty() {
                validate_version(&spec.version)?;
            }
            return Ok(Work::Rollback(convoy_proto::v1::Rollback {
                app: spec.app.clone(),
                version: spec.version.clone(),
            }));
        }
        if !valid_action_name(&request.action) {
            return Err(DispatchError::BadAction(request.action.clone()));
        }
        if let Some(bad) = request.params.keys().find(|k| !admit::valid_param_name(k)) {
            return Err(DispatchError::BadParam(bad.clone()));
        }
        Ok(Work::Run(request.action.clone()))
    }
}

/// At least one of the hosts has the backup set, the app or the action the work names.
fn known_somewhere(hosts: &[AgentSummary], work: &Work, action: &str) -> Result<(), DispatchError> {
    let app = match work {
        Work::Run(_) | Work::Backup(_) => None,
        Work::Deploy(d) => Some(d.app.clone()),
        Work::Rollback(r) => Some(r.app.clone()),
    };
    if let Work::Backup(backup) = work {
        let set = crate::backups::set_of(backup);
        let wanted = convoy_proto::labels::backup_set_action(&set);
        if !hosts.iter().any(|agent| agent.actions.contains(&wanted)) {
            return Err(DispatchError::UnknownSet { set });
        }
    } else if let Some(app) = app {
        if !hosts
            .iter()
            .any(|agent| agent.apps.iter().any(|a| a.app == app))
        {
            return Err(DispatchError::UnknownApp { app });
        }
    } else if !hosts
        .iter()
        .any(|agent| agent.actions.iter().any(|a| a == action))
    {
        let mut known: Vec<&str> = hosts
            .iter()
            .flat_map(|agent| agent.actions.iter().map(String::as_str))
            .collect();
        known.sort_unstable();
        known.dedup();
        return Err(DispatchError::UnknownAction {
            action: action.to_string(),
            hosts: hosts.len(),
            known: if known.is_empty() {
                String::new()
            } else {
                format!(" (they allow: {})", known.join(", "))
            },
        });
    }
    Ok(())
}

//! The `Backups` service: what `convoy backup ...` calls. Viewers may list backups and
//! schedules; everything that starts a job or changes the catalog needs an operator and is
//! audited, refusals included, exactly like `Admin` (see `grpc::audit::audited`). Restoring
//! one host's backup onto another and removing a schedule need an admin. A backup id is
//! looked up only after the caller's role passed, so a refused caller learns nothing of it.

use std::sync::Arc;
use std::time::Duration;

use convoy_proto::identity::Role;
use convoy_proto::v1::backups_server::Backups as BackupsRpc;
use convoy_proto::v1::{
    AddScheduleRequest, Backup, BackupSchedule, DeleteBackupRequest, DrillAction,
    DrillBackupsRequest, Job, JobOptions, ListBackupsRequest, ListBackupsResponse,
    ListSchedulesRequest, ListSchedulesResponse, RemoveScheduleRequest, RestoreAction,
    RestoreBackupRequest, RunBackupRequest, VerifyBackupRequest,
};
use tonic::{Request, Response, Status};

use super::auth;
use crate::backups::{Backups, schedule, state_name};
use crate::clock::now_unix_ms;
use crate::dispatch::{BackupWork, Dispatcher, JobRequest, valid_action_name};
use crate::selector::Selector;

pub struct BackupsService {
    dispatcher: Arc<Dispatcher>,
    backups: Backups,
}

impl BackupsService {
    pub fn new(dispatcher: Arc<Dispatcher>, backups: Backups) -> Self {
        Self {
            dispatcher,
            backups,
        }
    }

    /// Runs a mutating call for an operator and records it in the audit log.
    async fn audited<T, F, Fut>(
        &self,
        request: &Request<impl Sized>,
        call: &str,
        summary: String,
        f: F,
    ) -> Result<T, Status>
    where
        F: FnOnce(auth::Operator) -> Fut,
        Fut: std::future::Future<Output = Result<(T, String), Status>>,
    {
        super::audit::audited(self.dispatcher.store(), request, call, summary, f).await
    }

    /// Starts a backup job and returns its view.
    async fn start(
        &self,
        request: &Request<impl Sized>,
        call: &str,
        summary: String,
        options: JobOptions,
        work: BackupWork,
    ) -> Result<Response<Job>, Status> {
        let dispatcher = self.dispatcher.clone();
        let job = self
            .audited(request, call, summary, |caller| {
                launch(dispatcher, caller, options, work)
            })
            .await?;
        Ok(Response::new(self.dispatcher.job_view(&job, 0)?))
    }
}

/// Creates the job for `work` on behalf of `caller`; returns its id and the audit outcome.
async fn launch(
    dispatcher: Arc<Dispatcher>,
    caller: auth::Operator,
    options: JobOptions,
    work: BackupWork,
) -> Result<(String, String), Status> {
    let job_request = JobRequest {
        params: Default::default(),
        action: String::new(),
        selector: options.selector,
        concurrency: options.concurrency,
        max_errors: options.max_errors,
        delivery_timeout: (options.delivery_timeout_ms > 0)
            .then(|| Duration::from_millis(options.delivery_timeout_ms)),
        request_id: options.request_id,
        deploy: None,
        rollback: None,
        backup: Some(work),
    };
    let record = dispatcher.start_job(&caller.name, &job_request).await?;
    let outcome = format!(
        "job {} on {}",
        record.id,
        crate::dispatch::admit::hosts(record.command_ids.len())
    );
    Ok((record.id, outcome))
}

/// Checks a restore request against the backup it names (looked up by the caller, after
/// the role check) and builds its work. Restoring onto another host than the backup's needs
/// an admin.
fn restore_work(
    body: RestoreBackupRequest,
    backup: Backup,
    caller: &auth::Operator,
) -> Result<(BackupWork, JobOptions), Status> {
    if !matches!(state_name(backup.state), "complete" | "partial") {
        return Err(Status::failed_precondition(format!(
            "backup {} is {}; only complete or partial backups can be restored",
            backup.id,
            state_name(backup.state)
        )));
    }
    if body.in_place != body.target_dir.is_empty() {
        return Err(Status::invalid_argument(
            "give exactly one of a target directory (--to DIR) or --in-place",
        ));
    }
    if !body.in_place && !body.target_dir.starts_with('/') {
        return Err(Status::invalid_argument(format!(
            "restore target {:?} must be an absolute path",
            body.target_dir
        )));
    }
    let host = if body.host.is_empty() {
        backup.host.clone()
    } else {
        body.host.clone()
    };
    if host != backup.host && caller.role < Role::Admin {
        return Err(Status::permission_denied(format!(
            "restoring host {}'s backup onto host {host} needs the admin role (you are {})",
            backup.host, caller.role
        )));
    }
    let mut options = body.options.unwrap_or_default();
    options.selector = String::new();
    let work = BackupWork::Restore {
        action: RestoreAction {
            backup_id: backup.id,
            set: backup.set,
            target_dir: body.target_dir,
            in_place: body.in_place,
            force: body.force,
            source_host: backup.host,
        },
        host,
    };
    Ok((work, options))
}

fn check_set(set: &str) -> Result<(), Status> {
    if valid_action_name(set) {
        Ok(())
    } else {
        Err(Status::invalid_argument(format!(
            "invalid backup set name {set:?}: expected [a-z0-9][a-z0-9._-]*, at most 63 characters"
        )))
    }
}

fn require_admin(caller: &auth::Operator, what: &str) -> Result<(), Status> {
    if caller.role >= Role::Admin {
        Ok(())
    } else {
        Err(Status::permission_denied(format!(
            "{what} needs the admin role (you are {})",
            caller.role
        )))
    }
}

fn annotated(mut schedule: BackupSchedule) -> BackupSchedule {
    schedule::annotate(&mut schedule);
    schedule
}

#[tonic::async_trait]
impl BackupsRpc for BackupsService {
    async fn run_backup(
        &self,
        request: Request<RunBackupRequest>,
    ) -> Result<Response<Job>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let options = body.options.unwrap_or_default();
        let summary = format!("set={} selector={:?}", body.set, options.selector);
        check_set(&body.set)?;
        let work = BackupWork::Backup(convoy_proto::v1::BackupAction { set: body.set });
        self.start(&request, "RunBackup", summary, options, work)
            .await
    }

    async fn list_backups(
        &self,
        request: Request<ListBackupsRequest>,
    ) -> Result<Response<ListBackupsResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let body = request.into_inner();
        let backups = self.backups.list(&body.host, &body.set, body.all)?;
        Ok(Response::new(ListBackupsResponse { backups }))
    }

    async fn verify_backup(
        &self,
        request: Request<VerifyBackupRequest>,
    ) -> Result<Response<Backup>, Status> {
        super::limits::check(request.get_ref())?;
        let id = request.get_ref().id.clone();
        let backups = self.backups.clone();
        let backup = self
            .audited(
                &request,
                "VerifyBackup",
                format!("id={id}"),
                |_| async move {
                    let backup = backups.verify(&id).await?;
                    let outcome = if backup.verified_ok {
                        format!("backup {id} verified: sha256 matches")
                    } else {
                        format!("backup {id} is corrupt: {}", backup.message)
                    };
                    Ok((backup, outcome))
                },
            )
            .await?;
        Ok(Response::new(backup))
    }

    async fn restore_backup(
        &self,
        request: Request<RestoreBackupRequest>,
    ) -> Result<Response<Job>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let summary = format!(
            "id={} host={} {}{}",
            body.id,
            if body.host.is_empty() {
                "(the backup's)"
            } else {
                &body.host
            },
            if body.in_place {
                "in-place".to_string()
            } else {
                format!("to={}", body.target_dir)
            },
            if body.force { " force" } else { "" }
        );
        let (dispatcher, backups) = (self.dispatcher.clone(), self.backups.clone());
        let job = self
            .audited(&request, "RestoreBackup", summary, |caller| async move {
                let backup = backups.get(&body.id)?;
                let (work, options) = restore_work(body, backup, &caller)?;
                launch(dispatcher, caller, options, work).await
            })
            .await?;
        Ok(Response::new(self.dispatcher.job_view(&job, 0)?))
    }

    async fn drill_backups(
        &self,
        request: Request<DrillBackupsRequest>,
    ) -> Result<Response<Job>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let options = body.options.unwrap_or_default();
        check_set(&body.set)?;
        let summary = format!("set={} selector={:?}", body.set, options.selector);
        let work = BackupWork::Drill(DrillAction { set: body.set });
        self.start(&request, "DrillBackups", summary, options, work)
            .await
    }

    async fn add_schedule(
        &self,
        request: Request<AddScheduleRequest>,
    ) -> Result<Response<BackupSchedule>, Status> {
        super::limits::check(request.get_ref())?;
        let body = request.get_ref().clone();
        let summary = format!(
            "set={} selector={:?} cron={:?} drill={:?} keep={}",
            body.set, body.selector, body.cron, body.drill, body.keep
        );
        let store = self.dispatcher.store().clone();
        let schedule = self
            .audited(&request, "AddSchedule", summary, |caller| async move {
                check_set(&body.set)?;
                Selector::parse(&body.selector)
                    .map_err(|err| Status::invalid_argument(format!("invalid selector: {err}")))?;
                schedule::check_cron(&body.cron).map_err(Status::invalid_argument)?;
                let drill_cron =
                    schedule::drill_cron(&body.drill).map_err(Status::invalid_argument)?;
                let schedule = BackupSchedule {
                    id: format!("s-{:06x}", rand::random::<u32>() & 0xff_ffff),
                    set: body.set,
                    selector: body.selector,
                    cron: body.cron,
                    drill_cron,
                    keep: body.keep,
                    created_by: caller.name,
                    created_unix_ms: now_unix_ms(),
                    ..Default::default()
                };
                store.put_backup_schedule(&schedule)?;
                store.flush_async().await?;
                let outcome = format!("schedule {}", schedule.id);
                Ok((annotated(schedule), outcome))
            })
            .await?;
        Ok(Response::new(schedule))
    }

    async fn list_schedules(
        &self,
        request: Request<ListSchedulesRequest>,
    ) -> Result<Response<ListSchedulesResponse>, Status> {
        super::limits::check(request.get_ref())?;
        auth::require_role(&request, Role::Viewer)?;
        let schedules = self
            .dispatcher
            .store()
            .backup_schedules()?
            .into_iter()
            .map(annotated)
            .collect();
        Ok(Response::new(ListSchedulesResponse { schedules }))
    }

    async fn remove_schedule(
        &self,
        request: Request<RemoveScheduleRequest>,
    ) -> Result<Response<BackupSchedule>, Status> {
        super::limits::check(request.get_ref())?;
        let id = request.get_ref().id.clone();
        let store = self.dispatcher.store().clone();
        let schedule = self
            .audited(
                &request,
                "RemoveSchedule",
                format!("id={id}"),
                |caller| async move {
                    // Before the lookup: a refused caller learns nothing of the schedule.
                    require_admin(&caller, "removing a backup schedule")?;
                    let removed = store
                        .remove_backup_schedule(&id)?
                        .ok_or_else(|| Status::not_found(format!("no schedule {id:?}")))?;
                    store.flush_async().await?;
                    Ok((removed, format!("schedule {id} removed")))
                },
            )
            .await?;
        Ok(Response::new(schedule))
    }

    async fn delete_backup(
        &self,
        request: Request<DeleteBackupRequest>,
    ) -> Result<Response<Backup>, Status> {
        super::limits::check(request.get_ref())?;
        let id = request.get_ref().id.clone();
        let backups = self.backups.clone();
        let dispatcher = self.dispatcher.clone();
        let backup = self
            .audited(
                &request,
                "DeleteBackup",
                format!("id={id}"),
                |caller| async move {
                    // Before the lookup: a refused caller learns nothing of the backup.
                    require_admin(&caller, "deleting a backup")?;
                    let restores_of = |id: &str| {
                        let mut jobs: Vec<String> = dispatcher
                            .unfinished_commands(|c| {
                                c.restore.as_ref().is_some_and(|r| r.backup_id == id)
                            })
                            .into_iter()
                            .map(|c| c.job_id)
                            .collect();
                        jobs.sort();
                        jobs.dedup();
                        jobs
                    };
                    let deleted = backups.delete(&id, restores_of).await?;
                    tracing::info!(backup_id = %id, by = %caller.name, "backup deleted by an operator");
                    let outcome = format!(
                        "backup {id} of {} on {} deleted",
                        deleted.set, deleted.host
                    );
                    Ok((deleted, outcome))
                },
            )
            .await?;
        Ok(Response::new(backup))
    }
}

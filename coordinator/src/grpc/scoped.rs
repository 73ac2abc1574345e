//! The job-level check of a scoped operator's policy (`crate::policy`): the job's verb,
//! its action or app, and every host the selector targets now, before anything is created.

use convoy_proto::v1::StartJobRequest;
use tonic::Status;

use crate::policy::Scope;
use crate::registry::Registry;
use crate::selector::Selector;

pub fn check_job(scope: &Scope, registry: &Registry, body: &StartJobRequest) -> Result<(), Status> {
    let (verb, name) = match (&body.deploy, &body.rollback) {
        (Some(deploy), _) => ("deploy", deploy.app.as_str()),
        (None, Some(rollback)) => ("rollback", rollback.app.as_str()),
        (None, None) => ("exec", body.action.as_str()),
    };
    let selector =
        Selector::parse(&body.selector).map_err(|err| Status::invalid_argument(err.render()))?;
    let targets = registry.list(&selector);
    scope
        .check_job(
            verb,
            name,
            targets
                .iter()
                .map(|agent| (agent.id.as_str(), &agent.labels)),
        )
        .map_err(Status::from)
}

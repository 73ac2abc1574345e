//! `convoy rollout start`, and the exit status of a rollout that did not succeed.

#[allow(unused_imports)]
use super::*;

pub(super) fn expect(view: &RolloutView, state: RolloutState) -> anyhow::Result<()> {
    if watch::needs_operator(view) {
        return Err(crate::cli::NeedsOperator(format!(
            "rollout {} is {}: {}; it needs an operator (convoy rollout resume|promote|abort|rollback {})",
            view.id,
            view.state().name(),
            view.waiting_for,
            view.id
        ))
        .into());
    }
    if view.state() == state {
        Ok(())
    } else {
        Err(RolloutNotSucceeded {
            id: view.id.clone(),
            state: view.state().name().to_string(),
        }
        .into())
    }
}

pub(super) async fn start(
    args: StartArgs,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let mut spec = args.spec();
    spec.selector = crate::selector::with_hosts(&spec.selector, &args.hosts).map_err(UsageError)?;
    // Checked here too, so a typo is a usage error before anything is contacted.
    parse_spec(&spec).map_err(|err| UsageError(err.to_string()))?;
    Selector::parse(&spec.selector).map_err(|err| UsageError(err.render()))?;
    let mut client = rollouts(connect).await?;
    let started = client
        .start_rollout(StartRolloutRequest {
            spec: Some(spec),
            dry_run: args.dry_run,
            request_id: args.request_id.clone(),
            force: args.force,
            reason: args.reason.clone().unwrap_or_default(),
            at: args.at.clone().unwrap_or_default(),
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    if args.dry_run {
        return render::print_plan(&started.plan, format);
    }
    if !args.wait {
        match format {
            OutputFormat::Json => out!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "id": started.id }))?
            ),
            OutputFormat::Table => {
                for line in &started.plan {
                    eprintln!("{}", crate::cli::printable(line));
                }
                out!("{}", started.id);
            }
        }
        return Ok(());
    }
    if format == OutputFormat::Table {
        for line in &started.plan {
            eprintln!("{}", crate::cli::printable(line));
        }
        eprintln!("rollout {} started", started.id);
    }
    let view = watch::watch(&started.id, connect, format, args.wait_through_pauses).await?;
    render::print_view(&view, format)?;
    expect(&view, RolloutState::Succeeded)
}

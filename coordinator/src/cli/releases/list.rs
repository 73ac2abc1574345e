//! `convoy release list` and `convoy release status`.

#[allow(unused_imports)]
use super::*;

pub(super) async fn list(
    app: String,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let mut client = admin(connect).await?;
    let releases = client
        .list_releases(ListReleasesRequest { app })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner()
        .releases;
    if format == OutputFormat::Json {
        let json: Vec<output::ReleaseJson> =
            releases.iter().map(output::ReleaseJson::from).collect();
        out!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let now = now_unix_ms();
    let mut table = Table::new();
    table.load_preset(UTF8_BORDERS_ONLY).set_header([
        "APP",
        "VERSION",
        "SIZE",
        "SHA256",
        "SIGNATURE",
        "PUSHED",
        "BY",
        "ENVIRONMENTS",
    ]);
    for r in &releases {
        table.add_row([
            r.app.clone(),
            r.version.clone(),
            output::bytes(r.size),
            r.sha256[..16.min(r.sha256.len())].to_string(),
            output::signature(r),
            output::ago(r.pushed_unix_ms, now),
            r.pushed_by.clone(),
            crate::cli::environments::reached_cell(&r.environments),
        ]);
    }
    out!("{table}");
    Ok(())
}

pub(super) async fn status(
    app: String,
    selector: String,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    crate::selector::Selector::parse(&selector).map_err(|err| UsageError(err.render()))?;
    let mut client = admin(connect).await?;
    let hosts = client
        .release_status(ReleaseStatusRequest {
            app: app.clone(),
            selector,
        })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner()
        .hosts;
    if format == OutputFormat::Json {
        let json: Vec<serde_json::Value> = hosts
            .iter()
            .map(|h| {
                serde_json::json!({
                    "host": h.host,
                    "state": output::state_name(h.state),
                    "version": h.version,
                    "healthy": h.healthy,
                    "previous": h.previous,
                })
            })
            .collect();
        out!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_header(["HOST", "STATE", "VERSION", "HEALTHY", "PREVIOUS"]);
    for h in &hosts {
        table.add_row([
            h.host.clone(),
            output::state_name(h.state).to_string(),
            if h.version.is_empty() {
                "(none)".to_string()
            } else {
                h.version.clone()
            },
            if h.version.is_empty() {
                String::new()
            } else if h.healthy {
                "yes".into()
            } else {
                "NO".into()
            },
            h.previous.clone(),
        ]);
    }
    out!("{table}");
    let mut versions: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for h in &hosts {
        *versions.entry(h.version.as_str()).or_default() += 1;
    }
    let summary: Vec<String> = versions
        .iter()
        .map(|(v, n)| format!("{}: {n}", if v.is_empty() { "(none)" } else { v }))
        .collect();
    out!(
        "{app} on {}: {}",
        super::output::count(hosts.len(), "host"),
        summary.join(", ")
    );
    Ok(())
}

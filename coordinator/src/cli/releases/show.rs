//! `convoy release show APP VERSION` and what `convoy release push` reads for a release's
//! notes (`--notes-file`) and metadata (`--meta k=v`), checked here with the coordinator's
//! own rules before anything is sent.

use std::collections::BTreeMap;
use std::path::Path;

use convoy_proto::v1::GetReleaseRequest;

use super::super::connect::{admin, rpc_error};
use super::super::output;
use super::super::{ConnectArgs, OutputFormat, UsageError};
use crate::cli::out;
use crate::clock::now_unix_ms;
use crate::grpc::limits::{MAX_RELEASE_META, RELEASE_META_VALUE, RELEASE_NOTES};
use crate::releases::{notes, validate_app, validate_version};

/// A push's notes and metadata.
#[derive(Debug, Default)]
pub struct Extra {
    pub notes: String,
    pub metadata: BTreeMap<String, String>,
}

impl Extra {
    /// Reads `--notes-file` and parses `--meta k=v` (a usage error names what is wrong).
    pub fn read(notes_file: Option<&Path>, meta: &[String]) -> Result<Self, String> {
        let notes = match notes_file {
            Some(path) => {
                let size = std::fs::metadata(path)
                    .map_err(|err| format!("cannot read {}: {err}", path.display()))?
                    .len();
                if size > RELEASE_NOTES as u64 {
                    return Err(format!(
                        "{} is {size} bytes; release notes may be at most {RELEASE_NOTES} bytes (64 KiB)",
                        path.display()
                    ));
                }
                std::fs::read_to_string(path)
                    .map_err(|err| format!("cannot read {}: {err}", path.display()))?
            }
            None => String::new(),
        };
        let mut metadata = BTreeMap::new();
        for pair in meta {
            let Some((key, value)) = pair.split_once('=') else {
                return Err(format!("--meta {pair:?}: expected KEY=VALUE"));
            };
            if value.len() > RELEASE_META_VALUE {
                return Err(format!(
                    "--meta {key}: the value is {} bytes; at most {RELEASE_META_VALUE} are allowed",
                    value.len()
                ));
            }
            if metadata
                .insert(key.to_string(), value.to_string())
                .is_some()
            {
                return Err(format!("--meta {key} given twice"));
            }
        }
        if metadata.len() > MAX_RELEASE_META {
            return Err(format!(
                "{} --meta entries; at most {MAX_RELEASE_META} are allowed",
                metadata.len()
            ));
        }
        notes::validate(&notes, &metadata).map_err(|err| err.to_string())?;
        Ok(Self { notes, metadata })
    }
}

pub async fn show(
    app: String,
    version: String,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    validate_app(&app).map_err(|e| UsageError(e.to_string()))?;
    validate_version(&version).map_err(|e| UsageError(e.to_string()))?;
    let mut client = admin(connect).await?;
    let detail = client
        .get_release(GetReleaseRequest { app, version })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let release = detail.release.unwrap_or_default();
    let rollouts: Vec<serde_json::Value> = detail
        .rollouts
        .iter()
        .map(|r| {
            serde_json::json!({
                "id": r.id,
                "app": r.app,
                "state": r.state,
                "created_at": output::rfc3339(r.created_unix_ms),
                "finished_at": output::rfc3339(r.finished_unix_ms),
                "created_by": r.created_by,
            })
        })
        .collect();
    if format == OutputFormat::Json {
        let mut json = serde_json::to_value(output::ReleaseJson::from(&release))?;
        json["rollouts"] = serde_json::Value::Array(rollouts);
        out!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let now = now_unix_ms();
    out!("release  {} {}", release.app, release.version);
    out!("sha256   {}", release.sha256);
    out!(
        "size     {} ({})",
        output::bytes(release.size),
        release.format
    );
    out!("signed   {}", output::signature(&release));
    out!(
        "pushed   {} by {}",
        output::ago(release.pushed_unix_ms, now),
        release.pushed_by
    );
    for (key, value) in &release.metadata {
        out!("meta     {key}={value}");
    }
    if release.environments.is_empty() {
        out!("reached  (no environment)");
    }
    for env in &release.environments {
        out!(
            "reached  {} {} ({})",
            env.env,
            output::ago(env.reached_unix_ms, now),
            env.rollout
        );
    }
    if detail.rollouts.is_empty() {
        out!("rollouts (none)");
    } else {
        out!("rollouts");
        for r in &detail.rollouts {
            let when = if r.finished_unix_ms > 0 {
                format!("finished {}", output::ago(r.finished_unix_ms, now))
            } else {
                format!("started {}", output::ago(r.created_unix_ms, now))
            };
            out!("  {}  {}  {}  {when}", r.id, r.app, r.state);
        }
    }
    if release.notes.is_empty() {
        out!("notes    (none)");
    } else {
        out!("notes");
        for line in release.notes.lines() {
            out!("  {line}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_pairs() {
        let extra = Extra::read(None, &["commit=abc=1".into(), "author=me".into()]).unwrap();
        assert_eq!(extra.metadata["commit"], "abc=1");
        for bad in [
            vec!["nokey".to_string()],
            vec!["Commit=x".into()],
            vec!["a=1".into(), "a=2".into()],
        ] {
            assert!(Extra::read(None, &bad).is_err(), "{bad:?}");
        }
        let many: Vec<String> = (0..=MAX_RELEASE_META).map(|i| format!("k{i}=v")).collect();
        assert!(Extra::read(None, &many).unwrap_err().contains("at most"));
    }

    #[test]
    fn notes_over_the_cap_are_refused_with_the_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("CHANGES.md");
        std::fs::write(&path, "x".repeat(RELEASE_NOTES + 1)).unwrap();
        let err = Extra::read(Some(&path), &[]).unwrap_err();
        assert!(err.contains("64 KiB"), "{err}");
    }
}

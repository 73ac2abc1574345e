//! `convoy snapshot save|restore|drill`: the coordinator's own disaster recovery. `save`
//! streams a snapshot from a running coordinator over the mTLS admin API to a file on the
//! operator's machine (as `nomad operator snapshot save` does: the copy ends up away from
//! the host it protects, and the coordinator needs no path of the operator's); `restore`
//! and `drill` are local and never contact a coordinator.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Subcommand;
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::SaveSnapshotRequest;
use tokio::io::AsyncWriteExt as _;

use super::connect::{admin, rpc_error};
use super::{ConnectArgs, OutputFormat};
use crate::cli::out;
use crate::server::drill::{self, Report};

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Save a snapshot of the coordinator's state (store, artifacts, backups) to FILE
    /// (tar.zst), streamed from the running coordinator (admin; audited).
    Save {
        /// Where to write it (written as FILE.part, renamed when complete).
        file: PathBuf,
        /// Leave the artifact and backup blobs out; the snapshot lists them (path, size,
        /// sha256) instead.
        #[arg(long)]
        no_blobs: bool,
    },
    /// Restore a snapshot into an empty or new data dir (local: no coordinator). Refuses a
    /// corrupt, truncated or newer-format file and writes nothing then.
    Restore {
        /// The snapshot file.
        file: PathBuf,
        /// The data dir to create (must be empty or absent).
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Restore a snapshot into a temp dir, open it with a scratch coordinator on
    /// loopback, check record counts and blob hashes against its header, and report;
    /// exits non-zero on any mismatch.
    Drill {
        /// The snapshot file.
        file: PathBuf,
    },
}

pub async fn run(
    command: SnapshotCommand,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    match command {
        SnapshotCommand::Save { file, no_blobs } => save(&file, no_blobs, connect, format).await,
        SnapshotCommand::Restore { file, data_dir } => {
            let restored = tokio::task::spawn_blocking({
                let (file, data_dir) = (file.clone(), data_dir.clone());
                move || crate::snapshot::restore::restore(&file, &data_dir)
            })
            .await
            .context("restore task")?
            .with_context(|| format!("cannot restore {}", file.display()))?;
            let header = restored.header;
            match format {
                OutputFormat::Json => out!(
                    "{}",
                    serde_json::json!({
                        "data_dir": data_dir,
                        "format": header.format,
                        "coordinator_version": header.coordinator_version,
                        "created_at": super::output::rfc3339(header.created_unix_ms),
                        "trees": header.trees,
                        "blobs": header.blobs.len(),
                        "blobs_included": header.blobs_included,
                    })
                ),
                OutputFormat::Table => {
                    out!(
                        "restored {} into {}: {} records in {} trees, {} blobs{}",
                        file.display(),
                        data_dir.display(),
                        header.trees.values().sum::<u64>(),
                        header.trees.len(),
                        header.blobs.len(),
                        if header.blobs_included {
                            ""
                        } else {
                            " listed (saved with --no-blobs: copy them back yourself)"
                        }
                    );
                    out!(
                        "start a coordinator on it: set data_dir = {:?} in coordinator.toml",
                        data_dir
                    );
                }
            }
            Ok(())
        }
        SnapshotCommand::Drill { file } => {
            let report = drill::drill(&file).await;
            print_report(&file, &report, format)?;
            if report.ok() {
                Ok(())
            } else {
                Err(anyhow::anyhow!(
                    "the drill of {} found {} problem(s)",
                    file.display(),
                    report.failures()
                ))
            }
        }
    }
}

async fn save(
    file: &Path,
    no_blobs: bool,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut client = admin(connect).await?;
    let mut stream = client
        .save_snapshot(SaveSnapshotRequest { no_blobs })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let mut part = file.as_os_str().to_owned();
    part.push(".part");
    let part = PathBuf::from(part);
    let std_file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&part)
        .with_context(|| format!("cannot create {}", part.display()))?;
    let mut out = tokio::fs::File::from_std(std_file);
    let mut bytes = 0u64;
    let result = async {
        while let Some(chunk) = stream
            .message()
            .await
            .map_err(|status| rpc_error(&connect.addr, status))?
        {
            bytes += chunk.data.len() as u64;
            out.write_all(&chunk.data)
                .await
                .with_context(|| format!("cannot write {}", part.display()))?;
        }
        out.sync_all().await.context("cannot sync the snapshot")?;
        anyhow::Ok(())
    }
    .await;
    if let Err(err) = result {
        let _ = std::fs::remove_file(&part);
        return Err(err);
    }
    std::fs::rename(&part, file).with_context(|| format!("cannot rename to {}", file.display()))?;
    match format {
        OutputFormat::Json => out!(
            "{}",
            serde_json::json!({ "file": file, "bytes": bytes, "blobs_included": !no_blobs })
        ),
        OutputFormat::Table => out!(
            "saved {} ({}){}; check it with `convoy snapshot drill {}`",
            file.display(),
            super::output::bytes(bytes),
            if no_blobs { ", blobs listed only" } else { "" },
            file.display()
        ),
    }
    Ok(())
}

fn print_report(file: &Path, report: &Report, format: OutputFormat) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        out!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_header(["CHECK", "EXPECTED", "FOUND", "OK"]);
    for check in &report.checks {
        table.add_row([
            check.check.clone(),
            check.expected.clone(),
            check.found.clone(),
            if check.ok { "yes".into() } else { "NO".into() },
        ]);
    }
    out!("{table}");
    out!(
        "drill of {}: {}",
        file.display(),
        if report.ok() {
            "every check passed".to_string()
        } else {
            format!("{} check(s) failed", report.failures())
        }
    );
    Ok(())
}

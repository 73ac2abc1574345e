//! `convoy release keygen|push|list|show|status|delete`, `convoy deploy` and `convoy rollback`
//! (`show` and the notes and metadata of a push: `releases/show.rs`).

mod list;
use list::{list, status};
mod show;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_BORDERS_ONLY};
use convoy_proto::v1::{
    DeleteReleaseRequest, DeploySpec, ListReleasesRequest, PushReleaseChunk, ReleaseMeta,
    ReleaseStatusRequest, RollbackSpec, StartJobRequest, push_release_chunk,
};
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;

use super::connect::{admin, rpc_error};
use super::jobs::{JobFlags, run_job};
use super::output::{self};
use super::{ConnectArgs, OutputFormat, UsageError};
use crate::cli::out;
use crate::clock::now_unix_ms;
use crate::releases::{CHUNK_BYTES, validate_app, validate_version};

#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Create an ed25519 key pair for signing releases: OUT.key (0600) and OUT.pub.
    Keygen {
        /// Path prefix of the two files.
        #[arg(long)]
        out: PathBuf,
        /// Overwrite existing files.
        #[arg(long)]
        force: bool,
    },
    /// Upload an artifact (tar.gz or tar.zst) as APP VERSION, optionally signed.
    Push {
        /// The app.
        app: String,
        /// The release's version.
        #[arg(id = "release_version", value_name = "VERSION")]
        version: String,
        /// The artifact file (tar.gz or tar.zst).
        artifact: PathBuf,
        /// Private key from `convoy release keygen` to sign with.
        #[arg(long)]
        sign_key: Option<PathBuf>,
        /// Release notes (e.g. CHANGES.md), stored with the release; at most 64 KiB.
        #[arg(long, value_name = "FILE")]
        notes_file: Option<PathBuf>,
        /// Metadata stored with the release (commit, build URL, author): KEY=VALUE,
        /// repeatable; keys [a-z0-9_.-].
        #[arg(long = "meta", value_name = "KEY=VALUE")]
        meta: Vec<String>,
    },
    /// One release: notes, metadata, signer, sha256, size, pushed by/at, and the rollouts
    /// that deployed it.
    Show {
        /// The app.
        app: String,
        /// The version.
        #[arg(id = "release_version", value_name = "VERSION")]
        version: String,
    },
    /// Releases of an app (all apps if omitted): version, size, sha256, signer, pushed at.
    List {
        /// Only this app's releases.
        app: Option<String>,
    },
    /// Which hosts run which version of APP, healthy or not.
    Status {
        /// The app.
        app: String,
        /// Label selector for the hosts shown ('id=web-1' names a host).
        #[arg(long, short = 's', default_value = "")]
        selector: String,
        /// Only these hosts, by agent id: comma-separated or repeated.
        #[arg(long = "host", value_name = "ID", value_delimiter = ',')]
        hosts: Vec<String>,
    },
    /// Forget APP VERSION and remove its artifact (admin; audited). Refused, naming them,
    /// while a host runs it, a deploy job sends it or an active rollout uses it.
    Delete {
        /// The app.
        app: String,
        /// The version to delete.
        #[arg(id = "release_version", value_name = "VERSION")]
        version: String,
    },
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The app.
    pub app: String,
    /// The version to deploy (pushed with `convoy release push`).
    #[arg(id = "release_version", value_name = "VERSION")]
    pub version: String,
    #[command(flatten)]
    pub job: JobFlags,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The app.
    pub app: String,
    /// A kept release to return to (default: each host's previous one).
    #[arg(long)]
    pub to: Option<String>,
    #[command(flatten)]
    pub job: JobFlags,
}

fn usage<E: std::fmt::Display>(err: E) -> anyhow::Error {
    UsageError(err.to_string()).into()
}

pub async fn deploy(
    args: DeployArgs,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    validate_app(&args.app).map_err(usage)?;
    validate_version(&args.version).map_err(usage)?;
    let request = StartJobRequest {
        deploy: Some(DeploySpec {
            app: args.app,
            version: args.version,
        }),
        ..Default::default()
    };
    run_job(request, args.job, connect, format).await
}

pub async fn rollback(
    args: RollbackArgs,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    validate_app(&args.app).map_err(usage)?;
    if let Some(version) = &args.to {
        validate_version(version).map_err(usage)?;
    }
    let request = StartJobRequest {
        rollback: Some(RollbackSpec {
            app: args.app,
            version: args.to.unwrap_or_default(),
        }),
        ..Default::default()
    };
    run_job(request, args.job, connect, format).await
}

pub async fn run(
    command: ReleaseCommand,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    match command {
        ReleaseCommand::Keygen { out: prefix, force } => keygen(&prefix, force, format),
        ReleaseCommand::Push {
            app,
            version,
            artifact,
            sign_key,
            notes_file,
            meta,
        } => {
            let extra = show::Extra::read(notes_file.as_deref(), &meta).map_err(usage)?;
            push(app, version, artifact, sign_key, extra, connect, format).await
        }
        ReleaseCommand::Show { app, version } => show::show(app, version, connect, format).await,
        ReleaseCommand::List { app } => list(app.unwrap_or_default(), connect, format).await,
        ReleaseCommand::Status {
            app,
            selector,
            hosts,
        } => {
            let selector = crate::selector::with_hosts(&selector, &hosts).map_err(UsageError)?;
            status(app, selector, connect, format).await
        }
        ReleaseCommand::Delete { app, version } => delete(app, version, connect, format).await,
    }
}

async fn delete(
    app: String,
    version: String,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    validate_app(&app).map_err(|e| UsageError(e.to_string()))?;
    validate_version(&version).map_err(|e| UsageError(e.to_string()))?;
    let mut client = admin(connect).await?;
    let deleted = client
        .delete_release(DeleteReleaseRequest { app, version })
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    let release = deleted.release.unwrap_or_default();
    match format {
        OutputFormat::Json => out!(
            "{}",
            serde_json::json!({
                "release": output::ReleaseJson::from(&release),
                "artifact_removed": deleted.artifact_removed,
            })
        ),
        OutputFormat::Table => out!(
            "deleted release {} {}{}",
            release.app,
            release.version,
            if deleted.artifact_removed {
                ""
            } else {
                " (its artifact stays: another release has the same bytes)"
            }
        ),
    }
    Ok(())
}

fn keygen(prefix: &std::path::Path, force: bool, format: OutputFormat) -> anyhow::Result<()> {
    let private_path = prefix.with_extension("key");
    let public_path = prefix.with_extension("pub");
    crate::pki::ensure_writable(&[&private_path, &public_path], force)?;
    let (private, public) = convoy_proto::signing::generate(rand::random())?;
    crate::pki::write_file(&private_path, &private, true, force)?;
    crate::pki::write_file(&public_path, &public, false, force)?;
    match format {
        OutputFormat::Json => out!(
            "{}",
            serde_json::json!({ "private_key": private_path, "public_key": public_path })
        ),
        OutputFormat::Table => out!(
            "wrote {} (keep it secret) and {} (list it in agents' release_public_keys)",
            private_path.display(),
            public_path.display()
        ),
    }
    Ok(())
}

async fn sha256_of(path: &std::path::Path) -> anyhow::Result<(String, u64)> {
    let mut file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; CHUNK_BYTES];
    let mut size = 0u64;
    loop {
        let read = file.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        size += read as u64;
        hasher.update(&buffer[..read]);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

async fn push(
    app: String,
    version: String,
    artifact: PathBuf,
    sign_key: Option<PathBuf>,
    extra: show::Extra,
    connect: &ConnectArgs,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let (release, size) = upload_with(app, version, artifact, sign_key, extra, connect).await?;
    match format {
        OutputFormat::Json => out!(
            "{}",
            serde_json::to_string_pretty(&output::ReleaseJson::from(&release))?
        ),
        OutputFormat::Table => out!(
            "pushed {} {}: {} bytes, sha256 {}{}",
            release.app,
            release.version,
            size,
            release.sha256,
            format!(", {}", output::signature(&release))
        ),
    }
    Ok(())
}

/// Uploads an artifact (signed with `sign_key` if given); returns the stored release and
/// the artifact's size. Prints nothing.
pub(crate) async fn upload(
    app: String,
    version: String,
    artifact: PathBuf,
    sign_key: Option<PathBuf>,
    connect: &ConnectArgs,
) -> anyhow::Result<(convoy_proto::v1::Release, u64)> {
    upload_with(
        app,
        version,
        artifact,
        sign_key,
        show::Extra::default(),
        connect,
    )
    .await
}

/// [`upload`] with release notes and metadata.
pub(crate) async fn upload_with(
    app: String,
    version: String,
    artifact: PathBuf,
    sign_key: Option<PathBuf>,
    extra: show::Extra,
    connect: &ConnectArgs,
) -> anyhow::Result<(convoy_proto::v1::Release, u64)> {
    validate_app(&app).map_err(usage)?;
    validate_version(&version).map_err(usage)?;
    let (sha256, size) = sha256_of(&artifact).await?;
    let (signature, signer) = match &sign_key {
        Some(path) => {
            let key = convoy_proto::signing::load_private(path)?;
            let signer = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            (
                convoy_proto::signing::sign(&key, &app, &version, &sha256),
                signer,
            )
        }
        None => (Vec::new(), String::new()),
    };
    let mut client = admin(connect).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let meta = PushReleaseChunk {
        body: Some(push_release_chunk::Body::Meta(ReleaseMeta {
            app,
            version,
            signature,
            signer,
            sha256,
            notes: extra.notes,
            metadata: extra.metadata,
        })),
    };
    // The queue is empty, so this cannot fail for lack of room.
    let _ = tx.try_send(meta);
    let reader = tokio::spawn(async move {
        let mut file = tokio::fs::File::open(&artifact).await?;
        let mut buffer = vec![0u8; CHUNK_BYTES];
        loop {
            let read = file.read(&mut buffer).await?;
            if read == 0 {
                return Ok::<(), std::io::Error>(());
            }
            let chunk = PushReleaseChunk {
                body: Some(push_release_chunk::Body::Data(buffer[..read].to_vec())),
            };
            if tx.send(chunk).await.is_err() {
                return Ok(());
            }
        }
    });
    let release = client
        .push_release(tokio_stream::wrappers::ReceiverStream::new(rx))
        .await
        .map_err(|status| rpc_error(&connect.addr, status))?
        .into_inner();
    reader
        .await
        .context("reader task")?
        .context("cannot read the artifact")?;
    Ok((release, size))
}

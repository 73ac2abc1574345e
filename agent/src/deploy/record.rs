//! What the agent verified about each kept release, and the check every activation
//! (deploy, rollback, revert) passes first.
//!
//! At unpack the agent writes `releases/.<version>.verified.toml` (0600, temp file + rename)
//! with the app, version, sha256, size, signature and signer it verified. Before a release
//! is made `current`, [`check_activation`] re-reads that record, checks that it names this
//! app and version, that the release dir is a real directory directly under `releases/`,
//! and, on hosts with `release_public_keys`, that the recorded signature still verifies
//! against the keys trusted now. A release without a record (unpacked by an agent older than
//! the records, or half-written by a crash) is never activated.
//!
//! Nothing here trusts a name before [`convoy_proto::labels::validate_release`] passed it.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

/// Why a record could not be read, or a release may not be made current; the text is the
/// deploy's message, unchanged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    #[error("the verification record {} is unreadable: {message}", file.display())]
    Unreadable { file: PathBuf, message: String },
    #[error("cannot read {}: {source}", file.display())]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    /// `releases/<version>` may not be made current: the text says why and how to fix it.
    #[error("{0}")]
    Refused(String),
}

/// One kept release's verification record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReleaseRecord {
    pub(crate) app: String,
    pub(crate) version: String,
    /// The artifact's sha256 (lowercase hex), checked over the downloaded bytes.
    pub(crate) sha256: String,
    pub(crate) size: u64,
    /// The ed25519 signature (hex) over `convoy-release-v1`, app, version and sha256; empty
    /// when the host allows unsigned releases and none came.
    pub(crate) signature: String,
    /// The trusted key that verified it (empty when unsigned).
    pub(crate) signer: String,
    /// When it was verified (Unix milliseconds).
    pub(crate) verified_at_ms: u64,
}

/// Whether a host accepts releases nobody signed: the policy every activation checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SignaturePolicy {
    /// `release_public_keys` is set: only releases signed by one of them.
    Required,
    /// `allow_unsigned_releases = true` and no keys: the sha256 record is enough.
    Unsigned,
    /// Neither: every deploy and rollback is refused until the host is configured.
    Unconfigured,
}

impl SignaturePolicy {
    pub(crate) fn of(trusted_keys: &[(String, VerifyingKey)], allow_unsigned: bool) -> Self {
        if !trusted_keys.is_empty() {
            Self::Required
        } else if allow_unsigned {
            Self::Unsigned
        } else {
            Self::Unconfigured
        }
    }
}

/// The refusal for a host with neither keys nor the opt-out.
pub(crate) const UNCONFIGURED: &str = "this host requires signed releases but trusts no signing key: \
     add `release_public_keys = [\"NAME.pub\"]` (from `convoy release keygen`) to agent.toml, \
     or set `allow_unsigned_releases = true` to run unsigned releases";

/// Where `version`'s record lives: beside its directory, hidden (versions never start
/// with a dot, so it can never be a release).
pub(crate) fn path(app_dir: &Path, version: &str) -> PathBuf {
    app_dir
        .join("releases")
        .join(format!(".{version}.verified.toml"))
}

/// Writes `record` atomically with mode 0600 (temp file, fsync, rename, fsync the dir).
pub(crate) fn save(app_dir: &Path, record: &ReleaseRecord) -> std::io::Result<()> {
    let text = toml::to_string(record).map_err(std::io::Error::other)?;
    let target = path(app_dir, &record.version);
    let tmp = target.with_extension(format!("tmp-{:016x}", rand::random::<u64>()));
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&tmp, &target)?;
        std::fs::File::open(app_dir.join("releases"))?.sync_all()
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The record of `version`, if there is a readable one.
pub(crate) fn load(app_dir: &Path, version: &str) -> Result<Option<ReleaseRecord>, RecordError> {
    let file = path(app_dir, version);
    match std::fs::read_to_string(&file) {
        Ok(text) => toml::from_str(&text)
            .map(Some)
            .map_err(|err| RecordError::Unreadable {
                message: err.to_string(),
                file,
            }),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(RecordError::Read { file, source }),
    }
}

/// Removes `version`'s record (when its release is pruned).
pub(crate) fn remove(app_dir: &Path, version: &str) {
    let _ = std::fs::remove_file(path(app_dir, version));
}

/// Whether `releases/<version>` exists as anything at all (a dir, a file, a dangling link).
pub(crate) fn release_exists(app_dir: &Path, version: &str) -> bool {
    std::fs::symlink_metadata(app_dir.join("releases").join(version)).is_ok()
}

/// Checks that `releases/<version>` of `app` may be made current: a valid name, a real
/// directory directly under `releases/` (not a symlink), and a record naming this app and
/// version whose signature verifies against `trusted_keys` under `policy`. Returns the
/// record; the error says what failed and how to fix it.
pub(crate) fn check_activation(
    app_dir: &Path,
    app: &str,
    version: &str,
    policy: SignaturePolicy,
    trusted_keys: &[(String, VerifyingKey)],
) -> Result<ReleaseRecord, RecordError> {
    activation_problem(app_dir, app, version, policy, trusted_keys).map_err(RecordError::Refused)
}

/// [`check_activation`]'s checks; the error is the message.
fn activation_problem(
    app_dir: &Path,
    app: &str,
    version: &str,
    policy: SignaturePolicy,
    trusted_keys: &[(String, VerifyingKey)],
) -> Result<ReleaseRecord, String> {
    convoy_proto::labels::validate_release(app, version)?;
    if policy == SignaturePolicy::Unconfigured {
        return Err(UNCONFIGURED.to_string());
    }
    let releases = app_dir.join("releases");
    let release_dir = releases.join(version);
    let meta = std::fs::symlink_metadata(&release_dir)
        .map_err(|_| format!("{app} {version} is not kept on this host"))?;
    if !meta.file_type().is_dir() {
        return Err(format!(
            "refused {app} {version}: {} is not a directory (a symlink or file there is never activated)",
            release_dir.display()
        ));
    }
    let canonical = std::fs::canonicalize(&release_dir)
        .map_err(|err| format!("cannot resolve {}: {err}", release_dir.display()))?;
    let parent = std::fs::canonicalize(&releases)
        .map_err(|err| format!("cannot resolve {}: {err}", releases.display()))?;
    if canonical.parent() != Some(parent.as_path()) {
        return Err(format!(
            "refused {app} {version}: {} is not directly under {}",
            canonical.display(),
            parent.display()
        ));
    }
    let record = load(app_dir, version)
        .map_err(|err| err.to_string())?
        .ok_or_else(|| {
        format!(
            "refused {app} {version}: it has no verification record (unpacked by an older agent \
             or interrupted); deploy it again so this host verifies it"
        )
    })?;
    if record.app != app
        || record.version != version
        || !convoy_proto::labels::valid_sha256(&record.sha256)
    {
        return Err(format!(
            "refused {app} {version}: its verification record names {} {} (sha256 {:?}); deploy it again",
            record.app, record.version, record.sha256
        ));
    }
    if policy == SignaturePolicy::Required {
        let signature = hex::decode(&record.signature).map_err(|_| {
            format!("refused {app} {version}: the recorded signature is not hex; deploy it again")
        })?;
        convoy_proto::signing::verify(trusted_keys, app, version, &record.sha256, &signature)
            .map_err(|err| format!("refused {app} {version}: recorded signature: {err}"))?;
    }
    Ok(record)
}

/// Makes `dir` (created if missing) private to the agent's user: mode 0700.
pub(crate) fn private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

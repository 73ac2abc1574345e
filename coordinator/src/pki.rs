//! The fleet's own certificate authority: creates the CA and issues server, agent and
//! operator certificates (ECDSA P-256) that carry a Convoy identity as a SAN URI.
//!
//! Pure certificate minting plus the file writing rules (keys 0600, no silent overwrite).
//! Nothing here opens a network connection or reads the store.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use convoy_proto::identity::{Identity, IdentityError};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

pub mod csr;

pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca.key";

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{0} already exists (pass --force to overwrite)")]
    Exists(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("invalid subject alternative name {0:?}")]
    InvalidSan(String),
    #[error("validity must be at least one day")]
    InvalidValidity,
}

/// When a certificate is valid.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

impl Validity {
    /// From one hour ago (to tolerate clock skew) until `days` from now.
    pub fn days(days: u32) -> Result<Self, PkiError> {
        if days == 0 {
            return Err(PkiError::InvalidValidity);
        }
        let now = OffsetDateTime::now_utc();
        Ok(Self {
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(i64::from(days)),
        })
    }
}

impl Validity {
    /// Shortest certificate lifetime [`Validity::lifetime`] signs.
    pub const MIN_LIFETIME: std::time::Duration = std::time::Duration::from_secs(10);

    /// `lifetime` from now, back-dated by a tenth of it, at most an hour (clock skew
    /// between the coordinator and other verifiers).
    pub fn lifetime(lifetime: std::time::Duration) -> Result<Self, PkiError> {
        if lifetime < Self::MIN_LIFETIME {
            return Err(PkiError::InvalidValidity);
        }
        let lifetime = Duration::try_from(lifetime).map_err(|_| PkiError::InvalidValidity)?;
        let now = OffsetDateTime::now_utc();
        Ok(Self {
            not_before: now - (lifetime / 10_i32).min(Duration::hours(1)),
            not_after: now + lifetime,
        })
    }
}

/// A certificate and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The fleet CA, able to sign certificates.
pub struct Ca {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

impl Ca {
    /// Creates a new CA with a fresh key.
    pub fn generate(common_name: &str, validity: Validity) -> Result<(Self, Issued), PkiError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, "Convoy");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let cert = params.self_signed(&key)?;
        let issued = Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        let issuer = Issuer::new(params, key);
        Ok((
            Self {
                cert_pem: issued.cert_pem.clone(),
                issuer,
            },
            issued,
        ))
    }

    /// An intermediate CA signed by this one (path length 0: it signs leaves only), so
    /// that this one can stay offline while the coordinator issues (`[ca]`).
    pub fn intermediate(&self, common_name: &str, validity: Validity) -> Result<Issued, PkiError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, "Convoy");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.use_authority_key_identifier_extension = true;
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Loads a CA from its PEM certificate and key.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Self {
            cert_pem: cert_pem.to_string(),
            issuer,
        })
    }

    /// Loads `ca.pem` and `ca.key` from a directory.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let cert = read(&dir.join(CA_CERT_FILE))?;
        let key = read(&dir.join(CA_KEY_FILE))?;
        Self::from_pem(&cert, &key)
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Issues a certificate for `identity`. Servers get the server-auth usage and the
    /// given DNS names or IP addresses; agents and operators get the client-auth usage.
    pub fn issue(
        &self,
        identity: &Identity,
        sans: &[String],
        validity: Validity,
    ) -> Result<Issued, PkiError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let mut params = CertificateParams::default();
        let common_name = match identity {
            Identity::Agent(id) => id.to_string(),
            Identity::Operator { name, .. } | Identity::Server(name) => name.clone(),
        };
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, "Convoy");
        params.distinguished_name = dn;
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = match identity {
            Identity::Server(_) => vec![ExtendedKeyUsagePurpose::ServerAuth],
            _ => vec![ExtendedKeyUsagePurpose::ClientAuth],
        };
        let mut names = vec![SanType::URI(
            identity
                .uri()
                .try_into()
                .map_err(|_| PkiError::InvalidSan(identity.uri()))?,
        )];
        for san in sans {
            names.push(parse_san(san)?);
        }
        params.subject_alt_names = names;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn parse_san(san: &str) -> Result<SanType, PkiError> {
    if let Ok(ip) = san.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let valid_dns = !san.is_empty()
        && san.len() <= 253
        && san.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '*')
        });
    if !valid_dns {
        return Err(PkiError::InvalidSan(san.to_string()));
    }
    Ok(SanType::DnsName(
        san.try_into()
            .map_err(|_| PkiError::InvalidSan(san.to_string()))?,
    ))
}

fn read(path: &Path) -> Result<String, PkiError> {
    fs::read_to_string(path).map_err(|source| PkiError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `contents` to `path`; keys get mode 0600 from the moment they exist. Refuses
/// to replace an existing file unless `force`.
pub fn write_file(path: &Path, contents: &str, secret: bool, force: bool) -> Result<(), PkiError> {
    let write_err = |source| PkiError::Write {
        path: path.to_path_buf(),
        source,
    };
    if path.exists() {
        if !force {
            return Err(PkiError::Exists(path.to_path_buf()));
        }
        fs::remove_file(path).map_err(write_err)?;
    }
    let mode = if secret { 0o600 } else { 0o644 };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(write_err)?;
    // The umask may have narrowed the mode; make it exact.
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(write_err)?;
    file.write_all(contents.as_bytes()).map_err(write_err)?;
    file.sync_all().map_err(write_err)
}

/// Checks that none of `paths` exists unless `force`, before anything is written, so a
/// refused command leaves no half-written pair behind.
pub fn ensure_writable(paths: &[&Path], force: bool) -> Result<(), PkiError> {
    if force {
        return Ok(());
    }
    match paths.iter().find(|path| path.exists()) {
        Some(path) => Err(PkiError::Exists(path.to_path_buf())),
        None => Ok(()),
    }
}

/// `convoy ca init`: creates `dir/ca.pem` and `dir/ca.key`.
pub fn init_ca(dir: &Path, days: u32, force: bool) -> Result<(PathBuf, PathBuf), PkiError> {
    fs::create_dir_all(dir).map_err(|source| PkiError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    ensure_writable(&[&cert_path, &key_path], force)?;
    let (_, issued) = Ca::generate("Convoy fleet CA", Validity::days(days)?)?;
    write_file(&key_path, &issued.key_pem, true, force)?;
    write_file(&cert_path, &issued.cert_pem, false, force)?;
    Ok((cert_path, key_path))
}

/// `convoy ca init --intermediate`: an issuing CA in `dir` signed by the root in
/// `root_dir` (which can then go offline).
pub fn init_intermediate(
    root_dir: &Path,
    dir: &Path,
    days: u32,
    force: bool,
) -> Result<(PathBuf, PathBuf), PkiError> {
    let root = Ca::load(root_dir)?;
    fs::create_dir_all(dir).map_err(|source| PkiError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    ensure_writable(&[&cert_path, &key_path], force)?;
    let issued = root.intermediate("Convoy issuing CA", Validity::days(days)?)?;
    write_file(&key_path, &issued.key_pem, true, force)?;
    write_file(&cert_path, &issued.cert_pem, false, force)?;
    Ok((cert_path, key_path))
}

/// `convoy cert issue`: writes `out/NAME.pem` and `out/NAME.key`.
pub fn issue_to_dir(
    ca: &Ca,
    identity: &Identity,
    file_stem: &str,
    sans: &[String],
    days: u32,
    out: &Path,
    force: bool,
) -> Result<(PathBuf, PathBuf), PkiError> {
    fs::create_dir_all(out).map_err(|source| PkiError::Write {
        path: out.to_path_buf(),
        source,
    })?;
    let cert_path = out.join(format!("{file_stem}.pem"));
    let key_path = out.join(format!("{file_stem}.key"));
    ensure_writable(&[&cert_path, &key_path], force)?;
    let issued = ca.issue(identity, sans, Validity::days(days)?)?;
    write_file(&key_path, &issued.key_pem, true, force)?;
    write_file(&cert_path, &issued.cert_pem, false, force)?;
    Ok((cert_path, key_path))
}

#[cfg(test)]
mod tests;

//! The new CA a rotation makes (`<data_dir>/ca/ca-<ms>/`, key 0600): self-signed, with a
//! server certificate naming what the current server certificate names.

use std::path::Path;

use convoy_proto::identity::Identity;

use super::{Rotation, RotationError, Side, failed, read};
use crate::pki::{Ca, Validity};

impl Rotation {
    /// A new self-signed CA and a server certificate from it naming what the current
    /// server certificate names, in `<data_dir>/ca/<timestamp>/`.
    pub(super) fn new_ca(&self, current: &Side) -> Result<Side, RotationError> {
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let dir = self.dir.join(format!("ca-{stamp}"));
        crate::server::private_dir(&self.dir).map_err(failed)?;
        crate::server::private_dir(&dir).map_err(failed)?;
        let (ca, issued) = Ca::generate(
            &format!("Convoy fleet CA {stamp}"),
            Validity::days(3650).map_err(failed)?,
        )
        .map_err(failed)?;
        let (identity, sans) = server_names(&read(&current.server_cert)?)?;
        let server = ca
            .issue(&identity, &sans, Validity::days(365).map_err(failed)?)
            .map_err(failed)?;
        let side = Side {
            trust: dir.join("ca.pem"),
            issuer_cert: dir.join("ca.pem"),
            issuer_key: dir.join("ca.key"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        };
        let write = |path: &Path, text: &str, secret| {
            crate::pki::write_file(path, text, secret, false).map_err(failed)
        };
        write(&side.issuer_key, &issued.key_pem, true)?;
        write(&side.issuer_cert, &issued.cert_pem, false)?;
        write(&side.server_key, &server.key_pem, true)?;
        write(&side.server_cert, &server.cert_pem, false)?;
        Ok(side)
    }
}

/// The identity and DNS/IP names of a server certificate (PEM).
fn server_names(pem: &str) -> Result<(Identity, Vec<String>), RotationError> {
    use x509_parser::extensions::GeneralName;
    let (_, parsed) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(failed)?;
    let cert = parsed.parse_x509().map_err(failed)?;
    let identity = Identity::from_cert_der(&parsed.contents).map_err(failed)?;
    let mut sans = Vec::new();
    if let Ok(Some(names)) = cert.subject_alternative_name() {
        for name in &names.value.general_names {
            match name {
                GeneralName::DNSName(dns) => sans.push((*dns).to_string()),
                GeneralName::IPAddress(bytes) => match bytes.len() {
                    4 => sans.push(
                        std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*bytes).map_err(failed)?)
                            .to_string(),
                    ),
                    16 => sans.push(
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*bytes).map_err(failed)?)
                            .to_string(),
                    ),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    Ok((identity, sans))
}

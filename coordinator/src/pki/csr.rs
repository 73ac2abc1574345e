//! Signing an agent's certificate signing request (enrollment): the key was made on the
//! host and never leaves it; the coordinator checks that the request asks for exactly the
//! agent identity it is allowed and nothing more, and builds the certificate from its own
//! parameters (only the public key comes from the request).

use convoy_proto::identity::{AgentId, Identity};
use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, KeyUsagePurpose, SanType,
};
use rustls::pki_types::CertificateSigningRequestDer;

use super::{Ca, Validity};

/// A CSR larger than this is refused unread.
pub const MAX_CSR_BYTES: usize = 4096;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsrError {
    #[error("the CSR is {0} bytes; at most {MAX_CSR_BYTES} are allowed")]
    TooLarge(usize),
    #[error(
        "the CSR is not a valid, self-signed PKCS#10 request with only key usage, extended key usage and SAN extensions (a CA flag is refused): {0}"
    )]
    Invalid(String),
    #[error("the CSR must name exactly one subject alternative name, convoy://agent/{0}")]
    WrongNames(String),
    #[error("the CSR asks for key usages beyond digital signature")]
    KeyUsage,
    #[error("the CSR asks for extended key usages beyond client authentication")]
    ExtendedKeyUsage,
}

/// Checks `der` and returns its public key, ready to be certified for `id`.
pub fn check_agent_csr(
    der: &[u8],
    id: &AgentId,
) -> Result<CertificateSigningRequestParams, CsrError> {
    if der.len() > MAX_CSR_BYTES {
        return Err(CsrError::TooLarge(der.len()));
    }
    // Parsing verifies the request's signature (proof the host holds the key) and refuses
    // every extension but key usage, extended key usage and SANs: a CA flag included.
    let csr = CertificateSigningRequestParams::from_der(&CertificateSigningRequestDer::from(der))
        .map_err(|err| CsrError::Invalid(err.to_string()))?;
    let wanted = Identity::Agent(id.clone()).uri();
    let names_ok = match csr.params.subject_alt_names.as_slice() {
        [] => true,
        [SanType::URI(uri)] => uri.as_str() == wanted,
        _ => false,
    };
    if !names_ok {
        return Err(CsrError::WrongNames(id.to_string()));
    }
    if csr
        .params
        .key_usages
        .iter()
        .any(|usage| *usage != KeyUsagePurpose::DigitalSignature)
    {
        return Err(CsrError::KeyUsage);
    }
    if csr
        .params
        .extended_key_usages
        .iter()
        .any(|usage| *usage != ExtendedKeyUsagePurpose::ClientAuth)
    {
        return Err(CsrError::ExtendedKeyUsage);
    }
    Ok(csr)
}

impl Ca {
    /// Certifies the checked request's key as agent `id` (PEM). Everything but the public
    /// key is the coordinator's choice.
    pub fn sign_agent_csr(
        &self,
        mut csr: CertificateSigningRequestParams,
        id: &AgentId,
        validity: Validity,
    ) -> Result<String, super::PkiError> {
        let identity = Identity::Agent(id.clone());
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, id.to_string());
        dn.push(DnType::OrganizationName, "Convoy");
        params.distinguished_name = dn;
        params.not_before = validity.not_before;
        params.not_after = validity.not_after;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.subject_alt_names = vec![SanType::URI(
            identity
                .uri()
                .try_into()
                .map_err(|_| super::PkiError::InvalidSan(identity.uri()))?,
        )];
        csr.params = params;
        Ok(csr.signed_by(&self.issuer)?.pem())
    }
}

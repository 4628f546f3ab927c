//! X.509 certificates (x509-parser): the public key, validity period and subject country. Trust
//! does not come from here: a certificate is trusted because it came from verified metadata or a
//! configured trust anchor, never because a message carried it.

use super::{CryptoError, PublicKey, pem};
use x509_parser::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    subject: String,
    issuer: String,
    subject_country: Option<String>,
    not_before: i64,
    not_after: i64,
    public_key: PublicKey,
}

impl Certificate {
    pub fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        let (rest, cert) = X509Certificate::from_der(der)
            .map_err(|e| CryptoError::BadCertificate(e.to_string()))?;
        if !rest.is_empty() {
            return Err(CryptoError::BadCertificate("trailing bytes".into()));
        }
        let spki = cert.public_key();
        let public_key = PublicKey::from_spki(spki, spki.raw)?;
        let subject_country = cert
            .subject()
            .iter_country()
            .next()
            .and_then(|c| c.as_str().ok())
            .map(str::to_string);
        Ok(Certificate {
            der: der.to_vec(),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            subject_country,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            public_key,
        })
    }

    /// Every certificate in a PEM file, or one DER certificate.
    pub fn load_all(bytes: &[u8]) -> Result<Vec<Self>, CryptoError> {
        match pem::parse(bytes) {
            Some(blocks) => {
                let certs: Result<Vec<_>, _> = blocks
                    .iter()
                    .filter(|b| b.label == "CERTIFICATE")
                    .map(|b| Self::from_der(&b.der))
                    .collect();
                let certs = certs?;
                if certs.is_empty() {
                    return Err(CryptoError::BadCertificate("no CERTIFICATE block".into()));
                }
                Ok(certs)
            }
            None => Ok(vec![Self::from_der(bytes)?]),
        }
    }

    /// The first certificate in PEM or DER.
    pub fn load(bytes: &[u8]) -> Result<Self, CryptoError> {
        Self::load_all(bytes)?
            .into_iter()
            .next()
            .ok_or_else(|| CryptoError::BadCertificate("no certificate".into()))
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn to_pem(&self) -> String {
        pem::encode("CERTIFICATE", &self.der)
    }

    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn subject_country(&self) -> Option<&str> {
        self.subject_country.as_deref()
    }

    /// Validity as Unix seconds (notBefore, notAfter).
    pub fn validity(&self) -> (i64, i64) {
        (self.not_before, self.not_after)
    }

    /// Whether the certificate is valid at `now` (Unix seconds).
    pub fn check_validity(&self, now: i64) -> Result<(), CryptoError> {
        if now < self.not_before {
            return Err(CryptoError::CertificateNotYetValid);
        }
        if now > self.not_after {
            return Err(CryptoError::CertificateExpired);
        }
        Ok(())
    }
}

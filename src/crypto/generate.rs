//! Key and self-signed certificate generation: `eidas-node keys generate`, the demo's first run,
//! and test fixtures. Keys come from aws-lc-rs; rcgen writes the certificate.

use super::{Certificate, CryptoError, PrivateKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{self as sig, EcdsaKeyPair};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    EcP256,
    EcP384,
    EcP521,
    Rsa3072,
    Rsa4096,
}

impl KeyKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ec-p256" => Some(Self::EcP256),
            "ec-p384" => Some(Self::EcP384),
            "ec-p521" => Some(Self::EcP521),
            "rsa-3072" => Some(Self::Rsa3072),
            "rsa-4096" => Some(Self::Rsa4096),
            _ => None,
        }
    }
}

/// A freshly generated key with a self-signed certificate.
pub struct Generated {
    pub key: PrivateKey,
    pub cert: Certificate,
}

/// Generate a key and a self-signed certificate for `common_name` in `country`, valid for
/// `valid_days` from `not_before` (Unix seconds).
pub fn generate(
    kind: KeyKind,
    common_name: &str,
    country: &str,
    not_before: i64,
    valid_days: u32,
) -> Result<Generated, CryptoError> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8: Vec<u8> = match kind {
        KeyKind::EcP256 | KeyKind::EcP384 | KeyKind::EcP521 => {
            let alg = match kind {
                KeyKind::EcP256 => &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
                KeyKind::EcP384 => &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
                _ => &sig::ECDSA_P521_SHA512_ASN1_SIGNING,
            };
            EcdsaKeyPair::generate_pkcs8(alg, &rng)
                .map_err(|_| CryptoError::Rng)?
                .as_ref()
                .to_vec()
        }
        KeyKind::Rsa3072 | KeyKind::Rsa4096 => {
            let size = if kind == KeyKind::Rsa3072 {
                aws_lc_rs::rsa::KeySize::Rsa3072
            } else {
                aws_lc_rs::rsa::KeySize::Rsa4096
            };
            let pair = sig::RsaKeyPair::generate(size).map_err(|_| CryptoError::Rng)?;
            AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
                .map_err(|_| CryptoError::Rng)?
                .as_ref()
                .to_vec()
        }
    };
    let key = PrivateKey::from_der(&pkcs8)?;
    let cert = self_signed(&key, common_name, country, not_before, valid_days)?;
    Ok(Generated { key, cert })
}

/// A self-signed certificate for an existing key.
pub fn self_signed(
    key: &PrivateKey,
    common_name: &str,
    country: &str,
    not_before: i64,
    valid_days: u32,
) -> Result<Certificate, CryptoError> {
    let cert_err = |e: rcgen::Error| CryptoError::BadCertificate(format!("generating: {e}"));
    let sig_alg = match key {
        PrivateKey::Rsa { .. } => &rcgen::PKCS_RSA_SHA256,
        PrivateKey::Ec { curve, .. } => match curve {
            super::Curve::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            super::Curve::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            _ => &rcgen::PKCS_ECDSA_P521_SHA512,
        },
    };
    let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &rustls_pki_types::PrivatePkcs8KeyDer::from(key.pkcs8_der().to_vec()),
        sig_alg,
    )
    .map_err(cert_err)?;
    let mut params = rcgen::CertificateParams::default();
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CountryName, country);
    dn.push(rcgen::DnType::CommonName, common_name);
    params.distinguished_name = dn;
    let start = time::OffsetDateTime::from_unix_timestamp(not_before)
        .map_err(|_| CryptoError::BadCertificate("not_before out of range".into()))?;
    params.not_before = start;
    params.not_after = start + time::Duration::days(i64::from(valid_days));
    let mut serial = [0u8; 16];
    aws_lc_rs::rand::fill(&mut serial).map_err(|_| CryptoError::Rng)?;
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    // One key may both sign and receive encrypted assertions; EC keys receive by key agreement.
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        match key {
            PrivateKey::Rsa { .. } => rcgen::KeyUsagePurpose::KeyEncipherment,
            PrivateKey::Ec { .. } => rcgen::KeyUsagePurpose::KeyAgreement,
        },
    ];
    let cert = params.self_signed(&pair).map_err(cert_err)?;
    Certificate::from_der(cert.der())
}

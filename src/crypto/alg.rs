//! The eIDAS algorithm allow-list, in one place (eidas.md §3). Every algorithm URI a message may
//! name is looked up here; anything unknown or forbidden is refused before any cryptography runs.
//! A legacy algorithm (RSA PKCS#1 v1.5 signatures) is recognised but only usable when the caller
//! passes an explicit allowance, which a per-peer compatibility setting names.

use super::CryptoError;

pub mod uri {
    pub const RSA_PSS_SHA256: &str = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1";
    pub const RSA_PSS_SHA384: &str = "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1";
    pub const RSA_PSS_SHA512: &str = "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1";
    pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    pub const ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";
    pub const ECDSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512";
    pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
    pub const RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
    pub const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";

    pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
    pub const SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
    pub const SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
    pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

    pub const AES128_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes128-gcm";
    pub const AES192_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes192-gcm";
    pub const AES256_GCM: &str = "http://www.w3.org/2009/xmlenc11#aes256-gcm";

    pub const RSA_OAEP: &str = "http://www.w3.org/2009/xmlenc11#rsa-oaep";
    pub const RSA_OAEP_MGF1P: &str = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p";
    pub const MGF1_SHA1: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha1";
    pub const MGF1_SHA256: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha256";
    pub const MGF1_SHA384: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha384";
    pub const MGF1_SHA512: &str = "http://www.w3.org/2009/xmlenc11#mgf1sha512";

    pub const ECDH_ES: &str = "http://www.w3.org/2009/xmlenc11#ECDH-ES";
    pub const CONCAT_KDF: &str = "http://www.w3.org/2009/xmlenc11#ConcatKDF";
    pub const KW_AES128: &str = "http://www.w3.org/2001/04/xmlenc#kw-aes128";
    pub const KW_AES256: &str = "http://www.w3.org/2001/04/xmlenc#kw-aes256";

    /// Recognised only to name them in a refusal.
    pub const FORBIDDEN: &[(&str, &str)] = &[
        (
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            "RSA PKCS#1 v1.5 with SHA-1",
        ),
        ("http://www.w3.org/2000/09/xmldsig#dsa-sha1", "DSA"),
        (
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
            "ECDSA with SHA-1",
        ),
        (
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha224",
            "ECDSA with SHA-224",
        ),
        (
            "http://www.w3.org/2007/05/xmldsig-more#sha224-rsa-MGF1",
            "RSASSA-PSS with SHA-224",
        ),
        ("http://www.w3.org/2000/09/xmldsig#hmac-sha1", "HMAC"),
        ("http://www.w3.org/2001/04/xmldsig-more#hmac-sha256", "HMAC"),
        ("http://www.w3.org/2000/09/xmldsig#sha1", "SHA-1 digest"),
        (
            "http://www.w3.org/2001/04/xmldsig-more#sha224",
            "SHA-224 digest",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#ripemd160",
            "RIPEMD-160 digest",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            "AES-CBC content encryption",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
            "AES-CBC content encryption",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
            "AES-CBC content encryption",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#tripledes-cbc",
            "3DES-CBC content encryption",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#rsa-1_5",
            "RSAES-PKCS1-v1_5 key transport",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#kw-aes192",
            "AES-192 key wrap",
        ),
        (
            "http://www.w3.org/2001/04/xmlenc#kw-tripledes",
            "3DES key wrap",
        ),
    ];
}

/// Why an algorithm URI was refused.
pub fn refuse(uri: &str) -> CryptoError {
    match uri::FORBIDDEN.iter().find(|(u, _)| *u == uri) {
        Some((_, what)) => CryptoError::ForbiddenAlgorithm {
            uri: uri.to_string(),
            what: (*what).to_string(),
        },
        None => CryptoError::UnknownAlgorithm(uri.to_string()),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

impl DigestAlgorithm {
    pub fn from_uri(u: &str) -> Result<Self, CryptoError> {
        match u {
            uri::SHA256 => Ok(Self::Sha256),
            uri::SHA384 => Ok(Self::Sha384),
            uri::SHA512 => Ok(Self::Sha512),
            _ => Err(refuse(u)),
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha256 => uri::SHA256,
            Self::Sha384 => uri::SHA384,
            Self::Sha512 => uri::SHA512,
        }
    }

    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        aws_lc_rs::digest::digest(self.aws(), data)
            .as_ref()
            .to_vec()
    }

    pub(crate) fn aws(self) -> &'static aws_lc_rs::digest::Algorithm {
        match self {
            Self::Sha256 => &aws_lc_rs::digest::SHA256,
            Self::Sha384 => &aws_lc_rs::digest::SHA384,
            Self::Sha512 => &aws_lc_rs::digest::SHA512,
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    RsaPss(DigestAlgorithm),
    Ecdsa(DigestAlgorithm),
    /// RSA PKCS#1 v1.5: not in the eIDAS profile; verified only under an explicit legacy allowance,
    /// never produced.
    RsaPkcs1Legacy(DigestAlgorithm),
}

impl SignatureAlgorithm {
    /// Look up a signature algorithm URI. `allow_legacy` admits RSA PKCS#1 v1.5.
    pub fn from_uri(u: &str, allow_legacy: bool) -> Result<Self, CryptoError> {
        use DigestAlgorithm::*;
        let alg = match u {
            uri::RSA_PSS_SHA256 => Self::RsaPss(Sha256),
            uri::RSA_PSS_SHA384 => Self::RsaPss(Sha384),
            uri::RSA_PSS_SHA512 => Self::RsaPss(Sha512),
            uri::ECDSA_SHA256 => Self::Ecdsa(Sha256),
            uri::ECDSA_SHA384 => Self::Ecdsa(Sha384),
            uri::ECDSA_SHA512 => Self::Ecdsa(Sha512),
            uri::RSA_SHA256 => Self::RsaPkcs1Legacy(Sha256),
            uri::RSA_SHA384 => Self::RsaPkcs1Legacy(Sha384),
            uri::RSA_SHA512 => Self::RsaPkcs1Legacy(Sha512),
            _ => return Err(refuse(u)),
        };
        if alg.is_legacy() && !allow_legacy {
            return Err(CryptoError::LegacyAlgorithm(u.to_string()));
        }
        Ok(alg)
    }

    pub fn uri(self) -> &'static str {
        use DigestAlgorithm::*;
        match self {
            Self::RsaPss(Sha256) => uri::RSA_PSS_SHA256,
            Self::RsaPss(Sha384) => uri::RSA_PSS_SHA384,
            Self::RsaPss(Sha512) => uri::RSA_PSS_SHA512,
            Self::Ecdsa(Sha256) => uri::ECDSA_SHA256,
            Self::Ecdsa(Sha384) => uri::ECDSA_SHA384,
            Self::Ecdsa(Sha512) => uri::ECDSA_SHA512,
            Self::RsaPkcs1Legacy(Sha256) => uri::RSA_SHA256,
            Self::RsaPkcs1Legacy(Sha384) => uri::RSA_SHA384,
            Self::RsaPkcs1Legacy(Sha512) => uri::RSA_SHA512,
        }
    }

    pub fn is_legacy(self) -> bool {
        matches!(self, Self::RsaPkcs1Legacy(_))
    }

    pub fn digest(self) -> DigestAlgorithm {
        match self {
            Self::RsaPss(d) | Self::Ecdsa(d) | Self::RsaPkcs1Legacy(d) => d,
        }
    }

    pub fn is_rsa(self) -> bool {
        !matches!(self, Self::Ecdsa(_))
    }
}

/// Content encryption: AES-GCM only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentEncryption {
    Aes128Gcm,
    Aes192Gcm,
    Aes256Gcm,
}

impl ContentEncryption {
    pub fn from_uri(u: &str) -> Result<Self, CryptoError> {
        match u {
            uri::AES128_GCM => Ok(Self::Aes128Gcm),
            uri::AES192_GCM => Ok(Self::Aes192Gcm),
            uri::AES256_GCM => Ok(Self::Aes256Gcm),
            _ => Err(refuse(u)),
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::Aes128Gcm => uri::AES128_GCM,
            Self::Aes192Gcm => uri::AES192_GCM,
            Self::Aes256Gcm => uri::AES256_GCM,
        }
    }

    pub fn key_len(self) -> usize {
        match self {
            Self::Aes128Gcm => 16,
            Self::Aes192Gcm => 24,
            Self::Aes256Gcm => 32,
        }
    }
}

/// Mask generation for RSA-OAEP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mgf1 {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Mgf1 {
    pub fn from_uri(u: &str) -> Result<Self, CryptoError> {
        match u {
            uri::MGF1_SHA1 => Ok(Self::Sha1),
            uri::MGF1_SHA256 => Ok(Self::Sha256),
            uri::MGF1_SHA384 => Ok(Self::Sha384),
            uri::MGF1_SHA512 => Ok(Self::Sha512),
            _ => Err(refuse(u)),
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha1 => uri::MGF1_SHA1,
            Self::Sha256 => uri::MGF1_SHA256,
            Self::Sha384 => uri::MGF1_SHA384,
            Self::Sha512 => uri::MGF1_SHA512,
        }
    }
}

/// The OAEP digest. SHA-1 is allowed here only as the OAEP hash (it is the default of
/// rsa-oaep-mgf1p and real peers send it); it is never a signature or reference digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OaepDigest {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl OaepDigest {
    pub fn from_uri(u: &str) -> Result<Self, CryptoError> {
        match u {
            uri::SHA1 => Ok(Self::Sha1),
            uri::SHA256 => Ok(Self::Sha256),
            uri::SHA384 => Ok(Self::Sha384),
            uri::SHA512 => Ok(Self::Sha512),
            _ => Err(refuse(u)),
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::Sha1 => uri::SHA1,
            Self::Sha256 => uri::SHA256,
            Self::Sha384 => uri::SHA384,
            Self::Sha512 => uri::SHA512,
        }
    }
}

/// RSA-OAEP parameters as a message states them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OaepParams {
    pub digest: OaepDigest,
    pub mgf: Mgf1,
    pub label: Option<Vec<u8>>,
}

/// AES key wrap after ECDH-ES (kw-aes192 is outside the profile).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyWrap {
    Aes128,
    Aes256,
}

impl KeyWrap {
    pub fn from_uri(u: &str) -> Result<Self, CryptoError> {
        match u {
            uri::KW_AES128 => Ok(Self::Aes128),
            uri::KW_AES256 => Ok(Self::Aes256),
            _ => Err(refuse(u)),
        }
    }

    pub fn uri(self) -> &'static str {
        match self {
            Self::Aes128 => uri::KW_AES128,
            Self::Aes256 => uri::KW_AES256,
        }
    }

    pub fn key_len(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes256 => 32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_forbidden_algorithms_by_name() {
        for (u, _) in uri::FORBIDDEN {
            let refused = SignatureAlgorithm::from_uri(u, true).is_err()
                && DigestAlgorithm::from_uri(u).is_err()
                && ContentEncryption::from_uri(u).is_err()
                && KeyWrap::from_uri(u).is_err();
            assert!(refused, "{u} must be refused everywhere");
            assert!(matches!(refuse(u), CryptoError::ForbiddenAlgorithm { .. }));
        }
    }

    #[test]
    fn rsa_pkcs1_needs_explicit_legacy_allowance() {
        assert!(matches!(
            SignatureAlgorithm::from_uri(uri::RSA_SHA256, false),
            Err(CryptoError::LegacyAlgorithm(_))
        ));
        assert_eq!(
            SignatureAlgorithm::from_uri(uri::RSA_SHA256, true).unwrap(),
            SignatureAlgorithm::RsaPkcs1Legacy(DigestAlgorithm::Sha256)
        );
    }

    #[test]
    fn every_allowed_signature_uri_round_trips() {
        for u in [
            uri::RSA_PSS_SHA256,
            uri::RSA_PSS_SHA384,
            uri::RSA_PSS_SHA512,
            uri::ECDSA_SHA256,
            uri::ECDSA_SHA384,
            uri::ECDSA_SHA512,
        ] {
            assert_eq!(SignatureAlgorithm::from_uri(u, false).unwrap().uri(), u);
        }
    }
}

//! Public and private keys: loading (PEM or DER; PKCS#8, PKCS#1, SEC1, SubjectPublicKeyInfo,
//! X.509), the eIDAS key-size policy, and the raw signature and key-agreement operations on
//! aws-lc-rs. Brainpool public keys verify through RustCrypto (aws-lc-rs has no Brainpool curves);
//! they are never used for our own keys.

use super::alg::{DigestAlgorithm, SignatureAlgorithm};
use super::{CryptoError, pem};
use aws_lc_rs::signature::{self as sig, KeyPair as _};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as ParsedKey;
use x509_parser::x509::SubjectPublicKeyInfo;

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
const OID_EC: &str = "1.2.840.10045.2.1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
    BrainpoolP256r1,
    BrainpoolP384r1,
}

impl Curve {
    pub fn from_oid(oid: &str) -> Option<Curve> {
        match oid {
            "1.2.840.10045.3.1.7" => Some(Curve::P256),
            "1.3.132.0.34" => Some(Curve::P384),
            "1.3.132.0.35" => Some(Curve::P521),
            "1.3.36.3.3.2.8.1.1.7" => Some(Curve::BrainpoolP256r1),
            "1.3.36.3.3.2.8.1.1.11" => Some(Curve::BrainpoolP384r1),
            _ => None,
        }
    }

    pub fn oid(self) -> &'static str {
        match self {
            Curve::P256 => "1.2.840.10045.3.1.7",
            Curve::P384 => "1.3.132.0.34",
            Curve::P521 => "1.3.132.0.35",
            Curve::BrainpoolP256r1 => "1.3.36.3.3.2.8.1.1.7",
            Curve::BrainpoolP384r1 => "1.3.36.3.3.2.8.1.1.11",
        }
    }

    pub fn bits(self) -> usize {
        match self {
            Curve::P256 | Curve::BrainpoolP256r1 => 256,
            Curve::P384 | Curve::BrainpoolP384r1 => 384,
            Curve::P521 => 521,
        }
    }

    /// Size of one coordinate (and of r and s) in bytes.
    pub fn field_len(self) -> usize {
        self.bits().div_ceil(8)
    }

    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::BrainpoolP256r1 => "brainpoolP256r1",
            Curve::BrainpoolP384r1 => "brainpoolP384r1",
        }
    }

    fn agreement(self) -> Option<&'static aws_lc_rs::agreement::Algorithm> {
        match self {
            Curve::P256 => Some(&aws_lc_rs::agreement::ECDH_P256),
            Curve::P384 => Some(&aws_lc_rs::agreement::ECDH_P384),
            Curve::P521 => Some(&aws_lc_rs::agreement::ECDH_P521),
            _ => None,
        }
    }
}

/// Key-size rules: eIDAS minimums for peers' and our own configured keys; operator tools may
/// accept smaller keys with a warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyPolicy {
    pub min_rsa_bits: usize,
    pub min_ec_bits: usize,
}

impl KeyPolicy {
    pub const EIDAS: KeyPolicy = KeyPolicy {
        min_rsa_bits: 3072,
        min_ec_bits: 256,
    };
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PublicKey {
    Rsa {
        /// SubjectPublicKeyInfo DER.
        spki: Vec<u8>,
        /// RSAPublicKey (PKCS#1) DER, what the verifier takes.
        pkcs1: Vec<u8>,
        bits: usize,
    },
    Ec {
        curve: Curve,
        /// Uncompressed SEC1 point.
        point: Vec<u8>,
        spki: Vec<u8>,
    },
}

impl PublicKey {
    /// From SubjectPublicKeyInfo DER.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, CryptoError> {
        let (_, spki) = SubjectPublicKeyInfo::from_der(der)
            .map_err(|e| CryptoError::BadKey(format!("SubjectPublicKeyInfo: {e}")))?;
        Self::from_spki(&spki, der)
    }

    pub(crate) fn from_spki(
        spki: &SubjectPublicKeyInfo<'_>,
        der: &[u8],
    ) -> Result<Self, CryptoError> {
        let oid = spki.algorithm.algorithm.to_id_string();
        match oid.as_str() {
            OID_RSA | OID_RSA_PSS => {
                let bits = match spki.parsed() {
                    Ok(ParsedKey::RSA(rsa)) => rsa.key_size(),
                    _ => return Err(CryptoError::BadKey("RSA public key".into())),
                };
                Ok(PublicKey::Rsa {
                    spki: der.to_vec(),
                    pkcs1: spki.subject_public_key.data.to_vec(),
                    bits,
                })
            }
            OID_EC => {
                let curve_oid = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string())
                    .ok_or_else(|| CryptoError::BadKey("EC key without a named curve".into()))?;
                let curve = Curve::from_oid(&curve_oid)
                    .ok_or_else(|| CryptoError::UnsupportedKey(format!("curve {curve_oid}")))?;
                let point = spki.subject_public_key.data.to_vec();
                if point.len() != 1 + 2 * curve.field_len() || point.first() != Some(&4) {
                    return Err(CryptoError::BadKey("EC point is not uncompressed".into()));
                }
                Ok(PublicKey::Ec {
                    curve,
                    point,
                    spki: der.to_vec(),
                })
            }
            other => Err(CryptoError::UnsupportedKey(format!(
                "key algorithm {other}"
            ))),
        }
    }

    /// From an EC point on a named curve (as in a `dsig11:ECKeyValue`).
    pub fn from_ec_point(curve: Curve, point: &[u8]) -> Result<Self, CryptoError> {
        if point.len() != 1 + 2 * curve.field_len() || point.first() != Some(&4) {
            return Err(CryptoError::BadKey("EC point is not uncompressed".into()));
        }
        let spki = super::der::ec_spki(curve.oid(), point);
        Ok(PublicKey::Ec {
            curve,
            point: point.to_vec(),
            spki,
        })
    }

    /// A public key from PEM or DER: a certificate, or a SubjectPublicKeyInfo.
    pub fn load(bytes: &[u8]) -> Result<Self, CryptoError> {
        if let Some(blocks) = pem::parse(bytes) {
            for b in &blocks {
                match b.label.as_str() {
                    "CERTIFICATE" => {
                        return Ok(super::Certificate::from_der(&b.der)?.public_key().clone());
                    }
                    "PUBLIC KEY" => return Self::from_spki_der(&b.der),
                    _ => {}
                }
            }
            return Err(CryptoError::BadKey(
                "no CERTIFICATE or PUBLIC KEY block in PEM".into(),
            ));
        }
        match super::Certificate::from_der(bytes) {
            Ok(c) => Ok(c.public_key().clone()),
            Err(_) => Self::from_spki_der(bytes),
        }
    }

    pub fn bits(&self) -> usize {
        match self {
            PublicKey::Rsa { bits, .. } => *bits,
            PublicKey::Ec { curve, .. } => curve.bits(),
        }
    }

    pub fn spki_der(&self) -> &[u8] {
        match self {
            PublicKey::Rsa { spki, .. } | PublicKey::Ec { spki, .. } => spki,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            PublicKey::Rsa { bits, .. } => format!("RSA-{bits}"),
            PublicKey::Ec { curve, .. } => format!("EC {}", curve.name()),
        }
    }

    /// Check the eIDAS key-size rules.
    pub fn check_policy(&self, policy: &KeyPolicy) -> Result<(), CryptoError> {
        let (bits, min) = match self {
            PublicKey::Rsa { bits, .. } => (*bits, policy.min_rsa_bits),
            PublicKey::Ec { curve, .. } => (curve.bits(), policy.min_ec_bits),
        };
        if bits < min {
            return Err(CryptoError::WeakKey {
                key: self.describe(),
                minimum: min,
            });
        }
        Ok(())
    }

    /// Verify a signature as XML-DSig encodes it (ECDSA as r‖s).
    pub fn verify(
        &self,
        alg: SignatureAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        match (self, alg) {
            (PublicKey::Rsa { pkcs1, .. }, SignatureAlgorithm::RsaPss(d)) => {
                let params = match d {
                    DigestAlgorithm::Sha256 => &sig::RSA_PSS_2048_8192_SHA256,
                    DigestAlgorithm::Sha384 => &sig::RSA_PSS_2048_8192_SHA384,
                    DigestAlgorithm::Sha512 => &sig::RSA_PSS_2048_8192_SHA512,
                };
                sig::UnparsedPublicKey::new(params, pkcs1)
                    .verify(message, signature)
                    .map_err(|_| CryptoError::BadSignature)
            }
            (PublicKey::Rsa { pkcs1, .. }, SignatureAlgorithm::RsaPkcs1Legacy(d)) => {
                let params = match d {
                    DigestAlgorithm::Sha256 => &sig::RSA_PKCS1_2048_8192_SHA256,
                    DigestAlgorithm::Sha384 => &sig::RSA_PKCS1_2048_8192_SHA384,
                    DigestAlgorithm::Sha512 => &sig::RSA_PKCS1_2048_8192_SHA512,
                };
                sig::UnparsedPublicKey::new(params, pkcs1)
                    .verify(message, signature)
                    .map_err(|_| CryptoError::BadSignature)
            }
            (PublicKey::Ec { curve, point, .. }, SignatureAlgorithm::Ecdsa(d)) => {
                verify_ecdsa_fixed(*curve, point, d, message, signature)
            }
            _ => Err(CryptoError::KeyAlgorithmMismatch {
                key: self.describe(),
                algorithm: alg.uri().to_string(),
            }),
        }
    }

    /// Verify an ECDSA signature that may be r‖s or DER (the Redirect binding: OpenSAML puts DER
    /// there, XML-DSig 1.1 peers r‖s). Other algorithms as [`PublicKey::verify`].
    pub fn verify_detached(
        &self,
        alg: SignatureAlgorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        if let PublicKey::Ec { curve, .. } = self
            && signature.len() != 2 * curve.field_len()
            && let Some(rs) = super::der::ecdsa_der_to_fixed(signature, curve.field_len())
        {
            return self.verify(alg, message, &rs);
        }
        self.verify(alg, message, signature)
    }
}

fn verify_ecdsa_fixed(
    curve: Curve,
    point: &[u8],
    d: DigestAlgorithm,
    message: &[u8],
    rs: &[u8],
) -> Result<(), CryptoError> {
    use DigestAlgorithm::*;
    if rs.len() != 2 * curve.field_len() {
        return Err(CryptoError::BadSignature);
    }
    // aws-lc-rs has r‖s verifiers for the matching curve/hash pairs and for P-521 with any hash;
    // the cross pairs exist only DER-encoded, so convert r‖s to DER for those.
    let fixed: Option<&'static sig::EcdsaVerificationAlgorithm> = match (curve, d) {
        (Curve::P256, Sha256) => Some(&sig::ECDSA_P256_SHA256_FIXED),
        (Curve::P384, Sha384) => Some(&sig::ECDSA_P384_SHA384_FIXED),
        (Curve::P521, Sha256) => Some(&sig::ECDSA_P521_SHA256_FIXED),
        (Curve::P521, Sha384) => Some(&sig::ECDSA_P521_SHA384_FIXED),
        (Curve::P521, Sha512) => Some(&sig::ECDSA_P521_SHA512_FIXED),
        _ => None,
    };
    if let Some(alg) = fixed {
        return sig::UnparsedPublicKey::new(alg, point)
            .verify(message, rs)
            .map_err(|_| CryptoError::BadSignature);
    }
    let asn1: Option<&'static sig::EcdsaVerificationAlgorithm> = match (curve, d) {
        (Curve::P256, Sha384) => Some(&sig::ECDSA_P256_SHA384_ASN1),
        (Curve::P256, Sha512) => Some(&sig::ECDSA_P256_SHA512_ASN1),
        (Curve::P384, Sha256) => Some(&sig::ECDSA_P384_SHA256_ASN1),
        (Curve::P384, Sha512) => Some(&sig::ECDSA_P384_SHA512_ASN1),
        _ => None,
    };
    if let Some(alg) = asn1 {
        let der = super::der::ecdsa_fixed_to_der(rs);
        return sig::UnparsedPublicKey::new(alg, point)
            .verify(message, &der)
            .map_err(|_| CryptoError::BadSignature);
    }
    verify_brainpool(curve, point, d, message, rs)
}

/// Brainpool ECDSA verification (public-key operation only) with RustCrypto, over a digest we
/// compute, so that any hash may go with either curve.
fn verify_brainpool(
    curve: Curve,
    point: &[u8],
    d: DigestAlgorithm,
    message: &[u8],
    rs: &[u8],
) -> Result<(), CryptoError> {
    use ecdsa::signature::hazmat::PrehashVerifier;
    let digest = d.digest(message);
    let ok = match curve {
        Curve::BrainpoolP256r1 => {
            let key = ecdsa::VerifyingKey::<bp256::BrainpoolP256r1>::from_sec1_bytes(point)
                .map_err(|_| CryptoError::BadKey("brainpoolP256r1 point".into()))?;
            let s = ecdsa::Signature::<bp256::BrainpoolP256r1>::from_slice(rs)
                .map_err(|_| CryptoError::BadSignature)?;
            key.verify_prehash(&digest, &s).is_ok()
        }
        Curve::BrainpoolP384r1 => {
            let key = ecdsa::VerifyingKey::<bp384::BrainpoolP384r1>::from_sec1_bytes(point)
                .map_err(|_| CryptoError::BadKey("brainpoolP384r1 point".into()))?;
            let s = ecdsa::Signature::<bp384::BrainpoolP384r1>::from_slice(rs)
                .map_err(|_| CryptoError::BadSignature)?;
            key.verify_prehash(&digest, &s).is_ok()
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(CryptoError::BadSignature)
    }
}

/// A private key of ours: RSA (sign with PSS, decrypt OAEP) or EC on a NIST curve (sign with
/// ECDSA, ECDH-ES key agreement).
pub enum PrivateKey {
    Rsa {
        pkcs8: Vec<u8>,
        pair: sig::RsaKeyPair,
        /// Parsed once: aws-lc checks an RSA key when it loads it, which costs as much as a
        /// private-key operation.
        decrypting: aws_lc_rs::rsa::PrivateDecryptingKey,
        public: PublicKey,
    },
    Ec {
        curve: Curve,
        pkcs8: Vec<u8>,
        agreement: Option<aws_lc_rs::agreement::PrivateKey>,
        public: PublicKey,
    },
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({})", self.public_key().describe())
    }
}

impl PrivateKey {
    /// Load from PEM (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`) or DER (PKCS#8, PKCS#1
    /// or SEC1, detected).
    pub fn load(bytes: &[u8]) -> Result<Self, CryptoError> {
        if let Some(blocks) = pem::parse(bytes) {
            let b = blocks
                .iter()
                .find(|b| b.label.ends_with("PRIVATE KEY"))
                .ok_or_else(|| CryptoError::BadKey("no PRIVATE KEY block in PEM".into()))?;
            if b.label == "ENCRYPTED PRIVATE KEY" {
                return Err(CryptoError::UnsupportedKey("encrypted private keys".into()));
            }
            return Self::from_der(&b.der);
        }
        Self::from_der(bytes)
    }

    pub fn from_der(der: &[u8]) -> Result<Self, CryptoError> {
        if let Ok(pair) = sig::RsaKeyPair::from_pkcs8(der) {
            return Self::rsa(der.to_vec(), pair);
        }
        for (curve, alg) in [
            (Curve::P256, &sig::ECDSA_P256_SHA256_FIXED_SIGNING),
            (Curve::P384, &sig::ECDSA_P384_SHA384_FIXED_SIGNING),
            (Curve::P521, &sig::ECDSA_P521_SHA512_FIXED_SIGNING),
        ] {
            if let Ok(pair) = sig::EcdsaKeyPair::from_private_key_der(alg, der) {
                let pkcs8 = pair
                    .to_pkcs8v1()
                    .map_err(|_| CryptoError::BadKey("EC key to PKCS#8".into()))?
                    .as_ref()
                    .to_vec();
                let public = PublicKey::from_ec_point(curve, pair.public_key().as_ref())?;
                let agreement = curve.agreement().and_then(|alg| {
                    aws_lc_rs::agreement::PrivateKey::from_private_key_der(alg, &pkcs8).ok()
                });
                return Ok(PrivateKey::Ec {
                    curve,
                    pkcs8,
                    agreement,
                    public,
                });
            }
        }
        if let Ok(pair) = sig::RsaKeyPair::from_der(der) {
            return Self::rsa(super::der::rsa_pkcs1_to_pkcs8(der), pair);
        }
        // Brainpool curve OIDs (1.3.36.3.3.2.8.1.1.x) in the key: say so plainly.
        if der.windows(10).any(|w| {
            w[..9] == [0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01] && w[9] == 0x01
        }) {
            return Err(CryptoError::UnsupportedKey(
                "Brainpool private keys: eidas-node's own keys are on NIST curves (Brainpool is only verified)".into(),
            ));
        }
        Err(CryptoError::BadKey(
            "not an RSA or EC (P-256/384/521) private key in PKCS#8, PKCS#1 or SEC1 form".into(),
        ))
    }

    fn rsa(pkcs8: Vec<u8>, pair: sig::RsaKeyPair) -> Result<Self, CryptoError> {
        let spki = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::PublicKeyX509Der>::as_der(
            pair.public_key(),
        )
        .map_err(|_| CryptoError::BadKey("RSA public key".into()))?;
        let public = PublicKey::from_spki_der(spki.as_ref())?;
        let decrypting = aws_lc_rs::rsa::PrivateDecryptingKey::from_pkcs8(&pkcs8)
            .map_err(|_| CryptoError::BadKey("RSA private key".into()))?;
        Ok(PrivateKey::Rsa {
            pkcs8,
            pair,
            decrypting,
            public,
        })
    }

    pub fn public_key(&self) -> &PublicKey {
        match self {
            PrivateKey::Rsa { public, .. } | PrivateKey::Ec { public, .. } => public,
        }
    }

    pub fn pkcs8_der(&self) -> &[u8] {
        match self {
            PrivateKey::Rsa { pkcs8, .. } | PrivateKey::Ec { pkcs8, .. } => pkcs8,
        }
    }

    pub fn pkcs8_pem(&self) -> String {
        pem::encode("PRIVATE KEY", self.pkcs8_der())
    }

    /// The eIDAS algorithm we sign with by default for this key.
    pub fn default_signature_algorithm(&self) -> SignatureAlgorithm {
        match self {
            PrivateKey::Rsa { .. } => SignatureAlgorithm::RsaPss(DigestAlgorithm::Sha256),
            PrivateKey::Ec { curve, .. } => SignatureAlgorithm::Ecdsa(match curve {
                Curve::P384 => DigestAlgorithm::Sha384,
                Curve::P521 => DigestAlgorithm::Sha512,
                _ => DigestAlgorithm::Sha256,
            }),
        }
    }

    /// RSA-OAEP decryption of a transported key.
    pub fn decrypt_oaep(
        &self,
        params: &super::alg::OaepParams,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        match self {
            PrivateKey::Rsa {
                pkcs8, decrypting, ..
            } => super::oaep::decrypt(decrypting, pkcs8, params, ciphertext),
            PrivateKey::Ec { .. } => Err(CryptoError::KeyAlgorithmMismatch {
                key: self.public_key().describe(),
                algorithm: "RSA-OAEP".into(),
            }),
        }
    }

    /// ECDH shared secret (the x coordinate) with a peer's public key on the same curve.
    pub fn ecdh(&self, peer: &PublicKey) -> Result<Vec<u8>, CryptoError> {
        let (
            PrivateKey::Ec {
                curve, agreement, ..
            },
            PublicKey::Ec {
                curve: pc, point, ..
            },
        ) = (self, peer)
        else {
            return Err(CryptoError::KeyAlgorithmMismatch {
                key: self.public_key().describe(),
                algorithm: "ECDH-ES".into(),
            });
        };
        if curve != pc {
            return Err(CryptoError::KeyAlgorithmMismatch {
                key: self.public_key().describe(),
                algorithm: format!("ECDH-ES with a {} key", pc.name()),
            });
        }
        let alg = curve
            .agreement()
            .ok_or_else(|| CryptoError::UnsupportedKey(curve.name().into()))?;
        let key = agreement
            .as_ref()
            .ok_or_else(|| CryptoError::BadKey("EC private key".into()))?;
        ecdh_raw(key, alg, point)
    }
}

pub(crate) fn ecdh_raw(
    key: &aws_lc_rs::agreement::PrivateKey,
    alg: &'static aws_lc_rs::agreement::Algorithm,
    peer_point: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let peer = aws_lc_rs::agreement::UnparsedPublicKey::new(alg, peer_point);
    aws_lc_rs::agreement::agree(key, peer, CryptoError::KeyAgreement, |z| Ok(z.to_vec()))
}

/// Fresh ephemeral ECDH: returns (our ephemeral public point, shared secret).
pub fn ecdh_ephemeral(peer: &PublicKey) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let PublicKey::Ec { curve, point, .. } = peer else {
        return Err(CryptoError::KeyAlgorithmMismatch {
            key: peer.describe(),
            algorithm: "ECDH-ES".into(),
        });
    };
    let alg = curve
        .agreement()
        .ok_or_else(|| CryptoError::UnsupportedKey(format!("ECDH-ES on {}", curve.name())))?;
    let eph = aws_lc_rs::agreement::PrivateKey::generate(alg).map_err(|_| CryptoError::Rng)?;
    let eph_pub = eph
        .compute_public_key()
        .map_err(|_| CryptoError::Rng)?
        .as_ref()
        .to_vec();
    let z = ecdh_raw(&eph, alg, point)?;
    Ok((eph_pub, z))
}

/// Sign with a software key (XML-DSig encoding: ECDSA as r‖s).
pub(crate) fn sign_with(
    key: &PrivateKey,
    alg: SignatureAlgorithm,
    message: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    match (key, alg) {
        (PrivateKey::Rsa { pair, .. }, SignatureAlgorithm::RsaPss(d)) => {
            let enc: &'static dyn sig::RsaEncoding = match d {
                DigestAlgorithm::Sha256 => &sig::RSA_PSS_SHA256,
                DigestAlgorithm::Sha384 => &sig::RSA_PSS_SHA384,
                DigestAlgorithm::Sha512 => &sig::RSA_PSS_SHA512,
            };
            let mut out = vec![0u8; pair.public_modulus_len()];
            pair.sign(enc, &rng, message, &mut out)
                .map_err(|_| CryptoError::SigningFailed)?;
            Ok(out)
        }
        (PrivateKey::Ec { curve, pkcs8, .. }, SignatureAlgorithm::Ecdsa(d)) => {
            let signing = ecdsa_signing_alg(*curve, d)?;
            let pair = sig::EcdsaKeyPair::from_pkcs8(signing, pkcs8)
                .map_err(|_| CryptoError::BadKey("EC private key".into()))?;
            let s = pair
                .sign(&rng, message)
                .map_err(|_| CryptoError::SigningFailed)?;
            Ok(s.as_ref().to_vec())
        }
        _ => Err(CryptoError::KeyAlgorithmMismatch {
            key: key.public_key().describe(),
            algorithm: alg.uri().to_string(),
        }),
    }
}

pub(crate) fn ecdsa_signing_alg(
    curve: Curve,
    d: DigestAlgorithm,
) -> Result<&'static sig::EcdsaSigningAlgorithm, CryptoError> {
    use DigestAlgorithm::*;
    match (curve, d) {
        (Curve::P256, Sha256) => Ok(&sig::ECDSA_P256_SHA256_FIXED_SIGNING),
        (Curve::P384, Sha384) => Ok(&sig::ECDSA_P384_SHA384_FIXED_SIGNING),
        (Curve::P521, Sha256) => Ok(&sig::ECDSA_P521_SHA256_FIXED_SIGNING),
        (Curve::P521, Sha384) => Ok(&sig::ECDSA_P521_SHA384_FIXED_SIGNING),
        (Curve::P521, Sha512) => Ok(&sig::ECDSA_P521_SHA512_FIXED_SIGNING),
        _ => Err(CryptoError::KeyAlgorithmMismatch {
            key: format!("EC {}", curve.name()),
            algorithm: format!("ECDSA with {d:?} (we sign with the hash that matches the curve)"),
        }),
    }
}

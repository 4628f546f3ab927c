//! The signing seam: code that signs asks a `Signer`, so a software key and an HSM key (PKCS#11,
//! later) look the same to it.

use super::alg::SignatureAlgorithm;
use super::keys::{PrivateKey, ecdsa_signing_alg, sign_with};
use super::{Certificate, CryptoError, PublicKey};
use aws_lc_rs::signature::EcdsaKeyPair;

pub trait Signer: Send + Sync {
    /// The algorithm this signer produces (an eIDAS allow-listed one).
    fn algorithm(&self) -> SignatureAlgorithm;
    /// Sign `message`; ECDSA signatures come as r‖s (XML-DSig 1.1).
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError>;
    fn public_key(&self) -> &PublicKey;
    /// The certificate to announce in KeyInfo, if any.
    fn certificate(&self) -> Option<&Certificate>;
    /// The same key signing with another allowed algorithm (a peer may list only some), or None
    /// when this signer cannot (an HSM key bound to one mechanism, or a key of another type).
    fn variant(&self, alg: SignatureAlgorithm) -> Option<std::sync::Arc<dyn Signer>> {
        let _ = alg;
        None
    }
}

/// A key held in process memory.
pub struct SoftwareSigner {
    key: PrivateKey,
    alg: SignatureAlgorithm,
    cert: Option<Certificate>,
    /// Parsed once: ECDSA signing keys are bound to their hash in aws-lc-rs.
    ecdsa: Option<EcdsaKeyPair>,
}

impl SoftwareSigner {
    /// A signer with the key's default eIDAS algorithm, or `alg` when given. Legacy algorithms are
    /// never produced.
    pub fn new(
        key: PrivateKey,
        alg: Option<SignatureAlgorithm>,
        cert: Option<Certificate>,
    ) -> Result<Self, CryptoError> {
        let alg = alg.unwrap_or_else(|| key.default_signature_algorithm());
        if alg.is_legacy() {
            return Err(CryptoError::LegacyAlgorithm(alg.uri().to_string()));
        }
        if let Some(c) = &cert
            && c.public_key() != key.public_key()
        {
            return Err(CryptoError::BadKey(
                "the certificate does not belong to the private key".into(),
            ));
        }
        let ecdsa = match (&key, alg) {
            (PrivateKey::Ec { curve, pkcs8, .. }, SignatureAlgorithm::Ecdsa(d)) => Some(
                EcdsaKeyPair::from_pkcs8(ecdsa_signing_alg(*curve, d)?, pkcs8)
                    .map_err(|_| CryptoError::BadKey("EC private key".into()))?,
            ),
            (PrivateKey::Rsa { .. }, SignatureAlgorithm::RsaPss(_)) => None,
            _ => {
                return Err(CryptoError::KeyAlgorithmMismatch {
                    key: key.public_key().describe(),
                    algorithm: alg.uri().to_string(),
                });
            }
        };
        Ok(SoftwareSigner {
            key,
            alg,
            cert,
            ecdsa,
        })
    }

    pub fn private_key(&self) -> &PrivateKey {
        &self.key
    }
}

impl Signer for SoftwareSigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.alg
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.ecdsa {
            Some(pair) => {
                let rng = aws_lc_rs::rand::SystemRandom::new();
                pair.sign(&rng, message)
                    .map(|s| s.as_ref().to_vec())
                    .map_err(|_| CryptoError::SigningFailed)
            }
            None => sign_with(&self.key, self.alg, message),
        }
    }

    fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    fn certificate(&self) -> Option<&Certificate> {
        self.cert.as_ref()
    }

    fn variant(&self, alg: SignatureAlgorithm) -> Option<std::sync::Arc<dyn Signer>> {
        if alg == self.alg {
            return None;
        }
        let key = PrivateKey::load(self.key.pkcs8_pem().as_bytes()).ok()?;
        SoftwareSigner::new(key, Some(alg), self.cert.clone())
            .ok()
            .map(|s| std::sync::Arc::new(s) as std::sync::Arc<dyn Signer>)
    }
}

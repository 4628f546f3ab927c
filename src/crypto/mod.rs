//! Keys, certificates and the eIDAS algorithm allow-list on aws-lc-rs, plus the `Signer` seam so
//! that a key may live in an HSM. No I/O (callers hand in bytes), no clock (time is an argument).

pub mod alg;
mod cert;
pub mod der;
pub mod generate;
mod keys;
pub mod oaep;
pub mod pem;
mod signer;

pub use cert::Certificate;
pub use keys::{Curve, KeyPolicy, PrivateKey, PublicKey, ecdh_ephemeral};
pub use signer::{Signer, SoftwareSigner};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    #[error("algorithm {uri} is forbidden in the eIDAS profile ({what})")]
    ForbiddenAlgorithm { uri: String, what: String },
    #[error("algorithm {0} is not in the eIDAS allow-list")]
    UnknownAlgorithm(String),
    #[error("algorithm {0} is legacy (RSA PKCS#1 v1.5) and not allowed for this peer")]
    LegacyAlgorithm(String),
    #[error("{key} key is below the eIDAS minimum of {minimum} bits")]
    WeakKey { key: String, minimum: usize },
    #[error("key {key} cannot be used with {algorithm}")]
    KeyAlgorithmMismatch { key: String, algorithm: String },
    #[error("bad key: {0}")]
    BadKey(String),
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    #[error("bad certificate: {0}")]
    BadCertificate(String),
    #[error("certificate has expired")]
    CertificateExpired,
    #[error("certificate is not yet valid")]
    CertificateNotYetValid,
    #[error("signature does not verify")]
    BadSignature,
    #[error("signing failed")]
    SigningFailed,
    #[error("decryption failed")]
    Decryption,
    #[error("encryption failed")]
    Encryption,
    #[error("key agreement failed")]
    KeyAgreement,
    #[error("random number generator failed")]
    Rng,
}

//! The third part of the PersonIdentifier we issue for a Norwegian, `NO/<receiving country>/<id>`
//! (norway.md §4 "eIDAS PersonIdentifier"): either the identity number itself, or a persistent
//! pseudonym per receiving country. docs/person-identifier.md explains both to operators.
//!
//! The pseudonym is `v<key version>` followed by the lowercase hex of
//! HMAC-SHA256(secret, "NO eIDAS PersonIdentifier pseudonym" ‖ 0x00 ‖ key version as 4 bytes
//! big-endian ‖ receiving country (2 ASCII letters) ‖ identity number (11 ASCII digits)).
//! Every field after the label has a fixed length, so no two inputs share an encoding; the label
//! keeps these values apart from anything else the same secret might ever be used for.
//!
//! Why lowercase hex rather than base62: its alphabet `[0-9a-f]` sits inside `[A-Za-z0-9]` (and
//! inside Digdir's `[letters digits - =]`), it has one spelling per value, so a foreign service
//! that compares or stores identifiers case-insensitively still tells persons apart, and it
//! needs no codec of our own. The cost is length: 64 characters instead of 43, well under the
//! ~256 that norway.md gives as a limit. Because the hex part is always 64 characters, the
//! version digits in front of it are unambiguous ([`key_version_of`]).
//!
//! This room computes values; it must not log them or the secret. Changing the construction
//! changes every pseudonym, which for the foreign services is the same as a key rotation; a
//! known-answer test pins it.

use std::fmt;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::IdentityNumber;
use crate::eidas::person_identifier::{PersonIdentifier, PersonIdentifierError, is_country_code};

/// The issuing country of every PersonIdentifier this node's Proxy-Service sends.
const ISSUING_COUNTRY: &str = "NO";

/// Domain-separation label in front of every HMAC input.
const LABEL: &[u8] = b"NO eIDAS PersonIdentifier pseudonym";

/// Length of the hex-encoded HMAC-SHA256 tag.
const HEX_LEN: usize = 64;

/// The shortest secret accepted: 32 bytes, the output length of SHA-256 (RFC 2104 §3 advises a
/// key no shorter than the hash output).
pub const MIN_SECRET_BYTES: usize = 32;

/// Why a pseudonym key or a PersonIdentifier could not be made. Never carries the secret or the
/// identity number.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PseudonymError {
    #[error("pseudonym key version must be 1 or more")]
    VersionZero,
    #[error("pseudonym secret is {len} bytes, the minimum is {min}")]
    SecretTooShort { len: usize, min: usize },
    #[error("pseudonym secret is not valid base64")]
    SecretNotBase64,
    #[error("cannot draw random bytes for a pseudonym secret")]
    Random,
    #[error("receiving country is not a two-letter upper-case country code")]
    ReceivingCountry,
    #[error("PersonIdentifier refused: {0}")]
    PersonIdentifier(#[from] PersonIdentifierError),
}

/// One version of the pseudonym secret. Only one version is used to issue identifiers at a time;
/// a new version is a key rotation, and every foreign service then sees new identifiers
/// (docs/person-identifier.md).
pub struct PseudonymKey {
    version: u32,
    /// Boxed: an HMAC key holds a whole HMAC context, which would make every enum that holds a
    /// `PseudonymKey` as large as that context.
    key: Box<hmac::Key>,
}

impl PseudonymKey {
    /// A key from raw secret bytes (at least [`MIN_SECRET_BYTES`]) and its version (1 or more).
    pub fn new(version: u32, secret: &[u8]) -> Result<Self, PseudonymError> {
        if version == 0 {
            return Err(PseudonymError::VersionZero);
        }
        if secret.len() < MIN_SECRET_BYTES {
            return Err(PseudonymError::SecretTooShort {
                len: secret.len(),
                min: MIN_SECRET_BYTES,
            });
        }
        Ok(PseudonymKey {
            version,
            key: Box::new(hmac::Key::new(hmac::HMAC_SHA256, secret)),
        })
    }

    /// A key from a standard-base64 secret, the form a configuration file holds it in.
    pub fn from_base64(version: u32, secret: &str) -> Result<Self, PseudonymError> {
        let bytes = STANDARD
            .decode(secret.trim())
            .map_err(|_| PseudonymError::SecretNotBase64)?;
        Self::new(version, &bytes)
    }

    /// A fresh random secret of [`MIN_SECRET_BYTES`] bytes, for key generation.
    pub fn generate_secret() -> Result<[u8; MIN_SECRET_BYTES], PseudonymError> {
        let mut secret = [0u8; MIN_SECRET_BYTES];
        aws_lc_rs::rand::fill(&mut secret).map_err(|_| PseudonymError::Random)?;
        Ok(secret)
    }

    pub fn version(&self) -> u32 {
        self.version
    }

    /// The pseudonym of `number` for services in `receiving_country` (`[A-Z]{2}`): the same
    /// person, country and key give the same value; a different country or key version gives a
    /// different one.
    pub fn pseudonym(
        &self,
        receiving_country: &str,
        number: &IdentityNumber,
    ) -> Result<String, PseudonymError> {
        if !is_country_code(receiving_country) {
            return Err(PseudonymError::ReceivingCountry);
        }
        let mut message = Vec::with_capacity(LABEL.len() + 1 + 4 + 2 + 11);
        message.extend_from_slice(LABEL);
        message.push(0);
        message.extend_from_slice(&self.version.to_be_bytes());
        message.extend_from_slice(receiving_country.as_bytes());
        message.extend_from_slice(number.as_str().as_bytes());
        let tag = hmac::sign(&self.key, &message);

        let mut out = format!("v{}", self.version);
        for byte in tag.as_ref() {
            out.push(hex_digit(byte >> 4));
            out.push(hex_digit(byte & 0x0f));
        }
        Ok(out)
    }
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0x0f)])
}

/// Shows the version only, never the secret.
impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PseudonymKey")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// The key version a pseudonym was made with, or `None` when `id` is not in pseudonym form
/// (`v`, a version without leading zeros, 64 lowercase hex digits). For operators answering a
/// foreign service that asks about an identifier it holds.
pub fn key_version_of(id: &str) -> Option<u32> {
    let rest = id.strip_prefix('v')?;
    let split = rest.len().checked_sub(HEX_LEN)?;
    let (version, hex) = (rest.get(..split)?, rest.get(split..)?);
    if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    if version.is_empty()
        || version.starts_with('0')
        || !version.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    version.parse().ok()
}

/// What goes into the third part of the PersonIdentifier: a deployment chooses one.
#[derive(Debug)]
pub enum IdentifierMode {
    /// The fødselsnummer or D-nummer itself: receiving states can match it against their own
    /// records, and every service in every country gets the same national number.
    IdentityNumber,
    /// A persistent pseudonym per receiving country under the given key.
    Pseudonym(PseudonymKey),
}

impl IdentifierMode {
    /// The third part of the PersonIdentifier for services in `receiving_country`.
    pub fn id(
        &self,
        receiving_country: &str,
        number: &IdentityNumber,
    ) -> Result<String, PseudonymError> {
        match self {
            IdentifierMode::IdentityNumber => {
                if !is_country_code(receiving_country) {
                    return Err(PseudonymError::ReceivingCountry);
                }
                Ok(number.as_str().to_string())
            }
            IdentifierMode::Pseudonym(key) => key.pseudonym(receiving_country, number),
        }
    }

    /// The whole PersonIdentifier, `NO/<receiving country>/<id>`.
    pub fn person_identifier(
        &self,
        receiving_country: &str,
        number: &IdentityNumber,
    ) -> Result<PersonIdentifier, PseudonymError> {
        let id = self.id(receiving_country, number)?;
        Ok(PersonIdentifier::new(
            ISSUING_COUNTRY,
            receiving_country,
            &id,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    ];
    const FNR: &str = "15038512363";
    const OTHER_FNR: &str = "31127093523";

    fn number(s: &str) -> IdentityNumber {
        IdentityNumber::parse(s, true).unwrap()
    }

    fn key(version: u32) -> PseudonymKey {
        PseudonymKey::new(version, &SECRET).unwrap()
    }

    #[test]
    fn pseudonym_construction_is_pinned() {
        // Known answers computed independently (Python hmac/hashlib) from the construction in
        // the module comment. If this fails, every foreign service would see new identifiers.
        let n = number(FNR);
        assert_eq!(
            key(1).pseudonym("SE", &n).unwrap(),
            "v1e6cefaf8c6c132e2ca51b5430097ec659a64a38822bb6e28b6c94f85d02a80ad"
        );
        assert_eq!(
            key(2).pseudonym("SE", &n).unwrap(),
            "v2fe016572e458f0b8733ce26f1956d12a44fc8c146c915d507b27ac08f0783b0c"
        );
        assert_eq!(
            key(1).pseudonym("DE", &n).unwrap(),
            "v1e3b1c44eff6b5f3c66dabb5ed0cb6dcdb16dc22996d53e6e746ccf249b51f54b"
        );
        // The examples in docs/person-identifier.md (a synthetic number).
        let synthetic = number("15838512329");
        assert_eq!(
            IdentifierMode::Pseudonym(key(1))
                .person_identifier("SE", &synthetic)
                .unwrap()
                .to_string(),
            "NO/SE/v1ea7ba89ef2428c79797b4a4f3b78d7894ac3251f21d338f51c291ecb11f0b32c"
        );
        assert_eq!(
            key(1).pseudonym("DE", &synthetic).unwrap(),
            "v1800ecba9051120100ab30248d998a32e9139517a428df5955a6ea536fe156335"
        );
    }

    #[test]
    fn same_person_and_country_give_the_same_pseudonym_across_key_instances() {
        // Two key objects from the same secret, as after a restart.
        let a = key(1).pseudonym("SE", &number(FNR)).unwrap();
        let b = key(1).pseudonym("SE", &number(FNR)).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn different_receiving_countries_give_different_pseudonyms() {
        let k = key(1);
        let n = number(FNR);
        let se = k.pseudonym("SE", &n).unwrap();
        let de = k.pseudonym("DE", &n).unwrap();
        let el = k.pseudonym("EL", &n).unwrap();
        assert_ne!(se, de);
        assert_ne!(se, el);
        assert_ne!(de, el);
    }

    #[test]
    fn different_key_versions_give_different_pseudonyms_even_with_the_same_secret() {
        let n = number(FNR);
        let v1 = key(1).pseudonym("SE", &n).unwrap();
        let v2 = key(2).pseudonym("SE", &n).unwrap();
        assert_ne!(v1, v2);
        // Not merely a different prefix: the HMAC part differs too.
        assert_ne!(&v1[2..], &v2[2..]);
    }

    #[test]
    fn different_secrets_give_different_pseudonyms() {
        let mut other = SECRET;
        other[0] ^= 1;
        let n = number(FNR);
        assert_ne!(
            key(1).pseudonym("SE", &n).unwrap(),
            PseudonymKey::new(1, &other)
                .unwrap()
                .pseudonym("SE", &n)
                .unwrap()
        );
    }

    #[test]
    fn different_persons_give_different_pseudonyms() {
        let k = key(1);
        assert_ne!(
            k.pseudonym("SE", &number(FNR)).unwrap(),
            k.pseudonym("SE", &number(OTHER_FNR)).unwrap()
        );
    }

    #[test]
    fn pseudonym_uses_only_ascii_letters_and_digits() {
        for version in [1, 9, 10, 4_294_967_295] {
            let p = key(version).pseudonym("SE", &number(FNR)).unwrap();
            assert!(p.bytes().all(|b| b.is_ascii_alphanumeric()), "{p}");
            assert_eq!(p.len(), 1 + version.to_string().len() + HEX_LEN);
        }
    }

    #[test]
    fn pseudonym_is_prefixed_with_its_key_version() {
        let n = number(FNR);
        for version in [1, 2, 10, 123] {
            let p = key(version).pseudonym("SE", &n).unwrap();
            assert!(p.starts_with(&format!("v{version}")), "{p}");
            assert_eq!(key_version_of(&p), Some(version));
        }
    }

    #[test]
    fn key_version_of_refuses_what_is_not_a_pseudonym() {
        let good = key(1).pseudonym("SE", &number(FNR)).unwrap();
        let hex = &good[2..];
        for bad in [
            FNR.to_string(),
            String::new(),
            "v".to_string(),
            hex.to_string(),
            format!("v{}", hex),                 // no version
            format!("v01{hex}"),                 // leading zero
            format!("v0{hex}"),                  // version 0 has a leading zero too
            format!("v1{}", hex.to_uppercase()), // one spelling per value
            format!("v1{}", &hex[1..]),          // too short: "1" becomes part of the hex
            format!("w1{hex}"),
            format!("v99999999999{hex}"), // beyond u32
        ] {
            assert_eq!(key_version_of(&bad), None, "{bad}");
        }
    }

    #[test]
    fn refuses_version_zero() {
        assert_eq!(
            PseudonymKey::new(0, &SECRET).err(),
            Some(PseudonymError::VersionZero)
        );
    }

    #[test]
    fn refuses_secret_shorter_than_32_bytes() {
        assert_eq!(
            PseudonymKey::new(1, &SECRET[..31]).err(),
            Some(PseudonymError::SecretTooShort { len: 31, min: 32 })
        );
    }

    #[test]
    fn reads_base64_secret_and_refuses_bad_base64() {
        let b64 = STANDARD.encode(SECRET);
        let n = number(FNR);
        assert_eq!(
            PseudonymKey::from_base64(1, &b64)
                .unwrap()
                .pseudonym("SE", &n)
                .unwrap(),
            key(1).pseudonym("SE", &n).unwrap()
        );
        assert_eq!(
            PseudonymKey::from_base64(1, "not base64!").err(),
            Some(PseudonymError::SecretNotBase64)
        );
        assert!(matches!(
            PseudonymKey::from_base64(1, &STANDARD.encode([7u8; 16])),
            Err(PseudonymError::SecretTooShort { len: 16, .. })
        ));
    }

    #[test]
    fn generated_secrets_are_usable_and_differ() {
        let a = PseudonymKey::generate_secret().unwrap();
        let b = PseudonymKey::generate_secret().unwrap();
        assert_ne!(a, b);
        assert!(PseudonymKey::new(1, &a).is_ok());
    }

    #[test]
    fn refuses_receiving_country_that_is_not_two_upper_case_letters() {
        let n = number(FNR);
        for bad in ["se", "SWE", "S", "", "S1", "ÅL"] {
            assert_eq!(
                key(1).pseudonym(bad, &n),
                Err(PseudonymError::ReceivingCountry),
                "{bad:?}"
            );
            assert_eq!(
                IdentifierMode::IdentityNumber.id(bad, &n),
                Err(PseudonymError::ReceivingCountry),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn identity_number_mode_sends_the_number() {
        let pi = IdentifierMode::IdentityNumber
            .person_identifier("SE", &number(FNR))
            .unwrap();
        assert_eq!(pi.to_string(), format!("NO/SE/{FNR}"));
    }

    #[test]
    fn pseudonym_mode_builds_no_cc_pseudonym() {
        let n = number(FNR);
        let mode = IdentifierMode::Pseudonym(key(1));
        let pi = mode.person_identifier("DE", &n).unwrap();
        assert_eq!(pi.issuing_country(), "NO");
        assert_eq!(pi.destination_country(), "DE");
        assert_eq!(pi.id(), key(1).pseudonym("DE", &n).unwrap());
        assert!(!pi.to_string().contains(FNR));
        // Reads back through the eIDAS parser unchanged.
        assert_eq!(PersonIdentifier::parse(&pi.to_string()).unwrap(), pi);
    }

    #[test]
    fn key_debug_shows_version_not_secret() {
        let shown = format!("{:?}", IdentifierMode::Pseudonym(key(3)));
        assert!(shown.contains("version: 3"), "{shown}");
        assert!(!shown.contains("[0, 1, 2"), "{shown}");
        assert!(!shown.contains("AAECAwQF"), "{shown}"); // base64 of the secret's start
    }
}

//! The population-register port (ARCHITECTURE.md `register`): where the Proxy-Service gets a
//! Norwegian's name and date of birth when the ID token does not carry them (norway.md §3 Option
//! B), the identity-number rules (norway.md §4), and the third part of the PersonIdentifier we
//! issue (norway.md §4, "eIDAS PersonIdentifier").
//!
//! A register answers three ways, and callers must be able to tell them apart: a person, no such
//! person (`Ok(None)`), or a failure of the register itself ([`RegisterError`]). Only the name
//! and birth parts of a person cross this port (data minimisation, norway.md §3 `part=navn&
//! part=foedsel`). This layer must not know SAML, OIDC or HTTP handlers, and must not log
//! personal data: [`Person`] and [`IdentityNumber`] hide their content from `Debug`.

mod folkeregisteret;
mod identity_number;
mod pseudonym;
mod synthetic;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use time::Date;

pub use self::folkeregisteret::{Folkeregisteret, FolkeregisteretSettings, parse_person};
pub use self::identity_number::{IdentityNumber, IdentityNumberError, Kind};
pub use self::pseudonym::{
    IdentifierMode, MIN_SECRET_BYTES, PseudonymError, PseudonymKey, key_version_of,
};
pub use self::synthetic::{SyntheticRegister, SyntheticRegisterError};

/// What every register operation returns: a boxed future, so `Register` stays dyn-compatible
/// (`Arc<dyn Register>`) without an async-trait crate (the same shape as
/// [`crate::store::StoreFuture`]).
pub type RegisterFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, RegisterError>> + Send + 'a>>;

/// The name and birth parts of a person in the population register.
///
/// `birth_date` is `None` when the register has no full birth date: Folkeregisteret's
/// `foedselsdato` is optional, and some D-nummer persons have only a birth year (norway.md §3).
/// The register port reports that as it is and does not make a date up (not from the D-nummer
/// either, norway.md §4); what to send instead is the caller's decision, and norway.md leaves it
/// open (fail with a clear status, or a partial-date convention if the eIDAS attribute profile
/// allows one).
#[derive(Clone, PartialEq, Eq)]
pub struct Person {
    /// The given names as one string, as Folkeregisteret's `fornavn` holds them. Whether
    /// `mellomnavn` belongs here or with the family name is open in norway.md (open question 4).
    pub given_names: String,
    pub family_name: String,
    pub birth_date: Option<Date>,
}

/// Shows whether a birth date is present, never the names or the date: personal data stays out
/// of logs.
impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Person")
            .field("given_names", &"…")
            .field("family_name", &"…")
            .field(
                "birth_date",
                &if self.birth_date.is_some() {
                    "present"
                } else {
                    "missing"
                },
            )
            .finish()
    }
}

/// A failure of the register itself, as opposed to "no such person" (`Ok(None)`). The texts must
/// not carry personal data (no identity number, no name): these errors reach logs.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum RegisterError {
    /// The register could not be reached or refused to answer (connection refused, 5xx, access
    /// token refused): the register is down for us.
    #[error("population register unavailable: {reason}")]
    Unavailable { reason: String },
    /// No answer within the configured time.
    #[error("population register did not answer within {after:?}")]
    Timeout { after: Duration },
    /// An answer came, but not one we can use (malformed, or missing the parts asked for).
    #[error("population register sent an invalid response: {reason}")]
    InvalidResponse { reason: String },
}

/// A population register: Folkeregisteret, or a synthetic register for the demo and tests.
///
/// The returned futures do nothing until polled.
pub trait Register: Send + Sync {
    /// The person with this fødselsnummer or D-nummer: `Ok(Some)` when found, `Ok(None)` when the
    /// register has no such person, `Err` when the register itself failed.
    fn lookup<'a>(&'a self, number: &'a IdentityNumber) -> RegisterFuture<'a, Option<Person>>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn person_debug_shows_no_names_or_date() {
        let p = Person {
            given_names: "Vakker Rask".into(),
            family_name: "Blomst".into(),
            birth_date: Some(date!(1985 - 03 - 15)),
        };
        let shown = format!("{p:?}");
        for secret in ["Vakker", "Rask", "Blomst", "1985", "03-15"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("present"), "{shown}");
        let without = Person {
            birth_date: None,
            ..p
        };
        assert!(format!("{without:?}").contains("missing"));
    }

    #[test]
    fn register_errors_tell_down_from_slow_from_garbled() {
        let down = RegisterError::Unavailable {
            reason: "connection refused".into(),
        };
        let slow = RegisterError::Timeout {
            after: Duration::from_secs(5),
        };
        let garbled = RegisterError::InvalidResponse {
            reason: "no navn part".into(),
        };
        assert!(down.to_string().contains("unavailable"));
        assert!(slow.to_string().contains("5s"));
        assert!(garbled.to_string().contains("invalid response"));
    }

    #[test]
    fn register_is_dyn_compatible() {
        fn takes(_: &std::sync::Arc<dyn Register>) {}
        let r: std::sync::Arc<dyn Register> = std::sync::Arc::new(SyntheticRegister::default());
        takes(&r);
    }
}

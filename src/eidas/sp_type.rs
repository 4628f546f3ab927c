//! SPType (eidas.md §1.2, §1.3): whether the service provider behind a Connector is `public` or
//! `private`, carried either in the AuthnRequest or in the Connector's metadata, never both.
//! Strict on what we write and on what the schema governs; a lenient reading exists for callers
//! that choose to tolerate case variants, and it says when it was needed.

use std::fmt;

use super::attributes::Tolerated;

/// `eidas:SPType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpType {
    Public,
    Private,
}

/// A refused SPType value or placement.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SpTypeError {
    #[error("SPType {0:?} is not \"public\" or \"private\"")]
    InvalidValue(String),
    #[error(
        "SPType is in both the AuthnRequest and the Connector metadata; it must be in exactly one"
    )]
    InBothRequestAndMetadata,
    #[error(
        "SPType is in neither the AuthnRequest nor the Connector metadata; it must be in exactly one"
    )]
    Missing,
}

impl SpType {
    /// Reads the value exactly as the schema enumerates it (`public`, `private`).
    pub fn parse(value: &str) -> Result<Self, SpTypeError> {
        match value {
            "public" => Ok(SpType::Public),
            "private" => Ok(SpType::Private),
            other => Err(SpTypeError::InvalidValue(other.to_string())),
        }
    }

    /// Reads the value ignoring case and surrounding whitespace; `deviation` says when that was
    /// needed. eidas.md §7 E.60 expects `Public` refused in an AuthnRequest, so a Proxy-Service
    /// applying the checklist uses [`Self::parse`].
    pub fn parse_lenient(value: &str) -> Result<Tolerated<Self>, SpTypeError> {
        if let Ok(strict) = SpType::parse(value) {
            return Ok(Tolerated {
                value: strict,
                deviation: None,
            });
        }
        let trimmed = value.trim();
        let value_read = if trimmed.eq_ignore_ascii_case("public") {
            SpType::Public
        } else if trimmed.eq_ignore_ascii_case("private") {
            SpType::Private
        } else {
            return Err(SpTypeError::InvalidValue(value.to_string()));
        };
        Ok(Tolerated {
            value: value_read,
            deviation: Some("SPType not in the schema's lower case (or with surrounding spaces)"),
        })
    }

    /// The value to write.
    pub const fn as_str(self) -> &'static str {
        match self {
            SpType::Public => "public",
            SpType::Private => "private",
        }
    }
}

impl fmt::Display for SpType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The SPType that applies to a request: it must be in exactly one of the AuthnRequest and the
/// Connector's metadata (eidas.md §1.3; EC node `COLLEAGUE_REQ_INCONSISTENT_SPTYPE` /
/// `COLLEAGUE_REQ_MISSING_SPTYPE`), even when both say the same.
pub fn effective(request: Option<SpType>, metadata: Option<SpType>) -> Result<SpType, SpTypeError> {
    match (request, metadata) {
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (Some(_), Some(_)) => Err(SpTypeError::InBothRequestAndMetadata),
        (None, None) => Err(SpTypeError::Missing),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sp_type_is_public_or_private_in_lower_case() {
        assert_eq!(SpType::parse("public"), Ok(SpType::Public));
        assert_eq!(SpType::parse("private"), Ok(SpType::Private));
        assert_eq!(SpType::Public.as_str(), "public");
        assert_eq!(SpType::Private.to_string(), "private");
        for bad in ["Public", "PRIVATE", " public", "other", ""] {
            assert_eq!(
                SpType::parse(bad),
                Err(SpTypeError::InvalidValue(bad.into())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn lenient_sp_type_reports_the_case_deviation() {
        let exact = SpType::parse_lenient("public").unwrap();
        assert_eq!((exact.value, exact.deviation), (SpType::Public, None));
        let odd = SpType::parse_lenient(" Private ").unwrap();
        assert_eq!(odd.value, SpType::Private);
        assert!(odd.deviation.is_some());
        assert!(SpType::parse_lenient("other").is_err());
    }

    #[test]
    fn sp_type_in_request_or_metadata_applies() {
        assert_eq!(effective(Some(SpType::Public), None), Ok(SpType::Public));
        assert_eq!(effective(None, Some(SpType::Private)), Ok(SpType::Private));
    }

    #[test]
    fn sp_type_in_both_request_and_metadata_is_refused() {
        assert_eq!(
            effective(Some(SpType::Public), Some(SpType::Public)),
            Err(SpTypeError::InBothRequestAndMetadata)
        );
        assert_eq!(
            effective(Some(SpType::Public), Some(SpType::Private)),
            Err(SpTypeError::InBothRequestAndMetadata)
        );
    }

    #[test]
    fn sp_type_in_neither_request_nor_metadata_is_refused() {
        assert_eq!(effective(None, None), Err(SpTypeError::Missing));
    }
}

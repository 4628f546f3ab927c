//! NameID formats (eidas.md §1.3, §1.4): eIDAS allows persistent, transient and (SAML 1.1)
//! unspecified, in NameIDPolicy and in the assertion's Subject. Other SAML-defined formats are
//! recognised so that the refusal can say what was asked for.

use std::fmt;

/// `urn:oasis:names:tc:SAML:2.0:nameid-format:persistent`.
pub const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
/// `urn:oasis:names:tc:SAML:2.0:nameid-format:transient`.
pub const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
/// `urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified` (SAML 2.0 reuses the 1.1 URI).
pub const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

/// SAML-defined formats that eIDAS does not allow for a subject.
const OTHER_SAML_FORMATS: [&str; 6] = [
    "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName",
    "urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:kerberos",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:entity",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:encrypted",
];

/// A NameID format eIDAS allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameIdFormat {
    Persistent,
    Transient,
    Unspecified,
}

/// A refused NameID format.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum NameIdFormatError {
    #[error(
        "NameID format {0} is a SAML format that eIDAS does not allow (only persistent, transient, unspecified)"
    )]
    NotAllowedInEidas(String),
    #[error("NameID format {0:?} is not a SAML NameID format")]
    Unknown(String),
}

impl NameIdFormat {
    /// All three, in the order metadata lists them.
    pub const ALL: [NameIdFormat; 3] = [
        NameIdFormat::Persistent,
        NameIdFormat::Transient,
        NameIdFormat::Unspecified,
    ];

    /// Reads a Format attribute (an anyURI: surrounding whitespace is not part of it).
    pub fn parse(uri: &str) -> Result<Self, NameIdFormatError> {
        let uri = uri.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'));
        match uri {
            PERSISTENT => Ok(NameIdFormat::Persistent),
            TRANSIENT => Ok(NameIdFormat::Transient),
            UNSPECIFIED => Ok(NameIdFormat::Unspecified),
            other if OTHER_SAML_FORMATS.contains(&other) => {
                Err(NameIdFormatError::NotAllowedInEidas(other.to_string()))
            }
            other => Err(NameIdFormatError::Unknown(other.to_string())),
        }
    }

    /// The URI to write.
    pub const fn uri(self) -> &'static str {
        match self {
            NameIdFormat::Persistent => PERSISTENT,
            NameIdFormat::Transient => TRANSIENT,
            NameIdFormat::Unspecified => UNSPECIFIED,
        }
    }
}

impl fmt::Display for NameIdFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eidas_name_id_formats_round_trip() {
        for f in NameIdFormat::ALL {
            assert_eq!(NameIdFormat::parse(f.uri()), Ok(f));
        }
        assert_eq!(
            NameIdFormat::parse("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
            Ok(NameIdFormat::Persistent)
        );
        assert_eq!(
            NameIdFormat::parse("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"),
            Ok(NameIdFormat::Unspecified)
        );
    }

    #[test]
    fn email_and_x509_name_id_formats_are_not_allowed_in_eidas() {
        for uri in [
            "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName",
            "urn:oasis:names:tc:SAML:2.0:nameid-format:entity",
            "urn:oasis:names:tc:SAML:2.0:nameid-format:encrypted",
        ] {
            assert_eq!(
                NameIdFormat::parse(uri),
                Err(NameIdFormatError::NotAllowedInEidas(uri.into()))
            );
        }
    }

    #[test]
    fn unknown_name_id_formats_are_refused() {
        for uri in [
            "urn:oasis:names:tc:SAML:2.0:nameid-format:unspecified",
            "urn:oasis:names:tc:SAML:2.0:nameid-format:Persistent",
            "",
        ] {
            assert_eq!(
                NameIdFormat::parse(uri),
                Err(NameIdFormatError::Unknown(uri.into())),
                "{uri}"
            );
        }
    }
}

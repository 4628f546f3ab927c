//! PersonIdentifier and LegalPersonIdentifier (eidas.md §2.5): `CC/CC/id`, the issuing
//! (Proxy-Service) country, the destination (Connector) country and an identifier unique in the
//! issuing country. The format check is the EC connector's regex `^[A-Z]{2}/[A-Z]{2}/.+$`, checked
//! by hand. Errors never carry the identifier itself: it is personal data and errors reach logs.

use std::fmt;
use std::str::FromStr;

/// Whether `s` is two upper-case ASCII letters (`[A-Z][A-Z]`, the shape of an ISO 3166-1
/// alpha-2 code; membership in the ISO list is not checked).
pub fn is_country_code(s: &str) -> bool {
    matches!(s.as_bytes(), [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase())
}

/// Line terminators that Java's `.` does not match, so the EC regex refuses them in the id.
fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// A refused PersonIdentifier or LegalPersonIdentifier.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PersonIdentifierError {
    #[error("identifier does not start with a two-letter issuing country code and '/' (CC/CC/id)")]
    IssuingCountryMalformed,
    #[error(
        "identifier does not have a two-letter destination country code and '/' after the issuing country (CC/CC/id)"
    )]
    DestinationCountryMalformed,
    #[error("identifier has no third part after CC/CC/")]
    MissingId,
    #[error("the third part of the identifier contains a line break")]
    LineBreakInId,
    #[error("identifier names {found} as its issuing country, but {expected} was asked")]
    IssuerMismatch { expected: String, found: String },
    #[error("identifier names {found} as its destination country, expected {expected}")]
    DestinationMismatch { expected: String, found: String },
}

/// A parsed `CC/CC/id` identifier (natural or legal person).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PersonIdentifier {
    issuing_country: String,
    destination_country: String,
    id: String,
}

impl PersonIdentifier {
    /// Builds an identifier from its three parts, with the same checks as [`Self::parse`].
    pub fn new(
        issuing_country: &str,
        destination_country: &str,
        id: &str,
    ) -> Result<Self, PersonIdentifierError> {
        if !is_country_code(issuing_country) {
            return Err(PersonIdentifierError::IssuingCountryMalformed);
        }
        if !is_country_code(destination_country) {
            return Err(PersonIdentifierError::DestinationCountryMalformed);
        }
        if id.is_empty() {
            return Err(PersonIdentifierError::MissingId);
        }
        if id.chars().any(is_line_terminator) {
            return Err(PersonIdentifierError::LineBreakInId);
        }
        Ok(PersonIdentifier {
            issuing_country: issuing_country.to_string(),
            destination_country: destination_country.to_string(),
            id: id.to_string(),
        })
    }

    /// Parses `CC/CC/id` exactly (no trimming: the value is an xsd:string).
    pub fn parse(s: &str) -> Result<Self, PersonIdentifierError> {
        let (issuing, rest) =
            split_country(s).ok_or(PersonIdentifierError::IssuingCountryMalformed)?;
        let (destination, id) =
            split_country(rest).ok_or(PersonIdentifierError::DestinationCountryMalformed)?;
        PersonIdentifier::new(issuing, destination, id)
    }

    /// The first part: the country whose Proxy-Service issued the identifier.
    pub fn issuing_country(&self) -> &str {
        &self.issuing_country
    }

    /// The second part: the country of the Connector the identifier was issued for.
    pub fn destination_country(&self) -> &str {
        &self.destination_country
    }

    /// The third part: the identifier proper.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Connector side: the first part must be the country we sent the request to.
    pub fn check_issuer(&self, expected: &str) -> Result<(), PersonIdentifierError> {
        if self.issuing_country == expected {
            Ok(())
        } else {
            Err(PersonIdentifierError::IssuerMismatch {
                expected: expected.to_string(),
                found: self.issuing_country.clone(),
            })
        }
    }

    /// The second part must be the Connector's country (ours, on the Connector side).
    pub fn check_destination(&self, expected: &str) -> Result<(), PersonIdentifierError> {
        if self.destination_country == expected {
            Ok(())
        } else {
            Err(PersonIdentifierError::DestinationMismatch {
                expected: expected.to_string(),
                found: self.destination_country.clone(),
            })
        }
    }
}

/// Splits `CC/rest` into `("CC", "rest")` when the first two characters are `[A-Z]` and the third
/// is `/`.
fn split_country(s: &str) -> Option<(&str, &str)> {
    match s.as_bytes() {
        [a, b, b'/', ..] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
            // The first three bytes are ASCII, so 2 and 3 are character boundaries.
            Some((s.get(..2)?, s.get(3..)?))
        }
        _ => None,
    }
}

impl fmt::Display for PersonIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.issuing_country, self.destination_country, self.id
        )
    }
}

/// Shows the countries only: the id is personal data and Debug output ends up in logs.
impl fmt::Debug for PersonIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonIdentifier")
            .field("issuing_country", &self.issuing_country)
            .field("destination_country", &self.destination_country)
            .field("id", &"…")
            .finish()
    }
}

impl FromStr for PersonIdentifier {
    type Err = PersonIdentifierError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PersonIdentifier::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_round_trips_cc_cc_id() {
        let p = PersonIdentifier::parse("ES/AT/02635542Y").unwrap();
        assert_eq!(p.issuing_country(), "ES");
        assert_eq!(p.destination_country(), "AT");
        assert_eq!(p.id(), "02635542Y");
        assert_eq!(p.to_string(), "ES/AT/02635542Y");
        assert_eq!(
            PersonIdentifier::new("NO", "SE", "a/b c")
                .unwrap()
                .to_string(),
            "NO/SE/a/b c"
        );
    }

    #[test]
    fn identifier_third_part_may_contain_slashes() {
        let p: PersonIdentifier = "NO/DE/x/y/z".parse().unwrap();
        assert_eq!(p.id(), "x/y/z");
    }

    #[test]
    fn issuing_country_must_be_two_uppercase_letters() {
        for bad in [
            "es/AT/1", "E/AT/1", "ESP/AT/1", "", "ES", "ESAT/1", "1S/AT/1", "ÉS/AT/1",
        ] {
            assert_eq!(
                PersonIdentifier::parse(bad),
                Err(PersonIdentifierError::IssuingCountryMalformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn destination_country_must_be_two_uppercase_letters() {
        for bad in ["ES/at/1", "ES/A/1", "ES/AUT/1", "ES/", "ES/AT", "ES/AT1"] {
            assert_eq!(
                PersonIdentifier::parse(bad),
                Err(PersonIdentifierError::DestinationCountryMalformed),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn identifier_needs_a_third_part() {
        assert_eq!(
            PersonIdentifier::parse("ES/AT/"),
            Err(PersonIdentifierError::MissingId)
        );
    }

    #[test]
    fn identifier_third_part_has_no_line_break() {
        for bad in [
            "ES/AT/1\n",
            "ES/AT/1\r2",
            "ES/AT/\u{2028}x",
            "ES/AT/a\u{85}",
        ] {
            assert_eq!(
                PersonIdentifier::parse(bad),
                Err(PersonIdentifierError::LineBreakInId),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn identifier_is_not_trimmed() {
        assert!(PersonIdentifier::parse(" ES/AT/1").is_err());
        assert_eq!(
            PersonIdentifier::parse("ES/AT/1 ").unwrap().id(),
            "1 ",
            "an xsd:string keeps its spaces"
        );
    }

    #[test]
    fn issuer_must_be_the_country_asked() {
        let p = PersonIdentifier::parse("SE/NO/123").unwrap();
        assert_eq!(p.check_issuer("SE"), Ok(()));
        assert_eq!(
            p.check_issuer("DK"),
            Err(PersonIdentifierError::IssuerMismatch {
                expected: "DK".into(),
                found: "SE".into()
            })
        );
    }

    #[test]
    fn destination_must_be_the_connector_country() {
        let p = PersonIdentifier::parse("NO/SE/123").unwrap();
        assert_eq!(p.check_destination("SE"), Ok(()));
        assert!(matches!(
            p.check_destination("NO"),
            Err(PersonIdentifierError::DestinationMismatch { .. })
        ));
    }

    #[test]
    fn debug_output_hides_the_identifier() {
        let p = PersonIdentifier::parse("NO/SE/12345678901").unwrap();
        let shown = format!("{p:?}");
        assert!(!shown.contains("12345678901"), "{shown}");
        assert!(shown.contains("NO") && shown.contains("SE"));
    }

    #[test]
    fn country_code_shape_is_two_uppercase_letters() {
        assert!(is_country_code("NO"));
        for bad in ["no", "N", "NOR", "", "N1", "ÅS"] {
            assert!(!is_country_code(bad), "{bad:?}");
        }
    }
}

//! Levels of Assurance (eidas.md §5): the notified and non-notified LoA URIs, their order, the
//! rules for `saml2p:RequestedAuthnContext` (§5.2) and whether an achieved LoA satisfies a request
//! (§5.3). URI recognition follows the EC node: exactly three notified URIs, and anything else
//! under `http://eidas.europa.eu/LoA/` (any case) is invalid, which catches the legacy
//! `…/LoA/NotNotified/…` alias. Whether a LoA is one we publish is for the caller.

use std::cmp::Ordering;
use std::fmt;

/// The three eIDAS assurance levels, in increasing order.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize, serde::Serialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Low,
    Substantial,
    High,
}

impl Level {
    /// All levels, lowest first.
    pub const ALL: [Level; 3] = [Level::Low, Level::Substantial, Level::High];

    /// The notified-scheme URI, `http://eidas.europa.eu/LoA/{low,substantial,high}`.
    pub const fn notified_uri(self) -> &'static str {
        match self {
            Level::Low => NOTIFIED_LOW,
            Level::Substantial => NOTIFIED_SUBSTANTIAL,
            Level::High => NOTIFIED_HIGH,
        }
    }

    /// The eIDAS 1.2 non-notified URI, `http://eidas.europa.eu/NotNotified/LoA/{…}`.
    pub const fn not_notified_uri(self) -> &'static str {
        match self {
            Level::Low => NOT_NOTIFIED_LOW,
            Level::Substantial => NOT_NOTIFIED_SUBSTANTIAL,
            Level::High => NOT_NOTIFIED_HIGH,
        }
    }
}

/// `http://eidas.europa.eu/LoA/low`.
pub const NOTIFIED_LOW: &str = "http://eidas.europa.eu/LoA/low";
/// `http://eidas.europa.eu/LoA/substantial`.
pub const NOTIFIED_SUBSTANTIAL: &str = "http://eidas.europa.eu/LoA/substantial";
/// `http://eidas.europa.eu/LoA/high`.
pub const NOTIFIED_HIGH: &str = "http://eidas.europa.eu/LoA/high";
/// `http://eidas.europa.eu/NotNotified/LoA/low`.
pub const NOT_NOTIFIED_LOW: &str = "http://eidas.europa.eu/NotNotified/LoA/low";
/// `http://eidas.europa.eu/NotNotified/LoA/substantial`.
pub const NOT_NOTIFIED_SUBSTANTIAL: &str = "http://eidas.europa.eu/NotNotified/LoA/substantial";
/// `http://eidas.europa.eu/NotNotified/LoA/high`.
pub const NOT_NOTIFIED_HIGH: &str = "http://eidas.europa.eu/NotNotified/LoA/high";

/// The prefix under which only the three notified URIs are valid (compared case-insensitively).
const EIDAS_LOA_PREFIX: &str = "http://eidas.europa.eu/LoA/";
/// The legacy non-notified alias, refused by the EC node.
const LEGACY_NOT_NOTIFIED_PREFIX: &str = "http://eidas.europa.eu/LoA/NotNotified/";

/// XML whitespace; xsd:anyURI collapses it, so surrounding whitespace is not part of the URI.
fn trim_xml(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
}

/// A refused LoA URI, Comparison or RequestedAuthnContext.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum LoaError {
    #[error("AuthnContextClassRef is empty")]
    EmptyLoa,
    #[error("LoA {0:?} contains whitespace or control characters, so it is not a URI")]
    LoaNotAUri(String),
    #[error(
        "LoA {0} is the legacy non-notified alias; eIDAS 1.2 uses http://eidas.europa.eu/NotNotified/LoA/…"
    )]
    LegacyNotNotifiedAlias(String),
    #[error(
        "LoA {0} is under http://eidas.europa.eu/LoA/ but is not exactly low, substantial or high"
    )]
    InvalidEidasLoa(String),
    #[error("Comparison {0:?} is not a SAML comparison (minimum, exact, maximum, better)")]
    UnknownComparison(String),
    #[error("Comparison {0} is not allowed by eIDAS (only minimum and exact)")]
    ComparisonNotSupported(Comparison),
    #[error("RequestedAuthnContext names no LoA")]
    NoLoaRequested,
    #[error("LoA {0} is requested twice")]
    DuplicateLoa(String),
    #[error("Comparison minimum needs exactly one LoA, found {0}")]
    MinimumWithSeveralLoas(usize),
    #[error("Comparison minimum needs a notified LoA, found {0}")]
    MinimumWithNonNotifiedLoa(String),
    #[error(
        "Comparison exact needs at least one non-notified LoA; only notified LoAs must use minimum"
    )]
    ExactWithoutNonNotifiedLoa,
    #[error("Comparison exact lists notified {listed} but not the higher notified {missing}")]
    ExactMissingHigherNotifiedLoa {
        listed: &'static str,
        missing: &'static str,
    },
}

/// A Level of Assurance as carried in `saml2:AuthnContextClassRef`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LevelOfAssurance {
    /// A notified eID scheme: `http://eidas.europa.eu/LoA/{low,substantial,high}`.
    Notified(Level),
    /// A non-notified scheme at an eIDAS level: `http://eidas.europa.eu/NotNotified/LoA/{…}`.
    NotNotified(Level),
    /// Any other URI (a national non-notified scheme); it has no place in the eIDAS order.
    NonNotified(String),
}

impl LevelOfAssurance {
    /// Reads an AuthnContextClassRef value the way the EC node does (eidas.md §5.1).
    pub fn parse(uri: &str) -> Result<Self, LoaError> {
        let uri = trim_xml(uri);
        if uri.is_empty() {
            return Err(LoaError::EmptyLoa);
        }
        if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(LoaError::LoaNotAUri(uri.to_string()));
        }
        for level in Level::ALL {
            if uri == level.notified_uri() {
                return Ok(LevelOfAssurance::Notified(level));
            }
            if uri == level.not_notified_uri() {
                return Ok(LevelOfAssurance::NotNotified(level));
            }
        }
        if starts_with_ignore_case(uri, LEGACY_NOT_NOTIFIED_PREFIX) {
            return Err(LoaError::LegacyNotNotifiedAlias(uri.to_string()));
        }
        if starts_with_ignore_case(uri, EIDAS_LOA_PREFIX) {
            return Err(LoaError::InvalidEidasLoa(uri.to_string()));
        }
        Ok(LevelOfAssurance::NonNotified(uri.to_string()))
    }

    /// The URI to write into an AuthnContextClassRef.
    pub fn as_uri(&self) -> &str {
        match self {
            LevelOfAssurance::Notified(l) => l.notified_uri(),
            LevelOfAssurance::NotNotified(l) => l.not_notified_uri(),
            LevelOfAssurance::NonNotified(u) => u,
        }
    }

    /// Whether this is one of the three notified URIs.
    pub fn is_notified(&self) -> bool {
        matches!(self, LevelOfAssurance::Notified(_))
    }

    /// The notified level, if this is a notified LoA.
    pub fn notified_level(&self) -> Option<Level> {
        match self {
            LevelOfAssurance::Notified(l) => Some(*l),
            _ => None,
        }
    }

    /// Position in the order of eidas.md §5.1: low-non-notified < low < substantial-non-notified
    /// < substantial < high-non-notified < high. National URIs have none.
    fn rank(&self) -> Option<u8> {
        match self {
            LevelOfAssurance::NotNotified(l) => Some(*l as u8 * 2),
            LevelOfAssurance::Notified(l) => Some(*l as u8 * 2 + 1),
            LevelOfAssurance::NonNotified(_) => None,
        }
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// The order of eidas.md §5.1; a national non-notified URI is comparable only to itself.
impl PartialOrd for LevelOfAssurance {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match (self.rank(), other.rank()) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => (self == other).then_some(Ordering::Equal),
        }
    }
}

impl fmt::Display for LevelOfAssurance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_uri())
    }
}

/// `RequestedAuthnContext/@Comparison`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comparison {
    Minimum,
    Exact,
    Maximum,
    Better,
}

impl Comparison {
    /// Reads the attribute exactly (an xsd:string enumeration); absent means `exact`, the SAML
    /// default.
    pub fn parse(value: Option<&str>) -> Result<Self, LoaError> {
        match value {
            None => Ok(Comparison::Exact),
            Some("minimum") => Ok(Comparison::Minimum),
            Some("exact") => Ok(Comparison::Exact),
            Some("maximum") => Ok(Comparison::Maximum),
            Some("better") => Ok(Comparison::Better),
            Some(other) => Err(LoaError::UnknownComparison(other.to_string())),
        }
    }

    /// The attribute value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Comparison::Minimum => "minimum",
            Comparison::Exact => "exact",
            Comparison::Maximum => "maximum",
            Comparison::Better => "better",
        }
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `saml2p:RequestedAuthnContext`: a comparison and the requested LoAs, in document order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedAuthnContext {
    pub comparison: Comparison,
    pub levels: Vec<LevelOfAssurance>,
}

impl RequestedAuthnContext {
    /// `minimum` with one notified level: what our Connector sends.
    pub fn minimum(level: Level) -> Self {
        RequestedAuthnContext {
            comparison: Comparison::Minimum,
            levels: vec![LevelOfAssurance::Notified(level)],
        }
    }

    /// Reads the Comparison attribute and each AuthnContextClassRef; does not apply §5.2 (see
    /// [`Self::validate`]).
    pub fn parse<I, S>(comparison: Option<&str>, class_refs: I) -> Result<Self, LoaError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let comparison = Comparison::parse(comparison)?;
        let levels = class_refs
            .into_iter()
            .map(|r| LevelOfAssurance::parse(r.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RequestedAuthnContext { comparison, levels })
    }

    /// The rules of eidas.md §5.2.
    pub fn validate(&self) -> Result<(), LoaError> {
        if matches!(self.comparison, Comparison::Maximum | Comparison::Better) {
            return Err(LoaError::ComparisonNotSupported(self.comparison));
        }
        if self.levels.is_empty() {
            return Err(LoaError::NoLoaRequested);
        }
        for (i, level) in self.levels.iter().enumerate() {
            if self
                .levels
                .iter()
                .take(i)
                .any(|l| l.as_uri() == level.as_uri())
            {
                return Err(LoaError::DuplicateLoa(level.as_uri().to_string()));
            }
        }
        match self.comparison {
            Comparison::Minimum => match self.levels.as_slice() {
                [only] if only.is_notified() => Ok(()),
                [only] => Err(LoaError::MinimumWithNonNotifiedLoa(
                    only.as_uri().to_string(),
                )),
                several => Err(LoaError::MinimumWithSeveralLoas(several.len())),
            },
            _ => {
                if self.levels.iter().all(LevelOfAssurance::is_notified) {
                    return Err(LoaError::ExactWithoutNonNotifiedLoa);
                }
                let listed: Vec<Level> = self
                    .levels
                    .iter()
                    .filter_map(LevelOfAssurance::notified_level)
                    .collect();
                for &l in &listed {
                    if let Some(&missing) = Level::ALL
                        .iter()
                        .find(|&&higher| higher > l && !listed.contains(&higher))
                    {
                        return Err(LoaError::ExactMissingHigherNotifiedLoa {
                            listed: l.notified_uri(),
                            missing: missing.notified_uri(),
                        });
                    }
                }
                Ok(())
            }
        }
    }

    /// Whether `achieved` (the one AuthnContextClassRef of a Response) satisfies this request
    /// (eidas.md §5.3): for minimum, a notified LoA at least the requested one; for exact, one of
    /// the listed LoAs. Always false for maximum and better, which eIDAS refuses.
    pub fn satisfied_by(&self, achieved: &LevelOfAssurance) -> bool {
        match self.comparison {
            Comparison::Minimum => match (self.levels.as_slice(), achieved.notified_level()) {
                ([LevelOfAssurance::Notified(requested)], Some(got)) => got >= *requested,
                _ => false,
            },
            Comparison::Exact => self.levels.iter().any(|l| l.as_uri() == achieved.as_uri()),
            Comparison::Maximum | Comparison::Better => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LevelOfAssurance::{NonNotified, NotNotified, Notified};

    fn ctx(comparison: Option<&str>, refs: &[&str]) -> RequestedAuthnContext {
        RequestedAuthnContext::parse(comparison, refs).unwrap()
    }

    #[test]
    fn notified_uris_are_recognised_exactly() {
        assert_eq!(
            LevelOfAssurance::parse("http://eidas.europa.eu/LoA/low"),
            Ok(Notified(Level::Low))
        );
        assert_eq!(
            LevelOfAssurance::parse("http://eidas.europa.eu/LoA/substantial"),
            Ok(Notified(Level::Substantial))
        );
        assert_eq!(
            LevelOfAssurance::parse("http://eidas.europa.eu/LoA/high"),
            Ok(Notified(Level::High))
        );
        for l in Level::ALL {
            assert_eq!(
                LevelOfAssurance::parse(l.notified_uri()).unwrap().as_uri(),
                l.notified_uri()
            );
        }
    }

    #[test]
    fn non_notified_uris_are_recognised() {
        assert_eq!(
            LevelOfAssurance::parse("http://eidas.europa.eu/NotNotified/LoA/low"),
            Ok(NotNotified(Level::Low))
        );
        assert_eq!(
            LevelOfAssurance::parse("http://eidas.europa.eu/NotNotified/LoA/high"),
            Ok(NotNotified(Level::High))
        );
        assert_eq!(
            LevelOfAssurance::parse("http://eidas.europa.eu/NotNotified/LoA/substantial")
                .unwrap()
                .as_uri(),
            NOT_NOTIFIED_SUBSTANTIAL
        );
        assert_eq!(
            LevelOfAssurance::parse("urn:se:elegnamnden:loa3"),
            Ok(NonNotified("urn:se:elegnamnden:loa3".into()))
        );
    }

    #[test]
    fn legacy_notnotified_alias_is_invalid() {
        for uri in [
            "http://eidas.europa.eu/LoA/NotNotified/low",
            "http://eidas.europa.eu/LoA/NotNotified/substantial",
            "http://eidas.europa.eu/LoA/NotNotified/high",
            "HTTP://EIDAS.EUROPA.EU/loa/notnotified/high",
        ] {
            assert_eq!(
                LevelOfAssurance::parse(uri),
                Err(LoaError::LegacyNotNotifiedAlias(uri.into())),
                "{uri}"
            );
        }
    }

    #[test]
    fn other_uris_under_the_eidas_loa_prefix_are_invalid() {
        for uri in [
            "http://eidas.europa.eu/LoA/HIGH",
            "http://eidas.europa.eu/LoA/medium",
            "http://eidas.europa.eu/loa/low",
            "http://eidas.europa.eu/LoA/",
            "http://eidas.europa.eu/LoA/high/",
        ] {
            assert_eq!(
                LevelOfAssurance::parse(uri),
                Err(LoaError::InvalidEidasLoa(uri.into())),
                "{uri}"
            );
        }
    }

    #[test]
    fn loa_must_be_a_non_empty_uri() {
        assert_eq!(LevelOfAssurance::parse(""), Err(LoaError::EmptyLoa));
        assert_eq!(LevelOfAssurance::parse(" \n "), Err(LoaError::EmptyLoa));
        assert!(matches!(
            LevelOfAssurance::parse("http://x/a b"),
            Err(LoaError::LoaNotAUri(_))
        ));
    }

    #[test]
    fn loa_uri_whitespace_is_collapsed_as_any_uri() {
        assert_eq!(
            LevelOfAssurance::parse("\n  http://eidas.europa.eu/LoA/high\n"),
            Ok(Notified(Level::High))
        );
    }

    #[test]
    fn loa_order_interleaves_non_notified_below_notified() {
        let order = [
            NotNotified(Level::Low),
            Notified(Level::Low),
            NotNotified(Level::Substantial),
            Notified(Level::Substantial),
            NotNotified(Level::High),
            Notified(Level::High),
        ];
        for w in order.windows(2) {
            assert!(w[0] < w[1], "{} < {}", w[0], w[1]);
        }
        let national = NonNotified("urn:x".into());
        assert_eq!(national.partial_cmp(&Notified(Level::Low)), None);
        assert_eq!(
            national.partial_cmp(&national.clone()),
            Some(Ordering::Equal)
        );
    }

    #[test]
    fn absent_comparison_means_exact() {
        assert_eq!(Comparison::parse(None), Ok(Comparison::Exact));
        assert_eq!(Comparison::parse(Some("minimum")), Ok(Comparison::Minimum));
        for bad in ["Minimum", " minimum", ""] {
            assert_eq!(
                Comparison::parse(Some(bad)),
                Err(LoaError::UnknownComparison(bad.into()))
            );
        }
    }

    #[test]
    fn minimum_with_one_notified_level_is_accepted() {
        assert_eq!(
            ctx(Some("minimum"), &[NOTIFIED_SUBSTANTIAL]).validate(),
            Ok(())
        );
        assert_eq!(
            RequestedAuthnContext::minimum(Level::High).validate(),
            Ok(())
        );
    }

    #[test]
    fn minimum_with_two_levels_is_refused() {
        assert_eq!(
            ctx(Some("minimum"), &[NOTIFIED_LOW, NOTIFIED_HIGH]).validate(),
            Err(LoaError::MinimumWithSeveralLoas(2))
        );
    }

    #[test]
    fn minimum_with_a_non_notified_level_is_refused() {
        assert_eq!(
            ctx(Some("minimum"), &[NOT_NOTIFIED_HIGH]).validate(),
            Err(LoaError::MinimumWithNonNotifiedLoa(
                NOT_NOTIFIED_HIGH.into()
            ))
        );
        assert!(matches!(
            ctx(Some("minimum"), &["urn:national:loa"]).validate(),
            Err(LoaError::MinimumWithNonNotifiedLoa(_))
        ));
    }

    #[test]
    fn exact_with_only_notified_levels_is_refused() {
        assert_eq!(
            ctx(Some("exact"), &[NOTIFIED_SUBSTANTIAL, NOTIFIED_HIGH]).validate(),
            Err(LoaError::ExactWithoutNonNotifiedLoa)
        );
    }

    #[test]
    fn single_notified_level_without_comparison_is_refused() {
        assert_eq!(
            ctx(None, &[NOTIFIED_SUBSTANTIAL]).validate(),
            Err(LoaError::ExactWithoutNonNotifiedLoa)
        );
    }

    #[test]
    fn exact_with_a_notified_level_must_list_all_higher_notified_levels() {
        assert_eq!(
            ctx(
                Some("exact"),
                &[NOTIFIED_SUBSTANTIAL, NOTIFIED_HIGH, NOT_NOTIFIED_HIGH]
            )
            .validate(),
            Ok(())
        );
        assert_eq!(
            ctx(Some("exact"), &[NOTIFIED_SUBSTANTIAL, NOT_NOTIFIED_HIGH]).validate(),
            Err(LoaError::ExactMissingHigherNotifiedLoa {
                listed: NOTIFIED_SUBSTANTIAL,
                missing: NOTIFIED_HIGH
            })
        );
        assert_eq!(
            ctx(
                Some("exact"),
                &[NOTIFIED_LOW, NOTIFIED_HIGH, NOT_NOTIFIED_LOW]
            )
            .validate(),
            Err(LoaError::ExactMissingHigherNotifiedLoa {
                listed: NOTIFIED_LOW,
                missing: NOTIFIED_SUBSTANTIAL
            })
        );
        assert_eq!(
            ctx(Some("exact"), &[NOT_NOTIFIED_LOW, "urn:national:loa"]).validate(),
            Ok(())
        );
    }

    #[test]
    fn maximum_and_better_are_refused() {
        for c in ["maximum", "better"] {
            assert!(matches!(
                ctx(Some(c), &[NOTIFIED_LOW]).validate(),
                Err(LoaError::ComparisonNotSupported(_))
            ));
        }
    }

    #[test]
    fn duplicate_levels_are_refused() {
        assert_eq!(
            ctx(Some("exact"), &[NOT_NOTIFIED_LOW, NOT_NOTIFIED_LOW]).validate(),
            Err(LoaError::DuplicateLoa(NOT_NOTIFIED_LOW.into()))
        );
        assert_eq!(
            ctx(Some("minimum"), &[NOTIFIED_LOW, NOTIFIED_LOW]).validate(),
            Err(LoaError::DuplicateLoa(NOTIFIED_LOW.into()))
        );
    }

    #[test]
    fn empty_requested_authn_context_is_refused() {
        assert_eq!(
            ctx(Some("minimum"), &[]).validate(),
            Err(LoaError::NoLoaRequested)
        );
    }

    #[test]
    fn parse_stops_at_an_invalid_loa() {
        assert!(matches!(
            RequestedAuthnContext::parse(
                Some("minimum"),
                ["http://eidas.europa.eu/LoA/NotNotified/low"]
            ),
            Err(LoaError::LegacyNotNotifiedAlias(_))
        ));
    }

    #[test]
    fn minimum_is_satisfied_by_the_same_or_a_higher_notified_level() {
        let req = RequestedAuthnContext::minimum(Level::Substantial);
        assert!(req.satisfied_by(&Notified(Level::Substantial)));
        assert!(req.satisfied_by(&Notified(Level::High)));
        assert!(!req.satisfied_by(&Notified(Level::Low)));
        assert!(!req.satisfied_by(&NotNotified(Level::High)));
        assert!(!req.satisfied_by(&NonNotified("urn:x".into())));
    }

    #[test]
    fn exact_is_satisfied_only_by_a_listed_level() {
        let req = ctx(Some("exact"), &[NOT_NOTIFIED_SUBSTANTIAL, NOTIFIED_HIGH]);
        assert!(req.satisfied_by(&NotNotified(Level::Substantial)));
        assert!(req.satisfied_by(&Notified(Level::High)));
        assert!(!req.satisfied_by(&Notified(Level::Substantial)));
        assert!(!req.satisfied_by(&NotNotified(Level::High)));
    }

    #[test]
    fn maximum_and_better_are_never_satisfied() {
        let req = ctx(Some("better"), &[NOTIFIED_LOW]);
        assert!(!req.satisfied_by(&Notified(Level::High)));
    }
}

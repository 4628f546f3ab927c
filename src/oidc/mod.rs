//! OpenID Connect: the client towards ID-porten (Proxy-Service) and, later, our provider towards
//! Norwegian relying parties (Connector). This first part holds what both need and what can be
//! decided without the network: the LoA mapping between eIDAS and ID-porten's `acr` values, and
//! the PKCE, state and nonce values of an authorization request.

pub mod client;
pub mod provider;

use crate::eidas::loa::{Comparison, Level, LevelOfAssurance, RequestedAuthnContext};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AcrError {
    #[error("ID-porten returned acr {0:?}, which maps to no eIDAS level")]
    UnknownAcr(String),
    #[error(
        "ID-porten returned level {got:?} for a request of {requested:?}: below what was asked, refused"
    )]
    BelowRequested { requested: String, got: Level },
    #[error("no ID-porten acr can meet the requested LoAs {0:?}")]
    CannotMeet(Vec<String>),
}

/// How eIDAS levels map to ID-porten `acr` values and back (norway.md §1 "acr_values / LoA").
/// The defaults are ID-porten's own values; a node granted the "only notified eIDs" privilege
/// configures `no-notified-*` for the request side, as Digdir's proxy does.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LoaMapping {
    /// acr_values to send for eIDAS low, substantial, high.
    pub request_low: String,
    pub request_substantial: String,
    pub request_high: String,
    /// Returned `acr` values and the eIDAS level each proves.
    pub accept: Vec<(String, Level)>,
}

impl Default for LoaMapping {
    fn default() -> Self {
        LoaMapping {
            request_low: "idporten-loa-low".into(),
            request_substantial: "idporten-loa-substantial".into(),
            request_high: "idporten-loa-high".into(),
            accept: vec![
                ("idporten-loa-low".into(), Level::Low),
                ("idporten-loa-substantial".into(), Level::Substantial),
                ("idporten-loa-high".into(), Level::High),
            ],
        }
    }
}

impl LoaMapping {
    fn request_value(&self, l: Level) -> &str {
        match l {
            Level::Low => &self.request_low,
            Level::Substantial => &self.request_substantial,
            Level::High => &self.request_high,
        }
    }

    /// The `acr_values` for an eIDAS request: for `minimum`, the requested level; for `exact`,
    /// the lowest notified level listed (the eIDAS rules make every higher one listed too). A
    /// request of non-notified levels only cannot be met: Norway's eIDs are notified.
    pub fn acr_values(&self, requested: &RequestedAuthnContext) -> Result<String, AcrError> {
        let lowest = requested
            .levels
            .iter()
            .filter_map(LevelOfAssurance::notified_level)
            .min();
        match (requested.comparison, lowest) {
            (Comparison::Minimum | Comparison::Exact, Some(l)) => {
                Ok(self.request_value(l).to_string())
            }
            _ => Err(AcrError::CannotMeet(
                requested
                    .levels
                    .iter()
                    .map(|l| l.as_uri().to_string())
                    .collect(),
            )),
        }
    }

    /// The eIDAS level an ID-porten `acr` proves, refused when below the request — never a
    /// silent downgrade.
    pub fn achieved(
        &self,
        acr: &str,
        requested: &RequestedAuthnContext,
    ) -> Result<LevelOfAssurance, AcrError> {
        let level = self
            .accept
            .iter()
            .find(|(v, _)| v == acr)
            .map(|(_, l)| *l)
            .ok_or_else(|| AcrError::UnknownAcr(acr.to_string()))?;
        let loa = LevelOfAssurance::Notified(level);
        if !requested.satisfied_by(&loa) {
            return Err(AcrError::BelowRequested {
                requested: requested
                    .levels
                    .iter()
                    .map(|l| l.as_uri())
                    .collect::<Vec<_>>()
                    .join(" "),
                got: level,
            });
        }
        Ok(loa)
    }
}

fn random_b64url(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    // Without a working system RNG codes, tokens, state and nonce would be predictable: stop.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut b).expect("the system random number generator failed");
    URL_SAFE_NO_PAD.encode(b)
}

/// PKCE (RFC 7636) with S256: the verifier we keep, and the challenge we send.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl std::fmt::Debug for Pkce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pkce(S256)")
    }
}

impl Pkce {
    /// A fresh verifier of 32 random bytes (43 characters).
    pub fn new() -> Pkce {
        Self::from_verifier(random_b64url(32))
    }

    pub fn from_verifier(verifier: String) -> Pkce {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
        Pkce {
            challenge: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            verifier,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// A one-time `state` or `nonce`: 128 random bits, URL-safe.
pub fn one_time_value() -> String {
    random_b64url(16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimum(l: Level) -> RequestedAuthnContext {
        RequestedAuthnContext::minimum(l)
    }

    #[test]
    fn maps_eidas_levels_to_idporten_acr_values_and_back() {
        let m = LoaMapping::default();
        assert_eq!(
            m.acr_values(&minimum(Level::Substantial)).unwrap(),
            "idporten-loa-substantial"
        );
        assert_eq!(
            m.acr_values(&minimum(Level::High)).unwrap(),
            "idporten-loa-high"
        );
        assert_eq!(
            m.achieved("idporten-loa-high", &minimum(Level::Substantial))
                .unwrap(),
            LevelOfAssurance::Notified(Level::High),
            "a higher level than asked is fine"
        );
        assert_eq!(
            m.achieved("idporten-loa-substantial", &minimum(Level::Substantial))
                .unwrap(),
            LevelOfAssurance::Notified(Level::Substantial)
        );
    }

    #[test]
    fn a_returned_acr_below_the_request_is_refused_never_downgraded() {
        let m = LoaMapping::default();
        assert!(matches!(
            m.achieved("idporten-loa-substantial", &minimum(Level::High)),
            Err(AcrError::BelowRequested {
                got: Level::Substantial,
                ..
            })
        ));
        assert_eq!(
            m.achieved("Level4", &minimum(Level::Low)),
            Err(AcrError::UnknownAcr("Level4".into()))
        );
        assert_eq!(
            m.achieved("eidas-loa-high", &minimum(Level::Low)),
            Err(AcrError::UnknownAcr("eidas-loa-high".into())),
            "a foreign eID is not a Norwegian one"
        );
    }

    #[test]
    fn no_notified_values_can_be_configured_for_the_request_side() {
        let m = LoaMapping {
            request_substantial: "no-notified-substantial".into(),
            request_high: "no-notified-high".into(),
            ..LoaMapping::default()
        };
        assert_eq!(
            m.acr_values(&minimum(Level::High)).unwrap(),
            "no-notified-high"
        );
    }

    #[test]
    fn exact_requests_use_the_lowest_listed_notified_level_and_non_notified_only_cannot_be_met() {
        let m = LoaMapping::default();
        let exact = RequestedAuthnContext::parse(
            Some("exact"),
            [
                "http://eidas.europa.eu/NotNotified/LoA/high",
                "http://eidas.europa.eu/LoA/substantial",
                "http://eidas.europa.eu/LoA/high",
            ],
        )
        .unwrap();
        assert_eq!(m.acr_values(&exact).unwrap(), "idporten-loa-substantial");
        let only_non_notified = RequestedAuthnContext::parse(
            Some("exact"),
            ["http://eidas.europa.eu/NotNotified/LoA/high"],
        )
        .unwrap();
        assert!(matches!(
            m.acr_values(&only_non_notified),
            Err(AcrError::CannotMeet(_))
        ));
    }

    #[test]
    fn pkce_s256_matches_the_rfc_7636_example_and_values_are_fresh() {
        let p = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(p.challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let a = Pkce::new();
        assert_eq!(a.verifier.len(), 43);
        assert_ne!(a.verifier, Pkce::new().verifier);
        assert_ne!(one_time_value(), one_time_value());
        assert_eq!(one_time_value().len(), 22);
        assert_eq!(
            format!("{a:?}"),
            "Pkce(S256)",
            "the verifier stays out of logs"
        );
    }
}

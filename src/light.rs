//! The neutral middle (ARCHITECTURE.md "two edges and a neutral middle"): what was asked and
//! what came back, with no XML and no JWT in it. Front edges make a `light::Request` from their
//! protocol; back edges answer it with a `light::Response`.

use crate::eidas::loa::{LevelOfAssurance, RequestedAuthnContext};
use time::OffsetDateTime;

/// One attribute asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedAttribute {
    /// eIDAS Name URI.
    pub name: String,
    pub required: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub attributes: Vec<RequestedAttribute>,
    pub loa: RequestedAuthnContext,
    /// Country of the service the person logs in to (second part of PersonIdentifier).
    pub sp_country: String,
}

/// One attribute with its values (Latin script; transliteration pairs are the edge's concern).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub values: Vec<String>,
}

/// The person as authenticated.
#[derive(Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The eIDAS PersonIdentifier value (`NO/SE/…`).
    pub person_identifier: String,
    pub attributes: Vec<Attribute>,
    /// The LoA actually reached.
    pub loa: LevelOfAssurance,
    pub authn_instant: OffsetDateTime,
}

impl std::fmt::Debug for Authenticated {
    /// Personal data stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticated")
            .field("attributes", &self.attributes.len())
            .field("loa", &self.loa)
            .finish_non_exhaustive()
    }
}

/// Why there is no identity to hand back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The person cancelled (SAML RequestDenied).
    Cancelled,
    /// Authentication failed at the authenticator (AuthnFailed).
    AuthnFailed,
    /// The LoA reached is below what was asked (NoAuthnContext).
    LoaNotMet,
    /// A required attribute cannot be supplied (InvalidAttrNameOrValue).
    AttributeUnavailable,
    /// Something on our side (Responder).
    Internal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Response {
    Success(Authenticated),
    Failure(Failure),
}

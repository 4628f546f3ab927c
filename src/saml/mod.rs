//! SAML 2.0 messages and bindings: AuthnRequest, Response, Assertion, Status, NameIDPolicy, the
//! HTTP-POST and HTTP-Redirect bindings. Codecs only: no HTTP, no store, no eIDAS policy (that is
//! `eidas`). Messages are read only from a [`Trusted`] element — one whose signature verified, or
//! an assertion decrypted out of a verified Response (security invariant 2).

pub mod authn_request;
pub mod binding;
pub mod response;

use crate::xml::{Document, ElementRef, NodeId};
use crate::xmlsec::dsig::Verified;
use crate::xmlsec::redirect::RedirectVerified;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use authn_request::{AuthnRequest, NameIdPolicy, RequestedAttribute, RequestedAuthnContext};
pub use response::{
    Assertion, Attribute, AttributeValue, AuthnStatement, Conditions, NameId, Response, Status,
    SubjectConfirmation,
};

pub mod ns {
    pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    pub const EIDAS: &str = "http://eidas.europa.eu/saml-extensions";
    pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
    pub const XS: &str = "http://www.w3.org/2001/XMLSchema";
}

pub mod binding_uri {
    pub const HTTP_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    pub const HTTP_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
}

pub mod status {
    pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
    pub const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
    pub const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
    pub const VERSION_MISMATCH: &str = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch";
    pub const AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
    pub const INVALID_ATTR_NAME_OR_VALUE: &str =
        "urn:oasis:names:tc:SAML:2.0:status:InvalidAttrNameOrValue";
    pub const INVALID_NAMEID_POLICY: &str =
        "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
    pub const NO_AUTHN_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext";
    pub const REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
    pub const REQUEST_UNSUPPORTED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported";
}

pub const NAMEID_ENTITY: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity";
pub const ATTRNAME_FORMAT_URI: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri";
pub const CM_BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SamlError {
    #[error("expected {expected}, found {found}")]
    UnexpectedElement { expected: String, found: String },
    #[error("{element} lacks the required {what}")]
    Missing {
        element: &'static str,
        what: &'static str,
    },
    #[error("{element} has more than one {what}")]
    Duplicate {
        element: &'static str,
        what: &'static str,
    },
    #[error("{what} is not a valid {kind}: {value:?}")]
    BadValue {
        what: &'static str,
        kind: &'static str,
        value: String,
    },
    #[error("a Redirect-binding message must not carry an embedded ds:Signature")]
    EmbeddedSignatureInRedirect,
    #[error("binding: {0}")]
    Binding(String),
}

/// An element a message may be read from: covered by a verified signature (enveloped, or the
/// Redirect binding's query signature over the whole message), or decrypted from a verified
/// Response. There is no other way to obtain one.
#[derive(Clone, Copy, Debug)]
pub struct Trusted<'d> {
    element: ElementRef<'d>,
    /// The enveloped signature to skip when reading, if any.
    signature: Option<NodeId>,
    how: TrustKind,
}

/// How the element came to be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustKind {
    EnvelopedSignature,
    RedirectSignature,
    DecryptedFromVerifiedResponse,
    /// Read by the auditor's tools whatever its signature said; never accepted by the flows.
    UnverifiedForAudit,
}

impl<'d> Trusted<'d> {
    pub fn from_verified(v: &Verified<'d>) -> Self {
        Trusted {
            element: v.element(),
            signature: Some(v.signature_node()),
            how: TrustKind::EnvelopedSignature,
        }
    }

    /// The document element of a message whose Redirect query signature verified. The binding
    /// forbids an embedded signature as well.
    pub fn from_redirect(doc: &'d Document, _proof: &RedirectVerified) -> Result<Self, SamlError> {
        let root = doc.root_element();
        if root
            .first_child_named(crate::xmlsec::ns::DSIG, "Signature")
            .is_some()
        {
            return Err(SamlError::EmbeddedSignatureInRedirect);
        }
        Ok(Trusted {
            element: root,
            signature: None,
            how: TrustKind::RedirectSignature,
        })
    }

    /// An assertion decrypted out of a Response that was itself verified.
    pub(crate) fn decrypted(doc: &'d Document) -> Self {
        Trusted {
            element: doc.root_element(),
            signature: None,
            how: TrustKind::DecryptedFromVerifiedResponse,
        }
    }

    /// For the auditor's tools only (`audit`): read a message whose signature did not verify,
    /// to report on it. The flows refuse this kind.
    pub(crate) fn for_audit(element: ElementRef<'d>) -> Self {
        let signature = element
            .first_child_named(crate::xmlsec::ns::DSIG, "Signature")
            .map(|s| s.id());
        Trusted {
            element,
            signature,
            how: TrustKind::UnverifiedForAudit,
        }
    }

    pub fn element(&self) -> ElementRef<'d> {
        self.element
    }

    pub fn kind(&self) -> TrustKind {
        self.how
    }

    /// Child elements, without the enveloped signature.
    fn children(&self) -> impl Iterator<Item = ElementRef<'d>> + 'd {
        let sig = self.signature;
        self.element
            .child_elements()
            .filter(move |c| Some(c.id()) != sig)
    }
}

/// Parse an xs:dateTime (SAML requires UTC; offsets are accepted and normalized).
pub fn parse_instant(what: &'static str, s: &str) -> Result<OffsetDateTime, SamlError> {
    OffsetDateTime::parse(s.trim(), &Rfc3339).map_err(|_| SamlError::BadValue {
        what,
        kind: "xs:dateTime",
        value: s.to_string(),
    })
}

/// Format an instant as SAML writes it: UTC, millisecond precision, `Z`.
pub fn format_instant(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// A fresh SAML ID: `_` and 32 hex digits (128 random bits; xs:ID must not start with a digit).
pub fn new_id() -> String {
    let mut b = [0u8; 16];
    // Without a working system RNG nothing the node makes is safe (IDs, codes, tokens): stop.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut b).expect("the system random number generator failed");
    let mut s = String::with_capacity(33);
    s.push('_');
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    s
}

pub(crate) fn bool_attr(e: ElementRef<'_>, name: &'static str) -> Result<Option<bool>, SamlError> {
    match e.attr(name).map(str::trim) {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(v) => Err(SamlError::BadValue {
            what: name,
            kind: "xs:boolean",
            value: v.to_string(),
        }),
    }
}

pub(crate) fn one<'d>(
    mut it: impl Iterator<Item = ElementRef<'d>>,
    element: &'static str,
    what: &'static str,
) -> Result<Option<ElementRef<'d>>, SamlError> {
    let first = it.next();
    if first.is_some() && it.next().is_some() {
        return Err(SamlError::Duplicate { element, what });
    }
    Ok(first)
}

/// The Issuer of a message or assertion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issuer {
    pub value: String,
    pub format: Option<String>,
}

impl Issuer {
    pub(crate) fn read(e: ElementRef<'_>) -> Issuer {
        Issuer {
            value: e.text().trim().to_string(),
            format: e.attr("Format").map(str::to_string),
        }
    }

    pub(crate) fn write(&self, out: &mut String) {
        use crate::xml::write::{attr, text};
        out.push_str("<saml2:Issuer");
        if let Some(f) = &self.format {
            out.push_str(&format!(" Format=\"{}\"", attr(f)));
        }
        out.push('>');
        out.push_str(&text(&self.value));
        out.push_str("</saml2:Issuer>");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_round_trip_in_utc_with_milliseconds() {
        let t = parse_instant("IssueInstant", "2026-11-29T10:15:30.123+01:00").unwrap();
        assert_eq!(format_instant(t), "2026-11-29T09:15:30.123Z");
        assert!(parse_instant("IssueInstant", "29.11.2026").is_err());
    }

    #[test]
    fn new_ids_are_unpredictable_and_valid_xs_ids() {
        let a = new_id();
        let b = new_id();
        assert_ne!(a, b);
        assert!(a.starts_with('_') && a.len() == 33);
    }
}

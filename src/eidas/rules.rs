//! The rules a Proxy-Service applies to an AuthnRequest (eidas.md §6.5, §7 D–E) and a Connector
//! applies to a Response and its Assertion (§6.4, §7 H). Each rule is a [`Rule`] variant with a
//! stable id — the id of `conformance/rules.toml`, of log lines and of test names — its spec
//! clause, and the SAML status a Proxy-Service answers with when the rule fails.
//!
//! The checks are pure: the facts from metadata, configuration and the clock come in as a
//! context. Every failing rule is reported (an auditor wants them all); a flow acts on the first.

use super::loa::{LevelOfAssurance, LoaError, RequestedAuthnContext as Rac};
use super::nameid::NameIdFormat;
use super::person_identifier::PersonIdentifier;
use super::sp_type::{self, SpType, SpTypeError};
use crate::saml::{self, Assertion, AuthnRequest, Response, binding_uri, parse_instant, status};
use time::{Duration, OffsetDateTime};

macro_rules! rules {
    ($($variant:ident => $id:literal, $clause:literal, $status:expr, $title:literal;)*) => {
        /// A rule of the eIDAS profile that a message can break.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Rule { $($variant),* }

        impl Rule {
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            /// The stable id, as in conformance/rules.toml.
            pub fn id(self) -> &'static str {
                match self { $(Rule::$variant => $id),* }
            }

            /// The specification clause (eidas.md §7 numbering and document sections).
            pub fn clause(self) -> &'static str {
                match self { $(Rule::$variant => $clause),* }
            }

            /// (top-level, second-level) SAML status a Proxy-Service answers with.
            pub fn status(self) -> (&'static str, Option<&'static str>) {
                match self { $(Rule::$variant => $status),* }
            }

            pub fn title(self) -> &'static str {
                match self { $(Rule::$variant => $title),* }
            }
        }
    };
}

const REQ: (&str, Option<&str>) = (status::REQUESTER, None);
const REQ_DENIED: (&str, Option<&str>) = (status::REQUESTER, Some(status::REQUEST_DENIED));
const REQ_ATTR: (&str, Option<&str>) =
    (status::REQUESTER, Some(status::INVALID_ATTR_NAME_OR_VALUE));
const REQ_NAMEID: (&str, Option<&str>) = (status::REQUESTER, Some(status::INVALID_NAMEID_POLICY));
const REQ_AUTHN: (&str, Option<&str>) = (status::REQUESTER, Some(status::NO_AUTHN_CONTEXT));
const VERSION: (&str, Option<&str>) = (status::VERSION_MISMATCH, None);
/// Connector rules: no SAML answer goes back; the relying party gets an OIDC error.
const NONE: (&str, Option<&str>) = ("", None);

rules! {
    PsReqVersion => "PS-REQ-VERSION", "§7 E.49; SAML Core 3.2.2", VERSION, "Version must be 2.0";
    PsReqId => "PS-REQ-ID", "§7 E.50; SAML Core 3.2.1", REQ, "ID present and a valid xs:ID";
    PsReqIssueInstant => "PS-REQ-ISSUE-INSTANT", "§7 E.51; SAML Core 3.2.1", REQ, "IssueInstant present and fresh within the clock skew";
    PsReqDestination => "PS-REQ-DESTINATION", "§7 E.52; SAML Bindings 3.5.5.2", REQ, "Destination equals our SSO URL";
    PsReqIssuer => "PS-REQ-ISSUER", "§7 E.47; MF 2.1", REQ_DENIED, "Issuer present and equal to the Connector's entityID";
    PsReqIssuerFormat => "PS-REQ-ISSUER-FORMAT", "§7 E.48; MF 2.4.1", REQ, "Issuer Format absent or nameid-format:entity";
    PsReqForceAuthn => "PS-REQ-FORCEAUTHN", "§7 E.53; MF 2.4.1", REQ, "ForceAuthn present and true";
    PsReqIsPassive => "PS-REQ-ISPASSIVE", "§7 E.54; MF 2.4.1", REQ, "IsPassive present and false";
    PsReqProtocolBinding => "PS-REQ-PROTOCOL-BINDING", "§7 E.55; MF 2.5", REQ, "ProtocolBinding absent, HTTP-POST or HTTP-Redirect";
    PsReqAcsUrl => "PS-REQ-ACS-URL", "§7 E.56; SAML Core 3.4.1", REQ, "AssertionConsumerServiceURL absent or in the Connector's metadata";
    PsReqExtensions => "PS-REQ-EXTENSIONS", "§7 E.57; MF 2.4.1", REQ, "saml2p:Extensions present";
    PsReqSpTypeBoth => "PS-REQ-SPTYPE-BOTH", "§7 E.58; MF 1.2 2.4.1", REQ, "SPType not in both the request and the Connector metadata";
    PsReqSpTypeMissing => "PS-REQ-SPTYPE-MISSING", "§7 E.59; MF 1.2 2.4.1", REQ, "SPType in the request or the Connector metadata";
    PsReqSpTypeValue => "PS-REQ-SPTYPE-VALUE", "§7 E.60; MF 2.4.1 (XSD)", REQ, "SPType is public or private";
    PsReqRequestedAttributes => "PS-REQ-REQUESTED-ATTRIBUTES", "§7 E.61; MF 2.3", REQ_ATTR, "eidas:RequestedAttributes present and not empty";
    PsReqAttributeNameFormat => "PS-REQ-ATTRIBUTE-NAMEFORMAT", "§7 E.62; AP 2.1", REQ_ATTR, "RequestedAttribute NameFormat is attrname-format:uri";
    PsReqAttributeUnknown => "PS-REQ-ATTRIBUTE-UNKNOWN", "§7 E.63; MF 2.3", REQ_ATTR, "a required attribute is an eIDAS attribute";
    PsReqAttributeUnsupported => "PS-REQ-ATTRIBUTE-UNSUPPORTED", "§7 E.65; MF 2.3, AP 2.3", REQ_ATTR, "a required attribute is one we supply";
    PsReqMds => "PS-REQ-MDS", "§7 E.64; MF 2.3", REQ_ATTR, "the minimum data set of a person type is requested";
    PsReqAuthnContext => "PS-REQ-AUTHN-CONTEXT", "§7 E.66; MF 2.4.1", REQ_AUTHN, "RequestedAuthnContext present";
    PsReqLoaInvalid => "PS-REQ-LOA-INVALID", "§7 E.72; MF 1.2", REQ_AUTHN, "requested LoA URIs are valid";
    PsReqLoaComparison => "PS-REQ-LOA-COMPARISON", "§7 E.67-71, E.73; MF 2.4.1", REQ_AUTHN, "Comparison and LoAs follow the minimum/exact rules";
    PsReqLoaUnpublished => "PS-REQ-LOA-UNPUBLISHED", "§7 E.74; MF 2.4.1", REQ_AUTHN, "the requested LoA can be met by a LoA we publish";
    PsReqNameIdPolicy => "PS-REQ-NAMEID-POLICY", "§7 E.75; MF 2.2", REQ_NAMEID, "NameIDPolicy Format is persistent, transient or unspecified";
    PsReqConsent => "PS-REQ-CONSENT", "§7 E.76; SAML Core 8.4", REQ, "Consent absent or a SAML consent URI";
    PsReqRequesterId => "PS-REQ-REQUESTER-ID", "§7 E.77; MF 1.2", REQ, "RequesterID a URI of at most 1024 characters";
    PsReqRequesterIdMissing => "PS-REQ-REQUESTER-ID-MISSING", "§7 E.78; MF 1.2", REQ_DENIED, "a private SP's request carries a RequesterID when we demand it";
    PsReqSubject => "PS-REQ-SUBJECT", "§7 E.79; MF 2.4.1", REQ, "no saml2:Subject in the request";

    CnRespVersion => "CN-RESP-VERSION", "§7 H; SAML Core 3.2.2", NONE, "Response Version is 2.0";
    CnRespId => "CN-RESP-ID", "§7 H; SAML Core 3.2.2", NONE, "Response ID present";
    CnRespIssueInstant => "CN-RESP-ISSUE-INSTANT", "§6.4; SAML Core 3.2.2", NONE, "Response IssueInstant present and fresh";
    CnRespDestination => "CN-RESP-DESTINATION", "§7 H.124; SAML Bindings 3.5.5.2", NONE, "Destination equals our ACS URL";
    CnRespInResponseTo => "CN-RESP-IN-RESPONSE-TO", "§7 H.123; MF 2.4.2", NONE, "InResponseTo is the request we sent";
    CnRespIssuer => "CN-RESP-ISSUER", "§7 H.128; MF 2.4.2", NONE, "Issuer is the Proxy-Service the request went to";
    CnRespStatus => "CN-RESP-STATUS", "§6.4; MF 2.5", NONE, "Status present with a SAML status code";
    CnRespEncryptedAssertion => "CN-RESP-ENCRYPTED-ASSERTION", "§7 H.120, H.122; MF 2.4.2", NONE, "a success carries exactly one EncryptedAssertion and no plaintext assertion";
    CnRespNodeCountry => "CN-RESP-NODE-COUNTRY", "§7 H.131; MF 1.2 2.1", NONE, "the Proxy-Service's NodeCountry is the citizen country";
    CnAssertIssuer => "CN-ASSERT-ISSUER", "§7 H.128; MF 2.4.2", NONE, "assertion Issuer is the Proxy-Service, Format entity";
    CnAssertBasics => "CN-ASSERT-BASICS", "§7 F.93; MF 2.4.2", NONE, "assertion ID, Version 2.0 and IssueInstant present";
    CnAssertSigned => "CN-ASSERT-SIGNED", "§7 F.92; MF 2.4.2", NONE, "the assertion is signed (when the policy requires it)";
    CnAssertNameId => "CN-ASSERT-NAMEID", "§7 F.94; MF 2.2", NONE, "NameID present with an eIDAS format";
    CnAssertBearer => "CN-ASSERT-BEARER", "§7 H.127; MF 2.4.2", NONE, "exactly one bearer SubjectConfirmation";
    CnAssertRecipient => "CN-ASSERT-RECIPIENT", "§7 H.124; SAML Profiles 4.1.4.3", NONE, "SubjectConfirmationData Recipient is our ACS and InResponseTo our request";
    CnAssertConfirmationExpired => "CN-ASSERT-CONFIRMATION-EXPIRED", "§7 H.126; SAML Profiles 4.1.4.3", NONE, "SubjectConfirmationData NotOnOrAfter in the future";
    CnAssertConditions => "CN-ASSERT-CONDITIONS", "§7 H.126; MF 2.4.2", NONE, "Conditions NotBefore/NotOnOrAfter present and holding now (with skew)";
    CnAssertAudience => "CN-ASSERT-AUDIENCE", "§7 H.125; MF 2.4.2", NONE, "the Audience is our entityID";
    CnAssertAuthnStatement => "CN-ASSERT-AUTHN-STATEMENT", "§7 H.122; MF 2.4.2", NONE, "exactly one AuthnStatement with AuthnInstant and one LoA";
    CnAssertAttributeStatement => "CN-ASSERT-ATTRIBUTE-STATEMENT", "§7 H.122; MF 2.4.2", NONE, "exactly one AttributeStatement";
    CnAssertLoa => "CN-ASSERT-LOA", "§7 H.129; MF 2.4.2", NONE, "the LoA satisfies the request and is published by the Proxy-Service";
    CnAssertRequiredAttributes => "CN-ASSERT-REQUIRED-ATTRIBUTES", "§7 H.132; MF 2.3", NONE, "every required attribute is present";
    CnAssertAttributeFormat => "CN-ASSERT-ATTRIBUTE-FORMAT", "§7 F.99; AP 2.1", NONE, "attributes use NameFormat uri, values their attribute's format and the LatinScript rules";
    CnAssertPersonIdentifier => "CN-ASSERT-PERSON-IDENTIFIER", "§7 H.130; AP 2.2", NONE, "PersonIdentifier CC/CC/id with the citizen country first and ours second";
}

/// One broken rule and what exactly was wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.rule.id(), self.detail)
    }
}

/// The binding a request arrived by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    Post,
    Redirect,
}

/// What a Proxy-Service knows when it checks an AuthnRequest.
#[derive(Clone, Debug)]
pub struct PsRequestContext<'a> {
    pub now: OffsetDateTime,
    pub skew: Duration,
    /// How old an IssueInstant may be.
    pub max_age: Duration,
    pub our_sso_url: &'a str,
    pub connector_entity_id: &'a str,
    pub connector_acs_urls: &'a [String],
    pub connector_sp_type: Option<&'a str>,
    pub published_loas: &'a [String],
    pub supported_attributes: &'a [String],
    pub requester_id_demanded: bool,
}

const CONSENT_VALUES: [&str; 7] = [
    "urn:oasis:names:tc:SAML:2.0:consent:obtained",
    "urn:oasis:names:tc:SAML:2.0:consent:prior",
    "urn:oasis:names:tc:SAML:2.0:consent:current-implicit",
    "urn:oasis:names:tc:SAML:2.0:consent:current-explicit",
    "urn:oasis:names:tc:SAML:2.0:consent:unspecified",
    "urn:oasis:names:tc:SAML:2.0:consent:unavailable",
    "urn:oasis:names:tc:SAML:2.0:consent:inapplicable",
];

/// Whether `has` holds for the whole minimum data set of the natural or the legal person.
pub(crate) fn covers_an_mds(has: impl Fn(&str) -> bool) -> bool {
    use crate::eidas::attributes::{PersonType, mds};
    [PersonType::NaturalPerson, PersonType::LegalPerson]
        .into_iter()
        .any(|t| mds(t).all(|a| has(a.name)))
}

/// An xs:ID is an NCName: a name start character, then name characters, no colon.
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    let ok_start = |c: char| c.is_alphabetic() || c == '_';
    let ok = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    chars.next().is_some_and(ok_start) && chars.all(ok)
}

struct Out(Vec<Violation>);

impl Out {
    fn fail(&mut self, rule: Rule, detail: impl Into<String>) {
        self.0.push(Violation {
            rule,
            detail: detail.into(),
        });
    }
}

fn check_instant(
    out: &mut Out,
    rule: Rule,
    what: &'static str,
    value: Option<&str>,
    now: OffsetDateTime,
    skew: Duration,
    max_age: Duration,
) {
    match value.map(|v| parse_instant(what, v)) {
        None => out.fail(rule, format!("{what} is missing")),
        Some(Err(e)) => out.fail(rule, e.to_string()),
        Some(Ok(t)) if t > now + skew => out.fail(rule, format!("{what} is in the future")),
        Some(Ok(t)) if t < now - max_age - skew => {
            out.fail(rule, format!("{what} is older than {max_age}"))
        }
        Some(Ok(_)) => {}
    }
}

/// The Proxy-Service's rules for an AuthnRequest whose signature verified.
pub fn check_authn_request(r: &AuthnRequest, ctx: &PsRequestContext<'_>) -> Vec<Violation> {
    let mut out = Out(Vec::new());
    if r.version.as_deref() != Some("2.0") {
        out.fail(Rule::PsReqVersion, format!("Version is {:?}", r.version));
    }
    match &r.id {
        Some(id) if is_ncname(id) => {}
        Some(id) => out.fail(Rule::PsReqId, format!("ID {id:?} is not a valid xs:ID")),
        None => out.fail(Rule::PsReqId, "ID is missing"),
    }
    check_instant(
        &mut out,
        Rule::PsReqIssueInstant,
        "IssueInstant",
        r.issue_instant.as_deref(),
        ctx.now,
        ctx.skew,
        ctx.max_age,
    );
    match &r.destination {
        Some(d) if d == ctx.our_sso_url => {}
        Some(d) => out.fail(
            Rule::PsReqDestination,
            format!("Destination {d:?} is not {}", ctx.our_sso_url),
        ),
        None => out.fail(Rule::PsReqDestination, "Destination is missing"),
    }
    match &r.issuer {
        Some(i) if i.value == ctx.connector_entity_id => {}
        Some(i) => out.fail(
            Rule::PsReqIssuer,
            format!("Issuer {:?} is not {}", i.value, ctx.connector_entity_id),
        ),
        None => out.fail(Rule::PsReqIssuer, "Issuer is missing"),
    }
    if let Some(f) = r.issuer.as_ref().and_then(|i| i.format.as_deref())
        && f != saml::NAMEID_ENTITY
    {
        out.fail(Rule::PsReqIssuerFormat, format!("Issuer Format {f:?}"));
    }
    if r.force_authn != Some(true) {
        out.fail(
            Rule::PsReqForceAuthn,
            format!("ForceAuthn is {:?}", r.force_authn),
        );
    }
    if r.is_passive != Some(false) {
        out.fail(
            Rule::PsReqIsPassive,
            format!("IsPassive is {:?}", r.is_passive),
        );
    }
    if let Some(b) = &r.protocol_binding
        && b != binding_uri::HTTP_POST
        && b != binding_uri::HTTP_REDIRECT
    {
        out.fail(Rule::PsReqProtocolBinding, format!("ProtocolBinding {b}"));
    }
    if let Some(acs) = &r.assertion_consumer_service_url
        && !ctx.connector_acs_urls.contains(acs)
    {
        out.fail(
            Rule::PsReqAcsUrl,
            format!("AssertionConsumerServiceURL {acs} is not in the Connector's metadata"),
        );
    }
    if r.has_subject {
        out.fail(Rule::PsReqSubject, "the request names a saml2:Subject");
    }
    let Some(x) = &r.extensions else {
        out.fail(Rule::PsReqExtensions, "saml2p:Extensions is missing");
        return out.0;
    };

    // SPType: in exactly one of request and metadata, and a valid value.
    let parse = |v: Option<&str>, rule: Rule, out: &mut Out| match v.map(SpType::parse) {
        Some(Ok(t)) => Some(Some(t)),
        Some(Err(e)) => {
            out.fail(rule, e.to_string());
            None
        }
        None => Some(None),
    };
    let req_t = parse(x.sp_type.as_deref(), Rule::PsReqSpTypeValue, &mut out);
    let md_t = parse(ctx.connector_sp_type, Rule::PsReqSpTypeValue, &mut out);
    let sp_type = match (req_t, md_t) {
        (Some(a), Some(b)) => match sp_type::effective(a, b) {
            Ok(t) => Some(t),
            Err(SpTypeError::InBothRequestAndMetadata) => {
                out.fail(
                    Rule::PsReqSpTypeBoth,
                    "SPType is in the request and in the Connector's metadata",
                );
                None
            }
            Err(e) => {
                out.fail(Rule::PsReqSpTypeMissing, e.to_string());
                None
            }
        },
        _ => None,
    };
    if ctx.requester_id_demanded && sp_type == Some(SpType::Private) && r.requester_ids.is_empty() {
        out.fail(
            Rule::PsReqRequesterIdMissing,
            "a private SP's request has no RequesterID",
        );
    }
    for id in &r.requester_ids {
        if id.len() > 1024 || !id.contains(':') || id.chars().any(char::is_whitespace) {
            out.fail(
                Rule::PsReqRequesterId,
                format!(
                    "RequesterID {:?} is not a URI of at most 1024 characters",
                    id.chars().take(80).collect::<String>()
                ),
            );
        }
    }

    match &x.requested_attributes {
        None => out.fail(
            Rule::PsReqRequestedAttributes,
            "eidas:RequestedAttributes is missing",
        ),
        Some(list) if list.is_empty() => out.fail(
            Rule::PsReqRequestedAttributes,
            "eidas:RequestedAttributes is empty",
        ),
        Some(list) => {
            for a in list {
                if a.name_format.as_deref() != Some(saml::ATTRNAME_FORMAT_URI) {
                    out.fail(
                        Rule::PsReqAttributeNameFormat,
                        format!("{}: NameFormat {:?}", a.name, a.name_format),
                    );
                }
                if a.is_required == Some(true) {
                    if super::attributes::by_name(&a.name).is_none() {
                        out.fail(
                            Rule::PsReqAttributeUnknown,
                            format!("{} is not an eIDAS attribute", a.name),
                        );
                    } else if !ctx.supported_attributes.contains(&a.name) {
                        out.fail(
                            Rule::PsReqAttributeUnsupported,
                            format!(
                                "{} is required but not supplied by this Proxy-Service",
                                a.name
                            ),
                        );
                    }
                }
            }
            let asked = |n: &str| list.iter().any(|a| a.name == n);
            if !covers_an_mds(asked) {
                out.fail(
                    Rule::PsReqMds,
                    "neither the natural- nor the legal-person minimum data set is requested",
                );
            }
        }
    }

    match &r.requested_authn_context {
        None => out.fail(Rule::PsReqAuthnContext, "RequestedAuthnContext is missing"),
        Some(c) => match Rac::parse(c.comparison.as_deref(), &c.class_refs) {
            Err(
                e @ (LoaError::EmptyLoa
                | LoaError::LoaNotAUri(_)
                | LoaError::LegacyNotNotifiedAlias(_)
                | LoaError::InvalidEidasLoa(_)),
            ) => out.fail(Rule::PsReqLoaInvalid, e.to_string()),
            Err(e) => out.fail(Rule::PsReqLoaComparison, e.to_string()),
            Ok(rac) => match rac.validate() {
                Err(e) => out.fail(Rule::PsReqLoaComparison, e.to_string()),
                Ok(()) => {
                    let met = ctx
                        .published_loas
                        .iter()
                        .filter_map(|p| LevelOfAssurance::parse(p).ok())
                        .any(|p| rac.satisfied_by(&p));
                    if !met {
                        out.fail(
                            Rule::PsReqLoaUnpublished,
                            "no LoA we publish meets the request",
                        );
                    }
                }
            },
        },
    }
    if let Some(f) = r.name_id_policy.as_ref().and_then(|p| p.format.as_deref())
        && let Err(e) = NameIdFormat::parse(f)
    {
        out.fail(Rule::PsReqNameIdPolicy, e.to_string());
    }
    if let Some(c) = &r.consent
        && !CONSENT_VALUES.contains(&c.as_str())
    {
        out.fail(Rule::PsReqConsent, format!("Consent {c:?}"));
    }
    out.0
}

/// What a Connector knows when it checks a Response to one of its requests.
#[derive(Clone, Debug)]
pub struct CnResponseContext<'a> {
    pub now: OffsetDateTime,
    pub skew: Duration,
    pub max_age: Duration,
    pub our_acs_url: &'a str,
    pub our_entity_id: &'a str,
    /// The Proxy-Service the request went to.
    pub proxy_service_entity_id: &'a str,
    pub proxy_service_node_country: Option<&'a str>,
    pub published_loas: &'a [String],
    pub request_id: &'a str,
    pub requested: &'a Rac,
    /// The country the person chose (the Proxy-Service's country).
    pub citizen_country: &'a str,
    /// Our country (second part of PersonIdentifier).
    pub our_country: &'a str,
    pub required_attributes: &'a [String],
    pub require_signed_assertion: bool,
    /// When our request was issued: with ForceAuthn the person authenticates after it, so an
    /// earlier AuthnInstant is refused. None: not checked (a tool without the request).
    pub request_issued: Option<OffsetDateTime>,
}

/// The Connector's rules for a Response whose signature verified (and its decrypted Assertion,
/// when the status is Success).
pub fn check_response(
    r: &Response,
    assertion: Option<&Assertion>,
    ctx: &CnResponseContext<'_>,
) -> Vec<Violation> {
    let mut out = Out(Vec::new());
    if r.version.as_deref() != Some("2.0") {
        out.fail(Rule::CnRespVersion, format!("Version is {:?}", r.version));
    }
    if r.id.as_deref().is_none_or(|i| !is_ncname(i)) {
        out.fail(Rule::CnRespId, format!("ID {:?}", r.id));
    }
    check_instant(
        &mut out,
        Rule::CnRespIssueInstant,
        "IssueInstant",
        r.issue_instant.as_deref(),
        ctx.now,
        ctx.skew,
        ctx.max_age,
    );
    if r.destination.as_deref() != Some(ctx.our_acs_url) {
        out.fail(
            Rule::CnRespDestination,
            format!("Destination {:?} is not {}", r.destination, ctx.our_acs_url),
        );
    }
    if r.in_response_to.as_deref() != Some(ctx.request_id) {
        out.fail(
            Rule::CnRespInResponseTo,
            format!(
                "InResponseTo {:?} is not our request {}",
                r.in_response_to, ctx.request_id
            ),
        );
    }
    match &r.issuer {
        Some(i)
            if i.value == ctx.proxy_service_entity_id
                && i.format.as_deref().is_none_or(|f| f == saml::NAMEID_ENTITY) => {}
        other => out.fail(
            Rule::CnRespIssuer,
            format!(
                "Issuer {:?} is not {}",
                other.as_ref().map(|i| &i.value),
                ctx.proxy_service_entity_id
            ),
        ),
    }
    if let Some(nc) = ctx.proxy_service_node_country
        && nc != ctx.citizen_country
    {
        out.fail(
            Rule::CnRespNodeCountry,
            format!(
                "NodeCountry {nc} is not the chosen country {}",
                ctx.citizen_country
            ),
        );
    }
    let success = match r.status.as_ref().and_then(|s| s.code.as_deref()) {
        Some(status::SUCCESS) => true,
        Some(c) if c.starts_with("urn:oasis:names:tc:SAML:2.0:status:") => false,
        other => {
            out.fail(Rule::CnRespStatus, format!("status code {other:?}"));
            false
        }
    };
    if !success {
        return out.0;
    }
    if r.encrypted_assertions.len() != 1 || !r.assertions.is_empty() {
        out.fail(
            Rule::CnRespEncryptedAssertion,
            format!(
                "{} encrypted and {} plaintext assertions",
                r.encrypted_assertions.len(),
                r.assertions.len()
            ),
        );
    }
    if let Some(a) = assertion {
        check_assertion(&mut out, a, ctx);
    }
    out.0
}

fn check_assertion(out: &mut Out, a: &Assertion, ctx: &CnResponseContext<'_>) {
    match &a.issuer {
        Some(i)
            if i.value == ctx.proxy_service_entity_id
                && i.format.as_deref().is_none_or(|f| f == saml::NAMEID_ENTITY) => {}
        other => out.fail(
            Rule::CnAssertIssuer,
            format!("assertion Issuer {:?}", other.as_ref().map(|i| &i.value)),
        ),
    }
    if a.id.as_deref().is_none_or(|i| !is_ncname(i))
        || a.version.as_deref() != Some("2.0")
        || a.issue_instant.is_none()
    {
        out.fail(
            Rule::CnAssertBasics,
            format!(
                "ID {:?}, Version {:?}, IssueInstant {:?}",
                a.id, a.version, a.issue_instant
            ),
        );
    }
    if a.issue_instant.is_some() {
        check_instant(
            out,
            Rule::CnAssertBasics,
            "assertion IssueInstant",
            a.issue_instant.as_deref(),
            ctx.now,
            ctx.skew,
            ctx.max_age,
        );
    }
    if ctx.require_signed_assertion && !a.signed {
        out.fail(Rule::CnAssertSigned, "the assertion is not signed");
    }
    match &a.name_id {
        None => out.fail(Rule::CnAssertNameId, "no NameID"),
        Some(n) => {
            if let Some(f) = &n.format
                && let Err(e) = NameIdFormat::parse(f)
            {
                out.fail(Rule::CnAssertNameId, e.to_string());
            }
            if n.value.trim().is_empty() {
                out.fail(Rule::CnAssertNameId, "NameID is empty");
            }
        }
    }
    let bearer: Vec<_> = a
        .subject_confirmations
        .iter()
        .filter(|s| s.method.as_deref() == Some(saml::CM_BEARER))
        .collect();
    if bearer.len() != 1 || a.subject_confirmations.len() != 1 {
        out.fail(
            Rule::CnAssertBearer,
            format!(
                "{} SubjectConfirmations, {} of them bearer",
                a.subject_confirmations.len(),
                bearer.len()
            ),
        );
    }
    for sc in bearer {
        if sc.recipient.as_deref() != Some(ctx.our_acs_url)
            || sc.in_response_to.as_deref() != Some(ctx.request_id)
        {
            out.fail(
                Rule::CnAssertRecipient,
                format!(
                    "Recipient {:?}, InResponseTo {:?}",
                    sc.recipient, sc.in_response_to
                ),
            );
        }
        match sc
            .not_on_or_after
            .as_deref()
            .map(|v| parse_instant("NotOnOrAfter", v))
        {
            Some(Ok(t)) if t + ctx.skew > ctx.now => {}
            Some(Ok(_)) => out.fail(
                Rule::CnAssertConfirmationExpired,
                "SubjectConfirmationData NotOnOrAfter has passed",
            ),
            Some(Err(e)) => out.fail(Rule::CnAssertConfirmationExpired, e.to_string()),
            None => out.fail(
                Rule::CnAssertConfirmationExpired,
                "SubjectConfirmationData has no NotOnOrAfter",
            ),
        }
    }
    match (&a.conditions, a.conditions_count) {
        (Some(c), 1) => {
            let nb = c
                .not_before
                .as_deref()
                .map(|v| parse_instant("NotBefore", v));
            let na = c
                .not_on_or_after
                .as_deref()
                .map(|v| parse_instant("NotOnOrAfter", v));
            match (nb, na) {
                (Some(Ok(nb)), Some(Ok(na))) => {
                    if nb > ctx.now + ctx.skew {
                        out.fail(
                            Rule::CnAssertConditions,
                            "Conditions NotBefore is in the future",
                        );
                    }
                    if na + ctx.skew <= ctx.now {
                        out.fail(
                            Rule::CnAssertConditions,
                            "Conditions NotOnOrAfter has passed",
                        );
                    }
                }
                _ => out.fail(
                    Rule::CnAssertConditions,
                    "Conditions lack a valid NotBefore and NotOnOrAfter",
                ),
            }
            let ours = c
                .audience_restrictions
                .iter()
                .all(|ar| ar.iter().any(|x| x == ctx.our_entity_id));
            if c.audience_restrictions.is_empty() || !ours {
                out.fail(
                    Rule::CnAssertAudience,
                    format!(
                        "audiences {:?} do not name {}",
                        c.audience_restrictions, ctx.our_entity_id
                    ),
                );
            }
        }
        (_, n) => out.fail(Rule::CnAssertConditions, format!("{n} Conditions elements")),
    }
    match a.authn_statements.as_slice() {
        [st] if st.authn_instant.is_some() && st.class_refs.len() == 1 => {
            match st
                .authn_instant
                .as_deref()
                .map(|t| parse_instant("AuthnInstant", t))
            {
                Some(Ok(t)) if t > ctx.now + ctx.skew => out.fail(
                    Rule::CnAssertAuthnStatement,
                    "AuthnInstant is in the future",
                ),
                Some(Ok(t)) if ctx.request_issued.is_some_and(|r| t < r - ctx.skew) => out.fail(
                    Rule::CnAssertAuthnStatement,
                    "AuthnInstant is before our request: not a fresh authentication (ForceAuthn)",
                ),
                Some(Ok(_)) => {}
                Some(Err(e)) => out.fail(Rule::CnAssertAuthnStatement, e.to_string()),
                None => {}
            }
            let achieved = LevelOfAssurance::parse(&st.class_refs[0]);
            let published = ctx.published_loas.iter().any(|p| p == &st.class_refs[0]);
            match achieved {
                Ok(l) if ctx.requested.satisfied_by(&l) && published => {}
                Ok(l) => out.fail(
                    Rule::CnAssertLoa,
                    format!(
                        "LoA {l} does not meet the request or is not published by the Proxy-Service"
                    ),
                ),
                Err(e) => out.fail(Rule::CnAssertLoa, e.to_string()),
            }
        }
        s => out.fail(
            Rule::CnAssertAuthnStatement,
            format!(
                "{} AuthnStatements, or one without AuthnInstant and exactly one LoA",
                s.len()
            ),
        ),
    }
    let attributes = match a.attribute_statements.as_slice() {
        [one] => one.as_slice(),
        s => {
            out.fail(
                Rule::CnAssertAttributeStatement,
                format!("{} AttributeStatements", s.len()),
            );
            return;
        }
    };
    for at in attributes {
        if at
            .name_format
            .as_deref()
            .is_some_and(|f| f != saml::ATTRNAME_FORMAT_URI)
        {
            out.fail(
                Rule::CnAssertAttributeFormat,
                format!("{}: NameFormat {:?}", at.name, at.name_format),
            );
        }
        // Each value in its attribute's format (trimmed: some nodes pad values), and the
        // LatinScript rules. The errors never carry the value.
        if let Some(def) = super::attributes::by_name(&at.name) {
            for v in &at.values {
                if let Err(e) =
                    def.check_value(v.value.trim(), &[], super::attributes::Strictness::Lenient)
                {
                    out.fail(
                        Rule::CnAssertAttributeFormat,
                        format!("{}: {e}", def.friendly_name),
                    );
                }
            }
            let values: Vec<super::attributes::AttributeValue> = at
                .values
                .iter()
                .map(|v| match v.latin_script {
                    Some(false) => super::attributes::AttributeValue::non_latin(v.value.trim()),
                    _ => super::attributes::AttributeValue::latin(v.value.trim()),
                })
                .collect();
            if let Err(e) = def.check_transliteration(&values) {
                out.fail(
                    Rule::CnAssertAttributeFormat,
                    format!("{}: {e}", def.friendly_name),
                );
            }
        }
    }
    for req in ctx.required_attributes {
        if !attributes
            .iter()
            .any(|x| &x.name == req && !x.values.is_empty())
        {
            out.fail(
                Rule::CnAssertRequiredAttributes,
                format!("{req} is missing"),
            );
        }
    }
    for name in ["PersonIdentifier", "LegalPersonIdentifier"] {
        let ns = if name == "PersonIdentifier" {
            "naturalperson"
        } else {
            "legalperson"
        };
        let full = format!("http://eidas.europa.eu/attributes/{ns}/{name}");
        for at in attributes.iter().filter(|x| x.name == full) {
            for v in &at.values {
                let check = PersonIdentifier::parse(v.value.trim()).and_then(|p| {
                    p.check_issuer(ctx.citizen_country)?;
                    p.check_destination(ctx.our_country)?;
                    Ok(p)
                });
                if let Err(e) = check {
                    out.fail(
                        Rule::CnAssertPersonIdentifier,
                        // The error names countries only: the identifier stays out of logs.
                        format!("{name}: {e}"),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::authn_request::{
        Extensions, NameIdPolicy, RequestedAttribute, RequestedAuthnContext,
    };
    use crate::saml::response::{
        AttributeValue, AuthnStatement, Conditions, NameId, SubjectConfirmation,
    };
    use crate::saml::{Attribute, Issuer, Status};
    use std::collections::HashSet;

    fn mds_natural() -> Vec<&'static str> {
        crate::eidas::attributes::mds(crate::eidas::attributes::PersonType::NaturalPerson)
            .map(|a| a.name)
            .collect()
    }

    const NOW: &str = "2026-11-29T10:00:00Z";
    const SSO: &str = "https://eidas.example.no/ps/sso";
    const CN: &str = "https://cn.example.se/metadata";
    const ACS: &str = "https://cn.example.se/acs";

    fn now() -> OffsetDateTime {
        parse_instant("now", NOW).unwrap()
    }

    fn request() -> AuthnRequest {
        AuthnRequest {
            id: Some("_req1".into()),
            version: Some("2.0".into()),
            issue_instant: Some("2026-11-29T09:59:50Z".into()),
            destination: Some(SSO.into()),
            force_authn: Some(true),
            is_passive: Some(false),
            issuer: Some(Issuer {
                value: CN.into(),
                format: Some(saml::NAMEID_ENTITY.into()),
            }),
            extensions: Some(Extensions {
                sp_type: Some("public".into()),
                requested_attributes: Some(
                    mds_natural()
                        .iter()
                        .map(|n| RequestedAttribute {
                            name: n.to_string(),
                            name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
                            friendly_name: None,
                            is_required: Some(true),
                            values: vec![],
                        })
                        .collect(),
                ),
            }),
            name_id_policy: Some(NameIdPolicy {
                format: Some(super::super::nameid::PERSISTENT.into()),
                allow_create: Some(true),
                sp_name_qualifier: None,
            }),
            requested_authn_context: Some(RequestedAuthnContext {
                comparison: Some("minimum".into()),
                class_refs: vec!["http://eidas.europa.eu/LoA/substantial".into()],
            }),
            ..AuthnRequest::default()
        }
    }

    struct Facts {
        acs: Vec<String>,
        loas: Vec<String>,
        attrs: Vec<String>,
    }

    fn facts() -> Facts {
        Facts {
            acs: vec![ACS.into()],
            loas: vec![
                "http://eidas.europa.eu/LoA/substantial".into(),
                "http://eidas.europa.eu/LoA/high".into(),
            ],
            attrs: mds_natural().iter().map(|s| s.to_string()).collect(),
        }
    }

    fn ps_ctx<'a>(f: &'a Facts, sp_type: Option<&'a str>, demanded: bool) -> PsRequestContext<'a> {
        PsRequestContext {
            now: now(),
            skew: Duration::seconds(60),
            max_age: Duration::minutes(5),
            our_sso_url: SSO,
            connector_entity_id: CN,
            connector_acs_urls: &f.acs,
            connector_sp_type: sp_type,
            published_loas: &f.loas,
            supported_attributes: &f.attrs,
            requester_id_demanded: demanded,
        }
    }

    fn ps_fired(r: &AuthnRequest, ctx: &PsRequestContext<'_>) -> Vec<Rule> {
        check_authn_request(r, ctx)
            .into_iter()
            .map(|v| v.rule)
            .collect()
    }

    /// Each case: a change to the good request (and context) and the one rule it must fire.
    #[test]
    fn every_proxy_service_rule_fires_on_its_own_breach_and_not_otherwise() {
        let f = facts();
        let base = ps_ctx(&f, None, false);
        assert_eq!(ps_fired(&request(), &base), [], "the good request passes");
        type Mutate = fn(&mut AuthnRequest);
        let cases: Vec<(Rule, Mutate)> = vec![
            (Rule::PsReqVersion, |r| r.version = Some("1.1".into())),
            (Rule::PsReqId, |r| r.id = Some("1abc".into())),
            (Rule::PsReqIssueInstant, |r| {
                r.issue_instant = Some("2026-11-29T09:50:00Z".into())
            }),
            (Rule::PsReqDestination, |r| {
                r.destination = Some("https://other.example/sso".into())
            }),
            (Rule::PsReqIssuer, |r| {
                r.issuer.as_mut().unwrap().value = "https://evil.example/md".into()
            }),
            (Rule::PsReqIssuerFormat, |r| {
                r.issuer.as_mut().unwrap().format =
                    Some("urn:oasis:names:tc:SAML:2.0:nameid-format:transient".into())
            }),
            (Rule::PsReqForceAuthn, |r| r.force_authn = None),
            (Rule::PsReqIsPassive, |r| r.is_passive = Some(true)),
            (Rule::PsReqProtocolBinding, |r| {
                r.protocol_binding =
                    Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact".into())
            }),
            (Rule::PsReqAcsUrl, |r| {
                r.assertion_consumer_service_url = Some("https://evil.example/acs".into())
            }),
            (Rule::PsReqExtensions, |r| r.extensions = None),
            (Rule::PsReqSpTypeMissing, |r| {
                r.extensions.as_mut().unwrap().sp_type = None
            }),
            (Rule::PsReqSpTypeValue, |r| {
                r.extensions.as_mut().unwrap().sp_type = Some("Public".into())
            }),
            (Rule::PsReqRequestedAttributes, |r| {
                r.extensions.as_mut().unwrap().requested_attributes = Some(vec![])
            }),
            (Rule::PsReqAttributeNameFormat, |r| {
                r.extensions
                    .as_mut()
                    .unwrap()
                    .requested_attributes
                    .as_mut()
                    .unwrap()[0]
                    .name_format = Some("urn:oasis:names:tc:SAML:2.0:attrname-format:basic".into())
            }),
            (Rule::PsReqAttributeUnknown, |r| {
                r.extensions
                    .as_mut()
                    .unwrap()
                    .requested_attributes
                    .as_mut()
                    .unwrap()
                    .push(RequestedAttribute {
                        name: "http://example.org/ShoeSize".into(),
                        name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
                        is_required: Some(true),
                        ..RequestedAttribute::default()
                    })
            }),
            (Rule::PsReqAttributeUnsupported, |r| {
                r.extensions
                    .as_mut()
                    .unwrap()
                    .requested_attributes
                    .as_mut()
                    .unwrap()
                    .push(RequestedAttribute {
                        name: "http://eidas.europa.eu/attributes/naturalperson/PlaceOfBirth".into(),
                        name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
                        is_required: Some(true),
                        ..RequestedAttribute::default()
                    })
            }),
            (Rule::PsReqMds, |r| {
                r.extensions
                    .as_mut()
                    .unwrap()
                    .requested_attributes
                    .as_mut()
                    .unwrap()
                    .pop();
            }),
            (Rule::PsReqAuthnContext, |r| {
                r.requested_authn_context = None
            }),
            (Rule::PsReqLoaInvalid, |r| {
                r.requested_authn_context.as_mut().unwrap().class_refs =
                    vec!["http://eidas.europa.eu/LoA/NotNotified/high".into()]
            }),
            (Rule::PsReqLoaComparison, |r| {
                r.requested_authn_context.as_mut().unwrap().comparison = Some("maximum".into())
            }),
            (Rule::PsReqNameIdPolicy, |r| {
                r.name_id_policy.as_mut().unwrap().format =
                    Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into())
            }),
            (Rule::PsReqConsent, |r| {
                r.consent = Some("yes please".into())
            }),
            (Rule::PsReqRequesterId, |r| {
                r.requester_ids = vec!["x".repeat(1025)]
            }),
            (Rule::PsReqSubject, |r| r.has_subject = true),
        ];
        let mut covered: HashSet<Rule> = HashSet::new();
        for (rule, mutate) in cases {
            let mut r = request();
            mutate(&mut r);
            assert_eq!(ps_fired(&r, &base), [rule], "{}", rule.id());
            covered.insert(rule);
        }
        // Rules that need another context.
        assert_eq!(
            ps_fired(&request(), &ps_ctx(&f, Some("public"), false)),
            [Rule::PsReqSpTypeBoth]
        );
        covered.insert(Rule::PsReqSpTypeBoth);
        let mut private = request();
        private.extensions.as_mut().unwrap().sp_type = Some("private".into());
        assert_eq!(
            ps_fired(&private, &ps_ctx(&f, None, true)),
            [Rule::PsReqRequesterIdMissing]
        );
        private.requester_ids = vec!["https://sp.example.se".into()];
        assert_eq!(ps_fired(&private, &ps_ctx(&f, None, true)), []);
        covered.insert(Rule::PsReqRequesterIdMissing);
        let mut high = request();
        high.requested_authn_context.as_mut().unwrap().class_refs =
            vec!["http://eidas.europa.eu/LoA/high".into()];
        let only_substantial = Facts {
            loas: vec!["http://eidas.europa.eu/LoA/substantial".into()],
            ..facts()
        };
        assert_eq!(
            ps_fired(&high, &ps_ctx(&only_substantial, None, false)),
            [Rule::PsReqLoaUnpublished]
        );
        covered.insert(Rule::PsReqLoaUnpublished);
        let missing: Vec<_> = Rule::ALL
            .iter()
            .filter(|r| r.id().starts_with("PS-") && !covered.contains(r))
            .map(|r| r.id())
            .collect();
        assert!(missing.is_empty(), "PS rules without a test: {missing:?}");
    }

    #[test]
    fn proxy_service_statuses_follow_the_rule() {
        assert_eq!(
            Rule::PsReqNameIdPolicy.status(),
            (status::REQUESTER, Some(status::INVALID_NAMEID_POLICY))
        );
        assert_eq!(Rule::PsReqVersion.status().0, status::VERSION_MISMATCH);
        assert_eq!(
            Rule::PsReqLoaUnpublished.status().1,
            Some(status::NO_AUTHN_CONTEXT)
        );
    }

    fn response() -> (Response, Assertion) {
        let r = Response {
            id: Some("_resp".into()),
            version: Some("2.0".into()),
            issue_instant: Some("2026-11-29T09:59:58Z".into()),
            in_response_to: Some("_req1".into()),
            destination: Some(ACS.into()),
            issuer: Some(Issuer {
                value: "https://ps.example.se/metadata".into(),
                format: Some(saml::NAMEID_ENTITY.into()),
            }),
            status: Some(Status {
                code: Some(status::SUCCESS.into()),
                sub_code: None,
                message: None,
            }),
            assertions: vec![],
            encrypted_assertions: vec![
                crate::xml::parse(b"<x/>", &crate::xml::Limits::default())
                    .unwrap()
                    .root(),
            ],
            consent: None,
        };
        let attr = |n: &str, v: &str| Attribute {
            name: format!("http://eidas.europa.eu/attributes/naturalperson/{n}"),
            name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
            friendly_name: None,
            values: vec![AttributeValue {
                value: v.into(),
                xsi_type: None,
                latin_script: None,
            }],
        };
        let a = Assertion {
            id: Some("_a".into()),
            version: Some("2.0".into()),
            issue_instant: Some("2026-11-29T09:59:58Z".into()),
            issuer: Some(Issuer {
                value: "https://ps.example.se/metadata".into(),
                format: Some(saml::NAMEID_ENTITY.into()),
            }),
            signed: true,
            name_id: Some(NameId {
                value: "SE/NO/199001011234".into(),
                format: Some(super::super::nameid::PERSISTENT.into()),
                ..NameId::default()
            }),
            has_subject: true,
            subject_confirmations: vec![SubjectConfirmation {
                method: Some(saml::CM_BEARER.into()),
                in_response_to: Some("_req1".into()),
                recipient: Some(ACS.into()),
                not_on_or_after: Some("2026-11-29T10:04:58Z".into()),
                has_data: true,
                ..SubjectConfirmation::default()
            }],
            conditions: Some(Conditions {
                not_before: Some("2026-11-29T09:59:58Z".into()),
                not_on_or_after: Some("2026-11-29T10:04:58Z".into()),
                audience_restrictions: vec![vec![
                    "https://eidas.example.no/connector/metadata".into(),
                ]],
                one_time_use: false,
            }),
            conditions_count: 1,
            authn_statements: vec![AuthnStatement {
                authn_instant: Some("2026-11-29T09:59:50Z".into()),
                class_refs: vec!["http://eidas.europa.eu/LoA/high".into()],
            }],
            attribute_statements: vec![vec![
                attr("PersonIdentifier", "SE/NO/199001011234"),
                attr("CurrentFamilyName", "Svensson"),
                attr("CurrentGivenName", "Sven"),
                attr("DateOfBirth", "1990-01-01"),
            ]],
            how: None,
        };
        (r, a)
    }

    fn cn_fired(
        r: &Response,
        a: &Assertion,
        requested: &Rac,
        required: &[String],
        published: &[String],
        node_country: Option<&str>,
    ) -> Vec<Rule> {
        let ctx = CnResponseContext {
            now: now(),
            skew: Duration::seconds(60),
            max_age: Duration::minutes(5),
            our_acs_url: ACS,
            our_entity_id: "https://eidas.example.no/connector/metadata",
            proxy_service_entity_id: "https://ps.example.se/metadata",
            proxy_service_node_country: node_country,
            published_loas: published,
            request_id: "_req1",
            requested,
            citizen_country: "SE",
            our_country: "NO",
            required_attributes: required,
            require_signed_assertion: true,
            request_issued: Some(now() - Duration::seconds(30)),
        };
        check_response(r, Some(a), &ctx)
            .into_iter()
            .map(|v| v.rule)
            .collect()
    }

    #[test]
    fn every_connector_rule_fires_on_its_own_breach_and_not_otherwise() {
        let requested = Rac::minimum(super::super::loa::Level::Substantial);
        let required: Vec<String> = mds_natural().iter().map(|s| s.to_string()).collect();
        let published = vec![
            "http://eidas.europa.eu/LoA/substantial".to_string(),
            "http://eidas.europa.eu/LoA/high".to_string(),
        ];
        let (r0, a0) = response();
        assert_eq!(
            cn_fired(&r0, &a0, &requested, &required, &published, Some("SE")),
            [],
            "the good response passes"
        );
        type Mutate = fn(&mut Response, &mut Assertion);
        let cases: Vec<(Rule, Mutate)> = vec![
            (Rule::CnRespVersion, |r, _| r.version = None),
            (Rule::CnRespId, |r, _| r.id = None),
            (Rule::CnRespIssueInstant, |r, _| {
                r.issue_instant = Some("2026-11-29T11:00:00Z".into())
            }),
            (Rule::CnRespDestination, |r, _| {
                r.destination = Some("https://other.example/acs".into())
            }),
            (Rule::CnRespInResponseTo, |r, _| {
                r.in_response_to = Some("_someone_elses".into())
            }),
            (Rule::CnRespIssuer, |r, _| {
                r.issuer.as_mut().unwrap().value = "https://other-ps.example/metadata".into()
            }),
            (Rule::CnRespStatus, |r, _| r.status = None),
            (Rule::CnRespEncryptedAssertion, |r, _| {
                let x = r.encrypted_assertions[0];
                r.assertions.push(x);
            }),
            (Rule::CnAssertIssuer, |_, a| a.issuer = None),
            (Rule::CnAssertBasics, |_, a| a.version = Some("1.1".into())),
            (Rule::CnAssertSigned, |_, a| a.signed = false),
            (Rule::CnAssertNameId, |_, a| {
                a.name_id.as_mut().unwrap().format =
                    Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into())
            }),
            (Rule::CnAssertBearer, |_, a| {
                a.subject_confirmations[0].method =
                    Some("urn:oasis:names:tc:SAML:2.0:cm:holder-of-key".into())
            }),
            (Rule::CnAssertRecipient, |_, a| {
                a.subject_confirmations[0].recipient = Some("https://other.example/acs".into())
            }),
            (Rule::CnAssertConfirmationExpired, |_, a| {
                a.subject_confirmations[0].not_on_or_after = Some("2026-11-29T09:58:00Z".into())
            }),
            (Rule::CnAssertConditions, |_, a| {
                a.conditions.as_mut().unwrap().not_on_or_after = Some("2026-11-29T09:58:00Z".into())
            }),
            (Rule::CnAssertAudience, |_, a| {
                a.conditions.as_mut().unwrap().audience_restrictions =
                    vec![vec!["https://other-node.example/metadata".into()]]
            }),
            (Rule::CnAssertAuthnStatement, |_, a| {
                a.authn_statements.clear()
            }),
            (Rule::CnAssertAuthnStatement, |_, a| {
                // Before our request (09:59:30) less the skew: not a fresh authentication.
                a.authn_statements[0].authn_instant = Some("2026-11-29T09:55:00Z".into())
            }),
            (Rule::CnAssertAuthnStatement, |_, a| {
                a.authn_statements[0].authn_instant = Some("2026-11-29T10:05:00Z".into())
            }),
            (Rule::CnAssertAuthnStatement, |_, a| {
                a.authn_statements[0].authn_instant = Some("yesterday".into())
            }),
            (Rule::CnAssertBasics, |_, a| {
                a.issue_instant = Some("2026-11-29T09:50:00Z".into())
            }),
            (Rule::CnAssertAttributeStatement, |_, a| {
                a.attribute_statements.push(vec![])
            }),
            (Rule::CnAssertLoa, |_, a| {
                a.authn_statements[0].class_refs = vec!["http://eidas.europa.eu/LoA/low".into()]
            }),
            (Rule::CnAssertRequiredAttributes, |_, a| {
                a.attribute_statements[0].remove(3);
            }),
            (Rule::CnAssertAttributeFormat, |_, a| {
                a.attribute_statements[0][1].name_format =
                    Some("urn:oasis:names:tc:SAML:2.0:attrname-format:basic".into())
            }),
            (Rule::CnAssertPersonIdentifier, |_, a| {
                a.attribute_statements[0][0].values[0].value = "DK/NO/199001011234".into()
            }),
        ];
        let mut covered: HashSet<Rule> = HashSet::new();
        for (rule, mutate) in cases {
            let (mut r, mut a) = response();
            mutate(&mut r, &mut a);
            assert_eq!(
                cn_fired(&r, &a, &requested, &required, &published, Some("SE")),
                [rule],
                "{}",
                rule.id()
            );
            covered.insert(rule);
        }
        assert_eq!(
            cn_fired(&r0, &a0, &requested, &required, &published, Some("DK")),
            [Rule::CnRespNodeCountry]
        );
        covered.insert(Rule::CnRespNodeCountry);
        // A LoA the Proxy-Service did not publish is refused even when it meets the request.
        assert_eq!(
            cn_fired(&r0, &a0, &requested, &required, &published[..1], Some("SE")),
            [Rule::CnAssertLoa]
        );
        let missing: Vec<_> = Rule::ALL
            .iter()
            .filter(|r| r.id().starts_with("CN-") && !covered.contains(r))
            .map(|r| r.id())
            .collect();
        assert!(
            missing.is_empty(),
            "Connector rules without a test: {missing:?}"
        );
    }

    #[test]
    fn an_error_response_is_not_checked_for_an_assertion() {
        let (mut r, _) = response();
        r.status = Some(Status {
            code: Some(status::RESPONDER.into()),
            sub_code: Some(status::AUTHN_FAILED.into()),
            message: None,
        });
        r.encrypted_assertions.clear();
        let requested = Rac::minimum(super::super::loa::Level::Substantial);
        let ctx = CnResponseContext {
            now: now(),
            skew: Duration::seconds(60),
            max_age: Duration::minutes(5),
            our_acs_url: ACS,
            our_entity_id: "x",
            proxy_service_entity_id: "https://ps.example.se/metadata",
            proxy_service_node_country: None,
            published_loas: &[],
            request_id: "_req1",
            requested: &requested,
            citizen_country: "SE",
            our_country: "NO",
            required_attributes: &[],
            require_signed_assertion: true,
            request_issued: None,
        };
        assert_eq!(check_response(&r, None, &ctx), []);
    }

    #[test]
    fn the_conformance_catalogue_lists_every_rule_with_its_clause() {
        let text = include_str!("../../conformance/rules.toml");
        let table: toml::Table = toml::from_str(text).expect("rules.toml parses");
        let listed = table["rule"].as_array().expect("[[rule]] entries");
        let ids: Vec<&str> = listed.iter().map(|r| r["id"].as_str().unwrap()).collect();
        for rule in Rule::ALL {
            let entry = listed.iter().find(|r| r["id"].as_str() == Some(rule.id()));
            let entry =
                entry.unwrap_or_else(|| panic!("{} is not in conformance/rules.toml", rule.id()));
            assert_eq!(
                entry["clause"].as_str(),
                Some(rule.clause()),
                "{}",
                rule.id()
            );
        }
        let known: HashSet<&str> = Rule::ALL.iter().map(|r| r.id()).collect();
        for id in ids {
            assert!(
                known.contains(id)
                    || id.starts_with("XML-")
                    || id.starts_with("DSIG-")
                    || id.starts_with("ENC-")
                    || id.starts_with("MD-")
                    || id.starts_with("PS-MD-")
                    || id.starts_with("CN-MD-")
                    || id.starts_with("REPLAY-")
                    || id.starts_with("BIND-"),
                "unknown id {id} in rules.toml"
            );
        }
    }
}

//! The Connector (a European logs in to a Norwegian service): which countries can be used, the
//! AuthnRequest to the chosen country's Proxy-Service, and the checks on its Response.
//!
//! The request follows eidas.md §1.3 (ForceAuthn, IsPassive false, NameIDPolicy, minimum
//! RequestedAuthnContext, SPType unless our metadata has it, RequesterID when configured, the
//! minimum data set required and a client's optional attributes not required), signed with an
//! algorithm the peer lists and sent with the binding it lists first. The pending request lives
//! in the store under its ID for [`FLOW_TTL`]; a Response is looked up by its InResponseTo, its
//! signature verified with keys from that Proxy-Service's verified metadata only, and only then
//! is the pending request taken (exactly once). Every Connector rule of `eidas::rules`, the
//! assertion signature and an assertion-ID replay cache follow.

pub mod matching;

use crate::crypto::alg::SignatureAlgorithm;
use crate::crypto::{PrivateKey, PublicKey, Signer};
use crate::eidas::attributes::{self, PersonType};
use crate::eidas::loa::{Level, LevelOfAssurance, RequestedAuthnContext as Rac};
use crate::eidas::rules::{CnResponseContext, Violation, check_response};
use crate::metadata::entity_attribute;
use crate::metadata::fetch::{MetadataService, PeerMetadata};
use crate::saml::authn_request::{Extensions, RequestedAttribute};
use crate::saml::{
    self, AuthnRequest, Issuer, NameIdPolicy, RequestedAuthnContext, Trusted, binding_uri, status,
};
use crate::store::Store;
use crate::xml::{self, Limits};
use crate::xmlsec::dsig::{self, DsigError, VerifyOptions};
use crate::xmlsec::enc::decrypt_element;
use crate::xmlsec::redirect::EcdsaEncoding;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// How long a person may take at the foreign Proxy-Service.
pub const FLOW_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Largest SAMLResponse accepted (base64 text).
pub const MAX_RESPONSE: usize = 192 * 1024;

/// What the Connector knows of itself.
#[derive(Clone, Debug)]
pub struct CnSettings {
    pub our_entity_id: String,
    pub our_acs_url: String,
    pub our_country: String,
    /// SPType in our metadata: then requests carry none.
    pub metadata_sp_type: Option<String>,
    /// SPType for requests when the metadata has none.
    pub request_sp_type: String,
    pub requester_id: Option<String>,
    pub protocol_versions: Vec<String>,
    pub require_signed_assertion: bool,
    pub skew: Duration,
    pub max_age: Duration,
}

/// A country offered on the selection page, and where its Proxy-Service's metadata is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountryEntry {
    pub code: String,
    pub metadata_url: String,
}

/// Why a country cannot be used now (shown on the selection page, never hidden).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unusable {
    /// No verified, valid metadata (the fetch error is for the log).
    NoMetadata(String),
    /// The metadata has no IDPSSODescriptor or no SSO endpoint we can use.
    NotProxyService,
    /// NodeCountry differs from the country it is listed for.
    WrongCountry(String),
    /// It does not publish a level that meets the request.
    LoaNotOffered,
    /// No protocol version in common.
    NoProtocolVersion,
    /// It lists signature algorithms and our key can make none of them.
    NoSigningAlgorithm,
}

impl Unusable {
    /// The message id (i18n) for the selection page.
    pub fn message_id(&self) -> &'static str {
        match self {
            Unusable::NoMetadata(_) => "country-unavailable-metadata",
            Unusable::NotProxyService | Unusable::WrongCountry(_) => "country-unavailable-config",
            Unusable::LoaNotOffered => "country-unavailable-loa",
            Unusable::NoProtocolVersion | Unusable::NoSigningAlgorithm => {
                "country-unavailable-protocol"
            }
        }
    }
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::NoMetadata(e) => write!(f, "no usable metadata: {e}"),
            Unusable::NotProxyService => f.write_str("the metadata has no usable SSO endpoint"),
            Unusable::WrongCountry(c) => write!(f, "the metadata names country {c}"),
            Unusable::LoaNotOffered => f.write_str("the requested level is not offered"),
            Unusable::NoProtocolVersion => f.write_str("no eIDAS protocol version in common"),
            Unusable::NoSigningAlgorithm => {
                f.write_str("none of its signature algorithms can be made with our key")
            }
        }
    }
}

/// The SSO endpoint to use: the first POST or Redirect endpoint in the peer's order.
fn sso_endpoint(md: &PeerMetadata) -> Option<(&'static str, String)> {
    md.entity
        .idp
        .as_ref()?
        .endpoints
        .iter()
        .find_map(|e| match e.binding.as_str() {
            binding_uri::HTTP_POST => Some((binding_uri::HTTP_POST, e.location.clone())),
            binding_uri::HTTP_REDIRECT => Some((binding_uri::HTTP_REDIRECT, e.location.clone())),
            _ => None,
        })
}

/// The signer to use towards this peer: ours, or the same key with an algorithm it lists.
pub fn signer_for(md: &PeerMetadata, ours: &Arc<dyn Signer>) -> Option<Arc<dyn Signer>> {
    let listed = &md.entity.signing_methods;
    if listed.is_empty() || listed.iter().any(|m| m == ours.algorithm().uri()) {
        return Some(ours.clone());
    }
    listed
        .iter()
        .filter_map(|m| SignatureAlgorithm::from_uri(m, false).ok())
        .find_map(|alg| ours.variant(alg))
}

/// Whether a country's verified metadata lets us send it a request for `level`.
pub fn usable(
    entry: &CountryEntry,
    md: &PeerMetadata,
    level: Level,
    settings: &CnSettings,
    signer: &Arc<dyn Signer>,
) -> Result<(), Unusable> {
    let idp = md.entity.idp.as_ref().ok_or(Unusable::NotProxyService)?;
    sso_endpoint(md).ok_or(Unusable::NotProxyService)?;
    if let Some(c) = &idp.node_country
        && c != &entry.code
    {
        return Err(Unusable::WrongCountry(c.clone()));
    }
    let wanted = Rac::minimum(level);
    let published = md.entity.published_loas();
    if !published.iter().any(|p| {
        LevelOfAssurance::parse(p)
            .map(|l| wanted.satisfied_by(&l))
            .unwrap_or(false)
    }) {
        return Err(Unusable::LoaNotOffered);
    }
    if let Some(versions) = md
        .entity
        .entity_attribute(entity_attribute::PROTOCOL_VERSION)
        && !versions
            .iter()
            .flat_map(|v| v.split_whitespace())
            .any(|v| settings.protocol_versions.iter().any(|o| o == v))
    {
        return Err(Unusable::NoProtocolVersion);
    }
    signer_for(md, signer).ok_or(Unusable::NoSigningAlgorithm)?;
    Ok(())
}

/// A country's state for the selection page: its metadata when usable, else why not.
pub async fn availability(
    peers: &MetadataService,
    entry: &CountryEntry,
    level: Level,
    settings: &CnSettings,
    signer: &Arc<dyn Signer>,
) -> Result<PeerMetadata, Unusable> {
    let md = peers
        .get(&entry.metadata_url)
        .await
        .map_err(|e| Unusable::NoMetadata(e.to_string()))?;
    usable(entry, &md, level, settings, signer)?;
    Ok(md)
}

/// The request as it leaves: for the browser, by POST or Redirect.
#[derive(Clone, Debug)]
pub enum Outgoing {
    /// Post `saml_request` (the signed XML) to `url`.
    Post { url: String, xml: String },
    /// Send the browser to this signed Redirect URL.
    Redirect { url: String },
}

/// What survives the person's visit to the foreign Proxy-Service.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PendingRequest {
    pub request_id: String,
    pub country: String,
    /// The Proxy-Service's metadata URL (its entityID).
    pub proxy_service: String,
    /// The minimum level asked for.
    pub level: String,
    /// Requested attributes: Name and isRequired.
    pub attributes: Vec<(String, bool)>,
    /// The front edge's own state (the OIDC authorization request), opaque here.
    pub front: serde_json::Value,
    /// When the request was issued (Unix seconds).
    pub issued_at: i64,
}

fn flow_key(request_id: &str) -> String {
    format!("cn-flow:{request_id}")
}

/// The optional attributes a relying party may be configured for (FriendlyName or Name URI).
pub fn optional_attribute(name: &str) -> Option<&'static attributes::AttributeDefinition> {
    attributes::by_name(name).or_else(|| {
        attributes::all().find(|a| {
            a.friendly_name == name
                && matches!(
                    a.person_type,
                    PersonType::NaturalPerson | PersonType::LegalPerson
                )
        })
    })
}

/// An eIDAS AuthnRequest (eidas.md §1.3): ForceAuthn, IsPassive false, a persistent NameIDPolicy,
/// `minimum` of one notified level, SPType when given, RequesterIDs, and the attributes by Name
/// with isRequired.
#[allow(clippy::too_many_arguments)]
pub fn authn_request(
    id: &str,
    issuer: &str,
    destination: &str,
    level: Level,
    wanted: &[(String, bool)],
    sp_type: Option<String>,
    requester_ids: Vec<String>,
    now: OffsetDateTime,
) -> AuthnRequest {
    AuthnRequest {
        id: Some(id.to_string()),
        version: Some("2.0".into()),
        issue_instant: Some(saml::format_instant(now)),
        destination: Some(destination.to_string()),
        force_authn: Some(true),
        is_passive: Some(false),
        provider_name: None,
        issuer: Some(Issuer {
            value: issuer.to_string(),
            format: Some(saml::NAMEID_ENTITY.into()),
        }),
        extensions: Some(Extensions {
            sp_type,
            requested_attributes: Some(
                wanted
                    .iter()
                    .filter_map(|(n, req)| {
                        attributes::by_name(n).map(|a| RequestedAttribute {
                            name: a.name.to_string(),
                            name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
                            friendly_name: Some(a.friendly_name.to_string()),
                            is_required: Some(*req),
                            values: vec![],
                        })
                    })
                    .collect(),
            ),
        }),
        name_id_policy: Some(NameIdPolicy {
            format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()),
            allow_create: Some(true),
            sp_name_qualifier: None,
        }),
        requested_authn_context: Some(RequestedAuthnContext {
            comparison: Some("minimum".into()),
            class_refs: vec![level.notified_uri().to_string()],
        }),
        requester_ids,
        ..AuthnRequest::default()
    }
}

/// Build, sign and store the AuthnRequest for `entry` at `level`; returns how to send it.
#[allow(clippy::too_many_arguments)]
pub async fn start(
    settings: &CnSettings,
    entry: &CountryEntry,
    md: &PeerMetadata,
    level: Level,
    optional: &[String],
    front: serde_json::Value,
    signer: &Arc<dyn Signer>,
    store: &dyn Store,
    now: OffsetDateTime,
) -> Result<Outgoing, String> {
    let (binding, sso) = sso_endpoint(md).ok_or("no SSO endpoint")?;
    let signer = signer_for(md, signer).ok_or("no common signature algorithm")?;
    let id = saml::new_id();
    let mut wanted: Vec<(String, bool)> = attributes::mds(PersonType::NaturalPerson)
        .map(|a| (a.name.to_string(), true))
        .collect();
    for o in optional {
        if let Some(a) = optional_attribute(o)
            && !wanted.iter().any(|(n, _)| n == a.name)
        {
            wanted.push((a.name.to_string(), false));
        }
    }
    let request = authn_request(
        &id,
        &settings.our_entity_id,
        &sso,
        level,
        &wanted,
        match settings.metadata_sp_type {
            Some(_) => None,
            None => Some(settings.request_sp_type.clone()),
        },
        settings.requester_id.iter().cloned().collect(),
        now,
    );
    let xml_text = request.to_xml();
    let out = if binding == binding_uri::HTTP_POST {
        let doc = xml::parse(xml_text.as_bytes(), &Limits::message()).map_err(|e| e.to_string())?;
        let signed =
            dsig::sign_element(&doc, doc.root(), signer.as_ref()).map_err(|e| e.to_string())?;
        Outgoing::Post {
            url: sso,
            xml: signed,
        }
    } else {
        let url = saml::binding::redirect_url(
            &sso,
            "SAMLRequest",
            &xml_text,
            None,
            signer.as_ref(),
            EcdsaEncoding::Der,
        )
        .map_err(|e| e.to_string())?;
        Outgoing::Redirect { url }
    };
    let pending = PendingRequest {
        request_id: id.clone(),
        country: entry.code.clone(),
        proxy_service: entry.metadata_url.clone(),
        level: level.notified_uri().to_string(),
        attributes: wanted,
        front,
        issued_at: now.unix_timestamp(),
    };
    let bytes = serde_json::to_vec(&pending).map_err(|e| e.to_string())?;
    store
        .put(&flow_key(&id), &bytes, FLOW_TTL)
        .await
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// The person as the foreign Proxy-Service vouched for them.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    /// The whole PersonIdentifier, `XX/NO/…`.
    pub person_identifier: String,
    pub citizen_country: String,
    pub loa: Level,
    /// Name URI → values (trimmed), for every attribute received.
    pub attributes: Vec<(String, Vec<String>)>,
    pub authn_instant: OffsetDateTime,
}

impl std::fmt::Debug for Identity {
    /// Personal data stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("citizen_country", &self.citizen_country)
            .field("loa", &self.loa)
            .field("attributes", &self.attributes.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The first value of an attribute.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.first())
            .map(String::as_str)
    }
}

/// A SAML error status from the Proxy-Service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignFailure {
    pub status: String,
    pub sub_status: Option<String>,
    pub message: Option<String>,
}

impl ForeignFailure {
    /// The OAuth 2.0 error (RFC 6749 §4.1.2.1) for the relying party, with a description that
    /// does not repeat the peer's own message.
    pub fn oidc_error(&self) -> (&'static str, &'static str) {
        match self.sub_status.as_deref() {
            Some(status::REQUEST_DENIED) => (
                "access_denied",
                "The person cancelled or refused the login at their country's eIDAS node.",
            ),
            Some(status::AUTHN_FAILED) => (
                "access_denied",
                "The person could not be authenticated in their country.",
            ),
            Some(status::NO_AUTHN_CONTEXT) => (
                "access_denied",
                "The requested level of assurance could not be reached in the person's country.",
            ),
            _ if self.status == status::REQUESTER || self.status == status::VERSION_MISMATCH => (
                "server_error",
                "The foreign eIDAS node refused the request.",
            ),
            _ => (
                "temporarily_unavailable",
                "The foreign eIDAS node could not complete the login.",
            ),
        }
    }
}

/// Why a Response was refused.
#[derive(Clone, Debug, PartialEq)]
pub enum Refused {
    /// Not a Response we can tie to a request of ours (bad encoding, unknown or answered
    /// InResponseTo): there is nobody to answer, a local error page.
    NoFlow { rule: &'static str, detail: String },
    /// The Response answers one of our requests but breaks a rule: the relying party gets an
    /// error, the pending request is spent.
    Broken {
        pending: Box<PendingRequest>,
        rule: &'static str,
        detail: String,
    },
}

impl Refused {
    pub fn rule(&self) -> &'static str {
        match self {
            Refused::NoFlow { rule, .. } | Refused::Broken { rule, .. } => rule,
        }
    }
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NoFlow { rule, detail } | Refused::Broken { rule, detail, .. } => {
                write!(f, "{rule}: {detail}")
            }
        }
    }
}

/// What a verified Response said.
#[derive(Debug)]
pub enum Outcome {
    Authenticated(Identity),
    Failed(ForeignFailure),
}

/// What the Connector needs to receive Responses.
pub struct Receiver<'a> {
    pub settings: &'a CnSettings,
    pub peers: &'a MetadataService,
    pub store: &'a dyn Store,
    pub decryption_keys: &'a [PrivateKey],
    pub now: OffsetDateTime,
}

fn signing_keys(md: &PeerMetadata) -> Vec<PublicKey> {
    md.entity
        .idp
        .iter()
        .flat_map(|r| r.key_descriptors.iter().filter(|k| k.for_signing()))
        .flat_map(|k| k.certificates.iter().filter_map(|c| c.as_ref().ok()))
        .map(|c| c.public_key().clone())
        .collect()
}

impl Receiver<'_> {
    /// Check a Response from the HTTP-POST binding (the only binding for Responses in eIDAS).
    pub async fn receive(&self, saml_response: &str) -> Result<(PendingRequest, Outcome), Refused> {
        let no_flow = |rule: &'static str, detail: String| Refused::NoFlow { rule, detail };
        let raw = saml::binding::decode_post(saml_response, MAX_RESPONSE)
            .map_err(|e| no_flow("BIND-POST", e.to_string()))?;
        let doc = xml::parse(&raw, &Limits::message())
            .map_err(|e| no_flow("XML-LIMITS", e.to_string()))?;
        let root = doc.root_element();
        if !root.is(saml::ns::PROTOCOL, "Response") {
            return Err(no_flow("XML-STRUCTURE", "not a samlp:Response".into()));
        }
        // The (not yet trusted) InResponseTo only says which pending request to look at.
        let claimed = root.attr("InResponseTo").unwrap_or_default().to_string();
        if claimed.is_empty() || claimed.len() > 256 {
            return Err(no_flow(
                "CN-RESP-IN-RESPONSE-TO",
                "no usable InResponseTo".into(),
            ));
        }
        let pending: PendingRequest = match self.store.get(&flow_key(&claimed)).await {
            Ok(Some(b)) => serde_json::from_slice(&b)
                .map_err(|e| no_flow("CN-RESP-IN-RESPONSE-TO", e.to_string()))?,
            Ok(None) => {
                return Err(no_flow(
                    "CN-RESP-IN-RESPONSE-TO",
                    "answers no pending request of ours (unknown, answered or expired)".into(),
                ));
            }
            Err(e) => return Err(no_flow("STORE", e.to_string())),
        };
        let broken = |rule: &'static str, detail: String| Refused::Broken {
            pending: Box::new(pending.clone()),
            rule,
            detail,
        };

        // The signature, with keys from the verified metadata of the Proxy-Service the request
        // went to — and no other; one rate-limited re-fetch on an unknown key.
        let mut md = self
            .peers
            .get(&pending.proxy_service)
            .await
            .map_err(|e| no_flow("MD-SIGNED", e.to_string()))?;
        let verify = |md: &PeerMetadata| {
            dsig::verify_element(
                &doc,
                doc.root(),
                &signing_keys(md),
                &VerifyOptions::default(),
            )
        };
        let verified = match verify(&md) {
            Ok(v) => v,
            Err(DsigError::BadSignature | DsigError::NoUsableKey(_)) => {
                md = self
                    .peers
                    .on_unknown_key(&pending.proxy_service)
                    .await
                    .map_err(|e| no_flow("DSIG-KEY", e.to_string()))?;
                verify(&md).map_err(|e| no_flow(e.rule_id(), e.to_string()))?
            }
            Err(e) => return Err(no_flow(e.rule_id(), e.to_string())),
        };

        // Only a Response that verified spends the pending request, and only once.
        match self.store.take(&flow_key(&claimed)).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                return Err(no_flow(
                    "CN-RESP-IN-RESPONSE-TO",
                    "the request was answered already".into(),
                ));
            }
            Err(e) => return Err(no_flow("STORE", e.to_string())),
        }

        let trusted = Trusted::from_verified(&verified);
        let resp =
            saml::Response::parse(&trusted).map_err(|e| broken("XML-STRUCTURE", e.to_string()))?;
        let success = resp
            .status
            .as_ref()
            .and_then(|s| s.code.as_deref())
            .is_some_and(|c| c == status::SUCCESS);

        let keys = signing_keys(&md);
        let mut plain_doc = None;
        if success && resp.encrypted_assertions.len() == 1 {
            let (plain, _) = decrypt_element(
                &doc,
                resp.encrypted_assertions[0],
                self.decryption_keys,
                &Limits::message(),
            )
            .map_err(|e| broken("ENC-DECRYPT", e.to_string()))?;
            plain_doc = Some(plain);
        }
        let assertion = match &plain_doc {
            None => None,
            Some(plain) => {
                let root = plain.root_element();
                let t = if root
                    .first_child_named(crate::xmlsec::ns::DSIG, "Signature")
                    .is_some()
                {
                    let v =
                        dsig::verify_element(plain, plain.root(), &keys, &VerifyOptions::default())
                            .map_err(|e| broken(e.rule_id(), format!("assertion: {e}")))?;
                    Trusted::from_verified(&v)
                } else {
                    Trusted::decrypted_from(&trusted, plain)
                };
                // `Trusted` borrows `plain`; the parsed assertion owns its data.
                Some(
                    saml::Assertion::parse(&t)
                        .map_err(|e| broken("XML-STRUCTURE", e.to_string()))?,
                )
            }
        };

        let requested = Rac::minimum(
            LevelOfAssurance::parse(&pending.level)
                .ok()
                .and_then(|l| l.notified_level())
                .unwrap_or(Level::Substantial),
        );
        let published = md.entity.published_loas();
        let required: Vec<String> = pending
            .attributes
            .iter()
            .filter(|(_, r)| *r)
            .map(|(n, _)| n.clone())
            .collect();
        let ctx = CnResponseContext {
            now: self.now,
            skew: self.settings.skew,
            max_age: self.settings.max_age,
            our_acs_url: &self.settings.our_acs_url,
            our_entity_id: &self.settings.our_entity_id,
            proxy_service_entity_id: &pending.proxy_service,
            proxy_service_node_country: md
                .entity
                .idp
                .as_ref()
                .and_then(|r| r.node_country.as_deref().or(Some(pending.country.as_str()))),
            published_loas: &published,
            request_id: &pending.request_id,
            requested: &requested,
            citizen_country: &pending.country,
            our_country: &self.settings.our_country,
            required_attributes: &required,
            require_signed_assertion: self.settings.require_signed_assertion,
            request_issued: OffsetDateTime::from_unix_timestamp(pending.issued_at).ok(),
        };
        let violations: Vec<Violation> = check_response(&resp, assertion.as_ref(), &ctx);
        if let Some(v) = violations.first() {
            let all = violations
                .iter()
                .map(|v| format!("{}: {}", v.rule.id(), v.detail))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(broken(v.rule.id(), all));
        }
        if !success {
            let st = resp.status.clone().unwrap_or_default();
            return Ok((
                pending,
                Outcome::Failed(ForeignFailure {
                    status: st.code.unwrap_or_default(),
                    sub_status: st.sub_code,
                    message: st.message,
                }),
            ));
        }
        let a = assertion.ok_or_else(|| broken("CN-RESP-ENCRYPTED-ASSERTION", "none".into()))?;

        // One assertion, one use: across instances through the store.
        let aid = a.id.clone().unwrap_or_default();
        let replay_key = format!("cn-assertion:{}:{aid}", pending.proxy_service);
        // Longer than any assertion we would still accept (its validity plus skew).
        let window: Duration = self.settings.max_age + self.settings.skew * 2;
        let ttl = std::time::Duration::from_secs(window.whole_seconds().max(60) as u64 + 600);
        match self.store.insert_if_absent(&replay_key, b"1", ttl).await {
            Ok(true) => {}
            Ok(false) => {
                return Err(broken(
                    "REPLAY-ASSERTION",
                    format!("assertion {aid} was used before"),
                ));
            }
            Err(e) => return Err(broken("STORE", e.to_string())),
        }

        let st = a.authn_statements.first();
        let loa = st
            .and_then(|s| s.class_refs.first())
            .and_then(|c| LevelOfAssurance::parse(c).ok())
            .and_then(|l| l.notified_level())
            .ok_or_else(|| broken("CN-ASSERT-LOA", "not a notified level".into()))?;
        let authn_instant = st
            .and_then(|s| s.authn_instant.as_deref())
            .and_then(|t| saml::parse_instant("AuthnInstant", t).ok())
            .unwrap_or(self.now);
        let attrs: Vec<(String, Vec<String>)> = a
            .attribute_statements
            .iter()
            .flatten()
            .map(|x| {
                // Latin-script values first: a name's first value is the one every relying
                // party can show (its non-Latin original, when sent, follows).
                let mut values: Vec<_> = x.values.iter().collect();
                values.sort_by_key(|v| v.latin_script == Some(false));
                (
                    x.name.clone(),
                    values.iter().map(|v| v.value.trim().to_string()).collect(),
                )
            })
            .collect();
        let person_identifier = attrs
            .iter()
            .find(|(n, _)| n == attributes::PERSON_IDENTIFIER)
            .and_then(|(_, v)| v.first().cloned())
            .ok_or_else(|| {
                broken(
                    "CN-ASSERT-REQUIRED-ATTRIBUTES",
                    "no PersonIdentifier".into(),
                )
            })?;
        Ok((
            pending.clone(),
            Outcome::Authenticated(Identity {
                person_identifier,
                citizen_country: pending.country.clone(),
                loa,
                attributes: attrs,
                authn_instant,
            }),
        ))
    }
}

/// `CurrentGivenName` → `current_given_name`.
fn snake(local: &str) -> String {
    let mut out = String::new();
    for (i, c) in local.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c == '-' {
            out.push('_');
        } else {
            out.push(c);
        }
    }
    out
}

/// The claims a relying party gets (norway.md §2): `sub` is the eIDAS identifier; the minimum
/// data set under ID-porten's `eidas_*` names and the standard ones; the optional attributes the
/// client is configured for as `eidas_<name>` (CurrentAddress as an object of its parts); `pid`
/// when identity matching found the person.
pub fn claims(
    who: &Identity,
    pid: Option<&crate::register::IdentityNumber>,
    optional: &[String],
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::{Value, json};
    let mut m = serde_json::Map::new();
    let v = |name: &str| who.value(name).map(str::to_string);
    m.insert("sub".into(), json!(who.person_identifier));
    m.insert("acr".into(), json!(crate::oidc::provider::acr_for(who.loa)));
    m.insert("amr".into(), json!(["eIDAS"]));
    m.insert("eidas_identifier".into(), json!(who.person_identifier));
    m.insert(
        "eidas_citizen_country_code".into(),
        json!(who.citizen_country),
    );
    for (claim, std_claim, name) in [
        (
            "eidas_firstname",
            "given_name",
            attributes::CURRENT_GIVEN_NAME,
        ),
        (
            "eidas_lastname",
            "family_name",
            attributes::CURRENT_FAMILY_NAME,
        ),
        (
            "eidas_date_of_birth",
            "birthdate",
            attributes::DATE_OF_BIRTH,
        ),
    ] {
        if let Some(x) = v(name) {
            m.insert(claim.into(), json!(x));
            m.insert(std_claim.into(), json!(x));
        }
    }
    for o in optional {
        let Some(def) = optional_attribute(o) else {
            continue;
        };
        if def.mandatory && def.person_type == PersonType::NaturalPerson {
            continue;
        }
        let Some(values) = who
            .attributes
            .iter()
            .find(|(n, _)| n == def.name)
            .map(|(_, v)| v)
        else {
            continue;
        };
        let Some(first) = values.first() else {
            continue;
        };
        let value = if def.value_kind == attributes::ValueKind::Address {
            match attributes::Address::decode(first, def.person_type, &[]) {
                Ok(a) => a.to_json(),
                Err(_) => Value::String(first.clone()),
            }
        } else {
            Value::String(first.clone())
        };
        m.insert(format!("eidas_{}", snake(def.local_name())), value);
    }
    if let Some(p) = pid {
        m.insert("pid".into(), json!(p.as_str()));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::generate::{KeyKind, generate};
    use crate::metadata::{Endpoint, EntityDescriptor, RoleDescriptor};

    fn settings() -> CnSettings {
        CnSettings {
            our_entity_id: "https://eidas.example.no/connector/metadata".into(),
            our_acs_url: "https://eidas.example.no/connector/acs".into(),
            our_country: "NO".into(),
            metadata_sp_type: None,
            request_sp_type: "public".into(),
            requester_id: None,
            protocol_versions: vec!["1.4".into(), "1.3".into()],
            require_signed_assertion: true,
            skew: Duration::seconds(60),
            max_age: Duration::minutes(5),
        }
    }

    fn peer() -> PeerMetadata {
        let entity = EntityDescriptor {
            entity_id: "https://ps.example.se/metadata".into(),
            entity_attributes: vec![
                (
                    entity_attribute::ASSURANCE_CERTIFICATION.into(),
                    vec![Level::Substantial.notified_uri().into()],
                ),
                (
                    entity_attribute::PROTOCOL_VERSION.into(),
                    vec!["1.2 1.3".into()],
                ),
            ],
            idp: Some(RoleDescriptor {
                node_country: Some("SE".into()),
                endpoints: vec![Endpoint {
                    binding: binding_uri::HTTP_REDIRECT.into(),
                    location: "https://ps.example.se/sso".into(),
                    index: None,
                    is_default: None,
                }],
                ..RoleDescriptor::default()
            }),
            ..EntityDescriptor::default()
        };
        PeerMetadata {
            entity,
            xml: Arc::from(""),
            fetched_at: OffsetDateTime::UNIX_EPOCH,
            valid_until: OffsetDateTime::UNIX_EPOCH,
            refresh_at: OffsetDateTime::UNIX_EPOCH,
            stale: false,
            warnings: vec![],
        }
    }

    fn signer(kind: KeyKind) -> Arc<dyn Signer> {
        let g = generate(kind, "cn", "NO", 0, 3650).unwrap();
        Arc::new(crate::crypto::SoftwareSigner::new(g.key, None, Some(g.cert)).unwrap())
    }

    #[test]
    fn a_country_is_usable_only_with_a_fitting_level_country_version_endpoint_and_algorithm() {
        let se = CountryEntry {
            code: "SE".into(),
            metadata_url: "https://ps.example.se/metadata".into(),
        };
        let ec = signer(KeyKind::EcP256);
        let s = settings();
        assert_eq!(usable(&se, &peer(), Level::Substantial, &s, &ec), Ok(()));
        assert_eq!(
            usable(&se, &peer(), Level::High, &s, &ec),
            Err(Unusable::LoaNotOffered)
        );
        let dk = CountryEntry {
            code: "DK".into(),
            ..se.clone()
        };
        assert_eq!(
            usable(&dk, &peer(), Level::Substantial, &s, &ec),
            Err(Unusable::WrongCountry("SE".into()))
        );
        let mut old = peer();
        old.entity.entity_attributes[1].1 = vec!["1.1".into()];
        assert_eq!(
            usable(&se, &old, Level::Substantial, &s, &ec),
            Err(Unusable::NoProtocolVersion)
        );
        let mut no_sso = peer();
        no_sso.entity.idp.as_mut().unwrap().endpoints[0].binding = "urn:example:soap".into();
        assert_eq!(
            usable(&se, &no_sso, Level::Substantial, &s, &ec),
            Err(Unusable::NotProxyService)
        );
        let mut sp_only = peer();
        sp_only.entity.idp = None;
        assert_eq!(
            usable(&se, &sp_only, Level::Substantial, &s, &ec),
            Err(Unusable::NotProxyService)
        );
        // It lists RSA-PSS only: an EC key cannot; an RSA key signs with the listed digest.
        let mut pss_only = peer();
        pss_only.entity.signing_methods =
            vec!["http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1".into()];
        assert_eq!(
            usable(&se, &pss_only, Level::Substantial, &s, &ec),
            Err(Unusable::NoSigningAlgorithm)
        );
        let rsa = signer(KeyKind::Rsa3072);
        assert_eq!(usable(&se, &pss_only, Level::Substantial, &s, &rsa), Ok(()));
        assert_eq!(
            signer_for(&pss_only, &rsa).unwrap().algorithm(),
            SignatureAlgorithm::RsaPss(crate::crypto::alg::DigestAlgorithm::Sha384)
        );
        // Every unusable state has a page text.
        for u in [
            Unusable::NoMetadata("x".into()),
            Unusable::NotProxyService,
            Unusable::LoaNotOffered,
            Unusable::NoProtocolVersion,
            Unusable::NoSigningAlgorithm,
        ] {
            assert!(u.message_id().starts_with("country-unavailable-"));
        }
    }

    #[test]
    fn foreign_statuses_become_errors_a_relying_party_can_act_on() {
        let f = |st: &str, sub: Option<&str>| {
            ForeignFailure {
                status: st.into(),
                sub_status: sub.map(str::to_string),
                message: Some("internal details of the peer".into()),
            }
            .oidc_error()
        };
        assert_eq!(
            f(status::RESPONDER, Some(status::REQUEST_DENIED)).0,
            "access_denied"
        );
        assert_eq!(
            f(status::RESPONDER, Some(status::AUTHN_FAILED)).0,
            "access_denied"
        );
        assert_eq!(
            f(status::RESPONDER, Some(status::NO_AUTHN_CONTEXT)).0,
            "access_denied"
        );
        assert_eq!(f(status::REQUESTER, None).0, "server_error");
        assert_eq!(f(status::RESPONDER, None).0, "temporarily_unavailable");
        assert!(!f(status::RESPONDER, None).1.contains("internal details"));
    }

    #[test]
    fn claim_names_follow_the_attribute_names() {
        assert_eq!(snake("PlaceOfBirth"), "place_of_birth");
        assert_eq!(snake("LegalPersonIdentifier"), "legal_person_identifier");
        assert_eq!(snake("D-2012-17-EUIdentifier"), "d_2012_17__e_u_identifier");
    }

    #[test]
    fn the_claims_carry_the_minimum_data_set_twice_and_only_configured_extras() {
        let who = Identity {
            person_identifier: "XE/NO/XE-1001".into(),
            citizen_country: "XE".into(),
            loa: Level::High,
            attributes: vec![
                (
                    attributes::PERSON_IDENTIFIER.into(),
                    vec!["XE/NO/XE-1001".into()],
                ),
                (attributes::CURRENT_GIVEN_NAME.into(), vec!["Javier".into()]),
                (
                    attributes::CURRENT_FAMILY_NAME.into(),
                    vec!["García".into()],
                ),
                (attributes::DATE_OF_BIRTH.into(), vec!["1990-04-12".into()]),
                (
                    "http://eidas.europa.eu/attributes/naturalperson/PlaceOfBirth".into(),
                    vec!["Xeville".into()],
                ),
                (
                    "http://eidas.europa.eu/attributes/naturalperson/Gender".into(),
                    vec!["Female".into()],
                ),
            ],
            authn_instant: OffsetDateTime::UNIX_EPOCH,
        };
        let c = claims(&who, None, &["PlaceOfBirth".into()]);
        assert_eq!(c["sub"], "XE/NO/XE-1001");
        assert_eq!(c["acr"], "eidas-loa-high");
        assert_eq!(c["amr"], serde_json::json!(["eIDAS"]));
        assert_eq!(c["eidas_firstname"], "Javier");
        assert_eq!(c["given_name"], "Javier");
        assert_eq!(c["eidas_lastname"], "García");
        assert_eq!(c["family_name"], "García");
        assert_eq!(c["birthdate"], "1990-04-12");
        assert_eq!(c["eidas_citizen_country_code"], "XE");
        assert_eq!(c["eidas_place_of_birth"], "Xeville");
        assert!(!c.contains_key("eidas_gender"), "not configured");
        assert!(!c.contains_key("pid"));
        let n = crate::register::IdentityNumber::parse("15838512329", true).unwrap();
        assert_eq!(claims(&who, Some(&n), &[])["pid"], "15838512329");
    }
}

//! The Proxy-Service flow (a Norwegian logs in to a European service). This first step receives
//! an AuthnRequest from a foreign Connector: decode the binding within its limits, verify the
//! signature with keys from the Connector's verified metadata only, apply every Proxy-Service
//! rule, and refuse a replayed request ID across instances (the store's insert-if-absent).
//!
//! Two kinds of refusal, as eidas.md §1.6 requires: when the requester could not be
//! authenticated, nothing is sent anywhere (a local error page); once it is, the answer is a
//! signed SAML error Response to the AssertionConsumerService from its metadata — never to a URL
//! the request names.

pub mod flow;
pub mod identity;
pub mod response;

use crate::eidas::rules::{self, PsRequestContext, Rule};
use crate::metadata::fetch::{MetadataService, PeerMetadata};
use crate::saml::binding::{DEFAULT_MAX_INFLATED, decode_post, inflate_b64};
use crate::saml::{AuthnRequest, Trusted, binding_uri, ns, status};
use crate::store::Store;
use crate::xml::{self, Document, Limits};
use crate::xmlsec::dsig::{self, DsigError, VerifyOptions};
use crate::xmlsec::redirect::{RedirectVerified, verify_query};
use time::{Duration, OffsetDateTime};

/// How a request arrived.
#[derive(Clone, Debug)]
pub enum Incoming {
    /// HTTP-POST: the form's SAMLRequest (base64) and RelayState.
    Post {
        saml_request: String,
        relay_state: Option<String>,
    },
    /// HTTP-Redirect: the raw query string (signature over its exact octets).
    Redirect { query: String },
}

/// What the Proxy-Service knows of itself.
#[derive(Clone, Debug)]
pub struct PsSettings {
    pub our_sso_url: String,
    pub published_loas: Vec<String>,
    pub supported_attributes: Vec<String>,
    pub requester_id_demanded: bool,
    pub skew: Duration,
    pub max_age: Duration,
}

/// A request that passed every check.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub request: AuthnRequest,
    pub connector: PeerMetadata,
    /// From the Connector's metadata.
    pub acs_url: String,
    pub relay_state: Option<String>,
    pub binding: &'static str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The requester is not authenticated: show a local error page, send nothing.
    Local { rule: &'static str, detail: String },
    /// The requester is authenticated: answer with a signed SAML error Response.
    Saml(Box<SamlRefusal>),
}

/// A refusal to send back as a signed SAML error Response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamlRefusal {
    pub rule: &'static str,
    pub detail: String,
    /// From the Connector's metadata.
    pub acs_url: String,
    pub in_response_to: Option<String>,
    pub relay_state: Option<String>,
    pub status: &'static str,
    pub sub_status: Option<&'static str>,
}

impl Refusal {
    pub fn rule(&self) -> &'static str {
        match self {
            Refusal::Local { rule, .. } => rule,
            Refusal::Saml(s) => s.rule,
        }
    }
}

fn local(rule: &'static str, detail: impl Into<String>) -> Refusal {
    Refusal::Local {
        rule,
        detail: detail.into(),
    }
}

/// Largest decoded message accepted.
const MAX_MESSAGE: usize = 128 * 1024;

/// The Issuer the (not yet verified) message names, used only to pick whose keys to try.
fn claimed_issuer(doc: &Document) -> Option<String> {
    let root = doc.root_element();
    if !root.is(ns::PROTOCOL, "AuthnRequest") {
        return None;
    }
    root.first_child_named(ns::ASSERTION, "Issuer")
        .map(|i| i.text().trim().to_string())
}

fn signing_keys(md: &PeerMetadata) -> Vec<crate::crypto::PublicKey> {
    md.entity
        .sp
        .iter()
        .flat_map(|sp| sp.key_descriptors.iter().filter(|k| k.for_signing()))
        .flat_map(|k| k.certificates.iter().filter_map(|c| c.as_ref().ok()))
        .map(|c| c.public_key().clone())
        .collect()
}

fn relay_ok(relay: &Option<String>) -> Result<(), Refusal> {
    match relay {
        Some(r) if r.len() > crate::saml::binding::MAX_RELAY_STATE => {
            Err(local("BIND-RELAYSTATE", "RelayState over 80 bytes"))
        }
        _ => Ok(()),
    }
}

/// Receive an AuthnRequest. `connector_urls` are the configured Connector peers (their
/// metadata URL is their entityID).
pub async fn receive(
    incoming: Incoming,
    peers: &MetadataService,
    connector_urls: &[String],
    store: &dyn Store,
    now: OffsetDateTime,
    settings: &PsSettings,
) -> Result<Accepted, Refusal> {
    // 1. The binding, within its limits.
    let (xml_bytes, relay_state, redirect_query, binding) = match &incoming {
        Incoming::Post {
            saml_request,
            relay_state,
        } => {
            relay_ok(relay_state)?;
            let b = decode_post(saml_request, MAX_MESSAGE)
                .map_err(|e| local("BIND-POST", e.to_string()))?;
            (b, relay_state.clone(), None, binding_uri::HTTP_POST)
        }
        Incoming::Redirect { query } => {
            let value = query
                .split('&')
                .find_map(|p| p.strip_prefix("SAMLRequest="))
                .ok_or_else(|| local("BIND-REDIRECT", "no SAMLRequest"))?;
            let value = crate::xmlsec::redirect::url_decode(value)
                .ok_or_else(|| local("BIND-REDIRECT", "SAMLRequest encoding"))?;
            let b = inflate_b64(&value, DEFAULT_MAX_INFLATED)
                .map_err(|e| local("BIND-REDIRECT", e.to_string()))?;
            (b, None, Some(query.clone()), binding_uri::HTTP_REDIRECT)
        }
    };
    let doc = xml::parse(&xml_bytes, &Limits::message())
        .map_err(|e| local("XML-LIMITS", e.to_string()))?;

    // 2. Whose keys: the Connector the message claims to come from, if it is one of ours.
    let issuer = claimed_issuer(&doc)
        .ok_or_else(|| local("PS-REQ-ISSUER", "not an AuthnRequest with an Issuer"))?;
    if !connector_urls.contains(&issuer) {
        return Err(local(
            "PS-REQ-ISSUER",
            format!("{issuer} is not a configured Connector"),
        ));
    }
    let mut connector = peers
        .get(&issuer)
        .await
        .map_err(|e| local("MD-SIGNED", format!("no usable metadata for {issuer}: {e}")))?;

    // 3. The signature, with keys from its verified metadata; an unknown key triggers one
    //    (rate-limited) re-fetch, for a Connector that has just rolled its key.
    enum Proof<'d> {
        Post(dsig::Verified<'d>),
        Redirect(RedirectVerified),
    }
    let attempt = |md: &PeerMetadata| -> Result<Proof<'_>, DsigError> {
        let keys = signing_keys(md);
        match &redirect_query {
            Some(q) => verify_query(q, &keys, false).map(Proof::Redirect),
            None => dsig::verify_element(&doc, doc.root(), &keys, &VerifyOptions::default())
                .map(Proof::Post),
        }
    };
    let proof = match attempt(&connector) {
        Ok(p) => p,
        Err(DsigError::BadSignature | DsigError::NoUsableKey(_)) => {
            connector = peers
                .on_unknown_key(&issuer)
                .await
                .map_err(|e| local("DSIG-KEY", e.to_string()))?;
            attempt(&connector).map_err(|e| local(e.rule_id(), e.to_string()))?
        }
        Err(e) => return Err(local(e.rule_id(), e.to_string())),
    };
    let (trusted, relay_state) = match &proof {
        Proof::Redirect(p) => {
            relay_ok(&p.relay_state)?;
            let t = Trusted::from_redirect(&doc, p)
                .map_err(|e| local("BIND-REDIRECT", e.to_string()))?;
            (t, p.relay_state.clone())
        }
        Proof::Post(v) => (Trusted::from_verified(v), relay_state),
    };
    let request =
        AuthnRequest::parse(&trusted).map_err(|e| local("MSG-STRUCTURE", e.to_string()))?;

    // From here on the requester is authenticated: refusals go back as SAML errors.
    let acs_url = connector
        .entity
        .sp
        .as_ref()
        .and_then(|sp| {
            sp.endpoints
                .iter()
                .find(|e| e.binding == binding_uri::HTTP_POST && e.is_default != Some(false))
                .or_else(|| {
                    sp.endpoints
                        .iter()
                        .find(|e| e.binding == binding_uri::HTTP_POST)
                })
        })
        .map(|e| e.location.clone())
        .ok_or_else(|| {
            local(
                "CN-MD-ACS",
                format!("{issuer} publishes no HTTP-POST AssertionConsumerService"),
            )
        })?;
    let saml_refusal = |rule: Rule, detail: String| {
        let (status, sub_status) = rule.status();
        Refusal::Saml(Box::new(SamlRefusal {
            rule: rule.id(),
            detail,
            acs_url: acs_url.clone(),
            in_response_to: request.id.clone(),
            relay_state: relay_state.clone(),
            status,
            sub_status,
        }))
    };

    // 4. Every Proxy-Service rule, against its metadata and our settings.
    let acs_urls: Vec<String> = connector
        .entity
        .sp
        .iter()
        .flat_map(|sp| sp.endpoints.iter().map(|e| e.location.clone()))
        .collect();
    let ctx = PsRequestContext {
        now,
        skew: settings.skew,
        max_age: settings.max_age,
        our_sso_url: &settings.our_sso_url,
        connector_entity_id: &connector.entity.entity_id,
        connector_acs_urls: &acs_urls,
        connector_sp_type: connector.entity.sp_type(),
        published_loas: &settings.published_loas,
        supported_attributes: &settings.supported_attributes,
        requester_id_demanded: settings.requester_id_demanded,
    };
    if let Some(v) = rules::check_authn_request(&request, &ctx)
        .into_iter()
        .next()
    {
        return Err(saml_refusal(v.rule, v.detail));
    }

    // 5. Once only, across instances, for as long as it could be accepted.
    let id = request.id.clone().unwrap_or_default();
    let key = format!("replay:authnreq:{issuer}:{id}");
    let window: Duration = settings.max_age + settings.skew * 2;
    let ttl = window.unsigned_abs();
    match store.insert_if_absent(&key, b"1", ttl).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(Refusal::Saml(Box::new(SamlRefusal {
                rule: "REPLAY-AUTHN-REQUEST",
                detail: format!("request {id} was already received"),
                acs_url,
                in_response_to: request.id.clone(),
                relay_state,
                status: status::REQUESTER,
                sub_status: Some(status::REQUEST_DENIED),
            })));
        }
        Err(e) => {
            return Err(local(
                "REPLAY-AUTHN-REQUEST",
                format!("replay cache unavailable: {e}"),
            ));
        }
    }
    Ok(Accepted {
        request,
        connector,
        acs_url,
        relay_state,
        binding,
    })
}

//! The pending flow between an accepted AuthnRequest and the Response: what must survive the
//! person's visit to ID-porten (and the consent page), kept in the shared store under the OIDC
//! `state` for at most [`FLOW_TTL`], and taken out exactly once.

use super::Accepted;
use super::identity::Wanted;
use crate::eidas::loa::RequestedAuthnContext;
use crate::light;
use crate::oidc::client::PendingLogin;
use crate::saml::authn_request::{AuthnRequest, Extensions, NameIdPolicy, RequestedAttribute};
use serde::{Deserialize, Serialize};

/// How long a person may take at ID-porten and on the consent page.
pub const FLOW_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingFlow {
    /// The Connector's metadata URL (its entityID and our key to its verified metadata).
    pub connector: String,
    /// For the consent page: the Connector's country and, when it said, the service's name.
    pub connector_country: String,
    pub service_name: Option<String>,
    pub request_id: Option<String>,
    pub acs_url: String,
    pub relay_state: Option<String>,
    pub name_id_format: Option<String>,
    pub comparison: Option<String>,
    pub class_refs: Vec<String>,
    /// Requested attributes: name and isRequired.
    pub wanted: Vec<(String, bool)>,
    pub login: PendingLogin,
    /// Set once the person is authenticated and waits on the consent page.
    pub identity: Option<StoredIdentity>,
}

/// The identity to send, kept while the person decides.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredIdentity {
    pub person_identifier: String,
    pub attributes: Vec<(String, Vec<String>)>,
    pub loa: String,
    pub authn_instant: i64,
}

impl PendingFlow {
    pub fn new(a: &Accepted, login: PendingLogin) -> Self {
        let issuer = a
            .request
            .issuer
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_else(|| a.connector.entity.entity_id.clone());
        let ctx = a.request.requested_authn_context.as_ref();
        PendingFlow {
            connector: issuer,
            connector_country: a
                .connector
                .entity
                .sp
                .as_ref()
                .and_then(|r| r.node_country.clone())
                .unwrap_or_default(),
            service_name: a.request.provider_name.clone(),
            request_id: a.request.id.clone(),
            acs_url: a.acs_url.clone(),
            relay_state: a.relay_state.clone(),
            name_id_format: a
                .request
                .name_id_policy
                .as_ref()
                .and_then(|p| p.format.clone()),
            comparison: ctx.and_then(|c| c.comparison.clone()),
            class_refs: ctx.map(|c| c.class_refs.clone()).unwrap_or_default(),
            wanted: a
                .request
                .extensions
                .as_ref()
                .and_then(|e| e.requested_attributes.as_ref())
                .map(|v| {
                    v.iter()
                        .map(|r| (r.name.clone(), r.is_required.unwrap_or(false)))
                        .collect()
                })
                .unwrap_or_default(),
            login,
            identity: None,
        }
    }

    /// The request's LoA (already validated when it was accepted).
    pub fn requested_loa(&self) -> Option<RequestedAuthnContext> {
        RequestedAuthnContext::parse(self.comparison.as_deref(), &self.class_refs).ok()
    }

    pub fn wanted(&self) -> Vec<Wanted> {
        self.wanted
            .iter()
            .map(|(n, r)| Wanted {
                name: n.clone(),
                required: *r,
            })
            .collect()
    }

    /// The parts of the AuthnRequest the Response builder reads.
    pub fn request(&self) -> AuthnRequest {
        AuthnRequest {
            id: self.request_id.clone(),
            name_id_policy: Some(NameIdPolicy {
                format: self.name_id_format.clone(),
                ..Default::default()
            }),
            extensions: Some(Extensions {
                requested_attributes: Some(
                    self.wanted
                        .iter()
                        .map(|(name, required)| RequestedAttribute {
                            name: name.clone(),
                            is_required: Some(*required),
                            ..Default::default()
                        })
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        serde_json::from_slice(b).ok()
    }
}

impl StoredIdentity {
    pub fn from_light(a: &light::Authenticated) -> Self {
        StoredIdentity {
            person_identifier: a.person_identifier.clone(),
            attributes: a
                .attributes
                .iter()
                .map(|x| (x.name.clone(), x.values.clone()))
                .collect(),
            loa: a.loa.as_uri().to_string(),
            authn_instant: a.authn_instant.unix_timestamp(),
        }
    }

    pub fn to_light(&self) -> Option<light::Authenticated> {
        Some(light::Authenticated {
            person_identifier: self.person_identifier.clone(),
            attributes: self
                .attributes
                .iter()
                .map(|(n, v)| light::Attribute {
                    name: n.clone(),
                    values: v.clone(),
                })
                .collect(),
            loa: crate::eidas::loa::LevelOfAssurance::parse(&self.loa).ok()?,
            authn_instant: time::OffsetDateTime::from_unix_timestamp(self.authn_instant).ok()?,
        })
    }
}

/// What the flow needs from the node, borrowed for one step.
pub struct FlowContext<'a> {
    pub store: &'a dyn crate::store::Store,
    pub peers: &'a crate::metadata::fetch::MetadataService,
    pub idporten: Option<&'a crate::oidc::client::IdPortenClient>,
    pub register: Option<&'a dyn crate::register::Register>,
    pub identifier_mode: &'a crate::register::IdentifierMode,
    pub accept_synthetic: bool,
    pub consent: bool,
    pub signer: &'a dyn crate::crypto::Signer,
    pub our_entity_id: &'a str,
    pub now: time::OffsetDateTime,
}

/// The outcome of one step, for the HTTP edge to render.
pub enum Step {
    /// Send the browser here (ID-porten's authorization endpoint).
    ToIdPorten(String),
    /// Ask the person; `id` names the one-time consent form.
    AskConsent {
        id: String,
        flow: Box<PendingFlow>,
        who: light::Authenticated,
    },
    /// Post this signed Response to the Connector's ACS.
    Respond {
        xml: String,
        acs_url: String,
        relay_state: Option<String>,
    },
    /// Answer the Connector with a signed SAML error.
    Fail {
        flow: Box<PendingFlow>,
        failure: light::Failure,
        reason: String,
    },
    /// No such pending flow: unknown, already used or expired.
    Gone,
    /// The store failed; nothing can be said to the Connector.
    StoreDown(String),
}

const FLOW_PREFIX: &str = "ps-flow:";
const CONSENT_PREFIX: &str = "ps-consent:";

fn fail(flow: PendingFlow, failure: light::Failure, reason: impl Into<String>) -> Step {
    Step::Fail {
        flow: Box::new(flow),
        failure,
        reason: reason.into(),
    }
}

/// Only values we could have issued are looked up.
fn plausible_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An accepted request: start the login at ID-porten and keep the flow under its `state`.
pub async fn begin(cx: &FlowContext<'_>, accepted: &Accepted, ui_locale: &str) -> Step {
    use crate::oidc::client::OidcError;
    let provisional = PendingFlow::new(
        accepted,
        PendingLogin {
            state: String::new(),
            nonce: String::new(),
            code_verifier: String::new(),
        },
    );
    let Some(client) = cx.idporten else {
        return fail(
            provisional,
            light::Failure::Internal,
            "[idporten] is not configured",
        );
    };
    let Some(requested) = provisional.requested_loa() else {
        return fail(provisional, light::Failure::LoaNotMet, "no LoA");
    };
    let started = match client.start(&requested, Some(ui_locale)).await {
        Ok(s) => s,
        Err(e) => {
            let f = match e {
                OidcError::Acr(_) => light::Failure::LoaNotMet,
                _ => light::Failure::Internal,
            };
            return fail(provisional, f, e.to_string());
        }
    };
    let flow = PendingFlow {
        login: started.pending,
        ..provisional
    };
    let key = format!("{FLOW_PREFIX}{}", flow.login.state);
    if let Err(e) = cx.store.put(&key, &flow.to_bytes(), FLOW_TTL).await {
        return fail(flow, light::Failure::Internal, e.to_string());
    }
    Step::ToIdPorten(started.redirect)
}

/// The person is back from ID-porten: take the flow (once), finish the login, build the
/// identity, then ask for consent or answer.
pub async fn returned(cx: &FlowContext<'_>, cb: &crate::oidc::client::Callback) -> Step {
    use crate::oidc::client::OidcError;
    let (Some(client), Some(state)) = (cx.idporten, cb.state.as_deref()) else {
        return Step::Gone;
    };
    if !plausible_id(state) {
        return Step::Gone;
    }
    let flow = match cx.store.take(&format!("{FLOW_PREFIX}{state}")).await {
        Ok(Some(b)) => match PendingFlow::from_bytes(&b) {
            Some(f) => f,
            None => return Step::Gone,
        },
        Ok(None) => return Step::Gone,
        Err(e) => return Step::StoreDown(e.to_string()),
    };
    let Some(requested) = flow.requested_loa() else {
        return fail(flow, light::Failure::Internal, "stored LoA");
    };
    let login = match client.finish(&flow.login, cb, &requested).await {
        Ok(l) => l,
        Err(e) => {
            let f = match &e {
                OidcError::Cancelled => light::Failure::Cancelled,
                OidcError::Acr(_) => light::Failure::LoaNotMet,
                OidcError::Unavailable { .. } | OidcError::Config(_) => light::Failure::Internal,
                _ => light::Failure::AuthnFailed,
            };
            return fail(flow, f, e.to_string());
        }
    };
    let Some(register) = cx.register else {
        return fail(
            flow,
            light::Failure::Internal,
            "no population register configured",
        );
    };
    let who = match super::identity::identity(
        &login,
        &flow.wanted(),
        &flow.connector_country,
        cx.identifier_mode,
        register,
        cx.accept_synthetic,
        cx.now,
    )
    .await
    {
        Ok(w) => w,
        Err(e) => return fail(flow, e.failure, e.reason),
    };
    if !cx.consent {
        return respond(cx, flow, &who).await;
    }
    let id = crate::oidc::one_time_value();
    let flow = PendingFlow {
        identity: Some(StoredIdentity::from_light(&who)),
        ..flow
    };
    if let Err(e) = cx
        .store
        .put(&format!("{CONSENT_PREFIX}{id}"), &flow.to_bytes(), FLOW_TTL)
        .await
    {
        return fail(flow, light::Failure::Internal, e.to_string());
    }
    Step::AskConsent {
        id,
        flow: Box::new(flow),
        who,
    }
}

/// The person's answer on the consent page (the form is one-time).
pub async fn answered(cx: &FlowContext<'_>, form_id: &str, approve: bool) -> Step {
    if !plausible_id(form_id) {
        return Step::Gone;
    }
    let flow = match cx.store.take(&format!("{CONSENT_PREFIX}{form_id}")).await {
        Ok(Some(b)) => PendingFlow::from_bytes(&b),
        Ok(None) => None,
        Err(e) => return Step::StoreDown(e.to_string()),
    };
    let Some(flow) = flow else {
        return Step::Gone;
    };
    if !approve {
        return fail(
            flow,
            light::Failure::Cancelled,
            "the person declined to send the details",
        );
    }
    let Some(who) = flow.identity.as_ref().and_then(StoredIdentity::to_light) else {
        return fail(flow, light::Failure::Internal, "stored identity");
    };
    respond(cx, flow, &who).await
}

/// The signed Response, encrypted to the Connector's certificate from its verified metadata.
async fn respond(cx: &FlowContext<'_>, flow: PendingFlow, who: &light::Authenticated) -> Step {
    let connector = match cx.peers.get(&flow.connector).await {
        Ok(c) => c,
        Err(e) => return fail(flow, light::Failure::Internal, e.to_string()),
    };
    let request = flow.request();
    let addressing = super::response::Addressing {
        our_entity_id: cx.our_entity_id,
        request: &request,
        connector: &connector,
        acs_url: &flow.acs_url,
    };
    match super::response::success(&addressing, who, cx.signer, cx.now) {
        Ok(xml) => Step::Respond {
            xml,
            acs_url: flow.acs_url,
            relay_state: flow.relay_state,
        },
        Err(e) => fail(flow, light::Failure::Internal, e.to_string()),
    }
}

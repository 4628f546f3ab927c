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

//! The Metadata Service List (eidas.md §4.5, namespace `http://eidas.europa.eu/metadata/servicelist`):
//! a signed list, per country, of metadata locations and the certificates that sign them. Its
//! signature is checked with a trust anchor first; only then are its entries used, each becoming
//! a [`Peer`] whose metadata is verified with the certificates the list names for it.

use super::fetch::Peer;
use super::ns;
use crate::crypto::Certificate;
use crate::saml::parse_instant;
use crate::xml::{self, Limits};
use crate::xmlsec::dsig::{self, VerifyOptions, decode_b64};
use time::OffsetDateTime;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum MdslError {
    #[error("not acceptable XML: {0}")]
    Xml(String),
    #[error("not a ser:MetadataServiceList")]
    NotAList,
    #[error("the list's signature does not verify with a trust anchor: {0}")]
    Signature(String),
    #[error("the list is past its NextUpdate ({0})")]
    Expired(String),
    #[error("{0}")]
    Malformed(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MdslEntry {
    pub territory: String,
    pub location: String,
    pub certificates: Vec<Certificate>,
    /// (EndpointType, EntityID) pairs.
    pub endpoints: Vec<(String, String)>,
    pub suspended: bool,
    /// Every endpoint says `HideFromDiscovery="true"`: not offered on a country page.
    pub hidden: bool,
}

/// `ser:Endpoint/@EndpointType` of a Proxy-Service.
pub const EPT_PROXY_SERVICE: &str = "http://eidas.europa.eu/metadata/ept/ProxyService";

impl MdslEntry {
    /// Whether the location is a Proxy-Service's (an endpoint says so).
    pub fn is_proxy_service(&self) -> bool {
        self.endpoints.iter().any(|(t, _)| t == EPT_PROXY_SERVICE)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceList {
    pub issue_date: String,
    pub next_update: Option<String>,
    pub territory: Option<String>,
    pub entries: Vec<MdslEntry>,
}

impl ServiceList {
    /// Peers for the entries not suspended.
    pub fn peers(&self) -> Vec<Peer> {
        self.entries
            .iter()
            .filter(|e| !e.suspended)
            .map(|e| Peer {
                url: e.location.clone(),
                trust_anchors: e.certificates.clone(),
            })
            .collect()
    }
}

/// Verify the list with the trust anchors, then read it.
pub fn parse_verified(
    bytes: &[u8],
    anchors: &[Certificate],
    now: OffsetDateTime,
) -> Result<ServiceList, MdslError> {
    let doc = xml::parse(bytes, &Limits::default()).map_err(|e| MdslError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if !root.is(ns::SERVICE_LIST, "MetadataServiceList") {
        return Err(MdslError::NotAList);
    }
    let keys: Vec<_> = anchors.iter().map(|c| c.public_key().clone()).collect();
    let opts = VerifyOptions {
        allow_legacy_rsa: false,
        allow_whole_document: true,
    };
    dsig::verify_element(&doc, doc.root(), &keys, &opts)
        .map_err(|e| MdslError::Signature(e.to_string()))?;
    let next_update = root.attr("NextUpdate").map(str::to_string);
    if let Some(nu) = &next_update {
        let t = parse_instant("NextUpdate", nu).map_err(|e| MdslError::Malformed(e.to_string()))?;
        if t <= now {
            return Err(MdslError::Expired(nu.clone()));
        }
    }
    let mut entries = Vec::new();
    for list in root.children_named(ns::SERVICE_LIST, "MetadataList") {
        let territory = list.attr("Territory").unwrap_or_default().to_string();
        let list_suspended = list.attr("Suspend") == Some("true");
        for loc in list.children_named(ns::SERVICE_LIST, "MetadataLocation") {
            let mut certificates = Vec::new();
            for ki in loc.children_named(crate::xmlsec::ns::DSIG, "KeyInfo") {
                for xd in ki.children_named(crate::xmlsec::ns::DSIG, "X509Data") {
                    for c in xd.children_named(crate::xmlsec::ns::DSIG, "X509Certificate") {
                        let der = decode_b64(&c.text(), "X509Certificate")
                            .map_err(|e| MdslError::Malformed(e.to_string()))?;
                        certificates.push(
                            Certificate::from_der(&der)
                                .map_err(|e| MdslError::Malformed(e.to_string()))?,
                        );
                    }
                }
            }
            entries.push(MdslEntry {
                territory: territory.clone(),
                location: loc.attr("Location").unwrap_or_default().to_string(),
                certificates,
                endpoints: loc
                    .children_named(ns::SERVICE_LIST, "Endpoint")
                    .map(|e| {
                        (
                            e.attr("EndpointType").unwrap_or_default().to_string(),
                            e.attr("EntityID").unwrap_or_default().to_string(),
                        )
                    })
                    .collect(),
                suspended: list_suspended || loc.attr("Suspend") == Some("true"),
                hidden: {
                    let eps: Vec<_> = loc.children_named(ns::SERVICE_LIST, "Endpoint").collect();
                    !eps.is_empty()
                        && eps
                            .iter()
                            .all(|e| e.attr("HideFromDiscovery") == Some("true"))
                },
            });
        }
    }
    Ok(ServiceList {
        issue_date: root.attr("IssueDate").unwrap_or_default().to_string(),
        next_update,
        territory: root
            .first_child_named(ns::SERVICE_LIST, "SchemeInformation")
            .and_then(|s| s.first_child_named(ns::SERVICE_LIST, "SchemeTerritory"))
            .map(|t| t.text().trim().to_string()),
        entries,
    })
}

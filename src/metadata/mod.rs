//! eIDAS SAML metadata: the model of an `md:EntityDescriptor` with every eIDAS extension, read
//! from a trusted (signature-verified) element; our own metadata for both roles (`ours`); the
//! auditor's profile checks (`check`, eidas.md §7 A–C).

pub mod check;
pub mod fetch;
pub mod mdsl;
pub mod ours;

use crate::crypto::Certificate;
use crate::saml::{SamlError, Trusted, bool_attr, ns as saml_ns};
use crate::xml::ElementRef;
use crate::xmlsec::dsig::decode_b64;

pub mod ns {
    pub const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    pub const MDATTR: &str = "urn:oasis:names:tc:SAML:metadata:attribute";
    pub const ALG: &str = "urn:oasis:names:tc:SAML:metadata:algsupport";
    pub const SERVICE_LIST: &str = "http://eidas.europa.eu/metadata/servicelist";
}

pub mod entity_attribute {
    pub const PROTOCOL_VERSION: &str = "http://eidas.europa.eu/entity-attributes/protocol-version";
    pub const APPLICATION_IDENTIFIER: &str =
        "http://eidas.europa.eu/entity-attributes/application-identifier";
    pub const ASSURANCE_CERTIFICATION: &str =
        "urn:oasis:names:tc:SAML:attribute:assurance-certification";
    /// The older name Sweden Connect's library uses for the same list.
    pub const ASSURANCE_CERTIFICATION_OLD: &str = "http://eidas.europa.eu/LoA";
    pub const ENTITY_CATEGORY: &str = "http://macedir.org/entity-category";
    pub const REQUESTER_ID_DEMANDED: &str =
        "http://eidas.europa.eu/entity-attributes/termsofaccess/requesterid";
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDescriptor {
    /// `signing`, `encryption`, or None (both).
    pub usage: Option<String>,
    pub certificates: Vec<Result<Certificate, String>>,
    pub encryption_methods: Vec<String>,
}

impl KeyDescriptor {
    pub fn for_signing(&self) -> bool {
        self.usage.as_deref() != Some("encryption")
    }

    pub fn for_encryption(&self) -> bool {
        self.usage.as_deref() != Some("signing")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    pub binding: String,
    pub location: String,
    pub index: Option<String>,
    pub is_default: Option<bool>,
}

/// An IDPSSODescriptor (Proxy-Service) or SPSSODescriptor (Connector).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleDescriptor {
    pub protocol_support: String,
    pub node_country: Option<String>,
    /// SPType placed in the role descriptor's extensions (some peers put it there).
    pub sp_type: Option<String>,
    pub key_descriptors: Vec<KeyDescriptor>,
    pub name_id_formats: Vec<String>,
    /// IDP: WantAuthnRequestsSigned; SP: AuthnRequestsSigned.
    pub requests_signed: Option<bool>,
    /// SP only.
    pub want_assertions_signed: Option<bool>,
    /// IDP: SingleSignOnService; SP: AssertionConsumerService.
    pub endpoints: Vec<Endpoint>,
    /// IDP: the `saml2:Attribute` names it can supply.
    pub attributes: Vec<String>,
    /// Whether the descriptor carries its own ds:Signature (old EC nodes).
    pub signed: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contact {
    pub contact_type: String,
    pub email: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EntityDescriptor {
    pub entity_id: String,
    pub id: Option<String>,
    pub valid_until: Option<String>,
    pub cache_duration: Option<String>,
    /// `mdattr:EntityAttributes`: (Name, values).
    pub entity_attributes: Vec<(String, Vec<String>)>,
    pub sp_type: Option<String>,
    pub digest_methods: Vec<String>,
    pub signing_methods: Vec<String>,
    pub idp: Option<RoleDescriptor>,
    pub idp_count: usize,
    pub sp: Option<RoleDescriptor>,
    pub sp_count: usize,
    pub organization_name: Option<String>,
    pub contacts: Vec<Contact>,
}

impl EntityDescriptor {
    pub fn parse(t: &Trusted<'_>) -> Result<EntityDescriptor, SamlError> {
        Self::read(t.element())
    }

    /// Read the model from an element whose trust the caller established (a verified signature,
    /// or an aggregate verified as a whole).
    pub(crate) fn read(e: ElementRef<'_>) -> Result<EntityDescriptor, SamlError> {
        if !e.is(ns::MD, "EntityDescriptor") {
            return Err(SamlError::UnexpectedElement {
                expected: "md:EntityDescriptor".into(),
                found: e.expanded_name(),
            });
        }
        let mut d = EntityDescriptor {
            entity_id: e.attr("entityID").unwrap_or_default().to_string(),
            id: e.attr("ID").map(str::to_string),
            valid_until: e.attr("validUntil").map(str::to_string),
            cache_duration: e.attr("cacheDuration").map(str::to_string),
            ..EntityDescriptor::default()
        };
        if let Some(x) = e.first_child_named(ns::MD, "Extensions") {
            for c in x.child_elements() {
                if c.is(ns::MDATTR, "EntityAttributes") {
                    for a in c.children_named(saml_ns::ASSERTION, "Attribute") {
                        d.entity_attributes.push((
                            a.attr("Name").unwrap_or_default().trim().to_string(),
                            a.children_named(saml_ns::ASSERTION, "AttributeValue")
                                .map(|v| v.text().trim().to_string())
                                .collect(),
                        ));
                    }
                } else if c.is(saml_ns::EIDAS, "SPType") {
                    d.sp_type = Some(c.text().trim().to_string());
                } else if c.is(ns::ALG, "DigestMethod") {
                    d.digest_methods
                        .push(c.attr("Algorithm").unwrap_or_default().to_string());
                } else if c.is(ns::ALG, "SigningMethod") {
                    d.signing_methods
                        .push(c.attr("Algorithm").unwrap_or_default().to_string());
                }
            }
        }
        let idps: Vec<_> = e.children_named(ns::MD, "IDPSSODescriptor").collect();
        d.idp_count = idps.len();
        d.idp = idps.first().map(|r| read_role(*r, true)).transpose()?;
        let sps: Vec<_> = e.children_named(ns::MD, "SPSSODescriptor").collect();
        d.sp_count = sps.len();
        d.sp = sps.first().map(|r| read_role(*r, false)).transpose()?;
        d.organization_name = e
            .first_child_named(ns::MD, "Organization")
            .and_then(|o| o.first_child_named(ns::MD, "OrganizationName"))
            .map(|n| n.text().trim().to_string());
        d.contacts = e
            .children_named(ns::MD, "ContactPerson")
            .map(|c| Contact {
                contact_type: c.attr("contactType").unwrap_or_default().to_string(),
                email: c
                    .children_named(ns::MD, "EmailAddress")
                    .map(|m| m.text().trim().to_string())
                    .collect(),
            })
            .collect();
        Ok(d)
    }

    /// Values of an entity attribute.
    pub fn entity_attribute(&self, name: &str) -> Option<&[String]> {
        self.entity_attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The LoAs a Proxy-Service publishes (assurance-certification, or its older name).
    pub fn published_loas(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for n in [
            entity_attribute::ASSURANCE_CERTIFICATION,
            entity_attribute::ASSURANCE_CERTIFICATION_OLD,
        ] {
            if let Some(x) = self.entity_attribute(n) {
                v.extend(x.iter().cloned());
            }
        }
        v
    }

    /// SPType, wherever the peer put it (entity or role extensions).
    pub fn sp_type(&self) -> Option<&str> {
        self.sp_type
            .as_deref()
            .or_else(|| self.sp.as_ref().and_then(|s| s.sp_type.as_deref()))
    }
}

fn read_role(r: ElementRef<'_>, idp: bool) -> Result<RoleDescriptor, SamlError> {
    let mut role = RoleDescriptor {
        protocol_support: r
            .attr("protocolSupportEnumeration")
            .unwrap_or_default()
            .to_string(),
        signed: r
            .first_child_named(crate::xmlsec::ns::DSIG, "Signature")
            .is_some(),
        ..RoleDescriptor::default()
    };
    if idp {
        role.requests_signed = bool_attr(r, "WantAuthnRequestsSigned")?;
    } else {
        role.requests_signed = bool_attr(r, "AuthnRequestsSigned")?;
        role.want_assertions_signed = bool_attr(r, "WantAssertionsSigned")?;
    }
    if let Some(x) = r.first_child_named(ns::MD, "Extensions") {
        role.node_country = x
            .first_child_named(saml_ns::EIDAS, "NodeCountry")
            .map(|c| c.text().trim().to_string());
        role.sp_type = x
            .first_child_named(saml_ns::EIDAS, "SPType")
            .map(|c| c.text().trim().to_string());
    }
    for kd in r.children_named(ns::MD, "KeyDescriptor") {
        let certificates = kd
            .first_child_named(crate::xmlsec::ns::DSIG, "KeyInfo")
            .into_iter()
            .flat_map(|ki| ki.children_named(crate::xmlsec::ns::DSIG, "X509Data"))
            .flat_map(|xd| xd.children_named(crate::xmlsec::ns::DSIG, "X509Certificate"))
            .map(|c| {
                decode_b64(&c.text(), "X509Certificate")
                    .map_err(|e| e.to_string())
                    .and_then(|der| Certificate::from_der(&der).map_err(|e| e.to_string()))
            })
            .collect();
        role.key_descriptors.push(KeyDescriptor {
            usage: kd.attr("use").map(str::to_string),
            certificates,
            encryption_methods: kd
                .children_named(ns::MD, "EncryptionMethod")
                .map(|m| m.attr("Algorithm").unwrap_or_default().to_string())
                .collect(),
        });
    }
    role.name_id_formats = r
        .children_named(ns::MD, "NameIDFormat")
        .map(|n| n.text().trim().to_string())
        .collect();
    let endpoint_name = if idp {
        "SingleSignOnService"
    } else {
        "AssertionConsumerService"
    };
    for ep in r.children_named(ns::MD, endpoint_name) {
        role.endpoints.push(Endpoint {
            binding: ep.attr("Binding").unwrap_or_default().to_string(),
            location: ep.attr("Location").unwrap_or_default().to_string(),
            index: ep.attr("index").map(str::to_string),
            is_default: bool_attr(ep, "isDefault")?,
        });
    }
    if idp {
        role.attributes = r
            .children_named(saml_ns::ASSERTION, "Attribute")
            .map(|a| a.attr("Name").unwrap_or_default().to_string())
            .collect();
    }
    Ok(role)
}

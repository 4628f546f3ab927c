//! `saml2p:AuthnRequest` with the eIDAS extensions (SPType, RequestedAttributes) and Scoping's
//! RequesterID. The parser keeps what was sent, absent or not, so that the eIDAS rules can name
//! each missing or wrong piece; it fails only on structure it cannot represent.

use super::{Issuer, SamlError, Trusted, bool_attr, ns, one};
use crate::xml::write::{attr, text};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthnRequest {
    pub id: Option<String>,
    pub version: Option<String>,
    pub issue_instant: Option<String>,
    pub destination: Option<String>,
    pub force_authn: Option<bool>,
    pub is_passive: Option<bool>,
    pub protocol_binding: Option<String>,
    pub assertion_consumer_service_url: Option<String>,
    pub assertion_consumer_service_index: Option<String>,
    pub provider_name: Option<String>,
    pub consent: Option<String>,
    pub issuer: Option<Issuer>,
    /// `saml2p:Extensions`, if present.
    pub extensions: Option<Extensions>,
    pub name_id_policy: Option<NameIdPolicy>,
    pub requested_authn_context: Option<RequestedAuthnContext>,
    pub requester_ids: Vec<String>,
    /// eIDAS has no subject pre-selection; the rules refuse a request that carries one.
    pub has_subject: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extensions {
    pub sp_type: Option<String>,
    /// `eidas:RequestedAttributes`, if present (it may be present and empty).
    pub requested_attributes: Option<Vec<RequestedAttribute>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestedAttribute {
    pub name: String,
    pub name_format: Option<String>,
    pub friendly_name: Option<String>,
    pub is_required: Option<bool>,
    pub values: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameIdPolicy {
    pub format: Option<String>,
    pub allow_create: Option<bool>,
    pub sp_name_qualifier: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestedAuthnContext {
    /// As written; absent means SAML's default, `exact`.
    pub comparison: Option<String>,
    pub class_refs: Vec<String>,
}

impl AuthnRequest {
    /// Read an AuthnRequest from a trusted element.
    pub fn parse(t: &Trusted<'_>) -> Result<AuthnRequest, SamlError> {
        let e = t.element();
        if !e.is(ns::PROTOCOL, "AuthnRequest") {
            return Err(SamlError::UnexpectedElement {
                expected: "saml2p:AuthnRequest".into(),
                found: e.expanded_name(),
            });
        }
        let s = |n: &str| e.attr(n).map(str::to_string);
        let mut r = AuthnRequest {
            id: s("ID"),
            version: s("Version"),
            issue_instant: s("IssueInstant"),
            destination: s("Destination"),
            force_authn: bool_attr(e, "ForceAuthn")?,
            is_passive: bool_attr(e, "IsPassive")?,
            protocol_binding: s("ProtocolBinding"),
            assertion_consumer_service_url: s("AssertionConsumerServiceURL"),
            assertion_consumer_service_index: s("AssertionConsumerServiceIndex"),
            provider_name: s("ProviderName"),
            consent: s("Consent"),
            ..AuthnRequest::default()
        };
        let kids: Vec<_> = t.children().collect();
        r.issuer = one(
            kids.iter()
                .copied()
                .filter(|c| c.is(ns::ASSERTION, "Issuer")),
            "AuthnRequest",
            "Issuer",
        )?
        .map(Issuer::read);
        if let Some(x) = one(
            kids.iter()
                .copied()
                .filter(|c| c.is(ns::PROTOCOL, "Extensions")),
            "AuthnRequest",
            "Extensions",
        )? {
            let sp_type = one(
                x.children_named(ns::EIDAS, "SPType"),
                "Extensions",
                "SPType",
            )?
            .map(|s| s.text().trim().to_string());
            let requested_attributes = one(
                x.children_named(ns::EIDAS, "RequestedAttributes"),
                "Extensions",
                "RequestedAttributes",
            )?
            .map(|ra| {
                ra.children_named(ns::EIDAS, "RequestedAttribute")
                    .map(|a| {
                        Ok(RequestedAttribute {
                            name: a.attr("Name").unwrap_or_default().trim().to_string(),
                            name_format: a.attr("NameFormat").map(|v| v.trim().to_string()),
                            friendly_name: a.attr("FriendlyName").map(str::to_string),
                            is_required: bool_attr(a, "isRequired")?,
                            values: a
                                .children_named(ns::EIDAS, "AttributeValue")
                                .map(|v| v.text())
                                .collect(),
                        })
                    })
                    .collect::<Result<Vec<_>, SamlError>>()
            })
            .transpose()?;
            r.extensions = Some(Extensions {
                sp_type,
                requested_attributes,
            });
        }
        r.name_id_policy = one(
            kids.iter()
                .copied()
                .filter(|c| c.is(ns::PROTOCOL, "NameIDPolicy")),
            "AuthnRequest",
            "NameIDPolicy",
        )?
        .map(|p| {
            Ok::<_, SamlError>(NameIdPolicy {
                format: p.attr("Format").map(|v| v.trim().to_string()),
                allow_create: bool_attr(p, "AllowCreate")?,
                sp_name_qualifier: p.attr("SPNameQualifier").map(str::to_string),
            })
        })
        .transpose()?;
        r.requested_authn_context = one(
            kids.iter()
                .copied()
                .filter(|c| c.is(ns::PROTOCOL, "RequestedAuthnContext")),
            "AuthnRequest",
            "RequestedAuthnContext",
        )?
        .map(|c| RequestedAuthnContext {
            comparison: c.attr("Comparison").map(str::to_string),
            class_refs: c
                .children_named(ns::ASSERTION, "AuthnContextClassRef")
                .map(|r| r.text().trim().to_string())
                .collect(),
        });
        if let Some(scoping) = kids.iter().find(|c| c.is(ns::PROTOCOL, "Scoping")) {
            r.requester_ids = scoping
                .children_named(ns::PROTOCOL, "RequesterID")
                .map(|x| x.text().trim().to_string())
                .collect();
        }
        r.has_subject = kids.iter().any(|c| c.is(ns::ASSERTION, "Subject"));
        Ok(r)
    }

    /// Schema-valid XML, unsigned (sign it with `xmlsec::dsig::sign_element`, or send it with the
    /// Redirect binding's query signature).
    pub fn to_xml(&self) -> String {
        let mut o = String::with_capacity(2048);
        o.push_str(&format!(
            "<saml2p:AuthnRequest xmlns:saml2p=\"{}\" xmlns:saml2=\"{}\" xmlns:eidas=\"{}\"",
            ns::PROTOCOL,
            ns::ASSERTION,
            ns::EIDAS
        ));
        let mut a = |name: &str, v: &Option<String>| {
            if let Some(v) = v {
                o.push_str(&format!(" {name}=\"{}\"", attr(v)));
            }
        };
        a("ID", &self.id);
        a("Version", &self.version);
        a("IssueInstant", &self.issue_instant);
        a("Destination", &self.destination);
        a("ForceAuthn", &self.force_authn.map(|b| b.to_string()));
        a("IsPassive", &self.is_passive.map(|b| b.to_string()));
        a("ProtocolBinding", &self.protocol_binding);
        a(
            "AssertionConsumerServiceURL",
            &self.assertion_consumer_service_url,
        );
        a(
            "AssertionConsumerServiceIndex",
            &self.assertion_consumer_service_index,
        );
        a("ProviderName", &self.provider_name);
        a("Consent", &self.consent);
        o.push('>');
        if let Some(i) = &self.issuer {
            i.write(&mut o);
        }
        if let Some(x) = &self.extensions {
            o.push_str("<saml2p:Extensions>");
            if let Some(t) = &x.sp_type {
                o.push_str(&format!("<eidas:SPType>{}</eidas:SPType>", text(t)));
            }
            if let Some(ras) = &x.requested_attributes {
                o.push_str("<eidas:RequestedAttributes>");
                for ra in ras {
                    o.push_str(&format!(
                        "<eidas:RequestedAttribute Name=\"{}\"",
                        attr(&ra.name)
                    ));
                    if let Some(f) = &ra.name_format {
                        o.push_str(&format!(" NameFormat=\"{}\"", attr(f)));
                    }
                    if let Some(f) = &ra.friendly_name {
                        o.push_str(&format!(" FriendlyName=\"{}\"", attr(f)));
                    }
                    if let Some(r) = ra.is_required {
                        o.push_str(&format!(" isRequired=\"{r}\""));
                    }
                    if ra.values.is_empty() {
                        o.push_str("/>");
                    } else {
                        o.push('>');
                        for v in &ra.values {
                            o.push_str(&format!(
                                "<eidas:AttributeValue>{}</eidas:AttributeValue>",
                                text(v)
                            ));
                        }
                        o.push_str("</eidas:RequestedAttribute>");
                    }
                }
                o.push_str("</eidas:RequestedAttributes>");
            }
            o.push_str("</saml2p:Extensions>");
        }
        if let Some(p) = &self.name_id_policy {
            o.push_str("<saml2p:NameIDPolicy");
            if let Some(f) = &p.format {
                o.push_str(&format!(" Format=\"{}\"", attr(f)));
            }
            if let Some(q) = &p.sp_name_qualifier {
                o.push_str(&format!(" SPNameQualifier=\"{}\"", attr(q)));
            }
            if let Some(c) = p.allow_create {
                o.push_str(&format!(" AllowCreate=\"{c}\""));
            }
            o.push_str("/>");
        }
        if let Some(c) = &self.requested_authn_context {
            o.push_str("<saml2p:RequestedAuthnContext");
            if let Some(cmp) = &c.comparison {
                o.push_str(&format!(" Comparison=\"{}\"", attr(cmp)));
            }
            o.push('>');
            for r in &c.class_refs {
                o.push_str(&format!(
                    "<saml2:AuthnContextClassRef>{}</saml2:AuthnContextClassRef>",
                    text(r)
                ));
            }
            o.push_str("</saml2p:RequestedAuthnContext>");
        }
        if !self.requester_ids.is_empty() {
            o.push_str("<saml2p:Scoping>");
            for r in &self.requester_ids {
                o.push_str(&format!(
                    "<saml2p:RequesterID>{}</saml2p:RequesterID>",
                    text(r)
                ));
            }
            o.push_str("</saml2p:Scoping>");
        }
        o.push_str("</saml2p:AuthnRequest>");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saml::NAMEID_ENTITY;
    use crate::xml::{Limits, parse};

    #[test]
    fn what_we_build_we_parse_back_equal() {
        let r = AuthnRequest {
            id: Some("_r".into()),
            version: Some("2.0".into()),
            issue_instant: Some("2026-11-29T10:00:00.000Z".into()),
            destination: Some("https://ps.example/sso".into()),
            force_authn: Some(true),
            is_passive: Some(false),
            protocol_binding: Some(crate::saml::binding_uri::HTTP_POST.into()),
            assertion_consumer_service_url: Some("https://cn.example/acs".into()),
            provider_name: Some("Skatteetaten & co".into()),
            consent: Some("urn:oasis:names:tc:SAML:2.0:consent:unspecified".into()),
            issuer: Some(Issuer {
                value: "https://cn.example/md".into(),
                format: Some(NAMEID_ENTITY.into()),
            }),
            extensions: Some(Extensions {
                sp_type: Some("private".into()),
                requested_attributes: Some(vec![RequestedAttribute {
                    name: "http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier".into(),
                    name_format: Some(crate::saml::ATTRNAME_FORMAT_URI.into()),
                    friendly_name: Some("PersonIdentifier".into()),
                    is_required: Some(true),
                    values: vec!["NO/SE/x<y".into()],
                }]),
            }),
            name_id_policy: Some(NameIdPolicy {
                format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:transient".into()),
                allow_create: Some(true),
                sp_name_qualifier: Some("q".into()),
            }),
            requested_authn_context: Some(RequestedAuthnContext {
                comparison: Some("exact".into()),
                class_refs: vec![
                    "http://eidas.europa.eu/NotNotified/LoA/high".into(),
                    "http://eidas.europa.eu/LoA/high".into(),
                ],
            }),
            requester_ids: vec!["https://sp.example.no".into()],
            ..AuthnRequest::default()
        };
        let xml = r.to_xml();
        let doc = parse(xml.as_bytes(), &Limits::message()).unwrap();
        assert_eq!(AuthnRequest::parse(&Trusted::decrypted(&doc)).unwrap(), r);
    }

    #[test]
    fn refuses_structure_it_cannot_represent() {
        let two_issuers = "<saml2p:AuthnRequest xmlns:saml2p=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_r\"><saml2:Issuer>a</saml2:Issuer><saml2:Issuer>b</saml2:Issuer></saml2p:AuthnRequest>";
        let doc = parse(two_issuers.as_bytes(), &Limits::message()).unwrap();
        assert!(matches!(
            AuthnRequest::parse(&Trusted::decrypted(&doc)),
            Err(SamlError::Duplicate { .. })
        ));
        let bad_bool = "<saml2p:AuthnRequest xmlns:saml2p=\"urn:oasis:names:tc:SAML:2.0:protocol\" ForceAuthn=\"yes\"/>";
        let doc = parse(bad_bool.as_bytes(), &Limits::message()).unwrap();
        assert!(matches!(
            AuthnRequest::parse(&Trusted::decrypted(&doc)),
            Err(SamlError::BadValue { .. })
        ));
        let response = "<saml2p:Response xmlns:saml2p=\"urn:oasis:names:tc:SAML:2.0:protocol\"/>";
        let doc = parse(response.as_bytes(), &Limits::message()).unwrap();
        assert!(matches!(
            AuthnRequest::parse(&Trusted::decrypted(&doc)),
            Err(SamlError::UnexpectedElement { .. })
        ));
    }
}

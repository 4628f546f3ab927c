//! `saml2p:Response` and `saml2:Assertion`: reading them from trusted elements and writing them.
//! As with the AuthnRequest, the reader records what is there (and how often) and leaves the
//! verdicts to the eIDAS rules.

use super::{Issuer, SamlError, TrustKind, Trusted, bool_attr, ns, one};
use crate::xml::write::{attr, text};
use crate::xml::{Document, ElementRef, NodeId};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub code: Option<String>,
    pub sub_code: Option<String>,
    pub message: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub id: Option<String>,
    pub version: Option<String>,
    pub issue_instant: Option<String>,
    pub in_response_to: Option<String>,
    pub destination: Option<String>,
    pub consent: Option<String>,
    pub issuer: Option<Issuer>,
    pub status: Option<Status>,
    /// Plaintext `saml2:Assertion` children (eIDAS refuses them in a success Response).
    pub assertions: Vec<NodeId>,
    /// The `xenc:EncryptedData` inside each `saml2:EncryptedAssertion`.
    pub encrypted_assertions: Vec<NodeId>,
}

impl Response {
    pub fn parse(t: &Trusted<'_>) -> Result<Response, SamlError> {
        let e = t.element();
        if !e.is(ns::PROTOCOL, "Response") {
            return Err(SamlError::UnexpectedElement {
                expected: "saml2p:Response".into(),
                found: e.expanded_name(),
            });
        }
        let s = |n: &str| e.attr(n).map(str::to_string);
        let kids: Vec<_> = t.children().collect();
        let issuer = one(
            kids.iter()
                .copied()
                .filter(|c| c.is(ns::ASSERTION, "Issuer")),
            "Response",
            "Issuer",
        )?
        .map(Issuer::read);
        let status = one(
            kids.iter()
                .copied()
                .filter(|c| c.is(ns::PROTOCOL, "Status")),
            "Response",
            "Status",
        )?
        .map(read_status);
        let mut encrypted = Vec::new();
        for ea in kids
            .iter()
            .filter(|c| c.is(ns::ASSERTION, "EncryptedAssertion"))
        {
            let ed = one(
                ea.children_named(crate::xmlsec::ns::XENC, "EncryptedData"),
                "EncryptedAssertion",
                "EncryptedData",
            )?
            .ok_or(SamlError::Missing {
                element: "EncryptedAssertion",
                what: "EncryptedData",
            })?;
            encrypted.push(ed.id());
        }
        Ok(Response {
            id: s("ID"),
            version: s("Version"),
            issue_instant: s("IssueInstant"),
            in_response_to: s("InResponseTo"),
            destination: s("Destination"),
            consent: s("Consent"),
            issuer,
            status,
            assertions: kids
                .iter()
                .filter(|c| c.is(ns::ASSERTION, "Assertion"))
                .map(|c| c.id())
                .collect(),
            encrypted_assertions: encrypted,
        })
    }

    /// XML for this Response, unsigned, with `assertion_xml` (an EncryptedAssertion or, in tests,
    /// an Assertion) after the Status.
    pub fn to_xml(&self, assertion_xml: Option<&str>) -> String {
        let mut o = String::with_capacity(1024 + assertion_xml.map_or(0, str::len));
        o.push_str(&format!(
            "<saml2p:Response xmlns:saml2p=\"{}\" xmlns:saml2=\"{}\"",
            ns::PROTOCOL,
            ns::ASSERTION
        ));
        for (n, v) in [
            ("ID", &self.id),
            ("Version", &self.version),
            ("IssueInstant", &self.issue_instant),
            ("InResponseTo", &self.in_response_to),
            ("Destination", &self.destination),
            ("Consent", &self.consent),
        ] {
            if let Some(v) = v {
                o.push_str(&format!(" {n}=\"{}\"", attr(v)));
            }
        }
        o.push('>');
        if let Some(i) = &self.issuer {
            i.write(&mut o);
        }
        if let Some(st) = &self.status {
            o.push_str("<saml2p:Status><saml2p:StatusCode");
            if let Some(c) = &st.code {
                o.push_str(&format!(" Value=\"{}\"", attr(c)));
            }
            match &st.sub_code {
                Some(sc) => o.push_str(&format!(
                    "><saml2p:StatusCode Value=\"{}\"/></saml2p:StatusCode>",
                    attr(sc)
                )),
                None => o.push_str("/>"),
            }
            if let Some(m) = &st.message {
                o.push_str(&format!(
                    "<saml2p:StatusMessage>{}</saml2p:StatusMessage>",
                    text(m)
                ));
            }
            o.push_str("</saml2p:Status>");
        }
        if let Some(a) = assertion_xml {
            o.push_str(a);
        }
        o.push_str("</saml2p:Response>");
        o
    }
}

fn read_status(st: ElementRef<'_>) -> Status {
    let code = st.first_child_named(ns::PROTOCOL, "StatusCode");
    Status {
        code: code.and_then(|c| c.attr("Value")).map(str::to_string),
        sub_code: code
            .and_then(|c| c.first_child_named(ns::PROTOCOL, "StatusCode"))
            .and_then(|c| c.attr("Value"))
            .map(str::to_string),
        message: st
            .first_child_named(ns::PROTOCOL, "StatusMessage")
            .map(|m| m.text()),
    }
}

impl<'d> Trusted<'d> {
    /// An assertion decrypted out of `response`, which must itself be trusted.
    pub fn decrypted_from(response: &Trusted<'_>, assertion: &'d Document) -> Trusted<'d> {
        debug_assert!(response.element().is(ns::PROTOCOL, "Response"));
        let _ = response.kind();
        Trusted::decrypted(assertion)
    }

    /// A plaintext assertion inside a trusted Response (covered by its signature).
    pub fn child_of(response: &Trusted<'d>, id: NodeId) -> Option<Trusted<'d>> {
        let doc = response.element().document();
        let e = doc.element(id)?;
        if !doc.is_ancestor_or_self(response.element().id(), id) {
            return None;
        }
        Some(Trusted {
            element: e,
            signature: None,
            how: response.kind(),
        })
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameId {
    pub value: String,
    pub format: Option<String>,
    pub name_qualifier: Option<String>,
    pub sp_name_qualifier: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectConfirmation {
    pub method: Option<String>,
    pub in_response_to: Option<String>,
    pub recipient: Option<String>,
    pub not_on_or_after: Option<String>,
    pub not_before: Option<String>,
    pub address: Option<String>,
    pub has_data: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Conditions {
    pub not_before: Option<String>,
    pub not_on_or_after: Option<String>,
    /// One list per AudienceRestriction.
    pub audience_restrictions: Vec<Vec<String>>,
    pub one_time_use: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthnStatement {
    pub authn_instant: Option<String>,
    pub class_refs: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttributeValue {
    pub value: String,
    /// `xsi:type` resolved to (namespace, local name); the namespace is None when the prefix was
    /// not bound.
    pub xsi_type: Option<(Option<String>, String)>,
    /// The person-type namespace's `LatinScript` attribute, if present.
    pub latin_script: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub name_format: Option<String>,
    pub friendly_name: Option<String>,
    pub values: Vec<AttributeValue>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Assertion {
    pub id: Option<String>,
    pub version: Option<String>,
    pub issue_instant: Option<String>,
    pub issuer: Option<Issuer>,
    /// Whether the assertion carried its own ds:Signature (verified separately by the caller).
    pub signed: bool,
    pub name_id: Option<NameId>,
    pub has_subject: bool,
    pub subject_confirmations: Vec<SubjectConfirmation>,
    pub conditions: Option<Conditions>,
    pub conditions_count: usize,
    pub authn_statements: Vec<AuthnStatement>,
    /// One list per AttributeStatement.
    pub attribute_statements: Vec<Vec<Attribute>>,
    pub how: Option<TrustKind>,
}

impl Assertion {
    pub fn parse(t: &Trusted<'_>) -> Result<Assertion, SamlError> {
        let e = t.element();
        if !e.is(ns::ASSERTION, "Assertion") {
            return Err(SamlError::UnexpectedElement {
                expected: "saml2:Assertion".into(),
                found: e.expanded_name(),
            });
        }
        let s = |n: &str| e.attr(n).map(str::to_string);
        let kids: Vec<_> = e.child_elements().collect();
        let named = |local: &'static str| {
            kids.iter()
                .copied()
                .filter(move |c| c.is(ns::ASSERTION, local))
        };
        let mut a = Assertion {
            id: s("ID"),
            version: s("Version"),
            issue_instant: s("IssueInstant"),
            issuer: one(named("Issuer"), "Assertion", "Issuer")?.map(Issuer::read),
            signed: e
                .first_child_named(crate::xmlsec::ns::DSIG, "Signature")
                .is_some(),
            how: Some(t.kind()),
            ..Assertion::default()
        };
        if let Some(subject) = one(named("Subject"), "Assertion", "Subject")? {
            a.has_subject = true;
            a.name_id = one(
                subject.children_named(ns::ASSERTION, "NameID"),
                "Subject",
                "NameID",
            )?
            .map(|n| NameId {
                value: n.text(),
                format: n.attr("Format").map(str::to_string),
                name_qualifier: n.attr("NameQualifier").map(str::to_string),
                sp_name_qualifier: n.attr("SPNameQualifier").map(str::to_string),
            });
            for sc in subject.children_named(ns::ASSERTION, "SubjectConfirmation") {
                let data = one(
                    sc.children_named(ns::ASSERTION, "SubjectConfirmationData"),
                    "SubjectConfirmation",
                    "SubjectConfirmationData",
                )?;
                let d = |n: &str| data.and_then(|x| x.attr(n)).map(str::to_string);
                a.subject_confirmations.push(SubjectConfirmation {
                    method: sc.attr("Method").map(str::to_string),
                    in_response_to: d("InResponseTo"),
                    recipient: d("Recipient"),
                    not_on_or_after: d("NotOnOrAfter"),
                    not_before: d("NotBefore"),
                    address: d("Address"),
                    has_data: data.is_some(),
                });
            }
        }
        let conditions: Vec<_> = named("Conditions").collect();
        a.conditions_count = conditions.len();
        a.conditions = conditions.first().map(|c| Conditions {
            not_before: c.attr("NotBefore").map(str::to_string),
            not_on_or_after: c.attr("NotOnOrAfter").map(str::to_string),
            audience_restrictions: c
                .children_named(ns::ASSERTION, "AudienceRestriction")
                .map(|ar| {
                    ar.children_named(ns::ASSERTION, "Audience")
                        .map(|x| x.text().trim().to_string())
                        .collect()
                })
                .collect(),
            one_time_use: c.first_child_named(ns::ASSERTION, "OneTimeUse").is_some(),
        });
        for st in named("AuthnStatement") {
            a.authn_statements.push(AuthnStatement {
                authn_instant: st.attr("AuthnInstant").map(str::to_string),
                class_refs: st
                    .children_named(ns::ASSERTION, "AuthnContext")
                    .flat_map(|c| c.children_named(ns::ASSERTION, "AuthnContextClassRef"))
                    .map(|r| r.text().trim().to_string())
                    .collect(),
            });
        }
        for st in named("AttributeStatement") {
            let mut list = Vec::new();
            for at in st.children_named(ns::ASSERTION, "Attribute") {
                let mut values = Vec::new();
                for v in at.children_named(ns::ASSERTION, "AttributeValue") {
                    let xsi_type = v.attr_ns(ns::XSI, "type").map(|q| {
                        let q = q.trim();
                        match q.split_once(':') {
                            Some((p, l)) => (
                                v.lookup_namespace(Some(p)).map(str::to_string),
                                l.to_string(),
                            ),
                            None => (v.lookup_namespace(None).map(str::to_string), q.to_string()),
                        }
                    });
                    let latin_script = v
                        .attributes()
                        .find(|x| x.local() == "LatinScript" && x.ns().is_some())
                        .map(|x| match x.value().trim() {
                            "true" | "1" => Ok(true),
                            "false" | "0" => Ok(false),
                            other => Err(SamlError::BadValue {
                                what: "LatinScript",
                                kind: "xs:boolean",
                                value: other.to_string(),
                            }),
                        })
                        .transpose()?;
                    values.push(AttributeValue {
                        value: v.text(),
                        xsi_type,
                        latin_script,
                    });
                }
                list.push(Attribute {
                    name: at.attr("Name").unwrap_or_default().trim().to_string(),
                    name_format: at.attr("NameFormat").map(|x| x.trim().to_string()),
                    friendly_name: at.attr("FriendlyName").map(str::to_string),
                    values,
                });
            }
            a.attribute_statements.push(list);
        }
        let _ = bool_attr;
        Ok(a)
    }

    /// Schema-valid XML for this assertion, unsigned. Each AttributeValue declares the namespace
    /// of its xsi:type itself, so the assertion stays self-contained when it is encrypted.
    pub fn to_xml(&self) -> String {
        let mut o = String::with_capacity(4096);
        o.push_str(&format!(
            "<saml2:Assertion xmlns:saml2=\"{}\" xmlns:xsi=\"{}\"",
            ns::ASSERTION,
            ns::XSI
        ));
        for (n, v) in [
            ("ID", &self.id),
            ("Version", &self.version),
            ("IssueInstant", &self.issue_instant),
        ] {
            if let Some(v) = v {
                o.push_str(&format!(" {n}=\"{}\"", attr(v)));
            }
        }
        o.push('>');
        if let Some(i) = &self.issuer {
            i.write(&mut o);
        }
        if self.name_id.is_some() || !self.subject_confirmations.is_empty() {
            o.push_str("<saml2:Subject>");
            if let Some(n) = &self.name_id {
                o.push_str("<saml2:NameID");
                for (k, v) in [
                    ("Format", &n.format),
                    ("NameQualifier", &n.name_qualifier),
                    ("SPNameQualifier", &n.sp_name_qualifier),
                ] {
                    if let Some(v) = v {
                        o.push_str(&format!(" {k}=\"{}\"", attr(v)));
                    }
                }
                o.push_str(&format!(">{}</saml2:NameID>", text(&n.value)));
            }
            for sc in &self.subject_confirmations {
                o.push_str("<saml2:SubjectConfirmation");
                if let Some(m) = &sc.method {
                    o.push_str(&format!(" Method=\"{}\"", attr(m)));
                }
                o.push_str("><saml2:SubjectConfirmationData");
                for (k, v) in [
                    ("Address", &sc.address),
                    ("InResponseTo", &sc.in_response_to),
                    ("NotBefore", &sc.not_before),
                    ("NotOnOrAfter", &sc.not_on_or_after),
                    ("Recipient", &sc.recipient),
                ] {
                    if let Some(v) = v {
                        o.push_str(&format!(" {k}=\"{}\"", attr(v)));
                    }
                }
                o.push_str("/></saml2:SubjectConfirmation>");
            }
            o.push_str("</saml2:Subject>");
        }
        if let Some(c) = &self.conditions {
            o.push_str("<saml2:Conditions");
            for (k, v) in [
                ("NotBefore", &c.not_before),
                ("NotOnOrAfter", &c.not_on_or_after),
            ] {
                if let Some(v) = v {
                    o.push_str(&format!(" {k}=\"{}\"", attr(v)));
                }
            }
            o.push('>');
            for ar in &c.audience_restrictions {
                o.push_str("<saml2:AudienceRestriction>");
                for a in ar {
                    o.push_str(&format!("<saml2:Audience>{}</saml2:Audience>", text(a)));
                }
                o.push_str("</saml2:AudienceRestriction>");
            }
            if c.one_time_use {
                o.push_str("<saml2:OneTimeUse/>");
            }
            o.push_str("</saml2:Conditions>");
        }
        for st in &self.authn_statements {
            o.push_str("<saml2:AuthnStatement");
            if let Some(i) = &st.authn_instant {
                o.push_str(&format!(" AuthnInstant=\"{}\"", attr(i)));
            }
            o.push_str("><saml2:AuthnContext>");
            for r in &st.class_refs {
                o.push_str(&format!(
                    "<saml2:AuthnContextClassRef>{}</saml2:AuthnContextClassRef>",
                    text(r)
                ));
            }
            o.push_str("</saml2:AuthnContext></saml2:AuthnStatement>");
        }
        for list in &self.attribute_statements {
            o.push_str("<saml2:AttributeStatement>");
            for at in list {
                o.push_str(&format!("<saml2:Attribute Name=\"{}\"", attr(&at.name)));
                if let Some(f) = &at.friendly_name {
                    o.push_str(&format!(" FriendlyName=\"{}\"", attr(f)));
                }
                if let Some(f) = &at.name_format {
                    o.push_str(&format!(" NameFormat=\"{}\"", attr(f)));
                }
                o.push('>');
                for v in &at.values {
                    o.push_str("<saml2:AttributeValue");
                    if let Some((tns, local)) = &v.xsi_type {
                        match tns {
                            Some(tns) => o.push_str(&format!(
                                " xmlns:t=\"{}\" xsi:type=\"t:{}\"",
                                attr(tns),
                                attr(local)
                            )),
                            None => o.push_str(&format!(" xsi:type=\"{}\"", attr(local))),
                        }
                        if let (Some(false), Some(_)) = (v.latin_script, tns) {
                            o.push_str(" t:LatinScript=\"false\"");
                        }
                    }
                    o.push_str(&format!(">{}</saml2:AttributeValue>", text(&v.value)));
                }
                o.push_str("</saml2:Attribute>");
            }
            o.push_str("</saml2:AttributeStatement>");
        }
        o.push_str("</saml2:Assertion>");
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::{Limits, parse};

    /// Test-only: a Trusted for a document we made ourselves.
    fn trusted(doc: &Document) -> Trusted<'_> {
        Trusted::decrypted(doc)
    }

    #[test]
    fn assertion_round_trips() {
        let a = Assertion {
            id: Some("_a".into()),
            version: Some("2.0".into()),
            issue_instant: Some("2026-11-29T10:00:00.000Z".into()),
            issuer: Some(Issuer {
                value: "https://ps.example/metadata".into(),
                format: Some(crate::saml::NAMEID_ENTITY.into()),
            }),
            name_id: Some(NameId {
                value: "NO/SE/abc".into(),
                format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()),
                ..NameId::default()
            }),
            has_subject: true,
            subject_confirmations: vec![SubjectConfirmation {
                method: Some(crate::saml::CM_BEARER.into()),
                in_response_to: Some("_r".into()),
                recipient: Some("https://cn.example/acs".into()),
                not_on_or_after: Some("2026-11-29T10:05:00.000Z".into()),
                has_data: true,
                ..SubjectConfirmation::default()
            }],
            conditions: Some(Conditions {
                not_before: Some("2026-11-29T10:00:00.000Z".into()),
                not_on_or_after: Some("2026-11-29T10:05:00.000Z".into()),
                audience_restrictions: vec![vec!["https://cn.example/metadata".into()]],
                one_time_use: false,
            }),
            conditions_count: 1,
            authn_statements: vec![AuthnStatement {
                authn_instant: Some("2026-11-29T09:59:59.000Z".into()),
                class_refs: vec!["http://eidas.europa.eu/LoA/high".into()],
            }],
            attribute_statements: vec![vec![Attribute {
                name: "http://eidas.europa.eu/attributes/naturalperson/CurrentFamilyName".into(),
                name_format: Some(crate::saml::ATTRNAME_FORMAT_URI.into()),
                friendly_name: Some("FamilyName".into()),
                values: vec![
                    AttributeValue {
                        value: "Nordmann & Co <x>".into(),
                        xsi_type: Some((
                            Some("http://eidas.europa.eu/attributes/naturalperson".into()),
                            "CurrentFamilyNameType".into(),
                        )),
                        latin_script: None,
                    },
                    AttributeValue {
                        value: "Нордман".into(),
                        xsi_type: Some((
                            Some("http://eidas.europa.eu/attributes/naturalperson".into()),
                            "CurrentFamilyNameType".into(),
                        )),
                        latin_script: Some(false),
                    },
                ],
            }]],
            signed: false,
            how: Some(TrustKind::DecryptedFromVerifiedResponse),
        };
        let xml = a.to_xml();
        let doc = parse(xml.as_bytes(), &Limits::message()).unwrap();
        let back = Assertion::parse(&trusted(&doc)).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn response_round_trips_with_status_and_encrypted_assertion() {
        let r = Response {
            id: Some("_r1".into()),
            version: Some("2.0".into()),
            issue_instant: Some("2026-11-29T10:00:00.000Z".into()),
            in_response_to: Some("_q".into()),
            destination: Some("https://cn.example/acs".into()),
            issuer: Some(Issuer {
                value: "https://ps.example/metadata".into(),
                format: None,
            }),
            status: Some(Status {
                code: Some(crate::saml::status::RESPONDER.into()),
                sub_code: Some(crate::saml::status::AUTHN_FAILED.into()),
                message: Some("cancelled".into()),
            }),
            ..Response::default()
        };
        let xml = r.to_xml(Some("<saml2:EncryptedAssertion><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"/></saml2:EncryptedAssertion>"));
        let doc = parse(xml.as_bytes(), &Limits::message()).unwrap();
        let back = Response::parse(&Trusted::decrypted(&doc)).unwrap();
        assert_eq!(back.status, r.status);
        assert_eq!(back.in_response_to, r.in_response_to);
        assert_eq!(back.encrypted_assertions.len(), 1);
        assert!(back.assertions.is_empty());
    }
}

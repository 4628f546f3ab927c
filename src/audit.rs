//! The auditor's view of one SAML message (`eidas-node saml check`): verify its signature,
//! decrypt its assertion, apply the eIDAS rules for its kind, and report the content and every
//! finding with its rule id. It reads messages it does not trust in order to report on them;
//! nothing here feeds the node's flows.

use crate::crypto::{Certificate, PrivateKey, PublicKey};
use crate::eidas::attributes;
use crate::eidas::loa::{Level, RequestedAuthnContext};
use crate::eidas::rules::{self, CnResponseContext, PsRequestContext, Violation};
use crate::metadata::check::{Finding, Severity};
use crate::saml::{Assertion, AuthnRequest, Response, Trusted, ns};
use crate::xml::{self, Document, Limits, NodeId};
use crate::xmlsec::dsig::{self, DsigError, VerifyOptions};
use crate::xmlsec::enc::{self, EncError};
use time::OffsetDateTime;

#[derive(Default)]
pub struct MessageCheckOptions {
    /// Keys trusted for the message's (and the assertion's) signature. Empty: the signature is
    /// checked with the certificate the message carries, and reported as not trusted.
    pub trusted_keys: Vec<PublicKey>,
    pub decrypt_keys: Vec<PrivateKey>,
    /// `ps`: the message is one a Proxy-Service receives (an AuthnRequest); `connector`: one a
    /// Connector receives (a Response). None: judged by the message's kind.
    pub role: Option<String>,
    pub at: Option<OffsetDateTime>,
}

#[derive(Default)]
pub struct MessageReport {
    /// `AuthnRequest`, `Response`, or what else the root was.
    pub kind: String,
    /// Human-readable content lines.
    pub content: Vec<String>,
    pub findings: Vec<Finding>,
    pub signature_trusted: bool,
}

impl MessageReport {
    fn add(&mut self, id: &'static str, severity: Severity, message: impl Into<String>) {
        self.findings.push(Finding {
            id,
            severity,
            message: message.into(),
        });
    }

    fn rules(&mut self, violations: Vec<Violation>) {
        for v in violations {
            self.add(v.rule.id(), Severity::Must, v.detail);
        }
    }

    pub fn has_must(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Must)
    }
}

fn embedded_key(doc: &Document, element: NodeId) -> Option<PublicKey> {
    let e = doc.element(element)?;
    let text = e
        .first_child_named(crate::xmlsec::ns::DSIG, "Signature")?
        .first_child_named(crate::xmlsec::ns::DSIG, "KeyInfo")?
        .first_child_named(crate::xmlsec::ns::DSIG, "X509Data")?
        .first_child_named(crate::xmlsec::ns::DSIG, "X509Certificate")?
        .text();
    let der = dsig::decode_b64(&text, "X509Certificate").ok()?;
    Certificate::from_der(&der)
        .ok()
        .map(|c| c.public_key().clone())
}

/// Verify the signature of `element` and report it; true when it verified with a trusted key.
fn check_signature(
    r: &mut MessageReport,
    doc: &Document,
    element: NodeId,
    what: &str,
    opts: &MessageCheckOptions,
) -> bool {
    let has_sig = doc
        .element(element)
        .and_then(|e| e.first_child_named(crate::xmlsec::ns::DSIG, "Signature"))
        .is_some();
    if !has_sig {
        return false;
    }
    let (keys, anchored) = if opts.trusted_keys.is_empty() {
        match embedded_key(doc, element) {
            Some(k) => (vec![k], false),
            None => {
                r.add(
                    "DSIG-KEY",
                    Severity::Must,
                    format!("{what}: no trusted key given and no certificate in the signature"),
                );
                return false;
            }
        }
    } else {
        (opts.trusted_keys.clone(), true)
    };
    let strict = VerifyOptions::default();
    let result = match dsig::verify_element(doc, element, &keys, &strict) {
        Err(e @ DsigError::Algorithm(_)) => {
            r.add("DSIG-ALG", Severity::Must, format!("{what}: {e}"));
            // Is it otherwise intact? (A forbidden algorithm stays refused; report it once.)
            match dsig::verify_element(
                doc,
                element,
                &keys,
                &VerifyOptions {
                    allow_legacy_rsa: true,
                    ..strict
                },
            ) {
                Err(DsigError::Algorithm(_)) => return false,
                other => other,
            }
        }
        other => other,
    };
    match result {
        Ok(v) => {
            r.content.push(format!(
                "{what} signature: {} ({})",
                v.algorithm().uri(),
                if anchored {
                    "verified with a trusted key"
                } else {
                    "intact with the certificate it carries; not trusted"
                }
            ));
            anchored
        }
        Err(e) => {
            r.add(e.rule_id(), Severity::Must, format!("{what}: {e}"));
            false
        }
    }
}

/// Check one message.
pub fn check_message(bytes: &[u8], opts: &MessageCheckOptions) -> MessageReport {
    let mut r = MessageReport::default();
    let doc = match xml::parse(bytes, &Limits::message()) {
        Ok(d) => d,
        Err(e) => {
            r.add(
                "XML-LIMITS",
                Severity::Must,
                format!("not acceptable XML: {e}"),
            );
            return r;
        }
    };
    let root = doc.root_element();
    r.kind = root.local().to_string();
    let at = opts.at.unwrap_or_else(OffsetDateTime::now_utc);
    let expected = match opts.role.as_deref() {
        Some("ps") => Some("AuthnRequest"),
        Some("connector") => Some("Response"),
        _ => None,
    };
    if let Some(k) = expected
        && !root.is(ns::PROTOCOL, k)
    {
        r.add(
            "MSG-KIND",
            Severity::Must,
            format!("expected a saml2p:{k}, found {}", root.expanded_name()),
        );
        return r;
    }
    if root
        .first_child_named(crate::xmlsec::ns::DSIG, "Signature")
        .is_none()
    {
        r.add(
            "DSIG-SIGNED",
            Severity::Must,
            format!("the {} is not signed", r.kind),
        );
    }
    let kind = r.kind.clone();
    r.signature_trusted = check_signature(&mut r, &doc, doc.root(), &kind, opts);
    let trusted = Trusted::for_audit(root);
    if root.is(ns::PROTOCOL, "AuthnRequest") {
        match AuthnRequest::parse(&trusted) {
            Ok(req) => audit_request(&mut r, &req, at),
            Err(e) => r.add("MSG-STRUCTURE", Severity::Must, e.to_string()),
        }
    } else if root.is(ns::PROTOCOL, "Response") {
        match Response::parse(&trusted) {
            Ok(resp) => audit_response(&mut r, &doc, &trusted, &resp, at, opts),
            Err(e) => r.add("MSG-STRUCTURE", Severity::Must, e.to_string()),
        }
    } else {
        r.add(
            "MSG-KIND",
            Severity::Must,
            format!(
                "{} is neither an AuthnRequest nor a Response",
                root.expanded_name()
            ),
        );
    }
    r
}

fn audit_request(r: &mut MessageReport, req: &AuthnRequest, at: OffsetDateTime) {
    let show = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    r.content.push(format!(
        "ID {}  IssueInstant {}  Destination {}",
        show(&req.id),
        show(&req.issue_instant),
        show(&req.destination)
    ));
    r.content.push(format!(
        "Issuer {}",
        req.issuer
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_else(|| "-".into())
    ));
    r.content.push(format!(
        "ForceAuthn {:?}  IsPassive {:?}",
        req.force_authn, req.is_passive
    ));
    if let Some(x) = &req.extensions {
        r.content.push(format!("SPType {}", show(&x.sp_type)));
        for a in x.requested_attributes.iter().flatten() {
            r.content.push(format!(
                "requested {} (required: {:?})",
                a.name, a.is_required
            ));
        }
    }
    if let Some(c) = &req.requested_authn_context {
        r.content.push(format!(
            "RequestedAuthnContext {} {:?}",
            c.comparison.as_deref().unwrap_or("(exact)"),
            c.class_refs
        ));
    }
    // Without the peer's metadata and our configuration, the request is judged against itself
    // for Destination, Issuer and ACS, and against every notified LoA and eIDAS attribute.
    r.content.push("context: Destination, Issuer and ACS judged against the message itself (no metadata given)".into());
    let acs: Vec<String> = req.assertion_consumer_service_url.iter().cloned().collect();
    let published: Vec<String> = Level::ALL
        .iter()
        .map(|l| l.notified_uri().to_string())
        .collect();
    let supported: Vec<String> = attributes::all().map(|a| a.name.to_string()).collect();
    let ctx = PsRequestContext {
        now: at,
        skew: time::Duration::seconds(60),
        max_age: time::Duration::minutes(5),
        our_sso_url: req.destination.as_deref().unwrap_or(""),
        connector_entity_id: req.issuer.as_ref().map(|i| i.value.as_str()).unwrap_or(""),
        connector_acs_urls: &acs,
        connector_sp_type: None,
        published_loas: &published,
        supported_attributes: &supported,
        requester_id_demanded: false,
    };
    r.rules(rules::check_authn_request(req, &ctx));
}

fn audit_response(
    r: &mut MessageReport,
    doc: &Document,
    trusted: &Trusted<'_>,
    resp: &Response,
    at: OffsetDateTime,
    opts: &MessageCheckOptions,
) {
    let show = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    r.content.push(format!(
        "ID {}  InResponseTo {}  IssueInstant {}  Destination {}",
        show(&resp.id),
        show(&resp.in_response_to),
        show(&resp.issue_instant),
        show(&resp.destination)
    ));
    r.content.push(format!(
        "Issuer {}",
        resp.issuer
            .as_ref()
            .map(|i| i.value.clone())
            .unwrap_or_else(|| "-".into())
    ));
    if let Some(s) = &resp.status {
        r.content.push(format!(
            "Status {} {} {}",
            show(&s.code),
            show(&s.sub_code),
            show(&s.message)
        ));
    }
    let mut assertion: Option<Assertion> = None;
    for &ed in &resp.encrypted_assertions {
        if opts.decrypt_keys.is_empty() {
            r.add(
                "ENC-NOT-DECRYPTED",
                Severity::Info,
                "the assertion is encrypted; pass --decrypt-key to check it",
            );
            continue;
        }
        match enc::decrypt_element(doc, ed, &opts.decrypt_keys, &Limits::message()) {
            Ok((plain, key)) => {
                r.content.push(format!(
                    "assertion decrypted with --decrypt-key number {}",
                    key + 1
                ));
                check_signature(r, &plain, plain.root(), "Assertion", opts);
                let t = Trusted::decrypted_from(trusted, &plain);
                match Assertion::parse(&t) {
                    Ok(a) => assertion = Some(a),
                    Err(e) => r.add("MSG-STRUCTURE", Severity::Must, e.to_string()),
                }
            }
            Err(e @ EncError::Algorithm(_)) => r.add("ENC-ALG", Severity::Must, e.to_string()),
            Err(e) => r.add("ENC-DECRYPT", Severity::Must, e.to_string()),
        }
    }
    for &id in &resp.assertions {
        if let Some(t) = Trusted::child_of(trusted, id) {
            check_signature(r, doc, id, "Assertion", opts);
            match Assertion::parse(&t) {
                Ok(a) => assertion = Some(a),
                Err(e) => r.add("MSG-STRUCTURE", Severity::Must, e.to_string()),
            }
        }
    }
    if let Some(a) = &assertion {
        r.content
            .push(format!("Assertion {} signed: {}", show(&a.id), a.signed));
        if let Some(n) = &a.name_id {
            r.content
                .push(format!("NameID {} ({})", n.value.trim(), show(&n.format)));
        }
        for st in &a.authn_statements {
            r.content.push(format!("LoA {:?}", st.class_refs));
        }
        for at in a.attribute_statements.iter().flatten() {
            let values: Vec<&str> = at.values.iter().map(|v| v.value.trim()).collect();
            r.content
                .push(format!("attribute {} = {values:?}", at.name));
        }
    }
    // Judged against the message itself, as for requests.
    let pid = assertion.as_ref().and_then(|a| {
        a.attribute_statements
            .iter()
            .flatten()
            .find(|x| x.name == attributes::PERSON_IDENTIFIER)
            .and_then(|x| x.values.first())
            .map(|v| v.value.trim().to_string())
    });
    let (citizen, ours) = pid
        .as_deref()
        .and_then(|p| crate::eidas::person_identifier::PersonIdentifier::parse(p).ok())
        .map(|p| {
            (
                p.issuing_country().to_string(),
                p.destination_country().to_string(),
            )
        })
        .unwrap_or_else(|| ("XX".into(), "XX".into()));
    let audience = assertion
        .as_ref()
        .and_then(|a| a.conditions.as_ref())
        .and_then(|c| c.audience_restrictions.first())
        .and_then(|a| a.first().cloned())
        .unwrap_or_default();
    let published: Vec<String> = Level::ALL
        .iter()
        .map(|l| l.notified_uri().to_string())
        .collect();
    let requested = RequestedAuthnContext::minimum(Level::Low);
    let ctx = CnResponseContext {
        now: at,
        skew: time::Duration::seconds(60),
        max_age: time::Duration::minutes(5),
        our_acs_url: resp.destination.as_deref().unwrap_or(""),
        our_entity_id: &audience,
        proxy_service_entity_id: resp.issuer.as_ref().map(|i| i.value.as_str()).unwrap_or(""),
        proxy_service_node_country: None,
        published_loas: &published,
        request_id: resp.in_response_to.as_deref().unwrap_or(""),
        requested: &requested,
        citizen_country: &citizen,
        our_country: &ours,
        required_attributes: &[],
        require_signed_assertion: false,
        request_issued: None,
    };
    r.content.push(
        "context: Destination, Issuer, audience and countries judged against the message itself"
            .into(),
    );
    r.rules(rules::check_response(resp, assertion.as_ref(), &ctx));
    if let Some(a) = &assertion
        && !a.signed
    {
        r.add(
            "CN-ASSERT-SIGNED",
            Severity::Should,
            "the assertion is not signed (several Connectors require it)",
        );
    }
}

//! The demo's foreign country `XE`: a minimal eIDAS Connector with a service page. It publishes
//! signed Connector metadata, starts a login at our Proxy-Service with a signed AuthnRequest
//! (HTTP-POST or HTTP-Redirect, substantial or high), and on its ACS verifies the Response,
//! decrypts the assertion, checks it against every Connector rule and shows what it received.
//!
//! It is for `eidas-node demo` and the tests; interop with independent Connectors is tested with
//! pysaml2.

use crate::clock::Clock;
use crate::crypto::{Certificate, PrivateKey, SoftwareSigner};
use crate::eidas::attributes::{self, PersonType};
use crate::eidas::loa::{Level, RequestedAuthnContext as Rac};
use crate::eidas::rules::{CnResponseContext, check_response};
use crate::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};
use crate::saml::{self, Trusted};
use crate::xml::write::{attr, text};
use crate::xml::{self, Limits};
use crate::xmlsec::dsig::{VerifyOptions, sign_element, verify_element};
use crate::xmlsec::enc::decrypt_element;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const COUNTRY: &str = "XE";

/// Requests waiting for an answer, at most.
const MAX_PENDING: usize = 1000;

pub struct DemoCountry {
    /// Where XE is served, e.g. `http://127.0.0.1:8080/xe`.
    base: String,
    /// Our Proxy-Service: its SSO URL and entityID, and the certificate its Responses are
    /// signed with.
    ps_sso: String,
    ps_entity_id: String,
    ps_cert: Certificate,
    signer: SoftwareSigner,
    signing_cert: Certificate,
    enc_key: PrivateKey,
    enc_cert: Certificate,
    clock: Arc<dyn Clock>,
    /// Requests sent and not yet answered: ID → requested level.
    pending: Mutex<HashMap<String, Level>>,
}

impl DemoCountry {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        base: &str,
        ps_sso: &str,
        ps_entity_id: &str,
        ps_cert: Certificate,
        signing_key: PrivateKey,
        signing_cert: Certificate,
        enc_key: PrivateKey,
        enc_cert: Certificate,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let signer = SoftwareSigner::new(signing_key, None, Some(signing_cert.clone()))
            .map_err(|e| e.to_string())?;
        Ok(DemoCountry {
            base: base.trim_end_matches('/').to_string(),
            ps_sso: ps_sso.into(),
            ps_entity_id: ps_entity_id.into(),
            ps_cert,
            signer,
            signing_cert,
            enc_key,
            enc_cert,
            clock,
            pending: Mutex::new(HashMap::new()),
        })
    }

    pub fn metadata_url(&self) -> String {
        format!("{}/metadata", self.base)
    }

    fn acs(&self) -> String {
        format!("{}/acs", self.base)
    }

    /// XE's signed Connector metadata.
    pub fn metadata(&self) -> Result<String, String> {
        let md = OurMetadata {
            role: Role::Connector,
            entity_id: self.metadata_url(),
            node_country: COUNTRY.into(),
            endpoint: self.acs(),
            signing_certificates: vec![self.signing_cert.clone()],
            encryption_certificates: vec![self.enc_cert.clone()],
            loas: vec![],
            attributes: vec![],
            sp_type: None,
            requester_id_demanded: false,
            protocol_versions: vec!["1.4".into()],
            application_identifier: "eidas-node demo country XE".into(),
            organization: Organization {
                name: "Demo country XE".into(),
                display_name: "XE".into(),
                url: self.base.clone(),
            },
            contacts: vec![ContactPerson {
                contact_type: "support".into(),
                company: "Demo country XE".into(),
                given_name: None,
                surname: None,
                email: "support@xe.example.invalid".into(),
                phone: None,
            }],
            valid_for: time::Duration::hours(24),
        };
        md.to_signed_xml(self.clock.now(), &self.signer)
            .map_err(|e| e.to_string())
    }

    /// A signed AuthnRequest for the minimum data set at `level`.
    pub fn request(&self, level: Level) -> Result<(String, String), String> {
        let id = saml::new_id();
        let wanted: Vec<(String, bool)> = attributes::mds(PersonType::NaturalPerson)
            .map(|a| (a.name.to_string(), true))
            .collect();
        let mut r = crate::connector::authn_request(
            &id,
            &self.metadata_url(),
            &self.ps_sso,
            level,
            &wanted,
            Some("public".into()),
            vec![],
            self.clock.now(),
        );
        r.provider_name = Some("XE demo service".into());
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: a demo flooded with requests forgets half of those waiting.
        if pending.len() >= MAX_PENDING {
            let drop: Vec<String> = pending.keys().take(MAX_PENDING / 2).cloned().collect();
            for k in drop {
                pending.remove(&k);
            }
        }
        pending.insert(id.clone(), level);
        Ok((id, r.to_xml()))
    }

    fn sign(&self, xml_text: &str) -> Result<String, String> {
        let doc = xml::parse(xml_text.as_bytes(), &Limits::default()).map_err(|e| e.to_string())?;
        sign_element(&doc, doc.root(), &self.signer).map_err(|e| e.to_string())
    }

    /// What XE's ACS makes of a Response.
    pub fn receive(&self, saml_response_b64: &str) -> Result<Received, String> {
        let raw = STANDARD
            .decode(saml_response_b64.trim())
            .map_err(|_| "SAMLResponse is not base64".to_string())?;
        let doc = xml::parse(&raw, &Limits::message()).map_err(|e| e.to_string())?;
        let v = verify_element(
            &doc,
            doc.root(),
            std::slice::from_ref(self.ps_cert.public_key()),
            &VerifyOptions::default(),
        )
        .map_err(|e| format!("Response signature: {e}"))?;
        let resp = saml::Response::parse(&Trusted::from_verified(&v)).map_err(|e| e.to_string())?;
        let request_id = resp.in_response_to.clone().unwrap_or_default();
        let level = self
            .pending
            .lock()
            .unwrap()
            .remove(&request_id)
            .ok_or("the Response answers no request of ours, or one already answered")?;
        let mut assertion = None;
        if let Some(&ed) = resp.encrypted_assertions.first() {
            let (plain, _) = decrypt_element(
                &doc,
                ed,
                std::slice::from_ref(&self.enc_key),
                &Limits::message(),
            )
            .map_err(|e| format!("decryption: {e}"))?;
            let av = verify_element(
                &plain,
                plain.root(),
                std::slice::from_ref(self.ps_cert.public_key()),
                &VerifyOptions::default(),
            )
            .map_err(|e| format!("assertion signature: {e}"))?;
            assertion = Some(
                saml::Assertion::parse(&Trusted::from_verified(&av)).map_err(|e| e.to_string())?,
            );
        }
        let requested = Rac::minimum(level);
        let published = vec![
            Rac::minimum(Level::Substantial).levels[0]
                .as_uri()
                .to_string(),
            Rac::minimum(Level::High).levels[0].as_uri().to_string(),
        ];
        let required: Vec<String> = attributes::mds(PersonType::NaturalPerson)
            .map(|a| a.name.to_string())
            .collect();
        let acs = self.acs();
        let our_id = self.metadata_url();
        let ctx = CnResponseContext {
            now: self.clock.now(),
            skew: time::Duration::seconds(60),
            max_age: time::Duration::minutes(5),
            our_acs_url: &acs,
            our_entity_id: &our_id,
            proxy_service_entity_id: &self.ps_entity_id,
            proxy_service_node_country: Some("NO"),
            published_loas: &published,
            request_id: &request_id,
            requested: &requested,
            citizen_country: "NO",
            our_country: COUNTRY,
            required_attributes: &required,
            require_signed_assertion: true,
            request_issued: None,
        };
        let broken: Vec<String> = check_response(&resp, assertion.as_ref(), &ctx)
            .into_iter()
            .map(|v| format!("{}: {}", v.rule.id(), v.detail))
            .collect();
        let status = resp.status.clone().unwrap_or_default();
        Ok(Received {
            status_code: status.code.unwrap_or_default(),
            sub_status: status.sub_code,
            message: status.message,
            loa: assertion
                .as_ref()
                .and_then(|a| a.authn_statements.first())
                .and_then(|s| s.class_refs.first().cloned()),
            attributes: assertion
                .iter()
                .flat_map(|a| a.attribute_statements.iter().flatten())
                .map(|x| {
                    (
                        x.friendly_name.clone().unwrap_or_else(|| x.name.clone()),
                        x.values
                            .iter()
                            .map(|v| v.value.clone())
                            .collect::<Vec<_>>()
                            .join(", "),
                    )
                })
                .collect(),
            broken_rules: broken,
        })
    }
}

/// What XE received.
#[derive(Debug)]
pub struct Received {
    pub status_code: String,
    pub sub_status: Option<String>,
    pub message: Option<String>,
    pub loa: Option<String>,
    pub attributes: Vec<(String, String)>,
    pub broken_rules: Vec<String>,
}

type Shared = Arc<DemoCountry>;

/// XE's routes, to be served at its base URL.
pub fn router(c: Shared) -> Router {
    Router::new()
        .route("/", get(start_page))
        .route("/start", post(start))
        .route("/metadata", get(metadata))
        .route("/acs", post(acs))
        .with_state(c)
}

fn page(status: StatusCode, body: String) -> Response {
    demo_page(status, "en", "XE demo service", body)
}

/// A plain page of the demo's peers (the node's own pages are askama templates).
pub(crate) fn demo_page(status: StatusCode, lang: &str, title: &str, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        format!(
            "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{}</title></head><body><main>{body}</main></body></html>\n",
            attr(lang),
            text(title)
        ),
    )
        .into_response()
}

/// The demo peers' auto-submitting HTTP-POST binding form, with a policy that lets it post to
/// `url` only.
pub(crate) fn demo_post(url: &str, param: &str, xml: &str) -> Response {
    let nonce = crate::oidc::one_time_value();
    let html = crate::saml::binding::post_form(url, param, xml, None, &nonce);
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; form-action {url}"
    )) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

async fn start_page(State(c): State<Shared>) -> Response {
    page(
        StatusCode::OK,
        format!(
            "<h1>XE demo service</h1><p>A public service in the demo country XE. Log in with a \
             Norwegian eID through Norway's eIDAS node.</p>\
             <form method=\"post\" action=\"{action}\">\
             <fieldset><legend>Level of assurance</legend>\
             <label><input type=\"radio\" name=\"loa\" value=\"substantial\" checked> substantial</label>\
             <label><input type=\"radio\" name=\"loa\" value=\"high\"> high</label></fieldset>\
             <fieldset><legend>SAML binding</legend>\
             <label><input type=\"radio\" name=\"binding\" value=\"post\" checked> HTTP-POST</label>\
             <label><input type=\"radio\" name=\"binding\" value=\"redirect\"> HTTP-Redirect</label></fieldset>\
             <button type=\"submit\">Log in with a Norwegian eID</button></form>",
            action = attr(&format!("{}/start", c.base)),
        ),
    )
}

#[derive(serde::Deserialize)]
struct StartForm {
    loa: String,
    binding: String,
}

async fn start(State(c): State<Shared>, Form(f): Form<StartForm>) -> Response {
    let level = if f.loa == "high" {
        Level::High
    } else {
        Level::Substantial
    };
    let result = c.request(level).and_then(|(_, xml)| {
        if f.binding == "redirect" {
            crate::saml::binding::redirect_url(
                &c.ps_sso,
                "SAMLRequest",
                &xml,
                None,
                &c.signer,
                crate::xmlsec::redirect::EcdsaEncoding::Der,
            )
            .map(|u| (StatusCode::SEE_OTHER, [(header::LOCATION, u)]).into_response())
            .map_err(|e| e.to_string())
        } else {
            let signed = c.sign(&xml)?;
            Ok(demo_post(&c.ps_sso, "SAMLRequest", &signed))
        }
    });
    result.unwrap_or_else(|e| {
        page(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("<p>{}</p>", text(&e)),
        )
    })
}

async fn metadata(State(c): State<Shared>) -> Response {
    match c.metadata() {
        Ok(xml) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("<p>{}</p>", text(&e)),
        ),
    }
}

#[derive(serde::Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: String,
}

async fn acs(State(c): State<Shared>, Form(f): Form<AcsForm>) -> Response {
    match c.receive(&f.saml_response) {
        Ok(r) => {
            let ok = r.status_code.ends_with(":Success");
            let rows: String = r
                .attributes
                .iter()
                .map(|(n, v)| {
                    format!(
                        "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                        text(n),
                        text(v)
                    )
                })
                .collect();
            let rules = if r.broken_rules.is_empty() {
                "<p>Every Connector rule holds for this Response.</p>".to_string()
            } else {
                format!(
                    "<p>Connector rules broken:</p><ul>{}</ul>",
                    r.broken_rules
                        .iter()
                        .map(|b| format!("<li>{}</li>", text(b)))
                        .collect::<String>()
                )
            };
            let body = if ok {
                format!(
                    "<h1>Logged in</h1><p>XE received a verified, decrypted assertion at level \
                     <code>{}</code>:</p><table><tbody>{rows}</tbody></table>{rules}\
                     <p><a href=\"{}\">Start again</a></p>",
                    text(r.loa.as_deref().unwrap_or("?")),
                    attr(&c.base)
                )
            } else {
                format!(
                    "<h1>Not logged in</h1><p>Status <code>{}</code> <code>{}</code>: {}</p>{rules}\
                     <p><a href=\"{}\">Start again</a></p>",
                    text(&r.status_code),
                    text(r.sub_status.as_deref().unwrap_or("")),
                    text(r.message.as_deref().unwrap_or("")),
                    attr(&c.base)
                )
            };
            page(StatusCode::OK, body)
        }
        Err(e) => page(
            StatusCode::BAD_REQUEST,
            format!("<h1>Response refused</h1><p>{}</p>", text(&e)),
        ),
    }
}

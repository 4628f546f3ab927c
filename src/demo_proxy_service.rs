//! The demo's foreign Proxy-Service (country `XE` in `eidas-node demo`): the other side of our
//! Connector. It publishes signed Proxy-Service metadata, verifies our Connector's AuthnRequest
//! (HTTP-POST or HTTP-Redirect) with the key from our Connector metadata, offers its own test
//! persons on a login page (or a cancel), and answers with a signed Response carrying a signed
//! and encrypted assertion — built with the same layers as our own Proxy-Service.
//!
//! It is for the demo and the tests (which also use [`DemoProxyService::answer`] to make
//! deliberately broken Responses); interop with independent Proxy-Services is tested with
//! pysaml2 and python-xmlsec.

use crate::clock::Clock;
use crate::crypto::{Certificate, PublicKey, SoftwareSigner};
use crate::eidas::attributes;
use crate::eidas::loa::{Level, LevelOfAssurance};
use crate::light;
use crate::metadata::fetch::PeerMetadata;
use crate::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};
use crate::proxy_service::response::{self, Addressing};
use crate::saml::{self, Assertion, AuthnRequest, Trusted, status};
use crate::xml::write::{attr, text};
use crate::xml::{self, Limits};
use crate::xmlsec::dsig::{VerifyOptions, verify_element};
use axum::Router;
use axum::extract::{Form, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A test person of the demo country.
#[derive(Clone, Debug)]
pub struct DemoPerson {
    /// The third part of the PersonIdentifier.
    pub id: String,
    pub given_name: String,
    pub family_name: String,
    /// `YYYY-MM-DD`.
    pub date_of_birth: String,
    pub place_of_birth: Option<String>,
}

/// The demo country's persons (one of them is known to the demo's identity matcher).
pub fn demo_persons() -> Vec<DemoPerson> {
    vec![
        DemoPerson {
            id: "XE-1001".into(),
            given_name: "Javier".into(),
            family_name: "García López".into(),
            date_of_birth: "1990-04-12".into(),
            place_of_birth: Some("Xeville".into()),
        },
        DemoPerson {
            id: "XE-2002".into(),
            given_name: "Zoë".into(),
            family_name: "Ørsted-Müller".into(),
            date_of_birth: "1975-11-30".into(),
            place_of_birth: None,
        },
    ]
}

/// How a test Response carries its assertion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carry {
    Encrypted,
    TwoEncrypted,
    /// In plaintext (refused by every Connector).
    Plaintext,
    Nothing,
}

/// Requests held while a person is on the login page (bounded: the oldest go first).
const MAX_PENDING: usize = 1000;

pub struct DemoProxyService {
    country: String,
    /// Where it is served, e.g. `http://127.0.0.1:8080/xe/ps`.
    base: String,
    /// List HTTP-Redirect first in the metadata (else HTTP-POST first).
    prefer_redirect: bool,
    signer: SoftwareSigner,
    signing_cert: Certificate,
    /// Our Connector, as its metadata says.
    connector: PeerMetadata,
    persons: Vec<DemoPerson>,
    /// The levels its metadata publishes.
    levels: Vec<Level>,
    /// More certificates its metadata lists for signing (the conformance runner's rsa-sha256
    /// key).
    extra_signing: Vec<Certificate>,
    clock: Arc<dyn Clock>,
    pending: Mutex<(HashMap<String, AuthnRequest>, Vec<String>)>,
}

impl DemoProxyService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        country: &str,
        base: &str,
        prefer_redirect: bool,
        signing_key: crate::crypto::PrivateKey,
        signing_cert: Certificate,
        connector_metadata_xml: &str,
        connector_anchors: &[Certificate],
        persons: Vec<DemoPerson>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let signer = SoftwareSigner::new(signing_key, None, Some(signing_cert.clone()))
            .map_err(|e| e.to_string())?;
        let doc = xml::parse(connector_metadata_xml.as_bytes(), &Limits::default())
            .map_err(|e| e.to_string())?;
        // The Connector's metadata counts only once its signature verifies with an anchor: the
        // keys its requests are checked with come from it.
        let keys: Vec<PublicKey> = connector_anchors
            .iter()
            .map(|c| c.public_key().clone())
            .collect();
        let verified = verify_element(&doc, doc.root(), &keys, &VerifyOptions::default())
            .map_err(|e| format!("the Connector's metadata: {e}"))?;
        let entity = crate::metadata::EntityDescriptor::parse(&Trusted::from_verified(&verified))
            .map_err(|e| e.to_string())?;
        let now = clock.now();
        let connector = PeerMetadata {
            entity,
            xml: Arc::from(connector_metadata_xml),
            fetched_at: now,
            valid_until: now + time::Duration::days(1),
            refresh_at: now + time::Duration::hours(1),
            stale: false,
            warnings: vec![],
        };
        Ok(DemoProxyService {
            country: country.into(),
            base: base.trim_end_matches('/').to_string(),
            prefer_redirect,
            signer,
            signing_cert,
            connector,
            persons,
            levels: vec![Level::Substantial, Level::High],
            extra_signing: vec![],
            clock,
            pending: Mutex::new((HashMap::new(), Vec::new())),
        })
    }

    /// Publish only these levels.
    pub fn with_levels(mut self, levels: Vec<Level>) -> Self {
        self.levels = levels;
        self
    }

    /// List one more signing certificate in the metadata.
    pub fn with_extra_signing_certificate(mut self, cert: Certificate) -> Self {
        self.extra_signing.push(cert);
        self
    }

    pub fn metadata_url(&self) -> String {
        format!("{}/metadata", self.base)
    }

    fn sso(&self) -> String {
        format!("{}/sso", self.base)
    }

    /// SPType in the Connector's metadata, if it puts it there.
    pub fn connector_sp_type(&self) -> Option<String> {
        self.connector.entity.sp_type.clone().or_else(|| {
            self.connector
                .entity
                .sp
                .as_ref()
                .and_then(|r| r.sp_type.clone())
        })
    }

    pub fn persons(&self) -> &[DemoPerson] {
        &self.persons
    }

    /// Signed Proxy-Service metadata: its levels (substantial and high unless told), the minimum data set and the
    /// optional natural-person attributes it can supply.
    pub fn metadata(&self) -> Result<String, String> {
        let md = OurMetadata {
            role: Role::ProxyService,
            entity_id: self.metadata_url(),
            node_country: self.country.clone(),
            endpoint: self.sso(),
            signing_certificates: std::iter::once(self.signing_cert.clone())
                .chain(self.extra_signing.iter().cloned())
                .collect(),
            encryption_certificates: vec![],
            loas: self
                .levels
                .iter()
                .map(|l| l.notified_uri().to_string())
                .collect(),
            attributes: attributes::mds(attributes::PersonType::NaturalPerson)
                .map(|a| a.name.to_string())
                .chain(["http://eidas.europa.eu/attributes/naturalperson/PlaceOfBirth".to_string()])
                .collect(),
            sp_type: None,
            requester_id_demanded: false,
            protocol_versions: vec!["1.4".into()],
            application_identifier: format!("eidas-node demo Proxy-Service {}", self.country),
            organization: Organization {
                name: format!("Demo country {}", self.country),
                display_name: self.country.clone(),
                url: self.base.clone(),
            },
            contacts: vec![ContactPerson {
                contact_type: "support".into(),
                company: format!("Demo country {}", self.country),
                given_name: None,
                surname: None,
                email: "support@demo.example.invalid".into(),
                phone: None,
            }],
            valid_for: time::Duration::hours(24),
        };
        let xml = md
            .to_signed_xml(self.clock.now(), &self.signer)
            .map_err(|e| e.to_string())?;
        if !self.prefer_redirect {
            return Ok(xml);
        }
        // The same metadata with the Redirect endpoint listed first: re-sign after the swap.
        let post = format!(
            "<md:SingleSignOnService Binding=\"{}\" Location=\"{}\"/>",
            saml::binding_uri::HTTP_POST,
            self.sso()
        );
        let redirect = format!(
            "<md:SingleSignOnService Binding=\"{}\" Location=\"{}\"/>",
            saml::binding_uri::HTTP_REDIRECT,
            self.sso()
        );
        let unsigned = md.to_xml(&saml::new_id(), self.clock.now());
        let swapped = unsigned
            .replace(&post, "\u{0}")
            .replace(&redirect, &post)
            .replace('\u{0}', &redirect);
        let doc = xml::parse(swapped.as_bytes(), &Limits::default()).map_err(|e| e.to_string())?;
        crate::xmlsec::dsig::sign_element(&doc, doc.root(), &self.signer).map_err(|e| e.to_string())
    }

    fn connector_keys(&self) -> Vec<PublicKey> {
        self.connector
            .entity
            .sp
            .iter()
            .flat_map(|r| r.key_descriptors.iter().filter(|k| k.for_signing()))
            .flat_map(|k| k.certificates.iter().filter_map(|c| c.as_ref().ok()))
            .map(|c| c.public_key().clone())
            .collect()
    }

    /// Verify and keep an AuthnRequest from our Connector; returns the ticket for the login page.
    pub fn receive(&self, raw_xml: &[u8], redirect_query: Option<&str>) -> Result<String, String> {
        let doc = xml::parse(raw_xml, &Limits::message()).map_err(|e| e.to_string())?;
        let keys = self.connector_keys();
        let request = match redirect_query {
            Some(q) => {
                let proof = crate::xmlsec::redirect::verify_query(q, &keys, false)
                    .map_err(|e| format!("Redirect signature: {e}"))?;
                AuthnRequest::parse(
                    &Trusted::from_redirect(&doc, &proof).map_err(|e| e.to_string())?,
                )
            }
            None => {
                let v = verify_element(&doc, doc.root(), &keys, &VerifyOptions::default())
                    .map_err(|e| format!("request signature: {e}"))?;
                AuthnRequest::parse(&Trusted::from_verified(&v))
            }
        }
        .map_err(|e| e.to_string())?;
        if request.destination.as_deref() != Some(self.sso().as_str()) {
            return Err("Destination is not this Proxy-Service".into());
        }
        if request.issuer.as_ref().map(|i| i.value.as_str())
            != Some(self.connector.entity.entity_id.as_str())
        {
            return Err("Issuer is not the Connector".into());
        }
        let ticket = crate::oidc::one_time_value();
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if p.1.len() >= MAX_PENDING {
            let old = p.1.remove(0);
            p.0.remove(&old);
        }
        p.0.insert(ticket.clone(), request);
        p.1.push(ticket.clone());
        Ok(ticket)
    }

    pub fn take(&self, ticket: &str) -> Option<AuthnRequest> {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        p.1.retain(|t| t != ticket);
        p.0.remove(ticket)
    }

    fn acs(&self) -> Result<String, String> {
        self.connector
            .entity
            .sp
            .as_ref()
            .and_then(|r| r.endpoints.first())
            .map(|e| e.location.clone())
            .ok_or_else(|| "the Connector's metadata has no ACS".into())
    }

    /// `<our country>/<the Connector's NodeCountry>/<id>`.
    fn person_identifier(&self, person: &DemoPerson) -> String {
        let to = self
            .connector
            .entity
            .sp
            .as_ref()
            .and_then(|r| r.node_country.clone())
            .unwrap_or_else(|| "NO".into());
        format!("{}/{to}/{}", self.country, person.id)
    }

    /// The identity of `person` at `level`, with the optional attributes the request asked for.
    pub fn identity(
        &self,
        request: &AuthnRequest,
        person: &DemoPerson,
        level: Level,
    ) -> light::Authenticated {
        let asked = |name: &str| {
            request
                .extensions
                .as_ref()
                .and_then(|e| e.requested_attributes.as_ref())
                .is_some_and(|v| v.iter().any(|a| a.name == name))
        };
        let mut attrs = vec![
            light::Attribute {
                name: attributes::PERSON_IDENTIFIER.into(),
                values: vec![self.person_identifier(person)],
            },
            light::Attribute {
                name: attributes::CURRENT_FAMILY_NAME.into(),
                values: vec![person.family_name.clone()],
            },
            light::Attribute {
                name: attributes::CURRENT_GIVEN_NAME.into(),
                values: vec![person.given_name.clone()],
            },
            light::Attribute {
                name: attributes::DATE_OF_BIRTH.into(),
                values: vec![person.date_of_birth.clone()],
            },
        ];
        let pob = "http://eidas.europa.eu/attributes/naturalperson/PlaceOfBirth";
        if let Some(p) = &person.place_of_birth
            && asked(pob)
        {
            attrs.push(light::Attribute {
                name: pob.into(),
                values: vec![p.clone()],
            });
        }
        light::Authenticated {
            person_identifier: self.person_identifier(person),
            attributes: attrs,
            loa: LevelOfAssurance::Notified(level),
            authn_instant: self.clock.now(),
        }
    }

    /// A signed Response for `request`: `mutate` may change the assertion first (the tests use
    /// it to break one rule at a time). Returns the Response XML and the ACS URL.
    pub fn answer(
        &self,
        request: &AuthnRequest,
        person: &DemoPerson,
        level: Level,
        mutate: impl FnOnce(&mut Assertion),
    ) -> Result<(String, String), String> {
        self.answer_custom(
            request,
            person,
            level,
            mutate,
            |_| {},
            Carry::Encrypted,
            true,
        )
    }

    /// [`Self::answer`] with every knob: the Response shell, how the assertion is carried, and
    /// whether the assertion is signed.
    #[allow(clippy::too_many_arguments)]
    pub fn answer_custom(
        &self,
        request: &AuthnRequest,
        person: &DemoPerson,
        level: Level,
        mutate: impl FnOnce(&mut Assertion),
        mutate_response: impl FnOnce(&mut saml::Response),
        carry: Carry,
        sign_assertion: bool,
    ) -> Result<(String, String), String> {
        let acs = self.acs()?;
        let our_id = self.metadata_url();
        let a = Addressing {
            our_entity_id: &our_id,
            request,
            connector: &self.connector,
            acs_url: &acs,
        };
        let now = self.clock.now();
        let mut assertion = response::assertion(&a, &self.identity(request, person, level), now);
        mutate(&mut assertion);
        let e = |e: response::BuildError| e.to_string();
        let plain = if sign_assertion {
            response::sign_root(&assertion.to_xml(), &self.signer).map_err(e)?
        } else {
            assertion.to_xml()
        };
        let (cert, opts) = response::encryption_choice(&self.connector, now)
            .ok_or("the Connector has no usable encryption certificate")?;
        let encrypted = || -> Result<String, String> {
            let d = crate::xmlsec::enc::encrypted_data_for(&plain, &cert, &opts)
                .map_err(|e| e.to_string())?;
            Ok(format!(
                "<saml2:EncryptedAssertion>{d}</saml2:EncryptedAssertion>"
            ))
        };
        let inner = match carry {
            Carry::Encrypted => Some(encrypted()?),
            Carry::TwoEncrypted => Some(encrypted()? + &encrypted()?),
            Carry::Plaintext => Some(plain.clone()),
            Carry::Nothing => None,
        };
        let mut shell = response::response_shell(
            &a,
            now,
            saml::Status {
                code: Some(status::SUCCESS.into()),
                sub_code: None,
                message: None,
            },
        );
        mutate_response(&mut shell);
        let xml = response::sign_root(&shell.to_xml(inner.as_deref()), &self.signer).map_err(e)?;
        Ok((xml, acs))
    }

    /// A signed error Response (the person cancelled).
    pub fn cancel(&self, request: &AuthnRequest) -> Result<(String, String), String> {
        let acs = self.acs()?;
        let xml = response::error_to(
            &self.metadata_url(),
            request.id.as_deref(),
            &acs,
            status::RESPONDER,
            Some(status::REQUEST_DENIED),
            "The person cancelled.",
            &self.signer,
            self.clock.now(),
        )
        .map_err(|e| e.to_string())?;
        Ok((xml, acs))
    }
}

type Shared = Arc<DemoProxyService>;

/// The demo Proxy-Service's routes, to be served at its base URL.
pub fn router(p: Shared) -> Router {
    Router::new()
        .route("/metadata", get(metadata))
        .route("/sso", get(sso_redirect).post(sso_post))
        .route("/login", post(login))
        .with_state(p)
}

fn page(status: StatusCode, title: &str, body: String) -> Response {
    crate::demo_country::demo_page(status, "en", title, body)
}

async fn metadata(State(p): State<Shared>) -> Response {
    match p.metadata() {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml,
        )
            .into_response(),
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error",
            format!("<p>{}</p>", text(&e)),
        ),
    }
}

#[derive(serde::Deserialize)]
struct SsoForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: String,
}

async fn sso_post(State(p): State<Shared>, Form(f): Form<SsoForm>) -> Response {
    let raw = match saml::binding::decode_post(&f.saml_request, 128 * 1024) {
        Ok(r) => r,
        Err(e) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Refused",
                format!("<p>{}</p>", text(&e.to_string())),
            );
        }
    };
    login_page(&p, p.receive(&raw, None))
}

async fn sso_redirect(State(p): State<Shared>, RawQuery(q): RawQuery) -> Response {
    let q = q.unwrap_or_default();
    let value = q
        .split('&')
        .find_map(|x| x.strip_prefix("SAMLRequest="))
        .and_then(crate::xmlsec::redirect::url_decode)
        .and_then(|v| saml::binding::inflate_b64(&v, saml::binding::DEFAULT_MAX_INFLATED).ok());
    match value {
        Some(raw) => login_page(&p, p.receive(&raw, Some(&q))),
        None => page(
            StatusCode::BAD_REQUEST,
            "Refused",
            "<p>No SAMLRequest.</p>".into(),
        ),
    }
}

fn login_page(p: &DemoProxyService, ticket: Result<String, String>) -> Response {
    let ticket = match ticket {
        Ok(t) => t,
        Err(e) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Request refused",
                format!("<h1>Request refused</h1><p>{}</p>", text(&e)),
            );
        }
    };
    let persons: String = p
        .persons
        .iter()
        .enumerate()
        .map(|(i, x)| {
            format!(
                "<option value=\"{i}\">{} {} — {}/NO/{}</option>",
                text(&x.given_name),
                text(&x.family_name),
                text(&p.country),
                text(&x.id)
            )
        })
        .collect();
    page(
        StatusCode::OK,
        &format!("Demo country {} — eID login", p.country),
        format!(
            "<h1>Demo country {c} — eID login</h1><p><strong>Not a real eID.</strong> The demo \
             country's Proxy-Service, with test persons only.</p>\
             <form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"ticket\" value=\"{t}\">\
             <label>Test person <select name=\"person\">{persons}</select></label>\
             <label>Level <select name=\"level\"><option value=\"substantial\">substantial</option>\
             <option value=\"high\">high</option></select></label>\
             <button type=\"submit\" name=\"action\" value=\"login\">Log in</button>\
             <button type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button></form>",
            c = text(&p.country),
            action = attr(&format!("{}/login", p.base)),
            t = attr(&ticket),
        ),
    )
}

#[derive(serde::Deserialize)]
struct LoginForm {
    ticket: String,
    #[serde(default)]
    person: usize,
    #[serde(default)]
    level: String,
    action: String,
}

async fn login(State(p): State<Shared>, Form(f): Form<LoginForm>) -> Response {
    let Some(request) = p.take(&f.ticket) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Expired",
            "<h1>Unknown or used login</h1>".into(),
        );
    };
    let result = if f.action == "cancel" {
        p.cancel(&request)
    } else {
        let Some(person) = p.persons.get(f.person) else {
            return page(
                StatusCode::BAD_REQUEST,
                "Unknown",
                "<h1>Unknown test person</h1>".into(),
            );
        };
        let level = if f.level == "high" {
            Level::High
        } else {
            Level::Substantial
        };
        p.answer(&request, person, level, |_| {})
    };
    match result {
        Ok((xml, acs)) => crate::demo_country::demo_post(&acs, "SAMLResponse", &xml),
        Err(e) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Error",
            format!("<p>{}</p>", text(&e)),
        ),
    }
}

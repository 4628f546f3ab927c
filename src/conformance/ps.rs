//! Auditing a Proxy-Service, black box, as a test Connector: its metadata (§7 A, B), the
//! positive request by both bindings (D), each negative case of §7 E — the node must issue no
//! assertion, and must not even answer one whose signature or issuer it cannot verify (F.107) —
//! and, when the target offers a scripted test login (as `eidas-node demo`'s test ID-porten
//! does), the Response it returns (F).
//!
//! The test Connector serves its own signed metadata (`<base>/metadata`) from the runner; the
//! target's operator trusts its URL and signing certificate for the test. Responses are never
//! sent to it: the runner reads them from the auto-posting form the target answers with.

use super::{Check, CheckResult, Evidence, Outcome, Report};
use crate::crypto::{Certificate, PrivateKey, PublicKey, SoftwareSigner};
use crate::eidas::attributes::{self, PersonType};
use crate::eidas::loa::{Level, RequestedAuthnContext as Rac};
use crate::eidas::rules::{CnResponseContext, check_response};
use crate::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};
use crate::metadata::{EntityDescriptor, check as mdcheck};
use crate::saml::{self, AuthnRequest, Trusted, binding_uri};
use crate::xml::{self, Limits};
use crate::xmlsec::dsig::{VerifyOptions, sign_element, verify_element};
use crate::xmlsec::enc::decrypt_element;
use crate::xmlsec::redirect::EcdsaEncoding;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;
use std::sync::Arc;
use time::OffsetDateTime;

/// The runner's own Connector.
pub struct TestConnector {
    /// Where the runner serves it, e.g. `http://127.0.0.1:7001`.
    pub base: String,
    pub country: String,
    signer: SoftwareSigner,
    signing_cert: Certificate,
    enc_key: PrivateKey,
    enc_cert: Certificate,
    /// A second key nobody trusts (wrong-key and unknown-issuer cases).
    stranger: SoftwareSigner,
    /// An RSA key, published beside the signing key, that signs with rsa-sha256 (PKCS#1 v1.5):
    /// the target must refuse the algorithm, not the key.
    legacy: LegacyRsaSigner,
}

/// RSA PKCS#1 v1.5 with SHA-256 (`rsa-sha256`): refused by eIDAS, never made by the node; the
/// runner makes it only to see that a target refuses it (E041, E045, H119).
pub struct LegacyRsaSigner {
    pair: aws_lc_rs::signature::RsaKeyPair,
    public: PublicKey,
    cert: Certificate,
}

impl LegacyRsaSigner {
    /// From an RSA key and its certificate.
    pub fn new(key: &PrivateKey, cert: Certificate) -> Result<Self, String> {
        Ok(LegacyRsaSigner {
            pair: aws_lc_rs::signature::RsaKeyPair::from_pkcs8(key.pkcs8_der())
                .map_err(|_| "the rsa-sha256 key must be RSA".to_string())?,
            public: key.public_key().clone(),
            cert,
        })
    }

    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }
}

impl crate::crypto::Signer for LegacyRsaSigner {
    fn algorithm(&self) -> crate::crypto::alg::SignatureAlgorithm {
        crate::crypto::alg::SignatureAlgorithm::RsaPkcs1Legacy(
            crate::crypto::alg::DigestAlgorithm::Sha256,
        )
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, crate::crypto::CryptoError> {
        let mut out = vec![0u8; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                message,
                &mut out,
            )
            .map_err(|_| crate::crypto::CryptoError::SigningFailed)?;
        Ok(out)
    }

    fn public_key(&self) -> &PublicKey {
        &self.public
    }

    fn certificate(&self) -> Option<&Certificate> {
        Some(&self.cert)
    }
}

impl TestConnector {
    pub fn new(
        base: &str,
        country: &str,
        signing: (PrivateKey, Certificate),
        encryption: (PrivateKey, Certificate),
        legacy: (PrivateKey, Certificate),
    ) -> Result<Self, String> {
        let signer = SoftwareSigner::new(signing.0, None, Some(signing.1.clone()))
            .map_err(|e| e.to_string())?;
        let g = crate::crypto::generate::generate(
            crate::crypto::generate::KeyKind::EcP256,
            "conformance stranger",
            country,
            OffsetDateTime::now_utc().unix_timestamp() - 60,
            2,
        )
        .map_err(|e| e.to_string())?;
        let stranger = SoftwareSigner::new(g.key, None, Some(g.cert)).map_err(|e| e.to_string())?;
        let legacy = LegacyRsaSigner::new(&legacy.0, legacy.1)?;
        Ok(TestConnector {
            base: base.trim_end_matches('/').to_string(),
            country: country.into(),
            signer,
            signing_cert: signing.1,
            enc_key: encryption.0,
            enc_cert: encryption.1,
            stranger,
            legacy,
        })
    }

    pub fn metadata_url(&self) -> String {
        format!("{}/metadata", self.base)
    }

    /// A Connector the target does not know (its metadata is signed by the stranger key).
    fn unknown_metadata_url(&self) -> String {
        format!("{}/unknown/metadata", self.base)
    }

    pub fn acs(&self) -> String {
        format!("{}/acs", self.base)
    }

    pub fn signing_certificate(&self) -> &Certificate {
        &self.signing_cert
    }

    fn our_metadata(&self, entity_id: String) -> OurMetadata {
        OurMetadata {
            role: Role::Connector,
            entity_id,
            node_country: self.country.clone(),
            endpoint: self.acs(),
            signing_certificates: vec![self.signing_cert.clone(), self.legacy.cert.clone()],
            encryption_certificates: vec![self.enc_cert.clone()],
            loas: vec![],
            attributes: vec![],
            sp_type: None,
            requester_id_demanded: false,
            protocol_versions: vec!["1.4".into()],
            application_identifier: "eidas-node conformance test Connector".into(),
            organization: Organization {
                name: "eidas-node conformance suite".into(),
                display_name: "conformance".into(),
                url: self.base.clone(),
            },
            contacts: vec![ContactPerson {
                contact_type: "technical".into(),
                company: "eidas-node conformance suite".into(),
                given_name: None,
                surname: None,
                email: "conformance@example.invalid".into(),
                phone: None,
            }],
            valid_for: time::Duration::hours(24),
        }
    }

    pub fn metadata(&self) -> Result<String, String> {
        self.our_metadata(self.metadata_url())
            .to_signed_xml(OffsetDateTime::now_utc(), &self.signer)
            .map_err(|e| e.to_string())
    }

    fn unknown_metadata(&self) -> Result<String, String> {
        self.our_metadata(self.unknown_metadata_url())
            .to_signed_xml(OffsetDateTime::now_utc(), &self.stranger)
            .map_err(|e| e.to_string())
    }
}

/// The test Connector's routes (its metadata, and an ACS that only says it is one).
pub fn router(tc: Arc<TestConnector>) -> Router {
    async fn md(State(tc): State<Arc<TestConnector>>) -> axum::response::Response {
        match tc.metadata() {
            Ok(x) => ([(header::CONTENT_TYPE, "application/samlmetadata+xml")], x).into_response(),
            Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        }
    }
    async fn unknown(State(tc): State<Arc<TestConnector>>) -> axum::response::Response {
        match tc.unknown_metadata() {
            Ok(x) => ([(header::CONTENT_TYPE, "application/samlmetadata+xml")], x).into_response(),
            Err(e) => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        }
    }
    async fn acs() -> &'static str {
        "eidas-node conformance test Connector: Responses are read by the runner\n"
    }
    Router::new()
        .route("/metadata", get(md))
        .route("/unknown/metadata", get(unknown))
        .route("/acs", post(acs))
        .with_state(tc)
}

/// What to audit and how.
pub struct PsAudit {
    pub metadata_url: String,
    pub trust_anchors: Vec<Certificate>,
    pub tls_roots: Vec<Certificate>,
    pub allow_loopback_http: bool,
    pub connector: Arc<TestConnector>,
    /// Drive the target's scripted test login for the positive flow (D, F).
    pub login: bool,
}

/// How the target answered one request, as a browser sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Answer {
    /// It sent the browser on (to authentication): the request was accepted.
    Proceeded(String),
    /// An auto-posting form with a SAML Response: (action, base64, RelayState).
    Saml {
        action: String,
        value: String,
        relay: Option<String>,
    },
    /// A page (an error page, or a page to act on).
    Page { status: u16, body: String },
}

pub(super) struct Http {
    pub(super) c: reqwest::Client,
}

impl Http {
    pub(super) async fn send(
        &self,
        rb: reqwest::RequestBuilder,
    ) -> Result<(Answer, String), String> {
        let r = rb.send().await.map_err(|e| {
            if e.is_timeout() {
                "timed out".to_string()
            } else {
                e.without_url().to_string()
            }
        })?;
        let status = r.status().as_u16();
        let loc = r
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = crate::outbound::read_limited(r, 1024 * 1024)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let shown = format!(
            "HTTP {status}{}\n\n{body}",
            loc.as_ref()
                .map(|l| format!("\nLocation: {l}"))
                .unwrap_or_default()
        );
        if (300..400).contains(&status)
            && let Some(l) = loc
        {
            return Ok((Answer::Proceeded(l), shown));
        }
        if let Some(value) = form_value(&body, "SAMLResponse") {
            return Ok((
                Answer::Saml {
                    action: form_action(&body).unwrap_or_default(),
                    value,
                    relay: form_value(&body, "RelayState"),
                },
                shown,
            ));
        }
        Ok((Answer::Page { status, body }, shown))
    }
}

fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&#43;", "+")
        .replace("&#x2B;", "+")
        .replace("&#61;", "=")
        .replace("&#x3D;", "=")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub(super) fn form_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.split("value=\"").nth(1)?.split('"').next()?;
    Some(unescape(v))
}

pub(super) fn form_action(html: &str) -> Option<String> {
    let f = html.find("<form")?;
    let tag_end = f + html[f..].find('>')?;
    let v = html[f..tag_end]
        .split("action=\"")
        .nth(1)?
        .split('"')
        .next()?;
    Some(unescape(v))
}

/// Every form of a page: (action, method, fields), with hidden inputs, each select's first
/// option, and the submit buttons as (name, value) candidates.
pub(super) struct Form {
    pub(super) action: String,
    pub(super) method: String,
    pub(super) fields: Vec<(String, String)>,
    pub(super) buttons: Vec<(String, String)>,
}

pub(super) fn forms(html: &str) -> Vec<Form> {
    let mut out = Vec::new();
    for chunk in html.split("<form").skip(1) {
        let Some(end) = chunk.find("</form>") else {
            continue;
        };
        let f = &chunk[..end];
        let head_end = f.find('>').unwrap_or(0);
        let head = &f[..head_end];
        let get = |tag: &str, a: &str| {
            tag.split(&format!("{a}=\""))
                .nth(1)
                .and_then(|v| v.split('"').next())
                .map(unescape)
        };
        let mut fields = Vec::new();
        let mut buttons = Vec::new();
        for input in f.split("<input").skip(1) {
            let tag = &input[..input.find('>').unwrap_or(input.len())];
            let kind = get(tag, "type").unwrap_or_default();
            // A radio button or checkbox counts only when it is checked.
            if (kind == "radio" || kind == "checkbox") && !tag.contains(" checked") {
                continue;
            }
            if let (Some(n), Some(v)) = (get(tag, "name"), get(tag, "value")) {
                fields.push((n, v));
            }
        }
        for sel in f.split("<select").skip(1) {
            let tag = &sel[..sel.find('>').unwrap_or(sel.len())];
            let first = sel.split("<option").nth(1).and_then(|o| get(o, "value"));
            if let (Some(n), Some(v)) = (get(tag, "name"), first) {
                fields.push((n, v));
            }
        }
        for b in f.split("<button").skip(1) {
            let tag = &b[..b.find('>').unwrap_or(b.len())];
            if let (Some(n), Some(v)) = (get(tag, "name"), get(tag, "value")) {
                buttons.push((n, v));
            }
        }
        out.push(Form {
            action: get(head, "action").unwrap_or_default(),
            method: get(head, "method").unwrap_or_else(|| "get".into()),
            fields,
            buttons,
        });
    }
    out
}

/// The result of one check, built as the runner goes.
pub(super) fn result(
    c: &Check,
    outcome: Outcome,
    reason: impl Into<String>,
    evidence: Vec<Evidence>,
) -> CheckResult {
    CheckResult {
        id: c.id.clone(),
        title: c.title.clone(),
        clause: c.clause.clone(),
        severity: c.severity.clone(),
        outcome,
        reason: super::printable(&reason.into()),
        evidence,
    }
}

/// Which §7 checks the node's own metadata findings speak for (from `conformance/rules.toml`).
fn metadata_findings_by_check() -> HashMap<String, Vec<String>> {
    #[derive(serde::Deserialize)]
    struct R {
        id: String,
        clause: String,
    }
    #[derive(serde::Deserialize)]
    struct F {
        rule: Vec<R>,
    }
    let f: F =
        toml::from_str(include_str!("../../conformance/rules.toml")).unwrap_or(F { rule: vec![] });
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for r in f.rule {
        if !(r.id.starts_with("MD-") || r.id.starts_with("PS-MD-") || r.id.starts_with("CN-MD-")) {
            continue;
        }
        let Some(rest) = r.clause.strip_prefix("§7 ") else {
            continue;
        };
        let list = rest.split(';').next().unwrap_or("");
        for item in list.split(',') {
            let item = item.trim();
            let Some((sec, nums)) = item.split_once('.') else {
                continue;
            };
            let (a, b) = match nums.split_once('-') {
                Some((a, b)) => (a.parse().unwrap_or(0), b.parse().unwrap_or(0)),
                None => {
                    let n: usize = nums.parse().unwrap_or(0);
                    (n, n)
                }
            };
            for n in a..=b {
                map.entry(format!("{sec}{n:03}"))
                    .or_default()
                    .push(r.id.clone());
            }
        }
    }
    map
}

/// The target's metadata: a 2xx answer within 4 MiB, else None (nothing to judge).
pub async fn fetch_metadata(c: &reqwest::Client, url: &str) -> Option<Vec<u8>> {
    let r = c.get(url).send().await.ok()?;
    if !r.status().is_success() {
        return None;
    }
    crate::outbound::read_limited(r, 4 * 1024 * 1024).await.ok()
}

/// The §7 A checks and those of `section` (B: a Proxy-Service, C: a Connector) that a
/// metadata document answers: each passes when the metadata checker has no must finding of the
/// rules whose clause names it (conformance/rules.toml).
pub(crate) fn metadata_results(
    catalogue: &[Check],
    url: &str,
    bytes: &[u8],
    anchors: &[Certificate],
    section: char,
) -> (Vec<CheckResult>, mdcheck::Report) {
    let mut out = Vec::new();
    let md_text = String::from_utf8_lossy(bytes).into_owned();
    let report = mdcheck::check(
        bytes,
        &mdcheck::CheckOptions {
            trust_anchors: anchors.to_vec(),
            at: None,
            fetched_from: Some(url.to_string()),
        },
    );
    let map = metadata_findings_by_check();
    if report.entities.is_empty() {
        // Not metadata at all (an error page, say): every metadata check fails on that alone.
        let why = report
            .findings
            .first()
            .map(|f| format!("{} {}", f.id, f.message))
            .unwrap_or_else(|| "no EntityDescriptor".into());
        for c in catalogue.iter().filter(|c| {
            (c.id.starts_with('A') || c.id.starts_with(section)) && map.contains_key(&c.id)
        }) {
            out.push(result(
                c,
                Outcome::Fail,
                format!("not readable as eIDAS metadata: {why}"),
                vec![Evidence::new(format!("GET {url}"), &md_text)],
            ));
        }
        return (out, report);
    }
    for c in catalogue
        .iter()
        .filter(|c| c.id.starts_with('A') || c.id.starts_with(section))
    {
        if c.id == "A001" {
            let https = url.starts_with("https://");
            out.push(result(
                c,
                if https { Outcome::Pass } else { Outcome::Fail },
                if https {
                    "fetched over HTTPS"
                } else {
                    "the metadata URL is not HTTPS"
                },
                vec![Evidence::new(format!("GET {url}"), "")],
            ));
            continue;
        }
        let Some(ids) = map.get(&c.id) else {
            continue;
        };
        let hits: Vec<String> = report
            .findings
            .iter()
            // By the catalogue's severity: a must check fails on a must or should finding of
            // its rules, a should check on a must finding.
            .filter(|f| {
                ids.iter().any(|i| i == f.id)
                    && (f.severity == mdcheck::Severity::Must
                        || (c.severity == "must" && f.severity == mdcheck::Severity::Should))
            })
            .map(|f| format!("{} [{}] {}", f.id, f.severity.as_str(), f.message))
            .collect();
        out.push(if hits.is_empty() {
            result(
                c,
                Outcome::Pass,
                format!("no finding of {}", ids.join(", ")),
                vec![],
            )
        } else {
            result(
                c,
                Outcome::Fail,
                hits.join("; "),
                vec![Evidence::new(format!("GET {url}"), &md_text)],
            )
        });
    }
    (out, report)
}

/// How a target sends the browser on after a request it accepted: a redirect, or an onward
/// form (as the EC reference node posts to its authentication), by where it goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Onward {
    kind: &'static str,
    target: String,
    from: String,
}

impl Onward {
    pub(super) fn of(a: &Answer, from: &str) -> Option<Onward> {
        let path = |u: &str| {
            absolute(from, u)
                .split(['?', '#'])
                .next()
                .unwrap_or("")
                .to_string()
        };
        match a {
            Answer::Proceeded(to) => Some(Onward {
                kind: "redirect",
                target: path(to),
                from: from.to_string(),
            }),
            Answer::Page { status: 200, body } if body.contains("submit()") => {
                let f = forms(body)
                    .into_iter()
                    .find(|f| f.method.eq_ignore_ascii_case("post") && !f.action.is_empty())?;
                Some(Onward {
                    kind: "form",
                    target: path(&f.action),
                    from: from.to_string(),
                })
            }
            _ => None,
        }
    }

    /// Whether `a` sends the browser where a correct request does.
    pub(super) fn matches(&self, a: &Answer) -> bool {
        Onward::of(a, &self.from).is_some_and(|o| o.kind == self.kind && o.target == self.target)
    }
}

/// How a negative request is made.
enum Make {
    /// Our request, changed, signed by our key (POST).
    Signed(fn(&mut AuthnRequest, &TestConnector)),
    /// Our request, not signed.
    Unsigned,
    /// Signed by a key the target does not trust, with its certificate in KeyInfo.
    WrongKey,
    /// Signed with rsa-sha256 (PKCS#1 v1.5) by a key the test Connector's metadata lists.
    LegacyRsa,
    /// Signed, then one attribute changed.
    Tampered,
    /// An evil unsigned request carrying the genuine signed one, both with the same ID.
    Wrapped,
    /// Signed, then the XML text changed (before base64).
    Text(fn(String) -> String),
    /// The XML text changed, then signed.
    SignedText(fn(String) -> String),
    /// A good request, then a second one with the same ID (re-signed, fresh IssueInstant).
    DuplicateId,
    /// The raw form value itself.
    Raw(fn() -> String),
    /// Redirect binding with a SigAlg that is not allowed.
    RedirectWeakSigAlg,
    /// Redirect binding with no query signature, only an embedded one.
    RedirectEmbeddedOnly,
    /// From a Connector the target does not know.
    UnknownIssuer,
}

/// The negative cases of §7 E, each with its check id.
fn negatives() -> Vec<(&'static str, Make)> {
    use Make::*;
    vec![
        ("E039", Unsigned),
        ("E040", WrongKey),
        ("E041", LegacyRsa),
        ("E043", Tampered),
        ("E044", Wrapped),
        ("E045", RedirectWeakSigAlg),
        ("E046", RedirectEmbeddedOnly),
        ("E047", UnknownIssuer),
        (
            "E048",
            Signed(|r, _| {
                if let Some(i) = r.issuer.as_mut() {
                    i.format = Some("urn:oasis:names:tc:SAML:2.0:nameid-format:transient".into());
                }
            }),
        ),
        ("E049", Signed(|r, _| r.version = Some("1.1".into()))),
        ("E050", DuplicateId),
        (
            "E051",
            Signed(|r, _| {
                r.issue_instant = Some(saml::format_instant(
                    OffsetDateTime::now_utc() - time::Duration::hours(2),
                ))
            }),
        ),
        (
            "E052",
            Signed(|r, _| r.destination = Some("https://elsewhere.example/sso".into())),
        ),
        ("E053", Signed(|r, _| r.force_authn = Some(false))),
        ("E054", Signed(|r, _| r.is_passive = Some(true))),
        (
            "E055",
            Signed(|r, _| {
                r.protocol_binding =
                    Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact".into())
            }),
        ),
        (
            "E056",
            Signed(|r, _| {
                r.assertion_consumer_service_url = Some("https://attacker.example/acs".into())
            }),
        ),
        ("E057", Signed(|r, _| r.extensions = None)),
        (
            "E059",
            Signed(|r, _| {
                r.extensions
                    .as_mut()
                    .map(|e| e.sp_type = None)
                    .unwrap_or(())
            }),
        ),
        (
            "E060",
            Signed(|r, _| {
                r.extensions
                    .as_mut()
                    .map(|e| e.sp_type = Some("Public".into()))
                    .unwrap_or(())
            }),
        ),
        (
            "E061",
            Signed(|r, _| {
                r.extensions
                    .as_mut()
                    .map(|e| e.requested_attributes = Some(vec![]))
                    .unwrap_or(())
            }),
        ),
        (
            "E062",
            Signed(|r, _| {
                if let Some(v) = r
                    .extensions
                    .as_mut()
                    .and_then(|e| e.requested_attributes.as_mut())
                {
                    v[0].name_format =
                        Some("urn:oasis:names:tc:SAML:2.0:attrname-format:basic".into());
                }
            }),
        ),
        (
            "E063",
            Signed(|r, _| {
                if let Some(v) = r
                    .extensions
                    .as_mut()
                    .and_then(|e| e.requested_attributes.as_mut())
                {
                    v.push(crate::saml::authn_request::RequestedAttribute {
                        name: "http://eidas.europa.eu/attributes/naturalperson/ShoeSize".into(),
                        name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
                        friendly_name: None,
                        is_required: Some(true),
                        values: vec![],
                    });
                }
            }),
        ),
        ("E066", Signed(|r, _| r.requested_authn_context = None)),
        (
            "E067",
            Signed(|r, _| {
                if let Some(c) = r.requested_authn_context.as_mut() {
                    c.class_refs = vec![
                        Level::Substantial.notified_uri().into(),
                        Level::High.notified_uri().into(),
                    ];
                }
            }),
        ),
        (
            "E069",
            Signed(|r, _| {
                if let Some(c) = r.requested_authn_context.as_mut() {
                    c.comparison = Some("exact".into());
                }
            }),
        ),
        (
            "E071",
            Signed(|r, _| {
                if let Some(c) = r.requested_authn_context.as_mut() {
                    c.comparison = Some("maximum".into());
                }
            }),
        ),
        (
            "E072",
            Signed(|r, _| {
                if let Some(c) = r.requested_authn_context.as_mut() {
                    c.class_refs = vec!["http://eidas.europa.eu/LoA/NotNotified/high".into()];
                }
            }),
        ),
        (
            "E073",
            Signed(|r, _| {
                if let Some(c) = r.requested_authn_context.as_mut() {
                    c.class_refs = vec![Level::Substantial.notified_uri().into(); 2];
                }
            }),
        ),
        (
            "E075",
            Signed(|r, _| {
                if let Some(p) = r.name_id_policy.as_mut() {
                    p.format =
                        Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into());
                }
            }),
        ),
        ("E076", Signed(|r, _| r.consent = Some("yes please".into()))),
        (
            "E077",
            Signed(|r, _| r.requester_ids = vec![format!("urn:x:{}", "a".repeat(1100))]),
        ),
        (
            "E079",
            SignedText(|x| {
                x.replacen(
                "</saml2:Issuer>",
                "</saml2:Issuer><saml2:Subject><saml2:NameID>someone</saml2:NameID></saml2:Subject>",
                1,
            )
            }),
        ),
        (
            "E080",
            Text(|x| format!("<!DOCTYPE r [<!ENTITY e \"boom\">]>{x}")),
        ),
        (
            "E081",
            Signed(|r, _| r.provider_name = Some("x".repeat(160 * 1024))),
        ),
        ("E082", Raw(|| "!!! not base64 !!!".into())),
    ]
}

impl PsAudit {
    fn http(&self) -> Result<Http, String> {
        let c = crate::outbound::client(
            std::time::Duration::from_secs(15),
            self.allow_loopback_http,
            &self.tls_roots,
        )?;
        Ok(Http { c })
    }

    /// The request a good test Connector sends.
    fn request(&self, sso: &str, level: Level) -> AuthnRequest {
        let wanted: Vec<(String, bool)> = attributes::mds(PersonType::NaturalPerson)
            .map(|a| (a.name.to_string(), true))
            .collect();
        crate::connector::authn_request(
            &saml::new_id(),
            &self.connector.metadata_url(),
            sso,
            level,
            &wanted,
            Some("public".into()),
            vec![],
            OffsetDateTime::now_utc(),
        )
    }

    fn sign(&self, xml_text: &str, signer: &SoftwareSigner) -> Result<String, String> {
        let doc = xml::parse(xml_text.as_bytes(), &Limits::message()).map_err(|e| e.to_string())?;
        sign_element(&doc, doc.root(), signer).map_err(|e| e.to_string())
    }

    async fn post(
        &self,
        http: &Http,
        sso: &str,
        value: &str,
        relay: Option<&str>,
    ) -> Result<(Answer, String), String> {
        let mut form = vec![("SAMLRequest", value.to_string())];
        if let Some(r) = relay {
            form.push(("RelayState", r.to_string()));
        }
        http.send(http.c.post(sso).form(&form)).await
    }

    /// Run the audit; `progress` hears of each check as it ends.
    pub async fn run(&self, progress: &mut dyn FnMut(&CheckResult)) -> Report {
        let started = saml::format_instant(OffsetDateTime::now_utc());
        let catalogue: Vec<Check> = super::catalogue()
            .into_iter()
            .filter(|c| c.role == "ps" || c.role == "both")
            .collect();
        let mut done: Vec<CheckResult> = Vec::new();
        let mut record = |r: CheckResult, done: &mut Vec<CheckResult>| {
            progress(&r);
            done.push(r);
        };
        let by_id = |id: &str| catalogue.iter().find(|c| c.id == id).cloned();

        // --- metadata ---------------------------------------------------------------------
        let http = match self.http() {
            Ok(h) => h,
            Err(e) => {
                return self.finish(
                    started,
                    catalogue,
                    done,
                    &format!("cannot make an HTTP client: {e}"),
                    progress,
                );
            }
        };
        let md_bytes = fetch_metadata(&http.c, &self.metadata_url).await;
        let Some(md_bytes) = md_bytes else {
            return self.finish(
                started,
                catalogue,
                done,
                "the target's metadata could not be fetched",
                progress,
            );
        };
        let (results, report) = metadata_results(
            &catalogue,
            &self.metadata_url,
            &md_bytes,
            &self.trust_anchors,
            'B',
        );
        for r in results {
            record(r, &mut done);
        }
        let entity = report.entities.first().cloned().unwrap_or_default();
        let sso = |binding: &str| {
            entity
                .idp
                .as_ref()
                .and_then(|r| r.endpoints.iter().find(|e| e.binding == binding))
                .map(|e| e.location.clone())
        };
        let (Some(sso_post), sso_redirect) =
            (sso(binding_uri::HTTP_POST), sso(binding_uri::HTTP_REDIRECT))
        else {
            return self.finish(
                started,
                catalogue,
                done,
                "the metadata offers no HTTP-POST SingleSignOnService",
                progress,
            );
        };
        let level = if entity
            .published_loas()
            .iter()
            .any(|l| l == Level::Substantial.notified_uri())
        {
            Level::Substantial
        } else {
            Level::High
        };

        let req = self.request(&sso_post, level);
        let relay = "conformance-relay-42";
        let signed = match self.sign(&req.to_xml(), &self.connector.signer) {
            Ok(s) => s,
            Err(e) => {
                return self.finish(
                    started,
                    catalogue,
                    done,
                    &format!("cannot sign: {e}"),
                    progress,
                );
            }
        };
        let value = STANDARD.encode(&signed);
        let first = self.post(&http, &sso_post, &value, Some(relay)).await;
        let positive = by_id("D031");
        // The baseline: how this target answers a correct request (sends the browser on, by a
        // redirect or by an onward form). Negative cases are judged against it.
        let onward = first
            .as_ref()
            .ok()
            .and_then(|(a, _)| Onward::of(a, &sso_post));
        let login_to = match (&first, &positive) {
            (Ok((ans, _)), _) if onward.is_some() => Some(ans.clone()),
            (Ok((_, shown)), Some(c)) => {
                record(
                    result(
                        c,
                        Outcome::Fail,
                        "a correct POST request was not accepted",
                        vec![Evidence::new(&signed, shown)],
                    ),
                    &mut done,
                );
                None
            }
            (Err(e), Some(c)) => {
                record(result(c, Outcome::Fail, e.clone(), vec![]), &mut done);
                None
            }
            _ => None,
        };
        // --- negative requests (E) ----------------------------------------------------------
        let mut unverifiable_answered: Vec<String> = Vec::new();
        let mut unverifiable_delivered = 0;
        for (id, make) in negatives() {
            let Some(c) = by_id(id) else {
                continue;
            };
            let Some(onward) = &onward else {
                record(
                    result(
                        &c,
                        Outcome::Skip,
                        "not reached: the target did not accept the test Connector's correct request (is the test Connector trusted?)",
                        vec![],
                    ),
                    &mut done,
                );
                continue;
            };
            let (sent, answer) = match self
                .negative(&http, &sso_post, sso_redirect.as_deref(), level, &make)
                .await
            {
                Ok(x) => x,
                Err(e) => {
                    // A node may answer an oversized request (413) and close the connection
                    // before the client has written it all: a refusal, when the node is up.
                    let up = http.c.get(&self.metadata_url).send().await.is_ok();
                    let r = if id == "E081" && up {
                        result(
                            &c,
                            Outcome::Pass,
                            format!("refused: the node closed the connection ({e})"),
                            vec![],
                        )
                    } else {
                        result(&c, Outcome::Skip, format!("could not send: {e}"), vec![])
                    };
                    record(r, &mut done);
                    continue;
                }
            };
            let (ans, shown) = answer;
            let unverifiable = matches!(
                make,
                Make::Unsigned
                    | Make::WrongKey
                    | Make::LegacyRsa
                    | Make::Tampered
                    | Make::Wrapped
                    | Make::RedirectWeakSigAlg
                    | Make::RedirectEmbeddedOnly
                    | Make::UnknownIssuer
            );
            if unverifiable {
                unverifiable_delivered += 1;
            }
            let accepted = onward.matches(&ans);
            let (outcome, reason) = match &ans {
                _ if accepted && id == "E079" => (
                    Outcome::Skip,
                    "accepted: the node may be ignoring the Subject, which the profile allows; confirm by hand"
                        .to_string(),
                ),
                _ if accepted => (
                    Outcome::Fail,
                    "accepted: the browser was sent on as for a correct request".to_string(),
                ),
                Answer::Saml { action, .. } if id == "E056" && action.contains("attacker.example") => (
                    Outcome::Fail,
                    format!("a Response was posted to the URL the request named: {action}"),
                ),
                Answer::Saml { value, .. } => match saml_status(value) {
                    Some((true, _)) => (
                        Outcome::Fail,
                        "accepted: an assertion was issued".to_string(),
                    ),
                    Some((false, st)) => {
                        if unverifiable {
                            unverifiable_answered.push(id.to_string());
                        }
                        (
                            Outcome::Pass,
                            format!("refused with a SAML error Response ({st})"),
                        )
                    }
                    None => (
                        Outcome::Fail,
                        "answered with a SAMLResponse that is not a Response".to_string(),
                    ),
                },
                Answer::Page { status, .. } => (
                    Outcome::Pass,
                    format!("refused with a local page (HTTP {status})"),
                ),
                Answer::Proceeded(to) => (
                    Outcome::Pass,
                    format!("refused: sent elsewhere than a correct request goes ({to})"),
                ),
            };
            record(
                result(&c, outcome, reason, vec![Evidence::new(sent, shown)]),
                &mut done,
            );
        }
        if let Some(c) = by_id("F107") {
            let r = if unverifiable_delivered == 0 {
                result(
                    &c,
                    Outcome::Skip,
                    "not reached: no unverifiable request was delivered",
                    vec![],
                )
            } else if unverifiable_answered.is_empty() {
                result(
                    &c,
                    Outcome::Pass,
                    "no SAML Response was posted for any request whose signature or issuer could not be verified",
                    vec![],
                )
            } else {
                result(
                    &c,
                    Outcome::Fail,
                    format!(
                        "a SAML Response was posted for {}",
                        unverifiable_answered.join(", ")
                    ),
                    vec![],
                )
            };
            record(r, &mut done);
        }

        // --- positive flow (D, F) ----------------------------------------------------------
        if let Some(redirect) = &sso_redirect
            && let Some(c) = by_id("D032")
        {
            let req = self.request(redirect, level);
            let r = match saml::binding::redirect_url(
                redirect,
                "SAMLRequest",
                &req.to_xml(),
                None,
                &self.connector.signer,
                EcdsaEncoding::Der,
            ) {
                Ok(url) => match http.send(http.c.get(&url)).await {
                    Ok((ans, shown)) if Onward::of(&ans, redirect).is_some() => result(
                        &c,
                        Outcome::Pass,
                        "accepted: the browser was sent on to authentication",
                        vec![Evidence::new(&url, shown)],
                    ),
                    Ok((_, shown)) => result(
                        &c,
                        Outcome::Fail,
                        "a correct Redirect request was not accepted",
                        vec![Evidence::new(&url, shown)],
                    ),
                    Err(e) => result(&c, Outcome::Fail, e, vec![]),
                },
                Err(e) => result(&c, Outcome::Skip, e.to_string(), vec![]),
            };
            record(r, &mut done);
        }
        // The same request again: refused by the replay cache (E.83).
        if let Some(c) = by_id("E083")
            && let Some(onward) = &onward
        {
            let r = match self.post(&http, &sso_post, &value, Some(relay)).await {
                Ok((ans, shown)) if onward.matches(&ans) => result(
                    &c,
                    Outcome::Fail,
                    "the replayed request was accepted again",
                    vec![Evidence::new(&signed, shown)],
                ),
                Ok((Answer::Saml { value: v, .. }, shown))
                    if saml_status(&v).is_some_and(|s| s.0) =>
                {
                    result(
                        &c,
                        Outcome::Fail,
                        "the replay got a success Response",
                        vec![Evidence::new(&signed, shown)],
                    )
                }
                Ok((_, shown)) => result(
                    &c,
                    Outcome::Pass,
                    "the replayed request ID was refused",
                    vec![Evidence::new(&signed, shown)],
                ),
                Err(e) => result(&c, Outcome::Skip, e, vec![]),
            };
            record(r, &mut done);
        }
        if !self.login && login_to.is_some() {
            if let Some(c) = &positive {
                record(
                    result(
                        c,
                        Outcome::Skip,
                        "accepted; the login was not driven (--no-login)",
                        vec![],
                    ),
                    &mut done,
                );
            }
        } else if let Some(to) = login_to {
            match self.login(&http, to, &sso_post).await {
                Ok((answer_form, trail, callback)) => {
                    let success = matches!(&answer_form, Answer::Saml { value, .. }
                        if saml_status(value).is_some_and(|(issued, code)| issued && code == saml::status::SUCCESS));
                    if let Some(c) = &positive
                        && !success
                    {
                        record(
                            result(
                                c,
                                Outcome::Fail,
                                "the login ended in an error Response",
                                vec![Evidence::new(&signed, &trail)],
                            ),
                            &mut done,
                        );
                    } else if let Some(c) = &positive {
                        record(
                            result(
                                c,
                                Outcome::Pass,
                                "accepted, logged in through the scripted test login, and answered",
                                vec![Evidence::new(&signed, &trail)],
                            ),
                            &mut done,
                        );
                    }
                    for r in
                        self.check_response(&catalogue, &entity, &req, relay, &answer_form, level)
                    {
                        record(r, &mut done);
                    }
                    if let Some(c) = by_id("F108") {
                        let r = match http.send(http.c.get(&callback)).await {
                            Ok((Answer::Saml { .. }, shown)) => result(
                                &c,
                                Outcome::Fail,
                                "the callback gave a second Response",
                                vec![Evidence::new(&callback, shown)],
                            ),
                            Ok((_, shown)) => result(
                                &c,
                                Outcome::Pass,
                                "the second arrival at the callback got no Response",
                                vec![Evidence::new(&callback, shown)],
                            ),
                            Err(e) => result(&c, Outcome::Skip, e, vec![]),
                        };
                        record(r, &mut done);
                    }
                    // NameID formats across logins of the same test person (D033–D035).
                    for r in self
                        .name_id_checks(&catalogue, &http, &sso_post, level, &answer_form)
                        .await
                    {
                        record(r, &mut done);
                    }
                }
                Err(why) => {
                    if let Some(c) = &positive {
                        record(
                            result(
                                c,
                                Outcome::Skip,
                                format!("accepted; the login needs a person: {why}"),
                                vec![],
                            ),
                            &mut done,
                        );
                    }
                }
            }
        }
        self.finish(
            started,
            catalogue,
            done,
            "not reached: the positive flow (D031) did not end in a Response",
            progress,
        )
    }

    /// Every check not yet reported becomes a skip with `why` (manual checks with their `how`).
    fn finish(
        &self,
        started: String,
        catalogue: Vec<Check>,
        done: Vec<CheckResult>,
        why: &str,
        progress: &mut dyn FnMut(&CheckResult),
    ) -> Report {
        super::complete(
            "ps",
            &self.metadata_url,
            started,
            &catalogue,
            done,
            why,
            progress,
        )
    }

    async fn negative(
        &self,
        http: &Http,
        sso: &str,
        sso_redirect: Option<&str>,
        level: Level,
        make: &Make,
    ) -> Result<(String, (Answer, String)), String> {
        let base = self.request(sso, level);
        let signer = &self.connector.signer;
        match make {
            Make::Signed(f) => {
                let mut r = base;
                f(&mut r, &self.connector);
                let x = self.sign(&r.to_xml(), signer)?;
                Ok((
                    x.clone(),
                    self.post(http, sso, &STANDARD.encode(&x), None).await?,
                ))
            }
            Make::Unsigned => {
                let x = base.to_xml();
                Ok((
                    x.clone(),
                    self.post(http, sso, &STANDARD.encode(&x), None).await?,
                ))
            }
            Make::LegacyRsa => {
                let doc = xml::parse(base.to_xml().as_bytes(), &Limits::message())
                    .map_err(|e| e.to_string())?;
                let x = sign_element(&doc, doc.root(), &self.connector.legacy)
                    .map_err(|e| e.to_string())?;
                Ok((
                    x.clone(),
                    self.post(http, sso, &STANDARD.encode(&x), None).await?,
                ))
            }
            Make::WrongKey => {
                let x = self.sign(&base.to_xml(), &self.connector.stranger)?;
                Ok((
                    x.clone(),
                    self.post(http, sso, &STANDARD.encode(&x), None).await?,
                ))
            }
            Make::Tampered => {
                // A neutral field changed after signing: only the signature is wrong.
                let mut r = base;
                r.provider_name = Some("conformance".into());
                let x = self.sign(&r.to_xml(), signer)?;
                let t = x.replacen(
                    "ProviderName=\"conformance\"",
                    "ProviderName=\"conformance, changed\"",
                    1,
                );
                Ok((
                    t.clone(),
                    self.post(http, sso, &STANDARD.encode(&t), None).await?,
                ))
            }
            Make::Wrapped => {
                let x = self.sign(&base.to_xml(), signer)?;
                // The evil request keeps the genuine one's ID: two elements with one ID.
                let mut evil = base.clone();
                evil.provider_name = Some("the evil twin".into());
                let evil_xml = evil.to_xml();
                // The genuine signed request goes inside the evil one's Extensions.
                let inner = x.trim_start_matches(|c| c != '<');
                let w = evil_xml.replacen(
                    "</saml2p:Extensions>",
                    &format!("{inner}</saml2p:Extensions>"),
                    1,
                );
                Ok((
                    w.clone(),
                    self.post(http, sso, &STANDARD.encode(&w), None).await?,
                ))
            }
            Make::Text(f) => {
                let x = f(self.sign(&base.to_xml(), signer)?);
                Ok((
                    x.clone(),
                    self.post(http, sso, &STANDARD.encode(&x), None).await?,
                ))
            }
            Make::SignedText(f) => {
                let x = self.sign(&f(base.to_xml()), signer)?;
                Ok((
                    x.clone(),
                    self.post(http, sso, &STANDARD.encode(&x), None).await?,
                ))
            }
            Make::DuplicateId => {
                let first = self.sign(&base.to_xml(), signer)?;
                let (a, _) = self.post(http, sso, &STANDARD.encode(&first), None).await?;
                if Onward::of(&a, sso).is_none() {
                    return Err("the first request, correct, was not accepted".into());
                }
                let mut again = base;
                again.issue_instant = Some(saml::format_instant(OffsetDateTime::now_utc()));
                again.provider_name = Some("second request, same ID".into());
                let x = self.sign(&again.to_xml(), signer)?;
                Ok((
                    x.clone(),
                    self.post(http, sso, &STANDARD.encode(&x), None).await?,
                ))
            }
            Make::Raw(f) => {
                let v = f();
                let shown = format!("SAMLRequest={}", &v[..v.len().min(200)]);
                Ok((shown, self.post(http, sso, &v, None).await?))
            }
            Make::RedirectWeakSigAlg | Make::RedirectEmbeddedOnly => {
                let Some(redirect) = sso_redirect else {
                    return Err("the metadata offers no HTTP-Redirect endpoint".into());
                };
                let mut r = self.request(redirect, level);
                r.destination = Some(redirect.into());
                let url = if matches!(make, Make::RedirectWeakSigAlg) {
                    // A signature that verifies, by a key the metadata lists, with a SigAlg eIDAS
                    // does not allow (rsa-sha256, PKCS#1 v1.5).
                    saml::binding::redirect_url(
                        redirect,
                        "SAMLRequest",
                        &r.to_xml(),
                        None,
                        &self.connector.legacy,
                        EcdsaEncoding::Der,
                    )
                    .map_err(|e| e.to_string())?
                } else {
                    let x = self.sign(&r.to_xml(), signer)?;
                    format!(
                        "{redirect}?SAMLRequest={}",
                        crate::xmlsec::redirect::url_encode(&saml::binding::deflate_b64(&x))
                    )
                };
                Ok((url.clone(), http.send(http.c.get(&url)).await?))
            }
            Make::UnknownIssuer => {
                let mut r = base;
                r.issuer = Some(saml::Issuer {
                    value: self.connector.unknown_metadata_url(),
                    format: Some(saml::NAMEID_ENTITY.into()),
                });
                let x = self.sign(&r.to_xml(), &self.connector.stranger)?;
                Ok((
                    x.clone(),
                    self.post(http, sso, &STANDARD.encode(&x), None).await?,
                ))
            }
        }
    }

    /// One more login with this NameIDPolicy Format (None: no NameIDPolicy); the Response.
    async fn login_with(
        &self,
        http: &Http,
        sso: &str,
        level: Level,
        format: Option<&str>,
    ) -> Result<Answer, String> {
        let mut req = self.request(sso, level);
        match format {
            Some(f) => {
                if let Some(p) = req.name_id_policy.as_mut() {
                    p.format = Some(f.to_string());
                }
            }
            None => req.name_id_policy = None,
        }
        let signed = self.sign(&req.to_xml(), &self.connector.signer)?;
        match self
            .post(http, sso, &STANDARD.encode(&signed), None)
            .await?
        {
            (ans, _) if Onward::of(&ans, sso).is_some() => {
                self.login(http, ans, sso).await.map(|(a, _, _)| a)
            }
            (_, shown) => Err(format!(
                "the request was not accepted: {}",
                shown.lines().next().unwrap_or("")
            )),
        }
    }

    /// The NameID (Format, value) of a Response's assertion, decrypted with the test
    /// Connector's key (the Response's trust is judged by the F checks, not here).
    fn name_id(&self, answer: &Answer) -> Option<(Option<String>, String)> {
        let Answer::Saml { value, .. } = answer else {
            return None;
        };
        let bytes = STANDARD.decode(value.trim()).ok()?;
        let doc = xml::parse(&bytes, &Limits::message()).ok()?;
        let ea = doc
            .root_element()
            .first_child_named(saml::ns::ASSERTION, "EncryptedAssertion")?;
        let ed = ea.first_child_named(crate::xmlsec::ns::XENC, "EncryptedData")?;
        let (plain, _) = decrypt_element(
            &doc,
            ed.id(),
            std::slice::from_ref(&self.connector.enc_key),
            &Limits::message(),
        )
        .ok()?;
        let n = plain
            .root_element()
            .first_child_named(saml::ns::ASSERTION, "Subject")?
            .first_child_named(saml::ns::ASSERTION, "NameID")?;
        Some((n.attr("Format").map(str::to_string), n.text()))
    }

    async fn name_id_checks(
        &self,
        catalogue: &[Check],
        http: &Http,
        sso: &str,
        level: Level,
        first: &Answer,
    ) -> Vec<CheckResult> {
        const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
        const TRANSIENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";
        const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
        let mut out = Vec::new();
        let by_id = |id: &str| catalogue.iter().find(|c| c.id == id);
        let shown = |x: &Option<(Option<String>, String)>| format!("{x:?}");
        if let Some(c) = by_id("D033") {
            let a = self.name_id(first);
            let second = self.login_with(http, sso, level, Some(PERSISTENT)).await;
            if let Err(e) = &second {
                out.push(result(c, Outcome::Skip, e.clone(), vec![]));
            }
            if let Ok(ans) = second {
                let b = self.name_id(&ans);
                let ok = a.is_some()
                    && a == b
                    && a.as_ref().and_then(|x| x.0.as_deref()) == Some(PERSISTENT);
                out.push(result(
                    c,
                    if ok { Outcome::Pass } else { Outcome::Fail },
                    if ok {
                        "persistent, and the same in two logins of the same person".to_string()
                    } else {
                        "the persistent NameID is missing, of another format, or changed"
                            .to_string()
                    },
                    vec![Evidence::new(
                        "two logins, NameIDPolicy persistent",
                        format!("{} / {}", shown(&a), shown(&b)),
                    )],
                ));
            }
        }
        if let Some(c) = by_id("D034") {
            let mut ids = Vec::new();
            let mut err = None;
            for _ in 0..2 {
                match self.login_with(http, sso, level, Some(TRANSIENT)).await {
                    Ok(ans) => ids.push(self.name_id(&ans)),
                    Err(e) => err = Some(e),
                }
            }
            out.push(match (err, ids.as_slice()) {
                (Some(e), _) => result(c, Outcome::Skip, e, vec![]),
                (None, [a, b]) => {
                    let ok = a.is_some()
                        && b.is_some()
                        && a != b
                        && a.as_ref().and_then(|x| x.0.as_deref()) == Some(TRANSIENT);
                    result(
                        c,
                        if ok { Outcome::Pass } else { Outcome::Fail },
                        if ok {
                            "transient, and different in each login".to_string()
                        } else {
                            "the transient NameID is missing, of another format, or repeated"
                                .to_string()
                        },
                        vec![Evidence::new(
                            "two logins, NameIDPolicy transient",
                            format!("{} / {}", shown(a), shown(b)),
                        )],
                    )
                }
                _ => result(c, Outcome::Skip, "no two logins", vec![]),
            });
        }
        if let Some(c) = by_id("D035") {
            out.push(match self.login_with(http, sso, level, None).await {
                Ok(ans) => {
                    let n = self.name_id(&ans);
                    let ok = n
                        .as_ref()
                        .and_then(|x| x.0.as_deref())
                        .is_some_and(|f| [PERSISTENT, TRANSIENT, UNSPECIFIED].contains(&f));
                    result(
                        c,
                        if ok { Outcome::Pass } else { Outcome::Fail },
                        if ok {
                            "accepted without a NameIDPolicy; the NameID has an eIDAS format"
                                .to_string()
                        } else {
                            "no NameID of an eIDAS format".to_string()
                        },
                        vec![Evidence::new("a login without NameIDPolicy", shown(&n))],
                    )
                }
                Err(e) => result(c, Outcome::Skip, e, vec![]),
            });
        }
        out
    }

    /// The scripted test login: follow the target's pages, submitting each form with its
    /// first choices and its affirmative button, until an auto-posting Response comes. Returns
    /// that answer, the trail, and the callback URL (to try it a second time).
    async fn login(
        &self,
        http: &Http,
        first: Answer,
        from: &str,
    ) -> Result<(Answer, String, String), String> {
        let mut trail = String::new();
        let mut callback = String::new();
        let mut current = from.to_string();
        let mut pending = Some(first);
        let mut next = http.c.get(from);
        for _ in 0..8 {
            let ans = match pending.take() {
                Some(a) => a,
                None => {
                    let (ans, shown) = http.send(next).await?;
                    trail.push_str(&format!(
                        "--> {current}\n{}\n\n",
                        shown.lines().take(3).collect::<Vec<_>>().join("\n")
                    ));
                    ans
                }
            };
            match ans {
                Answer::Saml { .. } => return Ok((ans, trail, callback)),
                Answer::Proceeded(to) => {
                    let to = absolute(&current, &to);
                    // The redirect back to the node (ID-porten's answer), by its path only: a
                    // redirect_uri inside a query says nothing.
                    if to
                        .split(['?', '#'])
                        .next()
                        .unwrap_or("")
                        .contains("callback")
                    {
                        callback = to.clone();
                    }
                    current = to.clone();
                    next = http.c.get(&to);
                }
                Answer::Page { status, body } => {
                    let fs = forms(&body);
                    let Some(f) = fs.iter().find(|f| {
                        f.buttons
                            .iter()
                            .any(|(_, v)| v == "login" || v == "approve")
                    }) else {
                        return Err(format!("no test login form on the page (HTTP {status})"));
                    };
                    let mut fields = f.fields.clone();
                    if let Some(b) = f
                        .buttons
                        .iter()
                        .find(|(_, v)| v == "login" || v == "approve")
                    {
                        fields.push(b.clone());
                    }
                    let action = absolute(&current, &f.action);
                    current = action.clone();
                    next = if f.method.eq_ignore_ascii_case("post") {
                        http.c.post(&action).form(&fields)
                    } else {
                        http.c.get(format!(
                            "{action}{}{}",
                            if action.contains('?') { '&' } else { '?' },
                            serde_urlencoded::to_string(&fields).unwrap_or_default()
                        ))
                    };
                }
            }
        }
        Err("the login did not end in a Response within 8 steps".into())
    }

    /// The F checks on the Response the positive flow produced.
    fn check_response(
        &self,
        catalogue: &[Check],
        entity: &EntityDescriptor,
        req: &AuthnRequest,
        relay: &str,
        answer: &Answer,
        level: Level,
    ) -> Vec<CheckResult> {
        let mut out = Vec::new();
        let by_id = |id: &str| catalogue.iter().find(|c| c.id == id);
        let Answer::Saml {
            action,
            value,
            relay: got_relay,
        } = answer
        else {
            return out;
        };
        let push = |out: &mut Vec<CheckResult>, id: &str, ok: bool, reason: String, ev: &str| {
            if let Some(c) = by_id(id) {
                out.push(result(
                    c,
                    if ok { Outcome::Pass } else { Outcome::Fail },
                    reason,
                    vec![Evidence::new("", ev)],
                ));
            }
        };
        let xml_bytes = STANDARD.decode(value.trim()).unwrap_or_default();
        let xml_text = String::from_utf8_lossy(&xml_bytes).into_owned();
        push(
            &mut out,
            "F085",
            action == &self.connector.acs(),
            format!("posted to {action}"),
            &xml_text,
        );
        push(
            &mut out,
            "D037",
            got_relay.as_deref() == Some(relay),
            format!("RelayState came back as {got_relay:?}"),
            "",
        );
        let Ok(doc) = xml::parse(&xml_bytes, &Limits::message()) else {
            push(
                &mut out,
                "F086",
                false,
                "the Response is not acceptable XML".into(),
                &xml_text,
            );
            return out;
        };
        let keys: Vec<PublicKey> = entity
            .idp
            .iter()
            .flat_map(|r| r.key_descriptors.iter().filter(|k| k.for_signing()))
            .flat_map(|k| k.certificates.iter().filter_map(|c| c.as_ref().ok()))
            .map(|c| c.public_key().clone())
            .collect();
        let verified = verify_element(&doc, doc.root(), &keys, &VerifyOptions::default());
        push(
            &mut out,
            "F088",
            verified.is_ok(),
            match &verified {
                Ok(v) => format!(
                    "signed with {} by a key from its metadata",
                    v.algorithm().uri()
                ),
                Err(e) => format!("the signature does not verify: {e}"),
            },
            &xml_text,
        );
        let Ok(v) = verified else {
            return out;
        };
        let trusted = Trusted::from_verified(&v);
        let Ok(resp) = saml::Response::parse(&trusted) else {
            push(
                &mut out,
                "F086",
                false,
                "not a SAML Response".into(),
                &xml_text,
            );
            return out;
        };
        let algs: Vec<String> = xml_text
            .split("Algorithm=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next().map(str::to_string))
            .collect();
        let gcm = algs.iter().any(|a| a.ends_with("-gcm"));
        let cbc = algs.iter().any(|a| a.ends_with("-cbc"));
        push(
            &mut out,
            "F090",
            gcm && !cbc,
            format!(
                "content encryption: {}",
                if gcm { "AES-GCM" } else { "not AES-GCM" }
            ),
            "",
        );
        let kt_ok = algs.iter().any(|a| {
            a == "http://www.w3.org/2009/xmlenc11#rsa-oaep"
                || a == "http://www.w3.org/2009/xmlenc11#ECDH-ES"
        }) && !algs.iter().any(|a| a.ends_with("rsa-1_5"));
        push(
            &mut out,
            "F091",
            kt_ok,
            "key transport is xmlenc11 rsa-oaep or ECDH-ES, never rsa-1_5".into(),
            "",
        );
        let mut assertion = None;
        if let Some(&ed) = resp.encrypted_assertions.first()
            && let Ok((plain, _)) = decrypt_element(
                &doc,
                ed,
                std::slice::from_ref(&self.connector.enc_key),
                &Limits::message(),
            )
        {
            let t = match verify_element(&plain, plain.root(), &keys, &VerifyOptions::default()) {
                Ok(av) => saml::Assertion::parse(&Trusted::from_verified(&av)),
                Err(_) => saml::Assertion::parse(&Trusted::decrypted_from(&trusted, &plain)),
            };
            assertion = t.ok();
        }
        let published = entity.published_loas();
        let requested = Rac::minimum(level);
        let required: Vec<String> = attributes::mds(PersonType::NaturalPerson)
            .map(|a| a.name.to_string())
            .collect();
        let acs = self.connector.acs();
        let our_id = self.connector.metadata_url();
        let ctx = CnResponseContext {
            now: OffsetDateTime::now_utc(),
            skew: time::Duration::seconds(60),
            max_age: time::Duration::minutes(5),
            our_acs_url: &acs,
            our_entity_id: &our_id,
            proxy_service_entity_id: &entity.entity_id,
            proxy_service_node_country: entity.idp.as_ref().and_then(|r| r.node_country.as_deref()),
            published_loas: &published,
            request_id: req.id.as_deref().unwrap_or_default(),
            requested: &requested,
            citizen_country: entity
                .idp
                .as_ref()
                .and_then(|r| r.node_country.as_deref())
                .unwrap_or("NO"),
            our_country: &self.connector.country,
            required_attributes: &required,
            require_signed_assertion: true,
            request_issued: None,
        };
        let violations = check_response(&resp, assertion.as_ref(), &ctx);
        // Which Connector rules speak for which F check.
        let groups: [(&str, &[&str]); 12] = [
            (
                "F086",
                &[
                    "CN-RESP-VERSION",
                    "CN-RESP-ID",
                    "CN-RESP-ISSUE-INSTANT",
                    "CN-RESP-IN-RESPONSE-TO",
                    "CN-RESP-DESTINATION",
                ],
            ),
            ("F087", &["CN-RESP-ISSUER"]),
            ("F089", &["CN-RESP-ENCRYPTED-ASSERTION", "CN-RESP-STATUS"]),
            ("F092", &["CN-ASSERT-SIGNED"]),
            ("F093", &["CN-ASSERT-BASICS", "CN-ASSERT-ISSUER"]),
            ("F094", &["CN-ASSERT-NAMEID"]),
            (
                "F095",
                &[
                    "CN-ASSERT-BEARER",
                    "CN-ASSERT-RECIPIENT",
                    "CN-ASSERT-CONFIRMATION-EXPIRED",
                ],
            ),
            ("F096", &["CN-ASSERT-CONDITIONS", "CN-ASSERT-AUDIENCE"]),
            ("F097", &["CN-ASSERT-AUTHN-STATEMENT"]),
            ("F098", &["CN-ASSERT-LOA"]),
            (
                "F099",
                &[
                    "CN-ASSERT-ATTRIBUTE-STATEMENT",
                    "CN-ASSERT-ATTRIBUTE-FORMAT",
                    "CN-ASSERT-REQUIRED-ATTRIBUTES",
                ],
            ),
            ("F100", &["CN-ASSERT-PERSON-IDENTIFIER"]),
        ];
        for (id, rules) in groups {
            let hits: Vec<String> = violations
                .iter()
                .filter(|v| rules.contains(&v.rule.id()))
                .map(|v| format!("{}: {}", v.rule.id(), v.detail))
                .collect();
            let missing_assertion = assertion.is_none() && !id.starts_with("F08");
            push(
                &mut out,
                id,
                hits.is_empty() && !missing_assertion,
                if missing_assertion {
                    "no assertion could be decrypted with the test Connector's key".into()
                } else if hits.is_empty() {
                    format!("{} hold", rules.join(", "))
                } else {
                    hits.join("; ")
                },
                &xml_text,
            );
        }
        if let Some(a) = &assertion {
            let names: Vec<&str> = a
                .attribute_statements
                .iter()
                .flatten()
                .map(|x| x.name.as_str())
                .collect();
            let extra: Vec<&&str> = names
                .iter()
                .filter(|n| !required.iter().any(|r| r == *n))
                .collect();
            push(
                &mut out,
                "F104",
                extra.is_empty(),
                if extra.is_empty() {
                    "only the requested attributes".into()
                } else {
                    format!("not requested: {extra:?}")
                },
                "",
            );
        }
        out
    }
}

/// `to` against the page it came from.
pub(super) fn absolute(from: &str, to: &str) -> String {
    if to.starts_with("http://") || to.starts_with("https://") {
        return to.to_string();
    }
    let scheme_end = from.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = from[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(from.len());
    if to.starts_with('/') {
        format!("{}{to}", &from[..host_end])
    } else {
        let dir_end = from
            .rfind('/')
            .filter(|i| *i >= host_end)
            .unwrap_or(host_end);
        format!("{}/{to}", &from[..dir_end])
    }
}

/// (success, status code) of a base64 SAML Response, read without trusting it: only to judge
/// whether an assertion was issued.
fn saml_status(b64: &str) -> Option<(bool, String)> {
    let bytes = STANDARD.decode(b64.trim()).ok()?;
    let doc = xml::parse(&bytes, &Limits::message()).ok()?;
    let root = doc.root_element();
    if !root.is(saml::ns::PROTOCOL, "Response") {
        return None;
    }
    let code = root
        .first_child_named(saml::ns::PROTOCOL, "Status")
        .and_then(|s| s.first_child_named(saml::ns::PROTOCOL, "StatusCode"))
        .and_then(|c| c.attr("Value"))
        .unwrap_or_default()
        .to_string();
    let has_assertion = root
        .first_child_named(saml::ns::ASSERTION, "EncryptedAssertion")
        .is_some()
        || root
            .first_child_named(saml::ns::ASSERTION, "Assertion")
            .is_some();
    // An assertion, whatever the status, is an assertion issued.
    Some((has_assertion, code))
}

//! A test ID-porten: a real, small OpenID Connect provider for the demo and the tests, speaking
//! the parts of ID-porten's protocol our client uses (norway.md §1): discovery, JWKS, pushed
//! authorization requests (required), authorization code with PKCE S256 (required), RFC 9207
//! `iss` on the redirect back, `private_key_jwt` or client-secret authentication, and ID tokens
//! signed ES256 carrying `pid`, `acr`, `amr`, `nonce` — and, like ID-porten, no names.
//!
//! Its login page lets a person pick a synthetic test person and a level, or cancel. It is never
//! a substitute for ID-porten: it only accepts synthetic identity numbers and says so on the page.

use crate::clock::Clock;
use crate::crypto::PrivateKey;
use crate::oidc::one_time_value;
use crate::xml::write::{attr, text};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// How a registered client authenticates.
pub enum TestClientAuth {
    /// The public key (SPKI PEM) its client assertions are checked with.
    PrivateKeyJwt(DecodingKey),
    Secret(String),
}

pub struct TestClient {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    pub auth: TestClientAuth,
}

/// A person on the login page.
#[derive(Clone, Debug)]
pub struct TestPerson {
    pub pid: String,
    pub label: String,
}

pub struct TestIdPorten {
    issuer: String,
    clients: Vec<TestClient>,
    persons: Vec<TestPerson>,
    key: EncodingKey,
    jwk: serde_json::Value,
    kid: String,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// request_uri → (parameters, expiry).
    pushed: HashMap<String, (HashMap<String, String>, i64)>,
    /// code → what the token endpoint needs.
    codes: HashMap<String, Issued>,
    /// Client assertion ids seen (replay).
    jtis: HashMap<String, i64>,
}

struct Issued {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    pid: String,
    acr: String,
    expires: i64,
}

const ACRS: [&str; 2] = ["idporten-loa-substantial", "idporten-loa-high"];

impl TestIdPorten {
    /// A provider at `issuer` (its base URL, as it will be served) with a fresh P-256 key.
    pub fn new(
        issuer: &str,
        clients: Vec<TestClient>,
        persons: Vec<TestPerson>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let g = crate::crypto::generate::generate(
            crate::crypto::generate::KeyKind::EcP256,
            "test ID-porten",
            "NO",
            clock.now().unix_timestamp() - 60,
            365,
        )
        .map_err(|e| e.to_string())?;
        Self::with_key(issuer, clients, persons, clock, &g.key)
    }

    pub fn with_key(
        issuer: &str,
        clients: Vec<TestClient>,
        persons: Vec<TestPerson>,
        clock: Arc<dyn Clock>,
        key: &PrivateKey,
    ) -> Result<Self, String> {
        let PrivateKey::Ec {
            curve: crate::crypto::Curve::P256,
            public,
            ..
        } = key
        else {
            return Err("the test ID-porten signs with a P-256 key".into());
        };
        let crate::crypto::PublicKey::Ec { point, .. } = public else {
            return Err("not an EC key".into());
        };
        let kid = URL_SAFE_NO_PAD
            .encode(&aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, point).as_ref()[..12]);
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        let enc =
            EncodingKey::from_ec_pem(key.pkcs8_pem().as_bytes()).map_err(|e| e.to_string())?;
        Ok(TestIdPorten {
            issuer: issuer.trim_end_matches('/').to_string(),
            clients,
            persons,
            key: enc,
            jwk,
            kid,
            clock,
            inner: Mutex::new(Inner::default()),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Sign an ID token with this provider's key (tests use it to forge variations).
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        let mut h = Header::new(Algorithm::ES256);
        h.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&h, claims, &self.key).unwrap_or_default()
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    fn client(&self, id: &str) -> Option<&TestClient> {
        self.clients.iter().find(|c| c.client_id == id)
    }

    /// Authenticate the client of a PAR or token request; returns its id.
    fn authenticate(
        &self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
    ) -> Result<String, OAuthError> {
        let invalid = || {
            OAuthError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        };
        if let Some(assertion) = form.get("client_assertion") {
            if form.get("client_assertion_type").map(String::as_str)
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return Err(invalid());
            }
            let id = form.get("client_id").ok_or_else(invalid)?;
            let c = self.client(id).ok_or_else(invalid)?;
            let TestClientAuth::PrivateKeyJwt(key) = &c.auth else {
                return Err(invalid());
            };
            let header = jsonwebtoken::decode_header(assertion).map_err(|_| invalid())?;
            let mut v = Validation::new(header.alg);
            v.set_audience(&[&self.issuer]);
            v.set_issuer(&[id]);
            v.sub = Some(id.clone());
            v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
            let d = jsonwebtoken::decode::<serde_json::Value>(assertion, key, &v)
                .map_err(|_| invalid())?;
            let jti = d
                .claims
                .get("jti")
                .and_then(|j| j.as_str())
                .ok_or_else(invalid)?;
            let mut inner = self.inner.lock().unwrap();
            let now = self.now();
            inner.jtis.retain(|_, exp| *exp > now);
            if inner.jtis.insert(jti.to_string(), now + 300).is_some() {
                return Err(invalid());
            }
            return Ok(id.clone());
        }
        let (id, secret) = if let Some(basic) = headers
            .get(header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.strip_prefix("Basic "))
        {
            let raw = STANDARD.decode(basic).map_err(|_| invalid())?;
            let raw = String::from_utf8(raw).map_err(|_| invalid())?;
            let (i, s) = raw.split_once(':').ok_or_else(invalid)?;
            let dec = |x: &str| {
                serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={x}"))
                    .ok()
                    .and_then(|v| v.into_iter().next())
                    .map(|(_, v)| v)
            };
            (dec(i).ok_or_else(invalid)?, dec(s).ok_or_else(invalid)?)
        } else {
            (
                form.get("client_id").cloned().ok_or_else(invalid)?,
                form.get("client_secret").cloned().ok_or_else(invalid)?,
            )
        };
        match self.client(&id).map(|c| &c.auth) {
            Some(TestClientAuth::Secret(s)) if *s == secret => Ok(id),
            _ => Err(invalid()),
        }
    }
}

pub struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: &str) -> Self {
        OAuthError {
            status,
            error,
            description: description.to_string(),
        }
    }
    fn bad(error: &'static str, description: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, description)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({"error": self.error, "error_description": self.description})),
        )
            .into_response()
    }
}

type Shared = Arc<TestIdPorten>;

/// The provider's routes, to be served at the issuer's base URL.
pub fn router(p: Shared) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/par", post(par))
        .route("/authorize", get(authorize_page).post(authorize_submit))
        .route("/token", post(token))
        .with_state(p)
}

async fn discovery(State(p): State<Shared>) -> Json<serde_json::Value> {
    let i = &p.issuer;
    Json(serde_json::json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "pushed_authorization_request_endpoint": format!("{i}/par"),
        "require_pushed_authorization_requests": true,
        "token_endpoint": format!("{i}/token"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic", "client_secret_post"],
        "acr_values_supported": ACRS,
        "ui_locales_supported": ["nb", "nn", "en", "se"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": ["openid", "profile"],
    }))
}

async fn jwks(State(p): State<Shared>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "keys": [p.jwk] }))
}

async fn par(
    State(p): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, OAuthError> {
    let client_id = p.authenticate(&headers, &form)?;
    let c = p
        .client(&client_id)
        .ok_or_else(|| OAuthError::bad("invalid_client", "unknown"))?;
    if form.get("response_type").map(String::as_str) != Some("code") {
        return Err(OAuthError::bad("unsupported_response_type", "only code"));
    }
    let redirect = form.get("redirect_uri").map(String::as_str).unwrap_or("");
    if !c.redirect_uris.iter().any(|r| r == redirect) {
        return Err(OAuthError::bad(
            "invalid_request",
            "redirect_uri not registered",
        ));
    }
    if form.get("code_challenge_method").map(String::as_str) != Some("S256")
        || form.get("code_challenge").is_none_or(|c| c.len() != 43)
    {
        return Err(OAuthError::bad("invalid_request", "PKCE S256 is required"));
    }
    if !form
        .get("scope")
        .is_some_and(|s| s.split(' ').any(|x| x == "openid"))
    {
        return Err(OAuthError::bad("invalid_scope", "openid is required"));
    }
    if let Some(acr) = form.get("acr_values")
        && !acr.split(' ').all(|a| ACRS.contains(&a))
    {
        return Err(OAuthError::bad("invalid_request", "unknown acr_values"));
    }
    let uri = format!("urn:ietf:params:oauth:request_uri:{}", one_time_value());
    let mut inner = p.inner.lock().unwrap();
    let now = p.now();
    inner.pushed.retain(|_, (_, exp)| *exp > now);
    inner.pushed.insert(uri.clone(), (form, now + 90));
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"request_uri": uri, "expires_in": 90})),
    )
        .into_response())
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: String,
    request_uri: String,
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        format!(
            "<!DOCTYPE html>\n<html lang=\"nb\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Test ID-porten</title></head><body><main>{body}</main></body></html>\n"
        ),
    )
        .into_response()
}

async fn authorize_page(State(p): State<Shared>, Query(q): Query<AuthorizeQuery>) -> Response {
    let params = {
        let inner = p.inner.lock().unwrap();
        match inner.pushed.get(&q.request_uri) {
            Some((f, exp)) if *exp > p.now() && f.get("client_id") == Some(&q.client_id) => {
                f.clone()
            }
            _ => {
                return html(
                    StatusCode::BAD_REQUEST,
                    "<h1>Ugyldig forespørsel</h1><p>The request is unknown or expired \
                     (this test ID-porten requires pushed authorization requests).</p>"
                        .into(),
                );
            }
        }
    };
    let wanted = params
        .get("acr_values")
        .map(String::as_str)
        .unwrap_or(ACRS[0]);
    let persons: String = p
        .persons
        .iter()
        .map(|x| {
            format!(
                "<option value=\"{}\">{} — {}</option>",
                attr(&x.pid),
                text(&x.label),
                text(&x.pid)
            )
        })
        .collect();
    let levels: String = ACRS
        .iter()
        .map(|a| {
            let sel = if wanted.split(' ').next() == Some(a) {
                " selected"
            } else {
                ""
            };
            format!("<option value=\"{a}\"{sel}>{a}</option>")
        })
        .collect();
    html(
        StatusCode::OK,
        format!(
            "<h1>Test ID-porten</h1><p><strong>Not ID-porten.</strong> A test provider with \
             synthetic persons only.</p>\
             <form method=\"post\" action=\"{action}\">\
             <input type=\"hidden\" name=\"request_uri\" value=\"{ru}\">\
             <label>Test person <select name=\"pid\">{persons}</select></label>\
             <label>Level <select name=\"acr\">{levels}</select></label>\
             <button type=\"submit\" name=\"action\" value=\"login\">Logg inn</button>\
             <button type=\"submit\" name=\"action\" value=\"cancel\">Avbryt</button>\
             </form>",
            action = attr(&format!("{}/authorize", p.issuer)),
            ru = attr(&q.request_uri),
        ),
    )
}

#[derive(Deserialize)]
struct LoginForm {
    request_uri: String,
    #[serde(default)]
    pid: String,
    #[serde(default)]
    acr: String,
    action: String,
}

async fn authorize_submit(State(p): State<Shared>, Form(f): Form<LoginForm>) -> Response {
    let Some((params, _)) = p
        .inner
        .lock()
        .unwrap()
        .pushed
        .remove(&f.request_uri)
        .filter(|(_, exp)| *exp > p.now())
    else {
        return html(
            StatusCode::BAD_REQUEST,
            "<h1>Ugyldig forespørsel</h1>".into(),
        );
    };
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let redirect_uri = get("redirect_uri");
    let mut back: Vec<(&str, String)> = Vec::new();
    if f.action == "cancel" {
        back.push(("error", "access_denied".into()));
        back.push(("error_description", "User cancelled".into()));
    } else {
        if !p.persons.iter().any(|x| x.pid == f.pid) || !ACRS.contains(&f.acr.as_str()) {
            return html(
                StatusCode::BAD_REQUEST,
                "<h1>Ukjent testperson eller nivå</h1>".into(),
            );
        }
        let code = one_time_value();
        p.inner.lock().unwrap().codes.insert(
            code.clone(),
            Issued {
                client_id: get("client_id"),
                redirect_uri: redirect_uri.clone(),
                code_challenge: get("code_challenge"),
                nonce: params.get("nonce").cloned(),
                pid: f.pid,
                acr: f.acr,
                expires: p.now() + 60,
            },
        );
        back.push(("code", code));
    }
    if let Some(s) = params.get("state") {
        back.push(("state", s.clone()));
    }
    back.push(("iss", p.issuer.clone()));
    let q = serde_urlencoded::to_string(&back).unwrap_or_default();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("{redirect_uri}{sep}{q}"))],
    )
        .into_response()
}

async fn token(
    State(p): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, OAuthError> {
    let client_id = p.authenticate(&headers, &form)?;
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return Err(OAuthError::bad(
            "unsupported_grant_type",
            "authorization_code only",
        ));
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let grant = || OAuthError::bad("invalid_grant", "code unknown, used, expired or not yours");
    let issued = p
        .inner
        .lock()
        .unwrap()
        .codes
        .remove(&code)
        .ok_or_else(grant)?;
    if issued.expires <= p.now()
        || issued.client_id != client_id
        || form.get("redirect_uri") != Some(&issued.redirect_uri)
    {
        return Err(grant());
    }
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if crate::oidc::Pkce::from_verifier(verifier).challenge != issued.code_challenge {
        return Err(OAuthError::bad("invalid_grant", "PKCE verification failed"));
    }
    let now = p.now();
    // ID-porten's sub is pairwise per client; a hash stands in for it here.
    let sub = URL_SAFE_NO_PAD.encode(
        &aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            format!("{client_id}|{}", issued.pid).as_bytes(),
        )
        .as_ref()[..24],
    );
    let mut claims = serde_json::json!({
        "iss": p.issuer, "aud": client_id, "sub": sub, "iat": now, "exp": now + 120,
        "auth_time": now, "acr": issued.acr, "amr": ["TestID"], "pid": issued.pid,
        "locale": "nb", "sid": one_time_value(),
    });
    if let Some(n) = issued.nonce {
        claims["nonce"] = n.into();
    }
    let id_token = p.sign(&claims);
    Ok(Json(serde_json::json!({
        "access_token": one_time_value(), "token_type": "Bearer", "expires_in": 120,
        "id_token": id_token, "scope": "openid",
    }))
    .into_response())
}

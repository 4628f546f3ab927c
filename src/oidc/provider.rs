//! Our OpenID provider for Norwegian relying parties (the Connector's front edge; in production
//! ID-porten is its one client, as with Digdir's connector, norway.md §2).
//!
//! Authorization code flow only: pushed authorization requests (required by default), PKCE S256
//! (always), RFC 9207 `iss` on every answer to the redirect URI, client authentication with
//! `private_key_jwt`, `client_secret_basic` or `client_secret_post` as registered, one-time codes
//! and PAR request URIs in the shared store (so any instance can finish a flow), ID tokens signed
//! ES256 (PS256/RS256 with an RSA key), a userinfo endpoint, and errors as RFC 6749 says: to the
//! redirect URI once client and redirect URI are known to be good, on a page otherwise.

use crate::clock::Clock;
use crate::crypto::{PrivateKey, PublicKey};
use crate::eidas::loa::Level;
use crate::oidc::one_time_value;
use crate::store::Store;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// How a registered client authenticates.
pub enum ClientCredential {
    /// Its public key; the algorithms its assertions may use.
    PrivateKeyJwt(DecodingKey, Vec<Algorithm>),
    ClientSecretBasic(String),
    ClientSecretPost(String),
}

pub struct RegisteredClient {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    pub credential: ClientCredential,
    /// Optional eIDAS attributes to ask for and relay (FriendlyName or Name URI).
    pub attributes: Vec<String>,
}

impl RegisteredClient {
    fn method(&self) -> &'static str {
        match self.credential {
            ClientCredential::PrivateKeyJwt(..) => "private_key_jwt",
            ClientCredential::ClientSecretBasic(_) => "client_secret_basic",
            ClientCredential::ClientSecretPost(_) => "client_secret_post",
        }
    }

    /// A client key (PEM public key or certificate) for `private_key_jwt`.
    pub fn key_from_pem(bytes: &[u8]) -> Result<(DecodingKey, Vec<Algorithm>), String> {
        let public = match crate::crypto::Certificate::load(bytes) {
            Ok(c) => c.public_key().clone(),
            Err(_) => {
                let der = crate::crypto::pem::parse(bytes)
                    .and_then(|b| b.into_iter().find(|b| b.label == "PUBLIC KEY"))
                    .map(|b| b.der)
                    .ok_or("neither a certificate nor a PUBLIC KEY PEM")?;
                PublicKey::from_spki_der(&der).map_err(|e| e.to_string())?
            }
        };
        let (spki, algs) = match &public {
            PublicKey::Rsa { spki, .. } => (
                spki,
                vec![
                    Algorithm::RS256,
                    Algorithm::PS256,
                    Algorithm::RS384,
                    Algorithm::PS384,
                ],
            ),
            PublicKey::Ec { spki, curve, .. } => match curve {
                crate::crypto::Curve::P256 => (spki, vec![Algorithm::ES256]),
                crate::crypto::Curve::P384 => (spki, vec![Algorithm::ES384]),
                c => return Err(format!("a {} key has no JOSE algorithm", c.name())),
            },
        };
        let pem = crate::crypto::pem::encode("PUBLIC KEY", spki);
        let key = match public {
            PublicKey::Rsa { .. } => DecodingKey::from_rsa_pem(pem.as_bytes()),
            PublicKey::Ec { .. } => DecodingKey::from_ec_pem(pem.as_bytes()),
        }
        .map_err(|e| e.to_string())?;
        Ok((key, algs))
    }
}

/// Lifetimes and policy.
#[derive(Clone, Debug)]
pub struct ProviderSettings {
    /// Our issuer: the node's public URL.
    pub issuer: String,
    pub require_par: bool,
    pub par_lifetime: Duration,
    pub code_lifetime: Duration,
    pub token_lifetime: Duration,
    /// The level asked of the foreign node when `acr_values` names none of ours.
    pub default_level: Level,
}

/// The acr values we speak (norway.md §2), and their levels.
pub const ACR_VALUES: [(&str, Level); 3] = [
    ("eidas-loa-low", Level::Low),
    ("eidas-loa-substantial", Level::Substantial),
    ("eidas-loa-high", Level::High),
];

pub fn acr_for(level: Level) -> &'static str {
    ACR_VALUES
        .iter()
        .find(|(_, l)| *l == level)
        .map(|(a, _)| *a)
        .unwrap_or("eidas-loa-substantial")
}

/// An authorization request that passed every check, kept until the code is issued.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthzRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub scope: String,
    /// The minimum level the relying party asked for.
    pub level: Level,
    pub ui_locales: Option<String>,
    /// A country the relying party named (`eidas_country`): no selection page.
    pub country: Option<String>,
}

/// A refused authorization request: where the answer goes depends on what could be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthzError {
    /// Client or redirect URI unknown (or the PAR request URI): an error page, no redirect.
    Page(String),
    /// Everything else: back to the relying party's redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

/// An error of the PAR, token or userinfo endpoint (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn bad(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status: 400,
            error,
            description: description.into(),
        }
    }
    fn client() -> Self {
        OAuthError {
            status: 401,
            error: "invalid_client",
            description: "client authentication failed".into(),
        }
    }
    pub fn body(&self) -> Value {
        json!({"error": self.error, "error_description": self.description})
    }
}

/// What a code stands for.
#[derive(Serialize, Deserialize)]
struct Grant {
    authz: AuthzRequest,
    claims: serde_json::Map<String, Value>,
    auth_time: i64,
}

pub struct Provider {
    pub settings: ProviderSettings,
    clients: Vec<RegisteredClient>,
    key: EncodingKey,
    alg: Algorithm,
    kid: String,
    jwk: Value,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

/// Longest `state` / `nonce` / `code_challenge` / scope accepted.
const MAX_PARAM: usize = 512;

impl Provider {
    /// A provider signing with `key` (`ES256` needs P-256; `PS256`/`RS256` RSA).
    pub fn new(
        settings: ProviderSettings,
        clients: Vec<RegisteredClient>,
        key: &PrivateKey,
        alg: &str,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let pem = key.pkcs8_pem();
        let (alg, enc) = match (alg, key) {
            (
                "ES256",
                PrivateKey::Ec {
                    curve: crate::crypto::Curve::P256,
                    ..
                },
            ) => (Algorithm::ES256, EncodingKey::from_ec_pem(pem.as_bytes())),
            ("PS256", PrivateKey::Rsa { .. }) => {
                (Algorithm::PS256, EncodingKey::from_rsa_pem(pem.as_bytes()))
            }
            ("RS256", PrivateKey::Rsa { .. }) => {
                (Algorithm::RS256, EncodingKey::from_rsa_pem(pem.as_bytes()))
            }
            (a, k) => {
                return Err(format!(
                    "signing_alg {a} cannot be made with a {} key (ES256: P-256; PS256, RS256: RSA)",
                    k.public_key().describe()
                ));
            }
        };
        let enc = enc.map_err(|e| e.to_string())?;
        let (kid, mut jwk) = jwk_of(key.public_key())?;
        jwk["alg"] = json!(format!("{alg:?}"));
        Ok(Provider {
            settings,
            clients,
            key: enc,
            alg,
            kid,
            jwk,
            store,
            clock,
        })
    }

    fn now(&self) -> i64 {
        self.clock.now().unix_timestamp()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.issuer)
    }

    pub fn client(&self, id: &str) -> Option<&RegisteredClient> {
        self.clients.iter().find(|c| c.client_id == id)
    }

    pub fn discovery(&self) -> Value {
        json!({
            "issuer": self.settings.issuer,
            "authorization_endpoint": self.url("/oidc/authorize"),
            "pushed_authorization_request_endpoint": self.url("/oidc/par"),
            "require_pushed_authorization_requests": self.settings.require_par,
            "token_endpoint": self.url("/oidc/token"),
            "userinfo_endpoint": self.url("/oidc/userinfo"),
            "jwks_uri": self.url("/oidc/jwks"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [format!("{:?}", self.alg)],
            "token_endpoint_auth_methods_supported":
                ["private_key_jwt", "client_secret_basic", "client_secret_post"],
            "token_endpoint_auth_signing_alg_values_supported":
                ["ES256", "ES384", "RS256", "PS256", "RS384", "PS384"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "eidas"],
            "acr_values_supported": ACR_VALUES.iter().map(|(a, _)| *a).collect::<Vec<_>>(),
            "claims_supported": [
                "sub", "acr", "amr", "auth_time", "pid", "given_name", "family_name", "birthdate",
                "eidas_identifier", "eidas_firstname", "eidas_lastname", "eidas_date_of_birth",
                "eidas_citizen_country_code", "eidas_birth_name", "eidas_place_of_birth",
                "eidas_current_address", "eidas_gender"
            ],
            "authorization_response_iss_parameter_supported": true,
            "ui_locales_supported": ["nb", "nn", "en", "se"],
        })
    }

    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// Authenticate the client of a PAR or token request, by the method it is registered with.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        form: &HashMap<String, String>,
    ) -> Result<&RegisteredClient, OAuthError> {
        if let Some(assertion) = form.get("client_assertion") {
            if form.get("client_assertion_type").map(String::as_str)
                != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            {
                return Err(OAuthError::client());
            }
            let header =
                jsonwebtoken::decode_header(assertion).map_err(|_| OAuthError::client())?;
            // The client is who the assertion says (iss = sub = client_id); client_id, when sent,
            // must agree.
            let unverified: Value = assertion
                .split('.')
                .nth(1)
                .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(OAuthError::client)?;
            let id = unverified["iss"].as_str().ok_or_else(OAuthError::client)?;
            if form.get("client_id").is_some_and(|c| c != id) {
                return Err(OAuthError::client());
            }
            let c = self.client(id).ok_or_else(OAuthError::client)?;
            let ClientCredential::PrivateKeyJwt(key, algs) = &c.credential else {
                return Err(OAuthError::client());
            };
            if !algs.contains(&header.alg) {
                return Err(OAuthError::client());
            }
            // The audience is our issuer identifier, as a single string (the OpenID Foundation's
            // 2025 advice against audience injection in private_key_jwt): not a list, not an
            // endpoint URL.
            if unverified["aud"].as_str() != Some(self.settings.issuer.as_str()) {
                return Err(OAuthError::client());
            }
            let mut v = Validation::new(header.alg);
            v.set_audience(&[self.settings.issuer.as_str()]);
            v.set_issuer(&[id]);
            v.sub = Some(id.to_string());
            // Time is checked below on the node's clock, not the library's.
            v.validate_exp = false;
            v.validate_nbf = false;
            v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
            let d = jsonwebtoken::decode::<Value>(assertion, key, &v)
                .map_err(|_| OAuthError::client())?;
            let jti = d.claims["jti"].as_str().ok_or_else(OAuthError::client)?;
            let exp = d.claims["exp"].as_i64().unwrap_or(0);
            let now = self.now();
            // Expired (30 s of skew), valid for more than 10 minutes, or not yet valid: refused.
            if exp.saturating_add(30) < now
                || exp.saturating_sub(now) > 600
                || d.claims["nbf"]
                    .as_i64()
                    .is_some_and(|nbf| nbf.saturating_sub(30) > now)
                || jti.len() > 256
            {
                return Err(OAuthError::client());
            }
            let ttl = Duration::from_secs(exp.saturating_sub(now).max(1) as u64 + 60);
            let fresh = self
                .store
                .insert_if_absent(&format!("op-jti:{id}:{jti}"), b"1", ttl)
                .await
                .map_err(|_| OAuthError {
                    status: 503,
                    error: "temporarily_unavailable",
                    description: "try again".into(),
                })?;
            if !fresh {
                return Err(OAuthError::client());
            }
            return Ok(c);
        }
        let basic = authorization
            .and_then(|h| h.strip_prefix("Basic "))
            .map(|b| -> Result<(String, String), OAuthError> {
                let raw = STANDARD
                    .decode(b.trim())
                    .map_err(|_| OAuthError::client())?;
                let raw = String::from_utf8(raw).map_err(|_| OAuthError::client())?;
                let (i, s) = raw.split_once(':').ok_or_else(OAuthError::client)?;
                let dec = |x: &str| {
                    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={x}"))
                        .ok()
                        .and_then(|v| v.into_iter().next())
                        .map(|(_, v)| v)
                        .ok_or_else(OAuthError::client)
                };
                Ok((dec(i)?, dec(s)?))
            })
            .transpose()?;
        let (id, secret, via_basic) = match basic {
            Some((i, s)) => (i, s, true),
            None => (
                form.get("client_id")
                    .cloned()
                    .ok_or_else(OAuthError::client)?,
                form.get("client_secret")
                    .cloned()
                    .ok_or_else(OAuthError::client)?,
                false,
            ),
        };
        let c = self.client(&id).ok_or_else(OAuthError::client)?;
        let expected = match (&c.credential, via_basic) {
            (ClientCredential::ClientSecretBasic(s), true) => s,
            (ClientCredential::ClientSecretPost(s), false) => s,
            _ => return Err(OAuthError::client()),
        };
        if crate::oidc::client::constant_time_eq(expected.as_bytes(), secret.as_bytes()) {
            Ok(c)
        } else {
            Err(OAuthError::client())
        }
    }

    /// Check authorization parameters for `client`.
    fn validate(
        &self,
        client: &RegisteredClient,
        p: &HashMap<String, String>,
    ) -> Result<AuthzRequest, AuthzError> {
        let redirect_uri = p.get("redirect_uri").cloned().unwrap_or_default();
        if !client.redirect_uris.contains(&redirect_uri) {
            return Err(AuthzError::Page(
                "redirect_uri is not registered for the client".into(),
            ));
        }
        let state = p.get("state").cloned();
        let fail = |error: &'static str, d: &str| AuthzError::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone().filter(|s| s.len() <= MAX_PARAM),
            error,
            description: d.to_string(),
        };
        // Client authentication (an assertion may carry a certificate chain) has its own limit.
        let too_long = p.iter().any(|(k, v)| {
            let limit = if k == "client_assertion" {
                16 * 1024
            } else {
                2048
            };
            v.len() > limit
        });
        if too_long || state.as_ref().is_some_and(|s| s.len() > MAX_PARAM) {
            return Err(fail("invalid_request", "a parameter is too long"));
        }
        if p.get("response_type").map(String::as_str) != Some("code") {
            return Err(fail(
                "unsupported_response_type",
                "only the code flow is supported",
            ));
        }
        // Every login here shows pages and authenticates afresh abroad (ForceAuthn): a request
        // that allows no interaction cannot be served (OIDC Core 3.1.2.6).
        if p.get("prompt")
            .is_some_and(|v| v.split(' ').any(|x| x == "none"))
        {
            return Err(fail(
                "login_required",
                "an eIDAS login always needs the person",
            ));
        }
        if p.get("response_mode").is_some_and(|m| m != "query") {
            return Err(fail("invalid_request", "only response_mode=query"));
        }
        if p.contains_key("request") {
            return Err(fail(
                "request_not_supported",
                "request objects are not supported; use PAR",
            ));
        }
        let scope = p.get("scope").cloned().unwrap_or_default();
        if !scope.split(' ').any(|s| s == "openid") {
            return Err(fail("invalid_scope", "openid is required"));
        }
        if p.get("code_challenge_method").map(String::as_str) != Some("S256") {
            return Err(fail("invalid_request", "PKCE with S256 is required"));
        }
        let code_challenge = p.get("code_challenge").cloned().unwrap_or_default();
        if code_challenge.len() != 43
            || !code_challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(fail(
                "invalid_request",
                "code_challenge is not an S256 value",
            ));
        }
        let level = match p.get("acr_values") {
            None => self.settings.default_level,
            Some(v) => {
                // The first of ours, in the relying party's order of preference.
                let found = v
                    .split(' ')
                    .find_map(|a| ACR_VALUES.iter().find(|(x, _)| *x == a).map(|(_, l)| *l));
                match found {
                    Some(l) => l,
                    None => {
                        return Err(fail(
                            "invalid_request",
                            "acr_values names none of eidas-loa-low, eidas-loa-substantial, eidas-loa-high",
                        ));
                    }
                }
            }
        };
        let country = match p.get("eidas_country") {
            Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) => Some(c.clone()),
            Some(_) => {
                return Err(fail(
                    "invalid_request",
                    "eidas_country is not a two-letter country code",
                ));
            }
            None => None,
        };
        Ok(AuthzRequest {
            client_id: client.client_id.clone(),
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            nonce: p.get("nonce").cloned(),
            code_challenge,
            scope,
            level,
            ui_locales: p.get("ui_locales").cloned(),
            country,
        })
    }

    /// The PAR endpoint: authenticate, validate, keep; answers `(request_uri, expires_in)`.
    pub async fn par(
        &self,
        authorization: Option<&str>,
        form: &HashMap<String, String>,
    ) -> Result<(String, u64), OAuthError> {
        let c = self.authenticate(authorization, form).await?;
        if form.contains_key("request_uri") {
            return Err(OAuthError::bad(
                "invalid_request",
                "request_uri is not allowed in a pushed request",
            ));
        }
        let a = self.validate(c, form).map_err(|e| match e {
            AuthzError::Page(d) => OAuthError::bad("invalid_request", d),
            AuthzError::Redirect {
                error, description, ..
            } => OAuthError::bad(error, description),
        })?;
        let uri = format!("urn:ietf:params:oauth:request_uri:{}", one_time_value());
        let bytes =
            serde_json::to_vec(&a).map_err(|e| OAuthError::bad("server_error", e.to_string()))?;
        self.store
            .put(&format!("op-par:{uri}"), &bytes, self.settings.par_lifetime)
            .await
            .map_err(|_| OAuthError {
                status: 503,
                error: "temporarily_unavailable",
                description: "try again".into(),
            })?;
        Ok((uri, self.settings.par_lifetime.as_secs()))
    }

    /// The authorization endpoint: a pushed request (taken once) or, when PAR is not required,
    /// the parameters themselves.
    pub async fn authorize(&self, p: &HashMap<String, String>) -> Result<AuthzRequest, AuthzError> {
        let client_id = p.get("client_id").cloned().unwrap_or_default();
        let client = self
            .client(&client_id)
            .ok_or_else(|| AuthzError::Page("unknown client_id".into()))?;
        if let Some(uri) = p.get("request_uri") {
            let key = format!("op-par:{uri}");
            let gone = || AuthzError::Page("request_uri is unknown, used or expired".into());
            // Looked at first and taken only when the client_id given with it matches. That id
            // is not authenticated here: what protects a request URI is that it cannot be
            // guessed and lives for `par_lifetime` only.
            let stored = self
                .store
                .get(&key)
                .await
                .map_err(|e| AuthzError::Page(format!("store: {e}")))?
                .ok_or_else(gone)?;
            let a: AuthzRequest =
                serde_json::from_slice(&stored).map_err(|e| AuthzError::Page(e.to_string()))?;
            if a.client_id != client_id {
                return Err(AuthzError::Page(
                    "request_uri belongs to another client".into(),
                ));
            }
            self.store
                .take(&key)
                .await
                .map_err(|e| AuthzError::Page(format!("store: {e}")))?
                .ok_or_else(gone)?;
            return Ok(a);
        }
        let a = self.validate(client, p)?;
        if self.settings.require_par {
            return Err(AuthzError::Redirect {
                redirect_uri: a.redirect_uri,
                state: a.state,
                error: "invalid_request",
                description: "pushed authorization requests are required".into(),
            });
        }
        Ok(a)
    }

    /// Where to send the browser with an error.
    pub fn error_redirect(
        &self,
        redirect_uri: &str,
        state: Option<&str>,
        error: &str,
        description: &str,
    ) -> String {
        let mut q: Vec<(&str, &str)> = vec![("error", error), ("error_description", description)];
        if let Some(s) = state {
            q.push(("state", s));
        }
        q.push(("iss", &self.settings.issuer));
        with_query(redirect_uri, &q)
    }

    /// Issue a one-time code for these claims; returns the redirect URL.
    pub async fn issue_code(
        &self,
        authz: &AuthzRequest,
        claims: serde_json::Map<String, Value>,
        auth_time: i64,
    ) -> Result<String, String> {
        let code = one_time_value();
        let g = Grant {
            authz: authz.clone(),
            claims,
            auth_time,
        };
        let bytes = serde_json::to_vec(&g).map_err(|e| e.to_string())?;
        self.store
            .put(
                &format!("op-code:{}", digest(&code)),
                &bytes,
                self.settings.code_lifetime,
            )
            .await
            .map_err(|e| e.to_string())?;
        let mut q: Vec<(&str, &str)> = vec![("code", &code)];
        if let Some(s) = &authz.state {
            q.push(("state", s));
        }
        q.push(("iss", &self.settings.issuer));
        Ok(with_query(&authz.redirect_uri, &q))
    }

    /// The token endpoint.
    pub async fn token(
        &self,
        authorization: Option<&str>,
        form: &HashMap<String, String>,
    ) -> Result<Value, OAuthError> {
        let c = self.authenticate(authorization, form).await?;
        if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return Err(OAuthError::bad(
                "unsupported_grant_type",
                "authorization_code only",
            ));
        }
        let code = form.get("code").cloned().unwrap_or_default();
        let grant_err = || {
            OAuthError::bad(
                "invalid_grant",
                "the code is unknown, used, expired or not yours",
            )
        };
        let unavailable = || OAuthError {
            status: 503,
            error: "temporarily_unavailable",
            description: "try again".into(),
        };
        let key = format!("op-code:{}", digest(&code));
        // Looked at first: another client presenting a code it saw cannot spend it.
        let stored = self
            .store
            .get(&key)
            .await
            .map_err(|_| unavailable())?
            .ok_or_else(grant_err)?;
        let g: Grant = serde_json::from_slice(&stored).map_err(|_| grant_err())?;
        if g.authz.client_id != c.client_id {
            return Err(grant_err());
        }
        // The client's own exchange spends it, whatever comes next (one attempt per code).
        self.store
            .take(&key)
            .await
            .map_err(|_| unavailable())?
            .ok_or_else(grant_err)?;
        if form.get("redirect_uri") != Some(&g.authz.redirect_uri) {
            return Err(grant_err());
        }
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        if verifier.len() < 43
            || verifier.len() > 128
            || !crate::oidc::client::constant_time_eq(
                crate::oidc::Pkce::from_verifier(verifier)
                    .challenge
                    .as_bytes(),
                g.authz.code_challenge.as_bytes(),
            )
        {
            return Err(OAuthError::bad("invalid_grant", "PKCE verification failed"));
        }
        let now = self.now();
        let life = self.settings.token_lifetime.as_secs() as i64;
        let mut id = g.claims.clone();
        id.insert("iss".into(), json!(self.settings.issuer));
        id.insert("aud".into(), json!(c.client_id));
        id.insert("azp".into(), json!(c.client_id));
        id.insert("iat".into(), json!(now));
        id.insert("exp".into(), json!(now + life));
        id.insert("auth_time".into(), json!(g.auth_time));
        id.insert("jti".into(), json!(one_time_value()));
        if let Some(n) = &g.authz.nonce {
            id.insert("nonce".into(), json!(n));
        }
        let mut h = Header::new(self.alg);
        h.kid = Some(self.kid.clone());
        let id_token = jsonwebtoken::encode(&h, &Value::Object(id), &self.key)
            .map_err(|e| OAuthError::bad("server_error", e.to_string()))?;
        let access_token = one_time_value() + &one_time_value();
        let userinfo = json!({"client_id": c.client_id, "claims": g.claims});
        self.store
            .put(
                &format!("op-at:{}", digest(&access_token)),
                &serde_json::to_vec(&userinfo).unwrap_or_default(),
                self.settings.token_lifetime,
            )
            .await
            .map_err(|_| OAuthError {
                status: 503,
                error: "temporarily_unavailable",
                description: "try again".into(),
            })?;
        Ok(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": life,
            "id_token": id_token,
            "scope": g.authz.scope,
        }))
    }

    /// The userinfo endpoint: the same claims as the ID token's, for a valid access token.
    pub async fn userinfo(&self, authorization: Option<&str>) -> Result<Value, OAuthError> {
        let invalid = || OAuthError {
            status: 401,
            error: "invalid_token",
            description: "the access token is unknown or expired".into(),
        };
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(invalid)?;
        let stored = self
            .store
            .get(&format!("op-at:{}", digest(token)))
            .await
            .map_err(|_| invalid())?
            .ok_or_else(invalid)?;
        let v: Value = serde_json::from_slice(&stored).map_err(|_| invalid())?;
        Ok(v["claims"].clone())
    }

    /// The `token_endpoint_auth_method` a client is registered with.
    pub fn auth_method(&self, client_id: &str) -> Option<&'static str> {
        self.client(client_id).map(RegisteredClient::method)
    }
}

/// Codes and tokens are stored under their SHA-256, never as themselves.
fn digest(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        s.as_bytes(),
    ))
}

fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let q = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{q}")
}

/// The JWK of a public key and its `kid` (a thumbprint-like hash of the key).
fn jwk_of(public: &PublicKey) -> Result<(String, Value), String> {
    let (kid_src, jwk) = match public {
        PublicKey::Ec { point, curve, spki } => {
            let (crv, n) = match curve {
                crate::crypto::Curve::P256 => ("P-256", 32),
                crate::crypto::Curve::P384 => ("P-384", 48),
                c => return Err(format!("no JWK for {}", c.name())),
            };
            (
                spki,
                json!({"kty": "EC", "crv": crv, "use": "sig",
                    "x": URL_SAFE_NO_PAD.encode(&point[1..1 + n]),
                    "y": URL_SAFE_NO_PAD.encode(&point[1 + n..1 + 2 * n])}),
            )
        }
        PublicKey::Rsa { spki, .. } => {
            use x509_parser::prelude::FromDer;
            let (_, info) = x509_parser::x509::SubjectPublicKeyInfo::from_der(spki)
                .map_err(|e| e.to_string())?;
            let Ok(x509_parser::public_key::PublicKey::RSA(rsa)) = info.parsed() else {
                return Err("RSA key".into());
            };
            let strip = |b: &[u8]| -> Vec<u8> {
                let i = b.iter().position(|x| *x != 0).unwrap_or(b.len());
                b[i..].to_vec()
            };
            (
                spki,
                json!({"kty": "RSA", "use": "sig",
                    "n": URL_SAFE_NO_PAD.encode(strip(rsa.modulus)),
                    "e": URL_SAFE_NO_PAD.encode(strip(rsa.exponent))}),
            )
        }
    };
    let kid = URL_SAFE_NO_PAD
        .encode(&aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, kid_src).as_ref()[..12]);
    let mut jwk = jwk;
    jwk["kid"] = json!(kid);
    Ok((kid, jwk))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::crypto::generate::{KeyKind, generate};

    const ISSUER: &str = "https://eidas.example.no";
    const CB: &str = "https://rp.example/cb";
    const SECRET: &str = "a-client-secret-of-at-least-32-characters";

    struct T {
        p: Provider,
        clock: Arc<ManualClock>,
        rp_key: EncodingKey,
        other_key: EncodingKey,
    }

    fn setup() -> T {
        let clock = Arc::new(ManualClock::new(
            time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        ));
        let op = generate(KeyKind::EcP256, "op", "NO", 1_700_000_000, 3650).unwrap();
        let rp = generate(KeyKind::EcP256, "rp", "NO", 1_700_000_000, 3650).unwrap();
        let other = generate(KeyKind::EcP256, "other", "NO", 1_700_000_000, 3650).unwrap();
        let (dk, algs) = RegisteredClient::key_from_pem(rp.cert.to_pem().as_bytes()).unwrap();
        let clients = vec![
            RegisteredClient {
                client_id: "jwt".into(),
                redirect_uris: vec![CB.into()],
                credential: ClientCredential::PrivateKeyJwt(dk, algs),
                attributes: vec![],
            },
            RegisteredClient {
                client_id: "post".into(),
                redirect_uris: vec![CB.into()],
                credential: ClientCredential::ClientSecretPost(SECRET.into()),
                attributes: vec![],
            },
        ];
        let store: Arc<dyn Store> = Arc::new(crate::store::MemoryStore::new(clock.clone()));
        let settings = ProviderSettings {
            issuer: ISSUER.into(),
            require_par: true,
            par_lifetime: Duration::from_secs(60),
            code_lifetime: Duration::from_secs(60),
            token_lifetime: Duration::from_secs(120),
            default_level: Level::Substantial,
        };
        let p = Provider::new(settings, clients, &op.key, "ES256", store, clock.clone()).unwrap();
        let enc = |k: &PrivateKey| EncodingKey::from_ec_pem(k.pkcs8_pem().as_bytes()).unwrap();
        T {
            p,
            clock,
            rp_key: enc(&rp.key),
            other_key: enc(&other.key),
        }
    }

    fn block<F: std::future::Future>(f: F) -> F::Output {
        crate::store::block_on(f)
    }

    impl T {
        fn now(&self) -> i64 {
            self.clock.now().unix_timestamp()
        }

        fn assertion(&self, key: &EncodingKey, alg: Algorithm, claims: Value) -> String {
            jsonwebtoken::encode(&Header::new(alg), &claims, key).unwrap()
        }

        fn claims(&self, jti: &str) -> Value {
            json!({"iss": "jwt", "sub": "jwt", "aud": ISSUER, "iat": self.now(),
                "exp": self.now() + 60, "jti": jti})
        }

        fn form(&self, assertion: &str) -> HashMap<String, String> {
            HashMap::from([
                (
                    "client_assertion_type".to_string(),
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_string(),
                ),
                ("client_assertion".to_string(), assertion.to_string()),
            ])
        }

        fn auth(
            &self,
            form: &HashMap<String, String>,
            basic: Option<&str>,
        ) -> Result<String, OAuthError> {
            block(self.p.authenticate(basic, form)).map(|c| c.client_id.clone())
        }

        fn grant(&self, pkce: &crate::oidc::Pkce) -> String {
            let a = AuthzRequest {
                client_id: "jwt".into(),
                redirect_uri: CB.into(),
                state: Some("s".into()),
                nonce: Some("n".into()),
                code_challenge: pkce.challenge.clone(),
                scope: "openid".into(),
                level: Level::High,
                ui_locales: None,
                country: None,
            };
            let mut claims = serde_json::Map::new();
            claims.insert("sub".into(), json!("XE/NO/1"));
            let url = block(self.p.issue_code(&a, claims, self.now())).unwrap();
            let q: HashMap<String, String> =
                serde_urlencoded::from_str(url.split_once('?').unwrap().1).unwrap();
            assert_eq!(q["iss"], ISSUER);
            assert_eq!(q["state"], "s");
            q["code"].clone()
        }

        fn token_form(&self, code: &str, verifier: &str, jti: &str) -> HashMap<String, String> {
            let mut f =
                self.form(&self.assertion(&self.rp_key, Algorithm::ES256, self.claims(jti)));
            f.insert("grant_type".into(), "authorization_code".into());
            f.insert("code".into(), code.into());
            f.insert("redirect_uri".into(), CB.into());
            f.insert("code_verifier".into(), verifier.into());
            f
        }
    }

    #[test]
    fn a_client_assertion_is_checked_and_used_once() {
        let t = setup();
        let good = t.assertion(&t.rp_key, Algorithm::ES256, t.claims("j1"));
        assert_eq!(t.auth(&t.form(&good), None).unwrap(), "jwt");
        assert_eq!(
            t.auth(&t.form(&good), None).unwrap_err().error,
            "invalid_client",
            "replayed jti"
        );
        let mut wrong_aud = t.claims("j2");
        wrong_aud["aud"] = json!("https://other.example");
        let mut expired = t.claims("j3");
        expired["exp"] = json!(t.now() - 120);
        let mut too_long = t.claims("j4");
        too_long["exp"] = json!(t.now() + 3600);
        let mut no_jti = t.claims("x");
        no_jti.as_object_mut().unwrap().remove("jti");
        let mut other_client = t.claims("j5");
        other_client["iss"] = json!("post");
        other_client["sub"] = json!("post");
        for (what, a) in [
            (
                "audience",
                t.assertion(&t.rp_key, Algorithm::ES256, wrong_aud),
            ),
            ("expired", t.assertion(&t.rp_key, Algorithm::ES256, expired)),
            (
                "lives too long",
                t.assertion(&t.rp_key, Algorithm::ES256, too_long),
            ),
            ("no jti", t.assertion(&t.rp_key, Algorithm::ES256, no_jti)),
            (
                "another key",
                t.assertion(&t.other_key, Algorithm::ES256, t.claims("j6")),
            ),
            (
                "a secret client",
                t.assertion(&t.rp_key, Algorithm::ES256, other_client),
            ),
            (
                "HS256",
                t.assertion(
                    &EncodingKey::from_secret(b"k").unwrap(),
                    Algorithm::HS256,
                    t.claims("j7"),
                ),
            ),
        ] {
            assert_eq!(t.auth(&t.form(&a), None).unwrap_err().status, 401, "{what}");
        }
        // Only our issuer, as one string: not an endpoint URL, not a list naming us among others.
        let mut to_endpoint = t.claims("j8");
        to_endpoint["aud"] = json!(format!("{ISSUER}/oidc/token"));
        let mut list = t.claims("j9");
        list["aud"] = json!([ISSUER, "https://other.example"]);
        for claims in [to_endpoint, list] {
            let a = t.assertion(&t.rp_key, Algorithm::ES256, claims);
            assert_eq!(t.auth(&t.form(&a), None).unwrap_err().status, 401);
        }
        // Hostile numbers in a validly signed assertion do not overflow.
        let mut huge = t.claims("j10");
        huge["exp"] = json!(i64::MAX);
        huge["nbf"] = json!(i64::MIN);
        let a = t.assertion(&t.rp_key, Algorithm::ES256, huge);
        assert_eq!(t.auth(&t.form(&a), None).unwrap_err().status, 401);
    }

    #[test]
    fn a_secret_counts_only_by_the_registered_method() {
        let t = setup();
        let post = HashMap::from([
            ("client_id".to_string(), "post".to_string()),
            ("client_secret".to_string(), SECRET.to_string()),
        ]);
        assert_eq!(t.auth(&post, None).unwrap(), "post");
        let mut wrong = post.clone();
        wrong.insert("client_secret".into(), format!("{SECRET}x"));
        assert!(t.auth(&wrong, None).is_err());
        // The right secret by Basic, for a client registered for client_secret_post.
        let basic = format!("Basic {}", STANDARD.encode(format!("post:{SECRET}")));
        assert!(t.auth(&HashMap::new(), Some(&basic)).is_err());
        // No credentials at all.
        assert!(
            t.auth(&HashMap::from([("client_id".into(), "jwt".into())]), None)
                .is_err()
        );
    }

    #[test]
    fn a_code_is_exchanged_once_with_its_verifier_redirect_uri_and_client_before_it_expires() {
        let t = setup();
        let pkce = crate::oidc::Pkce::new();
        let code = t.grant(&pkce);
        // The wrong verifier spends the code (one attempt), as does any exchange.
        let r = block(t.p.token(
            None,
            &t.token_form(&code, &crate::oidc::Pkce::new().verifier, "t1"),
        ));
        assert_eq!(r.unwrap_err().error, "invalid_grant");
        let r = block(t.p.token(None, &t.token_form(&code, &pkce.verifier, "t2")));
        assert_eq!(r.unwrap_err().error, "invalid_grant", "spent");

        // Another client presenting the code does not spend it.
        let code = t.grant(&pkce);
        let mut other = HashMap::from([
            ("client_id".to_string(), "post".to_string()),
            ("client_secret".to_string(), SECRET.to_string()),
        ]);
        for k in ["grant_type", "code", "redirect_uri", "code_verifier"] {
            other.insert(
                k.into(),
                t.token_form(&code, &pkce.verifier, "x")[k].clone(),
            );
        }
        assert_eq!(
            block(t.p.token(None, &other)).unwrap_err().error,
            "invalid_grant"
        );
        assert!(block(t.p.token(None, &t.token_form(&code, &pkce.verifier, "t2b"))).is_ok());

        let code = t.grant(&pkce);
        let mut f = t.token_form(&code, &pkce.verifier, "t3");
        f.insert("redirect_uri".into(), "https://rp.example/other".into());
        assert_eq!(
            block(t.p.token(None, &f)).unwrap_err().error,
            "invalid_grant"
        );

        let code = t.grant(&pkce);
        t.clock.advance(time::Duration::seconds(61));
        let r = block(t.p.token(None, &t.token_form(&code, &pkce.verifier, "t4")));
        assert_eq!(r.unwrap_err().error, "invalid_grant", "expired");

        let code = t.grant(&pkce);
        let mut f = t.token_form(&code, &pkce.verifier, "t5");
        f.insert("grant_type".into(), "refresh_token".into());
        assert_eq!(
            block(t.p.token(None, &f)).unwrap_err().error,
            "unsupported_grant_type"
        );

        let code = t.grant(&pkce);
        let ok = block(t.p.token(None, &t.token_form(&code, &pkce.verifier, "t6"))).unwrap();
        let id = ok["id_token"].as_str().unwrap();
        let h = jsonwebtoken::decode_header(id).unwrap();
        assert_eq!(h.alg, Algorithm::ES256);
        assert!(h.kid.is_some());
        let at = ok["access_token"].as_str().unwrap();
        let ui = block(t.p.userinfo(Some(&format!("Bearer {at}")))).unwrap();
        assert_eq!(ui["sub"], "XE/NO/1");
        t.clock.advance(time::Duration::seconds(121));
        assert_eq!(
            block(t.p.userinfo(Some(&format!("Bearer {at}"))))
                .unwrap_err()
                .status,
            401
        );
    }

    #[test]
    fn a_pushed_request_is_used_once_by_its_own_client_before_it_expires() {
        let t = setup();
        let pkce = crate::oidc::Pkce::new();
        let mut f = HashMap::from([
            ("client_id".to_string(), "post".to_string()),
            ("client_secret".to_string(), SECRET.to_string()),
            ("response_type".to_string(), "code".to_string()),
            ("redirect_uri".to_string(), CB.to_string()),
            ("scope".to_string(), "openid".to_string()),
            ("code_challenge".to_string(), pkce.challenge.clone()),
            ("code_challenge_method".to_string(), "S256".to_string()),
            (
                "acr_values".to_string(),
                "eidas-loa-high eidas-loa-substantial".to_string(),
            ),
        ]);
        let (uri, life) = block(t.p.par(None, &f)).unwrap();
        assert_eq!(life, 60);
        let q = |client: &str| {
            HashMap::from([
                ("client_id".to_string(), client.to_string()),
                ("request_uri".to_string(), uri.clone()),
            ])
        };
        assert!(
            matches!(block(t.p.authorize(&q("jwt"))), Err(AuthzError::Page(_))),
            "another client"
        );
        let a = block(t.p.authorize(&q("post"))).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(a.level, Level::High, "the first acr value of ours");
        assert!(
            matches!(block(t.p.authorize(&q("post"))), Err(AuthzError::Page(_))),
            "used"
        );
        let (uri2, _) = block(t.p.par(None, &f)).unwrap();
        t.clock.advance(time::Duration::seconds(61));
        let late = HashMap::from([
            ("client_id".to_string(), "post".to_string()),
            ("request_uri".to_string(), uri2),
        ]);
        assert!(
            matches!(block(t.p.authorize(&late)), Err(AuthzError::Page(_))),
            "expired"
        );
        // A request_uri inside a pushed request, and an oversized state, are refused.
        f.insert("request_uri".into(), "urn:x".into());
        assert_eq!(
            block(t.p.par(None, &f)).unwrap_err().error,
            "invalid_request"
        );
        f.remove("request_uri");
        f.insert("state".into(), "s".repeat(MAX_PARAM + 1));
        assert_eq!(
            block(t.p.par(None, &f)).unwrap_err().error,
            "invalid_request"
        );
    }

    #[test]
    fn the_jwks_carries_our_public_key_and_discovery_our_endpoints() {
        let t = setup();
        let k = &t.p.jwks()["keys"][0];
        assert_eq!(k["kty"], "EC");
        assert_eq!(k["crv"], "P-256");
        assert_eq!(k["alg"], "ES256");
        let d = t.p.discovery();
        assert_eq!(d["issuer"], ISSUER);
        assert_eq!(d["token_endpoint"], format!("{ISSUER}/oidc/token"));
        assert_eq!(
            d["pushed_authorization_request_endpoint"],
            format!("{ISSUER}/oidc/par")
        );
    }

    #[test]
    fn rsa_keys_sign_ps256_or_rs256_and_publish_n_and_e() {
        let clock = Arc::new(ManualClock::new(time::OffsetDateTime::UNIX_EPOCH));
        let store: Arc<dyn Store> = Arc::new(crate::store::MemoryStore::new(clock.clone()));
        let rsa = generate(KeyKind::Rsa3072, "op", "NO", 0, 3650).unwrap();
        let settings = ProviderSettings {
            issuer: ISSUER.into(),
            require_par: true,
            par_lifetime: Duration::from_secs(60),
            code_lifetime: Duration::from_secs(60),
            token_lifetime: Duration::from_secs(120),
            default_level: Level::Substantial,
        };
        for alg in ["PS256", "RS256"] {
            let p = Provider::new(
                settings.clone(),
                vec![],
                &rsa.key,
                alg,
                store.clone(),
                clock.clone(),
            )
            .unwrap();
            let k = &p.jwks()["keys"][0];
            assert_eq!(k["kty"], "RSA");
            assert_eq!(k["alg"], alg);
            assert_eq!(k["e"], "AQAB");
            assert_eq!(
                URL_SAFE_NO_PAD
                    .decode(k["n"].as_str().unwrap())
                    .unwrap()
                    .len(),
                384
            );
        }
        assert!(Provider::new(settings, vec![], &rsa.key, "ES256", store, clock).is_err());
    }
}

//! The OpenID Connect client towards ID-porten (norway.md §1): discovery, pushed authorization
//! requests (RFC 9126), PKCE S256, `state` and `nonce`, the RFC 9207 `iss` check on the
//! redirect back, client authentication by `private_key_jwt` (RFC 7523) or a client secret, and
//! ID-token validation (signature against the provider's JWKS, re-fetched once on an unknown
//! `kid`; iss, aud, exp/iat with skew, nonce, acr through [`LoaMapping`]).
//!
//! Every network step has a timeout; a provider that is down, slow or answers nonsense becomes
//! an [`OidcError`] that says which step failed, and never a partial login.

use super::{LoaMapping, Pkce, one_time_value};
use crate::clock::Clock;
use crate::crypto::{Certificate, Curve, PrivateKey};
use crate::eidas::loa::{LevelOfAssurance, RequestedAuthnContext};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Why a login at ID-porten did not give us a person.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached, timed out or answered with a server error.
    #[error("ID-porten is unavailable ({step}): {message}")]
    Unavailable { step: &'static str, message: String },
    /// The provider answered, but not as the protocol requires.
    #[error("ID-porten protocol error ({step}): {message}")]
    Protocol { step: &'static str, message: String },
    /// The person cancelled (`error=access_denied`).
    #[error("the person cancelled the login at ID-porten")]
    Cancelled,
    /// ID-porten reported an error on the redirect back.
    #[error("ID-porten returned error {error}: {description}")]
    Provider { error: String, description: String },
    /// The redirect back does not belong to the pending login.
    #[error("the login response does not match the pending login: {0}")]
    Mismatch(&'static str),
    /// The ID token failed validation.
    #[error("ID token refused: {0}")]
    IdToken(String),
    /// The level reached does not meet the request.
    #[error(transparent)]
    Acr(#[from] super::AcrError),
    #[error("OIDC client configuration: {0}")]
    Config(String),
}

/// How we authenticate at the token (and PAR) endpoint.
pub enum ClientAuth {
    /// RFC 7523 client assertion signed with our key; ID-porten's recommended method.
    PrivateKeyJwt {
        key: EncodingKey,
        alg: Algorithm,
        kid: Option<String>,
    },
    ClientSecretBasic(String),
    ClientSecretPost(String),
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientAuth::PrivateKeyJwt { alg, kid, .. } => {
                write!(f, "private_key_jwt({alg:?}, kid {kid:?})")
            }
            ClientAuth::ClientSecretBasic(_) => f.write_str("client_secret_basic"),
            ClientAuth::ClientSecretPost(_) => f.write_str("client_secret_post"),
        }
    }
}

impl ClientAuth {
    /// `private_key_jwt` with a key in any form [`PrivateKey::load`] reads: RSA signs RS256,
    /// P-256 ES256, P-384 ES384.
    pub fn private_key_jwt(key_bytes: &[u8], kid: Option<String>) -> Result<Self, OidcError> {
        let key = PrivateKey::load(key_bytes).map_err(|e| OidcError::Config(e.to_string()))?;
        let pem = key.pkcs8_pem();
        let (key, alg) = match &key {
            PrivateKey::Rsa { .. } => (EncodingKey::from_rsa_pem(pem.as_bytes()), Algorithm::RS256),
            PrivateKey::Ec {
                curve: Curve::P256, ..
            } => (EncodingKey::from_ec_pem(pem.as_bytes()), Algorithm::ES256),
            PrivateKey::Ec {
                curve: Curve::P384, ..
            } => (EncodingKey::from_ec_pem(pem.as_bytes()), Algorithm::ES384),
            PrivateKey::Ec { curve, .. } => {
                return Err(OidcError::Config(format!(
                    "a {} key cannot sign a client assertion (JOSE has no algorithm for it here)",
                    curve.name()
                )));
            }
        };
        let key = key.map_err(|e| OidcError::Config(format!("client assertion key: {e}")))?;
        Ok(ClientAuth::PrivateKeyJwt { key, alg, kid })
    }
}

/// What the client needs to know.
#[derive(Debug)]
pub struct ClientSettings {
    /// The issuer; discovery is read from `<issuer>/.well-known/openid-configuration` and its
    /// `issuer` must equal this exactly.
    pub issuer: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub auth: ClientAuth,
    /// Send the authorization request by PAR (on by default; ID-porten supports it).
    pub par: bool,
    pub scope: String,
    pub loa: LoaMapping,
    /// Per HTTP request.
    pub timeout: Duration,
    /// Allowed clock difference for exp/iat.
    pub clock_skew: time::Duration,
    /// Plain http only to a loopback provider (the demo's test ID-porten).
    pub allow_loopback_http: bool,
}

/// The parts of the provider's discovery document we use.
#[derive(Clone, Debug, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub pushed_authorization_request_endpoint: Option<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
}

/// What must be kept between sending the person to ID-porten and their return. Serialisable so
/// the pending flow can live in the shared store.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub code_verifier: String,
}

/// The start of a login: where to send the browser, and what to keep.
#[derive(Debug)]
pub struct Started {
    pub redirect: String,
    pub pending: PendingLogin,
}

/// The query of the redirect back to us.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// A person authenticated by ID-porten.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// `pid`: the fødselsnummer or D-number.
    pub pid: Option<String>,
    pub sub: String,
    pub level: LevelOfAssurance,
    pub acr: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub birthdate: Option<String>,
    pub claims: serde_json::Map<String, serde_json::Value>,
}

const MIN_JWKS_REFETCH: Duration = Duration::from_secs(10);

struct Cached {
    discovery: Option<(Discovery, Instant)>,
    jwks: Option<(JwkSet, Instant)>,
}

/// The client; cheap to share (`Arc`).
pub struct IdPortenClient {
    settings: ClientSettings,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    cache: Mutex<Cached>,
}

const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
const JWKS_TTL: Duration = Duration::from_secs(3600);
/// An ID token or error body larger than this is refused.
const MAX_BODY: usize = 64 * 1024;

impl IdPortenClient {
    pub fn new(
        settings: ClientSettings,
        clock: Arc<dyn Clock>,
        roots: &[Certificate],
    ) -> Result<Self, OidcError> {
        let http = crate::outbound::client(settings.timeout, settings.allow_loopback_http, roots)
            .map_err(OidcError::Config)?;
        if settings.allow_loopback_http && settings.issuer.starts_with("http:") {
            let ok = url_host(&settings.issuer)
                .map(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]")
                .unwrap_or(false);
            if !ok {
                return Err(OidcError::Config(format!(
                    "issuer {} uses plain http on a host that is not loopback",
                    settings.issuer
                )));
            }
        }
        Ok(IdPortenClient {
            settings,
            http,
            clock,
            cache: Mutex::new(Cached {
                discovery: None,
                jwks: None,
            }),
        })
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// The provider's discovery document (cached for an hour).
    pub async fn discovery(&self) -> Result<Discovery, OidcError> {
        if let Some((d, at)) = &self.cache.lock().unwrap().discovery
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(d.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let d: Discovery = self.get_json("discovery", &url).await?;
        if d.issuer != self.settings.issuer {
            return Err(OidcError::Protocol {
                step: "discovery",
                message: format!(
                    "the document names issuer {:?}, configured {:?}",
                    d.issuer, self.settings.issuer
                ),
            });
        }
        if self.settings.par && d.pushed_authorization_request_endpoint.is_none() {
            return Err(OidcError::Protocol {
                step: "discovery",
                message: "PAR is configured but the provider announces no \
                          pushed_authorization_request_endpoint"
                    .into(),
            });
        }
        self.cache.lock().unwrap().discovery = Some((d.clone(), Instant::now()));
        Ok(d)
    }

    /// Begin a login for an eIDAS request: the acr_values for its LoA, PKCE, state, nonce and
    /// `ui_locales`; with PAR the parameters go to the provider first and the browser only
    /// carries `client_id` and `request_uri`.
    pub async fn start(
        &self,
        requested: &RequestedAuthnContext,
        ui_locales: Option<&str>,
    ) -> Result<Started, OidcError> {
        let acr_values = self.settings.loa.acr_values(requested)?;
        let d = self.discovery().await?;
        let pkce = Pkce::new();
        let pending = PendingLogin {
            state: one_time_value(),
            nonce: one_time_value(),
            code_verifier: pkce.verifier.clone(),
        };
        let mut params: Vec<(&str, String)> = vec![
            ("response_type", "code".into()),
            ("client_id", self.settings.client_id.clone()),
            ("redirect_uri", self.settings.redirect_uri.clone()),
            ("scope", self.settings.scope.clone()),
            ("state", pending.state.clone()),
            ("nonce", pending.nonce.clone()),
            ("acr_values", acr_values),
            ("code_challenge", pkce.challenge.clone()),
            ("code_challenge_method", "S256".into()),
            ("response_mode", "query".into()),
            // eIDAS requests carry ForceAuthn="true" (a mandatory rule): the person
            // authenticates afresh, never from an existing ID-porten session.
            ("prompt", "login".into()),
        ];
        if let Some(l) = ui_locales {
            params.push(("ui_locales", l.to_string()));
        }
        let redirect = if self.settings.par {
            let par = d
                .pushed_authorization_request_endpoint
                .as_deref()
                .unwrap_or_default();
            #[derive(Deserialize)]
            struct ParResponse {
                request_uri: String,
            }
            let r: ParResponse = self.post_form("PAR", par, params, &d).await?;
            with_query(
                &d.authorization_endpoint,
                &[
                    ("client_id", self.settings.client_id.as_str()),
                    ("request_uri", r.request_uri.as_str()),
                ],
            )
        } else {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            with_query(&d.authorization_endpoint, &p)
        };
        Ok(Started { redirect, pending })
    }

    /// Finish a login: check the redirect belongs to `pending` and comes from our issuer,
    /// exchange the code, validate the ID token and the level reached against `requested`.
    pub async fn finish(
        &self,
        pending: &PendingLogin,
        cb: &Callback,
        requested: &RequestedAuthnContext,
    ) -> Result<Authenticated, OidcError> {
        let state = cb.state.as_deref().ok_or(OidcError::Mismatch("no state"))?;
        if !constant_time_eq(state.as_bytes(), pending.state.as_bytes()) {
            return Err(OidcError::Mismatch("state differs"));
        }
        let d = self.discovery().await?;
        // RFC 9207: when present it must be our issuer; when the provider announces it, it
        // must be present. This stops mix-up with another provider.
        match &cb.iss {
            Some(iss) if *iss != d.issuer => return Err(OidcError::Mismatch("iss differs")),
            None if d.authorization_response_iss_parameter_supported => {
                return Err(OidcError::Mismatch("iss missing"));
            }
            _ => {}
        }
        if let Some(e) = &cb.error {
            if e == "access_denied" {
                return Err(OidcError::Cancelled);
            }
            return Err(OidcError::Provider {
                error: e.chars().take(100).collect(),
                description: cb
                    .error_description
                    .as_deref()
                    .unwrap_or("")
                    .chars()
                    .take(300)
                    .collect(),
            });
        }
        let code = cb.code.as_deref().ok_or(OidcError::Protocol {
            step: "callback",
            message: "neither code nor error".into(),
        })?;
        #[derive(Deserialize)]
        struct TokenResponse {
            id_token: String,
            #[serde(default)]
            token_type: Option<String>,
        }
        let t: TokenResponse = self
            .post_form(
                "token",
                &d.token_endpoint,
                vec![
                    ("grant_type", "authorization_code".into()),
                    ("code", code.to_string()),
                    ("redirect_uri", self.settings.redirect_uri.clone()),
                    ("code_verifier", pending.code_verifier.clone()),
                ],
                &d,
            )
            .await?;
        if let Some(tt) = &t.token_type
            && !tt.eq_ignore_ascii_case("bearer")
            && !tt.eq_ignore_ascii_case("dpop")
        {
            return Err(OidcError::Protocol {
                step: "token",
                message: format!("token_type {tt:?}"),
            });
        }
        let claims = self
            .validate_id_token(&t.id_token, &pending.nonce, &d)
            .await?;
        let acr = claims
            .get("acr")
            .and_then(|v| v.as_str())
            .ok_or_else(|| OidcError::IdToken("no acr claim".into()))?
            .to_string();
        let level = self.settings.loa.achieved(&acr, requested)?;
        let s = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::to_string);
        Ok(Authenticated {
            pid: s("pid"),
            sub: s("sub").unwrap_or_default(),
            level,
            acr,
            given_name: s("given_name"),
            family_name: s("family_name"),
            birthdate: s("birthdate"),
            claims,
        })
    }

    /// Validate an ID token; returns its claims.
    pub async fn validate_id_token(
        &self,
        token: &str,
        nonce: &str,
        d: &Discovery,
    ) -> Result<serde_json::Map<String, serde_json::Value>, OidcError> {
        let bad = |m: String| OidcError::IdToken(m);
        let header = jsonwebtoken::decode_header(token).map_err(|e| bad(format!("header: {e}")))?;
        let alg = header.alg;
        if !matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
                | Algorithm::ES256
                | Algorithm::ES384
        ) {
            return Err(bad(format!("algorithm {alg:?} is not accepted")));
        }
        let key = self.key_for(header.kid.as_deref(), alg, d).await?;
        let mut v = Validation::new(alg);
        v.set_issuer(&[&d.issuer]);
        v.set_audience(&[&self.settings.client_id]);
        // Time is checked below against our clock, with our skew.
        v.validate_exp = false;
        v.validate_nbf = false;
        v.required_spec_claims = ["iss", "aud", "sub"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let data =
            jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, &key, &v)
                .map_err(|e| bad(e.to_string()))?;
        let c = data.claims;
        let now = self.clock.now().unix_timestamp();
        let skew = self.settings.clock_skew.whole_seconds();
        let num = |k: &str| c.get(k).and_then(|v| v.as_i64());
        let exp = num("exp").ok_or_else(|| bad("no exp".into()))?;
        let iat = num("iat").ok_or_else(|| bad("no iat".into()))?;
        if exp + skew < now {
            return Err(bad(format!("expired {}s ago", now - exp)));
        }
        if iat - skew > now {
            return Err(bad(format!("issued {}s in the future", iat - now)));
        }
        // More than one audience needs azp naming us (OIDC Core 3.1.3.7).
        if let Some(serde_json::Value::Array(a)) = c.get("aud")
            && a.len() > 1
            && c.get("azp").and_then(|v| v.as_str()) != Some(&self.settings.client_id)
        {
            return Err(bad("several audiences and azp is not us".into()));
        }
        match c.get("nonce").and_then(|v| v.as_str()) {
            Some(n) if constant_time_eq(n.as_bytes(), nonce.as_bytes()) => {}
            Some(_) => return Err(bad("nonce differs".into())),
            None => return Err(bad("no nonce".into())),
        }
        Ok(c)
    }

    async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        d: &Discovery,
    ) -> Result<DecodingKey, OidcError> {
        let cached = self.cache.lock().unwrap().jwks.clone();
        let (set, fetched_at) = match cached {
            Some((s, at)) if at.elapsed() < JWKS_TTL => (s, Some(at)),
            _ => (self.fetch_jwks(d).await?, None),
        };
        if let Some(k) = pick(&set, kid, alg)? {
            return Ok(k);
        }
        // Unknown kid: the provider may have rotated. Re-fetch once, not more often than every
        // few seconds, so a stream of forged kids cannot make us hammer the provider.
        if let Some(at) = fetched_at
            && at.elapsed() >= MIN_JWKS_REFETCH
        {
            let set = self.fetch_jwks(d).await?;
            if let Some(k) = pick(&set, kid, alg)? {
                return Ok(k);
            }
        }
        Err(OidcError::IdToken(format!(
            "no key {kid:?} for {alg:?} in the provider's JWKS"
        )))
    }

    async fn fetch_jwks(&self, d: &Discovery) -> Result<JwkSet, OidcError> {
        let set: JwkSet = self.get_json("JWKS", &d.jwks_uri).await?;
        self.cache.lock().unwrap().jwks = Some((set.clone(), Instant::now()));
        Ok(set)
    }

    fn client_assertion(&self, audience: &str) -> Result<String, OidcError> {
        let ClientAuth::PrivateKeyJwt { key, alg, kid } = &self.settings.auth else {
            return Err(OidcError::Config("not private_key_jwt".into()));
        };
        let now = self.clock.now().unix_timestamp();
        let mut h = Header::new(*alg);
        h.kid = kid.clone();
        let claims = serde_json::json!({
            "iss": self.settings.client_id,
            "sub": self.settings.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 120,
            "jti": one_time_value(),
        });
        jsonwebtoken::encode(&h, &claims, key)
            .map_err(|e| OidcError::Config(format!("client assertion: {e}")))
    }

    async fn post_form<T: for<'de> Deserialize<'de>>(
        &self,
        step: &'static str,
        url: &str,
        mut params: Vec<(&str, String)>,
        d: &Discovery,
    ) -> Result<T, OidcError> {
        let mut req = self.http.post(url);
        let has_client_id = params.iter().any(|(k, _)| *k == "client_id");
        let client_id = (!has_client_id).then(|| ("client_id", self.settings.client_id.clone()));
        match &self.settings.auth {
            ClientAuth::PrivateKeyJwt { .. } => {
                params.extend(client_id);
                params.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                // The issuer identifier is the audience ID-porten asks for.
                params.push(("client_assertion", self.client_assertion(&d.issuer)?));
            }
            ClientAuth::ClientSecretBasic(secret) => {
                req = req.basic_auth(
                    form_encode(&self.settings.client_id),
                    Some(form_encode(secret)),
                );
            }
            ClientAuth::ClientSecretPost(secret) => {
                params.extend(client_id);
                params.push(("client_secret", secret.clone()));
            }
        }
        let resp = req
            .form(&params)
            .send()
            .await
            .map_err(|e| transport(step, e))?;
        read_json(step, resp).await
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(
        &self,
        step: &'static str,
        url: &str,
    ) -> Result<T, OidcError> {
        let resp = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| transport(step, e))?;
        read_json(step, resp).await
    }
}

fn pick(set: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Result<Option<DecodingKey>, OidcError> {
    let candidates: Vec<_> = set
        .keys
        .iter()
        .filter(|k| match kid {
            Some(kid) => k.common.key_id.as_deref() == Some(kid),
            None => true,
        })
        .filter(|k| {
            !matches!(
                k.common.public_key_use,
                Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
            )
        })
        .collect();
    if kid.is_none() && candidates.len() > 1 {
        return Err(OidcError::IdToken(
            "the ID token names no kid and the JWKS holds several signing keys".into(),
        ));
    }
    for k in candidates {
        if let Ok(dk) = DecodingKey::from_jwk(k)
            && jsonwebtoken::jwk::Jwk::is_supported(k)
            && key_fits(k, alg)
        {
            return Ok(Some(dk));
        }
    }
    Ok(None)
}

fn key_fits(k: &jsonwebtoken::jwk::Jwk, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    matches!(
        (&k.algorithm, alg),
        (
            P::RSA(_),
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ) | (P::EllipticCurve(_), Algorithm::ES256 | Algorithm::ES384)
    )
}

fn transport(step: &'static str, e: reqwest::Error) -> OidcError {
    let message = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        e.to_string()
    };
    OidcError::Unavailable { step, message }
}

async fn read_json<T: for<'de> Deserialize<'de>>(
    step: &'static str,
    resp: reqwest::Response,
) -> Result<T, OidcError> {
    let status = resp.status();
    let body = crate::outbound::read_limited(resp, MAX_BODY)
        .await
        .map_err(|e| match e {
            crate::outbound::ReadError::Transport(e) => transport(step, e),
            crate::outbound::ReadError::TooLarge { limit } => OidcError::Protocol {
                step,
                message: format!("answer larger than {limit} bytes"),
            },
        })?;
    if status.is_server_error() {
        return Err(OidcError::Unavailable {
            step,
            message: format!("HTTP {status}"),
        });
    }
    if !status.is_success() {
        #[derive(Deserialize)]
        struct ErrorBody {
            error: String,
            #[serde(default)]
            error_description: Option<String>,
        }
        let detail = serde_json::from_slice::<ErrorBody>(&body)
            .map(|e| format!("{} {}", e.error, e.error_description.unwrap_or_default()))
            .unwrap_or_default();
        return Err(OidcError::Protocol {
            step,
            message: format!("HTTP {status} {}", detail.trim()),
        });
    }
    serde_json::from_slice(&body).map_err(|e| OidcError::Protocol {
        step,
        message: format!("unreadable JSON: {e}"),
    })
}

fn form_encode(s: &str) -> String {
    // RFC 6749 §2.3.1: client id and secret are form-encoded before Basic.
    serde_urlencoded::to_string([("", s)])
        .map(|x| x[1..].to_string())
        .unwrap_or_default()
}

fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let q = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{q}")
}

fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next();
    }
    authority.split(':').next()
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_queries() {
        assert_eq!(url_host("http://127.0.0.1:8080/x"), Some("127.0.0.1"));
        assert_eq!(url_host("http://[::1]:8080/x"), Some("[::1]"));
        assert_eq!(url_host("https://idporten.no"), Some("idporten.no"));
        assert_eq!(
            with_query("https://a/b?x=1", &[("y", "a b&c")]),
            "https://a/b?x=1&y=a+b%26c"
        );
        assert_eq!(form_encode("a b:c"), "a+b%3Ac");
    }

    #[test]
    fn plain_http_issuer_only_on_loopback() {
        let s = |issuer: &str| ClientSettings {
            issuer: issuer.into(),
            client_id: "c".into(),
            redirect_uri: "http://127.0.0.1/cb".into(),
            auth: ClientAuth::ClientSecretBasic("s".into()),
            par: true,
            scope: "openid".into(),
            loa: LoaMapping::default(),
            timeout: Duration::from_secs(1),
            clock_skew: time::Duration::seconds(30),
            allow_loopback_http: true,
        };
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        assert!(IdPortenClient::new(s("http://127.0.0.1:9/"), clock.clone(), &[]).is_ok());
        let e = IdPortenClient::new(s("http://idporten.example/"), clock, &[])
            .err()
            .unwrap();
        assert!(e.to_string().contains("not loopback"), "{e}");
    }
}

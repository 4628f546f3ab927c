//! Folkeregisteret (norway.md §3 Option B): a person looked up by fødselsnummer or D-nummer,
//! only the `navn` and `foedsel` parts, with a Maskinporten access token obtained by the
//! JWT-bearer grant (RFC 7523) and cached until shortly before it expires.
//!
//! Mapping: CurrentGivenName = `fornavn`; CurrentFamilyName = `mellomnavn` + `etternavn`
//! (a Norwegian mellomnavn is legally a surname-like name, norway.md §3, so it travels with the
//! family name); DateOfBirth = `foedselsdato`, which may be absent (then `birth_date` is `None`
//! and the caller refuses, never derives it from the number). Of each part the entry with
//! `erGjeldende = true` is used.
//!
//! Errors carry no personal data: the identity number never appears in a message or URL logged.

use super::{IdentityNumber, Person, Register, RegisterError, RegisterFuture};
use crate::clock::Clock;
use crate::crypto::Certificate;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to reach Maskinporten and Folkeregisteret.
pub struct FolkeregisteretSettings {
    /// Folkeregisteret's base URL, e.g. `https://folkeregisteret.api.skatteetaten.no`.
    pub base_url: String,
    /// The package path, e.g. `folkeregisteret/offentlig-med-hjemmel`.
    pub package: String,
    /// Maskinporten's issuer (the grant's `aud`), e.g. `https://maskinporten.no/`, and its token
    /// endpoint.
    pub maskinporten_issuer: String,
    pub maskinporten_token_url: String,
    pub client_id: String,
    pub scope: String,
    /// The key the grant is signed with, its algorithm and registered `kid`.
    pub key: EncodingKey,
    pub alg: Algorithm,
    pub kid: Option<String>,
    pub timeout: Duration,
    pub allow_loopback_http: bool,
}

pub struct Folkeregisteret {
    s: FolkeregisteretSettings,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    token: Mutex<Option<(String, Instant)>>,
}

/// A token is renewed this long before Maskinporten says it expires.
const RENEW_MARGIN: Duration = Duration::from_secs(30);
const MAX_BODY: usize = 256 * 1024;

impl Folkeregisteret {
    pub fn new(
        s: FolkeregisteretSettings,
        clock: Arc<dyn Clock>,
        roots: &[Certificate],
    ) -> Result<Self, String> {
        Ok(Folkeregisteret {
            http: crate::outbound::client(s.timeout, s.allow_loopback_http, roots)?,
            s,
            clock,
            token: Mutex::new(None),
        })
    }

    fn fail(&self, what: &str, e: reqwest::Error) -> RegisterError {
        if e.is_timeout() {
            RegisterError::Timeout {
                after: self.s.timeout,
            }
        } else {
            RegisterError::Unavailable {
                reason: format!(
                    "{what}: {}",
                    if e.is_connect() {
                        "connection failed".to_string()
                    } else {
                        e.without_url().to_string()
                    }
                ),
            }
        }
    }

    async fn read(&self, r: reqwest::Response, what: &str) -> Result<Vec<u8>, RegisterError> {
        crate::outbound::read_limited(r, MAX_BODY)
            .await
            .map_err(|e| match e {
                crate::outbound::ReadError::Transport(e) => self.fail(what, e),
                crate::outbound::ReadError::TooLarge { limit } => RegisterError::InvalidResponse {
                    reason: format!("{what} answered more than {limit} bytes"),
                },
            })
    }

    async fn access_token(&self, renew: bool) -> Result<String, RegisterError> {
        if !renew
            && let Some((t, until)) = self.token.lock().unwrap().as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let now = self.clock.now().unix_timestamp();
        let mut h = Header::new(self.s.alg);
        h.kid = self.s.kid.clone();
        let claims = serde_json::json!({
            "aud": self.s.maskinporten_issuer,
            "iss": self.s.client_id,
            "scope": self.s.scope,
            "iat": now,
            "exp": now + 100,
            "jti": crate::oidc::one_time_value(),
        });
        let grant = jsonwebtoken::encode(&h, &claims, &self.s.key).map_err(|e| {
            RegisterError::Unavailable {
                reason: format!("Maskinporten grant: {e}"),
            }
        })?;
        let r = self
            .http
            .post(&self.s.maskinporten_token_url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", grant.as_str()),
            ])
            .send()
            .await
            .map_err(|e| self.fail("Maskinporten", e))?;
        let status = r.status();
        let body = self.read(r, "Maskinporten").await?;
        if !status.is_success() {
            return Err(RegisterError::Unavailable {
                reason: format!("Maskinporten refused the grant: HTTP {status}"),
            });
        }
        #[derive(Deserialize)]
        struct Token {
            access_token: String,
            #[serde(default)]
            expires_in: Option<u64>,
        }
        let t: Token = serde_json::from_slice(&body).map_err(|e| RegisterError::Unavailable {
            reason: format!("Maskinporten answer: {e}"),
        })?;
        let life = Duration::from_secs(t.expires_in.unwrap_or(120));
        let until = Instant::now() + life.saturating_sub(RENEW_MARGIN);
        *self.token.lock().unwrap() = Some((t.access_token.clone(), until));
        Ok(t.access_token)
    }

    async fn fetch(&self, number: &IdentityNumber) -> Result<Option<Person>, RegisterError> {
        let url = format!(
            "{}/{}/api/v1/personer/{}?part=navn&part=foedsel",
            self.s.base_url.trim_end_matches('/'),
            self.s.package.trim_matches('/'),
            number.as_str()
        );
        let mut renewed = false;
        loop {
            let token = self.access_token(renewed).await?;
            let r = self
                .http
                .get(&url)
                .bearer_auth(&token)
                .header("accept", "application/json")
                .send()
                .await
                .map_err(|e| self.fail("Folkeregisteret", e))?;
            let status = r.status();
            // An expired or revoked token: one fresh token, then give up.
            if status == reqwest::StatusCode::UNAUTHORIZED && !renewed {
                renewed = true;
                continue;
            }
            if status == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(RegisterError::Unavailable {
                    reason: format!("Folkeregisteret answered HTTP {status}"),
                });
            }
            let body = self.read(r, "Folkeregisteret").await?;
            return parse_person(&body).map(Some);
        }
    }
}

impl Register for Folkeregisteret {
    fn lookup<'a>(&'a self, number: &'a IdentityNumber) -> RegisterFuture<'a, Option<Person>> {
        Box::pin(self.fetch(number))
    }
}

#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    navn: Vec<Navn>,
    #[serde(default)]
    foedsel: Vec<Foedsel>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Navn {
    #[serde(default)]
    er_gjeldende: Option<bool>,
    fornavn: Option<String>,
    mellomnavn: Option<String>,
    etternavn: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Foedsel {
    #[serde(default)]
    er_gjeldende: Option<bool>,
    foedselsdato: Option<String>,
}

/// The current entry: `erGjeldende = true`, or the only one.
fn current<T>(v: &[T], is_current: impl Fn(&T) -> Option<bool>) -> Option<&T> {
    v.iter()
        .find(|x| is_current(x) == Some(true))
        .or(if v.len() == 1 { v.first() } else { None })
}

/// A person document (JSON) → the name and birth parts.
pub fn parse_person(body: &[u8]) -> Result<Person, RegisterError> {
    let invalid = |reason: &str| RegisterError::InvalidResponse {
        reason: reason.to_string(),
    };
    let d: Document = serde_json::from_slice(body).map_err(|_| invalid("not a person document"))?;
    let n = current(&d.navn, |n| n.er_gjeldende).ok_or_else(|| invalid("no current name"))?;
    let given = n.fornavn.clone().unwrap_or_default();
    let family = match (&n.mellomnavn, &n.etternavn) {
        (Some(m), Some(e)) if !m.trim().is_empty() => format!("{} {}", m.trim(), e.trim()),
        (_, Some(e)) => e.trim().to_string(),
        _ => String::new(),
    };
    if given.trim().is_empty() || family.is_empty() {
        return Err(invalid("the current name lacks fornavn or etternavn"));
    }
    let birth_date =
        match current(&d.foedsel, |f| f.er_gjeldende).and_then(|f| f.foedselsdato.as_deref()) {
            None => None,
            Some(s) => Some(
                time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                    .map_err(|_| invalid("foedselsdato is not a date"))?,
            ),
        };
    Ok(Person {
        given_names: given.trim().to_string(),
        family_name: family,
        birth_date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_current_name_and_birth_date_and_puts_mellomnavn_with_the_family_name() {
        let doc = r#"{"navn":[
            {"erGjeldende":false,"fornavn":"Gammel","etternavn":"Navn"},
            {"erGjeldende":true,"fornavn":"Kari Ågot","mellomnavn":"Hansen","etternavn":"Nordmann"}],
          "foedsel":[{"erGjeldende":true,"foedselsdato":"1989-06-05","foedselsaar":"1989"}]}"#;
        let p = parse_person(doc.as_bytes()).unwrap();
        assert_eq!(p.given_names, "Kari Ågot");
        assert_eq!(p.family_name, "Hansen Nordmann");
        assert_eq!(p.birth_date.unwrap().to_string(), "1989-06-05");
    }

    #[test]
    fn a_missing_birth_date_is_reported_as_missing_not_invented() {
        let doc = br#"{"navn":[{"erGjeldende":true,"fornavn":"Stille","etternavn":"Elv"}],
          "foedsel":[{"erGjeldende":true,"foedselsaar":"1961"}]}"#;
        assert_eq!(parse_person(doc).unwrap().birth_date, None);
    }

    #[test]
    fn malformed_documents_are_invalid_responses_without_personal_data() {
        for doc in [
            &b"not json"[..],
            br#"{"navn":[]}"#,
            br#"{"navn":[{"erGjeldende":true,"fornavn":"A"}]}"#,
            br#"{"navn":[{"erGjeldende":true,"fornavn":"A","etternavn":"B"}],"foedsel":[{"erGjeldende":true,"foedselsdato":"05.06.1989"}]}"#,
            br#"{"navn":[{"fornavn":"A","etternavn":"B"},{"fornavn":"C","etternavn":"D"}]}"#,
        ] {
            let e = parse_person(doc).unwrap_err();
            assert!(matches!(e, RegisterError::InvalidResponse { .. }), "{e}");
            assert!(!e.to_string().contains("05.06.1989"));
        }
    }
}

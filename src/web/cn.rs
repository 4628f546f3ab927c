//! The Connector's HTTP edge: our OpenID provider's endpoints (`/.well-known/openid-
//! configuration`, `/oidc/*`), the country selection page and `/connector/acs`. Handlers
//! extract, call `oidc::provider` or `connector`, and answer.
//!
//! Where an answer goes follows RFC 6749 §4.1.2.1: until the client and its redirect URI are
//! known to be good, a local page; after that, always back to the relying party — with a code,
//! or with an error it can act on (`access_denied` when the person cancelled, here or abroad).

use super::i18n::{self, Lang};
use super::ps::{auto_post, correlation_id, html_response, page};
use super::{AppState, CnRuntime, Shared};
use crate::connector::{self, Outcome, Outgoing, Receiver, Refused};
use crate::oidc::provider::{AuthzError, AuthzRequest, OAuthError};
use axum::Json;
use axum::extract::{Form, Query, RawForm, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::HashMap;

/// How long a person may take on the selection page.
const SESSION_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The cookie that remembers the last country chosen.
const LAST_COUNTRY: &str = "eidas_last_country";

fn runtime(state: &AppState) -> Option<&CnRuntime> {
    state.cn_runtime.as_ref()
}

fn not_configured() -> Response {
    (StatusCode::NOT_FOUND, "the Connector is not configured\n").into_response()
}

/// An RFC 6749 §5.2 error. A 401 names the scheme the client should use: `Bearer` at
/// userinfo (RFC 6750), `Basic` where the client tried Basic authentication.
fn oauth_error(e: OAuthError, challenge: Option<&'static str>) -> Response {
    let mut r = (
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        Json(e.body()),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let (401, Some(c)) = (e.status, challenge) {
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
    }
    r
}

/// The challenge for a 401 at PAR or token: Basic when the client used it.
fn basic_challenge(headers: &HeaderMap) -> Option<&'static str> {
    authorization(headers)
        .is_some_and(|a| a.starts_with("Basic "))
        .then_some("Basic realm=\"eidas-node\"")
}

/// A form with each parameter at most once (RFC 6749 §3.1); a repeated one is refused.
fn single_valued(body: &[u8]) -> Result<HashMap<String, String>, OAuthError> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| OAuthError {
            status: 400,
            error: "invalid_request",
            description: "the body is not a form".into(),
        })?;
    let mut out = HashMap::new();
    for (k, v) in pairs {
        if out.insert(k.clone(), v).is_some() {
            return Err(OAuthError {
                status: 400,
                error: "invalid_request",
                description: format!("{k} is given more than once"),
            });
        }
    }
    Ok(out)
}

fn see_other(url: &str) -> Response {
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, url.to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response()
}

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
}

pub(super) async fn discovery(State(state): State<Shared>) -> Response {
    match runtime(&state) {
        Some(rt) => Json(rt.provider.discovery()).into_response(),
        None => not_configured(),
    }
}

pub(super) async fn jwks(State(state): State<Shared>) -> Response {
    match runtime(&state) {
        Some(rt) => Json(rt.provider.jwks()).into_response(),
        None => not_configured(),
    }
}

pub(super) async fn par(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let Some(rt) = runtime(&state) else {
        return not_configured();
    };
    let form = match single_valued(&body) {
        Ok(f) => f,
        Err(e) => return oauth_error(e, None),
    };
    match rt.provider.par(authorization(&headers), &form).await {
        Ok((uri, expires_in)) => (
            StatusCode::CREATED,
            [(header::CACHE_CONTROL, "no-store")],
            Json(serde_json::json!({"request_uri": uri, "expires_in": expires_in})),
        )
            .into_response(),
        Err(e) => {
            tracing::info!(error = e.error, detail = %e.description, "PAR refused");
            oauth_error(e, basic_challenge(&headers))
        }
    }
}

pub(super) async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    let Some(rt) = runtime(&state) else {
        return not_configured();
    };
    let form = match single_valued(&body) {
        Ok(f) => f,
        Err(e) => return oauth_error(e, None),
    };
    match rt.provider.token(authorization(&headers), &form).await {
        Ok(v) => (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(v),
        )
            .into_response(),
        Err(e) => {
            tracing::info!(error = e.error, detail = %e.description, "token request refused");
            oauth_error(e, basic_challenge(&headers))
        }
    }
}

pub(super) async fn userinfo(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let Some(rt) = runtime(&state) else {
        return not_configured();
    };
    match rt.provider.userinfo(authorization(&headers)).await {
        Ok(v) => ([(header::CACHE_CONTROL, "no-store")], Json(v)).into_response(),
        Err(e) => oauth_error(e, Some("Bearer error=\"invalid_token\"")),
    }
}

pub(super) async fn authorize_get(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    authorize(state, headers, q.unwrap_or_default().as_bytes()).await
}

pub(super) async fn authorize_post(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawForm(body): RawForm,
) -> Response {
    authorize(state, headers, &body).await
}

async fn authorize(state: Shared, headers: HeaderMap, raw: &[u8]) -> Response {
    let correlation = correlation_id();
    let Some(rt) = runtime(&state) else {
        return not_configured();
    };
    // A repeated parameter: refused before anything is trusted, on a page.
    let Ok(q) = single_valued(raw) else {
        return page(
            StatusCode::BAD_REQUEST,
            Lang::for_visitor(None, &headers),
            "cn-request-title",
            "cn-request-body",
            &correlation,
        );
    };
    let lang = Lang::for_visitor(q.get("ui_locales").map(String::as_str), &headers);
    let authz = match rt.provider.authorize(&q).await {
        Ok(a) => a,
        Err(AuthzError::Page(why)) => {
            tracing::info!(
                correlation,
                why,
                "authorization request refused (no redirect)"
            );
            return page(
                StatusCode::BAD_REQUEST,
                lang,
                "cn-request-title",
                "cn-request-body",
                &correlation,
            );
        }
        Err(AuthzError::Redirect {
            redirect_uri,
            state: st,
            error,
            description,
        }) => {
            tracing::info!(
                correlation,
                error,
                description,
                "authorization request refused"
            );
            return see_other(&rt.provider.error_redirect(
                &redirect_uri,
                st.as_deref(),
                error,
                &description,
            ));
        }
    };
    let lang = Lang::for_visitor(authz.ui_locales.as_deref(), &headers);
    tracing::info!(correlation, client = %authz.client_id, level = ?authz.level, "authorization request accepted");
    // A country named by the relying party: straight there.
    if let Some(code) = authz.country.clone() {
        return go_to_country(&state, rt, authz, &code, lang, &correlation, None).await;
    }
    let session = crate::oidc::one_time_value();
    let bytes = serde_json::to_vec(&authz).unwrap_or_default();
    if let Err(e) = rt
        .store
        .put(&format!("cn-session:{session}"), &bytes, SESSION_TTL)
        .await
    {
        tracing::error!(correlation, error = %e, "store unavailable");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            lang,
            "error-title",
            "error-body",
            &correlation,
        );
    }
    see_other(&format!("/connector/countries?session={session}"))
}

/// Start the SAML side towards `code`'s Proxy-Service, or tell the relying party why not.
async fn go_to_country(
    state: &AppState,
    rt: &CnRuntime,
    authz: AuthzRequest,
    code: &str,
    lang: Lang,
    correlation: &str,
    remember: Option<bool>,
) -> Response {
    let back_with = |error: &str, description: &str| {
        see_other(&rt.provider.error_redirect(
            &authz.redirect_uri,
            authz.state.as_deref(),
            error,
            description,
        ))
    };
    let Some(entry) = rt.countries.iter().find(|c| c.code == code) else {
        tracing::info!(correlation, country = code, "country not offered");
        return back_with("invalid_request", "the country is not offered");
    };
    let md =
        match connector::availability(&rt.peers, entry, authz.level, &rt.settings, &state.signer)
            .await
        {
            Ok(md) => md,
            Err(why) => {
                tracing::warn!(correlation, country = code, reason = %why, "country unavailable");
                // The relying party gets the reason in general words; details stay in the log.
                return back_with(
                    "temporarily_unavailable",
                    &format!(
                        "The country cannot be used now: {}.",
                        i18n::t(Lang::En, why.message_id(), &[])
                    ),
                );
            }
        };
    let optional = rt
        .provider
        .client(&authz.client_id)
        .map(|c| c.attributes.clone())
        .unwrap_or_default();
    let front = serde_json::to_value(&authz).unwrap_or_default();
    let out = match connector::start(
        &rt.settings,
        entry,
        &md,
        authz.level,
        &optional,
        front,
        &state.signer,
        rt.store.as_ref(),
        state.clock.now(),
    )
    .await
    {
        Ok(o) => o,
        Err(e) => {
            tracing::error!(correlation, country = code, error = %e, "cannot send the AuthnRequest");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                lang,
                "error-title",
                "error-body",
                correlation,
            );
        }
    };
    tracing::info!(correlation, country = code, "AuthnRequest sent");
    let mut r = match out {
        Outgoing::Post { url, xml } => auto_post(&url, "SAMLRequest", &xml, None),
        Outgoing::Redirect { url } => see_other(&url),
    };
    if remember == Some(true) {
        let secure = if state.config.node.public_url.starts_with("https://") {
            "; Secure"
        } else {
            ""
        };
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{LAST_COUNTRY}={code}; Path=/connector; Max-Age=31536000; HttpOnly; SameSite=Lax{secure}"
        )) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

fn last_country(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(&format!("{LAST_COUNTRY}=")))
        .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
        .map(str::to_string)
}

struct CountryRow {
    code: String,
    name: String,
    usable: bool,
    last: bool,
    reason: String,
}

#[derive(askama::Template)]
#[template(path = "countries.html")]
struct CountriesPage<'a> {
    lang: &'static str,
    title: String,
    intro: String,
    search_label: String,
    search_button: String,
    query: &'a str,
    none: String,
    last_label: String,
    cancel: String,
    session: &'a str,
    countries: Vec<CountryRow>,
}

#[derive(Deserialize)]
pub(super) struct CountriesQuery {
    session: String,
    #[serde(default)]
    q: String,
}

pub(super) async fn countries(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(cq): Query<CountriesQuery>,
) -> Response {
    let correlation = correlation_id();
    let Some(rt) = runtime(&state) else {
        return not_configured();
    };
    let authz = match load_session(rt, &cq.session, false).await {
        Some(a) => a,
        None => return session_gone(&headers, &correlation),
    };
    let lang = Lang::for_visitor(authz.ui_locales.as_deref(), &headers);
    country_page(&state, rt, &authz, &cq.session, &cq.q, lang, &headers).await
}

/// The selection page: every configured country, usable ones as buttons, the others shown
/// disabled with the reason; the last choice first; filtered by the search text.
async fn country_page(
    state: &AppState,
    rt: &CnRuntime,
    authz: &AuthzRequest,
    session: &str,
    query: &str,
    lang: Lang,
    headers: &HeaderMap,
) -> Response {
    use askama::Template;
    let last = last_country(headers);
    let needle = query.trim().to_lowercase();
    let mut rows = Vec::new();
    for entry in &rt.countries {
        let id = format!("country-{}", entry.code);
        let name = if i18n::has(lang, &id) {
            i18n::t(lang, &id, &[])
        } else {
            entry.code.clone()
        };
        if !needle.is_empty()
            && !name.to_lowercase().contains(&needle)
            && !entry.code.to_lowercase().contains(&needle)
        {
            continue;
        }
        let avail =
            connector::availability(&rt.peers, entry, authz.level, &rt.settings, &state.signer)
                .await;
        let (usable, reason) = match &avail {
            Ok(_) => (true, String::new()),
            Err(why) => {
                tracing::debug!(country = %entry.code, reason = %why, "country shown as unavailable");
                (
                    false,
                    i18n::t(
                        lang,
                        "select-unavailable",
                        &[("reason", &i18n::t(lang, why.message_id(), &[]))],
                    ),
                )
            }
        };
        rows.push(CountryRow {
            last: usable && last.as_deref() == Some(entry.code.as_str()),
            code: entry.code.clone(),
            name,
            usable,
            reason,
        });
    }
    // The remembered country first; the rest keep the configured order.
    rows.sort_by_key(|r| !r.last);
    let p = CountriesPage {
        lang: lang.code(),
        title: i18n::t(lang, "select-title", &[]),
        intro: i18n::t(lang, "select-intro", &[]),
        search_label: i18n::t(lang, "select-search", &[]),
        search_button: i18n::t(lang, "select-search-button", &[]),
        query,
        none: i18n::t(lang, "select-none", &[]),
        last_label: i18n::t(lang, "select-last", &[]),
        cancel: i18n::t(lang, "select-cancel", &[]),
        session,
        countries: rows,
    };
    html_response(StatusCode::OK, p.render())
}

async fn load_session(rt: &CnRuntime, session: &str, take: bool) -> Option<AuthzRequest> {
    if session.len() > 64 {
        return None;
    }
    let key = format!("cn-session:{session}");
    let got = if take {
        rt.store.take(&key).await
    } else {
        rt.store.get(&key).await
    };
    got.ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
}

fn session_gone(headers: &HeaderMap, correlation: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        Lang::for_visitor(None, headers),
        "expired-title",
        "expired-body",
        correlation,
    )
}

#[derive(Deserialize)]
pub(super) struct SelectForm {
    session: String,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    cancel: Option<String>,
}

pub(super) async fn select(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<SelectForm>,
) -> Response {
    let correlation = correlation_id();
    let Some(rt) = runtime(&state) else {
        return not_configured();
    };
    // Taken: a session leads to one AuthnRequest only.
    let Some(authz) = load_session(rt, &f.session, true).await else {
        return session_gone(&headers, &correlation);
    };
    let lang = Lang::for_visitor(authz.ui_locales.as_deref(), &headers);
    if f.cancel.is_some() {
        tracing::info!(correlation, "the person cancelled on the selection page");
        return see_other(&rt.provider.error_redirect(
            &authz.redirect_uri,
            authz.state.as_deref(),
            "access_denied",
            "The person cancelled the login.",
        ));
    }
    let code = f.country.unwrap_or_default();
    go_to_country(&state, rt, authz, &code, lang, &correlation, Some(true)).await
}

#[derive(Deserialize)]
pub(super) struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
}

/// `/connector/acs`: the foreign Proxy-Service's Response.
pub(super) async fn acs(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<AcsForm>,
) -> Response {
    let correlation = correlation_id();
    let Some(rt) = runtime(&state) else {
        return not_configured();
    };
    let lang_default = Lang::for_visitor(None, &headers);
    let Some(value) = f.saml_response else {
        return page(
            StatusCode::BAD_REQUEST,
            lang_default,
            "cn-refused-title",
            "cn-refused-body",
            &correlation,
        );
    };
    let receiver = Receiver {
        settings: &rt.settings,
        peers: &rt.peers,
        store: rt.store.as_ref(),
        decryption_keys: &rt.decryption_keys,
        now: state.clock.now(),
    };
    let (pending, outcome) = match receiver.receive(&value).await {
        Ok(x) => x,
        Err(Refused::NoFlow { rule, detail }) => {
            tracing::warn!(
                correlation,
                rule,
                detail,
                "Response refused; no flow to answer"
            );
            return page(
                StatusCode::BAD_REQUEST,
                lang_default,
                "cn-refused-title",
                "cn-refused-body",
                &correlation,
            );
        }
        Err(Refused::Broken {
            pending,
            rule,
            detail,
        }) => {
            tracing::warn!(correlation, rule, detail, country = %pending.country, "Response refused");
            return match serde_json::from_value::<AuthzRequest>(pending.front.clone()) {
                Ok(authz) => see_other(&rt.provider.error_redirect(
                    &authz.redirect_uri,
                    authz.state.as_deref(),
                    "server_error",
                    &format!(
                        "The answer from the foreign eIDAS node was refused ({rule}); reference {correlation}."
                    ),
                )),
                Err(_) => page(
                    StatusCode::BAD_REQUEST,
                    lang_default,
                    "cn-refused-title",
                    "cn-refused-body",
                    &correlation,
                ),
            };
        }
    };
    let Ok(authz) = serde_json::from_value::<AuthzRequest>(pending.front.clone()) else {
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            lang_default,
            "error-title",
            "error-body",
            &correlation,
        );
    };
    let who = match outcome {
        Outcome::Failed(f) => {
            let (error, description) = f.oidc_error();
            tracing::info!(correlation, country = %pending.country, status = %f.status,
                sub_status = ?f.sub_status, "the foreign node answered with an error");
            return see_other(&rt.provider.error_redirect(
                &authz.redirect_uri,
                authz.state.as_deref(),
                error,
                description,
            ));
        }
        Outcome::Authenticated(who) => who,
    };
    let pid = match &rt.matcher {
        Some(m) => connector::matching::pid_for(m.as_ref(), &who, &correlation).await,
        None => None,
    };
    let optional = rt
        .provider
        .client(&authz.client_id)
        .map(|c| c.attributes.clone())
        .unwrap_or_default();
    let claims = connector::claims(&who, pid.as_ref(), &optional);
    match rt
        .provider
        .issue_code(&authz, claims, who.authn_instant.unix_timestamp())
        .await
    {
        Ok(url) => {
            tracing::info!(correlation, country = %pending.country, loa = ?who.loa,
                matched = pid.is_some(), "authenticated; code issued");
            see_other(&url)
        }
        Err(e) => {
            tracing::error!(correlation, error = %e, "cannot issue the code");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                lang_default,
                "error-title",
                "error-body",
                &correlation,
            )
        }
    }
}

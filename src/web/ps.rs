//! `/ps/sso`: an AuthnRequest from a foreign Connector, by HTTP-POST or HTTP-Redirect. The
//! handlers extract, call `proxy_service::receive`, and answer one of three ways: a local error
//! page with a correlation id (requester not authenticated: nothing is sent anywhere), a signed
//! SAML error Response posted to the Connector's ACS from its metadata, or — for an accepted
//! request — the next step of the flow.

use super::i18n::{self, Lang};
use super::{AppState, Shared};
use crate::light::Failure;
use crate::oidc::client::{Callback, OidcError};
use crate::proxy_service::flow::{FLOW_TTL, PendingFlow, StoredIdentity};
use crate::proxy_service::{Accepted, SamlRefusal};
use crate::proxy_service::{Incoming, Refusal, receive, response};
use axum::extract::{Form, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A short random id that ties what a person sees to our log lines.
fn correlation_id() -> String {
    let mut b = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The person-facing pages: askama templates in `templates/` (escaping is automatic), texts
/// from [`i18n`], one small inline stylesheet in `base.html` (the CSP allows inline styles and
/// nothing else).
#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    lang: &'static str,
    title: String,
    body: String,
    reference_label: String,
    reference: &'a str,
}

#[derive(askama::Template)]
#[template(path = "consent.html")]
struct ConsentPage<'a> {
    lang: &'static str,
    title: String,
    intro: String,
    rows: Vec<(String, String)>,
    loa: String,
    send: String,
    cancel: String,
    flow: &'a str,
}

fn html_response(status: StatusCode, html: Result<String, askama::Error>) -> Response {
    match html {
        Ok(h) => (
            status,
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            h,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "page template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// An error page in the person's language: a title, what happened, and the reference that ties
/// it to our log line.
fn page(status: StatusCode, lang: Lang, title: &str, body: &str, correlation: &str) -> Response {
    use askama::Template;
    let p = ErrorPage {
        lang: lang.code(),
        title: i18n::t(lang, title, &[]),
        body: i18n::t(lang, body, &[]),
        reference_label: i18n::t(lang, "reference", &[]),
        reference: correlation,
    };
    html_response(status, p.render())
}

/// The signed SAML error Response, posted by the browser to the ACS from metadata.
fn post_error(
    state: &AppState,
    s: &crate::proxy_service::SamlRefusal,
    lang: Lang,
    correlation: &str,
) -> Response {
    post_error_with(
        state,
        s,
        "The request was refused by the Norwegian eIDAS Proxy-Service.",
        lang,
        correlation,
    )
}

fn post_error_with(
    state: &AppState,
    s: &crate::proxy_service::SamlRefusal,
    message: &str,
    lang: Lang,
    correlation: &str,
) -> Response {
    let now = state.clock.now();
    let our_id = state.config.url("/ps/metadata");
    let xml = match response::error_to(
        &our_id,
        s.in_response_to.as_deref(),
        &s.acs_url,
        s.status,
        s.sub_status,
        message,
        state.signer.as_ref(),
        now,
    ) {
        Ok(x) => x,
        Err(e) => {
            tracing::error!(correlation, error = %e, "cannot sign the SAML error Response");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                lang,
                "error-title",
                "error-body",
                correlation,
            );
        }
    };
    post_to_acs(&s.acs_url, &xml, s.relay_state.as_deref())
}

/// The auto-submitting form that carries a SAML Response to the Connector's ACS.
fn post_to_acs(acs_url: &str, xml: &str, relay_state: Option<&str>) -> Response {
    let nonce = correlation_id();
    let html = crate::saml::binding::post_form(acs_url, "SAMLResponse", xml, relay_state, &nonce);
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; form-action {acs_url}; frame-ancestors 'none'"
    );
    let mut r = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    r
}

async fn handle(state: Shared, incoming: Incoming, lang: Lang) -> Response {
    let correlation = correlation_id();
    let Some(rt) = &state.ps_runtime else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            lang,
            "not-available-title",
            "not-available-body",
            &correlation,
        );
    };
    let outcome = receive(
        incoming,
        &rt.peers,
        &rt.connector_urls,
        rt.store.as_ref(),
        state.clock.now(),
        &rt.settings,
    )
    .await;
    match outcome {
        Ok(accepted) => {
            tracing::info!(correlation, connector = %accepted.connector.entity.entity_id, binding = accepted.binding, "AuthnRequest accepted");
            to_idporten(&state, rt, &accepted, lang, &correlation).await
        }
        Err(Refusal::Local { rule, detail }) => {
            tracing::warn!(correlation, rule, detail = %detail, "AuthnRequest refused locally");
            page(
                StatusCode::BAD_REQUEST,
                lang,
                "request-refused-title",
                "request-refused-body",
                &correlation,
            )
        }
        Err(Refusal::Saml(s)) => {
            tracing::warn!(correlation, rule = s.rule, detail = %s.detail, acs = %s.acs_url, "AuthnRequest refused with a SAML error");
            post_error(&state, &s, lang, &correlation)
        }
    }
}

#[derive(serde::Deserialize)]
pub(super) struct SsoForm {
    #[serde(rename = "SAMLRequest")]
    saml_request: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// HTTP-POST binding.
pub(super) async fn sso_post(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let form: SsoForm = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => {
            return page(
                StatusCode::BAD_REQUEST,
                lang,
                "request-refused-title",
                "request-not-form",
                &correlation_id(),
            );
        }
    };
    let Some(saml_request) = form.saml_request else {
        return page(
            StatusCode::BAD_REQUEST,
            lang,
            "request-refused-title",
            "request-no-saml",
            &correlation_id(),
        );
    };
    handle(
        state,
        Incoming::Post {
            saml_request,
            relay_state: form.relay_state,
        },
        lang,
    )
    .await
}

/// HTTP-Redirect binding: the raw query (its signature covers the exact octets).
pub(super) async fn sso_redirect(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let lang = Lang::from_headers(&headers);
    match query {
        Some(q) => handle(state, Incoming::Redirect { query: q }, lang).await,
        None => page(
            StatusCode::BAD_REQUEST,
            lang,
            "request-refused-title",
            "request-no-saml",
            &correlation_id(),
        ),
    }
}

const FLOW_PREFIX: &str = "ps-flow:";
const CONSENT_PREFIX: &str = "ps-consent:";

/// A failure after the requester was authenticated: a signed SAML error Response to its ACS.
fn fail_to_connector(
    state: &AppState,
    flow: &PendingFlow,
    failure: Failure,
    reason: &str,
    lang: Lang,
    correlation: &str,
) -> Response {
    let (code, sub, message) = crate::proxy_service::response::failure_status(failure);
    tracing::warn!(correlation, connector = %flow.connector, ?failure, reason, "login failed, answering with a SAML error");
    let refusal = SamlRefusal {
        rule: "PS-FLOW",
        detail: reason.to_string(),
        acs_url: flow.acs_url.clone(),
        in_response_to: flow.request_id.clone(),
        relay_state: flow.relay_state.clone(),
        status: code,
        sub_status: Some(sub),
    };
    post_error_with(state, &refusal, message, lang, correlation)
}

async fn to_idporten(
    state: &AppState,
    rt: &super::PsRuntime,
    accepted: &Accepted,
    lang: Lang,
    correlation: &str,
) -> Response {
    let provisional = PendingFlow::new(
        accepted,
        crate::oidc::client::PendingLogin {
            state: String::new(),
            nonce: String::new(),
            code_verifier: String::new(),
        },
    );
    let Some(client) = &rt.idporten else {
        return fail_to_connector(
            state,
            &provisional,
            Failure::Internal,
            "[idporten] is not configured",
            lang,
            correlation,
        );
    };
    let Some(requested) = provisional.requested_loa() else {
        return fail_to_connector(
            state,
            &provisional,
            Failure::LoaNotMet,
            "no LoA",
            lang,
            correlation,
        );
    };
    let started = match client.start(&requested, Some(lang.code())).await {
        Ok(s) => s,
        Err(e) => {
            let f = match e {
                OidcError::Acr(_) => Failure::LoaNotMet,
                _ => Failure::Internal,
            };
            return fail_to_connector(state, &provisional, f, &e.to_string(), lang, correlation);
        }
    };
    let flow = PendingFlow {
        login: started.pending,
        ..provisional
    };
    let key = format!("{FLOW_PREFIX}{}", flow.login.state);
    if let Err(e) = rt.store.put(&key, &flow.to_bytes(), FLOW_TTL).await {
        return fail_to_connector(
            state,
            &flow,
            Failure::Internal,
            &e.to_string(),
            lang,
            correlation,
        );
    }
    tracing::info!(correlation, "sent to ID-porten");
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, started.redirect)],
    )
        .into_response()
}

fn flow_gone(lang: Lang, correlation: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        lang,
        "expired-title",
        "expired-body",
        correlation,
    )
}

/// `/ps/callback`: the person is back from ID-porten.
pub(super) async fn callback(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(cb): Query<Callback>,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let correlation = correlation_id();
    let Some(rt) = &state.ps_runtime else {
        return flow_gone(lang, &correlation);
    };
    let (Some(client), Some(s)) = (&rt.idporten, cb.state.as_deref()) else {
        return flow_gone(lang, &correlation);
    };
    if s.is_empty()
        || s.len() > 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return flow_gone(lang, &correlation);
    }
    // Taken, not read: a second arrival with the same state finds nothing.
    let flow = match rt.store.take(&format!("{FLOW_PREFIX}{s}")).await {
        Ok(Some(b)) => match PendingFlow::from_bytes(&b) {
            Some(f) => f,
            None => return flow_gone(lang, &correlation),
        },
        Ok(None) => return flow_gone(lang, &correlation),
        Err(e) => {
            tracing::error!(correlation, error = %e, "store unavailable");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                "error-title",
                "error-body",
                &correlation,
            );
        }
    };
    let Some(requested) = flow.requested_loa() else {
        return fail_to_connector(
            &state,
            &flow,
            Failure::Internal,
            "stored LoA",
            lang,
            &correlation,
        );
    };
    let login = match client.finish(&flow.login, &cb, &requested).await {
        Ok(l) => l,
        Err(e) => {
            let f = match &e {
                OidcError::Cancelled => Failure::Cancelled,
                OidcError::Acr(_) => Failure::LoaNotMet,
                OidcError::Unavailable { .. } | OidcError::Config(_) => Failure::Internal,
                _ => Failure::AuthnFailed,
            };
            return fail_to_connector(&state, &flow, f, &e.to_string(), lang, &correlation);
        }
    };
    let Some(register) = &rt.register else {
        return fail_to_connector(
            &state,
            &flow,
            Failure::Internal,
            "no population register configured",
            lang,
            &correlation,
        );
    };
    let who = match crate::proxy_service::identity::identity(
        &login,
        &flow.wanted(),
        &flow.connector_country,
        &rt.identifier_mode,
        register.as_ref(),
        rt.accept_synthetic,
        state.clock.now(),
    )
    .await
    {
        Ok(w) => w,
        Err(e) => {
            return fail_to_connector(&state, &flow, e.failure, &e.reason, lang, &correlation);
        }
    };
    tracing::info!(correlation, loa = %who.loa.as_uri(), "authenticated at ID-porten");
    if !rt.consent {
        return send_success(&state, rt, &flow, &who, lang, &correlation).await;
    }
    let id = crate::oidc::one_time_value();
    let flow = PendingFlow {
        identity: Some(StoredIdentity::from_light(&who)),
        ..flow
    };
    if let Err(e) = rt
        .store
        .put(&format!("{CONSENT_PREFIX}{id}"), &flow.to_bytes(), FLOW_TTL)
        .await
    {
        return fail_to_connector(
            &state,
            &flow,
            Failure::Internal,
            &e.to_string(),
            lang,
            &correlation,
        );
    }
    consent_page(&flow, &who, &id, lang)
}

/// The attribute's label in `lang`: the eIDAS FriendlyName's message, else the FriendlyName.
fn label(lang: Lang, name: &str) -> String {
    let friendly = crate::eidas::attributes::by_name(name)
        .map(|d| d.friendly_name)
        .unwrap_or(name);
    let id = format!("attr-{friendly}");
    if i18n::has(lang, &id) {
        i18n::t(lang, &id, &[])
    } else {
        friendly.to_string()
    }
}

/// A level as a person reads it ("høyt"), the URI for anything else.
fn loa_name(lang: Lang, loa: &crate::eidas::loa::LevelOfAssurance) -> String {
    use crate::eidas::loa::{Level, LevelOfAssurance};
    match loa {
        LevelOfAssurance::Notified(Level::Substantial) => i18n::t(lang, "loa-substantial", &[]),
        LevelOfAssurance::Notified(Level::High) => i18n::t(lang, "loa-high", &[]),
        other => other.as_uri().to_string(),
    }
}

fn consent_page(
    flow: &PendingFlow,
    who: &crate::light::Authenticated,
    id: &str,
    lang: Lang,
) -> Response {
    use askama::Template;
    let country = flow.connector_country.as_str();
    let intro = match flow.service_name.as_deref() {
        Some(service) => i18n::t(
            lang,
            "consent-intro-service",
            &[("country", country), ("service", service)],
        ),
        None => i18n::t(lang, "consent-intro", &[("country", country)]),
    };
    let p = ConsentPage {
        lang: lang.code(),
        title: i18n::t(lang, "consent-title", &[]),
        intro,
        rows: who
            .attributes
            .iter()
            .map(|a| (label(lang, &a.name), a.values.join(", ")))
            .collect(),
        loa: i18n::t(lang, "consent-loa", &[("loa", &loa_name(lang, &who.loa))]),
        send: i18n::t(lang, "consent-send", &[]),
        cancel: i18n::t(lang, "consent-cancel", &[]),
        flow: id,
    };
    html_response(StatusCode::OK, p.render())
}

#[derive(serde::Deserialize)]
pub(super) struct ConsentForm {
    flow: String,
    action: String,
}

/// `/ps/consent`: the person's answer.
pub(super) async fn consent(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<ConsentForm>,
) -> Response {
    let lang = Lang::from_headers(&headers);
    let correlation = correlation_id();
    let Some(rt) = &state.ps_runtime else {
        return flow_gone(lang, &correlation);
    };
    if f.flow.len() > 64 {
        return flow_gone(lang, &correlation);
    }
    let flow = match rt.store.take(&format!("{CONSENT_PREFIX}{}", f.flow)).await {
        Ok(Some(b)) => PendingFlow::from_bytes(&b),
        _ => None,
    };
    let Some(flow) = flow else {
        return flow_gone(lang, &correlation);
    };
    if f.action != "approve" {
        return fail_to_connector(
            &state,
            &flow,
            Failure::Cancelled,
            "the person declined to send the details",
            lang,
            &correlation,
        );
    }
    let Some(who) = flow.identity.as_ref().and_then(StoredIdentity::to_light) else {
        return fail_to_connector(
            &state,
            &flow,
            Failure::Internal,
            "stored identity",
            lang,
            &correlation,
        );
    };
    send_success(&state, rt, &flow, &who, lang, &correlation).await
}

async fn send_success(
    state: &AppState,
    rt: &super::PsRuntime,
    flow: &PendingFlow,
    who: &crate::light::Authenticated,
    lang: Lang,
    correlation: &str,
) -> Response {
    let connector = match rt.peers.get(&flow.connector).await {
        Ok(c) => c,
        Err(e) => {
            return fail_to_connector(
                state,
                flow,
                Failure::Internal,
                &e.to_string(),
                lang,
                correlation,
            );
        }
    };
    let request = flow.request();
    let our_id = state.config.url("/ps/metadata");
    let addressing = crate::proxy_service::response::Addressing {
        our_entity_id: &our_id,
        request: &request,
        connector: &connector,
        acs_url: &flow.acs_url,
    };
    match crate::proxy_service::response::success(
        &addressing,
        who,
        state.signer.as_ref(),
        state.clock.now(),
    ) {
        Ok(xml) => {
            tracing::info!(correlation, connector = %flow.connector, "Response sent");
            post_to_acs(&flow.acs_url, &xml, flow.relay_state.as_deref())
        }
        Err(e) => fail_to_connector(
            state,
            flow,
            Failure::Internal,
            &e.to_string(),
            lang,
            correlation,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use askama::Template;

    #[test]
    fn correlation_ids_are_random_hex() {
        let a = correlation_id();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, correlation_id());
    }

    #[test]
    fn pages_escape_what_comes_from_a_request_or_the_register() {
        let p = ConsentPage {
            lang: "en",
            title: "t".into(),
            intro: i18n::t(
                Lang::En,
                "consent-intro-service",
                &[("country", "SE"), ("service", "<script>alert(1)</script>")],
            ),
            rows: vec![("Family name".into(), "O'Brien & <b>Sons</b>".into())],
            loa: "l".into(),
            send: "s".into(),
            cancel: "c".into(),
            flow: "\"><img src=x>",
        };
        let html = p.render().unwrap();
        assert!(
            !html.contains("<script>alert") && html.contains("&#60;script&#62;"),
            "{html}"
        );
        assert!(
            !html.contains("<b>Sons") && html.contains("&#38;"),
            "{html}"
        );
        assert!(!html.contains("\"><img"), "{html}");
        assert!(html.contains("<html lang=\"en\">") && html.contains("<style>"));
        let e = ErrorPage {
            lang: "nb",
            title: i18n::t(Lang::Nb, "expired-title", &[]),
            body: i18n::t(Lang::Nb, "expired-body", &[]),
            reference_label: i18n::t(Lang::Nb, "reference", &[]),
            reference: "<x>",
        }
        .render()
        .unwrap();
        assert!(
            e.contains("Innloggingen er utløpt")
                && e.contains("Referanse: <code>&#60;x&#62;</code>"),
            "{e}"
        );
    }
}

//! `/ps/sso`: an AuthnRequest from a foreign Connector, by HTTP-POST or HTTP-Redirect. The
//! handlers extract, call `proxy_service::receive`, and answer one of three ways: a local error
//! page with a correlation id (requester not authenticated: nothing is sent anywhere), a signed
//! SAML error Response posted to the Connector's ACS from its metadata, or — for an accepted
//! request — the next step of the flow.

use super::i18n::{self, Lang};
use super::{AppState, Shared};
use crate::light::Failure;
use crate::oidc::client::Callback;
use crate::proxy_service::SamlRefusal;
use crate::proxy_service::flow::{self, FlowContext, PendingFlow, Step};
use crate::proxy_service::{Incoming, Refusal, receive, response};
use axum::extract::{Form, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A short random id that ties what a person sees to our log lines.
pub(super) fn correlation_id() -> String {
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

pub(super) fn html_response(status: StatusCode, html: Result<String, askama::Error>) -> Response {
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
pub(super) fn page(
    status: StatusCode,
    lang: Lang,
    title: &str,
    body: &str,
    correlation: &str,
) -> Response {
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
    auto_post(acs_url, "SAMLResponse", xml, relay_state)
}

/// An auto-submitting form (HTTP-POST binding) with `param` = the message, to `url` only.
pub(super) fn auto_post(url: &str, param: &str, xml: &str, relay_state: Option<&str>) -> Response {
    let nonce = correlation_id();
    let html = crate::saml::binding::post_form(url, param, xml, relay_state, &nonce);
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; form-action {url}; frame-ancestors 'none'"
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
            let our_id = state.config.url("/ps/metadata");
            let step = flow::begin(&context(&state, rt, &our_id), &accepted, lang.code()).await;
            render(&state, step, lang, &correlation)
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

/// One step of the flow (`proxy_service::flow`) with this node's parts.
fn context<'a>(state: &'a AppState, rt: &'a super::PsRuntime, our_id: &'a str) -> FlowContext<'a> {
    FlowContext {
        store: rt.store.as_ref(),
        peers: &rt.peers,
        idporten: rt.idporten.as_deref(),
        register: rt.register.as_deref(),
        identifier_mode: &rt.identifier_mode,
        accept_synthetic: rt.accept_synthetic,
        consent: rt.consent,
        signer: state.signer.as_ref(),
        our_entity_id: our_id,
        now: state.clock.now(),
    }
}

/// A flow step as the browser gets it.
fn render(state: &AppState, step: Step, lang: Lang, correlation: &str) -> Response {
    match step {
        Step::ToIdPorten(url) => {
            tracing::info!(correlation, "sent to ID-porten");
            (StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response()
        }
        Step::AskConsent { id, flow, who } => {
            tracing::info!(correlation, loa = %who.loa.as_uri(), "authenticated; asking for consent");
            consent_page(&flow, &who, &id, lang)
        }
        Step::Respond {
            xml,
            acs_url,
            relay_state,
        } => {
            tracing::info!(correlation, acs = %acs_url, "Response sent");
            post_to_acs(&acs_url, &xml, relay_state.as_deref())
        }
        Step::Fail {
            flow,
            failure,
            reason,
        } => fail_to_connector(state, &flow, failure, &reason, lang, correlation),
        Step::Gone => flow_gone(lang, correlation),
        Step::StoreDown(e) => {
            tracing::error!(correlation, error = %e, "store unavailable");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                "error-title",
                "error-body",
                correlation,
            )
        }
    }
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
    let our_id = state.config.url("/ps/metadata");
    let step = flow::returned(&context(&state, rt, &our_id), &cb).await;
    render(&state, step, lang, &correlation)
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
    let our_id = state.config.url("/ps/metadata");
    let step = flow::answered(
        &context(&state, rt, &our_id),
        &f.flow,
        f.action == "approve",
    )
    .await;
    render(&state, step, lang, &correlation)
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

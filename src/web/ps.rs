//! `/ps/sso`: an AuthnRequest from a foreign Connector, by HTTP-POST or HTTP-Redirect. The
//! handlers extract, call `proxy_service::receive`, and answer one of three ways: a local error
//! page with a correlation id (requester not authenticated: nothing is sent anywhere), a signed
//! SAML error Response posted to the Connector's ACS from its metadata, or — for an accepted
//! request — the next step of the flow.

use super::{AppState, Shared};
use crate::light::Failure;
use crate::oidc::client::{Callback, OidcError};
use crate::proxy_service::flow::{FLOW_TTL, PendingFlow, StoredIdentity};
use crate::proxy_service::{Accepted, SamlRefusal};
use crate::proxy_service::{Incoming, Refusal, receive, response};
use crate::xml::write::text;
use axum::extract::{Form, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A short random id that ties what a person sees to our log lines.
fn correlation_id() -> String {
    let mut b = [0u8; 8];
    let _ = aws_lc_rs::rand::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn page(status: StatusCode, title: &str, body: &str, correlation: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title></head>\
<body><main><h1>{t}</h1><p>{b}</p><p>Reference: <code>{c}</code></p></main></body></html>\n",
        t = text(title),
        b = text(body),
        c = text(correlation)
    );
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html,
    )
        .into_response()
}

/// The signed SAML error Response, posted by the browser to the ACS from metadata.
fn post_error(
    state: &AppState,
    s: &crate::proxy_service::SamlRefusal,
    correlation: &str,
) -> Response {
    post_error_with(
        state,
        s,
        "The request was refused by the Norwegian eIDAS Proxy-Service.",
        correlation,
    )
}

fn post_error_with(
    state: &AppState,
    s: &crate::proxy_service::SamlRefusal,
    message: &str,
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
                "Something went wrong",
                "The login could not be completed.",
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

async fn handle(state: Shared, incoming: Incoming, locale: Option<&'static str>) -> Response {
    let correlation = correlation_id();
    let Some(rt) = &state.ps_runtime else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Not available",
            "The Proxy-Service is not configured.",
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
            to_idporten(&state, rt, &accepted, locale, &correlation).await
        }
        Err(Refusal::Local { rule, detail }) => {
            tracing::warn!(correlation, rule, detail = %detail, "AuthnRequest refused locally");
            page(
                StatusCode::BAD_REQUEST,
                "The login request could not be accepted",
                "The request from the foreign service could not be verified, so the login cannot continue. Go back to the service and try again; if it happens again, give the reference below to the service's support.",
                &correlation,
            )
        }
        Err(Refusal::Saml(s)) => {
            tracing::warn!(correlation, rule = s.rule, detail = %s.detail, acs = %s.acs_url, "AuthnRequest refused with a SAML error");
            post_error(&state, &s, &correlation)
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
    let form: SsoForm = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => {
            return page(
                StatusCode::BAD_REQUEST,
                "The login request could not be accepted",
                "The request is not a form.",
                &correlation_id(),
            );
        }
    };
    let Some(saml_request) = form.saml_request else {
        return page(
            StatusCode::BAD_REQUEST,
            "The login request could not be accepted",
            "No SAMLRequest in the form.",
            &correlation_id(),
        );
    };
    handle(
        state,
        Incoming::Post {
            saml_request,
            relay_state: form.relay_state,
        },
        ui_locale(&headers),
    )
    .await
}

/// HTTP-Redirect binding: the raw query (its signature covers the exact octets).
pub(super) async fn sso_redirect(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match query {
        Some(q) => handle(state, Incoming::Redirect { query: q }, ui_locale(&headers)).await,
        None => page(
            StatusCode::BAD_REQUEST,
            "The login request could not be accepted",
            "No SAMLRequest in the address.",
            &correlation_id(),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn correlation_ids_are_random_hex() {
        let a = super::correlation_id();
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, super::correlation_id());
    }
}

/// ID-porten's `ui_locales` from the browser's first acceptable language.
fn ui_locale(headers: &HeaderMap) -> Option<&'static str> {
    let v = headers.get(header::ACCEPT_LANGUAGE)?.to_str().ok()?;
    v.split(',')
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .find_map(|t| match t.split('-').next().unwrap_or("") {
            "nb" | "no" => Some("nb"),
            "nn" => Some("nn"),
            "se" => Some("se"),
            "en" => Some("en"),
            _ => None,
        })
}

const FLOW_PREFIX: &str = "ps-flow:";
const CONSENT_PREFIX: &str = "ps-consent:";

/// A failure after the requester was authenticated: a signed SAML error Response to its ACS.
fn fail_to_connector(
    state: &AppState,
    flow: &PendingFlow,
    failure: Failure,
    reason: &str,
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
    post_error_with(state, &refusal, message, correlation)
}

async fn to_idporten(
    state: &AppState,
    rt: &super::PsRuntime,
    accepted: &Accepted,
    locale: Option<&str>,
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
            correlation,
        );
    };
    let Some(requested) = provisional.requested_loa() else {
        return fail_to_connector(
            state,
            &provisional,
            Failure::LoaNotMet,
            "no LoA",
            correlation,
        );
    };
    let started = match client.start(&requested, locale).await {
        Ok(s) => s,
        Err(e) => {
            let f = match e {
                OidcError::Acr(_) => Failure::LoaNotMet,
                _ => Failure::Internal,
            };
            return fail_to_connector(state, &provisional, f, &e.to_string(), correlation);
        }
    };
    let flow = PendingFlow {
        login: started.pending,
        ..provisional
    };
    let key = format!("{FLOW_PREFIX}{}", flow.login.state);
    if let Err(e) = rt.store.put(&key, &flow.to_bytes(), FLOW_TTL).await {
        return fail_to_connector(state, &flow, Failure::Internal, &e.to_string(), correlation);
    }
    tracing::info!(correlation, "sent to ID-porten");
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, started.redirect)],
    )
        .into_response()
}

fn flow_gone(correlation: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "The login has expired",
        "This login is unknown, already finished or too old. Go back to the service and start again.",
        correlation,
    )
}

/// `/ps/callback`: the person is back from ID-porten.
pub(super) async fn callback(State(state): State<Shared>, Query(cb): Query<Callback>) -> Response {
    let correlation = correlation_id();
    let Some(rt) = &state.ps_runtime else {
        return flow_gone(&correlation);
    };
    let (Some(client), Some(s)) = (&rt.idporten, cb.state.as_deref()) else {
        return flow_gone(&correlation);
    };
    if s.is_empty()
        || s.len() > 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return flow_gone(&correlation);
    }
    // Taken, not read: a second arrival with the same state finds nothing.
    let flow = match rt.store.take(&format!("{FLOW_PREFIX}{s}")).await {
        Ok(Some(b)) => match PendingFlow::from_bytes(&b) {
            Some(f) => f,
            None => return flow_gone(&correlation),
        },
        Ok(None) => return flow_gone(&correlation),
        Err(e) => {
            tracing::error!(correlation, error = %e, "store unavailable");
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong",
                "The login could not be completed. Try again in a while.",
                &correlation,
            );
        }
    };
    let Some(requested) = flow.requested_loa() else {
        return fail_to_connector(&state, &flow, Failure::Internal, "stored LoA", &correlation);
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
            return fail_to_connector(&state, &flow, f, &e.to_string(), &correlation);
        }
    };
    let Some(register) = &rt.register else {
        return fail_to_connector(
            &state,
            &flow,
            Failure::Internal,
            "no population register configured",
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
        Err(e) => return fail_to_connector(&state, &flow, e.failure, &e.reason, &correlation),
    };
    tracing::info!(correlation, loa = %who.loa.as_uri(), "authenticated at ID-porten");
    if !rt.consent {
        return send_success(&state, rt, &flow, &who, &correlation).await;
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
            &correlation,
        );
    }
    consent_page(&flow, &who, &id)
}

fn friendly(name: &str) -> &str {
    crate::eidas::attributes::by_name(name)
        .map(|d| d.friendly_name)
        .unwrap_or(name)
}

fn consent_page(flow: &PendingFlow, who: &crate::light::Authenticated, id: &str) -> Response {
    use crate::xml::write::attr;
    let rows: String = who
        .attributes
        .iter()
        .map(|a| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                text(friendly(&a.name)),
                text(&a.values.join(", "))
            )
        })
        .collect();
    let service = flow
        .service_name
        .as_deref()
        .map(|s| format!(" for <strong>{}</strong>", text(s)))
        .unwrap_or_default();
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Send your details?</title></head>\
<body><main><h1>Send your details?</h1>\
<p>A service in <strong>{country}</strong>{service} asks for these details about you, to log you in:</p>\
<table><tbody>{rows}</tbody></table><p>Level of assurance: {loa}</p>\
<form method=\"post\" action=\"/ps/consent\"><input type=\"hidden\" name=\"flow\" value=\"{id}\">\
<button type=\"submit\" name=\"action\" value=\"approve\">Send</button> \
<button type=\"submit\" name=\"action\" value=\"cancel\">Cancel</button></form></main></body></html>\n",
        country = text(&flow.connector_country),
        loa = text(who.loa.as_uri()),
        id = attr(id),
    );
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
pub(super) struct ConsentForm {
    flow: String,
    action: String,
}

/// `/ps/consent`: the person's answer.
pub(super) async fn consent(State(state): State<Shared>, Form(f): Form<ConsentForm>) -> Response {
    let correlation = correlation_id();
    let Some(rt) = &state.ps_runtime else {
        return flow_gone(&correlation);
    };
    if f.flow.len() > 64 {
        return flow_gone(&correlation);
    }
    let flow = match rt.store.take(&format!("{CONSENT_PREFIX}{}", f.flow)).await {
        Ok(Some(b)) => PendingFlow::from_bytes(&b),
        _ => None,
    };
    let Some(flow) = flow else {
        return flow_gone(&correlation);
    };
    if f.action != "approve" {
        return fail_to_connector(
            &state,
            &flow,
            Failure::Cancelled,
            "the person declined to send the details",
            &correlation,
        );
    }
    let Some(who) = flow.identity.as_ref().and_then(StoredIdentity::to_light) else {
        return fail_to_connector(
            &state,
            &flow,
            Failure::Internal,
            "stored identity",
            &correlation,
        );
    };
    send_success(&state, rt, &flow, &who, &correlation).await
}

async fn send_success(
    state: &AppState,
    rt: &super::PsRuntime,
    flow: &PendingFlow,
    who: &crate::light::Authenticated,
    correlation: &str,
) -> Response {
    let connector = match rt.peers.get(&flow.connector).await {
        Ok(c) => c,
        Err(e) => {
            return fail_to_connector(state, flow, Failure::Internal, &e.to_string(), correlation);
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
        Err(e) => fail_to_connector(state, flow, Failure::Internal, &e.to_string(), correlation),
    }
}

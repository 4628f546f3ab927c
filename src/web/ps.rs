//! `/ps/sso`: an AuthnRequest from a foreign Connector, by HTTP-POST or HTTP-Redirect. The
//! handlers extract, call `proxy_service::receive`, and answer one of three ways: a local error
//! page with a correlation id (requester not authenticated: nothing is sent anywhere), a signed
//! SAML error Response posted to the Connector's ACS from its metadata, or — for an accepted
//! request — the next step of the flow.

use super::{AppState, Shared};
use crate::proxy_service::{Incoming, Refusal, receive, response};
use crate::xml::write::text;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
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
    let now = state.clock.now();
    let our_id = state.config.url("/ps/metadata");
    let message = "The request was refused by the Norwegian eIDAS Proxy-Service.";
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
    let nonce = correlation_id();
    let html = crate::saml::binding::post_form(
        &s.acs_url,
        "SAMLResponse",
        &xml,
        s.relay_state.as_deref(),
        &nonce,
    );
    let csp = format!(
        "default-src 'none'; script-src 'nonce-{nonce}'; form-action {}; frame-ancestors 'none'",
        s.acs_url
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

async fn handle(state: Shared, incoming: Incoming) -> Response {
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
            page(
                StatusCode::NOT_IMPLEMENTED,
                "Request accepted",
                "The request from the foreign service was accepted. The login at ID-porten is not connected yet in this version of the node.",
                &correlation,
            )
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
pub(super) async fn sso_post(State(state): State<Shared>, body: axum::body::Bytes) -> Response {
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
    )
    .await
}

/// HTTP-Redirect binding: the raw query (its signature covers the exact octets).
pub(super) async fn sso_redirect(
    State(state): State<Shared>,
    RawQuery(query): RawQuery,
) -> Response {
    match query {
        Some(q) => handle(state, Incoming::Redirect { query: q }).await,
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

//! The demo's Norwegian service: an OpenID Connect relying party of our Connector (in production
//! that is ID-porten). A page to start a login with a European eID at a chosen level, and a page
//! that shows the claims of the validated ID token. It uses our own OIDC client (PAR, PKCE,
//! private_key_jwt, ID-token validation); independent relying parties are tested with Node's
//! `openid-client`.

use crate::eidas::loa::{Level, RequestedAuthnContext as Rac};
use crate::oidc::LoaMapping;
use crate::oidc::client::{Callback, IdPortenClient, PendingLogin};
use crate::xml::write::{attr, text};
use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// acr values of our provider, for a client of it.
pub fn eidas_loa_mapping() -> LoaMapping {
    LoaMapping {
        request_low: "eidas-loa-low".into(),
        request_substantial: "eidas-loa-substantial".into(),
        request_high: "eidas-loa-high".into(),
        accept: crate::oidc::provider::ACR_VALUES
            .iter()
            .map(|(a, l)| (a.to_string(), *l))
            .collect(),
    }
}

const MAX_PENDING: usize = 1000;

pub struct DemoRelyingParty {
    base: String,
    client: IdPortenClient,
    pending: Mutex<HashMap<String, (PendingLogin, Level)>>,
}

impl DemoRelyingParty {
    pub fn new(base: &str, client: IdPortenClient) -> Self {
        DemoRelyingParty {
            base: base.trim_end_matches('/').to_string(),
            client,
            pending: Mutex::new(HashMap::new()),
        }
    }
}

type Shared = Arc<DemoRelyingParty>;

pub fn router(rp: Shared) -> Router {
    Router::new()
        .route("/", get(start_page))
        .route("/start", post(start))
        .route("/callback", get(callback))
        .with_state(rp)
}

fn page(status: StatusCode, body: String) -> Response {
    crate::demo_country::demo_page(status, "nb", "Demo Norwegian service", body)
}

async fn start_page(State(rp): State<Shared>) -> Response {
    page(
        StatusCode::OK,
        format!(
            "<h1>Demo Norwegian service</h1><p>A Norwegian public service. Log in with an \
             electronic ID from another European country, through Norway's eIDAS Connector.</p>\
             <form method=\"post\" action=\"{action}\">\
             <fieldset><legend>Level of assurance</legend>\
             <label><input type=\"radio\" name=\"loa\" value=\"substantial\" checked> substantial</label>\
             <label><input type=\"radio\" name=\"loa\" value=\"high\"> high</label></fieldset>\
             <button type=\"submit\">Log in with a European eID</button></form>",
            action = attr(&format!("{}/start", rp.base)),
        ),
    )
}

#[derive(serde::Deserialize)]
struct StartForm {
    loa: String,
}

async fn start(State(rp): State<Shared>, Form(f): Form<StartForm>) -> Response {
    let level = if f.loa == "high" {
        Level::High
    } else {
        Level::Substantial
    };
    match rp.client.start(&Rac::minimum(level), Some("en")).await {
        Ok(s) => {
            let mut p = rp.pending.lock().unwrap_or_else(|e| e.into_inner());
            if p.len() >= MAX_PENDING {
                p.clear();
            }
            p.insert(s.pending.state.clone(), (s.pending, level));
            (StatusCode::SEE_OTHER, [(header::LOCATION, s.redirect)]).into_response()
        }
        Err(e) => page(
            StatusCode::BAD_GATEWAY,
            format!("<h1>Cannot start</h1><p>{}</p>", text(&e.to_string())),
        ),
    }
}

async fn callback(State(rp): State<Shared>, Query(cb): Query<Callback>) -> Response {
    let again = format!("<p><a href=\"{}\">Start again</a></p>", attr(&rp.base));
    let Some((pending, level)) = cb.state.as_deref().and_then(|s| {
        rp.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(s)
    }) else {
        return page(
            StatusCode::BAD_REQUEST,
            format!("<h1>Unknown login</h1>{again}"),
        );
    };
    if let Some(e) = &cb.error {
        return page(
            StatusCode::OK,
            format!(
                "<h1>Not logged in</h1><p>The Connector answered <code>{}</code>: {}</p>{again}",
                text(e),
                text(cb.error_description.as_deref().unwrap_or(""))
            ),
        );
    }
    match rp.client.finish(&pending, &cb, &Rac::minimum(level)).await {
        Ok(who) => {
            let rows: String = who
                .claims
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        serde_json::Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    format!(
                        "<tr><th scope=\"row\"><code>{}</code></th><td>{}</td></tr>",
                        text(k),
                        text(&v)
                    )
                })
                .collect();
            page(
                StatusCode::OK,
                format!(
                    "<h1>Logged in</h1><p>The ID token from the Connector verified. Its claims:</p>\
                     <table><tbody>{rows}</tbody></table>{again}"
                ),
            )
        }
        Err(e) => page(
            StatusCode::BAD_GATEWAY,
            format!(
                "<h1>Login refused</h1><p>{}</p>{again}",
                text(&e.to_string())
            ),
        ),
    }
}

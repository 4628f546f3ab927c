//! The HTTP edge: the axum router, shared state, security headers and body limits. Handlers are
//! small: extract, call one domain function, answer. This room must not hold protocol logic.
//!
//! Today it publishes our metadata for both roles, the operations endpoints, and `/ps/sso`, which
//! receives AuthnRequests (refusals answered; an accepted request stops where ID-porten would
//! come next). `/ps/callback`, `/connector/acs` and the OpenID provider come with their issues.

mod cn;
mod i18n;
mod ps;

use crate::clock::Clock;
use crate::config::Config;
use crate::crypto::Signer;
use crate::metadata::ours::{OurMetadata, Role};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;

/// Largest request body accepted anywhere (a SAML POST is far smaller; see `saml::binding`).
pub const MAX_BODY: usize = 256 * 1024;

/// Signed metadata, kept until it is close to its validUntil.
struct Published {
    xml: Arc<str>,
    renew_after: OffsetDateTime,
}

/// What the Proxy-Service needs at run time.
pub struct PsRuntime {
    pub peers: Arc<crate::metadata::fetch::MetadataService>,
    pub connector_urls: Vec<String>,
    pub store: Arc<dyn crate::store::Store>,
    pub settings: crate::proxy_service::PsSettings,
    /// Absent: `[idporten]` is not configured, accepted requests cannot continue.
    pub idporten: Option<Arc<crate::oidc::client::IdPortenClient>>,
    pub register: Option<Arc<dyn crate::register::Register>>,
    pub identifier_mode: Arc<crate::register::IdentifierMode>,
    pub accept_synthetic: bool,
    pub consent: bool,
}

/// What the Connector needs at run time.
pub struct CnRuntime {
    pub peers: Arc<crate::metadata::fetch::MetadataService>,
    pub store: Arc<dyn crate::store::Store>,
    pub settings: crate::connector::CnSettings,
    pub countries: Vec<crate::connector::CountryEntry>,
    pub provider: Arc<crate::oidc::provider::Provider>,
    pub matcher: Option<Arc<dyn crate::connector::matching::IdentityMatcher>>,
    pub decryption_keys: Vec<crate::crypto::PrivateKey>,
}

pub struct AppState {
    pub config: Arc<Config>,
    pub signer: Arc<dyn Signer>,
    pub clock: Arc<dyn Clock>,
    pub ps_runtime: Option<PsRuntime>,
    pub cn_runtime: Option<CnRuntime>,
    ps: OurMetadata,
    connector: Option<OurMetadata>,
    published: Mutex<[Option<Published>; 2]>,
}

impl AppState {
    /// State for a configuration: our metadata for both roles (the Connector's only when an
    /// encryption certificate is configured).
    pub fn new(
        config: Arc<Config>,
        signer: Arc<dyn Signer>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, crate::config::ConfigError> {
        let ps = config.our_metadata(Role::ProxyService)?;
        let connector = match config.keys.encryption_cert {
            Some(_) => Some(config.our_metadata(Role::Connector)?),
            None => None,
        };
        Ok(AppState {
            config,
            signer,
            clock,
            ps_runtime: None,
            cn_runtime: None,
            ps,
            connector,
            published: Mutex::new([None, None]),
        })
    }

    /// Add the run-time parts of both roles: the store (redb in the data directory), the peers'
    /// metadata service, the Proxy-Service's settings and clients, and — when `[oidc_provider]`
    /// is configured and the Connector has an encryption key — the Connector's.
    pub fn with_runtime(mut self) -> Result<Self, String> {
        let c = &self.config;
        let data_dir = if c.node.data_dir.is_absolute() {
            c.node.data_dir.clone()
        } else {
            c.base_dir.join(&c.node.data_dir)
        };
        std::fs::create_dir_all(&data_dir).map_err(|e| format!("{}: {e}", data_dir.display()))?;
        let store: Arc<dyn crate::store::Store> = Arc::new(
            crate::store::RedbStore::open(data_dir.join("eidas-node.redb"), self.clock.clone())
                .map_err(|e| e.to_string())?,
        );
        let mut peers: Vec<_> = c.peers().map_err(|e| e.to_string())?;
        let mdsl = match (&c.oidc_provider, &c.connector.mdsl_file) {
            (Some(_), Some(_)) => c.mdsl(self.clock.now()).map_err(|e| e.to_string())?,
            _ => None,
        };
        if let Some(list) = &mdsl {
            peers.extend(c.mdsl_peers(list));
        }
        let connector_urls: Vec<String> = c
            .peers
            .iter()
            .filter(|p| p.role == "connector")
            .map(|p| p.metadata_url.clone())
            .collect();
        let roots = c.tls_roots().map_err(|e| e.to_string())?;
        let service = crate::metadata::fetch::MetadataService::new(
            peers,
            store.clone(),
            self.clock.clone(),
            c.fetch_policy(),
            &roots,
        )
        .map_err(|e| e.to_string())?;
        let settings = crate::proxy_service::PsSettings {
            our_sso_url: c.url("/ps/sso"),
            published_loas: c.proxy_service.loas.clone(),
            supported_attributes: c.proxy_service.attributes.clone(),
            requester_id_demanded: c.proxy_service.requester_id_demanded,
            skew: time::Duration::seconds(60),
            max_age: time::Duration::minutes(5),
        };
        let idporten = c
            .idporten_client(self.clock.clone())
            .map_err(|e| e.to_string())?
            .map(Arc::new);
        let register = c.population_register().map_err(|e| e.to_string())?;
        let identifier_mode = Arc::new(c.identifier_mode().map_err(|e| e.to_string())?);
        let peers = Arc::new(service);
        if c.oidc_provider.is_some() && self.connector.is_some() {
            let provider = c
                .oidc_provider(store.clone(), self.clock.clone())
                .map_err(|e| e.to_string())?
                .ok_or("[oidc_provider] missing")?;
            self.cn_runtime = Some(CnRuntime {
                peers: peers.clone(),
                store: store.clone(),
                settings: c.cn_settings(),
                countries: c.connector_countries(mdsl.as_ref()),
                provider: Arc::new(provider),
                matcher: c.identity_matcher().map_err(|e| e.to_string())?,
                decryption_keys: c.decryption_keys().map_err(|e| e.to_string())?,
            });
        }
        self.ps_runtime = Some(PsRuntime {
            peers,
            connector_urls,
            store,
            settings,
            idporten,
            register,
            identifier_mode,
            accept_synthetic: c.proxy_service.accept_synthetic_numbers,
            consent: c.proxy_service.consent,
        });
        Ok(self)
    }

    /// Our signed metadata for a role, re-signed when half of its validity has passed.
    pub fn metadata(&self, role: Role) -> Result<Arc<str>, String> {
        let (slot, md) = match role {
            Role::ProxyService => (0, &self.ps),
            Role::Connector => (1, self.connector.as_ref().ok_or("no Connector configured")?),
        };
        let now = self.clock.now();
        let mut published = self.published.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = &published[slot]
            && p.renew_after > now
        {
            return Ok(p.xml.clone());
        }
        let xml: Arc<str> = Arc::from(
            md.to_signed_xml(now, self.signer.as_ref())
                .map_err(|e| e.to_string())?,
        );
        published[slot] = Some(Published {
            xml: xml.clone(),
            renew_after: now + md.valid_for / 2,
        });
        Ok(xml)
    }
}

type Shared = Arc<AppState>;

fn metadata_response(state: &AppState, role: Role) -> Response {
    match state.metadata(role) {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
            xml.to_string(),
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn ps_metadata(State(state): State<Shared>) -> Response {
    metadata_response(&state, Role::ProxyService)
}

async fn connector_metadata(State(state): State<Shared>) -> Response {
    metadata_response(&state, Role::Connector)
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when our metadata can be produced (keys usable, clock sane).
async fn readyz(State(state): State<Shared>) -> Response {
    match state.metadata(Role::ProxyService) {
        Ok(_) => "ready\n".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}

fn security_header(name: &'static str, value: &'static str) -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(
        HeaderName::from_static(name),
        HeaderValue::from_static(value),
    )
}

/// The router with every route and the security layers.
pub fn router(state: Shared) -> Router {
    let https = state.config.node.public_url.starts_with("https://");
    let mut app = Router::new()
        .route("/ps/metadata", get(ps_metadata))
        .route("/connector/metadata", get(connector_metadata))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/ps/sso", get(ps::sso_redirect).post(ps::sso_post))
        .route("/ps/callback", get(ps::callback))
        .route("/ps/consent", axum::routing::post(ps::consent))
        .route("/.well-known/openid-configuration", get(cn::discovery))
        .route("/oidc/jwks", get(cn::jwks))
        .route("/oidc/par", axum::routing::post(cn::par))
        .route(
            "/oidc/authorize",
            get(cn::authorize_get).post(cn::authorize_post),
        )
        .route("/oidc/token", axum::routing::post(cn::token))
        .route("/oidc/userinfo", get(cn::userinfo).post(cn::userinfo))
        .route("/connector/countries", get(cn::countries))
        .route("/connector/select", axum::routing::post(cn::select))
        .route("/connector/acs", axum::routing::post(cn::acs))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(security_header("x-content-type-options", "nosniff"))
        .layer(security_header("x-frame-options", "DENY"))
        .layer(security_header("referrer-policy", "no-referrer"))
        // Pages that need more (the auto-posting SAML form) set their own policy.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ),
        ));
    if https {
        app = app.layer(security_header(
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ));
    }
    app
}

/// Serve until the process is told to stop (Ctrl-C / SIGTERM).
pub async fn serve(listener: tokio::net::TcpListener, state: Shared) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

//! The node's configuration: one TOML file (every key documented in docs/configuration.md).
//! Loading reads the files it names (keys, certificates) relative to the configuration file and
//! checks them against the eIDAS key rules, so a node never starts with a key it may not use.

use crate::crypto::{Certificate, KeyPolicy, PrivateKey};
use crate::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub node: Node,
    #[serde(default)]
    pub server: ServerSettings,
    pub keys: Keys,
    #[serde(default)]
    pub metadata: MetadataSettings,
    #[serde(default)]
    pub proxy_service: ProxyServiceSettings,
    #[serde(default)]
    pub connector: ConnectorSettings,
    pub organization: OrganizationSettings,
    #[serde(default, rename = "contact")]
    pub contacts: Vec<ContactSettings>,
    /// Peers whose metadata we use (foreign Connectors and Proxy-Services).
    #[serde(default, rename = "peer")]
    pub peers: Vec<PeerSettings>,
    #[serde(default)]
    pub metadata_fetch: MetadataFetchSettings,
    /// The OpenID Connect provider people authenticate at (Proxy-Service). Absent: accepted
    /// requests cannot continue and get a "not available" page.
    #[serde(default)]
    pub idporten: Option<IdPortenSettings>,
    /// Where names and birth dates come from when the ID token lacks them.
    #[serde(default)]
    pub register: RegisterSettings,
    /// Our OpenID provider (Connector). Absent: the Connector's front is off.
    #[serde(default)]
    pub oidc_provider: Option<OidcProviderSettings>,
    /// Where the configuration was read from (paths resolve against its folder).
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// The public base URL; every endpoint is under it.
    pub public_url: String,
    /// ISO 3166-1 alpha-2 country of the node.
    #[serde(default = "default_country")]
    pub country: String,
    /// Where the embedded store and generated keys live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
}

fn default_country() -> String {
    "NO".into()
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address and port to listen on (plain HTTP; TLS is terminated in front of the node).
    pub listen: String,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            listen: "127.0.0.1:8080".into(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keys {
    pub signing_key: PathBuf,
    pub signing_cert: PathBuf,
    /// More certificates to publish as signing keys (rollover: the next key, or the previous).
    #[serde(default)]
    pub extra_signing_certs: Vec<PathBuf>,
    pub encryption_key: Option<PathBuf>,
    pub encryption_cert: Option<PathBuf>,
    #[serde(default)]
    pub extra_encryption_certs: Vec<PathBuf>,
    /// Further decryption keys kept during a rollover.
    #[serde(default)]
    pub extra_encryption_keys: Vec<PathBuf>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetadataSettings {
    pub valid_for_hours: u32,
    pub protocol_versions: Vec<String>,
    pub application_identifier: String,
}

impl Default for MetadataSettings {
    fn default() -> Self {
        MetadataSettings {
            valid_for_hours: 24,
            protocol_versions: vec!["1.4".into(), "1.3".into(), "1.2".into()],
            application_identifier: format!("NO-eidas-node:{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyServiceSettings {
    pub loas: Vec<String>,
    pub attributes: Vec<String>,
    pub requester_id_demanded: bool,
    /// Show the person what will be sent, to which country and service, before sending it.
    pub consent: bool,
    /// Third part of the PersonIdentifier: `identity-number` or `pseudonym`.
    pub identifier: String,
    /// File with the base64 pseudonym key (`identifier = "pseudonym"`), and its version.
    pub pseudonym_key_file: Option<PathBuf>,
    pub pseudonym_key_version: u32,
    /// Accept synthetic test identity numbers (month + 80) from ID-porten: test environments only.
    pub accept_synthetic_numbers: bool,
}

impl Default for ProxyServiceSettings {
    fn default() -> Self {
        ProxyServiceSettings {
            loas: vec![
                "http://eidas.europa.eu/LoA/substantial".into(),
                "http://eidas.europa.eu/LoA/high".into(),
            ],
            attributes: crate::eidas::attributes::mds(
                crate::eidas::attributes::PersonType::NaturalPerson,
            )
            .map(|a| a.name.to_string())
            .collect(),
            requester_id_demanded: false,
            consent: true,
            identifier: "identity-number".into(),
            pseudonym_key_file: None,
            pseudonym_key_version: 1,
            accept_synthetic_numbers: false,
        }
    }
}

/// `[idporten]`: the ID-porten client.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdPortenSettings {
    /// The issuer identifier, e.g. `https://test.idporten.no`.
    pub issuer: String,
    pub client_id: String,
    /// `private_key_jwt` (default), `client_secret_basic` or `client_secret_post`.
    #[serde(default = "default_client_auth")]
    pub client_auth: String,
    /// The key client assertions are signed with (`private_key_jwt`), and its `kid` as registered.
    pub client_key: Option<PathBuf>,
    pub client_key_id: Option<String>,
    /// File holding the client secret (the other two methods).
    pub client_secret_file: Option<PathBuf>,
    #[serde(default = "yes")]
    pub par: bool,
    #[serde(default = "default_scope")]
    pub scope: String,
    #[serde(default = "default_oidc_timeout")]
    pub timeout_seconds: u64,
    #[serde(default = "default_skew")]
    pub clock_skew_seconds: i64,
    /// Plain http to a loopback provider (the demo's test ID-porten).
    #[serde(default)]
    pub allow_loopback_http: bool,
    #[serde(default)]
    pub loa: crate::oidc::LoaMapping,
}

fn default_client_auth() -> String {
    "private_key_jwt".into()
}
fn yes() -> bool {
    true
}
fn default_scope() -> String {
    "openid".into()
}
fn default_oidc_timeout() -> u64 {
    10
}
fn default_skew() -> i64 {
    30
}

/// `[register]`: the population register.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegisterSettings {
    /// `folkeregisteret`, `synthetic` (a TOML file of test persons) or `none`.
    pub kind: String,
    /// The synthetic register file.
    pub path: Option<PathBuf>,
    /// Folkeregisteret: base URL and package path.
    pub base_url: String,
    pub package: String,
    /// Maskinporten: issuer (the grant's audience), token endpoint, our client, the scope.
    pub maskinporten_issuer: String,
    pub maskinporten_token_url: String,
    pub client_id: Option<String>,
    pub scope: String,
    /// The key the Maskinporten grant is signed with, and its registered `kid`.
    pub client_key: Option<PathBuf>,
    pub client_key_id: Option<String>,
    pub timeout_seconds: u64,
    /// Plain http to loopback (tests only).
    pub allow_loopback_http: bool,
}

impl Default for RegisterSettings {
    fn default() -> Self {
        RegisterSettings {
            kind: "none".into(),
            path: None,
            base_url: "https://folkeregisteret.api.skatteetaten.no".into(),
            package: "folkeregisteret/offentlig-med-hjemmel".into(),
            maskinporten_issuer: "https://maskinporten.no/".into(),
            maskinporten_token_url: "https://maskinporten.no/token".into(),
            client_id: None,
            scope: "folkeregister:deling/offentligmedhjemmel".into(),
            client_key: None,
            client_key_id: None,
            timeout_seconds: 5,
            allow_loopback_http: false,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectorSettings {
    /// Put SPType in the metadata (then requests carry none); only when all relying parties
    /// share the type.
    pub sp_type: Option<String>,
    /// SPType in each AuthnRequest when the metadata has none.
    pub request_sp_type: String,
    /// RequesterID (a URI) to send in every AuthnRequest.
    pub requester_id: Option<String>,
    /// Refuse assertions without their own signature (eIDAS crypto requirements: yes).
    pub require_signed_assertion: bool,
    /// The countries on the selection page, in this order; empty: every `[[peer]]` with role
    /// `proxy_service`, sorted by code.
    pub countries: Vec<String>,
    /// Identity matching: `none`, `file` (matching_file) or `freg-gateway` (matching_url).
    pub matching: String,
    pub matching_file: Option<PathBuf>,
    pub matching_url: Option<String>,
    pub matching_timeout_seconds: u64,
    pub matching_allow_loopback_http: bool,
    /// Accept synthetic identity numbers from the matcher (test environments only).
    pub accept_synthetic_numbers: bool,
    /// A signed Metadata Service List (file) whose Proxy-Services are offered as countries too.
    pub mdsl_file: Option<PathBuf>,
    /// PEM files with the certificates the list must be signed with.
    pub mdsl_trust_anchors: Vec<PathBuf>,
}

impl Default for ConnectorSettings {
    fn default() -> Self {
        ConnectorSettings {
            sp_type: None,
            request_sp_type: "public".into(),
            requester_id: None,
            require_signed_assertion: true,
            countries: Vec::new(),
            matching: "none".into(),
            matching_file: None,
            matching_url: None,
            matching_timeout_seconds: 5,
            matching_allow_loopback_http: false,
            accept_synthetic_numbers: false,
            mdsl_file: None,
            mdsl_trust_anchors: Vec::new(),
        }
    }
}

/// Our OpenID provider for Norwegian relying parties (the Connector's front).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcProviderSettings {
    /// PEM private key for ID tokens; absent: the node's signing key.
    pub signing_key: Option<PathBuf>,
    /// ES256 (P-256 key), PS256 or RS256 (RSA key).
    pub signing_alg: String,
    pub require_par: bool,
    pub par_lifetime_seconds: u64,
    pub code_lifetime_seconds: u64,
    pub token_lifetime_seconds: u64,
    /// The acr value used when a request names none of ours.
    pub default_acr: String,
    #[serde(rename = "client")]
    pub clients: Vec<OidcClientSettings>,
}

impl Default for OidcProviderSettings {
    fn default() -> Self {
        OidcProviderSettings {
            signing_key: None,
            signing_alg: "ES256".into(),
            require_par: true,
            par_lifetime_seconds: 60,
            code_lifetime_seconds: 60,
            token_lifetime_seconds: 120,
            default_acr: "eidas-loa-substantial".into(),
            clients: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcClientSettings {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    /// private_key_jwt (default), client_secret_basic or client_secret_post.
    #[serde(default = "default_client_auth")]
    pub auth: String,
    /// private_key_jwt: the client's public key or certificate (PEM).
    pub public_key: Option<PathBuf>,
    /// client_secret_*: a file holding the secret.
    pub client_secret_file: Option<PathBuf>,
    /// Optional eIDAS attributes to ask for and relay (FriendlyName or Name URI).
    #[serde(default)]
    pub attributes: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationSettings {
    pub name: String,
    pub display_name: String,
    pub url: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactSettings {
    /// `support` or `technical`.
    #[serde(rename = "type")]
    pub contact_type: String,
    pub company: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub email: String,
    pub phone: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerSettings {
    /// ISO 3166-1 alpha-2 country of the peer.
    pub country: String,
    /// `connector` (a foreign Connector calling our Proxy-Service) or `proxy_service`.
    pub role: String,
    /// HTTPS URL of its metadata (= its entityID).
    pub metadata_url: String,
    /// PEM file(s) under trust-anchors/ whose certificates may sign its metadata.
    pub trust_anchors: Vec<PathBuf>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetadataFetchSettings {
    pub timeout_seconds: u64,
    pub max_bytes: usize,
    pub min_refresh_minutes: i64,
    pub max_refresh_minutes: i64,
    /// Allow http:// metadata on loopback (tests and the demo only).
    pub allow_loopback_http: bool,
    /// PEM files with the TLS roots to trust for metadata URLs instead of the platform's (a
    /// private PKI); empty: the platform's roots.
    pub tls_roots: Vec<PathBuf>,
}

impl Default for MetadataFetchSettings {
    fn default() -> Self {
        let p = crate::metadata::fetch::FetchPolicy::default();
        MetadataFetchSettings {
            timeout_seconds: p.timeout.as_secs(),
            max_bytes: p.max_bytes,
            min_refresh_minutes: p.min_refresh.whole_minutes(),
            max_refresh_minutes: p.max_refresh.whole_minutes(),
            allow_loopback_http: false,
            tls_roots: Vec::new(),
        }
    }
}

impl Config {
    /// The configured peers with their trust anchors loaded.
    pub fn peers(&self) -> Result<Vec<crate::metadata::fetch::Peer>, ConfigError> {
        let mut out = Vec::new();
        for p in &self.peers {
            let mut anchors = Vec::new();
            for a in &p.trust_anchors {
                let certs = Certificate::load_all(&self.read(a)?).map_err(|e| {
                    ConfigError::Invalid(format!("{}: {e}", self.path(a).display()))
                })?;
                anchors.extend(certs);
            }
            out.push(crate::metadata::fetch::Peer {
                url: p.metadata_url.clone(),
                trust_anchors: anchors,
            });
        }
        Ok(out)
    }

    /// The TLS roots from `[metadata_fetch] tls_roots`.
    pub fn tls_roots(&self) -> Result<Vec<Certificate>, ConfigError> {
        let mut out = Vec::new();
        for p in &self.metadata_fetch.tls_roots {
            out.extend(
                Certificate::load_all(&self.read(p)?).map_err(|e| {
                    ConfigError::Invalid(format!("{}: {e}", self.path(p).display()))
                })?,
            );
        }
        Ok(out)
    }

    /// The fetch policy from `[metadata_fetch]`.
    pub fn fetch_policy(&self) -> crate::metadata::fetch::FetchPolicy {
        let m = &self.metadata_fetch;
        crate::metadata::fetch::FetchPolicy {
            timeout: std::time::Duration::from_secs(m.timeout_seconds),
            max_bytes: m.max_bytes,
            allow_loopback_http: m.allow_loopback_http,
            min_refresh: time::Duration::minutes(m.min_refresh_minutes),
            max_refresh: time::Duration::minutes(m.max_refresh_minutes),
            ..crate::metadata::fetch::FetchPolicy::default()
        }
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut c: Config = toml::from_str(&text).map_err(|e| ConfigError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        c.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let url = self.node.public_url.trim_end_matches('/');
        if !(url.starts_with("https://") || crate::outbound::is_loopback_http(url)) {
            return Err(ConfigError::Invalid(format!(
                "node.public_url {url:?} must be https (http only on loopback, for the demo)"
            )));
        }
        let c = &self.node.country;
        if c.len() != 2 || !c.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ConfigError::Invalid(format!(
                "node.country {c:?} must be two capital letters"
            )));
        }
        if let Some(t) = &self.connector.sp_type
            && t != "public"
            && t != "private"
        {
            return Err(ConfigError::Invalid(format!(
                "connector.sp_type {t:?} must be public or private"
            )));
        }
        let cn = &self.connector;
        if cn.request_sp_type != "public" && cn.request_sp_type != "private" {
            return Err(ConfigError::Invalid(format!(
                "connector.request_sp_type {:?} must be public or private",
                cn.request_sp_type
            )));
        }
        if let Some(r) = &cn.requester_id
            && (r.len() > 1024 || !r.contains(':'))
        {
            return Err(ConfigError::Invalid(
                "connector.requester_id must be a URI of at most 1024 characters".into(),
            ));
        }
        if cn.mdsl_file.is_some() && cn.mdsl_trust_anchors.is_empty() {
            return Err(ConfigError::Invalid(
                "connector.mdsl_file needs mdsl_trust_anchors".into(),
            ));
        }
        for c in cn.countries.iter().filter(|_| cn.mdsl_file.is_none()) {
            if !self
                .peers
                .iter()
                .any(|p| p.role == "proxy_service" && &p.country == c)
            {
                return Err(ConfigError::Invalid(format!(
                    "connector.countries names {c}, which has no [[peer]] with role proxy_service"
                )));
            }
        }
        if let Some(op) = &self.oidc_provider {
            if !["ES256", "PS256", "RS256"].contains(&op.signing_alg.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "oidc_provider.signing_alg {:?}: use ES256, PS256 or RS256",
                    op.signing_alg
                )));
            }
            if !crate::oidc::provider::ACR_VALUES
                .iter()
                .any(|(a, _)| *a == op.default_acr)
            {
                return Err(ConfigError::Invalid(format!(
                    "oidc_provider.default_acr {:?} is not an eidas-loa-* value",
                    op.default_acr
                )));
            }
            if op.par_lifetime_seconds == 0
                || op.code_lifetime_seconds == 0
                || op.token_lifetime_seconds == 0
                || op.code_lifetime_seconds > 600
            {
                return Err(ConfigError::Invalid(
                    "oidc_provider lifetimes must be positive (codes at most 600 s)".into(),
                ));
            }
            let mut seen = std::collections::HashSet::new();
            for c in &op.clients {
                if !seen.insert(&c.client_id) {
                    return Err(ConfigError::Invalid(format!(
                        "oidc_provider client {} is registered twice",
                        c.client_id
                    )));
                }
                if c.redirect_uris.is_empty() {
                    return Err(ConfigError::Invalid(format!(
                        "oidc_provider client {}: at least one redirect_uri",
                        c.client_id
                    )));
                }
                for u in &c.redirect_uris {
                    let loopback = crate::outbound::is_loopback_http(u);
                    if !(u.starts_with("https://") || loopback) || u.contains('#') {
                        return Err(ConfigError::Invalid(format!(
                            "oidc_provider client {}: redirect_uri {u:?} must be https (http only on loopback) without a fragment",
                            c.client_id
                        )));
                    }
                }
                for a in &c.attributes {
                    if crate::connector::optional_attribute(a).is_none() {
                        return Err(ConfigError::Invalid(format!(
                            "oidc_provider client {}: {a:?} is not an eIDAS attribute",
                            c.client_id
                        )));
                    }
                }
            }
        }
        for ct in &self.contacts {
            if ct.contact_type != "support" && ct.contact_type != "technical" {
                return Err(ConfigError::Invalid(format!(
                    "contact type {:?} must be support or technical",
                    ct.contact_type
                )));
            }
        }
        for p in &self.peers {
            if p.role != "connector" && p.role != "proxy_service" {
                return Err(ConfigError::Invalid(format!(
                    "peer {}: role must be connector or proxy_service",
                    p.metadata_url
                )));
            }
            if p.country.len() != 2 || !p.country.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(ConfigError::Invalid(format!(
                    "peer {}: country must be two capital letters",
                    p.metadata_url
                )));
            }
            let loopback = crate::outbound::is_loopback_http(&p.metadata_url);
            let allowed = p.metadata_url.starts_with("https://")
                || (loopback && self.metadata_fetch.allow_loopback_http);
            if !allowed {
                return Err(ConfigError::Invalid(format!(
                    "peer {}: metadata_url must be https",
                    p.metadata_url
                )));
            }
            if p.trust_anchors.is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "peer {}: at least one trust anchor",
                    p.metadata_url
                )));
            }
        }
        if self.metadata.valid_for_hours == 0 || self.metadata.valid_for_hours > 24 * 7 {
            return Err(ConfigError::Invalid(
                "metadata.valid_for_hours must be 1 to 168".into(),
            ));
        }
        Ok(())
    }

    fn path(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The ID-porten client from `[idporten]`.
    pub fn idporten_client(
        &self,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Result<Option<crate::oidc::client::IdPortenClient>, ConfigError> {
        use crate::oidc::client::{ClientAuth, ClientSettings, IdPortenClient};
        let Some(i) = &self.idporten else {
            return Ok(None);
        };
        let secret = || -> Result<String, ConfigError> {
            let p = i.client_secret_file.as_ref().ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "[idporten] {} needs client_secret_file",
                    i.client_auth
                ))
            })?;
            Ok(String::from_utf8_lossy(&self.read(p)?).trim().to_string())
        };
        let auth = match i.client_auth.as_str() {
            "private_key_jwt" => {
                let p = i.client_key.as_ref().ok_or_else(|| {
                    ConfigError::Invalid("[idporten] private_key_jwt needs client_key".into())
                })?;
                ClientAuth::private_key_jwt(&self.read(p)?, i.client_key_id.clone())
                    .map_err(|e| ConfigError::Invalid(format!("[idporten] client_key: {e}")))?
            }
            "client_secret_basic" => ClientAuth::ClientSecretBasic(secret()?),
            "client_secret_post" => ClientAuth::ClientSecretPost(secret()?),
            other => {
                return Err(ConfigError::Invalid(format!(
                    "[idporten] client_auth {other:?}: use private_key_jwt, client_secret_basic or client_secret_post"
                )));
            }
        };
        let settings = ClientSettings {
            issuer: i.issuer.clone(),
            client_id: i.client_id.clone(),
            redirect_uri: self.url("/ps/callback"),
            auth,
            par: i.par,
            scope: i.scope.clone(),
            loa: i.loa.clone(),
            timeout: std::time::Duration::from_secs(i.timeout_seconds.max(1)),
            clock_skew: time::Duration::seconds(i.clock_skew_seconds.clamp(0, 300)),
            allow_loopback_http: i.allow_loopback_http,
        };
        IdPortenClient::new(settings, clock, &self.tls_roots()?)
            .map(Some)
            .map_err(|e| ConfigError::Invalid(format!("[idporten] {e}")))
    }

    /// The population register from `[register]`.
    pub fn population_register(
        &self,
    ) -> Result<Option<std::sync::Arc<dyn crate::register::Register>>, ConfigError> {
        match self.register.kind.as_str() {
            "none" => Ok(None),
            "synthetic" => {
                let p = self.register.path.as_ref().ok_or_else(|| {
                    ConfigError::Invalid("[register] kind = \"synthetic\" needs path".into())
                })?;
                let r = crate::register::SyntheticRegister::load(&self.path(p))
                    .map_err(|e| ConfigError::Invalid(format!("[register] {e}")))?;
                Ok(Some(std::sync::Arc::new(r)))
            }
            "folkeregisteret" => {
                let r = &self.register;
                let need = |what: &str| {
                    ConfigError::Invalid(format!("[register] folkeregisteret needs {what}"))
                };
                let client_id = r.client_id.clone().ok_or_else(|| need("client_id"))?;
                let key_path = r.client_key.as_ref().ok_or_else(|| need("client_key"))?;
                let auth =
                    crate::oidc::client::ClientAuth::private_key_jwt(&self.read(key_path)?, None)
                        .map_err(|e| ConfigError::Invalid(format!("[register] client_key: {e}")))?;
                let crate::oidc::client::ClientAuth::PrivateKeyJwt { key, alg, .. } = auth else {
                    return Err(need("a signing key"));
                };
                let settings = crate::register::FolkeregisteretSettings {
                    base_url: r.base_url.clone(),
                    package: r.package.clone(),
                    maskinporten_issuer: r.maskinporten_issuer.clone(),
                    maskinporten_token_url: r.maskinporten_token_url.clone(),
                    client_id,
                    scope: r.scope.clone(),
                    key,
                    alg,
                    kid: r.client_key_id.clone(),
                    timeout: std::time::Duration::from_secs(r.timeout_seconds.max(1)),
                    allow_loopback_http: r.allow_loopback_http,
                };
                let f = crate::register::Folkeregisteret::new(
                    settings,
                    std::sync::Arc::new(crate::clock::SystemClock),
                    &self.tls_roots()?,
                )
                .map_err(|e| ConfigError::Invalid(format!("[register] {e}")))?;
                Ok(Some(std::sync::Arc::new(f)))
            }
            other => Err(ConfigError::Invalid(format!(
                "[register] kind {other:?}: use folkeregisteret, synthetic or none"
            ))),
        }
    }

    /// How the PersonIdentifier's third part is made.
    pub fn identifier_mode(&self) -> Result<crate::register::IdentifierMode, ConfigError> {
        use crate::register::{IdentifierMode, PseudonymKey};
        let ps = &self.proxy_service;
        match ps.identifier.as_str() {
            "identity-number" => Ok(IdentifierMode::IdentityNumber),
            "pseudonym" => {
                let p = ps.pseudonym_key_file.as_ref().ok_or_else(|| {
                    ConfigError::Invalid(
                        "[proxy_service] identifier = \"pseudonym\" needs pseudonym_key_file"
                            .into(),
                    )
                })?;
                let text = String::from_utf8_lossy(&self.read(p)?).trim().to_string();
                let key =
                    PseudonymKey::from_base64(ps.pseudonym_key_version, &text).map_err(|e| {
                        ConfigError::Invalid(format!("[proxy_service] pseudonym key: {e}"))
                    })?;
                Ok(IdentifierMode::Pseudonym(key))
            }
            other => Err(ConfigError::Invalid(format!(
                "[proxy_service] identifier {other:?}: use identity-number or pseudonym"
            ))),
        }
    }

    /// The keys the Connector decrypts assertions with: the encryption key, then the extra ones.
    pub fn decryption_keys(&self) -> Result<Vec<PrivateKey>, ConfigError> {
        let mut out = Vec::new();
        for p in self
            .keys
            .encryption_key
            .iter()
            .chain(self.keys.extra_encryption_keys.iter())
        {
            out.push(
                PrivateKey::load(&self.read(p)?).map_err(|e| {
                    ConfigError::Invalid(format!("{}: {e}", self.path(p).display()))
                })?,
            );
        }
        Ok(out)
    }

    /// The Metadata Service List from `[connector] mdsl_file`, its signature checked with
    /// `mdsl_trust_anchors` and its NextUpdate with `now`.
    pub fn mdsl(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<Option<crate::metadata::mdsl::ServiceList>, ConfigError> {
        let Some(file) = &self.connector.mdsl_file else {
            return Ok(None);
        };
        let mut anchors = Vec::new();
        for a in &self.connector.mdsl_trust_anchors {
            anchors.extend(
                Certificate::load_all(&self.read(a)?).map_err(|e| {
                    ConfigError::Invalid(format!("{}: {e}", self.path(a).display()))
                })?,
            );
        }
        crate::metadata::mdsl::parse_verified(&self.read(file)?, &anchors, now)
            .map(Some)
            .map_err(|e| ConfigError::Invalid(format!("{}: {e}", self.path(file).display())))
    }

    /// The Proxy-Services an MDSL adds: not suspended, not hidden from discovery, and of a
    /// country no `[[peer]]` already names.
    fn mdsl_proxy_services<'a>(
        &self,
        list: &'a crate::metadata::mdsl::ServiceList,
    ) -> impl Iterator<Item = &'a crate::metadata::mdsl::MdslEntry> {
        let configured: Vec<String> = self
            .peers
            .iter()
            .filter(|p| p.role == "proxy_service")
            .map(|p| p.country.clone())
            .collect();
        list.entries.iter().filter(move |e| {
            e.is_proxy_service() && !e.suspended && !e.hidden && !configured.contains(&e.territory)
        })
    }

    /// The peers an MDSL adds (their metadata is verified with the certificates it names).
    pub fn mdsl_peers(
        &self,
        list: &crate::metadata::mdsl::ServiceList,
    ) -> Vec<crate::metadata::fetch::Peer> {
        self.mdsl_proxy_services(list)
            .map(|e| crate::metadata::fetch::Peer {
                url: e.location.clone(),
                trust_anchors: e.certificates.clone(),
            })
            .collect()
    }

    /// The countries of the selection page with their Proxy-Services' metadata URLs: the
    /// `[[peer]]`s with role `proxy_service`, then those of the MDSL.
    pub fn connector_countries(
        &self,
        mdsl: Option<&crate::metadata::mdsl::ServiceList>,
    ) -> Vec<crate::connector::CountryEntry> {
        let mut ps: Vec<_> = self
            .peers
            .iter()
            .filter(|p| p.role == "proxy_service")
            .map(|p| crate::connector::CountryEntry {
                code: p.country.clone(),
                metadata_url: p.metadata_url.clone(),
            })
            .collect();
        if let Some(list) = mdsl {
            ps.extend(
                self.mdsl_proxy_services(list)
                    .map(|e| crate::connector::CountryEntry {
                        code: e.territory.clone(),
                        metadata_url: e.location.clone(),
                    }),
            );
        }
        if self.connector.countries.is_empty() {
            ps.sort_by(|a, b| a.code.cmp(&b.code));
            ps
        } else {
            self.connector
                .countries
                .iter()
                .filter_map(|c| ps.iter().find(|p| &p.code == c).cloned())
                .collect()
        }
    }

    /// What the Connector knows of itself.
    pub fn cn_settings(&self) -> crate::connector::CnSettings {
        crate::connector::CnSettings {
            our_entity_id: self.url("/connector/metadata"),
            our_acs_url: self.url("/connector/acs"),
            our_country: self.node.country.clone(),
            metadata_sp_type: self.connector.sp_type.clone(),
            request_sp_type: self.connector.request_sp_type.clone(),
            requester_id: self.connector.requester_id.clone(),
            protocol_versions: self.metadata.protocol_versions.clone(),
            require_signed_assertion: self.connector.require_signed_assertion,
            skew: time::Duration::seconds(60),
            max_age: time::Duration::minutes(5),
        }
    }

    /// The identity matcher from `[connector] matching`.
    pub fn identity_matcher(
        &self,
    ) -> Result<Option<std::sync::Arc<dyn crate::connector::matching::IdentityMatcher>>, ConfigError>
    {
        use crate::connector::matching::{FileMatcher, FregGateway};
        let c = &self.connector;
        match c.matching.as_str() {
            "none" => Ok(None),
            "file" => {
                let p = c.matching_file.as_ref().ok_or_else(|| {
                    ConfigError::Invalid(
                        "[connector] matching = \"file\" needs matching_file".into(),
                    )
                })?;
                let m = FileMatcher::load(&self.path(p), c.accept_synthetic_numbers)
                    .map_err(|e| ConfigError::Invalid(format!("[connector] {e}")))?;
                Ok(Some(std::sync::Arc::new(m)))
            }
            "freg-gateway" => {
                let url = c.matching_url.as_ref().ok_or_else(|| {
                    ConfigError::Invalid(
                        "[connector] matching = \"freg-gateway\" needs matching_url".into(),
                    )
                })?;
                let m = FregGateway::new(
                    url,
                    std::time::Duration::from_secs(c.matching_timeout_seconds.max(1)),
                    c.matching_allow_loopback_http,
                    &self.tls_roots()?,
                    c.accept_synthetic_numbers,
                )
                .map_err(|e| ConfigError::Invalid(format!("[connector] {e}")))?;
                Ok(Some(std::sync::Arc::new(m)))
            }
            other => Err(ConfigError::Invalid(format!(
                "[connector] matching {other:?}: use none, file or freg-gateway"
            ))),
        }
    }

    /// Our OpenID provider from `[oidc_provider]`.
    pub fn oidc_provider(
        &self,
        store: std::sync::Arc<dyn crate::store::Store>,
        clock: std::sync::Arc<dyn crate::clock::Clock>,
    ) -> Result<Option<crate::oidc::provider::Provider>, ConfigError> {
        use crate::oidc::provider::{
            ClientCredential, Provider, ProviderSettings, RegisteredClient,
        };
        let Some(op) = &self.oidc_provider else {
            return Ok(None);
        };
        let key_path = op.signing_key.as_ref().unwrap_or(&self.keys.signing_key);
        let key = PrivateKey::load(&self.read(key_path)?)
            .map_err(|e| ConfigError::Invalid(format!("{}: {e}", self.path(key_path).display())))?;
        let mut clients = Vec::new();
        for c in &op.clients {
            let bad = |m: String| {
                ConfigError::Invalid(format!("oidc_provider client {}: {m}", c.client_id))
            };
            let secret = || -> Result<String, ConfigError> {
                let p = c
                    .client_secret_file
                    .as_ref()
                    .ok_or_else(|| bad(format!("{} needs client_secret_file", c.auth)))?;
                let s = String::from_utf8_lossy(&self.read(p)?).trim().to_string();
                if s.len() < 32 {
                    return Err(bad(
                        "the client secret must be at least 32 characters".into()
                    ));
                }
                Ok(s)
            };
            let credential = match c.auth.as_str() {
                "private_key_jwt" => {
                    let p = c
                        .public_key
                        .as_ref()
                        .ok_or_else(|| bad("private_key_jwt needs public_key".into()))?;
                    let (k, algs) = RegisteredClient::key_from_pem(&self.read(p)?).map_err(bad)?;
                    ClientCredential::PrivateKeyJwt(k, algs)
                }
                "client_secret_basic" => ClientCredential::ClientSecretBasic(secret()?),
                "client_secret_post" => ClientCredential::ClientSecretPost(secret()?),
                other => {
                    return Err(bad(format!(
                        "auth {other:?}: use private_key_jwt, client_secret_basic or client_secret_post"
                    )));
                }
            };
            clients.push(RegisteredClient {
                client_id: c.client_id.clone(),
                redirect_uris: c.redirect_uris.clone(),
                credential,
                attributes: c.attributes.clone(),
            });
        }
        let default_level = crate::oidc::provider::ACR_VALUES
            .iter()
            .find(|(a, _)| *a == op.default_acr)
            .map(|(_, l)| *l)
            .unwrap_or(crate::eidas::loa::Level::Substantial);
        let settings = ProviderSettings {
            issuer: self.node.public_url.trim_end_matches('/').to_string(),
            require_par: op.require_par,
            par_lifetime: std::time::Duration::from_secs(op.par_lifetime_seconds),
            code_lifetime: std::time::Duration::from_secs(op.code_lifetime_seconds),
            token_lifetime: std::time::Duration::from_secs(op.token_lifetime_seconds),
            default_level,
        };
        Provider::new(settings, clients, &key, &op.signing_alg, store, clock)
            .map(Some)
            .map_err(|e| ConfigError::Invalid(format!("[oidc_provider] {e}")))
    }

    fn read(&self, p: &Path) -> Result<Vec<u8>, ConfigError> {
        let full = self.path(p);
        std::fs::read(&full).map_err(|source| ConfigError::Read { path: full, source })
    }

    fn cert(&self, p: &Path) -> Result<Certificate, ConfigError> {
        let c = Certificate::load(&self.read(p)?)
            .map_err(|e| ConfigError::Invalid(format!("{}: {e}", self.path(p).display())))?;
        c.public_key()
            .check_policy(&KeyPolicy::EIDAS)
            .map_err(|e| ConfigError::Invalid(format!("{}: {e}", self.path(p).display())))?;
        Ok(c)
    }

    /// The signing key and its certificate (checked to belong together and meet the eIDAS rules).
    pub fn signing_key(&self) -> Result<(PrivateKey, Certificate), ConfigError> {
        let key = PrivateKey::load(&self.read(&self.keys.signing_key)?).map_err(|e| {
            ConfigError::Invalid(format!(
                "{}: {e}",
                self.path(&self.keys.signing_key).display()
            ))
        })?;
        let cert = self.cert(&self.keys.signing_cert)?;
        if cert.public_key() != key.public_key() {
            return Err(ConfigError::Invalid(
                "keys.signing_cert does not belong to keys.signing_key".into(),
            ));
        }
        Ok((key, cert))
    }

    /// The URL of an endpoint path, e.g. `/ps/metadata`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.node.public_url.trim_end_matches('/'))
    }

    /// Our metadata for `role`.
    pub fn our_metadata(&self, role: Role) -> Result<OurMetadata, ConfigError> {
        let (_, signing) = self.signing_key()?;
        let mut signing_certificates = vec![signing];
        for p in &self.keys.extra_signing_certs {
            signing_certificates.push(self.cert(p)?);
        }
        let mut encryption_certificates = Vec::new();
        if role == Role::Connector {
            let main = self.keys.encryption_cert.as_ref().ok_or_else(|| {
                ConfigError::Invalid("the Connector needs keys.encryption_cert".into())
            })?;
            encryption_certificates.push(self.cert(main)?);
            for p in &self.keys.extra_encryption_certs {
                encryption_certificates.push(self.cert(p)?);
            }
        }
        let (metadata_path, endpoint) = match role {
            Role::ProxyService => ("/ps/metadata", "/ps/sso"),
            Role::Connector => ("/connector/metadata", "/connector/acs"),
        };
        Ok(OurMetadata {
            role,
            entity_id: self.url(metadata_path),
            node_country: self.node.country.clone(),
            endpoint: self.url(endpoint),
            signing_certificates,
            encryption_certificates,
            loas: self.proxy_service.loas.clone(),
            attributes: self.proxy_service.attributes.clone(),
            sp_type: self.connector.sp_type.clone(),
            requester_id_demanded: self.proxy_service.requester_id_demanded,
            protocol_versions: self.metadata.protocol_versions.clone(),
            application_identifier: self.metadata.application_identifier.clone(),
            organization: Organization {
                name: self.organization.name.clone(),
                display_name: self.organization.display_name.clone(),
                url: self.organization.url.clone(),
            },
            contacts: self
                .contacts
                .iter()
                .map(|c| ContactPerson {
                    contact_type: c.contact_type.clone(),
                    company: c.company.clone(),
                    given_name: c.given_name.clone(),
                    surname: c.surname.clone(),
                    email: c.email.clone(),
                    phone: c.phone.clone(),
                })
                .collect(),
            valid_for: time::Duration::hours(i64::from(self.metadata.valid_for_hours)),
        })
    }
}

//! The `eidas-node` command line: the node itself (`demo`, later `serve`) and the operator and
//! auditor tools (`xml …`, `keys …`). Results go to stdout, reasons and warnings to stderr; exit 0
//! for success, 1 for a refusal, 2 for a usage error.

use anyhow::{Context, Result, anyhow};
use clap::{Args, Parser, Subcommand};
use eidas_node::crypto::alg::SignatureAlgorithm;
use eidas_node::crypto::generate::{KeyKind, generate};
use eidas_node::crypto::{
    Certificate, CryptoError, KeyPolicy, PrivateKey, PublicKey, SoftwareSigner,
};
use eidas_node::xml::{self, Document, Limits, NodeId};
use eidas_node::xmlsec::c14n::{self, Method};
use eidas_node::xmlsec::{dsig, enc, ns};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "eidas-node",
    version,
    about = "Norway's eIDAS node: Proxy-Service and Connector"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything on loopback with built-in test peers, ready in a browser.
    Demo(DemoArgs),
    /// Run the node with a configuration file.
    Serve(ServeArgs),
    /// XML security tools (canonicalize, verify, sign, encrypt, decrypt), like xmlsec1's.
    #[command(subcommand)]
    Xml(XmlCommand),
    /// Key management.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// SAML metadata: check a peer's against the eIDAS profile.
    #[command(subcommand)]
    Metadata(MetadataCommand),
    /// SAML messages: an auditor's view.
    #[command(subcommand)]
    Saml(SamlCommand),
    /// Audit a node against the eIDAS conformance catalogue (conformance/checks.toml).
    #[command(subcommand)]
    Conformance(ConformanceCommand),
}

#[derive(Subcommand)]
enum ConformanceCommand {
    /// Audit a Proxy-Service, acting as a test Connector.
    Ps(ConformanceArgs),
    /// Audit a Connector: its metadata; the request and Response checks are listed as manual.
    Connector(ConnectorConformanceArgs),
}

#[derive(Args)]
struct ConnectorConformanceArgs {
    /// The target's metadata URL (its entityID).
    #[arg(long)]
    metadata: String,
    /// PEM file(s) with the certificates that may sign the target's metadata.
    #[arg(long = "trust-anchor")]
    trust_anchors: Vec<PathBuf>,
    /// PEM file(s) with TLS roots to trust for the target instead of the platform's.
    #[arg(long = "tls-root")]
    tls_roots: Vec<PathBuf>,
    /// Allow plain http:// to a loopback target.
    #[arg(long)]
    allow_loopback_http: bool,
    /// Where the reports go: report.json, report.junit.xml, report.html.
    #[arg(long, default_value = "eidas-conformance-report")]
    out: PathBuf,
    /// Where a login starts at the target's relying-party side (a page to walk). With it, the
    /// runner plays a test Proxy-Service the target trusts and runs the G and H checks.
    #[arg(long)]
    start: Option<String>,
    /// Where the test Proxy-Service listens.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// The test Proxy-Service's public base URL, if not http://<listen>.
    #[arg(long)]
    public_url: Option<String>,
    /// The test Proxy-Service's key: <dir>/ps-signing (made on first use).
    #[arg(long, default_value = "eidas-conformance-keys")]
    keys: PathBuf,
    /// The test Proxy-Service's country, as the target lists it.
    #[arg(long, default_value = "XC")]
    country: String,
    /// Text on the relying party's last page that means the person is logged in (an OIDC
    /// `code` on the way counts too).
    #[arg(long, default_value = "Logged in")]
    success_marker: String,
    /// Only make the key, print the test Proxy-Service's URL and certificate, and serve its
    /// metadata until Ctrl-C.
    #[arg(long)]
    prepare: bool,
}

#[derive(Args)]
struct ConformanceArgs {
    /// The target's metadata URL (its entityID).
    #[arg(long)]
    metadata: String,
    /// PEM file(s) with the certificates that may sign the target's metadata.
    #[arg(long = "trust-anchor")]
    trust_anchors: Vec<PathBuf>,
    /// PEM file(s) with TLS roots to trust for the target instead of the platform's.
    #[arg(long = "tls-root")]
    tls_roots: Vec<PathBuf>,
    /// Allow plain http:// to a loopback target (a demo on this machine).
    #[arg(long)]
    allow_loopback_http: bool,
    /// Where the test Connector listens (its metadata is served from here).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// The test Connector's public base URL, if not http://<listen>.
    #[arg(long)]
    public_url: Option<String>,
    /// The test Connector's keys: <dir>/signing and <dir>/encryption (made on first use).
    #[arg(long, default_value = "eidas-conformance-keys")]
    keys: PathBuf,
    /// The test Connector's country (second part of the PersonIdentifiers it receives).
    #[arg(long, default_value = "XC")]
    country: String,
    /// Where the reports go: report.json, report.junit.xml, report.html.
    #[arg(long, default_value = "eidas-conformance-report")]
    out: PathBuf,
    /// Do not drive the target's scripted test login (the positive flow is then skipped).
    #[arg(long)]
    no_login: bool,
    /// Only make the keys, print the test Connector's URL and certificate, and serve its
    /// metadata until Ctrl-C (so the target's operator can trust it before the audit).
    #[arg(long)]
    prepare: bool,
}

#[derive(Subcommand)]
enum SamlCommand {
    /// Verify, decrypt and check one AuthnRequest or Response against the eIDAS rules; prints
    /// the content and each finding with its rule id. Exit 0 when there is no MUST finding.
    Check(SamlCheckArgs),
}

#[derive(Args)]
struct SamlCheckArgs {
    /// Certificate or public key trusted for the signatures (PEM or DER); may be repeated.
    #[arg(long = "trusted-key", value_name = "FILE")]
    trusted_keys: Vec<PathBuf>,
    /// Private key to decrypt the assertion with (PEM or DER); may be repeated.
    #[arg(long = "decrypt-key", value_name = "PEM")]
    decrypt_keys: Vec<PathBuf>,
    /// ps: a message a Proxy-Service receives (AuthnRequest); connector: one a Connector
    /// receives (Response).
    #[arg(long, value_parser = ["ps", "connector"])]
    role: Option<String>,
    /// Judge validity at this instant (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    file: PathBuf,
}

#[derive(Subcommand)]
enum MetadataCommand {
    /// Print our own signed metadata for a role, as the node publishes it.
    Show(MetadataShowArgs),
    /// Check metadata against the eIDAS profile (eidas.md §7 A-C); one finding a line with its
    /// rule id. Exit 0 when there is no MUST finding, 1 otherwise.
    Verify(MetadataVerifyArgs),
}

#[derive(Args)]
struct MetadataShowArgs {
    /// ps (Proxy-Service) or connector.
    #[arg(long, value_parser = ["ps", "connector"])]
    role: String,
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

#[derive(Args)]
struct MetadataVerifyArgs {
    /// Certificate trusted for the metadata signature (PEM or DER); may be given several times.
    #[arg(long = "trust-anchor", value_name = "PEM")]
    trust_anchors: Vec<PathBuf>,
    /// Judge validity at this instant (RFC 3339) instead of now.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// The metadata file, or an https URL to fetch it from (then entityID must equal the URL).
    source: String,
}

#[derive(Args)]
struct DemoArgs {
    /// Where the demo keeps its keys and configuration (made on first run).
    #[arg(long, default_value = "eidas-node-demo")]
    data_dir: PathBuf,
    /// Loopback address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Serve HTTPS on https://localhost:<port>, with a certificate made on first run in
    /// <data-dir>/keys/tls (trust it with the tools' --tls-root).
    #[arg(long)]
    tls: bool,
    /// Trust one more foreign Connector: COUNTRY,METADATA_URL,CERT_PEM (e.g. a conformance
    /// runner's test Connector).
    #[arg(long = "trust-connector", value_name = "CC,URL,PEM")]
    trust_connectors: Vec<String>,
    /// Offer one more country to the Connector: COUNTRY,METADATA_URL,CERT_PEM (e.g. a
    /// conformance runner's test Proxy-Service).
    #[arg(long = "trust-proxy-service", value_name = "CC,URL,PEM")]
    trust_proxy_services: Vec<String>,
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

#[derive(Subcommand)]
enum XmlCommand {
    /// Print the exclusive C14N of a document or of one element.
    C14n(C14nArgs),
    /// Verify an enveloped signature with a trusted key; exit 0 when valid, 1 when not.
    Verify(VerifyArgs),
    /// Add an enveloped signature over one element.
    Sign(SignArgs),
    /// Replace one element by an xenc:EncryptedData for a recipient certificate.
    Encrypt(EncryptArgs),
    /// Decrypt the (first) xenc:EncryptedData and print the document with the plaintext in place.
    Decrypt(DecryptArgs),
}

#[derive(Args)]
struct C14nArgs {
    /// Keep comments (exc-c14n#WithComments).
    #[arg(long)]
    with_comments: bool,
    /// InclusiveNamespaces PrefixList, e.g. "p1 p2 #default".
    #[arg(long, value_name = "PREFIXES")]
    inclusive_prefixes: Option<String>,
    /// Inclusive C14N 1.0 instead of exclusive (for comparing documents).
    #[arg(long, conflicts_with = "inclusive_prefixes")]
    inclusive: bool,
    /// Canonicalize the element with this ID (ID, Id or id attribute).
    #[arg(long, value_name = "ID", conflicts_with = "element")]
    element_id: Option<String>,
    /// Canonicalize the first element with this expanded name, '{namespace-uri}local'.
    #[arg(long, value_name = "NAME")]
    element: Option<String>,
    file: PathBuf,
}

#[derive(Args)]
struct VerifyArgs {
    /// Trusted certificate or public key (PEM or DER); may be given several times.
    #[arg(long = "trusted-key", value_name = "FILE", required = true)]
    trusted_keys: Vec<PathBuf>,
    /// Also allow a whole-document Reference URI="" (same narrow transforms).
    #[arg(long)]
    any_reference: bool,
    /// Verify the signature of the element with this ID (default: the signed element).
    #[arg(long, value_name = "ID")]
    element_id: Option<String>,
    /// Accept RSA PKCS#1 v1.5 signatures (outside the eIDAS profile).
    #[arg(long)]
    allow_legacy_rsa: bool,
    file: PathBuf,
}

#[derive(Args)]
struct SignArgs {
    /// Private key (PEM or DER; PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM")]
    key: PathBuf,
    /// Certificate of the key, put in KeyInfo.
    #[arg(long, value_name = "PEM")]
    cert: PathBuf,
    #[arg(long, value_name = "ID")]
    element_id: String,
    /// Signature algorithm URI (default: RSASSA-PSS SHA-256 for RSA, ECDSA with the curve's hash).
    #[arg(long, value_name = "URI")]
    alg: Option<String>,
    file: PathBuf,
}

#[derive(Args)]
struct EncryptArgs {
    /// Recipient certificate (RSA: RSA-OAEP; EC: ECDH-ES + ConcatKDF + kw-aes256).
    #[arg(long, value_name = "PEM")]
    cert: PathBuf,
    #[arg(long, value_name = "ID")]
    element_id: String,
    /// Content encryption: aes128-gcm, aes192-gcm or aes256-gcm.
    #[arg(long, default_value = "aes256-gcm")]
    content: String,
    file: PathBuf,
}

#[derive(Args)]
struct DecryptArgs {
    /// Private key (PEM or DER; PKCS#8, PKCS#1 or SEC1); may be given several times.
    #[arg(long = "key", value_name = "FILE", required = true)]
    keys: Vec<PathBuf>,
    file: PathBuf,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a key and a self-signed certificate (key.pem, cert.pem).
    Generate(GenerateArgs),
}

#[derive(Args)]
struct GenerateArgs {
    /// ec-p256, ec-p384, ec-p521, rsa-3072 or rsa-4096.
    #[arg(long)]
    kind: String,
    /// Subject country (C=), two letters.
    #[arg(long)]
    country: String,
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Subject common name.
    #[arg(long, default_value = "eidas-node")]
    cn: String,
    /// Validity in days.
    #[arg(long, default_value_t = 730)]
    days: u32,
}

/// A refusal (exit 1) as opposed to a usage error (exit 2).
#[derive(Debug)]
struct Refused(String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refused(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(Refused(e.to_string()))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => demo(a),
        Command::Serve(a) => serve(a),
        Command::Xml(x) => match x {
            XmlCommand::C14n(a) => xml_c14n(a),
            XmlCommand::Verify(a) => xml_verify(a),
            XmlCommand::Sign(a) => xml_sign(a),
            XmlCommand::Encrypt(a) => xml_encrypt(a),
            XmlCommand::Decrypt(a) => xml_decrypt(a),
        },
        Command::Keys(KeysCommand::Generate(a)) => keys_generate(a),
        Command::Metadata(MetadataCommand::Verify(a)) => metadata_verify(a),
        Command::Metadata(MetadataCommand::Show(a)) => metadata_show(a),
        Command::Saml(SamlCommand::Check(a)) => saml_check(a),
        Command::Conformance(ConformanceCommand::Ps(a)) => conformance_ps(a),
        Command::Conformance(ConformanceCommand::Connector(a)) => conformance_connector(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Refused>().is_some() => {
            eprintln!("refused: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run_server(
    config: eidas_node::config::Config,
    listener: std::net::TcpListener,
    banner: Option<String>,
) -> Result<()> {
    run_server_with(config, listener, banner, axum::Router::new(), None)
}

/// TLS in front of the demo (`demo --tls`). The node itself runs behind a TLS terminator; this
/// is for trying peers and the conformance suite against the demo. The handshake happens in
/// `accept`, one connection at a time: enough for a loopback demo, not for a service.
struct DemoTlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for DemoTlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.tcp.accept().await {
                Ok(x) => x,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let handshake = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                self.acceptor.accept(stream),
            );
            if let Ok(Ok(tls)) = handshake.await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

fn tls_acceptor(cert_pem: &[u8], key_pem: &[u8]) -> Result<tokio_rustls::TlsAcceptor> {
    let cert = eidas_node::crypto::Certificate::load(cert_pem).map_err(|e| anyhow!("{e}"))?;
    let key = PrivateKey::load(key_pem).map_err(|e| anyhow!("{e}"))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(
        vec![rustls_pki_types::CertificateDer::from(cert.der().to_vec())],
        rustls_pki_types::PrivateKeyDer::Pkcs8(key.pkcs8_der().to_vec().into()),
    )?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serve the node, with `extra` routes beside it (the demo's peers).
fn run_server_with(
    config: eidas_node::config::Config,
    listener: std::net::TcpListener,
    banner: Option<String>,
    extra: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<()> {
    let (key, cert) = config.signing_key()?;
    let signer = SoftwareSigner::new(key, None, Some(cert)).map_err(|e| anyhow!("{e}"))?;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EIDAS_NODE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let state = eidas_node::web::AppState::new(
        Arc::new(config),
        Arc::new(signer),
        Arc::new(eidas_node::clock::SystemClock),
    )?
    .with_runtime()
    .map_err(|e| anyhow!("{e}"))?;
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        if let Some(b) = banner {
            println!("{b}");
        }
        let app = eidas_node::web::router(Arc::new(state)).merge(extra);
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match tls {
            Some(acceptor) => {
                axum::serve(
                    DemoTlsListener {
                        tcp: listener,
                        acceptor,
                    },
                    app,
                )
                .with_graceful_shutdown(stop)
                .await
            }
            None => {
                axum::serve(listener, app)
                    .with_graceful_shutdown(stop)
                    .await
            }
        }
    })?;
    Ok(())
}

fn serve(a: ServeArgs) -> Result<()> {
    let config = eidas_node::config::Config::load(&a.config)?;
    let listener = std::net::TcpListener::bind(&config.server.listen)
        .with_context(|| format!("cannot listen on {}", config.server.listen))?;
    let banner = format!(
        "eidas-node listening on {} ({})",
        listener.local_addr()?,
        config.node.public_url
    );
    run_server(config, listener, Some(banner))
}

/// The demo: keys generated on first run into the data directory, a configuration written next
/// to them, everything on loopback.
fn demo(a: DemoArgs) -> Result<()> {
    let listener = std::net::TcpListener::bind(&a.listen)
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    let addr = listener.local_addr()?;
    if !addr.ip().is_loopback() {
        return Err(anyhow!("the demo listens on loopback only"));
    }
    let base = if a.tls {
        format!("https://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    };
    let dir = &a.data_dir;
    std::fs::create_dir_all(dir.join("keys"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    if a.tls && !dir.join("keys/tls/cert.pem").exists() {
        // A self-signed certificate for localhost and 127.0.0.1.
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])?
            .self_signed(&key)?;
        std::fs::create_dir_all(dir.join("keys/tls"))?;
        write_new(
            &dir.join("keys/tls/key.pem"),
            key.serialize_pem().as_bytes(),
            0o600,
        )?;
        write_new(&dir.join("keys/tls/cert.pem"), cert.pem().as_bytes(), 0o644)?;
    }
    // Extra peers from the command line: [[peer]] entries for the configuration.
    let mut extra_peers = String::new();
    for (role, list) in [
        ("connector", &a.trust_connectors),
        ("proxy_service", &a.trust_proxy_services),
    ] {
        for spec in list {
            let parts: Vec<&str> = spec.splitn(3, ',').collect();
            let [cc, url, pem] = parts.as_slice() else {
                return Err(anyhow!(
                    "--trust-{}: give COUNTRY,METADATA_URL,CERT_PEM",
                    role.replace('_', "-")
                ));
            };
            // Written into the configuration: only what needs no TOML escaping gets there.
            let plain = |v: &str| !v.chars().any(|c| c == '"' || c == '\\' || c.is_control());
            if cc.len() != 2 || !cc.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(anyhow!(
                    "--trust-…: {cc:?} is not a two-letter country code"
                ));
            }
            if !plain(url) || !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(anyhow!("--trust-…: {url:?} is not a metadata URL"));
            }
            let pem = std::fs::canonicalize(pem)
                .with_context(|| format!("--trust-…: cannot read {pem}"))?;
            let pem = pem.display().to_string();
            if !plain(&pem) {
                return Err(anyhow!(
                    "--trust-…: the certificate path {pem:?} cannot be written"
                ));
            }
            extra_peers.push_str(&format!(
                "[[peer]]\ncountry = \"{cc}\"\nrole = \"{role}\"\nmetadata_url = \"{url}\"\ntrust_anchors = [\"{pem}\"]\n\n"
            ));
        }
    }
    let tls_roots = if a.tls {
        "tls_roots = [\"keys/tls/cert.pem\"]\n"
    } else {
        ""
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    // Our node's keys, the demo country XE's, and our client key at the test ID-porten.
    for (name, kind, cn) in [
        ("signing", KeyKind::EcP256, "eidas-node demo signing"),
        ("encryption", KeyKind::EcP256, "eidas-node demo encryption"),
        (
            "idporten-client",
            KeyKind::EcP256,
            "eidas-node demo ID-porten client",
        ),
        ("rp-client", KeyKind::EcP256, "demo Norwegian service"),
        ("xe-signing", KeyKind::EcP256, "demo country XE signing"),
        (
            "xe-encryption",
            KeyKind::EcP256,
            "demo country XE encryption",
        ),
    ] {
        let key_dir = dir.join("keys").join(name);
        if !key_dir.join("key.pem").exists() {
            let country = if name.starts_with("xe-") { "XE" } else { "NO" };
            let g = generate(kind, cn, country, now - 60, 365).map_err(|e| anyhow!("{e}"))?;
            std::fs::create_dir_all(&key_dir)?;
            write_new(
                &key_dir.join("key.pem"),
                g.key.pkcs8_pem().as_bytes(),
                0o600,
            )?;
            write_new(&key_dir.join("cert.pem"), g.cert.to_pem().as_bytes(), 0o644)?;
        }
    }
    let register_path = dir.join("synthetic-register.toml");
    if !register_path.exists() {
        write_new(&register_path, DEMO_REGISTER.as_bytes(), 0o644)?;
    }
    let matches_path = dir.join("identity-matches.toml");
    if !matches_path.exists() {
        write_new(&matches_path, DEMO_MATCHES.as_bytes(), 0o644)?;
    }
    let config_path = dir.join("eidas-node.toml");
    std::fs::write(
        &config_path,
        format!(
            "# Written by `eidas-node demo` on every start; the keys beside it are kept.\n\
[node]\npublic_url = \"{base}\"\ncountry = \"NO\"\ndata_dir = \"data\"\n\n\
[server]\nlisten = \"{addr}\"\n\n\
[keys]\nsigning_key = \"keys/signing/key.pem\"\nsigning_cert = \"keys/signing/cert.pem\"\n\
encryption_key = \"keys/encryption/key.pem\"\nencryption_cert = \"keys/encryption/cert.pem\"\n\n\
[proxy_service]\naccept_synthetic_numbers = true\n\n\
[idporten]\nissuer = \"{base}/test-idporten\"\nclient_id = \"eidas-node-demo\"\n\
client_key = \"keys/idporten-client/key.pem\"\nallow_loopback_http = true\n\n\
[register]\nkind = \"synthetic\"\npath = \"synthetic-register.toml\"\n\n\
[metadata_fetch]\nallow_loopback_http = true\n{tls_roots}\n{extra_peers}\
[[peer]]\ncountry = \"XE\"\nrole = \"connector\"\nmetadata_url = \"{base}/xe/metadata\"\n\
trust_anchors = [\"keys/xe-signing/cert.pem\"]\n\n\
[[peer]]\ncountry = \"XE\"\nrole = \"proxy_service\"\nmetadata_url = \"{base}/xe/ps/metadata\"\n\
trust_anchors = [\"keys/xe-signing/cert.pem\"]\n\n\
[connector]\nmatching = \"file\"\nmatching_file = \"identity-matches.toml\"\naccept_synthetic_numbers = true\n\n\
[oidc_provider]\n\n\
[[oidc_provider.client]]\nclient_id = \"demo-service\"\nredirect_uris = [\"{base}/rp/callback\"]\n\
public_key = \"keys/rp-client/cert.pem\"\nattributes = [\"PlaceOfBirth\"]\n\n\
[organization]\nname = \"eidas-node demo\"\ndisplay_name = \"eidas-node demo\"\nurl = \"{base}\"\n\n\
[[contact]]\ntype = \"support\"\ncompany = \"eidas-node demo\"\nemail = \"support@example.invalid\"\n\n\
[[contact]]\ntype = \"technical\"\ncompany = \"eidas-node demo\"\nemail = \"technical@example.invalid\"\n"
        ),
    )?;
    let config = eidas_node::config::Config::load(&config_path)?;
    let banner = format!(
        "eidas-node demo on {base}  (keys and configuration in {})\n\
\x20 Open {base}/xe to log in to the demo country XE's service with a Norwegian test eID:\n\
\x20 XE sends an eIDAS request to our Proxy-Service, you pick a synthetic person at the test\n\
\x20 ID-porten ({base}/test-idporten), approve what is sent, and XE shows what it received.\n\
\x20 Proxy-Service metadata: {base}/ps/metadata\n\
\x20 Connector metadata:     {base}/connector/metadata\n\
\x20 Open {base}/rp to log in to the demo Norwegian service with the demo country XE's eID:\n\
\x20 our Connector shows the country list, XE's Proxy-Service lets you pick a test person,\n\
\x20 and the service shows the claims of the ID token it received.\n\
\x20 OpenID provider:        {base}/.well-known/openid-configuration\n\
\x20 health:                 {base}/healthz\n\
{tls_line}Stop with Ctrl-C.",
        dir.display(),
        tls_line = if a.tls {
            format!(
                "\x20 TLS certificate (trust it as the root): {}\n",
                dir.join("keys/tls/cert.pem").display()
            )
        } else {
            String::new()
        }
    );
    let extra = demo_peers(&config, &base, dir)?;
    let tls = if a.tls {
        Some(tls_acceptor(
            &read(&dir.join("keys/tls/cert.pem"))?,
            &read(&dir.join("keys/tls/key.pem"))?,
        )?)
    } else {
        None
    };
    run_server_with(config, listener, Some(banner), extra, tls)
}

/// The demo's identity matches (foreign identifier → synthetic Norwegian number).
const DEMO_MATCHES: &str = include_str!("connector/testdata/identity-matches.toml");

/// The demo's synthetic population register (the same persons the tests use).
const DEMO_REGISTER: &str = include_str!("register/testdata/synthetic-register.toml");

/// The test ID-porten and the demo country XE, served beside the node.
fn demo_peers(config: &eidas_node::config::Config, base: &str, dir: &Path) -> Result<axum::Router> {
    use eidas_node::crypto::{Certificate, PrivateKey};
    use eidas_node::test_idporten::{TestClient, TestClientAuth, TestIdPorten, TestPerson};
    let clock: Arc<dyn eidas_node::clock::Clock> = Arc::new(eidas_node::clock::SystemClock);
    let key = |name: &str| -> Result<PrivateKey> {
        PrivateKey::load(&read(&dir.join("keys").join(name).join("key.pem"))?)
            .map_err(|e| anyhow!("{e}"))
    };
    let cert = |name: &str| -> Result<Certificate> {
        Certificate::load(&read(&dir.join("keys").join(name).join("cert.pem"))?)
            .map_err(|e| anyhow!("{e}"))
    };
    let client_public = key("idporten-client")?.public_key().clone();
    let spki_pem = eidas_node::crypto::pem::encode("PUBLIC KEY", client_public.spki_der());
    let register = eidas_node::register::SyntheticRegister::from_toml_str(DEMO_REGISTER)
        .map_err(|e| anyhow!("{e}"))?;
    let persons = register
        .persons()
        .map(|(n, p)| TestPerson {
            pid: n.as_str().to_string(),
            label: format!(
                "{} {}{}",
                p.given_names,
                p.family_name,
                if p.birth_date.is_none() {
                    " (no birth date in the register)"
                } else {
                    ""
                }
            ),
        })
        .collect();
    let idp = TestIdPorten::new(
        &format!("{base}/test-idporten"),
        vec![TestClient {
            client_id: "eidas-node-demo".into(),
            redirect_uris: vec![config.url("/ps/callback")],
            auth: TestClientAuth::PrivateKeyJwt(
                jsonwebtoken::DecodingKey::from_ec_pem(spki_pem.as_bytes())
                    .map_err(|e| anyhow!("{e}"))?,
            ),
        }],
        persons,
        clock.clone(),
    )
    .map_err(|e| anyhow!("{e}"))?;
    let (our_key, ps_cert) = config.signing_key()?;
    let our_signer =
        SoftwareSigner::new(our_key, None, Some(ps_cert.clone())).map_err(|e| anyhow!("{e}"))?;
    let connector_md = config
        .our_metadata(eidas_node::metadata::ours::Role::Connector)?
        .to_signed_xml(clock.now(), &our_signer)
        .map_err(|e| anyhow!("{e}"))?;
    let xe_ps = eidas_node::demo_proxy_service::DemoProxyService::new(
        "XE",
        &format!("{base}/xe/ps"),
        false,
        key("xe-signing")?,
        cert("xe-signing")?,
        &connector_md,
        std::slice::from_ref(&ps_cert),
        eidas_node::demo_proxy_service::demo_persons(),
        clock.clone(),
    )
    .map_err(|e| anyhow!("{e}"))?;
    let rp_client = eidas_node::oidc::client::IdPortenClient::new(
        eidas_node::oidc::client::ClientSettings {
            issuer: base.to_string(),
            client_id: "demo-service".into(),
            redirect_uri: format!("{base}/rp/callback"),
            auth: eidas_node::oidc::client::ClientAuth::private_key_jwt(
                &read(&dir.join("keys/rp-client/key.pem"))?,
                None,
            )
            .map_err(|e| anyhow!("{e}"))?,
            par: true,
            scope: "openid profile eidas".into(),
            loa: eidas_node::demo_rp::eidas_loa_mapping(),
            timeout: std::time::Duration::from_secs(10),
            clock_skew: time::Duration::seconds(30),
            allow_loopback_http: true,
        },
        clock.clone(),
        &demo_tls_roots(base, dir)?,
    )
    .map_err(|e| anyhow!("{e}"))?;
    let rp = eidas_node::demo_rp::DemoRelyingParty::new(&format!("{base}/rp"), rp_client);
    let xe = eidas_node::demo_country::DemoCountry::new(
        &format!("{base}/xe"),
        &config.url("/ps/sso"),
        &config.url("/ps/metadata"),
        ps_cert,
        key("xe-signing")?,
        cert("xe-signing")?,
        key("xe-encryption")?,
        cert("xe-encryption")?,
        clock,
    )
    .map_err(|e| anyhow!("{e}"))?;
    Ok(axum::Router::new()
        .nest(
            "/test-idporten",
            eidas_node::test_idporten::router(Arc::new(idp)),
        )
        .nest(
            "/xe/ps",
            eidas_node::demo_proxy_service::router(Arc::new(xe_ps)),
        )
        .nest("/rp", eidas_node::demo_rp::router(Arc::new(rp)))
        .nest("/xe", eidas_node::demo_country::router(Arc::new(xe))))
}

/// With `demo --tls`, the demo's own certificate is the root its demo service trusts.
fn demo_tls_roots(base: &str, dir: &Path) -> Result<Vec<eidas_node::crypto::Certificate>> {
    if !base.starts_with("https://") {
        return Ok(vec![]);
    }
    eidas_node::crypto::Certificate::load_all(&read(&dir.join("keys/tls/cert.pem"))?)
        .map_err(|e| anyhow!("{e}"))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn parse_doc(path: &Path) -> Result<Document> {
    xml::parse(&read(path)?, &Limits::default())
        .map_err(|e| refused(format!("{}: {e}", path.display())))
}

fn warn_policy(what: &str, key: &PublicKey) {
    if let Err(e) = key.check_policy(&KeyPolicy::EIDAS) {
        eprintln!("warning: {what}: {e}");
    }
}

fn element_by_id(doc: &Document, id: &str) -> Result<NodeId> {
    let mut found = doc.elements_with_id(id);
    match (found.next(), found.next()) {
        (Some(e), None) => Ok(e.id()),
        (None, _) => Err(refused(format!("no element with ID {id:?}"))),
        (Some(_), Some(_)) => Err(refused(format!("ID {id:?} occurs more than once"))),
    }
}

fn element_by_name(doc: &Document, name: &str) -> Result<NodeId> {
    let (ns, local) = match name.strip_prefix('{') {
        Some(rest) => {
            let (ns, local) = rest
                .split_once('}')
                .ok_or_else(|| anyhow!("--element takes '{{namespace-uri}}local'"))?;
            (Some(ns), local)
        }
        None => (None, name),
    };
    doc.elements()
        .find(|e| e.local() == local && e.ns() == ns)
        .map(|e| e.id())
        .ok_or_else(|| refused(format!("no element {name}")))
}

fn xml_c14n(a: C14nArgs) -> Result<()> {
    let doc = parse_doc(&a.file)?;
    let apex = match (&a.element_id, &a.element) {
        (Some(id), _) => Some(element_by_id(&doc, id)?),
        (None, Some(name)) => Some(element_by_name(&doc, name)?),
        (None, None) => None,
    };
    let opts = c14n::Options {
        method: if a.inclusive {
            Method::Inclusive
        } else {
            Method::Exclusive
        },
        with_comments: a.with_comments,
        inclusive_prefixes: a
            .inclusive_prefixes
            .as_deref()
            .unwrap_or("")
            .split_ascii_whitespace()
            .map(str::to_string)
            .collect(),
    };
    let out = c14n::canonicalize(&doc, apex, None, &opts);
    std::io::stdout().write_all(&out)?;
    Ok(())
}

fn xml_verify(a: VerifyArgs) -> Result<()> {
    let mut keys = Vec::new();
    for p in &a.trusted_keys {
        let key = PublicKey::load(&read(p)?).map_err(|e| match e {
            // A key of a kind the profile does not know is a refusal, not a usage error.
            CryptoError::UnsupportedKey(_) => refused(format!("{}: {e}", p.display())),
            _ => anyhow!("{}: {e}", p.display()),
        })?;
        warn_policy(&p.display().to_string(), &key);
        keys.push(key);
    }
    let doc = parse_doc(&a.file)?;
    let element = match &a.element_id {
        Some(id) => element_by_id(&doc, id)?,
        None => dsig::find_signed_element(&doc).map_err(refused)?,
    };
    let opts = dsig::VerifyOptions {
        allow_legacy_rsa: a.allow_legacy_rsa,
        allow_whole_document: a.any_reference,
    };
    let v = dsig::verify_element(&doc, element, &keys, &opts).map_err(refused)?;
    let e = v.element();
    println!(
        "OK: {} {} signed with {} (digest {}) by trusted key {}",
        e.expanded_name(),
        e.id_value()
            .map(|i| format!("ID={i}"))
            .unwrap_or_else(|| "(document)".into()),
        v.algorithm().uri(),
        v.digest_algorithm().uri(),
        a.trusted_keys[v.key_index()].display()
    );
    Ok(())
}

fn xml_sign(a: SignArgs) -> Result<()> {
    let key = PrivateKey::load(&read(&a.key)?).map_err(|e| anyhow!("{}: {e}", a.key.display()))?;
    let cert =
        Certificate::load(&read(&a.cert)?).map_err(|e| anyhow!("{}: {e}", a.cert.display()))?;
    warn_policy(&a.key.display().to_string(), key.public_key());
    let alg = match &a.alg {
        Some(u) => Some(SignatureAlgorithm::from_uri(u, false).map_err(|e| anyhow!("--alg: {e}"))?),
        None => None,
    };
    let signer = SoftwareSigner::new(key, alg, Some(cert)).map_err(|e| anyhow!("{e}"))?;
    let doc = parse_doc(&a.file)?;
    let element = element_by_id(&doc, &a.element_id)?;
    let out = dsig::sign_element(&doc, element, &signer).map_err(refused)?;
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(())
}

fn xml_encrypt(a: EncryptArgs) -> Result<()> {
    let cert =
        Certificate::load(&read(&a.cert)?).map_err(|e| anyhow!("{}: {e}", a.cert.display()))?;
    warn_policy(&a.cert.display().to_string(), cert.public_key());
    let content = eidas_node::crypto::alg::ContentEncryption::from_uri(&format!(
        "http://www.w3.org/2009/xmlenc11#{}",
        a.content
    ))
    .map_err(|e| anyhow!("--content: {e}"))?;
    let doc = parse_doc(&a.file)?;
    let element = element_by_id(&doc, &a.element_id)?;
    let opts = enc::EncryptOptions {
        content,
        transport: None,
    };
    let out = enc::encrypt_element(&doc, element, &cert, &opts).map_err(refused)?;
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(())
}

fn xml_decrypt(a: DecryptArgs) -> Result<()> {
    let mut keys = Vec::new();
    for p in &a.keys {
        let key = PrivateKey::load(&read(p)?).map_err(|e| anyhow!("{}: {e}", p.display()))?;
        warn_policy(&p.display().to_string(), key.public_key());
        keys.push(key);
    }
    let doc = parse_doc(&a.file)?;
    let ed = doc
        .elements()
        .find(|e| e.is(ns::XENC, "EncryptedData"))
        .ok_or_else(|| refused("no xenc:EncryptedData in the document"))?;
    let out = enc::decrypt_in_place(&doc, ed.id(), &keys, &Limits::default()).map_err(refused)?;
    std::io::stdout().write_all(out.as_bytes())?;
    Ok(())
}

fn keys_generate(a: GenerateArgs) -> Result<()> {
    let kind = KeyKind::parse(&a.kind)
        .ok_or_else(|| anyhow!("--kind must be ec-p256, ec-p384, ec-p521, rsa-3072 or rsa-4096"))?;
    if a.country.len() != 2 || !a.country.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(anyhow!("--country takes two capital letters, e.g. NO"));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let g = generate(kind, &a.cn, &a.country, now - 60, a.days).map_err(|e| anyhow!("{e}"))?;
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let key_path = a.out.join("key.pem");
    let cert_path = a.out.join("cert.pem");
    for p in [&key_path, &cert_path] {
        if p.exists() {
            return Err(anyhow!(
                "{} exists; not overwriting a key or certificate",
                p.display()
            ));
        }
    }
    write_new(&key_path, g.key.pkcs8_pem().as_bytes(), 0o600)?;
    write_new(&cert_path, g.cert.to_pem().as_bytes(), 0o644)?;
    println!(
        "{}: {} key for {}\n{}: self-signed certificate, valid {} days",
        key_path.display(),
        g.key.public_key().describe(),
        g.cert.subject(),
        cert_path.display(),
        a.days
    );
    Ok(())
}

/// Create a file that must not exist yet, with these permissions from the start.
fn write_new(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(data)?;
    Ok(())
}

fn parse_at(at: &Option<String>) -> Result<Option<time::OffsetDateTime>> {
    at.as_deref()
        .map(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .map_err(|_| anyhow!("--at takes an RFC 3339 instant, e.g. 2024-01-31T12:00:00Z"))
        })
        .transpose()
}

fn metadata_verify(a: MetadataVerifyArgs) -> Result<()> {
    use eidas_node::metadata::check::{CheckOptions, check};
    let mut anchors = Vec::new();
    for p in &a.trust_anchors {
        anchors
            .extend(Certificate::load_all(&read(p)?).map_err(|e| anyhow!("{}: {e}", p.display()))?);
    }
    let (bytes, fetched_from) =
        if a.source.starts_with("https://") || a.source.starts_with("http://") {
            use eidas_node::metadata::fetch::{FetchPolicy, download_once};
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let bytes = runtime
                .block_on(download_once(&a.source, &FetchPolicy::default(), &[]))
                .map_err(refused)?;
            (bytes, Some(a.source.clone()))
        } else {
            (read(Path::new(&a.source))?, None)
        };
    let report = check(
        &bytes,
        &CheckOptions {
            trust_anchors: anchors,
            at: parse_at(&a.at)?,
            fetched_from,
        },
    );
    for e in &report.entities {
        let role = match (&e.idp, &e.sp) {
            (Some(_), Some(_)) => "Proxy-Service and Connector",
            (Some(_), None) => "Proxy-Service",
            (None, Some(_)) => "Connector",
            (None, None) => "no role",
        };
        println!(
            "entity {} ({role}), validUntil {}",
            e.entity_id,
            e.valid_until.as_deref().unwrap_or("-")
        );
    }
    println!(
        "signature: {}",
        if report.trusted {
            "verified with a trust anchor"
        } else {
            "not verified with a trust anchor"
        }
    );
    for f in &report.findings {
        println!("{} [{}] {}", f.id, f.severity.as_str(), f.message);
    }
    if report.findings.is_empty() {
        println!("no findings");
    }
    if report.has_must() {
        return Err(refused(format!(
            "{} finding(s), {} of them MUST",
            report.findings.len(),
            report
                .findings
                .iter()
                .filter(|f| f.severity == eidas_node::metadata::check::Severity::Must)
                .count()
        )));
    }
    Ok(())
}

fn metadata_show(a: MetadataShowArgs) -> Result<()> {
    use eidas_node::metadata::ours::Role;
    let config = eidas_node::config::Config::load(&a.config)?;
    let role = if a.role == "ps" {
        Role::ProxyService
    } else {
        Role::Connector
    };
    let md = config.our_metadata(role)?;
    let (key, cert) = config.signing_key()?;
    let signer = SoftwareSigner::new(key, None, Some(cert)).map_err(|e| anyhow!("{e}"))?;
    let xml = md
        .to_signed_xml(time::OffsetDateTime::now_utc(), &signer)
        .map_err(|e| anyhow!("signing the metadata: {e}"))?;
    println!("{xml}");
    Ok(())
}

fn saml_check(a: SamlCheckArgs) -> Result<()> {
    use eidas_node::audit::{MessageCheckOptions, check_message};
    let mut trusted_keys = Vec::new();
    for p in &a.trusted_keys {
        trusted_keys.push(PublicKey::load(&read(p)?).map_err(|e| anyhow!("{}: {e}", p.display()))?);
    }
    let mut decrypt_keys = Vec::new();
    for p in &a.decrypt_keys {
        match PrivateKey::load(&read(p)?) {
            Ok(k) => decrypt_keys.push(k),
            // A key the node cannot use (Brainpool) is a finding about the message's peer, not a
            // usage error: report it and go on without it.
            Err(e @ CryptoError::UnsupportedKey(_)) => {
                eprintln!("warning: {}: {e}; not used", p.display())
            }
            Err(e) => return Err(anyhow!("{}: {e}", p.display())),
        }
    }
    let report = check_message(
        &read(&a.file)?,
        &MessageCheckOptions {
            trusted_keys,
            decrypt_keys,
            role: a.role.clone(),
            at: parse_at(&a.at)?,
        },
    );
    println!(
        "{}",
        if report.kind.is_empty() {
            "(unreadable)"
        } else {
            &report.kind
        }
    );
    for line in &report.content {
        println!("  {line}");
    }
    for f in &report.findings {
        println!("{} [{}] {}", f.id, f.severity.as_str(), f.message);
    }
    if report.findings.is_empty() {
        println!("no findings");
    }
    if report.has_must() {
        return Err(refused(format!("{} finding(s)", report.findings.len())));
    }
    Ok(())
}

/// A key pair in `dir` (key.pem, cert.pem), made when missing.
fn conformance_key(
    dir: &Path,
    cn: &str,
    country: &str,
    kind: KeyKind,
) -> Result<(PrivateKey, eidas_node::crypto::Certificate)> {
    if !dir.join("key.pem").exists() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64;
        let g = generate(kind, cn, country, now - 60, 365).map_err(|e| anyhow!("{e}"))?;
        std::fs::create_dir_all(dir)?;
        write_new(&dir.join("key.pem"), g.key.pkcs8_pem().as_bytes(), 0o600)?;
        write_new(&dir.join("cert.pem"), g.cert.to_pem().as_bytes(), 0o644)?;
    }
    let key = PrivateKey::load(&read(&dir.join("key.pem"))?).map_err(|e| anyhow!("{e}"))?;
    let cert = eidas_node::crypto::Certificate::load(&read(&dir.join("cert.pem"))?)
        .map_err(|e| anyhow!("{e}"))?;
    Ok((key, cert))
}

fn conformance_ps(a: ConformanceArgs) -> Result<()> {
    let trust_anchors = load_certs(&a.trust_anchors)?;
    let tls_roots = load_certs(&a.tls_roots)?;
    let signing = conformance_key(
        &a.keys.join("signing"),
        "eidas conformance test Connector",
        &a.country,
        KeyKind::EcP256,
    )?;
    let encryption = conformance_key(
        &a.keys.join("encryption"),
        "eidas conformance test Connector encryption",
        &a.country,
        KeyKind::EcP256,
    )?;
    // RSA-3072, published beside the signing key, for the rsa-sha256 case (E041, E045): kept
    // with the other keys, so a target that cached the metadata knows it.
    let legacy = conformance_key(
        &a.keys.join("rsa-sha256"),
        "eidas conformance test Connector (rsa-sha256)",
        &a.country,
        KeyKind::Rsa3072,
    )?;
    let listener = std::net::TcpListener::bind(&a.listen)
        .with_context(|| format!("cannot listen on {}", a.listen))?;
    listener.set_nonblocking(true)?;
    let base = a.public_url.clone().unwrap_or_else(|| {
        format!(
            "http://{}",
            listener
                .local_addr()
                .map(|x| x.to_string())
                .unwrap_or_default()
        )
    });
    let tc = Arc::new(
        eidas_node::conformance::ps::TestConnector::new(
            &base, &a.country, signing, encryption, legacy,
        )
        .map_err(|e| anyhow!("{e}"))?,
    );
    println!(
        "test Connector metadata: {}\ntest Connector signing certificate: {}",
        tc.metadata_url(),
        a.keys.join("signing/cert.pem").display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let app = eidas_node::conformance::ps::router(tc.clone());
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        if a.prepare {
            println!("serving the test Connector's metadata until Ctrl-C");
            let _ = tokio::signal::ctrl_c().await;
            server.abort();
            return Ok(());
        }
        let audit = eidas_node::conformance::ps::PsAudit {
            metadata_url: a.metadata.clone(),
            trust_anchors,
            tls_roots,
            allow_loopback_http: a.allow_loopback_http,
            connector: tc,
            login: !a.no_login,
        };
        let total = eidas_node::conformance::catalogue()
            .iter()
            .filter(|c| c.role != "connector")
            .count();
        let mut term = eidas_node::conformance::Terminal::new(
            total,
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
        );
        term.step("starting");
        let report = audit.run(&mut |r| term.finish(r)).await;
        server.abort();
        write_reports(&report, &a.out)
    })?;
    Ok(())
}

fn load_certs(paths: &[PathBuf]) -> Result<Vec<eidas_node::crypto::Certificate>> {
    let mut out = Vec::new();
    for p in paths {
        out.extend(
            eidas_node::crypto::Certificate::load_all(&read(p)?)
                .map_err(|e| anyhow!("{}: {e}", p.display()))?,
        );
    }
    Ok(out)
}

/// The three report files, a summary line, and a refusal (exit 1) when a check failed.
fn write_reports(report: &eidas_node::conformance::Report, out: &Path) -> Result<()> {
    use eidas_node::conformance::Outcome;
    std::fs::create_dir_all(out)?;
    std::fs::write(out.join("report.json"), report.to_json())?;
    std::fs::write(out.join("report.junit.xml"), report.to_junit())?;
    std::fs::write(out.join("report.html"), report.to_html())?;
    let fails = report.count(Outcome::Fail);
    let nothing = report.count(Outcome::Pass) == 0;
    println!(
        "{} passed, {} failed, {} skipped; reports in {}",
        report.count(Outcome::Pass),
        fails,
        report.count(Outcome::Skip),
        out.display()
    );
    if fails > 0 {
        return Err(refused(format!("{fails} checks failed")));
    }
    if nothing {
        return Err(refused(
            "nothing could be checked: see the reasons in the report",
        ));
    }
    Ok(())
}

fn conformance_connector(a: ConnectorConformanceArgs) -> Result<()> {
    let trust_anchors = load_certs(&a.trust_anchors)?;
    let tls_roots = load_certs(&a.tls_roots)?;
    let total = eidas_node::conformance::catalogue()
        .iter()
        .filter(|c| c.role != "ps")
        .count();
    let mut term = eidas_node::conformance::Terminal::new(
        total,
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let mut start = None;
        let mut server = None;
        if a.start.is_some() || a.prepare {
            if trust_anchors.is_empty() {
                return Err(anyhow!(
                    "--start and --prepare need --trust-anchor: the test Proxy-Service checks the \
                     Connector's requests with keys from its metadata, once that verifies"
                ));
            }
            // The test Proxy-Service answers the target's Connector: it needs its metadata.
            let client = eidas_node::outbound::client(
                std::time::Duration::from_secs(15),
                a.allow_loopback_http,
                &tls_roots,
            )
            .map_err(|e| anyhow!("{e}"))?;
            let md = eidas_node::conformance::ps::fetch_metadata(&client, &a.metadata)
                .await
                .ok_or_else(|| anyhow!("cannot fetch {}", a.metadata))?;
            let md = String::from_utf8_lossy(&md).into_owned();
            let (key, cert) = conformance_key(
                &a.keys.join("ps-signing"),
                "eidas conformance test Proxy-Service",
                &a.country,
                KeyKind::EcP256,
            )?;
            let (rsa_key, rsa_cert) = conformance_key(
                &a.keys.join("ps-rsa-sha256"),
                "eidas conformance test Proxy-Service (rsa-sha256)",
                &a.country,
                KeyKind::Rsa3072,
            )?;
            let legacy = eidas_node::conformance::ps::LegacyRsaSigner::new(&rsa_key, rsa_cert.clone())
                .map_err(|e| anyhow!("{e}"))?;
            let listener = tokio::net::TcpListener::bind(&a.listen)
                .await
                .with_context(|| format!("cannot listen on {}", a.listen))?;
            let base = a.public_url.clone().unwrap_or_else(|| {
                format!("http://{}", listener.local_addr().map(|x| x.to_string()).unwrap_or_default())
            });
            let ps = Arc::new(
                eidas_node::demo_proxy_service::DemoProxyService::new(
                    &a.country,
                    &base,
                    false,
                    key,
                    cert,
                    &md,
                    &trust_anchors,
                    eidas_node::demo_proxy_service::demo_persons(),
                    Arc::new(eidas_node::clock::SystemClock),
                )
                .map_err(|e| anyhow!("{e}"))?
                .with_extra_signing_certificate(rsa_cert),
            );
            println!(
                "test Proxy-Service metadata: {}\ntest Proxy-Service signing certificate: {}\ncountry: {}",
                ps.metadata_url(),
                a.keys.join("ps-signing/cert.pem").display(),
                a.country
            );
            let app = eidas_node::demo_proxy_service::router(ps.clone());
            server = Some(tokio::spawn(async move { axum::serve(listener, app).await }));
            if a.prepare {
                println!("serving the test Proxy-Service's metadata until Ctrl-C");
                let _ = tokio::signal::ctrl_c().await;
                return Ok(());
            }
            start = a.start.clone().map(|url| eidas_node::conformance::connector::Start {
                url,
                sso: format!("{base}/sso"),
                ps,
                country: a.country.clone(),
                success_marker: a.success_marker.clone(),
                legacy: Some(legacy),
            });
        }
        let audit = eidas_node::conformance::connector::ConnectorAudit {
            metadata_url: a.metadata.clone(),
            trust_anchors,
            tls_roots,
            allow_loopback_http: a.allow_loopback_http,
            start,
        };
        let report = audit.run(&mut |r| term.finish(r)).await;
        if let Some(s) = server {
            s.abort();
        }
        write_reports(&report, &a.out)
    })
}

//! The conformance suite against real targets: our own node (over HTTPS, with the test
//! ID-porten as its scripted login) passes every automated Proxy-Service check; a deliberately
//! non-conforming Proxy-Service built from the project's layers fails the checks it breaks.

use eidas_node::clock::SystemClock;
use eidas_node::crypto::generate::{KeyKind, generate};
use eidas_node::crypto::{Certificate, SoftwareSigner};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

fn write_key(dir: &Path, cn: &str) {
    let g = generate(
        KeyKind::EcP256,
        cn,
        "XC",
        time::OffsetDateTime::now_utc().unix_timestamp() - 60,
        30,
    )
    .unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("key.pem"), g.key.pkcs8_pem()).unwrap();
    std::fs::write(dir.join("cert.pem"), g.cert.to_pem()).unwrap();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Serve `app` over TLS on `listener` with this key and certificate.
async fn serve_tls(
    app: axum::Router,
    listener: std::net::TcpListener,
    key: &rcgen::KeyPair,
    cert: &rcgen::Certificate,
) {
    let rc = axum_server::tls_rustls::RustlsConfig::from_der(
        vec![cert.der().to_vec()],
        key.serialize_der(),
    )
    .await
    .unwrap();
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, rc)
            .unwrap()
            .serve(app.into_make_service())
            .await
            .unwrap();
    });
}

/// A TLS server for `app` on localhost; returns its base URL and the root to trust.
async fn https(app: axum::Router) -> (String, Certificate) {
    let (key, cert) = tls_identity();
    let root = Certificate::from_der(cert.der()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    serve_tls(app, listener, &key, &cert).await;
    (format!("https://localhost:{port}"), root)
}

/// A self-signed TLS identity for localhost.
fn tls_identity() -> (rcgen::KeyPair, rcgen::Certificate) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (key, cert)
}

fn run_suite(
    dir: &Path,
    metadata: &str,
    anchor: &Path,
    tls_root: &Path,
    runner_port: u16,
) -> (std::process::Output, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_eidas-node"))
        .args([
            "conformance",
            "ps",
            "--metadata",
            metadata,
            "--trust-anchor",
        ])
        .arg(anchor)
        .arg("--tls-root")
        .arg(tls_root)
        .args([
            "--allow-loopback-http",
            "--listen",
            &format!("127.0.0.1:{runner_port}"),
            "--keys",
        ])
        .arg(dir.join("runner"))
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let report = std::fs::read_to_string(dir.join("out/report.json")).unwrap_or_else(|_| {
        panic!(
            "no report: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, serde_json::from_str(&report).unwrap())
}

/// `eidas-node demo --tls`, trusting the runner's test Connector and test Proxy-Service (both
/// country XC); returns the process and its base URL.
fn start_demo(dir: &Path, connector: &str, proxy_service: &str) -> (Running, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_eidas-node"))
        .args(["demo", "--tls", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.join("demo"))
        .arg("--trust-connector")
        .arg(format!(
            "XC,{connector}/metadata,{}",
            dir.join("runner/signing/cert.pem").display()
        ))
        .arg("--trust-proxy-service")
        .arg(format!(
            "XC,{proxy_service}/metadata,{}",
            dir.join("runner/ps-signing/cert.pem").display()
        ))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("banner").expect("banner line");
    let base = first
        .split_whitespace()
        .find(|w| w.starts_with("https://localhost:"))
        .unwrap_or_else(|| panic!("no https base URL in {first:?}"))
        .to_string();
    std::thread::spawn(move || for _ in lines {});
    (Running(child), base)
}

struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn report_of(dir: &Path, out: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(dir.join("report.json")).unwrap_or_else(|_| {
            panic!(
                "no report: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        }),
    )
    .unwrap()
}

/// Every automated check of `role` in the report passed.
fn all_automated_pass(report: &serde_json::Value, role_not: &str, stdout: &str) -> usize {
    let results = report["results"].as_array().unwrap();
    let mut passed = 0;
    for c in eidas_node::conformance::catalogue()
        .iter()
        .filter(|c| c.run == "auto" && c.role != role_not)
    {
        let r = results
            .iter()
            .find(|r| r["id"] == c.id.as_str())
            .unwrap_or_else(|| panic!("{} not reported", c.id));
        assert_eq!(r["outcome"], "pass", "{}: {}\n{stdout}", c.id, r["reason"]);
        passed += 1;
    }
    passed
}

/// Our own node, started by the test in demo mode (over HTTPS, its test ID-porten as the
/// scripted login, its demo Norwegian service as the place a login starts), passes every
/// automated check as a Proxy-Service and as a Connector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_passes_every_automated_check_in_both_roles() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    write_key(&d.join("runner/signing"), "runner");
    write_key(&d.join("runner/encryption"), "runner encryption");
    write_key(&d.join("runner/ps-signing"), "runner ps");
    let (cn_port, ps_port) = (free_port(), free_port());
    let (_demo, base) = start_demo(
        &d,
        &format!("http://127.0.0.1:{cn_port}"),
        &format!("http://127.0.0.1:{ps_port}"),
    );
    let anchor = d.join("demo/keys/signing/cert.pem");
    let tls = d.join("demo/keys/tls/cert.pem");
    let dd = d.clone();
    let (ps, cn) = tokio::task::spawn_blocking(move || {
        let ps = run_suite(&dd, &format!("{base}/ps/metadata"), &anchor, &tls, cn_port);
        let cn = Command::new(env!("CARGO_BIN_EXE_eidas-node"))
            .args([
                "conformance",
                "connector",
                "--metadata",
                &format!("{base}/connector/metadata"),
                "--trust-anchor",
            ])
            .arg(&anchor)
            .arg("--tls-root")
            .arg(&tls)
            .args([
                "--start",
                &format!("{base}/rp"),
                "--listen",
                &format!("127.0.0.1:{ps_port}"),
                "--keys",
            ])
            .arg(dd.join("runner"))
            .arg("--out")
            .arg(dd.join("cn-out"))
            .output()
            .unwrap();
        (ps, cn)
    })
    .await
    .unwrap();

    // As a Proxy-Service.
    let (out, report) = ps;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let passed = all_automated_pass(&report, "connector", &stdout);
    assert!(passed >= 80, "{passed} automated checks");
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let results = report["results"].as_array().unwrap();
    let catalogue = eidas_node::conformance::catalogue();
    assert_eq!(
        results.len(),
        catalogue.iter().filter(|c| c.role != "connector").count()
    );
    for r in results.iter().filter(|r| r["outcome"] == "skip") {
        assert!(r["reason"].as_str().unwrap().starts_with("manual: "), "{r}");
    }
    assert!(
        stdout.contains("pass E039 ") && stdout.contains("skip I136 "),
        "{stdout}"
    );
    let junit = std::fs::read_to_string(d.join("out/report.junit.xml")).unwrap();
    assert!(junit.contains("failures=\"0\""), "{junit}");
    let html = std::fs::read_to_string(d.join("out/report.html")).unwrap();
    assert!(html.contains("eIDAS conformance report") && html.contains("E053"));
    render_in_chromium(&d.join("out/report.html"));

    // As a Connector.
    let cn_report = report_of(&d.join("cn-out"), &cn);
    let cn_stdout = String::from_utf8_lossy(&cn.stdout);
    let passed = all_automated_pass(&cn_report, "ps", &cn_stdout);
    assert!(passed >= 40, "{passed}");
    assert_eq!(cn.status.code(), Some(0), "{cn_stdout}");
}

/// What a deliberately non-conforming Proxy-Service gets wrong.
#[derive(Clone, Copy)]
enum Breaks {
    /// A request with ForceAuthn false is let through.
    ForceAuthn,
    /// An unsigned request is let through.
    Unsigned,
    /// No replay cache: every request gets a fresh store.
    Replay,
    /// Its metadata is past validUntil.
    ExpiredMetadata,
}

/// A Proxy-Service built from our own layers (`proxy_service::receive` does the checking) that
/// breaks one rule. It sends accepted requests on to a login that needs a person.
async fn sloppy_ps(
    dir: &Path,
    runner: &str,
    breaks: Breaks,
) -> (String, std::path::PathBuf, std::path::PathBuf) {
    use eidas_node::metadata::fetch::{FetchPolicy, MetadataService, Peer};
    use eidas_node::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};
    use eidas_node::proxy_service::{Incoming, PsSettings, Refusal, receive};
    use eidas_node::store::{MemoryStore, Store};
    let g = generate(
        KeyKind::EcP256,
        "sloppy",
        "XS",
        time::OffsetDateTime::now_utc().unix_timestamp() - 7200,
        30,
    )
    .unwrap();
    std::fs::write(dir.join("sloppy-anchor.pem"), g.cert.to_pem()).unwrap();
    let runner_cert =
        Certificate::load(&std::fs::read(dir.join("runner/signing/cert.pem")).unwrap()).unwrap();
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let signer = Arc::new(SoftwareSigner::new(g.key, None, Some(g.cert.clone())).unwrap());
    let clock: Arc<dyn eidas_node::clock::Clock> = Arc::new(SystemClock);
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(clock.clone()));
    let peers = Arc::new(
        MetadataService::new(
            vec![Peer {
                url: format!("{runner}/metadata"),
                trust_anchors: vec![runner_cert],
            }],
            store.clone(),
            clock.clone(),
            FetchPolicy {
                allow_loopback_http: true,
                ..FetchPolicy::default()
            },
            &[],
        )
        .unwrap(),
    );
    let (b1, b2) = (base.clone(), base.clone());
    let cert = g.cert.clone();
    let runner_md = format!("{runner}/metadata");
    // The checking, as the real Proxy-Service does it, less what this node breaks.
    let sso = {
        let (b, peers, runner_md, shared_store) =
            (b2.clone(), peers.clone(), runner_md.clone(), store.clone());
        Arc::new(move |incoming: Incoming| {
            let (b, peers, runner_md, shared_store) = (
                b.clone(),
                peers.clone(),
                runner_md.clone(),
                shared_store.clone(),
            );
            Box::pin(async move {
                let base = b.get().cloned().unwrap_or_default();
                let settings = PsSettings {
                    our_sso_url: format!("{base}/sso"),
                    published_loas: vec![
                        "http://eidas.europa.eu/LoA/substantial".into(),
                        "http://eidas.europa.eu/LoA/high".into(),
                    ],
                    supported_attributes: eidas_node::eidas::attributes::mds(
                        eidas_node::eidas::attributes::PersonType::NaturalPerson,
                    )
                    .map(|a| a.name.to_string())
                    .collect(),
                    requester_id_demanded: false,
                    skew: time::Duration::seconds(60),
                    max_age: time::Duration::minutes(5),
                };
                let fresh: Arc<dyn Store> = Arc::new(MemoryStore::new(Arc::new(SystemClock)));
                let store = if matches!(breaks, Breaks::Replay) {
                    fresh
                } else {
                    shared_store
                };
                let r = receive(
                    incoming,
                    &peers,
                    &[runner_md],
                    store.as_ref(),
                    time::OffsetDateTime::now_utc(),
                    &settings,
                )
                .await;
                let let_through = match &r {
                    Ok(_) => true,
                    Err(Refusal::Saml(s)) => {
                        matches!(breaks, Breaks::ForceAuthn) && s.rule == "PS-REQ-FORCEAUTHN"
                    }
                    Err(Refusal::Local { rule, .. }) => {
                        matches!(breaks, Breaks::Unsigned) && *rule == "DSIG-SIGNED"
                    }
                };
                if let_through {
                    (
                        axum::http::StatusCode::SEE_OTHER,
                        [(axum::http::header::LOCATION, format!("{base}/login"))],
                    )
                        .into_response()
                } else {
                    (axum::http::StatusCode::BAD_REQUEST, "refused").into_response()
                }
            })
                as std::pin::Pin<
                    Box<dyn std::future::Future<Output = axum::response::Response> + Send>,
                >
        })
    };
    let app = axum::Router::new()
        .route(
            "/metadata",
            axum::routing::get(move || {
                let (b, signer, cert) = (b1.clone(), signer.clone(), cert.clone());
                async move {
                    let base = b.get().cloned().unwrap_or_default();
                    let md = OurMetadata {
                        role: Role::ProxyService,
                        entity_id: format!("{base}/metadata"),
                        node_country: "XS".into(),
                        endpoint: format!("{base}/sso"),
                        signing_certificates: vec![cert],
                        encryption_certificates: vec![],
                        loas: vec![
                            "http://eidas.europa.eu/LoA/substantial".into(),
                            "http://eidas.europa.eu/LoA/high".into(),
                        ],
                        attributes: eidas_node::eidas::attributes::mds(
                            eidas_node::eidas::attributes::PersonType::NaturalPerson,
                        )
                        .map(|a| a.name.to_string())
                        .collect(),
                        sp_type: None,
                        requester_id_demanded: false,
                        protocol_versions: vec!["1.4".into()],
                        application_identifier: "sloppy".into(),
                        organization: Organization {
                            name: "s".into(),
                            display_name: "s".into(),
                            url: base.clone(),
                        },
                        contacts: ["support", "technical"]
                            .iter()
                            .map(|t| ContactPerson {
                                contact_type: t.to_string(),
                                company: "s".into(),
                                given_name: None,
                                surname: None,
                                email: "s@example.invalid".into(),
                                phone: None,
                            })
                            .collect(),
                        valid_for: time::Duration::hours(24),
                    };
                    let now = time::OffsetDateTime::now_utc();
                    let at = if matches!(breaks, Breaks::ExpiredMetadata) {
                        now - time::Duration::hours(25)
                    } else {
                        now
                    };
                    md.to_signed_xml(at, signer.as_ref()).unwrap()
                }
            }),
        )
        .route(
            "/sso",
            axum::routing::post({
                let sso = sso.clone();
                move |axum::extract::Form(f): axum::extract::Form<
                    std::collections::HashMap<String, String>,
                >| {
                    let sso = sso.clone();
                    async move {
                        sso(Incoming::Post {
                            saml_request: f.get("SAMLRequest").cloned().unwrap_or_default(),
                            relay_state: f.get("RelayState").cloned(),
                        })
                        .await
                    }
                }
            })
            .get({
                let sso = sso.clone();
                move |axum::extract::RawQuery(q): axum::extract::RawQuery| {
                    let sso = sso.clone();
                    async move {
                        sso(Incoming::Redirect {
                            query: q.unwrap_or_default(),
                        })
                        .await
                    }
                }
            }),
        )
        .route(
            "/login",
            axum::routing::get(|| async { "a real person logs in here" }),
        );
    let (url, root) = https(app).await;
    base.set(url.clone()).unwrap();
    std::fs::write(dir.join("sloppy-tls.pem"), root.to_pem()).unwrap();
    (
        format!("{url}/metadata"),
        dir.join("sloppy-anchor.pem"),
        dir.join("sloppy-tls.pem"),
    )
}

use axum::response::IntoResponse;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_check_fails_against_a_node_that_breaks_it() {
    for (breaks, must_fail) in [
        (Breaks::ForceAuthn, &["E053"][..]),
        // A Redirect request with no query signature is unsigned too.
        (Breaks::Unsigned, &["E039", "E046"][..]),
        (Breaks::Replay, &["E050", "E083"][..]),
        (Breaks::ExpiredMetadata, &["A006"][..]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_path_buf();
        write_key(&d.join("runner/signing"), "runner");
        write_key(&d.join("runner/encryption"), "runner encryption");
        let runner_port = free_port();
        let runner = format!("http://127.0.0.1:{runner_port}");
        let (metadata, anchor, tls) = sloppy_ps(&d, &runner, breaks).await;
        let (out, report) = tokio::task::spawn_blocking(move || {
            run_suite(&d, &metadata, &anchor, &tls, runner_port)
        })
        .await
        .unwrap();
        assert_eq!(out.status.code(), Some(1), "fails make exit code 1");
        let results = report["results"].as_array().unwrap();
        let failed: Vec<&str> = results
            .iter()
            .filter(|r| r["outcome"] == "fail")
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            failed,
            must_fail,
            "{:?}",
            report["results"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["outcome"] == "fail")
                .collect::<Vec<_>>()
        );
    }
}

/// The HTML report in a real browser (Debian's Chromium, installed by scripts/test.sh): the
/// rendered DOM has the summary and the checks, and a screenshot is kept as an artefact in
/// target/conformance-artefacts/report.png.
fn render_in_chromium(html: &Path) {
    let chromium = Path::new("/usr/bin/chromium");
    assert!(
        chromium.exists(),
        "chromium is missing: scripts/test.sh installs it (apt package chromium)"
    );
    let profile = tempfile::tempdir().unwrap();
    let flags = |extra: &[&str]| {
        let mut c = Command::new(chromium);
        c.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra);
        c
    };
    let url = format!("file://{}", html.display());
    let dom = flags(&["--dump-dom", &url]).output().unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("eIDAS conformance report") && dom.contains("passed"),
        "{dom}"
    );
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/conformance-artefacts");
    std::fs::create_dir_all(&out_dir).unwrap();
    let png = out_dir.join("report.png");
    let _ = std::fs::remove_file(&png);
    let shot = flags(&[
        "--window-size=1280,1600",
        &format!("--screenshot={}", png.display()),
        &url,
    ])
    .output()
    .unwrap();
    let bytes = std::fs::read(&png)
        .unwrap_or_else(|_| panic!("no screenshot: {}", String::from_utf8_lossy(&shot.stderr)));
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "{} bytes",
        bytes.len()
    );
}

/// A Connector that lets anyone in who brings a success Response — no signature, audience,
/// replay or any other check — built from our layers: it publishes signed metadata and sends a
/// properly signed AuthnRequest from its start page, so only its Response handling is wrong.
async fn credulous_connector(
    dir: &Path,
    runner: &str,
) -> (String, std::path::PathBuf, std::path::PathBuf) {
    use eidas_node::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};
    let g = generate(
        KeyKind::EcP256,
        "credulous",
        "NO",
        time::OffsetDateTime::now_utc().unix_timestamp() - 60,
        30,
    )
    .unwrap();
    std::fs::write(dir.join("credulous-anchor.pem"), g.cert.to_pem()).unwrap();
    let signer = Arc::new(SoftwareSigner::new(g.key, None, Some(g.cert.clone())).unwrap());
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let runner_sso = format!("{runner}/sso");
    let md = {
        let (b, signer, cert) = (base.clone(), signer.clone(), g.cert.clone());
        move || {
            let base = b.get().cloned().unwrap_or_default();
            OurMetadata {
                role: Role::Connector,
                entity_id: format!("{base}/metadata"),
                node_country: "NO".into(),
                endpoint: format!("{base}/acs"),
                signing_certificates: vec![cert.clone()],
                encryption_certificates: vec![cert.clone()],
                loas: vec![],
                attributes: vec![],
                sp_type: None,
                requester_id_demanded: false,
                protocol_versions: vec!["1.4".into()],
                application_identifier: "credulous".into(),
                organization: Organization {
                    name: "c".into(),
                    display_name: "c".into(),
                    url: base.clone(),
                },
                contacts: ["support", "technical"]
                    .iter()
                    .map(|t| ContactPerson {
                        contact_type: t.to_string(),
                        company: "c".into(),
                        given_name: None,
                        surname: None,
                        email: "c@example.invalid".into(),
                        phone: None,
                    })
                    .collect(),
                valid_for: time::Duration::hours(24),
            }
            .to_signed_xml(time::OffsetDateTime::now_utc(), signer.as_ref())
            .unwrap()
        }
    };
    let start = {
        let (b, signer) = (base.clone(), signer.clone());
        move || {
            let base = b.get().cloned().unwrap_or_default();
            let wanted: Vec<(String, bool)> = eidas_node::eidas::attributes::mds(
                eidas_node::eidas::attributes::PersonType::NaturalPerson,
            )
            .map(|a| (a.name.to_string(), true))
            .collect();
            let r = eidas_node::connector::authn_request(
                &eidas_node::saml::new_id(),
                &format!("{base}/metadata"),
                &runner_sso,
                eidas_node::eidas::loa::Level::Substantial,
                &wanted,
                Some("public".into()),
                vec![],
                time::OffsetDateTime::now_utc(),
            );
            let doc =
                eidas_node::xml::parse(r.to_xml().as_bytes(), &eidas_node::xml::Limits::message())
                    .unwrap();
            let signed =
                eidas_node::xmlsec::dsig::sign_element(&doc, doc.root(), signer.as_ref()).unwrap();
            axum::response::Html(eidas_node::saml::binding::post_form(
                &runner_sso,
                "SAMLRequest",
                &signed,
                None,
                "n",
            ))
        }
    };
    let app = axum::Router::new()
        .route(
            "/metadata",
            axum::routing::get(move || {
                let md = md.clone();
                async move { md() }
            }),
        )
        .route(
            "/start",
            axum::routing::get(move || {
                let start = start.clone();
                async move { start() }
            }),
        )
        .route(
            "/acs",
            axum::routing::post(
                |axum::extract::Form(f): axum::extract::Form<
                    std::collections::HashMap<String, String>,
                >| async move {
                    use base64::Engine;
                    let xml = base64::engine::general_purpose::STANDARD
                        .decode(
                            f.get("SAMLResponse")
                                .map(String::as_str)
                                .unwrap_or_default(),
                        )
                        .unwrap_or_default();
                    if String::from_utf8_lossy(&xml).contains("status:Success") {
                        "Logged in".into_response()
                    } else {
                        "Not logged in".into_response()
                    }
                },
            ),
        );
    let (url, root) = https(app).await;
    base.set(url.clone()).unwrap();
    std::fs::write(dir.join("credulous-tls.pem"), root.to_pem()).unwrap();
    (
        url,
        dir.join("credulous-anchor.pem"),
        dir.join("credulous-tls.pem"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_that_believes_any_response_fails_every_response_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    write_key(&d.join("runner/ps-signing"), "runner ps");
    let runner_port = free_port();
    let runner = format!("http://127.0.0.1:{runner_port}");
    let (base, anchor, tls) = credulous_connector(&d, &runner).await;
    let dd = d.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_eidas-node"))
            .args([
                "conformance",
                "connector",
                "--metadata",
                &format!("{base}/metadata"),
                "--trust-anchor",
            ])
            .arg(&anchor)
            .arg("--tls-root")
            .arg(&tls)
            .args([
                "--start",
                &format!("{base}/start"),
                "--listen",
                &format!("127.0.0.1:{runner_port}"),
                "--keys",
            ])
            .arg(dd.join("runner"))
            .arg("--out")
            .arg(dd.join("cn-out"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("cn-out/report.json")).unwrap())
            .unwrap();
    let outcome = |id: &str| {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()["outcome"]
            .clone()
    };
    // Its request is fine; every broken Response got it in.
    for id in ["G109", "G111", "G112", "G113"] {
        assert_eq!(outcome(id), "pass", "{id}\n{stdout}");
    }
    for id in [
        "H117", "H118", "H119", "H120", "H122", "H123", "H124", "H125", "H126", "H127", "H128",
        "H129", "H130", "H132", "H133", "H135",
    ] {
        assert_eq!(outcome(id), "fail", "{id}\n{stdout}");
    }
}

#[test]
fn the_connector_runner_needs_a_trust_anchor_to_play_a_proxy_service() {
    let o = Command::new(env!("CARGO_BIN_EXE_eidas-node"))
        .args([
            "conformance",
            "connector",
            "--metadata",
            "https://localhost:1/connector/metadata",
            "--start",
            "https://localhost:1/rp",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("need --trust-anchor"));
}

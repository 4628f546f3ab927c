//! `/ps/sso` over HTTP, the node started from a real configuration file whose `[[peer]]` is a
//! foreign Connector publishing signed metadata over local HTTPS: what a browser gets back for an
//! accepted request, an unverifiable one (a local page, nothing sent), and a verified one that
//! breaks a rule (a signed SAML error Response posted to the ACS from metadata).

use crate::common::{eidas_node, p256, rsa, stderr};
use crate::proxy_service::{ACS, SSO, connector_peer, post, request_for};
use eidas_node::clock::SystemClock;
use eidas_node::crypto::SoftwareSigner;
use eidas_node::proxy_service::Incoming;
use eidas_node::saml::binding::redirect_url;
use eidas_node::xml::{self, Limits};
use eidas_node::xmlsec::dsig::{VerifyOptions, verify_element};
use eidas_node::xmlsec::redirect::EcdsaEncoding;
use std::sync::Arc;
use time::OffsetDateTime;

struct Node {
    base: String,
    peer: String,
    ps_cert: eidas_node::crypto::Certificate,
    _dir: tempfile::TempDir,
    _server: crate::metadata_fetch::Server,
}

async fn node() -> Node {
    let server = connector_peer(OffsetDateTime::now_utc()).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (kind, sub) in [("ec-p256", "signing"), ("ec-p256", "encryption")] {
        let o = eidas_node(&[
            "keys",
            "generate",
            "--kind",
            kind,
            "--country",
            "NO",
            "--out",
            &d.join("keys").join(sub).to_string_lossy(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    std::fs::write(d.join("tls-root.pem"), server.tls_root.to_pem()).unwrap();
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/eidas-node.example.toml"),
    )
    .unwrap();
    let config = format!(
        "{example}\n[metadata_fetch]\ntls_roots = [\"tls-root.pem\"]\n\n[[peer]]\ncountry = \"SE\"\nrole = \"connector\"\nmetadata_url = \"{}\"\ntrust_anchors = [\"{}\"]\n",
        server.url(),
        p256().files.cert_pem.display()
    );
    std::fs::write(d.join("eidas-node.toml"), config).unwrap();
    let config = eidas_node::config::Config::load(&d.join("eidas-node.toml")).expect("config");
    let (key, cert) = config.signing_key().unwrap();
    let signer = SoftwareSigner::new(key, None, Some(cert.clone())).unwrap();
    let state =
        eidas_node::web::AppState::new(Arc::new(config), Arc::new(signer), Arc::new(SystemClock))
            .unwrap()
            .with_runtime()
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = eidas_node::web::serve(listener, Arc::new(state)).await;
    });
    Node {
        base,
        peer: server.url(),
        ps_cert: cert,
        _dir: dir,
        _server: server,
    }
}

fn form_body(incoming: Incoming) -> String {
    match incoming {
        Incoming::Post {
            saml_request,
            relay_state,
        } => {
            let mut f = format!(
                "SAMLRequest={}",
                eidas_node::xmlsec::redirect::url_encode(&saml_request)
            );
            if let Some(r) = relay_state {
                f.push_str(&format!(
                    "&RelayState={}",
                    eidas_node::xmlsec::redirect::url_encode(&r)
                ));
            }
            f
        }
        Incoming::Redirect { .. } => unreachable!(),
    }
}

async fn post_form(n: &Node, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/ps/sso", n.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

fn input_value<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let at = html.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    html[at..].split('"').next()
}

#[tokio::test]
async fn an_accepted_request_without_idporten_configured_gets_a_signed_saml_error_by_post_or_redirect()
 {
    // This configuration has no [idporten]: the request is verified, so the Connector gets an
    // answer it can act on instead of a dead end (the whole flow is in ps_e2e).
    let n = node().await;
    let now = OffsetDateTime::now_utc();
    let r = post_form(
        &n,
        form_body(post(
            &request_for(&n.peer, now, "_http-1"),
            Some(&rsa().signer()),
            Some("rs"),
        )),
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{ACS}\"")));
    assert_eq!(input_value(&html, "RelayState"), Some("rs"));
    use base64::Engine;
    let xml = base64::engine::general_purpose::STANDARD
        .decode(input_value(&html, "SAMLResponse").unwrap())
        .unwrap();
    let xml = String::from_utf8(xml).unwrap();
    assert!(
        xml.contains("InResponseTo=\"_http-1\"") && xml.contains(":AuthnFailed"),
        "{xml}"
    );
    let url = redirect_url(
        &format!("{}/ps/sso", n.base),
        "SAMLRequest",
        &request_for(&n.peer, now, "_http-2").to_xml(),
        None,
        &rsa().signer(),
        EcdsaEncoding::Der,
    )
    .unwrap();
    let html = reqwest::get(url).await.unwrap().text().await.unwrap();
    assert!(html.contains("SAMLResponse") && html.contains(&format!("action=\"{ACS}\"")));
    let _ = SSO;
}

#[tokio::test]
async fn an_unverifiable_request_gets_a_local_page_and_nothing_is_sent() {
    let n = node().await;
    let now = OffsetDateTime::now_utc();
    let r = post_form(
        &n,
        form_body(post(&request_for(&n.peer, now, "_u"), None, None)),
    )
    .await;
    assert_eq!(r.status(), 400);
    let body = r.text().await.unwrap();
    assert!(
        body.contains("Referanse: <code>") && !body.contains("SAMLResponse") && !body.contains(ACS),
        "a bokmål page by default: {body}"
    );
    assert_eq!(
        post_form(&n, "not a form at all %%%".into()).await.status(),
        400
    );
    assert_eq!(
        post_form(&n, "x".repeat(300 * 1024)).await.status(),
        413,
        "body limit"
    );
}

#[tokio::test]
async fn a_verified_request_that_breaks_a_rule_gets_a_signed_saml_error_posted_to_the_metadata_acs()
{
    let n = node().await;
    let now = OffsetDateTime::now_utc();
    let mut bad = request_for(&n.peer, now, "_bad");
    bad.is_passive = Some(true);
    bad.assertion_consumer_service_url = Some("https://attacker.example/acs".into());
    let r = post_form(
        &n,
        form_body(post(&bad, Some(&rsa().signer()), Some("keep"))),
    )
    .await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains(&format!("form-action {ACS}")) && csp.contains("script-src 'nonce-"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("action=\"{ACS}\"")),
        "posts to the ACS from metadata, not the requested one"
    );
    assert!(!html.contains("attacker.example"));
    assert_eq!(input_value(&html, "RelayState"), Some("keep"));
    use base64::Engine;
    let xml_bytes = base64::engine::general_purpose::STANDARD
        .decode(input_value(&html, "SAMLResponse").unwrap())
        .unwrap();
    let doc = xml::parse(&xml_bytes, &Limits::message()).unwrap();
    let v = verify_element(
        &doc,
        doc.root(),
        &[n.ps_cert.public_key().clone()],
        &VerifyOptions::default(),
    )
    .expect("signed by the Proxy-Service");
    let resp =
        eidas_node::saml::Response::parse(&eidas_node::saml::Trusted::from_verified(&v)).unwrap();
    assert_eq!(resp.in_response_to.as_deref(), Some("_bad"));
    assert_eq!(resp.destination.as_deref(), Some(ACS));
    assert_eq!(
        resp.status.unwrap().code.as_deref(),
        Some(eidas_node::saml::status::REQUESTER)
    );
    assert!(resp.encrypted_assertions.is_empty() && resp.assertions.is_empty());
}

/// A node without `[oidc_provider]`: the Connector's front is off, and says so.
#[tokio::test]
async fn without_an_oidc_provider_the_connector_endpoints_are_not_there() {
    let n = node().await;
    let c = reqwest::Client::new();
    for (method, path) in [
        ("GET", "/.well-known/openid-configuration"),
        ("GET", "/oidc/jwks"),
        ("POST", "/oidc/par"),
        ("POST", "/oidc/token"),
        ("GET", "/oidc/authorize?client_id=x"),
        ("GET", "/connector/countries?session=x"),
        ("POST", "/connector/acs"),
    ] {
        let rb = if method == "GET" {
            c.get(format!("{}{path}", n.base))
        } else {
            c.post(format!("{}{path}", n.base)).form(&[("a", "b")])
        };
        let r = rb.send().await.unwrap();
        assert_eq!(r.status(), 404, "{method} {path}");
    }
}

//! Interop: our ID-porten client against an independent provider, Node's `oidc-provider` 9.13.3
//! (OpenID Certified), set up like ID-porten (tests/interop/oidc-provider/op.mjs): PAR required,
//! PKCE, private_key_jwt, RFC 9207 `iss`, `acr` and `pid`. Its endpoints have other paths than
//! ID-porten's, so the client must follow discovery.

use eidas_node::clock::SystemClock;
use eidas_node::crypto::generate::{KeyKind, generate};
use eidas_node::eidas::loa::{Level, RequestedAuthnContext};
use eidas_node::oidc::LoaMapping;
use eidas_node::oidc::client::{Callback, ClientAuth, ClientSettings, IdPortenClient, OidcError};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const REDIRECT: &str = "http://127.0.0.1:1/ps/callback";
const PID: &str = "15838512329";

struct Op {
    child: Child,
    issuer: String,
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_op(client_jwk: &serde_json::Value) -> Op {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/oidc-provider");
    assert!(
        dir.join("node_modules/oidc-provider").exists(),
        "oidc-provider is not installed: scripts/test.sh runs `npm ci` in {}",
        dir.display()
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new("node")
        .arg(dir.join("op.mjs"))
        .env("PORT", port.to_string())
        .env("REDIRECT_URI", REDIRECT)
        .env("CLIENT_ID", "eidas-node")
        .env("CLIENT_JWK", client_jwk.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("node");
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    let first = lines.next().expect("oidc-provider output").unwrap();
    assert!(first.starts_with("ready "), "{first}");
    std::thread::spawn(move || for _ in lines {});
    Op {
        child,
        issuer: format!("http://127.0.0.1:{port}"),
    }
}

/// A browser's cookie jar, by hand: every cookie the provider set, sent back on each request.
#[derive(Default)]
struct Browser {
    cookies: Vec<(String, String)>,
}

impl Browser {
    async fn go(&mut self, req: reqwest::RequestBuilder) -> reqwest::Response {
        let header = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let r = req.header("cookie", header).send().await.unwrap();
        for c in r.headers().get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            if let Some((k, v)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != k);
                self.cookies.push((k.to_string(), v.to_string()));
            }
        }
        r
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(r: &reqwest::Response) -> String {
    assert!(r.status().is_redirection(), "{}", r.status());
    r.headers()["location"].to_str().unwrap().to_string()
}

/// Through the provider's pages: the authorization endpoint, our login form, and back.
async fn log_in(op: &Op, redirect: &str, acr: &str, action: &str) -> Callback {
    let mut b = Browser::default();
    let c = http();
    let r = b.go(c.get(redirect)).await;
    let interaction = format!("{}{}", op.issuer, location(&r));
    let page = b.go(c.get(&interaction)).await.text().await.unwrap();
    let action_path = page
        .split("action=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let r = b
        .go(c.post(format!("{}{action_path}", op.issuer)).form(&[
            ("pid", PID),
            ("acr", acr),
            ("action", action),
        ]))
        .await;
    // Resume at the authorization endpoint, which redirects to us.
    let mut next = location(&r);
    for _ in 0..5 {
        if next.starts_with(REDIRECT) {
            return serde_urlencoded::from_str(next.split_once('?').unwrap().1).unwrap();
        }
        let url = if next.starts_with("http") {
            next.clone()
        } else {
            format!("{}{next}", op.issuer)
        };
        next = location(&b.go(c.get(url)).await);
    }
    panic!("never redirected back: {next}");
}

fn client(op: &Op, key_pem: &str) -> IdPortenClient {
    IdPortenClient::new(
        ClientSettings {
            issuer: op.issuer.clone(),
            client_id: "eidas-node".into(),
            redirect_uri: REDIRECT.into(),
            auth: ClientAuth::private_key_jwt(key_pem.as_bytes(), Some("eidas-node-1".into()))
                .unwrap(),
            par: true,
            scope: "openid".into(),
            loa: LoaMapping::default(),
            timeout: Duration::from_secs(10),
            clock_skew: time::Duration::seconds(30),
            allow_loopback_http: true,
        },
        Arc::new(SystemClock),
        &[],
    )
    .unwrap()
}

fn jwk(key: &eidas_node::crypto::PrivateKey) -> serde_json::Value {
    use base64::Engine;
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let eidas_node::crypto::PublicKey::Ec { point, .. } = key.public_key() else {
        panic!("EC")
    };
    serde_json::json!({
        "kty": "EC", "crv": "P-256", "kid": "eidas-node-1", "use": "sig", "alg": "ES256",
        "x": e.encode(&point[1..33]), "y": e.encode(&point[33..65]),
    })
}

#[tokio::test]
async fn our_client_logs_in_at_node_oidc_provider_with_par_pkce_and_private_key_jwt() {
    let key = generate(KeyKind::EcP256, "client", "NO", 0, 3650).unwrap();
    let op = start_op(&jwk(&key.key));
    let c = client(&op, &key.key.pkcs8_pem());
    let d = c.discovery().await.unwrap();
    assert!(d.pushed_authorization_request_endpoint.is_some());
    assert!(d.authorization_response_iss_parameter_supported);

    let requested = RequestedAuthnContext::minimum(Level::Substantial);
    let s = c.start(&requested, Some("nb")).await.unwrap();
    assert!(s.redirect.contains("request_uri="), "{}", s.redirect);
    let cb = log_in(&op, &s.redirect, "idporten-loa-high", "login").await;
    assert_eq!(cb.iss.as_deref(), Some(op.issuer.as_str()));
    let a = c.finish(&s.pending, &cb, &requested).await.unwrap();
    assert_eq!(a.pid.as_deref(), Some(PID));
    assert_eq!(a.acr, "idporten-loa-high");
    assert_eq!(a.level.as_uri(), "http://eidas.europa.eu/LoA/high");

    // Below the request: refused, not downgraded.
    let high = RequestedAuthnContext::minimum(Level::High);
    let s = c.start(&high, None).await.unwrap();
    let cb = log_in(&op, &s.redirect, "idporten-loa-substantial", "login").await;
    let e = c.finish(&s.pending, &cb, &high).await.unwrap_err();
    assert!(matches!(e, OidcError::Acr(_)), "{e}");

    // Cancelled at the provider.
    let s = c.start(&requested, None).await.unwrap();
    let cb = log_in(&op, &s.redirect, "idporten-loa-substantial", "cancel").await;
    let e = c.finish(&s.pending, &cb, &requested).await.unwrap_err();
    assert!(matches!(e, OidcError::Cancelled), "{e}");

    // A client key the provider does not know is refused at PAR.
    let other = generate(KeyKind::EcP256, "other", "NO", 0, 3650).unwrap();
    let e = client(&op, &other.key.pkcs8_pem())
        .start(&requested, None)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid_client"), "{e}");
}

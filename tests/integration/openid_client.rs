//! Interop: an independent relying party — Node's `openid-client` 6.8.9, an OpenID Certified
//! client (tests/interop/openid-client/rp.mjs) — logs a European in through our Connector: PAR,
//! PKCE, state and nonce, RFC 9207 `iss`, ID-token validation, userinfo; with private_key_jwt
//! and with client_secret_basic; and it receives `access_denied` when the person cancels.

use crate::cn_e2e::{CnOptions, at_ps, browser, choose, cn_setup, query};
use base64::Engine;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

struct Rp {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Drop for Rp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Rp {
    fn line(&mut self) -> serde_json::Value {
        let mut l = String::new();
        self.out.read_line(&mut l).unwrap();
        serde_json::from_str(&l).unwrap_or_else(|e| panic!("rp.mjs said {l:?}: {e}"))
    }
}

fn start_rp(envs: &[(&str, String)]) -> Rp {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/openid-client");
    assert!(
        dir.join("node_modules/openid-client").exists(),
        "openid-client is not installed: scripts/test.sh runs `npm ci` in {}",
        dir.display()
    );
    let mut child = Command::new("node")
        .arg("rp.mjs")
        .current_dir(&dir)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node");
    let out = BufReader::new(child.stdout.take().unwrap());
    Rp { child, out }
}

/// Through our Connector and XE's Proxy-Service; returns the URL the browser ends at.
async fn through_the_connector(
    c: &crate::cn_e2e::Cn,
    authorization_url: &str,
    action: &str,
) -> String {
    let b = browser();
    let r = b.get(authorization_url).send().await.unwrap();
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let to = r.headers()["location"].to_str().unwrap().to_string();
    let session = query(&to)["session"].clone();
    let (ticket, _) = choose(c, &session, "XE").await;
    let r = at_ps(c, "XE", &ticket, 0, "high", action).await;
    assert_eq!(r.status(), 303);
    r.headers()["location"].to_str().unwrap().to_string()
}

async fn login(auth: &str, client_id: &str, action: &str) -> serde_json::Value {
    let c = cn_setup(CnOptions::default()).await;
    let mut envs = vec![
        ("ISSUER", c.base.clone()),
        ("CLIENT_ID", client_id.to_string()),
        ("REDIRECT_URI", "http://127.0.0.1:1/callback".to_string()),
        ("AUTH", auth.to_string()),
        ("ACR", "eidas-loa-high".to_string()),
    ];
    if auth == "private_key_jwt" {
        envs.push((
            "CLIENT_KEY_PKCS8_B64",
            base64::engine::general_purpose::STANDARD.encode(c.rp_key.pkcs8_der()),
        ));
    } else {
        envs.push((
            "CLIENT_SECRET",
            "a-client-secret-of-at-least-32-characters".to_string(),
        ));
    }
    let mut rp = start_rp(&envs);
    let first = rp.line();
    let url = first["authorization_url"]
        .as_str()
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    assert!(
        url.contains("request_uri="),
        "openid-client used PAR: {url}"
    );
    let callback = through_the_connector(&c, &url, action).await;
    writeln!(rp.child.stdin.as_mut().unwrap(), "{callback}").unwrap();
    rp.line()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_with_private_key_jwt_gets_the_eidas_claims_and_userinfo() {
    let r = login("private_key_jwt", "rp", "login").await;
    assert!(r.get("error").is_none(), "{r}");
    let claims = &r["claims"];
    assert_eq!(claims["sub"], "XE/NO/XE-1001");
    assert_eq!(claims["acr"], "eidas-loa-high");
    assert_eq!(claims["amr"], serde_json::json!(["eIDAS"]));
    assert_eq!(claims["eidas_firstname"], "Javier");
    assert_eq!(claims["eidas_date_of_birth"], "1990-04-12");
    assert_eq!(claims["pid"], "15838512329");
    assert_eq!(claims["aud"], "rp");
    assert_eq!(r["userinfo"]["sub"], "XE/NO/XE-1001");
    assert_eq!(r["userinfo"]["eidas_lastname"], "García López");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_with_client_secret_basic_logs_in_too() {
    let r = login("client_secret_basic", "rp-basic", "login").await;
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(r["claims"]["sub"], "XE/NO/XE-1001");
    assert!(
        r["claims"].get("eidas_place_of_birth").is_none(),
        "rp-basic is not configured for optional attributes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_sees_access_denied_when_the_person_cancels_abroad() {
    let r = login("private_key_jwt", "rp", "cancel").await;
    assert_eq!(r["error"], "access_denied", "{r}");
}

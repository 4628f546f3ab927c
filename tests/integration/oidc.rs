//! The OIDC client against the test ID-porten over real HTTP: PAR, PKCE, private_key_jwt and
//! client secrets, the RFC 9207 `iss` check, ID-token validation, LoA never downgraded, and a
//! provider that is down or slow.

use eidas_node::clock::{Clock, ManualClock, SystemClock};
use eidas_node::crypto::generate::{KeyKind, generate};
use eidas_node::eidas::loa::{Level, RequestedAuthnContext};
use eidas_node::oidc::LoaMapping;
use eidas_node::oidc::client::{
    Callback, ClientAuth, ClientSettings, IdPortenClient, OidcError, PendingLogin,
};
use eidas_node::test_idporten::{TestClient, TestClientAuth, TestIdPorten, TestPerson, router};
use std::sync::Arc;
use std::time::Duration;

const REDIRECT: &str = "http://127.0.0.1:1/ps/callback";
const PID: &str = "15838512329";

struct Provider {
    issuer: String,
    idp: Arc<TestIdPorten>,
    client_key_pem: String,
}

async fn provider_with(clock: Arc<dyn Clock>) -> Provider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let client_key = generate(KeyKind::EcP256, "client", "NO", 0, 3650).unwrap();
    let spki_pem =
        eidas_node::crypto::pem::encode("PUBLIC KEY", client_key.key.public_key().spki_der());
    let clients = vec![
        TestClient {
            client_id: "eidas-proxy".into(),
            redirect_uris: vec![REDIRECT.into()],
            auth: TestClientAuth::PrivateKeyJwt(
                jsonwebtoken::DecodingKey::from_ec_pem(spki_pem.as_bytes()).unwrap(),
            ),
        },
        TestClient {
            client_id: "secret client".into(),
            redirect_uris: vec![REDIRECT.into()],
            auth: TestClientAuth::Secret("s3cr:t &x".into()),
        },
    ];
    let persons = vec![TestPerson {
        pid: PID.into(),
        label: "Vakker Rask Blomst".into(),
    }];
    let idp = Arc::new(TestIdPorten::new(&issuer, clients, persons, clock).unwrap());
    let app = router(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Provider {
        issuer,
        idp,
        client_key_pem: client_key.key.pkcs8_pem(),
    }
}

async fn provider() -> Provider {
    provider_with(Arc::new(SystemClock)).await
}

fn settings(p: &Provider, auth: ClientAuth, client_id: &str) -> ClientSettings {
    ClientSettings {
        issuer: p.issuer.clone(),
        client_id: client_id.into(),
        redirect_uri: REDIRECT.into(),
        auth,
        par: true,
        scope: "openid".into(),
        loa: LoaMapping::default(),
        timeout: Duration::from_secs(5),
        clock_skew: time::Duration::seconds(30),
        allow_loopback_http: true,
    }
}

fn jwt_client(p: &Provider) -> IdPortenClient {
    let auth = ClientAuth::private_key_jwt(p.client_key_pem.as_bytes(), None).unwrap();
    IdPortenClient::new(settings(p, auth, "eidas-proxy"), Arc::new(SystemClock), &[]).unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// What a browser does at the test ID-porten: open the page, pick the person and a level (or
/// cancel), follow the redirect back. Returns the callback query.
async fn browser(p: &Provider, redirect: &str, pid: &str, acr: &str, action: &str) -> Callback {
    let page = http().get(redirect).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(PID), "the login page lists the test person");
    assert!(html.contains("Not ID-porten"));
    let request_uri = html
        .split("name=\"request_uri\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let r = http()
        .post(format!("{}/authorize", p.issuer))
        .form(&[
            ("request_uri", request_uri.as_str()),
            ("pid", pid),
            ("acr", acr),
            ("action", action),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    assert!(loc.starts_with(REDIRECT), "{loc}");
    serde_urlencoded::from_str(loc.split_once('?').unwrap().1).unwrap()
}

fn substantial() -> RequestedAuthnContext {
    RequestedAuthnContext::minimum(Level::Substantial)
}

#[tokio::test]
async fn par_pkce_and_private_key_jwt_give_the_person_and_the_level_reached() {
    let p = provider().await;
    let c = jwt_client(&p);
    let s = c.start(&substantial(), Some("en")).await.unwrap();
    // With PAR the browser carries only client_id and request_uri: nothing to tamper with.
    assert!(s.redirect.starts_with(&format!("{}/authorize?", p.issuer)));
    assert!(s.redirect.contains("request_uri=urn"));
    assert!(!s.redirect.contains("nonce") && !s.redirect.contains("code_challenge"));
    let cb = browser(&p, &s.redirect, PID, "idporten-loa-high", "login").await;
    assert_eq!(cb.iss.as_deref(), Some(p.issuer.as_str()));
    let a = c.finish(&s.pending, &cb, &substantial()).await.unwrap();
    assert_eq!(a.pid.as_deref(), Some(PID));
    assert_eq!(a.acr, "idporten-loa-high");
    assert_eq!(a.level.as_uri(), "http://eidas.europa.eu/LoA/high");
    assert!(a.given_name.is_none(), "ID-porten's token carries no names");

    // The code is one-time: the same redirect again is refused by the provider.
    let again = c.finish(&s.pending, &cb, &substantial()).await.unwrap_err();
    assert!(
        matches!(&again, OidcError::Protocol { step: "token", message } if message.contains("invalid_grant")),
        "{again}"
    );
}

#[tokio::test]
async fn client_secret_basic_and_post_also_work() {
    let p = provider().await;
    for auth in [
        ClientAuth::ClientSecretBasic("s3cr:t &x".into()),
        ClientAuth::ClientSecretPost("s3cr:t &x".into()),
    ] {
        let c = IdPortenClient::new(
            settings(&p, auth, "secret client"),
            Arc::new(SystemClock),
            &[],
        )
        .unwrap();
        let s = c.start(&substantial(), None).await.unwrap();
        let cb = browser(&p, &s.redirect, PID, "idporten-loa-substantial", "login").await;
        let a = c.finish(&s.pending, &cb, &substantial()).await.unwrap();
        assert_eq!(a.pid.as_deref(), Some(PID));
    }
    // A wrong secret is refused at PAR, with the provider's reason.
    let c = IdPortenClient::new(
        settings(
            &p,
            ClientAuth::ClientSecretBasic("wrong".into()),
            "secret client",
        ),
        Arc::new(SystemClock),
        &[],
    )
    .unwrap();
    let e = c.start(&substantial(), None).await.unwrap_err();
    assert!(
        matches!(&e, OidcError::Protocol { step: "PAR", message } if message.contains("invalid_client")),
        "{e}"
    );
}

#[tokio::test]
async fn a_client_assertion_signed_with_another_key_is_refused() {
    let p = provider().await;
    let other = generate(KeyKind::EcP256, "other", "NO", 0, 3650).unwrap();
    let auth = ClientAuth::private_key_jwt(other.key.pkcs8_pem().as_bytes(), None).unwrap();
    let c = IdPortenClient::new(
        settings(&p, auth, "eidas-proxy"),
        Arc::new(SystemClock),
        &[],
    )
    .unwrap();
    let e = c.start(&substantial(), None).await.unwrap_err();
    assert!(e.to_string().contains("invalid_client"), "{e}");
}

#[tokio::test]
async fn cancel_at_id_porten_is_reported_as_cancelled() {
    let p = provider().await;
    let c = jwt_client(&p);
    let s = c.start(&substantial(), Some("nb")).await.unwrap();
    let cb = browser(&p, &s.redirect, PID, "idporten-loa-substantial", "cancel").await;
    assert_eq!(cb.error.as_deref(), Some("access_denied"));
    let e = c.finish(&s.pending, &cb, &substantial()).await.unwrap_err();
    assert!(matches!(e, OidcError::Cancelled), "{e}");
}

#[tokio::test]
async fn a_level_below_the_request_is_refused_never_downgraded() {
    let p = provider().await;
    let c = jwt_client(&p);
    let high = RequestedAuthnContext::minimum(Level::High);
    let s = c.start(&high, None).await.unwrap();
    let cb = browser(&p, &s.redirect, PID, "idporten-loa-substantial", "login").await;
    let e = c.finish(&s.pending, &cb, &high).await.unwrap_err();
    assert!(matches!(e, OidcError::Acr(_)), "{e}");
    assert!(e.to_string().contains("below what was asked"), "{e}");
}

#[tokio::test]
async fn a_redirect_with_another_state_or_issuer_is_refused() {
    let p = provider().await;
    let c = jwt_client(&p);
    let s = c.start(&substantial(), None).await.unwrap();
    let cb = browser(&p, &s.redirect, PID, "idporten-loa-substantial", "login").await;

    let mut wrong_state = cb.clone();
    wrong_state.state = Some("x".repeat(22));
    let e = c
        .finish(&s.pending, &wrong_state, &substantial())
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::Mismatch("state differs")), "{e}");

    // RFC 9207 mix-up defence: another issuer, or none when the provider announces it.
    let mut other_iss = cb.clone();
    other_iss.iss = Some("https://attacker.example".into());
    let e = c
        .finish(&s.pending, &other_iss, &substantial())
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::Mismatch("iss differs")), "{e}");
    let mut no_iss = cb.clone();
    no_iss.iss = None;
    let e = c
        .finish(&s.pending, &no_iss, &substantial())
        .await
        .unwrap_err();
    assert!(matches!(e, OidcError::Mismatch("iss missing")), "{e}");

    // A code stolen into another pending login fails PKCE at the provider.
    let other = PendingLogin {
        code_verifier: "A".repeat(43),
        ..s.pending.clone()
    };
    let e = c.finish(&other, &cb, &substantial()).await.unwrap_err();
    assert!(e.to_string().contains("PKCE"), "{e}");
}

#[tokio::test]
async fn id_tokens_are_checked_for_signature_audience_issuer_time_and_nonce() {
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let p = provider_with(clock.clone()).await;
    let c = jwt_client(&p);
    let d = c.discovery().await.unwrap();
    let now = clock.now().unix_timestamp();
    let good = serde_json::json!({
        "iss": p.issuer, "aud": "eidas-proxy", "sub": "s", "iat": now, "exp": now + 120,
        "nonce": "n1", "acr": "idporten-loa-substantial", "pid": PID,
    });
    let token = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut c = good.clone();
        f(&mut c);
        p.idp.sign(&c)
    };
    assert!(c.validate_id_token(&token(&|_| {}), "n1", &d).await.is_ok());

    let cases: Vec<(&str, String, &str)> = vec![
        ("nonce", token(&|_| {}), "nonce differs"),
        (
            "aud",
            token(&|c| c["aud"] = "someone-else".into()),
            "InvalidAudience",
        ),
        (
            "iss",
            token(&|c| c["iss"] = "https://evil".into()),
            "InvalidIssuer",
        ),
        (
            "expired",
            token(&|c| c["exp"] = (now - 31).into()),
            "expired",
        ),
        ("future", token(&|c| c["iat"] = (now + 31).into()), "future"),
        (
            "no nonce",
            token(&|c| {
                c.as_object_mut().unwrap().remove("nonce");
            }),
            "no nonce",
        ),
        (
            "azp",
            token(&|c| c["aud"] = serde_json::json!(["eidas-proxy", "other"])),
            "azp",
        ),
    ];
    for (name, t, expect) in cases {
        let nonce = if name == "nonce" { "other" } else { "n1" };
        let e = c.validate_id_token(&t, nonce, &d).await.unwrap_err();
        assert!(e.to_string().contains(expect), "{name}: {e}");
    }
    // Within the skew both ways is accepted.
    let t = token(&|c| {
        c["exp"] = (now - 29).into();
        c["iat"] = (now + 29).into();
    });
    assert!(c.validate_id_token(&t, "n1", &d).await.is_ok());

    // A token signed by another key under the provider's kid, or with alg none / HS256, fails.
    let mut parts: Vec<String> = p.idp.sign(&good).split('.').map(str::to_string).collect();
    parts[1] = {
        use base64::Engine;
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value =
            serde_json::from_slice(&e.decode(&parts[1]).unwrap()).unwrap();
        claims["pid"] = "23906398699".into();
        e.encode(claims.to_string())
    };
    let e = c
        .validate_id_token(&parts.join("."), "n1", &d)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("InvalidSignature"), "{e}");
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(b"k").unwrap(),
    )
    .unwrap();
    let e = c.validate_id_token(&hs, "n1", &d).await.unwrap_err();
    assert!(e.to_string().contains("not accepted"), "{e}");
    let other = TestIdPorten::new(&p.issuer, vec![], vec![], clock.clone()).unwrap();
    let e = c
        .validate_id_token(&other.sign(&good), "n1", &d)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no key"), "{e}");
}

#[tokio::test]
async fn id_porten_down_or_slow_is_a_clear_unavailable_error() {
    // Down: nothing listens.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}", l.local_addr().unwrap());
    drop(l);
    let p = Provider {
        issuer: down,
        idp: Arc::new(
            TestIdPorten::new("http://x", vec![], vec![], Arc::new(SystemClock)).unwrap(),
        ),
        client_key_pem: String::new(),
    };
    let c = IdPortenClient::new(
        settings(&p, ClientAuth::ClientSecretPost("s".into()), "c"),
        Arc::new(SystemClock),
        &[],
    )
    .unwrap();
    let e = c.start(&substantial(), None).await.unwrap_err();
    assert!(
        matches!(&e, OidcError::Unavailable { step: "discovery", message } if message == "connection failed"),
        "{e}"
    );

    // Slow: accepts the connection and never answers.
    let slow = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", slow.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = slow.accept().await {
            held.push(s);
        }
    });
    let mut s = settings(&p, ClientAuth::ClientSecretPost("s".into()), "c");
    s.issuer = issuer;
    s.timeout = Duration::from_millis(300);
    let c = IdPortenClient::new(s, Arc::new(SystemClock), &[]).unwrap();
    let e = c.start(&substantial(), None).await.unwrap_err();
    assert!(
        matches!(&e, OidcError::Unavailable { step: "discovery", message } if message == "timed out"),
        "{e}"
    );
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_refused() {
    let p = provider().await;
    let mut s = settings(&p, ClientAuth::ClientSecretPost("s".into()), "c");
    s.issuer = format!("{}/", p.issuer);
    let c = IdPortenClient::new(s, Arc::new(SystemClock), &[]).unwrap();
    let e = c.discovery().await.unwrap_err();
    assert!(e.to_string().contains("names issuer"), "{e}");
}

#[tokio::test]
async fn without_par_every_parameter_is_in_the_redirect_and_login_is_forced() {
    let p = provider().await;
    let mut s = settings(
        &p,
        ClientAuth::ClientSecretPost("s3cr:t &x".into()),
        "secret client",
    );
    s.par = false;
    let c = IdPortenClient::new(s, Arc::new(SystemClock), &[]).unwrap();
    let high = RequestedAuthnContext::minimum(Level::High);
    let started = c.start(&high, Some("se")).await.unwrap();
    let query: std::collections::HashMap<String, String> =
        serde_urlencoded::from_str(started.redirect.split_once('?').unwrap().1).unwrap();
    let q = |k: &str| query.get(k).map(String::as_str);
    assert_eq!(q("response_type"), Some("code"));
    assert_eq!(q("client_id"), Some("secret client"));
    assert_eq!(q("redirect_uri"), Some(REDIRECT));
    assert_eq!(q("acr_values"), Some("idporten-loa-high"));
    assert_eq!(q("code_challenge_method"), Some("S256"));
    assert_eq!(q("prompt"), Some("login"), "ForceAuthn: no silent SSO");
    assert_eq!(q("ui_locales"), Some("se"));
    assert_eq!(q("state"), Some(started.pending.state.as_str()));
    assert_eq!(q("nonce"), Some(started.pending.nonce.as_str()));
    assert_eq!(
        q("code_challenge").map(str::to_string),
        Some(
            eidas_node::oidc::Pkce::from_verifier(started.pending.code_verifier.clone()).challenge
        )
    );
    assert!(
        !started.redirect.contains("client_secret"),
        "no secret in a URL"
    );
}

/// A server that answers every request with a chunked body of `total` bytes (no Content-Length)
/// or, with `declare`, a Content-Length of `total` and the body.
async fn oversized_server(total: usize, declare: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let chunk = vec![b' '; 1024];
                if declare {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {total}\r\n\r\n"
                    );
                    let _ = s.write_all(head.as_bytes()).await;
                } else {
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                        .await;
                }
                for _ in 0..total / 1024 {
                    if declare {
                        if s.write_all(&chunk).await.is_err() {
                            return;
                        }
                    } else if s.write_all(b"400\r\n").await.is_err()
                        || s.write_all(&chunk).await.is_err()
                        || s.write_all(b"\r\n").await.is_err()
                    {
                        return;
                    }
                }
                let _ = s.write_all(b"0\r\n\r\n").await;
            });
        }
    });
    url
}

#[tokio::test]
async fn an_oversized_answer_is_refused_declared_or_chunked() {
    let p = provider().await;
    for declare in [true, false] {
        let mut s = settings(&p, ClientAuth::ClientSecretPost("s".into()), "c");
        s.issuer = oversized_server(1024 * 1024, declare).await;
        let c = IdPortenClient::new(s, Arc::new(SystemClock), &[]).unwrap();
        let e = c.discovery().await.unwrap_err();
        assert!(
            matches!(&e, OidcError::Protocol { step: "discovery", message } if message.contains("larger than 65536")),
            "declared {declare}: {e}"
        );
    }
}

#[tokio::test]
async fn par_configured_against_a_provider_without_par_is_refused_at_discovery() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", l.local_addr().unwrap());
    let doc = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
    });
    let app = axum::Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(move || {
            let d = doc.clone();
            async move { axum::Json(d) }
        }),
    );
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    let p = Provider {
        issuer,
        idp: Arc::new(
            TestIdPorten::new("http://x", vec![], vec![], Arc::new(SystemClock)).unwrap(),
        ),
        client_key_pem: String::new(),
    };
    let c = IdPortenClient::new(
        settings(&p, ClientAuth::ClientSecretPost("s".into()), "c"),
        Arc::new(SystemClock),
        &[],
    )
    .unwrap();
    let e = c.start(&substantial(), None).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("pushed_authorization_request_endpoint"),
        "{e}"
    );
}

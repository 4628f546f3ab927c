//! The Folkeregisteret client over HTTP against a local stand-in for Maskinporten and
//! Folkeregisteret (neither runs outside Norway's networks): the JWT-bearer grant is checked as
//! Maskinporten checks it, the token is cached and renewed once on 401, only `navn` and
//! `foedsel` are asked for, and a register that is down, slow or refusing is a clear error.

use axum::extract::{Form, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use eidas_node::clock::SystemClock;
use eidas_node::crypto::generate::{KeyKind, generate};
use eidas_node::register::{
    Folkeregisteret, FolkeregisteretSettings, IdentityNumber, Register, RegisterError,
};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct Fake {
    grants: AtomicUsize,
    lookups: AtomicUsize,
    /// Answer the next data call with 401 (token revoked).
    revoke_next: Mutex<bool>,
    /// Answer data calls with this status instead.
    fail_with: Mutex<Option<u16>>,
    refuse_grants: Mutex<bool>,
    tokens: Mutex<Vec<String>>,
    queries: Mutex<Vec<String>>,
    decoding: Mutex<Option<jsonwebtoken::DecodingKey>>,
    issuer: Mutex<String>,
}

async fn token(
    State(f): State<Arc<Fake>>,
    Form(form): Form<HashMap<String, String>>,
) -> impl IntoResponse {
    f.grants.fetch_add(1, Ordering::SeqCst);
    if *f.refuse_grants.lock().unwrap() {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_grant"}"#.to_string(),
        );
    }
    assert_eq!(
        form.get("grant_type").map(String::as_str),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    let key = f.decoding.lock().unwrap().clone().unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&[f.issuer.lock().unwrap().clone()]);
    v.set_issuer(&["eidas-node-client"]);
    v.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&form["assertion"], &key, &v)
        .expect("a grant Maskinporten accepts")
        .claims;
    assert_eq!(claims["scope"], "folkeregister:deling/offentligmedhjemmel");
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 120);
    assert!(claims.get("resource").is_none(), "no resource for Freg");
    let t = format!("token-{}", f.grants.load(Ordering::SeqCst));
    f.tokens.lock().unwrap().push(t.clone());
    (
        StatusCode::OK,
        serde_json::json!({"access_token": t, "token_type": "Bearer", "expires_in": 120})
            .to_string(),
    )
}

async fn person(
    State(f): State<Arc<Fake>>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> impl IntoResponse {
    f.lookups.fetch_add(1, Ordering::SeqCst);
    f.queries.lock().unwrap().push(q.unwrap_or_default());
    if let Some(s) = *f.fail_with.lock().unwrap() {
        return (StatusCode::from_u16(s).unwrap(), String::new());
    }
    let auth = headers["authorization"].to_str().unwrap().to_string();
    let latest = f.tokens.lock().unwrap().last().cloned().unwrap_or_default();
    if std::mem::take(&mut *f.revoke_next.lock().unwrap()) || auth != format!("Bearer {latest}") {
        return (StatusCode::UNAUTHORIZED, String::new());
    }
    match id.as_str() {
        "15838512329" => (
            StatusCode::OK,
            r#"{"navn":[{"erGjeldende":true,"fornavn":"Vakker Rask","etternavn":"Blomst"}],
               "foedsel":[{"erGjeldende":true,"foedselsdato":"1985-03-15","foedselsaar":"1985"}]}"#
                .to_string(),
        ),
        // An answer far past the client's limit.
        "13873249565" => (
            StatusCode::OK,
            format!("{{\"navn\":\"{}\"}}", "x".repeat(1 << 20)),
        ),
        "41814061033" => (
            StatusCode::OK,
            r#"{"navn":[{"erGjeldende":true,"fornavn":"Stille","etternavn":"Elv"}],
               "foedsel":[{"erGjeldende":true,"foedselsaar":"1961"}]}"#
                .to_string(),
        ),
        _ => (StatusCode::NOT_FOUND, String::new()),
    }
}

struct World {
    fake: Arc<Fake>,
    base: String,
    key_pem: String,
}

async fn world() -> World {
    let key = generate(KeyKind::EcP256, "client", "NO", 0, 3650).unwrap();
    let spki = key.key.public_key().spki_der();
    let pem = eidas_node::crypto::pem::encode("PUBLIC KEY", spki);
    let fake = Arc::new(Fake::default());
    *fake.decoding.lock().unwrap() =
        Some(jsonwebtoken::DecodingKey::from_ec_pem(pem.as_bytes()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    *fake.issuer.lock().unwrap() = format!("{base}/maskinporten/");
    let app = axum::Router::new()
        .route("/maskinporten/token", post(token))
        .route(
            "/folkeregisteret/offentlig-med-hjemmel/api/v1/personer/{id}",
            get(person),
        )
        .with_state(fake.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    World {
        fake,
        base,
        key_pem: key.key.pkcs8_pem(),
    }
}

fn client(w: &World, base: &str, timeout: Duration) -> Folkeregisteret {
    let auth =
        eidas_node::oidc::client::ClientAuth::private_key_jwt(w.key_pem.as_bytes(), None).unwrap();
    let eidas_node::oidc::client::ClientAuth::PrivateKeyJwt { key, alg, .. } = auth else {
        unreachable!()
    };
    Folkeregisteret::new(
        FolkeregisteretSettings {
            base_url: base.into(),
            package: "folkeregisteret/offentlig-med-hjemmel".into(),
            maskinporten_issuer: format!("{}/maskinporten/", w.base),
            maskinporten_token_url: format!("{}/maskinporten/token", w.base),
            client_id: "eidas-node-client".into(),
            scope: "folkeregister:deling/offentligmedhjemmel".into(),
            key,
            alg,
            kid: Some("k1".into()),
            timeout,
            allow_loopback_http: true,
        },
        Arc::new(SystemClock),
        &[],
    )
    .unwrap()
}

fn n(s: &str) -> IdentityNumber {
    IdentityNumber::parse(s, true).unwrap()
}

#[tokio::test]
async fn looks_up_names_and_birth_date_with_one_cached_maskinporten_token() {
    let w = world().await;
    let c = client(&w, &w.base, Duration::from_secs(5));
    let p = c.lookup(&n("15838512329")).await.unwrap().unwrap();
    assert_eq!(p.given_names, "Vakker Rask");
    assert_eq!(p.family_name, "Blomst");
    assert_eq!(p.birth_date.unwrap().to_string(), "1985-03-15");
    // A person with only a birth year: reported as missing.
    let p = c.lookup(&n("41814061033")).await.unwrap().unwrap();
    assert_eq!(p.birth_date, None);
    // An oversized answer is refused, not read whole.
    let e = c.lookup(&n("13873249565")).await.unwrap_err();
    assert!(
        matches!(&e, RegisterError::InvalidResponse { reason } if reason.contains("more than 262144 bytes")),
        "{e}"
    );
    // Unknown person: None, not an error.
    assert!(c.lookup(&n("23906398699")).await.unwrap().is_none());
    assert_eq!(
        w.fake.grants.load(Ordering::SeqCst),
        1,
        "the token is reused"
    );
    for q in w.fake.queries.lock().unwrap().iter() {
        assert_eq!(q, "part=navn&part=foedsel", "data minimisation");
    }
}

#[tokio::test]
async fn a_revoked_token_is_renewed_once() {
    let w = world().await;
    let c = client(&w, &w.base, Duration::from_secs(5));
    assert!(c.lookup(&n("15838512329")).await.unwrap().is_some());
    *w.fake.revoke_next.lock().unwrap() = true;
    assert!(c.lookup(&n("15838512329")).await.unwrap().is_some());
    assert_eq!(w.fake.grants.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn register_down_slow_failing_or_refusing_our_grant_is_a_clear_error() {
    let w = world().await;
    // Failing: 503.
    *w.fake.fail_with.lock().unwrap() = Some(503);
    let c = client(&w, &w.base, Duration::from_secs(5));
    let e = c.lookup(&n("15838512329")).await.unwrap_err();
    assert!(matches!(e, RegisterError::Unavailable { .. }), "{e}");
    assert!(
        e.to_string().contains("503") && !e.to_string().contains("15838512329"),
        "{e}"
    );
    *w.fake.fail_with.lock().unwrap() = None;

    // Maskinporten refuses the grant.
    *w.fake.refuse_grants.lock().unwrap() = true;
    let e = client(&w, &w.base, Duration::from_secs(5))
        .lookup(&n("15838512329"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Maskinporten refused"), "{e}");
    *w.fake.refuse_grants.lock().unwrap() = false;

    // Down: nothing listens where the register should be.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let e = client(&w, &closed, Duration::from_secs(5))
        .lookup(&n("15838512329"))
        .await
        .unwrap_err();
    assert!(matches!(e, RegisterError::Unavailable { .. }), "{e}");
    assert!(e.to_string().contains("connection failed"), "{e}");

    // Slow: accepts and never answers.
    let slow = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow_url = format!("http://{}", slow.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = slow.accept().await {
            held.push(s);
        }
    });
    let e = client(&w, &slow_url, Duration::from_millis(300))
        .lookup(&n("15838512329"))
        .await
        .unwrap_err();
    assert!(matches!(e, RegisterError::Timeout { .. }), "{e}");
}

//! The Connector end to end over HTTP: a Norwegian relying party (our OIDC client: PAR, PKCE,
//! private_key_jwt, ID-token validation) asks our OpenID provider, the person picks a country,
//! that country's Proxy-Service (the demo's, with its own test persons) authenticates them, and
//! the relying party gets tokens with `eidas_*` claims — or an error it can act on. Everything
//! runs on one loopback port, like `eidas-node demo`, with peers' metadata fetched and verified
//! over HTTP as for any peer.

use crate::common::p256;
use eidas_node::clock::SystemClock;
use eidas_node::crypto::generate::{KeyKind, generate};
use eidas_node::crypto::{Certificate, PrivateKey, SoftwareSigner};
use eidas_node::demo_proxy_service::{Carry, DemoProxyService, demo_persons};
use eidas_node::eidas::loa::{Level, RequestedAuthnContext as Rac};
use eidas_node::oidc::client::{
    Callback, ClientAuth, ClientSettings, IdPortenClient, PendingLogin,
};
use eidas_node::saml::AuthnRequest;
use std::sync::Arc;

pub struct Cn {
    pub base: String,
    pub _dir: tempfile::TempDir,
    /// XE: lists HTTP-POST first. XR: HTTP-Redirect first. XS: substantial only.
    pub xe: Arc<DemoProxyService>,
    pub xr: Arc<DemoProxyService>,
    pub rp: IdPortenClient,
    pub rp_key: PrivateKey,
    /// The node's own signing key's other PS: a key no peer metadata lists.
    pub stranger: SoftwareSigner,
}

fn key_files(
    dir: &std::path::Path,
    name: &str,
    kind: KeyKind,
    country: &str,
) -> (PrivateKey, Certificate) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let g = generate(kind, name, country, now - 60, 30).unwrap();
    std::fs::create_dir_all(dir.join(name)).unwrap();
    std::fs::write(dir.join(name).join("key.pem"), g.key.pkcs8_pem()).unwrap();
    std::fs::write(dir.join(name).join("cert.pem"), g.cert.to_pem()).unwrap();
    (g.key, g.cert)
}

pub struct CnOptions {
    pub matching: bool,
    /// The Connector decrypts with RSA (OAEP) instead of P-256 (ECDH-ES).
    pub rsa_encryption: bool,
    pub extra_config: String,
    /// XE and XR come from a signed Metadata Service List instead of `[[peer]]` (XR hidden
    /// from discovery, and a suspended entry beside them).
    pub mdsl: bool,
}

impl Default for CnOptions {
    fn default() -> Self {
        CnOptions {
            matching: true,
            rsa_encryption: false,
            extra_config: String::new(),
            mdsl: false,
        }
    }
}

pub async fn cn_setup(o: CnOptions) -> Cn {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::fs::create_dir_all(d.join("signing")).unwrap();
    std::fs::copy(&p256().files.key_pem, d.join("signing/key.pem")).unwrap();
    std::fs::copy(&p256().files.cert_pem, d.join("signing/cert.pem")).unwrap();
    key_files(
        d,
        "encryption",
        if o.rsa_encryption {
            KeyKind::Rsa3072
        } else {
            KeyKind::EcP256
        },
        "NO",
    );
    let (xe_key, xe_cert) = key_files(d, "xe", KeyKind::EcP256, "XE");
    let (xr_key, xr_cert) = key_files(d, "xr", KeyKind::Rsa3072, "XR");
    let (xs_key, xs_cert) = key_files(d, "xs", KeyKind::EcP256, "XS");
    let (xp_key, xp_cert) = key_files(d, "xp", KeyKind::Rsa3072, "XP");
    let (rp_key, _) = key_files(d, "rp", KeyKind::EcP256, "NO");
    std::fs::write(
        d.join("rp-secret"),
        "a-client-secret-of-at-least-32-characters",
    )
    .unwrap();
    std::fs::write(
        d.join("matches.toml"),
        include_str!("../../src/connector/testdata/identity-matches.toml"),
    )
    .unwrap();
    let matching = if o.matching {
        "matching = \"file\"\nmatching_file = \"matches.toml\"\naccept_synthetic_numbers = true\n"
    } else {
        ""
    };
    let (peers_xe_xr, mdsl) = if o.mdsl {
        write_mdsl(d, &base, &xe_cert, &xr_cert);
        (
            String::new(),
            "mdsl_file = \"mdsl.xml\"\nmdsl_trust_anchors = [\"mdsl-anchor/cert.pem\"]\n",
        )
    } else {
        (
            format!(
                "[[peer]]\ncountry = \"XE\"\nrole = \"proxy_service\"\nmetadata_url = \"{base}/xe/metadata\"\ntrust_anchors = [\"xe/cert.pem\"]\n\n\
[[peer]]\ncountry = \"XR\"\nrole = \"proxy_service\"\nmetadata_url = \"{base}/xr/metadata\"\ntrust_anchors = [\"xr/cert.pem\"]\n\n"
            ),
            "",
        )
    };
    let config = format!(
        "[node]\npublic_url = \"{base}\"\ncountry = \"NO\"\ndata_dir = \"data\"\n\n\
[keys]\nsigning_key = \"signing/key.pem\"\nsigning_cert = \"signing/cert.pem\"\n\
encryption_key = \"encryption/key.pem\"\nencryption_cert = \"encryption/cert.pem\"\n\n\
[metadata_fetch]\nallow_loopback_http = true\n\n\
[connector]\n{matching}{mdsl}{extra}\n\
[oidc_provider]\n\n\
[[oidc_provider.client]]\nclient_id = \"rp\"\nredirect_uris = [\"http://127.0.0.1:1/callback\"]\n\
public_key = \"rp/cert.pem\"\nattributes = [\"PlaceOfBirth\"]\n\n\
[[oidc_provider.client]]\nclient_id = \"rp-basic\"\nredirect_uris = [\"http://127.0.0.1:1/callback\"]\n\
auth = \"client_secret_basic\"\nclient_secret_file = \"rp-secret\"\n\n\
{peers_xe_xr}\
[[peer]]\ncountry = \"XP\"\nrole = \"proxy_service\"\nmetadata_url = \"{base}/xp/metadata\"\ntrust_anchors = [\"xp/cert.pem\"]\n\n\
[[peer]]\ncountry = \"XS\"\nrole = \"proxy_service\"\nmetadata_url = \"{base}/xs/metadata\"\ntrust_anchors = [\"xs/cert.pem\"]\n\n\
[[peer]]\ncountry = \"XW\"\nrole = \"proxy_service\"\nmetadata_url = \"{base}/xe/metadata\"\ntrust_anchors = [\"xe/cert.pem\"]\n\n\
[[peer]]\ncountry = \"XD\"\nrole = \"proxy_service\"\nmetadata_url = \"{base}/nowhere/metadata\"\ntrust_anchors = [\"xe/cert.pem\"]\n\n\
[organization]\nname = \"test\"\ndisplay_name = \"test\"\nurl = \"{base}\"\n",
        extra = o.extra_config,
    );
    std::fs::write(d.join("eidas-node.toml"), config).unwrap();
    let config = eidas_node::config::Config::load(&d.join("eidas-node.toml")).expect("config");
    let (key, cert) = config.signing_key().unwrap();
    let signer = SoftwareSigner::new(key, None, Some(cert)).unwrap();
    let clock: Arc<dyn eidas_node::clock::Clock> = Arc::new(SystemClock);
    let connector_md = config
        .our_metadata(eidas_node::metadata::ours::Role::Connector)
        .unwrap()
        .to_signed_xml(clock.now(), &signer)
        .unwrap();
    let ps = |country: &str, path: &str, redirect: bool, k: PrivateKey, c: Certificate| {
        DemoProxyService::new(
            country,
            &format!("{base}/{path}"),
            redirect,
            k,
            c,
            &connector_md,
            std::slice::from_ref(&p256().cert),
            demo_persons(),
            clock.clone(),
        )
        .unwrap()
    };
    let xe = Arc::new(ps("XE", "xe", false, xe_key, xe_cert));
    let xr = Arc::new(ps("XR", "xr", true, xr_key, xr_cert));
    let xp = Arc::new(ps("XP", "xp", false, xp_key, xp_cert));
    let xs = Arc::new(ps("XS", "xs", false, xs_key, xs_cert).with_levels(vec![Level::Substantial]));
    let state = eidas_node::web::AppState::new(Arc::new(config), Arc::new(signer), clock.clone())
        .unwrap()
        .with_runtime()
        .unwrap();
    let app = eidas_node::web::router(Arc::new(state))
        .nest("/xe", eidas_node::demo_proxy_service::router(xe.clone()))
        .nest("/xr", eidas_node::demo_proxy_service::router(xr.clone()))
        .nest("/xs", eidas_node::demo_proxy_service::router(xs))
        .nest("/xp", eidas_node::demo_proxy_service::router(xp));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let rp = IdPortenClient::new(
        ClientSettings {
            issuer: base.clone(),
            client_id: "rp".into(),
            redirect_uri: "http://127.0.0.1:1/callback".into(),
            auth: ClientAuth::private_key_jwt(rp_key.pkcs8_pem().as_bytes(), None).unwrap(),
            par: true,
            scope: "openid profile eidas".into(),
            loa: eidas_node::demo_rp::eidas_loa_mapping(),
            timeout: std::time::Duration::from_secs(10),
            clock_skew: time::Duration::seconds(30),
            allow_loopback_http: true,
        },
        clock,
        &[],
    )
    .unwrap();
    let g = generate(KeyKind::EcP256, "stranger", "XE", 0, 3650).unwrap();
    Cn {
        base,
        _dir: dir,
        xe,
        xr,
        rp,
        rp_key,
        stranger: SoftwareSigner::new(g.key, None, Some(g.cert)).unwrap(),
    }
}

/// A Metadata Service List signed by a fresh anchor: XE and XR as Proxy-Services (XR hidden
/// from discovery), and a suspended Proxy-Service for XQ.
fn write_mdsl(d: &std::path::Path, base: &str, xe: &Certificate, xr: &Certificate) {
    use base64::Engine;
    let (anchor_key, anchor_cert) = key_files(d, "mdsl-anchor", KeyKind::EcP256, "EU");
    let b64 = |c: &Certificate| base64::engine::general_purpose::STANDARD.encode(c.der());
    let ept = "http://eidas.europa.eu/metadata/ept/ProxyService";
    let now = time::OffsetDateTime::now_utc();
    let location = |territory: &str, url: String, cert: &Certificate, attrs: &str| {
        format!(
            "<ser:MetadataList Territory=\"{territory}\"{attrs}><ser:MetadataLocation Location=\"{url}\">\
             <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
             <ser:Endpoint EndpointType=\"{ept}\" EntityID=\"{url}\"{hide}/></ser:MetadataLocation></ser:MetadataList>",
            b64(cert),
            hide = if territory == "XR" {
                " HideFromDiscovery=\"true\""
            } else {
                ""
            },
        )
    };
    let xml = format!(
        "<ser:MetadataServiceList xmlns:ser=\"http://eidas.europa.eu/metadata/servicelist\" \
         xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" ID=\"_mdsl\" Version=\"1.0\" IssueDate=\"{}\" NextUpdate=\"{}\">\
         <ser:SchemeInformation><ser:IssuerName>Test</ser:IssuerName><ser:SchemeIdentifier>urn:test:mdsl</ser:SchemeIdentifier>\
         <ser:SchemeTerritory>EU</ser:SchemeTerritory></ser:SchemeInformation>{}{}{}</ser:MetadataServiceList>",
        eidas_node::saml::format_instant(now),
        eidas_node::saml::format_instant(now + time::Duration::days(7)),
        location("XE", format!("{base}/xe/metadata"), xe, ""),
        location("XR", format!("{base}/xr/metadata"), xr, ""),
        location("XQ", format!("{base}/xs/metadata"), xe, " Suspend=\"true\""),
    );
    let signer = SoftwareSigner::new(anchor_key, None, Some(anchor_cert)).unwrap();
    let doc = eidas_node::xml::parse(xml.as_bytes(), &eidas_node::xml::Limits::default()).unwrap();
    let signed = eidas_node::xmlsec::dsig::sign_element(&doc, doc.root(), &signer).unwrap();
    std::fs::write(d.join("mdsl.xml"), signed).unwrap();
}

pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn input<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let at = html.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    html[at..].split('"').next()
}

fn unescape(s: &str) -> String {
    s.replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn location(r: &reqwest::Response) -> String {
    r.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on {}", r.status()))
        .to_str()
        .unwrap()
        .to_string()
}

pub fn with_q(url: &str, params: &[(&str, &str)]) -> String {
    format!("{url}?{}", serde_urlencoded::to_string(params).unwrap())
}

pub fn query(url: &str) -> std::collections::HashMap<String, String> {
    serde_urlencoded::from_str(url.split_once('?').map(|x| x.1).unwrap_or("")).unwrap()
}

/// A login in progress: the relying party's pending values and the country selection page.
pub struct Started {
    pub pending: PendingLogin,
    pub session: String,
    pub page: String,
}

pub async fn begin(c: &Cn, level: Level) -> Started {
    let s =
        c.rp.start(&Rac::minimum(level), Some("en"))
            .await
            .expect("PAR at our provider");
    let b = browser();
    let r = b.get(&s.redirect).send().await.unwrap();
    assert_eq!(r.status(), 303, "authorize answers with the country page");
    let to = location(&r);
    assert!(to.starts_with("/connector/countries?session="), "{to}");
    let page = b.get(format!("{}{to}", c.base)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    Started {
        pending: s.pending,
        session: query(&to)["session"].clone(),
        page,
    }
}

impl Cn {
    /// A file in the node's configuration folder (keys: `<name>/key.pem`, `<name>/cert.pem`).
    pub fn path(&self, rel: &str) -> std::path::PathBuf {
        self._dir.path().join(rel)
    }
}

/// Choose `country`, whose Proxy-Service lists HTTP-POST first: the form our Connector makes
/// (its action and the SAMLRequest value), not yet sent.
pub async fn request_form(c: &Cn, session: &str, country: &str) -> (String, String) {
    let r = browser()
        .post(format!("{}/connector/select", c.base))
        .form(&[("session", session), ("country", country)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a POST form");
    let html = r.text().await.unwrap();
    let action = unescape(
        html.split("action=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap(),
    );
    (
        action,
        unescape(input(&html, "SAMLRequest").expect("a POST form")),
    )
}

/// Choose `country`; returns the Proxy-Service's ticket (its login page) after following the
/// binding our Connector used.
pub async fn choose(c: &Cn, session: &str, country: &str) -> (String, &'static str) {
    let b = browser();
    let r = b
        .post(format!("{}/connector/select", c.base))
        .form(&[("session", session), ("country", country)])
        .send()
        .await
        .unwrap();
    let (page, binding) = if r.status() == 303 {
        // HTTP-Redirect: follow it.
        let to = location(&r);
        assert!(
            to.contains("SAMLRequest=") && to.contains("Signature="),
            "{to}"
        );
        (b.get(&to).send().await.unwrap(), "redirect")
    } else {
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        let action = unescape(
            html.split("action=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap(),
        );
        let value = unescape(input(&html, "SAMLRequest").expect("a POST form"));
        (
            b.post(&action)
                .form(&[("SAMLRequest", value)])
                .send()
                .await
                .unwrap(),
            "post",
        )
    };
    assert_eq!(
        page.status(),
        200,
        "the Proxy-Service accepted our AuthnRequest"
    );
    let html = page.text().await.unwrap();
    (
        input(&html, "ticket").expect("login page").to_string(),
        binding,
    )
}

/// Post a SAMLResponse to our ACS; returns the answer (a redirect to the relying party or a page).
pub async fn post_acs(c: &Cn, xml: &str) -> reqwest::Response {
    use base64::Engine;
    browser()
        .post(format!("{}/connector/acs", c.base))
        .form(&[(
            "SAMLResponse",
            base64::engine::general_purpose::STANDARD.encode(xml),
        )])
        .send()
        .await
        .unwrap()
}

/// The person logs in at the Proxy-Service's page (or cancels); returns our ACS's answer.
pub async fn at_ps(
    c: &Cn,
    country: &str,
    ticket: &str,
    person: usize,
    level: &str,
    action: &str,
) -> reqwest::Response {
    let b = browser();
    let r = b
        .post(format!("{}/{}/login", c.base, country.to_lowercase()))
        .form(&[
            ("ticket", ticket),
            ("person", &person.to_string()),
            ("level", level),
            ("action", action),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    let value = unescape(input(&html, "SAMLResponse").expect("a Response form"));
    b.post(format!("{}/connector/acs", c.base))
        .form(&[("SAMLResponse", value)])
        .send()
        .await
        .unwrap()
}

/// The relying party's redirect back: the callback parameters.
pub fn callback_of(r: &reqwest::Response) -> Callback {
    assert_eq!(
        r.status(),
        303,
        "the ACS sends the person back to the relying party"
    );
    let to = location(r);
    assert!(to.starts_with("http://127.0.0.1:1/callback?"), "{to}");
    let q = query(&to);
    Callback {
        code: q.get("code").cloned(),
        state: q.get("state").cloned(),
        iss: q.get("iss").cloned(),
        error: q.get("error").cloned(),
        error_description: q.get("error_description").cloned(),
    }
}

/// Log in all the way; returns the validated ID-token claims.
async fn full_login(
    c: &Cn,
    country: &str,
    level: Level,
    person: usize,
) -> (serde_json::Map<String, serde_json::Value>, &'static str) {
    let st = begin(c, level).await;
    let (ticket, binding) = choose(c, &st.session, country).await;
    let lvl = if level == Level::High {
        "high"
    } else {
        "substantial"
    };
    let r = at_ps(c, country, &ticket, person, lvl, "login").await;
    let cb = callback_of(&r);
    assert_eq!(cb.error, None, "{:?}", cb.error_description);
    assert_eq!(cb.iss.as_deref(), Some(c.base.as_str()), "RFC 9207 iss");
    let who =
        c.rp.finish(&st.pending, &cb, &Rac::minimum(level))
            .await
            .expect("the relying party validates our ID token");
    (who.claims, binding)
}

#[tokio::test]
async fn a_european_logs_in_by_post_at_substantial_and_is_matched_to_a_norwegian_number() {
    let c = cn_setup(CnOptions::default()).await;
    let (claims, binding) = full_login(&c, "XE", Level::Substantial, 0).await;
    assert_eq!(binding, "post", "XE lists HTTP-POST first");
    assert_eq!(claims["sub"], "XE/NO/XE-1001");
    assert_eq!(claims["eidas_identifier"], "XE/NO/XE-1001");
    assert_eq!(claims["acr"], "eidas-loa-substantial");
    assert_eq!(claims["amr"], serde_json::json!(["eIDAS"]));
    assert_eq!(claims["eidas_firstname"], "Javier");
    assert_eq!(claims["given_name"], "Javier");
    assert_eq!(claims["eidas_lastname"], "García López");
    assert_eq!(claims["family_name"], "García López");
    assert_eq!(claims["eidas_date_of_birth"], "1990-04-12");
    assert_eq!(claims["birthdate"], "1990-04-12");
    assert_eq!(claims["eidas_citizen_country_code"], "XE");
    assert_eq!(
        claims["eidas_place_of_birth"], "Xeville",
        "configured for the client"
    );
    assert_eq!(
        claims["pid"], "15838512329",
        "identity matching found the person"
    );
}

#[tokio::test]
async fn a_european_logs_in_by_redirect_at_high_without_a_match() {
    let c = cn_setup(CnOptions::default()).await;
    let (claims, binding) = full_login(&c, "XR", Level::High, 1).await;
    assert_eq!(binding, "redirect", "XR lists HTTP-Redirect first");
    assert_eq!(claims["sub"], "XR/NO/XE-2002");
    assert_eq!(claims["acr"], "eidas-loa-high");
    assert_eq!(claims["eidas_firstname"], "Zoë");
    assert_eq!(claims["eidas_lastname"], "Ørsted-Müller");
    assert!(
        !claims.contains_key("pid"),
        "no match: no pid, and still logged in"
    );
}

#[tokio::test]
async fn without_a_matcher_nobody_gets_a_pid_and_rsa_encryption_works() {
    let c = cn_setup(CnOptions {
        matching: false,
        rsa_encryption: true,
        ..CnOptions::default()
    })
    .await;
    let (claims, _) = full_login(&c, "XE", Level::High, 0).await;
    assert_eq!(claims["sub"], "XE/NO/XE-1001");
    assert!(!claims.contains_key("pid"));
}

#[tokio::test]
async fn userinfo_gives_the_same_claims_for_the_access_token_once_exchanged() {
    let c = cn_setup(CnOptions::default()).await;
    let st = begin(&c, Level::Substantial).await;
    let (ticket, _) = choose(&c, &st.session, "XE").await;
    let cb = callback_of(&at_ps(&c, "XE", &ticket, 0, "substantial", "login").await);
    // The relying party's token request, by hand, to see the access token.
    let assertion = {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let claims = serde_json::json!({"iss": "rp", "sub": "rp", "aud": c.base, "iat": now,
            "exp": now + 60, "jti": eidas_node::oidc::one_time_value()});
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_pem(c.rp_key.pkcs8_pem().as_bytes()).unwrap(),
        )
        .unwrap()
    };
    let form = [
        ("grant_type", "authorization_code"),
        ("code", cb.code.as_deref().unwrap()),
        ("redirect_uri", "http://127.0.0.1:1/callback"),
        ("code_verifier", st.pending.code_verifier.as_str()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion.as_str()),
    ];
    let t: serde_json::Value = browser()
        .post(format!("{}/oidc/token", c.base))
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let at = t["access_token"].as_str().expect("access token");
    assert_eq!(t["token_type"], "Bearer");
    let ui: serde_json::Value = browser()
        .get(format!("{}/oidc/userinfo", c.base))
        .bearer_auth(at)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ui["sub"], "XE/NO/XE-1001");
    assert_eq!(ui["pid"], "15838512329");
    // The code is spent; the same exchange again fails (and the client assertion's jti too).
    let again = browser()
        .post(format!("{}/oidc/token", c.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert!(
        again.status() == 400 || again.status() == 401,
        "{}",
        again.status()
    );
    let bad = browser()
        .get(format!("{}/oidc/userinfo", c.base))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
}

#[tokio::test]
async fn the_person_cancelling_abroad_or_on_our_page_gives_access_denied() {
    let c = cn_setup(CnOptions::default()).await;
    let st = begin(&c, Level::Substantial).await;
    let (ticket, _) = choose(&c, &st.session, "XE").await;
    let cb = callback_of(&at_ps(&c, "XE", &ticket, 0, "substantial", "cancel").await);
    assert_eq!(cb.error.as_deref(), Some("access_denied"));
    assert_eq!(cb.state.as_deref(), Some(st.pending.state.as_str()));
    assert!(cb.code.is_none());

    let st = begin(&c, Level::Substantial).await;
    let r = browser()
        .post(format!("{}/connector/select", c.base))
        .form(&[("session", st.session.as_str()), ("cancel", "1")])
        .send()
        .await
        .unwrap();
    let cb = callback_of(&r);
    assert_eq!(cb.error.as_deref(), Some("access_denied"));
    assert_eq!(cb.iss.as_deref(), Some(c.base.as_str()));
}

#[tokio::test]
async fn the_country_page_shows_unusable_countries_with_the_reason_and_searches() {
    let c = cn_setup(CnOptions::default()).await;
    let st = begin(&c, Level::High).await;
    let p = &st.page;
    // Usable: buttons that submit.
    assert!(p.contains("name=\"country\" value=\"XE\""), "{p}");
    assert!(p.contains("name=\"country\" value=\"XR\""));
    // XS publishes substantial only; XW's metadata names XE; XD's metadata is not there.
    for (code, why) in [
        ("XS", "does not offer the level of assurance"),
        ("XW", "not set up correctly"),
        ("XD", "cannot be reached or is not trusted"),
    ] {
        let at = p
            .find(&format!("why-{code}\""))
            .unwrap_or_else(|| panic!("{code} shown: {p}"));
        assert!(
            p[at..].split("</li>").next().unwrap().contains(why),
            "{code}: {p}"
        );
        assert!(
            !p.contains(&format!("name=\"country\" value=\"{code}\"")),
            "{code} is not choosable"
        );
    }
    // Choosing an unusable country anyway (a forged form) goes back with an error.
    let r = browser()
        .post(format!("{}/connector/select", c.base))
        .form(&[("session", st.session.as_str()), ("country", "XS")])
        .send()
        .await
        .unwrap();
    let cb = callback_of(&r);
    assert_eq!(cb.error.as_deref(), Some("temporarily_unavailable"));
    // In general words: no internal URL or fetch error reaches the relying party.
    let d = cb.error_description.unwrap_or_default();
    assert!(
        d.contains("level of assurance") && !d.contains("http"),
        "{d}"
    );
    // Search: only matching countries are listed.
    let st = begin(&c, Level::Substantial).await;
    let page = browser()
        .get(format!(
            "{}/connector/countries?session={}&q=xr",
            c.base, st.session
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("value=\"XR\""));
    assert!(!page.contains("value=\"XE\""), "filtered out");
    // At substantial XS is usable.
    assert!(st.page.contains("name=\"country\" value=\"XS\""));
}

#[tokio::test]
async fn the_last_choice_is_remembered_and_listed_first() {
    let c = cn_setup(CnOptions::default()).await;
    let st = begin(&c, Level::Substantial).await;
    let r = browser()
        .post(format!("{}/connector/select", c.base))
        .form(&[("session", st.session.as_str()), ("country", "XR")])
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get("set-cookie")
        .expect("the choice is remembered")
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.starts_with("eidas_last_country=XR;") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let st = begin(&c, Level::Substantial).await;
    let page = browser()
        .get(format!(
            "{}/connector/countries?session={}",
            c.base, st.session
        ))
        .header("cookie", "eidas_last_country=XR")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let first = page.split("<li>").nth(1).unwrap();
    assert!(first.contains("value=\"XR\""), "{page}");
}

#[tokio::test]
async fn a_request_naming_a_country_skips_the_page() {
    let c = cn_setup(CnOptions::default()).await;
    let secret = "a-client-secret-of-at-least-32-characters";
    let pkce = eidas_node::oidc::Pkce::new();
    let r = browser()
        .post(format!("{}/oidc/par", c.base))
        .basic_auth("rp-basic", Some(secret))
        .form(&[
            ("response_type", "code"),
            ("client_id", "rp-basic"),
            ("redirect_uri", "http://127.0.0.1:1/callback"),
            ("scope", "openid"),
            ("state", "s1"),
            ("nonce", "n1"),
            ("acr_values", "eidas-loa-substantial"),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("eidas_country", "XE"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: serde_json::Value = r.json().await.unwrap();
    let uri = v["request_uri"].as_str().unwrap();
    let r = browser()
        .get(with_q(
            &format!("{}/oidc/authorize", c.base),
            &[("client_id", "rp-basic"), ("request_uri", uri)],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "straight to XE's SSO by POST");
    let html = r.text().await.unwrap();
    assert!(html.contains("/xe/sso"), "{html}");
    assert!(input(&html, "SAMLRequest").is_some());
    // The request URI was single use.
    let again = browser()
        .get(with_q(
            &format!("{}/oidc/authorize", c.base),
            &[("client_id", "rp-basic"), ("request_uri", uri)],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400, "an error page: nothing to redirect to");
}

/// The AuthnRequest XE received for a login, and the login's relying-party state.
async fn request_at_xe(c: &Cn, level: Level) -> (AuthnRequest, Started) {
    let st = begin(c, level).await;
    let (ticket, _) = choose(c, &st.session, "XE").await;
    (c.xe.take(&ticket).expect("XE holds the request"), st)
}

#[tokio::test]
async fn our_authn_request_follows_the_profile() {
    let c = cn_setup(CnOptions::default()).await;
    let (r, _) = request_at_xe(&c, Level::High).await;
    assert_eq!(r.force_authn, Some(true));
    assert_eq!(r.is_passive, Some(false));
    assert_eq!(
        r.destination.as_deref(),
        Some(format!("{}/xe/sso", c.base).as_str())
    );
    assert_eq!(
        r.issuer.as_ref().map(|i| i.value.as_str()),
        Some(format!("{}/connector/metadata", c.base).as_str())
    );
    let ctx = r.requested_authn_context.as_ref().unwrap();
    assert_eq!(ctx.comparison.as_deref(), Some("minimum"));
    assert_eq!(ctx.class_refs, ["http://eidas.europa.eu/LoA/high"]);
    let ext = r.extensions.as_ref().unwrap();
    assert_eq!(ext.sp_type.as_deref(), Some("public"));
    let attrs = ext.requested_attributes.as_ref().unwrap();
    for mds in [
        "PersonIdentifier",
        "CurrentFamilyName",
        "CurrentGivenName",
        "DateOfBirth",
    ] {
        let a = attrs.iter().find(|a| a.name.ends_with(mds)).expect(mds);
        assert_eq!(a.is_required, Some(true));
        assert_eq!(
            a.name_format.as_deref(),
            Some("urn:oasis:names:tc:SAML:2.0:attrname-format:uri")
        );
    }
    let pob = attrs
        .iter()
        .find(|a| a.name.ends_with("PlaceOfBirth"))
        .expect("the client's optional attribute");
    assert_eq!(pob.is_required, Some(false));
    assert!(r.name_id_policy.is_some());
    let id = r.id.unwrap();
    assert!(
        id.starts_with('_') && id.len() >= 33,
        "{id}: 128 random bits, an NCName"
    );
}

async fn refused_with(c: &Cn, xml: &str, rule: &str) {
    let r = post_acs(c, xml).await;
    let cb = callback_of(&r);
    assert_eq!(cb.error.as_deref(), Some("server_error"), "{rule}");
    assert!(cb.code.is_none());
    let d = cb.error_description.unwrap_or_default();
    assert!(d.contains(rule), "expected {rule}, got {d}");
}

#[tokio::test]
async fn each_connector_rule_on_the_assertion_refuses_the_login() {
    use eidas_node::saml::response::{AttributeValue, SubjectConfirmation};
    let c = cn_setup(CnOptions::default()).await;
    let past = eidas_node::saml::format_instant(
        time::OffsetDateTime::now_utc() - time::Duration::hours(2),
    );
    let future = eidas_node::saml::format_instant(
        time::OffsetDateTime::now_utc() + time::Duration::hours(2),
    );
    type Mutation = Box<dyn FnOnce(&mut eidas_node::saml::Assertion)>;
    let person_identifier = |v: &'static str| -> Mutation {
        Box::new(move |a: &mut eidas_node::saml::Assertion| {
            for at in a.attribute_statements.iter_mut().flatten() {
                if at.name.ends_with("/PersonIdentifier") {
                    at.values = vec![AttributeValue {
                        value: v.into(),
                        ..at.values[0].clone()
                    }];
                }
            }
        })
    };
    let (p1, f1) = (past.clone(), future.clone());
    let cases: Vec<(&str, Level, Mutation)> = vec![
        (
            "CN-ASSERT-ISSUER",
            Level::Substantial,
            Box::new(|a| a.issuer.as_mut().unwrap().value = "https://other.example/ps".into()),
        ),
        (
            "CN-ASSERT-NAMEID",
            Level::Substantial,
            Box::new(|a| a.name_id = None),
        ),
        (
            "CN-ASSERT-BEARER",
            Level::Substantial,
            Box::new(|a| {
                a.subject_confirmations[0].method =
                    Some("urn:oasis:names:tc:SAML:2.0:cm:holder-of-key".into())
            }),
        ),
        (
            "CN-ASSERT-BEARER",
            Level::Substantial,
            Box::new(|a| {
                let x = a.subject_confirmations[0].clone();
                a.subject_confirmations.push(SubjectConfirmation { ..x })
            }),
        ),
        (
            "CN-ASSERT-RECIPIENT",
            Level::Substantial,
            Box::new(|a| {
                a.subject_confirmations[0].recipient = Some("https://other.example/acs".into())
            }),
        ),
        (
            "CN-ASSERT-CONFIRMATION-EXPIRED",
            Level::Substantial,
            Box::new(move |a| a.subject_confirmations[0].not_on_or_after = Some(p1)),
        ),
        (
            "CN-ASSERT-CONDITIONS",
            Level::Substantial,
            Box::new(move |a| a.conditions.as_mut().unwrap().not_before = Some(f1)),
        ),
        (
            "CN-ASSERT-CONDITIONS",
            Level::Substantial,
            Box::new({
                let p = past.clone();
                move |a| a.conditions.as_mut().unwrap().not_on_or_after = Some(p)
            }),
        ),
        (
            "CN-ASSERT-AUDIENCE",
            Level::Substantial,
            Box::new(|a| {
                a.conditions.as_mut().unwrap().audience_restrictions =
                    vec![vec!["https://other-node.example/connector/metadata".into()]]
            }),
        ),
        (
            "CN-ASSERT-AUTHN-STATEMENT",
            Level::Substantial,
            Box::new(|a| {
                let s = a.authn_statements[0].clone();
                a.authn_statements.push(s)
            }),
        ),
        (
            "CN-ASSERT-ATTRIBUTE-STATEMENT",
            Level::Substantial,
            Box::new(|a| {
                let s = a.attribute_statements[0].clone();
                a.attribute_statements.push(s)
            }),
        ),
        (
            "CN-ASSERT-LOA",
            Level::High,
            Box::new(|a| {
                a.authn_statements[0].class_refs =
                    vec!["http://eidas.europa.eu/LoA/substantial".into()]
            }),
        ),
        (
            "CN-ASSERT-REQUIRED-ATTRIBUTES",
            Level::Substantial,
            Box::new(|a| {
                for s in &mut a.attribute_statements {
                    s.retain(|x| !x.name.ends_with("/DateOfBirth"))
                }
            }),
        ),
        (
            "CN-ASSERT-ATTRIBUTE-FORMAT",
            Level::Substantial,
            Box::new(|a| {
                a.attribute_statements[0][0].name_format =
                    Some("urn:oasis:names:tc:SAML:2.0:attrname-format:basic".into())
            }),
        ),
        (
            "CN-ASSERT-PERSON-IDENTIFIER",
            Level::Substantial,
            person_identifier("SE/NO/XE-1001"),
        ),
        (
            "CN-ASSERT-PERSON-IDENTIFIER",
            Level::Substantial,
            person_identifier("XE/DK/XE-1001"),
        ),
        (
            "CN-ASSERT-ATTRIBUTE-FORMAT",
            Level::Substantial,
            Box::new(|a| {
                for at in a.attribute_statements.iter_mut().flatten() {
                    if at.name.ends_with("/DateOfBirth") {
                        at.values[0].value = "12.04.1990".into();
                    }
                }
            }),
        ),
        (
            "CN-ASSERT-ATTRIBUTE-FORMAT",
            Level::Substantial,
            Box::new(|a| {
                // A non-Latin name without its Latin transliteration.
                for at in a.attribute_statements.iter_mut().flatten() {
                    if at.name.ends_with("/CurrentGivenName") {
                        at.values[0].value = "Χαβιέρ".into();
                        at.values[0].latin_script = Some(false);
                    }
                }
            }),
        ),
        (
            "CN-ASSERT-BASICS",
            Level::Substantial,
            Box::new(|a| a.version = Some("1.1".into())),
        ),
    ];
    for (rule, level, mutate) in cases {
        let (req, _) = request_at_xe(&c, level).await;
        let (xml, _) =
            c.xe.answer(&req, &demo_persons()[0], level, mutate)
                .unwrap();
        refused_with(&c, &xml, rule).await;
    }
}

#[tokio::test]
async fn each_connector_rule_on_the_response_refuses_the_login() {
    let c = cn_setup(CnOptions::default()).await;
    let old = eidas_node::saml::format_instant(
        time::OffsetDateTime::now_utc() - time::Duration::hours(1),
    );
    type Shell = Box<dyn FnOnce(&mut eidas_node::saml::Response)>;
    let cases: Vec<(&str, Shell, Carry, bool)> = vec![
        (
            "CN-RESP-VERSION",
            Box::new(|r| r.version = Some("2.1".into())),
            Carry::Encrypted,
            true,
        ),
        (
            "CN-RESP-ID",
            Box::new(|r| r.id = Some("1-starts-with-a-digit".into())),
            Carry::Encrypted,
            true,
        ),
        (
            "CN-RESP-ISSUE-INSTANT",
            Box::new(move |r| r.issue_instant = Some(old)),
            Carry::Encrypted,
            true,
        ),
        (
            "CN-RESP-DESTINATION",
            Box::new(|r| r.destination = Some("https://other.example/acs".into())),
            Carry::Encrypted,
            true,
        ),
        (
            "CN-RESP-ISSUER",
            Box::new(|r| r.issuer.as_mut().unwrap().value = "https://other.example/ps".into()),
            Carry::Encrypted,
            true,
        ),
        (
            "CN-RESP-STATUS",
            Box::new(|r| r.status.as_mut().unwrap().code = Some("urn:example:ok".into())),
            Carry::Encrypted,
            true,
        ),
        (
            "CN-RESP-ENCRYPTED-ASSERTION",
            Box::new(|_| {}),
            Carry::Plaintext,
            true,
        ),
        (
            "CN-RESP-ENCRYPTED-ASSERTION",
            Box::new(|_| {}),
            Carry::Nothing,
            true,
        ),
        (
            "CN-RESP-ENCRYPTED-ASSERTION",
            Box::new(|_| {}),
            Carry::TwoEncrypted,
            true,
        ),
        (
            "CN-ASSERT-SIGNED",
            Box::new(|_| {}),
            Carry::Encrypted,
            false,
        ),
    ];
    for (rule, shell, carry, signed) in cases {
        let (req, _) = request_at_xe(&c, Level::Substantial).await;
        let (xml, _) =
            c.xe.answer_custom(
                &req,
                &demo_persons()[0],
                Level::Substantial,
                |_| {},
                shell,
                carry,
                signed,
            )
            .unwrap();
        refused_with(&c, &xml, rule).await;
    }
}

#[tokio::test]
async fn forged_and_replayed_responses_are_refused() {
    let c = cn_setup(CnOptions::default()).await;
    let person = &demo_persons()[0];

    // 1. A good Response, used twice: the second finds no pending request.
    let (req, st) = request_at_xe(&c, Level::Substantial).await;
    let (xml, _) =
        c.xe.answer(&req, person, Level::Substantial, |_| {})
            .unwrap();
    let first = callback_of(&post_acs(&c, &xml).await);
    assert!(first.code.is_some());
    assert_eq!(first.state.as_deref(), Some(st.pending.state.as_str()));
    let again = post_acs(&c, &xml).await;
    assert_eq!(
        again.status(),
        400,
        "a page: the request was answered already"
    );

    // 2. The same assertion ID in a Response to a new request (assertion replay).
    let replayed_id = {
        let (req, _) = request_at_xe(&c, Level::Substantial).await;
        let id = std::cell::RefCell::new(String::new());
        let (xml, _) =
            c.xe.answer(&req, person, Level::Substantial, |a| {
                *id.borrow_mut() = a.id.clone().unwrap()
            })
            .unwrap();
        assert!(callback_of(&post_acs(&c, &xml).await).code.is_some());
        id.into_inner()
    };
    let (req, _) = request_at_xe(&c, Level::Substantial).await;
    let (xml, _) =
        c.xe.answer(&req, person, Level::Substantial, |a| {
            a.id = Some(replayed_id)
        })
        .unwrap();
    refused_with(&c, &xml, "REPLAY-ASSERTION").await;

    // 3. From another Proxy-Service: XR answers a request that went to XE (XR's key is not in
    //    XE's metadata) — refused before the flow is touched, so XE's real answer still works.
    let (req, _) = request_at_xe(&c, Level::Substantial).await;
    let (forged, _) =
        c.xr.answer(&req, person, Level::Substantial, |_| {})
            .unwrap();
    let r = post_acs(&c, &forged).await;
    assert_eq!(r.status(), 400, "wrong key: a local page, nothing issued");
    let (xml, _) =
        c.xe.answer(&req, person, Level::Substantial, |_| {})
            .unwrap();
    assert!(callback_of(&post_acs(&c, &xml).await).code.is_some());

    // 4. Unsigned, and signed by a key nobody trusts.
    let (req, _) = request_at_xe(&c, Level::Substantial).await;
    let (xml, _) =
        c.xe.answer(&req, person, Level::Substantial, |_| {})
            .unwrap();
    let unsigned = strip_signature(&xml);
    assert_eq!(post_acs(&c, &unsigned).await.status(), 400);
    let resigned = sign_with(&unsigned, &c.stranger);
    assert_eq!(post_acs(&c, &resigned).await.status(), 400);

    // 5. Wrapping: the genuine signed Response inside an unsigned evil one with the same
    //    InResponseTo; and the signature moved onto an evil root that carries the good ID.
    let evil = format!(
        "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_evil\" Version=\"2.0\" \
         IssueInstant=\"{}\" InResponseTo=\"{}\" Destination=\"{}/connector/acs\"><samlp:Extensions>{}</samlp:Extensions>\
         <samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status></samlp:Response>",
        eidas_node::saml::format_instant(time::OffsetDateTime::now_utc()),
        req.id.as_deref().unwrap(),
        c.base,
        xml.trim_start_matches(|ch| ch != '<')
            .split_once("?>")
            .map(|x| x.1)
            .unwrap_or(&xml)
    );
    assert_eq!(
        post_acs(&c, &evil).await.status(),
        400,
        "the root is not what was signed"
    );
    // The evil root takes the signed Response's own ID (two elements with one ID).
    let real_id = xml
        .split(" ID=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let same_id = evil.replace("ID=\"_evil\"", &format!("ID=\"{real_id}\""));
    assert_eq!(post_acs(&c, &same_id).await.status(), 400, "duplicate ID");
    // Another person's EncryptedAssertion (a genuine one from the same Proxy-Service, for the
    // same request) swapped into the signed Response: the digest no longer matches.
    let (other, _) =
        c.xe.answer(&req, &demo_persons()[1], Level::Substantial, |_| {})
            .unwrap();
    let enc = |x: &str| {
        let a = x.find("<saml2:EncryptedAssertion>").unwrap();
        let b =
            x.find("</saml2:EncryptedAssertion>").unwrap() + "</saml2:EncryptedAssertion>".len();
        x[a..b].to_string()
    };
    let swapped = xml.replace(&enc(&xml), &enc(&other));
    assert_ne!(swapped, xml);
    assert_eq!(
        post_acs(&c, &swapped).await.status(),
        400,
        "assertion swapped"
    );
    // The real one is still good afterwards.
    assert!(callback_of(&post_acs(&c, &xml).await).code.is_some());

    // 6. Garbage, a huge body, an unknown InResponseTo: local pages.
    assert_eq!(post_acs(&c, "<not-saml/>").await.status(), 400);
    let r = browser()
        .post(format!("{}/connector/acs", c.base))
        .form(&[("SAMLResponse", "!!!")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let big = "A".repeat(300 * 1024);
    let r = browser()
        .post(format!("{}/connector/acs", c.base))
        .form(&[("SAMLResponse", big)])
        .send()
        .await
        .unwrap();
    assert!(r.status() == 400 || r.status() == 413, "{}", r.status());
}

fn strip_signature(xml: &str) -> String {
    // The Response's own (first top-level) signature.
    let start = xml.find("<ds:Signature").unwrap();
    let end = xml[start..].find("</ds:Signature>").unwrap() + start + "</ds:Signature>".len();
    format!("{}{}", &xml[..start], &xml[end..])
}

fn sign_with(xml: &str, signer: &SoftwareSigner) -> String {
    let doc = eidas_node::xml::parse(xml.as_bytes(), &eidas_node::xml::Limits::message()).unwrap();
    eidas_node::xmlsec::dsig::sign_element(&doc, doc.root(), signer).unwrap()
}

#[tokio::test]
async fn authorization_errors_go_to_the_redirect_uri_only_when_it_is_registered() {
    let c = cn_setup(CnOptions::default()).await;
    let b = browser();
    // Unknown client: a page.
    let r = b
        .get(format!(
            "{}/oidc/authorize?client_id=nobody&response_type=code",
            c.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Without PAR (required): back with invalid_request, state and iss.
    let pkce = eidas_node::oidc::Pkce::new();
    let r = b
        .get(with_q(
            &format!("{}/oidc/authorize", c.base),
            &[
                ("client_id", "rp"),
                ("response_type", "code"),
                ("redirect_uri", "http://127.0.0.1:1/callback"),
                ("scope", "openid"),
                ("state", "xyz"),
                ("code_challenge", pkce.challenge.as_str()),
                ("code_challenge_method", "S256"),
            ],
        ))
        .send()
        .await
        .unwrap();
    let cb = callback_of(&r);
    assert_eq!(cb.error.as_deref(), Some("invalid_request"));
    assert_eq!(cb.state.as_deref(), Some("xyz"));
    // An unregistered redirect URI: a page, never a redirect there.
    let r = b
        .get(with_q(
            &format!("{}/oidc/authorize", c.base),
            &[
                ("client_id", "rp"),
                ("response_type", "code"),
                ("redirect_uri", "https://evil.example/cb"),
                ("scope", "openid"),
            ],
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    // PAR refusals: wrong secret, no PKCE, unknown acr, a plain challenge method.
    let secret = "a-client-secret-of-at-least-32-characters";
    let par = |form: Vec<(&'static str, String)>, secret: &'static str| {
        let b = browser();
        let url = format!("{}/oidc/par", c.base);
        async move {
            b.post(url)
                .basic_auth("rp-basic", Some(secret))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let good = || {
        vec![
            ("response_type", "code".to_string()),
            ("client_id", "rp-basic".into()),
            ("redirect_uri", "http://127.0.0.1:1/callback".into()),
            ("scope", "openid".into()),
            ("code_challenge", eidas_node::oidc::Pkce::new().challenge),
            ("code_challenge_method", "S256".into()),
        ]
    };
    assert_eq!(par(good(), secret).await.status(), 201);
    let r = par(good(), "a-wrong-secret-of-at-least-32-characters!").await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Basic realm=\"eidas-node\"",
        "the scheme the client used"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    // A parameter given twice is refused (RFC 6749 §3.1).
    let mut twice = good();
    twice.push(("scope", "openid profile".into()));
    let r = par(twice, secret).await;
    assert_eq!(r.status(), 400);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("scope"),
        "{body}"
    );
    for (drop_or_set, value, error) in [
        ("code_challenge", "", "invalid_request"),
        ("code_challenge_method", "plain", "invalid_request"),
        ("acr_values", "idporten-loa-high", "invalid_request"),
        ("scope", "profile", "invalid_scope"),
        ("response_type", "token", "unsupported_response_type"),
        ("eidas_country", "xe", "invalid_request"),
        ("prompt", "none", "login_required"),
    ] {
        let mut f = good();
        f.retain(|(k, _)| *k != drop_or_set);
        if !value.is_empty() {
            f.push((drop_or_set, value.to_string()));
        }
        let r = par(f, secret).await;
        assert_eq!(r.status(), 400, "{drop_or_set}={value}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"], error, "{drop_or_set}={value}");
    }
}

#[tokio::test]
async fn discovery_and_jwks_describe_the_provider() {
    let c = cn_setup(CnOptions::default()).await;
    let d: serde_json::Value = browser()
        .get(format!("{}/.well-known/openid-configuration", c.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], c.base);
    assert_eq!(d["require_pushed_authorization_requests"], true);
    assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        d["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        d["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    let k: serde_json::Value = browser()
        .get(d["jwks_uri"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(k["keys"][0]["kty"], "EC");
    assert_eq!(k["keys"][0]["alg"], "ES256");
    // The Connector's metadata is served and signed (its entityID is where it is).
    let md = browser()
        .get(format!("{}/connector/metadata", c.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(md.contains(&format!("entityID=\"{}/connector/metadata\"", c.base)));
}

#[tokio::test]
async fn countries_come_from_a_signed_metadata_service_list_too() {
    let c = cn_setup(CnOptions {
        mdsl: true,
        ..CnOptions::default()
    })
    .await;
    let st = begin(&c, Level::Substantial).await;
    assert!(
        st.page.contains("name=\"country\" value=\"XE\""),
        "{}",
        st.page
    );
    assert!(!st.page.contains("\"XR\""), "hidden from discovery");
    assert!(!st.page.contains("\"XQ\""), "suspended");
    assert!(st.page.contains("\"XP\""), "configured peers stay");
    // XE's metadata is verified with the certificate the list names: the login works.
    let (ticket, binding) = choose(&c, &st.session, "XE").await;
    assert_eq!(binding, "post");
    let cb = callback_of(&at_ps(&c, "XE", &ticket, 0, "substantial", "login").await);
    let who =
        c.rp.finish(&st.pending, &cb, &Rac::minimum(Level::Substantial))
            .await
            .unwrap();
    assert_eq!(who.claims["sub"], "XE/NO/XE-1001");
}

#[tokio::test]
async fn a_metadata_service_list_that_does_not_verify_stops_the_node() {
    let c = cn_setup(CnOptions {
        mdsl: true,
        ..CnOptions::default()
    })
    .await;
    let path = c.path("mdsl.xml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("Territory=\"XE\"", "Territory=\"XF\"")).unwrap();
    let config = eidas_node::config::Config::load(&c.path("eidas-node.toml")).unwrap();
    let e = config
        .mdsl(time::OffsetDateTime::now_utc())
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not verify with a trust anchor"), "{e}");
}

#[tokio::test]
async fn requester_id_is_sent_when_configured_and_sptype_moves_to_the_metadata() {
    let c = cn_setup(CnOptions {
        extra_config: "requester_id = \"urn:no:digdir:service:42\"\nsp_type = \"public\"\n".into(),
        ..CnOptions::default()
    })
    .await;
    let (r, _) = request_at_xe(&c, Level::Substantial).await;
    assert_eq!(r.requester_ids, ["urn:no:digdir:service:42"]);
    assert_eq!(
        r.extensions.as_ref().unwrap().sp_type,
        None,
        "SPType is in our metadata, so never in the request"
    );
    let md = browser()
        .get(format!("{}/connector/metadata", c.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(md.contains("<eidas:SPType>public</eidas:SPType>"), "{md}");
}

#[tokio::test]
async fn the_country_page_speaks_the_relying_partys_ui_locales() {
    let c = cn_setup(CnOptions::default()).await;
    for (locale, title) in [
        ("nb", "Velg landet som utstedte eID-en din"),
        ("nn", "Vel landet som skreiv ut eID-en din"),
        ("se", "Vállje riikka mii attii du eID"),
        ("de en", "Choose the country of your eID"),
    ] {
        let pkce = eidas_node::oidc::Pkce::new();
        let v: serde_json::Value = browser()
            .post(format!("{}/oidc/par", c.base))
            .basic_auth(
                "rp-basic",
                Some("a-client-secret-of-at-least-32-characters"),
            )
            .form(&[
                ("response_type", "code"),
                ("client_id", "rp-basic"),
                ("redirect_uri", "http://127.0.0.1:1/callback"),
                ("scope", "openid"),
                ("code_challenge", pkce.challenge.as_str()),
                ("code_challenge_method", "S256"),
                ("ui_locales", locale),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let r = browser()
            .get(with_q(
                &format!("{}/oidc/authorize", c.base),
                &[
                    ("client_id", "rp-basic"),
                    ("request_uri", v["request_uri"].as_str().unwrap()),
                ],
            ))
            .send()
            .await
            .unwrap();
        let to = location(&r);
        let page = browser()
            .get(format!("{}{to}", c.base))
            .header("accept-language", "nb")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains(title), "{locale}: {page}");
    }
}

#[tokio::test]
async fn a_name_in_another_script_reaches_the_relying_party_in_latin_script_first() {
    let c = cn_setup(CnOptions::default()).await;
    let (req, st) = request_at_xe(&c, Level::Substantial).await;
    let (xml, _) =
        c.xe.answer(&req, &demo_persons()[0], Level::Substantial, |a| {
            for at in a.attribute_statements.iter_mut().flatten() {
                if at.name.ends_with("/CurrentGivenName") {
                    let latin = at.values[0].clone();
                    let mut greek = latin.clone();
                    greek.value = "Χαβιέρ".into();
                    greek.latin_script = Some(false);
                    // The original first, its transliteration second, as Greece sends them.
                    at.values = vec![greek, latin];
                }
            }
        })
        .unwrap();
    let cb = callback_of(&post_acs(&c, &xml).await);
    let who =
        c.rp.finish(&st.pending, &cb, &Rac::minimum(Level::Substantial))
            .await
            .unwrap();
    assert_eq!(who.claims["eidas_firstname"], "Javier");
    assert_eq!(who.claims["given_name"], "Javier");
}

#[tokio::test]
async fn unknown_sessions_and_malformed_input_get_a_page_and_change_nothing() {
    let c = cn_setup(CnOptions::default()).await;
    let b = browser();
    // An unknown or over-long selection session.
    for session in ["nothing-here", &"x".repeat(100)] {
        let r = b
            .get(with_q(
                &format!("{}/connector/countries", c.base),
                &[("session", session)],
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "countries {session}");
        let r = b
            .post(format!("{}/connector/select", c.base))
            .form(&[("session", session), ("country", "XE")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "select {session}");
        assert!(r.headers().get("location").is_none());
    }
    // A session is used once: choosing twice sends one request only.
    let st = begin(&c, Level::Substantial).await;
    let (_, _) = choose(&c, &st.session, "XE").await;
    let again = b
        .post(format!("{}/connector/select", c.base))
        .form(&[("session", st.session.as_str()), ("country", "XE")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
    // The ACS without a SAMLResponse.
    let r = b
        .post(format!("{}/connector/acs", c.base))
        .form(&[("RelayState", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // A parameter given twice at authorize (a page: nothing is trusted yet) and at token.
    let r = b
        .get(format!(
            "{}/oidc/authorize?client_id=rp&client_id=rp-basic&request_uri=x",
            c.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.headers().get("location").is_none());
    let r = b
        .post(format!("{}/oidc/token", c.base))
        .body("grant_type=authorization_code&code=a&code=b")
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    // A Response to a request XE never got (its InResponseTo unknown): a page, no redirect.
    let (req, _) = request_at_xe(&c, Level::Substantial).await;
    let (xml, _) =
        c.xe.answer_custom(
            &req,
            &demo_persons()[0],
            Level::Substantial,
            |_| {},
            |r| r.in_response_to = Some("_never-sent".into()),
            Carry::Encrypted,
            true,
        )
        .unwrap();
    let r = post_acs(&c, &xml).await;
    assert_eq!(r.status(), 400);
    // …and the genuine answer to that request still works.
    let (good, _) =
        c.xe.answer(&req, &demo_persons()[0], Level::Substantial, |_| {})
            .unwrap();
    assert!(callback_of(&post_acs(&c, &good).await).code.is_some());
}

#[test]
fn the_demo_proxy_service_takes_a_connectors_metadata_only_when_it_verifies() {
    let g = generate(KeyKind::EcP256, "ps", "XE", 0, 3650).unwrap();
    let md = eidas_node::metadata::ours::OurMetadata {
        role: eidas_node::metadata::ours::Role::Connector,
        entity_id: "https://cn.example/metadata".into(),
        node_country: "NO".into(),
        endpoint: "https://cn.example/acs".into(),
        signing_certificates: vec![p256().cert.clone()],
        encryption_certificates: vec![p256().cert.clone()],
        loas: vec![],
        attributes: vec![],
        sp_type: None,
        requester_id_demanded: false,
        protocol_versions: vec!["1.4".into()],
        application_identifier: "t".into(),
        organization: eidas_node::metadata::ours::Organization {
            name: "t".into(),
            display_name: "t".into(),
            url: "https://cn.example".into(),
        },
        contacts: vec![],
        valid_for: time::Duration::hours(1),
    }
    .to_signed_xml(time::OffsetDateTime::now_utc(), &p256().signer())
    .unwrap();
    let make = |anchor: &Certificate, xml: &str| {
        let g = generate(KeyKind::EcP256, "ps", "XE", 0, 3650).unwrap();
        DemoProxyService::new(
            "XE",
            "https://ps.example",
            false,
            g.key,
            g.cert,
            xml,
            std::slice::from_ref(anchor),
            demo_persons(),
            Arc::new(SystemClock),
        )
    };
    assert!(make(&p256().cert, &md).is_ok());
    let wrong = make(&g.cert, &md).err().expect("another anchor");
    assert!(wrong.contains("the Connector's metadata"), "{wrong}");
    let tampered = md.replace("https://cn.example/acs", "https://evil.example/acs");
    assert!(
        make(&p256().cert, &tampered).is_err(),
        "an ACS changed after signing"
    );
}

//! The Proxy-Service end to end over HTTP: a foreign Connector (signed metadata over HTTPS) sends
//! an AuthnRequest to our node, the person logs in at the test ID-porten (PAR, PKCE,
//! private_key_jwt), approves or cancels on our consent page, and the Connector receives a
//! signed Response whose assertion it decrypts and checks against every Connector rule.

use crate::common::{p256, rsa};
use crate::proxy_service::answer::as_the_connector_sees_it;
use crate::proxy_service::{ACS, connector_peer, post, request_for};
use eidas_node::clock::SystemClock;
use eidas_node::crypto::SoftwareSigner;
use eidas_node::crypto::generate::{KeyKind, generate};
use eidas_node::proxy_service::Incoming;
use eidas_node::saml::binding::redirect_url;
use eidas_node::test_idporten::{TestClient, TestClientAuth, TestIdPorten, TestPerson, router};
use eidas_node::xmlsec::redirect::EcdsaEncoding;
use std::sync::Arc;
use time::OffsetDateTime;

const PUBLIC: &str = "https://eidas.example.no";

struct Setup {
    base: String,
    peer: String,
    idp_issuer: String,
    _dir: tempfile::TempDir,
    _server: crate::metadata_fetch::Server,
}

struct Options {
    consent: bool,
    pseudonym: bool,
    idporten_timeout: u64,
    idporten_down: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            consent: true,
            pseudonym: false,
            idporten_timeout: 5,
            idporten_down: false,
        }
    }
}

async fn setup(o: Options) -> Setup {
    setup_with(o, connector_peer(OffsetDateTime::now_utc()).await, "SE").await
}

/// `server` publishes the foreign Connector's metadata, signed with the p256 fixture.
async fn setup_with(o: Options, server: crate::metadata_fetch::Server, country: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Our node signs with the p256 fixture (what `as_the_connector_sees_it` trusts).
    for sub in ["signing", "encryption"] {
        std::fs::create_dir_all(d.join("keys").join(sub)).unwrap();
        std::fs::copy(
            &p256().files.key_pem,
            d.join("keys").join(sub).join("key.pem"),
        )
        .unwrap();
        std::fs::copy(
            &p256().files.cert_pem,
            d.join("keys").join(sub).join("cert.pem"),
        )
        .unwrap();
    }
    std::fs::write(d.join("tls-root.pem"), server.tls_root.to_pem()).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/register/testdata/synthetic-register.toml"),
        d.join("register.toml"),
    )
    .unwrap();

    // The test ID-porten, with our node registered as a private_key_jwt client.
    let idp_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let idp_issuer = format!("http://{}", idp_listener.local_addr().unwrap());
    let client_key = generate(KeyKind::EcP256, "eidas-node", "NO", 0, 3650).unwrap();
    std::fs::write(
        d.join("idporten-client-key.pem"),
        client_key.key.pkcs8_pem(),
    )
    .unwrap();
    let spki = client_key.key.public_key().spki_der();
    let spki_pem = eidas_node::crypto::pem::encode("PUBLIC KEY", spki);
    let persons = [
        ("15838512329", "Vakker Rask Blomst"),
        ("41814061033", "Stille (no birth date)"),
    ]
    .iter()
    .map(|(p, l)| TestPerson {
        pid: p.to_string(),
        label: l.to_string(),
    })
    .collect();
    let idp = TestIdPorten::new(
        &idp_issuer,
        vec![TestClient {
            client_id: "eidas-node".into(),
            redirect_uris: vec![format!("{PUBLIC}/ps/callback")],
            auth: TestClientAuth::PrivateKeyJwt(
                jsonwebtoken::DecodingKey::from_ec_pem(spki_pem.as_bytes()).unwrap(),
            ),
        }],
        persons,
        Arc::new(SystemClock),
    )
    .unwrap();
    let app = router(Arc::new(idp));
    if o.idporten_down {
        drop(idp_listener);
    } else {
        tokio::spawn(async move { axum::serve(idp_listener, app).await.unwrap() });
    }
    if o.pseudonym {
        std::fs::write(
            d.join("pseudonym.key"),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .unwrap();
    }

    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/eidas-node.example.toml"),
    )
    .unwrap();
    let identifier = if o.pseudonym {
        "identifier = \"pseudonym\"\npseudonym_key_file = \"pseudonym.key\"\npseudonym_key_version = 3\n"
    } else {
        ""
    };
    let example = example.replace(
        "[proxy_service]\n",
        &format!(
            "[proxy_service]\nconsent = {}\naccept_synthetic_numbers = true\n{identifier}",
            o.consent
        ),
    );
    assert!(
        example.contains("accept_synthetic_numbers"),
        "the example has [proxy_service]"
    );
    let config = format!(
        "{example}\n[metadata_fetch]\ntls_roots = [\"tls-root.pem\"]\n\n\
[idporten]\nissuer = \"{idp_issuer}\"\nclient_id = \"eidas-node\"\nclient_key = \"idporten-client-key.pem\"\n\
allow_loopback_http = true\ntimeout_seconds = {}\n\n\
[register]\nkind = \"synthetic\"\npath = \"register.toml\"\n\n\
[[peer]]\ncountry = \"{country}\"\nrole = \"connector\"\nmetadata_url = \"{}\"\ntrust_anchors = [\"{}\"]\n",
        o.idporten_timeout,
        server.url(),
        p256().files.cert_pem.display()
    );
    std::fs::write(d.join("eidas-node.toml"), config).unwrap();
    let config = eidas_node::config::Config::load(&d.join("eidas-node.toml")).expect("config");
    let (key, cert) = config.signing_key().unwrap();
    let signer = SoftwareSigner::new(key, None, Some(cert)).unwrap();
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
    Setup {
        base,
        peer: server.url(),
        idp_issuer,
        _dir: dir,
        _server: server,
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn input<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let at = html.find(&format!("name=\"{name}\" value=\""))? + name.len() + 15;
    html[at..].split('"').next()
}

/// Our node's public URL → where the test serves it.
fn local(s: &Setup, url: &str) -> String {
    url.replace(PUBLIC, &s.base)
}

enum Binding {
    Post,
    Redirect,
}

/// Send the AuthnRequest; returns the response of our node (expected: a redirect to ID-porten).
async fn send_request(s: &Setup, id: &str, loa: &str, binding: Binding) -> reqwest::Response {
    let now = OffsetDateTime::now_utc();
    let mut r = request_for(&s.peer, now, id);
    r.requested_authn_context.as_mut().unwrap().class_refs = vec![loa.to_string()];
    match binding {
        Binding::Post => {
            let Incoming::Post {
                saml_request,
                relay_state,
            } = post(&r, Some(&rsa().signer()), Some("relay-1"))
            else {
                unreachable!()
            };
            browser()
                .post(format!("{}/ps/sso", s.base))
                .header("accept-language", "nn-NO, en;q=0.5")
                .form(&[
                    ("SAMLRequest", saml_request),
                    ("RelayState", relay_state.unwrap()),
                ])
                .send()
                .await
                .unwrap()
        }
        Binding::Redirect => {
            let url = redirect_url(
                &format!("{}/ps/sso", s.base),
                "SAMLRequest",
                &r.to_xml(),
                Some("relay-1"),
                &rsa().signer(),
                EcdsaEncoding::Der,
            )
            .unwrap();
            browser().get(url).send().await.unwrap()
        }
    }
}

/// At the test ID-porten: pick the person and level, or cancel. Returns our callback URL.
async fn at_idporten(s: &Setup, redirect: &str, pid: &str, acr: &str, action: &str) -> String {
    assert!(redirect.starts_with(&s.idp_issuer), "{redirect}");
    let page = browser()
        .get(redirect)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let request_uri = input(&page, "request_uri").expect("login page").to_string();
    let r = browser()
        .post(format!("{}/authorize", s.idp_issuer))
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
    r.headers()["location"].to_str().unwrap().to_string()
}

/// The auto-posting form to the Connector's ACS: (SAMLResponse XML, RelayState).
async fn posted_to_acs(r: reqwest::Response) -> (String, Option<String>) {
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("action=\"{ACS}\"")), "{html}");
    use base64::Engine;
    let xml = base64::engine::general_purpose::STANDARD
        .decode(input(&html, "SAMLResponse").unwrap())
        .unwrap();
    (
        String::from_utf8(xml).unwrap(),
        input(&html, "RelayState").map(str::to_string),
    )
}

fn attribute(a: &eidas_node::saml::Assertion, suffix: &str) -> String {
    let at = a
        .attribute_statements
        .iter()
        .flatten()
        .find(|x| x.name.ends_with(suffix))
        .unwrap_or_else(|| panic!("{suffix} missing"));
    at.values[0].value.clone()
}

async fn whole_flow(o: Options, binding: Binding, loa: &str, acr: &str) -> (Setup, String) {
    let consent = o.consent;
    let s = setup(o).await;
    let r = send_request(&s, "_e2e-1", loa, binding).await;
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let to_idp = r.headers()["location"].to_str().unwrap().to_string();
    let back = at_idporten(&s, &to_idp, "15838512329", acr, "login").await;
    assert!(
        back.starts_with(&format!("{PUBLIC}/ps/callback?")),
        "{back}"
    );
    let r = browser()
        .get(local(&s, &back))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap();
    let r = if consent {
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-store");
        let html = r.text().await.unwrap();
        assert!(html.contains("Send your details?"), "{html}");
        let level = loa.rsplit('/').next().unwrap();
        assert!(
            html.contains(&format!("Level of assurance: {level}")),
            "the level in words: {html}"
        );
        assert!(
            html.contains("A service in SE asks for these details"),
            "names the receiving country: {html}"
        );
        assert!(
            html.contains("Blomst") && html.contains("1985-03-15"),
            "shows what will be sent"
        );
        let flow = input(&html, "flow").unwrap().to_string();
        let r = browser()
            .post(format!("{}/ps/consent", s.base))
            .form(&[("flow", flow.as_str()), ("action", "approve")])
            .send()
            .await
            .unwrap();
        // The consent form is one-time.
        let again = browser()
            .post(format!("{}/ps/consent", s.base))
            .form(&[("flow", flow.as_str()), ("action", "approve")])
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 400);
        r
    } else {
        r
    };
    let (xml, relay) = posted_to_acs(r).await;
    assert_eq!(relay.as_deref(), Some("relay-1"));
    // The same callback again finds no flow: nothing is sent twice.
    let replay = browser().get(local(&s, &back)).send().await.unwrap();
    assert_eq!(replay.status(), 400);
    (s, xml)
}

#[tokio::test]
async fn post_binding_consent_approved_substantial_identity_number() {
    let (s, xml) = whole_flow(
        Options::default(),
        Binding::Post,
        "http://eidas.europa.eu/LoA/substantial",
        "idporten-loa-substantial",
    )
    .await;
    let (resp, assertion, broken) =
        as_the_connector_sees_it(&xml, OffsetDateTime::now_utc(), "_e2e-1", &s.peer);
    assert!(broken.is_empty(), "every Connector rule holds: {broken:?}");
    assert_eq!(resp.in_response_to.as_deref(), Some("_e2e-1"));
    let a = assertion.expect("an encrypted assertion");
    assert_eq!(attribute(&a, "PersonIdentifier"), "NO/SE/15838512329");
    assert_eq!(attribute(&a, "CurrentGivenName"), "Vakker Rask");
    assert_eq!(attribute(&a, "CurrentFamilyName"), "Blomst");
    assert_eq!(attribute(&a, "DateOfBirth"), "1985-03-15");
    assert_eq!(
        a.authn_statements[0].class_refs,
        vec!["http://eidas.europa.eu/LoA/substantial".to_string()]
    );
}

#[tokio::test]
async fn redirect_binding_without_consent_high_pseudonym() {
    let (s, xml) = whole_flow(
        Options {
            consent: false,
            pseudonym: true,
            ..Options::default()
        },
        Binding::Redirect,
        "http://eidas.europa.eu/LoA/high",
        "idporten-loa-high",
    )
    .await;
    let (_, assertion, broken) =
        as_the_connector_sees_it(&xml, OffsetDateTime::now_utc(), "_e2e-1", &s.peer);
    // The check requests substantial; high satisfies it.
    assert!(broken.is_empty(), "{broken:?}");
    let a = assertion.unwrap();
    let pi = attribute(&a, "PersonIdentifier");
    assert!(pi.starts_with("NO/SE/"), "{pi}");
    assert!(
        !pi.contains("15838512329"),
        "a pseudonym, not the number: {pi}"
    );
    assert!(pi[6..].bytes().all(|b| b.is_ascii_alphanumeric()), "{pi}");
    assert_eq!(
        a.authn_statements[0].class_refs,
        vec!["http://eidas.europa.eu/LoA/high".to_string()]
    );
}

/// Status and sub-status of a SAML error Response posted to the ACS.
fn status_of(xml: &str) -> (String, String, String) {
    let (resp, assertion, _) =
        as_the_connector_sees_it(xml, OffsetDateTime::now_utc(), "_e2e-1", "unused");
    assert!(assertion.is_none(), "no assertion in an error");
    let st = resp.status.expect("status");
    (
        st.code.unwrap_or_default(),
        st.sub_code.unwrap_or_default(),
        st.message.unwrap_or_default(),
    )
}

/// Send a POST request at `loa`, then at the test ID-porten pick `pid` at `acr` (or cancel);
/// returns the browser's GET of our callback.
async fn through_idporten(
    s: &Setup,
    id: &str,
    loa: &str,
    pid: &str,
    acr: &str,
    action: &str,
) -> reqwest::Response {
    let r = send_request(s, id, loa, Binding::Post).await;
    assert_eq!(r.status(), 303);
    let to_idp = r.headers()["location"].to_str().unwrap().to_string();
    let back = at_idporten(s, &to_idp, pid, acr, action).await;
    browser().get(local(s, &back)).send().await.unwrap()
}

/// The sub-status of the SAML error posted to the ACS.
async fn sub_status(r: reqwest::Response) -> String {
    let (xml, _) = posted_to_acs(r).await;
    status_of(&xml).1
}

#[tokio::test]
async fn cancel_at_idporten_or_on_the_consent_page_is_request_denied() {
    let s = setup(Options::default()).await;
    let loa = "http://eidas.europa.eu/LoA/substantial";
    let pid = "15838512329";
    let acr = "idporten-loa-substantial";
    let r = through_idporten(&s, "_e2e-1", loa, pid, acr, "cancel").await;
    let sub = sub_status(r).await;
    assert!(sub.ends_with(":RequestDenied"), "{sub}");

    let html = through_idporten(&s, "_e2e-2", loa, pid, acr, "login")
        .await
        .text()
        .await
        .unwrap();
    let flow = input(&html, "flow").unwrap().to_string();
    let r = browser()
        .post(format!("{}/ps/consent", s.base))
        .form(&[("flow", flow.as_str()), ("action", "cancel")])
        .send()
        .await
        .unwrap();
    let sub = sub_status(r).await;
    assert!(sub.ends_with(":RequestDenied"), "{sub}");
}

#[tokio::test]
async fn a_lower_level_than_requested_is_no_authn_context() {
    let s = setup(Options::default()).await;
    let high = "http://eidas.europa.eu/LoA/high";
    let r = through_idporten(
        &s,
        "_e2e-1",
        high,
        "15838512329",
        "idporten-loa-substantial",
        "login",
    )
    .await;
    let sub = sub_status(r).await;
    assert!(sub.ends_with(":NoAuthnContext"), "{sub}");
}

#[tokio::test]
async fn a_person_without_a_birth_date_is_invalid_attr_name_or_value() {
    let s = setup(Options::default()).await;
    let substantial = "http://eidas.europa.eu/LoA/substantial";
    let r = through_idporten(
        &s,
        "_e2e-1",
        substantial,
        "41814061033",
        "idporten-loa-substantial",
        "login",
    )
    .await;
    let sub = sub_status(r).await;
    assert!(sub.ends_with(":InvalidAttrNameOrValue"), "{sub}");
}

#[tokio::test]
async fn idporten_down_is_a_signed_saml_error_not_a_hang() {
    let s = setup(Options {
        idporten_down: true,
        idporten_timeout: 2,
        ..Options::default()
    })
    .await;
    let r = send_request(
        &s,
        "_e2e-1",
        "http://eidas.europa.eu/LoA/substantial",
        Binding::Post,
    )
    .await;
    let (xml, relay) = posted_to_acs(r).await;
    assert_eq!(relay.as_deref(), Some("relay-1"));
    let (code, sub, _) = status_of(&xml);
    assert!(code.ends_with(":Responder"), "{code}");
    assert!(sub.ends_with(":AuthnFailed"), "{sub}");
}

#[tokio::test]
async fn a_forged_or_unknown_callback_gets_a_local_page() {
    let s = setup(Options::default()).await;
    for q in [
        "state=unknownstate123&code=x",
        "code=x",
        "state=%3Cscript%3E&code=x",
        "",
    ] {
        let r = browser()
            .get(format!("{}/ps/callback?{q}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{q}");
        let html = r.text().await.unwrap();
        assert!(
            html.contains("Innloggingen er utløpt") && !html.contains("SAMLResponse"),
            "bokmål by default, {q}: {html}"
        );
    }
    // In the browser's language where we have it.
    for (accept, title) in [
        ("en-GB,en;q=0.9", "The login has expired"),
        ("nn", "Innlogginga har gått ut"),
        ("se-NO", "Sisačáliheapmi lea nohkan"),
    ] {
        let html = browser()
            .get(format!("{}/ps/callback?state=x", s.base))
            .header("accept-language", accept)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains(title), "{accept}: {html}");
        assert!(
            html.contains(&format!("<html lang=\"{}\"", &accept[..2])),
            "{html}"
        );
    }
}

/// The foreign Connector is pysaml2 7.5.5 (tests/interop/pysaml2_connector.py): it builds and
/// signs the AuthnRequest from our Proxy-Service metadata fetched from the running node, and
/// after the whole flow decrypts and validates the Response our node posted. Its metadata (the
/// description of its entityID, ACS and keys) is published for it over HTTPS.
#[tokio::test]
async fn pysaml2_as_the_foreign_connector_over_http() {
    use crate::metadata_fetch::start_server;
    use eidas_node::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};
    let server = start_server().await;
    let acs = "https://connector.pysaml2.example.de/acs/post";
    let md = OurMetadata {
        role: Role::Connector,
        entity_id: server.url(),
        node_country: "DE".into(),
        endpoint: acs.into(),
        signing_certificates: vec![rsa().cert.clone()],
        encryption_certificates: vec![rsa().cert.clone()],
        loas: vec![],
        attributes: vec![],
        sp_type: None,
        requester_id_demanded: false,
        protocol_versions: vec!["1.4".into()],
        application_identifier: "pysaml2 7.5.5".into(),
        organization: Organization {
            name: "DE".into(),
            display_name: "DE".into(),
            url: "https://de.example".into(),
        },
        contacts: vec![ContactPerson {
            contact_type: "support".into(),
            company: "DE".into(),
            given_name: None,
            surname: None,
            email: "x@de.example".into(),
            phone: None,
        }],
        valid_for: time::Duration::hours(24),
    };
    server.serve(
        md.to_signed_xml(OffsetDateTime::now_utc(), &p256().signer())
            .unwrap(),
    );
    let entity = server.url();
    let s = setup_with(Options::default(), server, "DE").await;
    let work = tempfile::tempdir().unwrap();
    let w = |n: &str| work.path().join(n).to_string_lossy().into_owned();
    let ps_md = browser()
        .get(format!("{}/ps/metadata", s.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    std::fs::write(w("ps-metadata.xml"), &ps_md).unwrap();
    let md_cert = p256().files.cert_pem.to_string_lossy().into_owned();
    let (key, cert) = (
        rsa().files.key_pem.to_string_lossy().into_owned(),
        rsa().files.cert_pem.to_string_lossy().into_owned(),
    );
    let common = |cmd: &'static str| -> Vec<String> {
        [
            cmd,
            "--metadata",
            &w("ps-metadata.xml"),
            "--metadata-cert",
            &md_cert,
            "--key",
            &key,
            "--cert",
            &cert,
            "--entity-id",
            &entity,
            "--acs",
            acs,
        ]
        .iter()
        .map(|x| x.to_string())
        .collect()
    };
    let mut args = common("make-request");
    args.extend(
        [
            "--alg",
            "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1",
            "--out",
            &w("request.xml"),
        ]
        .map(String::from),
    );
    let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = crate::pysaml2::connector(&args_ref);
    assert_eq!(o.status.code(), Some(0), "{}", crate::common::stderr(&o));
    let request_id = crate::pysaml2::json_str(&crate::common::stdout(&o), "id").unwrap();
    let request = std::fs::read(w("request.xml")).unwrap();

    use base64::Engine;
    let r = browser()
        .post(format!("{}/ps/sso", s.base))
        .form(&[(
            "SAMLRequest",
            base64::engine::general_purpose::STANDARD.encode(&request),
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let to_idp = r.headers()["location"].to_str().unwrap().to_string();
    let back = at_idporten(&s, &to_idp, "15838512329", "idporten-loa-high", "login").await;
    let html = browser()
        .get(local(&s, &back))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let flow = input(&html, "flow").expect("consent page").to_string();
    let r = browser()
        .post(format!("{}/ps/consent", s.base))
        .form(&[("flow", flow.as_str()), ("action", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains(&format!("action=\"{acs}\"")), "{page}");
    let xml = base64::engine::general_purpose::STANDARD
        .decode(input(&page, "SAMLResponse").unwrap())
        .unwrap();
    std::fs::write(w("response.xml"), &xml).unwrap();

    let mut args = common("read-response");
    args.extend(
        [
            "--response",
            &w("response.xml"),
            "--request-id",
            &request_id,
            "--fix-xsi-type",
        ]
        .map(String::from),
    );
    let args_ref: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = crate::pysaml2::connector(&args_ref);
    let out = crate::common::stdout(&o);
    assert_eq!(
        o.status.code(),
        Some(0),
        "pysaml2 refused the Response: {}",
        crate::common::stderr(&o)
    );
    assert!(
        out.contains("\"PersonIdentifier\": [\"NO/DE/15838512329\"]"),
        "{out}"
    );
    assert!(
        out.contains("\"FamilyName\": [\"Blomst\"]") || out.contains("Blomst"),
        "{out}"
    );
    assert!(out.contains("http://eidas.europa.eu/LoA/high"), "{out}");
    assert!(
        out.contains("\"assertion_signed\": true") && out.contains("\"response_signed\": true"),
        "{out}"
    );
}

/// Over HTTP, a request that breaks a PS rule never reaches ID-porten: it gets a local page
/// (requester not authenticated) or a signed SAML error posted to the ACS from metadata. (Each
/// rule also fires on its own in-process, in eidas::rules and proxy_service tests.)
#[tokio::test]
async fn requests_breaking_ps_rules_never_reach_idporten() {
    use eidas_node::saml::AuthnRequest;
    let s = setup(Options::default()).await;
    let now = OffsetDateTime::now_utc();
    type Mutation = Box<dyn Fn(&mut AuthnRequest)>;
    let cases: Vec<(&str, Mutation, bool)> = vec![
        (
            "PS-REQ-FORCEAUTHN",
            Box::new(|r| r.force_authn = Some(false)),
            true,
        ),
        (
            "PS-REQ-ISPASSIVE",
            Box::new(|r| r.is_passive = Some(true)),
            true,
        ),
        (
            "PS-REQ-DESTINATION",
            Box::new(|r| r.destination = Some("https://elsewhere.example/ps/sso".into())),
            true,
        ),
        (
            "PS-REQ-ISSUE-INSTANT (expired)",
            Box::new(move |r| {
                r.issue_instant = Some(eidas_node::saml::format_instant(
                    now - time::Duration::minutes(30),
                ))
            }),
            true,
        ),
        (
            "PS-REQ-LOA (none)",
            Box::new(|r| r.requested_authn_context = None),
            true,
        ),
        (
            "PS-REQ-LOA (minimum with two)",
            Box::new(|r| {
                r.requested_authn_context.as_mut().unwrap().class_refs = vec![
                    "http://eidas.europa.eu/LoA/substantial".into(),
                    "http://eidas.europa.eu/LoA/high".into(),
                ]
            }),
            true,
        ),
        (
            "PS-REQ-NAMEID-FORMAT",
            Box::new(|r| {
                r.name_id_policy.as_mut().unwrap().format =
                    Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into())
            }),
            true,
        ),
        (
            "PS-REQ-SPTYPE",
            Box::new(|r| r.extensions.as_mut().unwrap().sp_type = Some("commercial".into())),
            true,
        ),
        (
            "PS-REQ-MDS",
            Box::new(|r| {
                r.extensions
                    .as_mut()
                    .unwrap()
                    .requested_attributes
                    .as_mut()
                    .unwrap()
                    .retain(|a| !a.name.ends_with("DateOfBirth"))
            }),
            true,
        ),
        (
            "PS-REQ-ACS (not in metadata)",
            Box::new(|r| {
                r.assertion_consumer_service_url = Some("https://attacker.example/acs".into())
            }),
            true,
        ),
        (
            "PS-REQ-ISSUER (unknown)",
            Box::new(|r| {
                r.issuer.as_mut().unwrap().value = "https://unknown.example/metadata".into()
            }),
            false,
        ),
    ];
    for (i, (name, mutate, signed)) in cases.iter().enumerate() {
        let mut r = request_for(&s.peer, now, &format!("_rule-{i}"));
        mutate(&mut r);
        let Incoming::Post { saml_request, .. } = post(&r, Some(&rsa().signer()), None) else {
            unreachable!()
        };
        let resp = browser()
            .post(format!("{}/ps/sso", s.base))
            .form(&[("SAMLRequest", saml_request)])
            .send()
            .await
            .unwrap();
        let status = resp.status();
        assert_ne!(status, 303, "{name}: went on to ID-porten");
        let html = resp.text().await.unwrap();
        if *signed {
            assert_eq!(status, 200, "{name}: {html}");
            let (xml, _) = {
                use base64::Engine;
                let x = base64::engine::general_purpose::STANDARD
                    .decode(input(&html, "SAMLResponse").expect("a SAML error"))
                    .unwrap();
                (String::from_utf8(x).unwrap(), ())
            };
            assert!(html.contains(&format!("action=\"{ACS}\"")), "{name}");
            assert!(!xml.contains(":Success\""), "{name}: {xml}");
            assert!(!xml.contains("EncryptedAssertion"), "{name}");
        } else {
            assert_eq!(status, 400, "{name}: {html}");
            assert!(!html.contains("SAMLResponse"), "{name}");
        }
    }
    // Replay of an accepted request, and an unsigned one.
    let r = request_for(&s.peer, now, "_once");
    let Incoming::Post { saml_request, .. } = post(&r, Some(&rsa().signer()), None) else {
        unreachable!()
    };
    let send = |body: String| {
        browser()
            .post(format!("{}/ps/sso", s.base))
            .form(&[("SAMLRequest", body)])
            .send()
    };
    assert_eq!(send(saml_request.clone()).await.unwrap().status(), 303);
    let again = send(saml_request).await.unwrap();
    assert_eq!(again.status(), 200, "replay: a SAML error, not ID-porten");
    assert!(again.text().await.unwrap().contains("SAMLResponse"));
    let Incoming::Post { saml_request, .. } =
        post(&request_for(&s.peer, now, "_unsigned"), None, None)
    else {
        unreachable!()
    };
    assert_eq!(send(saml_request).await.unwrap().status(), 400);
}

//! Interop: an independent foreign Proxy-Service answers our Connector. pysaml2 7.5.5's `Server`
//! (tests/interop/pysaml2_proxy_service.py) reads and verifies our signed AuthnRequest with the
//! key from our Connector metadata and builds its own Response and assertion; python-xmlsec
//! (libxmlsec1 1.3.9) signs them — RSA-PSS or ECDSA — and encrypts the assertion — RSA-OAEP with
//! SHA-256 or ECDH-ES — since pysaml2's own encryption templates cannot express eIDAS's. Our
//! Connector must accept each combination and hand the relying party the person pysaml2 sent.

use crate::cn_e2e::{CnOptions, begin, callback_of, cn_setup, post_acs, request_form};
use eidas_node::eidas::loa::{Level, RequestedAuthnContext as Rac};

const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
const PSS_SHA256: &str = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1";

/// One login answered by pysaml2 as `country` (XE: P-256 key, XP: RSA-3072 key).
async fn login(rsa_encryption: bool, country: &str, alg: &str, enc_mode: &str) {
    let c = cn_setup(CnOptions {
        rsa_encryption,
        ..CnOptions::default()
    })
    .await;
    let st = begin(&c, Level::High).await;
    let (action, saml_request) = request_form(&c, &st.session, country).await;
    let lower = country.to_lowercase();
    assert_eq!(action, format!("{}/{lower}/sso", c.base));
    let metadata = reqwest::get(format!("{}/connector/metadata", c.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    std::fs::write(c.path("cn-metadata.xml"), metadata).unwrap();
    std::fs::write(c.path("request.b64"), &saml_request).unwrap();
    let person = format!("{country}/NO/ie-8802-29");
    let p = |rel: &str| c.path(rel).to_string_lossy().into_owned();
    let out = crate::common::interop_script(
        "pysaml2_proxy_service.py",
        &[
            "respond",
            "--sp-metadata",
            &p("cn-metadata.xml"),
            "--request",
            &p("request.b64"),
            "--key",
            &p(&format!("{lower}/key.pem")),
            "--cert",
            &p(&format!("{lower}/cert.pem")),
            "--alg",
            alg,
            "--entity-id",
            &format!("{}/{lower}/metadata", c.base),
            "--sso",
            &action,
            "--enc-cert",
            &p("encryption/cert.pem"),
            "--enc-mode",
            enc_mode,
            "--person-id",
            &person,
            "--loa",
            "http://eidas.europa.eu/LoA/high",
            "--out",
            &p("response.xml"),
        ],
    );
    assert!(
        out.status.success(),
        "pysaml2 Proxy-Service: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        said["acs"],
        format!("{}/connector/acs", c.base),
        "from our metadata"
    );
    assert_eq!(said["sp"], format!("{}/connector/metadata", c.base));
    let xml = std::fs::read_to_string(c.path("response.xml")).unwrap();
    assert!(xml.contains(alg), "signed with {alg}");
    let enc_uri = if enc_mode == "ecdh-es" {
        "http://www.w3.org/2009/xmlenc11#ECDH-ES"
    } else {
        "http://www.w3.org/2009/xmlenc11#rsa-oaep"
    };
    assert!(xml.contains(enc_uri), "encrypted with {enc_mode}");
    assert!(xml.contains("aes256-gcm"));

    let cb = callback_of(&post_acs(&c, &xml).await);
    assert_eq!(cb.error, None, "{:?}", cb.error_description);
    let who =
        c.rp.finish(&st.pending, &cb, &Rac::minimum(Level::High))
            .await
            .expect("ID token");
    assert_eq!(who.claims["sub"], person.as_str());
    assert_eq!(who.claims["eidas_firstname"], "Aoife");
    assert_eq!(who.claims["eidas_lastname"], "Ní Bhriain");
    assert_eq!(who.claims["eidas_date_of_birth"], "1988-02-29");
    assert_eq!(who.claims["eidas_citizen_country_code"], country);
    assert_eq!(who.claims["acr"], "eidas-loa-high");

    // The same Response again: refused (the request is answered).
    assert_eq!(post_acs(&c, &xml).await.status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pysaml2_ecdsa_signed_ecdh_es_encrypted() {
    login(false, "XE", ECDSA_SHA256, "ecdh-es").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pysaml2_pss_signed_ecdh_es_encrypted() {
    login(false, "XP", PSS_SHA256, "ecdh-es").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pysaml2_pss_signed_oaep_sha256_encrypted() {
    login(true, "XP", PSS_SHA256, "rsa-oaep-sha256").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pysaml2_ecdsa_signed_oaep_sha256_encrypted() {
    login(true, "XE", ECDSA_SHA256, "rsa-oaep-sha256").await;
}

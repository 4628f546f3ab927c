//! `eidas-node saml check` on messages we make: a correct AuthnRequest and a correct Response
//! (assertion signed, then encrypted; Response signed) have no findings; broken ones name the rule.

use crate::common::{ASSERTION_ID, RESPONSE, eidas_node, p256, rsa, stdout, tmp};
use eidas_node::saml::authn_request::{Extensions, RequestedAttribute};
use eidas_node::saml::{self, AuthnRequest, Issuer, NameIdPolicy, RequestedAuthnContext};
use eidas_node::xml::{self, Limits};
use eidas_node::xmlsec::dsig::sign_element;
use eidas_node::xmlsec::enc::{EncryptOptions, encrypted_data_for};

fn sign_root(xml: &str, f: &crate::common::Fixture) -> String {
    let doc = xml::parse(xml.as_bytes(), &Limits::default()).unwrap();
    sign_element(&doc, doc.root(), &f.signer()).unwrap()
}

fn request() -> AuthnRequest {
    AuthnRequest {
        id: Some("_req-0001".into()),
        version: Some("2.0".into()),
        issue_instant: Some("2026-11-29T10:15:00.000Z".into()),
        destination: Some("https://eidas.example.no/ps/sso".into()),
        force_authn: Some(true),
        is_passive: Some(false),
        issuer: Some(Issuer {
            value: "https://connector.example.se/metadata".into(),
            format: Some(saml::NAMEID_ENTITY.into()),
        }),
        extensions: Some(Extensions {
            sp_type: Some("public".into()),
            requested_attributes: Some(
                [
                    "PersonIdentifier",
                    "CurrentFamilyName",
                    "CurrentGivenName",
                    "DateOfBirth",
                ]
                .iter()
                .map(|a| RequestedAttribute {
                    name: format!("http://eidas.europa.eu/attributes/naturalperson/{a}"),
                    name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
                    friendly_name: None,
                    is_required: Some(true),
                    values: vec![],
                })
                .collect(),
            ),
        }),
        name_id_policy: Some(NameIdPolicy {
            format: Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into()),
            allow_create: Some(true),
            sp_name_qualifier: None,
        }),
        requested_authn_context: Some(RequestedAuthnContext {
            comparison: Some("minimum".into()),
            class_refs: vec!["http://eidas.europa.eu/LoA/substantial".into()],
        }),
        ..AuthnRequest::default()
    }
}

#[test]
fn a_correct_authn_request_has_no_findings_and_a_broken_one_names_its_rule() {
    let f = rsa();
    let good = tmp("check-req.xml", sign_root(&request().to_xml(), f));
    let cert = f.files.cert_pem.to_string_lossy().into_owned();
    let o = eidas_node(&[
        "saml",
        "check",
        "--role",
        "ps",
        "--at",
        "2026-11-29T10:15:01Z",
        "--trusted-key",
        &cert,
        &good.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("no findings"));
    let mut broken = request();
    broken.force_authn = Some(false);
    broken.is_passive = None;
    let bad = tmp("check-req-bad.xml", sign_root(&broken.to_xml(), f));
    let o = eidas_node(&[
        "saml",
        "check",
        "--at",
        "2026-11-29T10:15:01Z",
        "--trusted-key",
        &cert,
        &bad.to_string_lossy(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("PS-REQ-FORCEAUTHN [must]")
            && stdout(&o).contains("PS-REQ-ISPASSIVE [must]"),
        "{}",
        stdout(&o)
    );
    // Wrong perspective.
    let o = eidas_node(&[
        "saml",
        "check",
        "--role",
        "connector",
        &good.to_string_lossy(),
    ]);
    assert!(stdout(&o).contains("MSG-KIND"), "{}", stdout(&o));
}

#[test]
fn a_correct_response_has_no_findings_after_decryption() {
    // The sample Response: assertion signed by the Proxy-Service (P-256), encrypted to the
    // Connector's RSA key, Response signed.
    let doc = xml::parse(RESPONSE.as_bytes(), &Limits::default()).unwrap();
    let a = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
    let signed = sign_element(&doc, a, &p256().signer()).unwrap();
    let d2 = xml::parse(signed.as_bytes(), &Limits::default()).unwrap();
    let a2 = d2.elements_with_id(ASSERTION_ID).next().unwrap();
    let ed =
        encrypted_data_for(&signed[a2.span()], &rsa().cert, &EncryptOptions::default()).unwrap();
    let wrapped = format!(
        "{}<saml2:EncryptedAssertion>{ed}</saml2:EncryptedAssertion>{}",
        &signed[..a2.span().start],
        &signed[a2.span().end..]
    );
    let response = sign_root(&wrapped, p256());
    let file = tmp("check-resp.xml", &response);
    let at = "2026-11-29T10:15:31Z";
    let o = eidas_node(&[
        "saml",
        "check",
        "--role",
        "connector",
        "--at",
        at,
        "--trusted-key",
        &p256().files.cert_pem.to_string_lossy(),
        "--decrypt-key",
        &rsa().files.key_pem.to_string_lossy(),
        &file.to_string_lossy(),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("no findings"), "{out}");
    assert!(out.contains("Assertion signature: http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256 (verified with a trusted key)"), "{out}");
    assert!(out.contains("NO/SE/05068907693"), "{out}");
    // Too late: the assertion's conditions have passed.
    let o = eidas_node(&[
        "saml",
        "check",
        "--at",
        "2026-11-29T11:00:00Z",
        "--trusted-key",
        &p256().files.cert_pem.to_string_lossy(),
        "--decrypt-key",
        &rsa().files.key_pem.to_string_lossy(),
        &file.to_string_lossy(),
    ]);
    assert!(
        stdout(&o).contains("CN-ASSERT-CONDITIONS [must]"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn authn_requests_and_responses_signed_by_libxmlsec1_with_ecdsa_and_pss_pass_saml_check() {
    use crate::common::oracle;
    let pss = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1";
    let ecdsa = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
    for (f, alg) in [(rsa(), pss), (p256(), ecdsa)] {
        let key = f.files.key_pem.to_string_lossy().into_owned();
        let cert = f.files.cert_pem.to_string_lossy().into_owned();
        // The request, signed by libxmlsec1.
        let unsigned = tmp("xs-req-in.xml", request().to_xml());
        let signed = tmp("xs-req.xml", "");
        let o = oracle(&[
            "xmlsec-sign",
            "--key",
            &key,
            "--cert",
            &cert,
            "--alg",
            alg,
            "--id",
            "_req-0001",
            "--out",
            &signed.to_string_lossy(),
            &unsigned.to_string_lossy(),
        ]);
        assert!(o.status.success(), "{}", crate::common::stderr(&o));
        let c = eidas_node(&[
            "saml",
            "check",
            "--role",
            "ps",
            "--at",
            "2026-11-29T10:15:01Z",
            "--trusted-key",
            &cert,
            &signed.to_string_lossy(),
        ]);
        assert_eq!(c.status.code(), Some(0), "{alg}: {}", stdout(&c));
        assert!(
            stdout(&c).contains(&format!(
                "AuthnRequest signature: {alg} (verified with a trusted key)"
            )),
            "{}",
            stdout(&c)
        );

        // The Response: assertion signed, then encrypted (to our RSA key), Response signed — all
        // by libxmlsec1.
        let input = tmp("xs-resp-in.xml", RESPONSE);
        let a_signed = tmp("xs-resp-a.xml", "");
        assert!(
            oracle(&[
                "xmlsec-sign",
                "--key",
                &key,
                "--cert",
                &cert,
                "--alg",
                alg,
                "--id",
                ASSERTION_ID,
                "--out",
                &a_signed.to_string_lossy(),
                &input.to_string_lossy()
            ])
            .status
            .success()
        );
        let enc = tmp("xs-resp-e.xml", "");
        let rsa_cert = rsa().files.cert_pem.to_string_lossy().into_owned();
        assert!(
            oracle(&[
                "xmlsec-encrypt",
                "--cert",
                &rsa_cert,
                "--mode",
                "rsa-oaep-sha256",
                "--id",
                ASSERTION_ID,
                "--out",
                &enc.to_string_lossy(),
                &a_signed.to_string_lossy()
            ])
            .status
            .success()
        );
        // xmlsec-encrypt leaves a bare EncryptedData; SAML wraps it in EncryptedAssertion.
        let text = std::fs::read_to_string(&enc).unwrap();
        let start = text.find("<xenc:EncryptedData").unwrap();
        let end = text.find("</xenc:EncryptedData>").unwrap() + "</xenc:EncryptedData>".len();
        let wrapped = tmp(
            "xs-resp-w.xml",
            format!(
                "{}<saml2:EncryptedAssertion>{}</saml2:EncryptedAssertion>{}",
                &text[..start],
                &text[start..end],
                &text[end..]
            ),
        );
        let resp = tmp("xs-resp.xml", "");
        assert!(
            oracle(&[
                "xmlsec-sign",
                "--key",
                &key,
                "--cert",
                &cert,
                "--alg",
                alg,
                "--id",
                crate::common::RESPONSE_ID,
                "--out",
                &resp.to_string_lossy(),
                &wrapped.to_string_lossy()
            ])
            .status
            .success()
        );
        let c = eidas_node(&[
            "saml",
            "check",
            "--role",
            "connector",
            "--at",
            "2026-11-29T10:15:31Z",
            "--trusted-key",
            &cert,
            "--decrypt-key",
            &rsa().files.key_pem.to_string_lossy(),
            &resp.to_string_lossy(),
        ]);
        let out = stdout(&c);
        assert_eq!(c.status.code(), Some(0), "{alg}: {out}");
        assert!(
            out.contains("no findings")
                && out.contains("Assertion signature: ")
                && out.contains("NO/SE/05068907693"),
            "{out}"
        );
    }
}

#[test]
fn an_authn_request_by_the_redirect_binding_verifies_parses_and_passes_the_rules() {
    use eidas_node::eidas::rules::{PsRequestContext, check_authn_request};
    use eidas_node::saml::binding::{DEFAULT_MAX_INFLATED, inflate_b64, redirect_url};
    use eidas_node::xmlsec::redirect::{EcdsaEncoding, verify_query};
    let f = p256();
    let url = redirect_url(
        "https://eidas.example.no/ps/sso",
        "SAMLRequest",
        &request().to_xml(),
        Some("rs-1"),
        &f.signer(),
        EcdsaEncoding::Der,
    )
    .unwrap();
    let query = url.split_once('?').unwrap().1;
    let proof = verify_query(query, &[f.public()], false).expect("query signature");
    let xml_bytes = inflate_b64(&proof.value, DEFAULT_MAX_INFLATED).unwrap();
    let doc = xml::parse(&xml_bytes, &Limits::message()).unwrap();
    let trusted = saml::Trusted::from_redirect(&doc, &proof).unwrap();
    let req = AuthnRequest::parse(&trusted).unwrap();
    let acs: Vec<String> = vec![];
    let loas = vec!["http://eidas.europa.eu/LoA/substantial".to_string()];
    let attrs: Vec<String> = [
        "PersonIdentifier",
        "CurrentFamilyName",
        "CurrentGivenName",
        "DateOfBirth",
    ]
    .iter()
    .map(|a| format!("http://eidas.europa.eu/attributes/naturalperson/{a}"))
    .collect();
    let ctx = PsRequestContext {
        now: saml::parse_instant("t", "2026-11-29T10:15:01Z").unwrap(),
        skew: time::Duration::seconds(60),
        max_age: time::Duration::minutes(5),
        our_sso_url: "https://eidas.example.no/ps/sso",
        connector_entity_id: "https://connector.example.se/metadata",
        connector_acs_urls: &acs,
        connector_sp_type: None,
        published_loas: &loas,
        supported_attributes: &attrs,
        requester_id_demanded: false,
    };
    assert_eq!(check_authn_request(&req, &ctx), []);
    assert_eq!(proof.relay_state.as_deref(), Some("rs-1"));
    // The Redirect binding forbids an embedded signature as well.
    let embedded = sign_root(&request().to_xml(), f);
    let doc = xml::parse(embedded.as_bytes(), &Limits::message()).unwrap();
    assert_eq!(
        saml::Trusted::from_redirect(&doc, &proof).err(),
        Some(saml::SamlError::EmbeddedSignatureInRedirect)
    );
}

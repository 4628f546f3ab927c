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

//! What we write validates against the SAML 2.0 and eIDAS XSDs (eidas-metadata/schemas), checked
//! with libxml2's `xmllint --schema` (installed by scripts/test.sh) — and the check has teeth: a
//! bad value inside the eIDAS extensions is caught.

use crate::common::{ASSERTION_ID, p256, rsa, tmp};
use eidas_node::crypto::generate::{KeyKind, generate};
use eidas_node::metadata::ours::{ContactPerson, Organization, OurMetadata, Role};
use eidas_node::saml::authn_request::{Extensions, RequestedAttribute};
use eidas_node::saml::{self, AuthnRequest, Issuer, NameIdPolicy, RequestedAuthnContext};
use eidas_node::xml::{self, Limits};
use eidas_node::xmlsec::dsig::sign_element;
use eidas_node::xmlsec::enc::{EncryptOptions, encrypted_data_for};
use std::path::Path;
use std::process::Command;

fn xmllint(file: &Path) -> (bool, String) {
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("eidas-metadata/schemas/eidas-all.xsd");
    let o = Command::new("xmllint")
        .args(["--nonet", "--noout", "--schema"])
        .arg(&schema)
        .arg(file)
        .output()
        .expect("xmllint missing: run scripts/test.sh (it installs libxml2-utils)");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn assert_valid(name: &str, xml: &str) {
    let f = tmp(name, xml);
    let (ok, err) = xmllint(&f);
    assert!(ok, "{name} does not validate:\n{err}\n{xml}");
}

fn sign_root(xml: &str, signer: &eidas_node::crypto::SoftwareSigner) -> String {
    let doc = xml::parse(xml.as_bytes(), &Limits::default()).unwrap();
    sign_element(&doc, doc.root(), signer).unwrap()
}

fn our_metadata(role: Role) -> OurMetadata {
    let enc = generate(KeyKind::EcP256, "enc", "NO", 1_700_000_000, 3650).unwrap();
    OurMetadata {
        role,
        entity_id: "https://eidas.example.no/ps/metadata".into(),
        node_country: "NO".into(),
        endpoint: "https://eidas.example.no/ps/sso".into(),
        signing_certificates: vec![rsa().cert.clone(), p256().cert.clone()],
        encryption_certificates: vec![rsa().cert.clone(), enc.cert],
        loas: vec!["http://eidas.europa.eu/LoA/high".into()],
        attributes: vec!["http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier".into()],
        sp_type: Some("public".into()),
        requester_id_demanded: true,
        protocol_versions: vec!["1.4".into()],
        application_identifier: "NO-eidas-node:test".into(),
        organization: Organization {
            name: "Digdir".into(),
            display_name: "Digdir".into(),
            url: "https://digdir.no".into(),
        },
        contacts: vec![ContactPerson {
            contact_type: "technical".into(),
            company: "Digdir".into(),
            given_name: Some("Kari".into()),
            surname: Some("Nordmann".into()),
            email: "kari@example.no".into(),
            phone: Some("+4722000000".into()),
        }],
        valid_for: time::Duration::hours(24),
    }
}

#[test]
fn our_metadata_for_both_roles_validates() {
    for role in [Role::ProxyService, Role::Connector] {
        let xml = our_metadata(role)
            .to_signed_xml(time::OffsetDateTime::now_utc(), &p256().signer())
            .unwrap();
        assert_valid(&format!("schema-md-{role:?}.xml"), &xml);
    }
}

fn full_request() -> AuthnRequest {
    AuthnRequest {
        id: Some(saml::new_id()),
        version: Some("2.0".into()),
        issue_instant: Some(saml::format_instant(time::OffsetDateTime::now_utc())),
        destination: Some("https://ps.example.se/sso".into()),
        force_authn: Some(true),
        is_passive: Some(false),
        provider_name: Some("Skatteetaten".into()),
        consent: Some("urn:oasis:names:tc:SAML:2.0:consent:unspecified".into()),
        issuer: Some(Issuer {
            value: "https://eidas.example.no/connector/metadata".into(),
            format: Some(saml::NAMEID_ENTITY.into()),
        }),
        extensions: Some(Extensions {
            sp_type: Some("public".into()),
            requested_attributes: Some(vec![RequestedAttribute {
                name: "http://eidas.europa.eu/attributes/naturalperson/PersonIdentifier".into(),
                name_format: Some(saml::ATTRNAME_FORMAT_URI.into()),
                friendly_name: Some("PersonIdentifier".into()),
                is_required: Some(true),
                values: vec![],
            }]),
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
        requester_ids: vec!["https://skatteetaten.no".into()],
        ..AuthnRequest::default()
    }
}

#[test]
fn a_signed_eidas_authn_request_validates() {
    let xml = sign_root(&full_request().to_xml(), &rsa().signer());
    assert_valid("schema-authnrequest.xml", &xml);
}

#[test]
fn a_success_response_with_a_signed_encrypted_assertion_and_an_error_response_validate() {
    // The sample assertion, signed, then encrypted to a Connector key, inside a signed Response.
    let base = include_str!("../data/eidas-response.xml");
    let doc = xml::parse(base.as_bytes(), &Limits::default()).unwrap();
    let a = doc.elements_with_id(ASSERTION_ID).next().unwrap();
    let signed_doc = sign_element(&doc, a.id(), &p256().signer()).unwrap();
    let d2 = xml::parse(signed_doc.as_bytes(), &Limits::default()).unwrap();
    let a2 = d2.elements_with_id(ASSERTION_ID).next().unwrap();
    let ed = encrypted_data_for(
        &signed_doc[a2.span()],
        &rsa().cert,
        &EncryptOptions::default(),
    )
    .unwrap();
    let response = saml::Response {
        id: Some(saml::new_id()),
        version: Some("2.0".into()),
        issue_instant: Some(saml::format_instant(time::OffsetDateTime::now_utc())),
        in_response_to: Some("_req".into()),
        destination: Some("https://cn.example.se/acs".into()),
        issuer: Some(Issuer {
            value: "https://eidas.example.no/ps/metadata".into(),
            format: Some(saml::NAMEID_ENTITY.into()),
        }),
        status: Some(saml::Status {
            code: Some(saml::status::SUCCESS.into()),
            sub_code: None,
            message: None,
        }),
        ..saml::Response::default()
    };
    let xml = response.to_xml(Some(&format!(
        "<saml2:EncryptedAssertion>{ed}</saml2:EncryptedAssertion>"
    )));
    assert_valid("schema-response.xml", &sign_root(&xml, &p256().signer()));
    let error = saml::Response {
        status: Some(saml::Status {
            code: Some(saml::status::RESPONDER.into()),
            sub_code: Some(saml::status::REQUEST_DENIED.into()),
            message: Some("The person cancelled.".into()),
        }),
        ..response
    };
    assert_valid(
        "schema-error-response.xml",
        &sign_root(&error.to_xml(None), &p256().signer()),
    );
}

#[test]
fn the_schema_check_catches_bad_values_inside_the_eidas_extensions() {
    let md = our_metadata(Role::Connector).to_xml("_md", time::OffsetDateTime::now_utc());
    for (from, to) in [
        (
            "<eidas:NodeCountry>NO</eidas:NodeCountry>",
            "<eidas:NodeCountry>Norway</eidas:NodeCountry>",
        ),
        (
            "<eidas:SPType>public</eidas:SPType>",
            "<eidas:SPType>Public</eidas:SPType>",
        ),
    ] {
        assert!(md.contains(from));
        let f = tmp("schema-bad.xml", md.replace(from, to));
        let (ok, _) = xmllint(&f);
        assert!(!ok, "{to} must not validate");
    }
    let req = full_request().to_xml().replace(
        "<eidas:SPType>public</eidas:SPType>",
        "<eidas:SPType>other</eidas:SPType>",
    );
    let f = tmp("schema-bad-req.xml", req);
    assert!(!xmllint(&f).0, "SPType other must not validate");
}

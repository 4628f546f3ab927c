//! The classic attacks on XML signatures, each of which must be refused: signature wrapping in its
//! variants, duplicated IDs, comment truncation, algorithm downgrade, key confusion through
//! KeyInfo, forbidden transforms, tampering. Each test asserts the specific refusal.

use crate::common::{ASSERTION_ID, RESPONSE, RESPONSE_ID, p256, p256_other, rsa, rsa_other};
use eidas_node::crypto::{CryptoError, PublicKey, SoftwareSigner};
use eidas_node::xml::{self, Document, Limits};
use eidas_node::xmlsec::dsig::{DsigError, VerifyOptions, sign_element, verify_element};
use eidas_node::xmlsec::ns;

fn parse(s: &str) -> Document {
    xml::parse(s.as_bytes(), &Limits::default()).expect("parse")
}

fn sign_id(text: &str, id: &str, signer: &SoftwareSigner) -> String {
    let doc = parse(text);
    let e = doc.elements_with_id(id).next().expect("element").id();
    sign_element(&doc, e, signer).expect("sign")
}

/// The sample Response with a signed Assertion inside a signed Response (RSA-PSS).
fn signed_response() -> String {
    let s = rsa().signer();
    sign_id(&sign_id(RESPONSE, ASSERTION_ID, &s), RESPONSE_ID, &s)
}

fn verify_id(text: &str, id: &str, keys: &[PublicKey]) -> Result<(), DsigError> {
    let doc = parse(text);
    let e = doc.elements_with_id(id).next().ok_or(DsigError::NoId)?.id();
    verify_element(&doc, e, keys, &VerifyOptions::default()).map(|_| ())
}

fn trusted() -> Vec<PublicKey> {
    vec![rsa().public()]
}

/// Source text of the `n`th element with this expanded name.
fn element_text(text: &str, ns: &str, local: &str, n: usize) -> String {
    let doc = parse(text);
    let e = doc
        .elements()
        .filter(|e| e.is(ns, local))
        .nth(n)
        .expect("element");
    text[e.span()].to_string()
}

fn assertion_signature(text: &str) -> String {
    // Document order: the Response's signature comes before the Assertion's.
    element_text(text, ns::DSIG, "Signature", 1)
}

#[test]
fn genuine_response_and_assertion_verify() {
    let t = signed_response();
    verify_id(&t, RESPONSE_ID, &trusted()).expect("response");
    verify_id(&t, ASSERTION_ID, &trusted()).expect("assertion");
}

#[test]
fn rejects_changed_signed_content() {
    let t = signed_response().replace("Nordmann", "Nordkvinne");
    assert_eq!(
        verify_id(&t, ASSERTION_ID, &trusted()),
        Err(DsigError::DigestMismatch)
    );
    assert_eq!(
        verify_id(&t, RESPONSE_ID, &trusted()),
        Err(DsigError::DigestMismatch)
    );
}

#[test]
fn rejects_a_signature_by_another_key_of_the_same_kind() {
    assert_eq!(
        verify_id(&signed_response(), ASSERTION_ID, &[rsa_other().public()]),
        Err(DsigError::BadSignature)
    );
}

#[test]
fn rejects_no_usable_key_before_any_crypto() {
    assert!(matches!(
        verify_id(&signed_response(), ASSERTION_ID, &[p256().public()]),
        Err(DsigError::NoUsableKey(_))
    ));
}

#[test]
fn ignores_the_certificate_a_message_carries() {
    // An attacker re-signs changed content with their own key and puts their certificate in
    // KeyInfo; only the trusted key counts.
    let forged = sign_id(
        &RESPONSE.replace("Nordmann", "Angriper"),
        ASSERTION_ID,
        &p256_other().signer(),
    );
    assert!(forged.contains("<ds:X509Certificate>"));
    assert_eq!(
        verify_id(&forged, ASSERTION_ID, &[p256().public()]),
        Err(DsigError::BadSignature)
    );
}

#[test]
fn rejects_an_unsigned_element() {
    assert_eq!(
        verify_id(RESPONSE, ASSERTION_ID, &trusted()),
        Err(DsigError::NoSignature)
    );
}

#[test]
fn rejects_two_signatures_on_one_element() {
    let t = signed_response();
    let sig = assertion_signature(&t);
    let doubled = t.replacen(&sig, &format!("{sig}{sig}"), 1);
    assert_eq!(
        verify_id(&doubled, ASSERTION_ID, &trusted()),
        Err(DsigError::MultipleSignatures)
    );
}

#[test]
fn wrapping_an_evil_assertion_beside_the_signed_one_gains_nothing() {
    let t = signed_response();
    let original = element_text(&t, ns::SAML_ASSERTION, "Assertion", 0);
    let sig = assertion_signature(&t);
    let evil = original
        .replace(&sig, "")
        .replace(ASSERTION_ID, "_evil")
        .replace("05068907693", "99999999999");
    let wrapped = t.replacen(&original, &format!("{evil}{original}"), 1);
    assert_eq!(
        verify_id(&wrapped, "_evil", &trusted()),
        Err(DsigError::NoSignature)
    );
    // The genuine assertion still verifies, and the handle covers it alone.
    let doc = parse(&wrapped);
    let id = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
    let v = verify_element(&doc, id, &trusted(), &VerifyOptions::default()).expect("genuine");
    let evil_el = doc.elements_with_id("_evil").next().unwrap().id();
    assert!(!v.covers(evil_el));
}

#[test]
fn wrapping_an_evil_assertion_around_the_signed_one_gains_nothing() {
    let t = signed_response();
    let original = element_text(&t, ns::SAML_ASSERTION, "Assertion", 0);
    let outer = format!(
        "<saml2:Assertion ID=\"_evil\" Version=\"2.0\" IssueInstant=\"2026-11-29T10:15:30Z\"><saml2:Issuer>https://eidas.example.no/ps/metadata</saml2:Issuer>{original}</saml2:Assertion>"
    );
    let wrapped = t.replacen(&original, &outer, 1);
    assert_eq!(
        verify_id(&wrapped, "_evil", &trusted()),
        Err(DsigError::NoSignature)
    );
    let doc = parse(&wrapped);
    let id = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
    let v = verify_element(&doc, id, &trusted(), &VerifyOptions::default()).expect("inner");
    assert!(!v.covers(doc.elements_with_id("_evil").next().unwrap().id()));
}

#[test]
fn rejects_a_duplicated_id() {
    let t = signed_response();
    let original = element_text(&t, ns::SAML_ASSERTION, "Assertion", 0);
    let sig = assertion_signature(&t);
    let evil = original.replace(&sig, "").replace("Nordmann", "Angriper");
    let wrapped = t.replacen(&original, &format!("{evil}{original}"), 1);
    assert_eq!(
        verify_id(&wrapped, ASSERTION_ID, &trusted()).err(),
        Some(DsigError::DuplicateId(ASSERTION_ID.into()))
    );
}

#[test]
fn rejects_the_signed_response_moved_under_extensions() {
    let t = signed_response();
    let body = t.trim_start_matches(|c| c != '\n').trim_start();
    let response_sig = element_text(&t, ns::DSIG, "Signature", 0);
    // (a) The attacker keeps the ID on the evil root: now it is duplicated.
    let evil_same_id = format!(
        "<saml2p:Response xmlns:saml2p=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"{RESPONSE_ID}\" Version=\"2.0\" IssueInstant=\"2026-11-29T10:15:30Z\">{response_sig}<saml2p:Extensions>{body}</saml2p:Extensions></saml2p:Response>"
    );
    assert_eq!(
        verify_id(&evil_same_id, RESPONSE_ID, &trusted()).err(),
        Some(DsigError::DuplicateId(RESPONSE_ID.into()))
    );
    // (b) A fresh ID on the evil root: the reference no longer points at it.
    let evil = evil_same_id.replacen(&format!("ID=\"{RESPONSE_ID}\""), "ID=\"_evil\"", 1);
    assert!(matches!(
        verify_id(&evil, "_evil", &trusted()),
        Err(DsigError::ReferenceNotToSignedElement { .. })
    ));
}

#[test]
fn rejects_the_signed_element_moved_into_a_ds_object() {
    let t = signed_response();
    let body = t.trim_start_matches(|c| c != '\n').trim_start();
    let sig = element_text(&t, ns::DSIG, "Signature", 0);
    let with_object = sig.replacen(
        "</ds:Signature>",
        &format!("<ds:Object>{body}</ds:Object></ds:Signature>"),
        1,
    );
    let evil = format!(
        "<saml2p:Response xmlns:saml2p=\"urn:oasis:names:tc:SAML:2.0:protocol\" ID=\"_evil\" Version=\"2.0\">{with_object}</saml2p:Response>"
    );
    assert_eq!(
        verify_id(&evil, "_evil", &trusted()),
        Err(DsigError::ObjectNotAllowed)
    );
}

#[test]
fn rejects_a_signature_that_references_another_element() {
    // The Assertion's signature copied onto the (unsigned) Response.
    let t = sign_id(RESPONSE, ASSERTION_ID, &rsa().signer());
    let a_sig = element_text(&t, ns::DSIG, "Signature", 0);
    let moved = t.replacen("</saml2:Issuer>", &format!("</saml2:Issuer>{a_sig}"), 1);
    assert!(matches!(
        verify_id(&moved, RESPONSE_ID, &trusted()),
        Err(DsigError::ReferenceNotToSignedElement { .. })
    ));
}

#[test]
fn rejects_a_comment_inserted_into_a_signed_name_id() {
    let t = signed_response().replacen(
        "NO/SE/05068907693</saml2:NameID>",
        "NO/SE/<!--x-->05068907693</saml2:NameID>",
        1,
    );
    // The comment is invisible to the digest, so the signature would hold; we refuse anyway.
    assert_eq!(
        verify_id(&t, ASSERTION_ID, &trusted()),
        Err(DsigError::CommentInSignedText)
    );
}

#[test]
fn rejects_forbidden_and_legacy_signature_algorithms_before_crypto() {
    let t = signed_response();
    let pss = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1";
    let sha1 = t.replace(pss, "http://www.w3.org/2000/09/xmldsig#rsa-sha1");
    assert!(matches!(
        verify_id(&sha1, ASSERTION_ID, &trusted()),
        Err(DsigError::Algorithm(CryptoError::ForbiddenAlgorithm { .. }))
    ));
    let pkcs1 = t.replace(pss, "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256");
    assert!(matches!(
        verify_id(&pkcs1, ASSERTION_ID, &trusted()),
        Err(DsigError::Algorithm(CryptoError::LegacyAlgorithm(_)))
    ));
    let hmac = t.replace(pss, "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256");
    assert!(matches!(
        verify_id(&hmac, ASSERTION_ID, &trusted()),
        Err(DsigError::Algorithm(CryptoError::ForbiddenAlgorithm { .. }))
    ));
}

#[test]
fn rejects_a_sha1_reference_digest() {
    let t = signed_response().replace(
        "http://www.w3.org/2001/04/xmlenc#sha256",
        "http://www.w3.org/2000/09/xmldsig#sha1",
    );
    assert!(matches!(
        verify_id(&t, ASSERTION_ID, &trusted()),
        Err(DsigError::Algorithm(CryptoError::ForbiddenAlgorithm { .. }))
    ));
}

#[test]
fn rejects_transforms_outside_the_profile() {
    let t = signed_response();
    let exc = "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform>";
    let xpath = t.replace(exc, "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-19991116\"><ds:XPath>not(ancestor-or-self::ds:Signature)</ds:XPath></ds:Transform>");
    assert!(matches!(
        verify_id(&xpath, ASSERTION_ID, &trusted()),
        Err(DsigError::DisallowedTransforms(_))
    ));
    let xslt = t.replace(
        exc,
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"></ds:Transform>",
    );
    assert!(matches!(
        verify_id(&xslt, ASSERTION_ID, &trusted()),
        Err(DsigError::DisallowedTransforms(_))
    ));
    let env_first_missing = t.replace(
        "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></ds:Transform>",
        "",
    );
    assert!(matches!(
        verify_id(&env_first_missing, ASSERTION_ID, &trusted()),
        Err(DsigError::DisallowedTransforms(_))
    ));
}

#[test]
fn rejects_signedinfo_canonicalization_outside_the_profile() {
    let t = signed_response().replace(
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\">",
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2006/12/xml-c14n11\">",
    );
    assert!(matches!(
        verify_id(&t, ASSERTION_ID, &trusted()),
        Err(DsigError::DisallowedCanonicalization(_))
    ));
}

#[test]
fn rejects_two_references() {
    let t = signed_response();
    let sig = assertion_signature(&t);
    let reference = sig
        [sig.find("<ds:Reference").unwrap()..sig.find("</ds:Reference>").unwrap() + 15]
        .to_string();
    let two = t.replacen(&reference, &format!("{reference}{reference}"), 2);
    assert_eq!(
        verify_id(&two, ASSERTION_ID, &trusted()),
        Err(DsigError::ReferenceCount(2))
    );
}

#[test]
fn rejects_a_changed_signedinfo() {
    // Swapping the reference digest for one over changed content breaks the SignatureValue.
    let t = signed_response();
    let changed = t.replace("Nordmann", "Angriper");
    let doc = parse(&changed);
    let a = doc.elements_with_id(ASSERTION_ID).next().unwrap();
    let sig = a.first_child_named(ns::DSIG, "Signature").unwrap();
    let c14n = eidas_node::xmlsec::c14n::canonicalize(
        &doc,
        Some(a.id()),
        Some(sig.id()),
        &eidas_node::xmlsec::c14n::Options::exclusive(),
    );
    use base64::Engine;
    let fresh = base64::engine::general_purpose::STANDARD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &c14n));
    let sig_text = assertion_signature(&changed);
    let old = &sig_text[sig_text.find("<ds:DigestValue>").unwrap() + 16
        ..sig_text.find("</ds:DigestValue>").unwrap()];
    let forged = changed.replacen(old, &fresh, 1);
    assert_eq!(
        verify_id(&forged, ASSERTION_ID, &trusted()),
        Err(DsigError::BadSignature)
    );
}

#[test]
fn signing_keeps_every_other_byte_and_places_the_signature_after_the_issuer() {
    let signed = sign_id(RESPONSE, ASSERTION_ID, &p256().signer());
    let doc = parse(&signed);
    let a = doc.elements_with_id(ASSERTION_ID).next().unwrap();
    let kids: Vec<String> = a
        .child_elements()
        .take(3)
        .map(|c| c.local().to_string())
        .collect();
    assert_eq!(kids, ["Issuer", "Signature", "Subject"]);
    let sig = element_text(&signed, ns::DSIG, "Signature", 0);
    assert_eq!(signed.replacen(&sig, "", 1), RESPONSE);
}

#[test]
fn signs_self_closing_and_issuerless_elements_as_first_child() {
    let xml = "<r xmlns=\"urn:x\"><e ID=\"_e\" a=\"1\"/><f ID=\"_f\"><g/></f></r>";
    let s = p256().signer();
    for id in ["_e", "_f"] {
        let signed = sign_id(xml, id, &s);
        let doc = parse(&signed);
        let e = doc.elements_with_id(id).next().unwrap();
        assert_eq!(e.child_elements().next().unwrap().local(), "Signature");
        verify_id(&signed, id, &[p256().public()]).expect("verifies");
    }
}

#[test]
fn refuses_to_sign_twice_or_without_an_id() {
    let s = p256().signer();
    let once = sign_id(RESPONSE, ASSERTION_ID, &s);
    let doc = parse(&once);
    let e = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
    assert_eq!(
        sign_element(&doc, e, &s).err(),
        Some(DsigError::AlreadySigned)
    );
    let doc = parse("<r><e/></r>");
    let e = doc.root_element().child_elements().next().unwrap().id();
    assert_eq!(sign_element(&doc, e, &s).err(), Some(DsigError::NoId));
}

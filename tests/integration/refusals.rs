//! The remaining refusals of the XML security layer, each made to fire: malformed signature and
//! encryption structures, bad base64, key-transport forms outside the profile.

use crate::common::{ASSERTION_ID, RESPONSE, p256, rsa};
use eidas_node::xml::{self, Document, Limits};
use eidas_node::xmlsec::dsig::{DsigError, VerifyOptions, sign_element, verify_element};
use eidas_node::xmlsec::enc::{EncError, EncryptOptions, decrypt, encrypt_element};
use eidas_node::xmlsec::ns;

fn parse(s: &str) -> Document {
    xml::parse(s.as_bytes(), &Limits::default()).expect("parse")
}

fn signed() -> String {
    let doc = parse(RESPONSE);
    let a = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
    sign_element(&doc, a, &p256().signer()).unwrap()
}

fn verify(text: &str) -> Result<(), DsigError> {
    let doc = parse(text);
    let a = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
    verify_element(&doc, a, &[p256().public()], &VerifyOptions::default()).map(|_| ())
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
    let a = text.find(open).unwrap() + open.len();
    let b = a + text[a..].find(close).unwrap();
    &text[a..b]
}

#[test]
fn rejects_bad_base64_in_signature_and_digest_values() {
    let t = signed();
    let sv = between(&t, "<ds:SignatureValue>", "</ds:SignatureValue>").to_string();
    assert_eq!(
        verify(&t.replacen(&sv, "!!not base64!!", 1)),
        Err(DsigError::Base64("SignatureValue"))
    );
    let dv = between(&t, "<ds:DigestValue>", "</ds:DigestValue>").to_string();
    assert_eq!(
        verify(&t.replacen(&dv, "%%%", 1)),
        Err(DsigError::Base64("DigestValue"))
    );
}

#[test]
fn rejects_malformed_signature_structures() {
    let t = signed();
    let si = format!("<ds:SignedInfo xmlns:ds=\"{}\">", ns::DSIG);
    // SignatureValue before SignedInfo.
    let sv = format!(
        "<ds:SignatureValue>{}</ds:SignatureValue>",
        between(&t, "<ds:SignatureValue>", "</ds:SignatureValue>")
    );
    let sig_body = between(
        &t,
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">",
        "<ds:SignatureValue>",
    )
    .to_string();
    let swapped = t.replacen(&format!("{sig_body}{sv}"), &format!("{sv}{sig_body}"), 1);
    assert!(matches!(verify(&swapped), Err(DsigError::Malformed(_))));
    // A foreign element inside SignedInfo.
    let foreign = t.replacen(&si, &format!("{si}<x:evil xmlns:x=\"urn:x\"/>"), 1);
    assert!(matches!(verify(&foreign), Err(DsigError::Malformed(_))));
    // Parameters smuggled into SignatureMethod (e.g. HMACOutputLength).
    let params = t.replacen(
        "#ecdsa-sha256\"></ds:SignatureMethod>",
        "#ecdsa-sha256\"><ds:HMACOutputLength>8</ds:HMACOutputLength></ds:SignatureMethod>",
        1,
    );
    assert!(matches!(verify(&params), Err(DsigError::Malformed(_))));
}

fn encrypted(f: &crate::common::Fixture) -> String {
    let doc = parse(RESPONSE);
    let a = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
    encrypt_element(&doc, a, &f.cert, &EncryptOptions::default()).unwrap()
}

fn open(text: &str, f: &crate::common::Fixture) -> Result<(), EncError> {
    let doc = parse(text);
    let ed = doc
        .elements()
        .find(|e| e.is(ns::XENC, "EncryptedData"))
        .unwrap()
        .id();
    decrypt(&doc, ed, &[f.key()]).map(|_| ())
}

#[test]
fn refuses_encrypted_data_without_an_encrypted_key() {
    let t = encrypted(rsa());
    let ek = format!(
        "<xenc:EncryptedKey>{}</xenc:EncryptedKey>",
        between(&t, "<xenc:EncryptedKey>", "</xenc:EncryptedKey>")
    );
    assert_eq!(
        open(&t.replacen(&ek, "", 1), rsa()),
        Err(EncError::NoEncryptedKey)
    );
}

#[test]
fn refuses_direct_key_agreement_and_cipher_references() {
    let t = encrypted(p256());
    let ek = format!(
        "<xenc:EncryptedKey>{}</xenc:EncryptedKey>",
        between(&t, "<xenc:EncryptedKey>", "</xenc:EncryptedKey>")
    );
    let am = format!(
        "<xenc:AgreementMethod{}</xenc:AgreementMethod>",
        between(&ek, "<xenc:AgreementMethod", "</xenc:AgreementMethod>")
    );
    assert_eq!(
        open(&t.replacen(&ek, &am, 1), p256()),
        Err(EncError::DirectKeyAgreement)
    );

    let t = encrypted(rsa());
    let last = t.rfind("<xenc:CipherData>").unwrap();
    let cd_end = t[last..].find("</xenc:CipherData>").unwrap() + last + "</xenc:CipherData>".len();
    let with_ref = format!(
        "{}<xenc:CipherData><xenc:CipherReference URI=\"https://attacker.example/c\"/></xenc:CipherData>{}",
        &t[..last],
        &t[cd_end..]
    );
    assert_eq!(open(&with_ref, rsa()), Err(EncError::CipherReference));
}

#[test]
fn refuses_a_retrieval_method_to_anything_but_an_encrypted_key() {
    let t = encrypted(rsa());
    let ek = format!(
        "<xenc:EncryptedKey>{}</xenc:EncryptedKey>",
        between(&t, "<xenc:EncryptedKey>", "</xenc:EncryptedKey>")
    );
    let rm = "<ds:RetrievalMethod URI=\"#_response-7d6c1f0b2a9e4e31a8c5\" Type=\"http://www.w3.org/2001/04/xmlenc#EncryptedKey\"/>";
    assert!(matches!(
        open(&t.replacen(&ek, rm, 1), rsa()),
        Err(EncError::Malformed(_))
    ));
    let remote = "<ds:RetrievalMethod URI=\"https://attacker.example/key\"/>";
    assert!(matches!(
        open(&t.replacen(&ek, remote, 1), rsa()),
        Err(EncError::Malformed(_))
    ));
}

#[test]
fn refuses_to_decrypt_what_is_not_encrypted_data_and_bad_base64() {
    let doc = parse(RESPONSE);
    assert_eq!(
        decrypt(&doc, doc.root(), &[rsa().key()]).err(),
        Some(EncError::NotEncryptedData)
    );
    let t = encrypted(rsa());
    let last = t.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len();
    let broken = format!("{}***{}", &t[..last], &t[last + 3..]);
    assert_eq!(open(&broken, rsa()), Err(EncError::Base64("CipherValue")));
}

#[test]
fn refuses_an_mgf_parameter_in_rsa_oaep_mgf1p() {
    let t = encrypted(rsa()).replacen(
        "http://www.w3.org/2009/xmlenc11#rsa-oaep\"",
        "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p\"",
        1,
    );
    assert!(matches!(open(&t, rsa()), Err(EncError::Malformed(_))));
}

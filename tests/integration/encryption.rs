//! XML-Enc round trips with our own keys, and the refusals: forbidden key transport, a changed
//! ciphertext, a key that does not fit, and key rollover (several own keys).

use crate::common::{ASSERTION_ID, RESPONSE, p256, p256_other, p384, rsa, rsa_other};
use eidas_node::crypto::CryptoError;
use eidas_node::xml::{self, Document, Limits};
use eidas_node::xmlsec::enc::{
    EncError, EncryptOptions, decrypt, decrypt_element, encrypt_element,
};
use eidas_node::xmlsec::ns;

fn parse(s: &str) -> Document {
    xml::parse(s.as_bytes(), &Limits::default()).expect("parse")
}

fn encrypted_response(cert: &eidas_node::crypto::Certificate) -> String {
    let doc = parse(RESPONSE);
    let a = doc.elements_with_id(ASSERTION_ID).next().unwrap().id();
    encrypt_element(&doc, a, cert, &EncryptOptions::default()).expect("encrypt")
}

fn encrypted_data(doc: &Document) -> eidas_node::xml::NodeId {
    doc.elements()
        .find(|e| e.is(ns::XENC, "EncryptedData"))
        .expect("EncryptedData")
        .id()
}

#[test]
fn round_trips_with_rsa_oaep_and_ecdh_es() {
    for f in [rsa(), p256(), p384()] {
        let text = encrypted_response(&f.cert);
        assert!(!text.contains("Nordmann"), "plaintext leaked");
        let doc = parse(&text);
        let (plain, key_index) =
            decrypt_element(&doc, encrypted_data(&doc), &[f.key()], &Limits::message())
                .expect("decrypt");
        assert_eq!(key_index, 0);
        let a = plain.root_element();
        assert!(a.is(ns::SAML_ASSERTION, "Assertion"));
        assert_eq!(a.id_value(), Some(ASSERTION_ID));
        // Parsed in context: the xsi and eidas prefixes declared on the Response resolve.
        assert!(plain.source().contains("xmlns:eidas-natural="));
    }
}

#[test]
fn writes_the_profile_algorithms() {
    let rsa_text = encrypted_response(&rsa().cert);
    assert!(rsa_text.contains("http://www.w3.org/2009/xmlenc11#aes256-gcm"));
    assert!(rsa_text.contains("http://www.w3.org/2009/xmlenc11#rsa-oaep"));
    assert!(rsa_text.contains("http://www.w3.org/2009/xmlenc11#mgf1sha256"));
    let ec_text = encrypted_response(&p256().cert);
    assert!(ec_text.contains("http://www.w3.org/2009/xmlenc11#ECDH-ES"));
    assert!(ec_text.contains("http://www.w3.org/2001/04/xmlenc#kw-aes256"));
    assert!(ec_text.contains("AlgorithmID=\"0000\" PartyUInfo=\"0000\" PartyVInfo=\"0000\""));
}

#[test]
fn tries_every_own_key_during_rollover() {
    let text = encrypted_response(&p256().cert);
    let doc = parse(&text);
    let keys = [rsa().key(), p256_other().key(), p256().key()];
    let d = decrypt(&doc, encrypted_data(&doc), &keys).expect("decrypts with the third key");
    assert_eq!(d.key_index, 2);
}

#[test]
fn refuses_when_no_own_key_fits() {
    for (f, other) in [(rsa(), rsa_other()), (p256(), p256_other())] {
        let text = encrypted_response(&f.cert);
        let doc = parse(&text);
        assert_eq!(
            decrypt(&doc, encrypted_data(&doc), &[other.key()]).err(),
            Some(EncError::NoKeyDecrypts)
        );
    }
}

#[test]
fn refuses_a_changed_ciphertext() {
    let text = encrypted_response(&rsa().cert);
    // The content CipherValue is the last one in the document.
    let i = text.rfind("<xenc:CipherValue>").unwrap() + "<xenc:CipherValue>".len() + 30;
    let mut bytes = text.into_bytes();
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let doc = parse(std::str::from_utf8(&bytes).unwrap());
    assert_eq!(
        decrypt(&doc, encrypted_data(&doc), &[rsa().key()]).err(),
        Some(EncError::ContentDecryption)
    );
}

#[test]
fn refuses_rsa_1_5_and_cbc_by_name() {
    let text = encrypted_response(&rsa().cert);
    let v15 = text.replace(
        "http://www.w3.org/2009/xmlenc11#rsa-oaep",
        "http://www.w3.org/2001/04/xmlenc#rsa-1_5",
    );
    let doc = parse(&v15);
    assert!(matches!(
        decrypt(&doc, encrypted_data(&doc), &[rsa().key()]),
        Err(EncError::Algorithm(CryptoError::ForbiddenAlgorithm { .. }))
    ));
    let cbc = text.replace(
        "http://www.w3.org/2009/xmlenc11#aes256-gcm",
        "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
    );
    let doc = parse(&cbc);
    assert!(matches!(
        decrypt(&doc, encrypted_data(&doc), &[rsa().key()]),
        Err(EncError::Algorithm(CryptoError::ForbiddenAlgorithm { .. }))
    ));
}

#[test]
fn refuses_an_originator_key_that_is_only_named() {
    let text = encrypted_response(&p256().cert);
    let start = text.find("<xenc:OriginatorKeyInfo>").unwrap();
    let end = text.find("</xenc:OriginatorKeyInfo>").unwrap();
    let named = format!(
        "{}<xenc:OriginatorKeyInfo><ds:KeyName>eph</ds:KeyName>{}",
        &text[..start],
        &text[end..]
    );
    let doc = parse(&named);
    assert_eq!(
        decrypt(&doc, encrypted_data(&doc), &[p256().key()]).err(),
        Some(EncError::OriginatorKeyMissing)
    );
}

#[test]
fn finds_an_encrypted_key_placed_beside_the_encrypted_data() {
    // SAML's EncryptedAssertion may carry the EncryptedKey as a sibling of EncryptedData.
    let text = encrypted_response(&rsa().cert);
    let ek_start = text.find("<xenc:EncryptedKey>").unwrap();
    let ek_end = text.find("</xenc:EncryptedKey>").unwrap() + "</xenc:EncryptedKey>".len();
    let ek = text[ek_start..ek_end].replacen(
        "<xenc:EncryptedKey>",
        "<xenc:EncryptedKey xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">",
        1,
    );
    let without = format!("{}{}", &text[..ek_start], &text[ek_end..]);
    let ed_end = without.find("</xenc:EncryptedData>").unwrap() + "</xenc:EncryptedData>".len();
    let wrapped = format!(
        "{}<saml2:EncryptedAssertion>{}{}</saml2:EncryptedAssertion>{}",
        &without[..without.find("<xenc:EncryptedData").unwrap()],
        &without[without.find("<xenc:EncryptedData").unwrap()..ed_end],
        ek,
        &without[ed_end..]
    );
    let doc = parse(&wrapped);
    let (plain, _) = decrypt_element(
        &doc,
        encrypted_data(&doc),
        &[rsa().key()],
        &Limits::message(),
    )
    .expect("decrypt");
    assert_eq!(plain.root_element().id_value(), Some(ASSERTION_ID));
}

#[test]
fn decrypted_plaintext_is_bounded_by_the_parser_limits() {
    let text = encrypted_response(&rsa().cert);
    let doc = parse(&text);
    let tight = Limits {
        max_nodes: 10,
        ..Limits::message()
    };
    assert!(matches!(
        decrypt_element(&doc, encrypted_data(&doc), &[rsa().key()], &tight),
        Err(EncError::Plaintext(xml::XmlError::TooManyNodes { .. }))
    ));
}

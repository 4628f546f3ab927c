//! The HTTP-Redirect binding's detached signature: what we sign verifies, both ECDSA encodings
//! are accepted, and any change to the signed octets or a forbidden SigAlg is refused.

use crate::common::{p256, rsa, rsa_other};
use eidas_node::crypto::CryptoError;
use eidas_node::xmlsec::dsig::DsigError;
use eidas_node::xmlsec::redirect::{EcdsaEncoding, signed_query, url_encode, verify_query};

const MSG: &str = "fZJNT8MwDIbv/IqodypKaLjYO3cWK+RQ==";

#[test]
fn signed_queries_verify_with_both_ecdsa_encodings_and_pss() {
    for (signer, key, enc) in [
        (p256().signer(), p256().public(), EcdsaEncoding::Der),
        (p256().signer(), p256().public(), EcdsaEncoding::Fixed),
        (rsa().signer(), rsa().public(), EcdsaEncoding::Der),
    ] {
        let q = signed_query("SAMLRequest", MSG, Some("state 1/ø"), &signer, enc).expect("sign");
        let v = verify_query(&q, &[key], false).expect("verify");
        assert_eq!(v.param, "SAMLRequest");
        assert_eq!(v.value, MSG);
        assert_eq!(v.relay_state.as_deref(), Some("state 1/ø"));
    }
}

#[test]
fn refuses_a_changed_relay_state_or_message() {
    let q = signed_query(
        "SAMLRequest",
        MSG,
        Some("abc"),
        &rsa().signer(),
        EcdsaEncoding::Der,
    )
    .unwrap();
    let changed = q.replace("RelayState=abc", "RelayState=abd");
    assert_eq!(
        verify_query(&changed, &[rsa().public()], false).err(),
        Some(DsigError::BadSignature)
    );
    let dropped = q.replace("&RelayState=abc", "");
    assert_eq!(
        verify_query(&dropped, &[rsa().public()], false).err(),
        Some(DsigError::BadSignature)
    );
    assert_eq!(
        verify_query(&q, &[rsa_other().public()], false).err(),
        Some(DsigError::BadSignature)
    );
}

#[test]
fn refuses_forbidden_sigalg_and_missing_or_doubled_parameters() {
    let q = format!(
        "SAMLRequest={}&SigAlg={}&Signature=AAAA",
        url_encode(MSG),
        url_encode("http://www.w3.org/2000/09/xmldsig#rsa-sha1")
    );
    assert!(matches!(
        verify_query(&q, &[rsa().public()], false),
        Err(DsigError::Algorithm(CryptoError::ForbiddenAlgorithm { .. }))
    ));
    assert_eq!(
        verify_query(&format!("SAMLRequest={MSG}"), &[rsa().public()], false).err(),
        Some(DsigError::NoSignature)
    );
    let signed = signed_query(
        "SAMLRequest",
        MSG,
        None,
        &rsa().signer(),
        EcdsaEncoding::Der,
    )
    .unwrap();
    let doubled = format!("{signed}&SigAlg=x");
    assert!(matches!(
        verify_query(&doubled, &[rsa().public()], false),
        Err(DsigError::Malformed(_))
    ));
}

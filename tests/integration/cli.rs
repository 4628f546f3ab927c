//! The operator and auditor tools as a person runs them: results on stdout, reasons on stderr,
//! exit 0 for success, 1 for a refusal, 2 for a usage error.

use crate::common::{ASSERTION_ID, RESPONSE, eidas_node, p256, rsa, stderr, stdout, tmp};
use eidas_node::crypto::{Certificate, PrivateKey};

fn s(p: &std::path::Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn sign_then_verify_then_tamper() {
    let input = tmp("cli-response.xml", RESPONSE);
    for f in [rsa(), p256()] {
        let o = eidas_node(&[
            "xml",
            "sign",
            "--key",
            &s(&f.files.key_pem),
            "--cert",
            &s(&f.files.cert_pem),
            "--element-id",
            ASSERTION_ID,
            &s(&input),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let signed = tmp("cli-signed.xml", &o.stdout);
        let v = eidas_node(&[
            "xml",
            "verify",
            "--trusted-key",
            &s(&f.files.cert_pem),
            &s(&signed),
        ]);
        assert_eq!(v.status.code(), Some(0), "{}", stderr(&v));
        assert!(stdout(&v).starts_with("OK: {urn:oasis:names:tc:SAML:2.0:assertion}Assertion"));
        let tampered = tmp("cli-tampered.xml", stdout(&o).replace("Kari", "Ola"));
        let v = eidas_node(&[
            "xml",
            "verify",
            "--trusted-key",
            &s(&f.files.cert_pem),
            &s(&tampered),
        ]);
        assert_eq!(v.status.code(), Some(1));
        assert!(
            stderr(&v).contains("digest does not match"),
            "{}",
            stderr(&v)
        );
    }
}

#[test]
fn sign_with_an_explicit_algorithm_and_refuse_legacy_ones() {
    let input = tmp("cli-alg.xml", RESPONSE);
    let f = rsa();
    let o = eidas_node(&[
        "xml",
        "sign",
        "--key",
        &s(&f.files.key_pem),
        "--cert",
        &s(&f.files.cert_pem),
        "--element-id",
        ASSERTION_ID,
        "--alg",
        "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1",
        &s(&input),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("sha512-rsa-MGF1"));
    let o = eidas_node(&[
        "xml",
        "sign",
        "--key",
        &s(&f.files.key_pem),
        "--cert",
        &s(&f.files.cert_pem),
        "--element-id",
        ASSERTION_ID,
        "--alg",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        &s(&input),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("legacy"), "{}", stderr(&o));
}

#[test]
fn encrypt_then_decrypt_prints_the_document_with_plaintext_in_place() {
    let input = tmp("cli-enc-in.xml", RESPONSE);
    for f in [rsa(), p256()] {
        let o = eidas_node(&[
            "xml",
            "encrypt",
            "--cert",
            &s(&f.files.cert_pem),
            "--element-id",
            ASSERTION_ID,
            &s(&input),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(!stdout(&o).contains("Nordmann"));
        let enc = tmp("cli-enc.xml", &o.stdout);
        let d = eidas_node(&["xml", "decrypt", "--key", &s(&f.files.key_pem), &s(&enc)]);
        assert!(d.status.success(), "{}", stderr(&d));
        // The assertion comes back in place; the rest of the document is as it was.
        let c14n = |p: &std::path::Path| eidas_node(&["xml", "c14n", &s(p)]).stdout;
        let back = tmp("cli-dec.xml", &d.stdout);
        assert_eq!(c14n(&back), c14n(&input));
    }
}

#[test]
fn c14n_of_a_subtree_by_id_and_by_name() {
    let input = tmp("cli-c14n.xml", RESPONSE);
    let by_id = eidas_node(&["xml", "c14n", "--element-id", ASSERTION_ID, &s(&input)]);
    let by_name = eidas_node(&[
        "xml",
        "c14n",
        "--element",
        "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion",
        &s(&input),
    ]);
    assert!(by_id.status.success());
    assert_eq!(by_id.stdout, by_name.stdout);
    assert!(
        stdout(&by_id).starts_with(
            "<saml2:Assertion xmlns:saml2=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID="
        )
    );
    let missing = eidas_node(&["xml", "c14n", "--element-id", "_nope", &s(&input)]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn usage_errors_exit_2_and_refusals_exit_1() {
    let o = eidas_node(&["xml", "verify", "/nonexistent.xml"]);
    assert_eq!(o.status.code(), Some(2), "missing --trusted-key");
    let o = eidas_node(&["xml", "c14n", "/nonexistent/file.xml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("cannot read"));
    let bad = tmp(
        "cli-doctype.xml",
        "<!DOCTYPE r [<!ENTITY x \"y\">]><r>&x;</r>",
    );
    let o = eidas_node(&["xml", "c14n", &s(&bad)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("DOCTYPE"), "{}", stderr(&o));
}

#[test]
fn tools_accept_small_keys_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    // An RSA-2048 key in PKCS#1 DER from the interop vectors.
    let key = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors/xmlsec-interop/keys/RSA-2048_SHA256WithRSA-orig.der");
    let k = PrivateKey::load(&std::fs::read(&key).unwrap()).unwrap();
    assert_eq!(k.public_key().bits(), 2048);
    let cert =
        eidas_node::crypto::generate::self_signed(&k, "small", "NO", 1_700_000_000, 3650).unwrap();
    let cert_path = dir.path().join("small.pem");
    std::fs::write(&cert_path, cert.to_pem()).unwrap();
    let input = tmp("cli-small.xml", RESPONSE);
    let o = eidas_node(&[
        "xml",
        "sign",
        "--key",
        &s(&key),
        "--cert",
        &s(&cert_path),
        "--element-id",
        ASSERTION_ID,
        &s(&input),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("below the eIDAS minimum of 3072 bits"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn keys_generate_writes_a_key_and_a_certificate_for_the_country() {
    let dir = tempfile::tempdir().unwrap();
    for kind in ["ec-p256", "ec-p384", "rsa-3072"] {
        let out = dir.path().join(kind);
        let o = eidas_node(&[
            "keys",
            "generate",
            "--kind",
            kind,
            "--country",
            "NO",
            "--out",
            &s(&out),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let key = PrivateKey::load(&std::fs::read(out.join("key.pem")).unwrap()).unwrap();
        let cert = Certificate::load(&std::fs::read(out.join("cert.pem")).unwrap()).unwrap();
        assert_eq!(cert.public_key(), key.public_key());
        assert_eq!(cert.subject_country(), Some("NO"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "private key must not be readable by others"
        );
    }
    let o = eidas_node(&[
        "keys",
        "generate",
        "--kind",
        "rsa-1024",
        "--country",
        "NO",
        "--out",
        &s(dir.path()),
    ]);
    assert_eq!(o.status.code(), Some(2));
    // An existing key is never overwritten.
    let again = dir.path().join("ec-p256");
    let before = std::fs::read(again.join("key.pem")).unwrap();
    let o = eidas_node(&[
        "keys",
        "generate",
        "--kind",
        "ec-p256",
        "--country",
        "NO",
        "--out",
        &s(&again),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not overwriting"), "{}", stderr(&o));
    assert_eq!(std::fs::read(again.join("key.pem")).unwrap(), before);
}
